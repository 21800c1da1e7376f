"""A cached metadata index of a video collection: frame count, frame rate and size per file.

Opening 13k or 650k videos to learn their length takes minutes, so the result is kept in a JSON file
(default ``<root>/.vidlearn_index.json``) keyed by the file's path, size and modification time: a
second construction of the same dataset reads the JSON and opens no video. A changed file (new size
or mtime) is probed again. Files that cannot be probed are recorded with their error, so a corrupt
video is reported again without another attempt to open it.

Probing runs in a thread pool (FFmpeg releases the GIL while it parses headers), and files that are
the same inode (hard links, or symlinks to one file, common when a dataset is assembled from
several splits) are probed once.

Besides the frame count, a file whose frame timestamps are evenly spaced gets a ``frame_table``
(:class:`vidlearn.video.reader.FrameTable` as a dict: time base, first timestamp, step, keyframes), a few
numbers that let :class:`vidlearn.video.VideoReader` open the file later without demuxing it again.
Version 1 indexes (no tables) are still read; their files simply open the slow way.
"""

from __future__ import annotations

import json
import logging
import math
import os
import tempfile
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

__all__ = ["INDEX_FILENAME", "VideoIndex", "VideoMeta"]

logger = logging.getLogger(__name__)

INDEX_FILENAME = ".vidlearn_index.json"
_FORMAT_VERSION = 2
_READABLE_VERSIONS = (1, 2)  # 2 added frame_table; a version 1 entry reads as one without a table


@dataclass(frozen=True)
class VideoMeta:
    """What the index knows of one file; ``error`` is set (and the rest zero) when probing failed.

    ``frame_table`` is the reader's packet table in compact form (see :class:`vidlearn.video.reader.FrameTable`)
    when the file's frame timestamps are evenly spaced, else ``None``.
    """

    num_frames: int
    fps: float
    height: int
    width: int
    size: int
    mtime_ns: int
    error: str | None = None
    frame_table: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        """Whether the file could be probed."""
        return self.error is None


def _default_prober(path: str) -> tuple[int, float, int, int, dict[str, Any] | None]:
    from vidlearn.video import probe_video

    info = probe_video(path)
    table = None
    if info.frame_table is not None:  # lists, as JSON gives them back, so cached and fresh entries agree
        table = {key: list(value) if isinstance(value, tuple) else value for key, value in asdict(info.frame_table).items()}
    return int(info.num_frames), float(info.fps), int(info.height), int(info.width), table


class VideoIndex:
    """Metadata of the videos under ``root``, cached in ``cache_file``.

    ``VideoIndex(root).lookup(paths)`` returns ``{path: VideoMeta}`` for each existing path, probing
    only files that are new or changed since the cache was written, then saves the cache atomically
    (temporary file, then rename) when anything changed. ``cache_file=False`` disables the cache;
    ``prober(path) -> (num_frames, fps, height, width[, frame_table])`` replaces the default
    (:func:`vidlearn.video.probe_video`). An unwritable cache location only logs a warning.
    """

    def __init__(
        self,
        root: str | Path,
        cache_file: str | Path | bool | None = None,
        *,
        workers: int | None = None,
        prober: Callable[[str], tuple[int, float, int, int]] | None = None,
    ) -> None:
        self.root = Path(root)
        if cache_file is None or cache_file is True:
            self.cache_file: Path | None = self.root / INDEX_FILENAME
        elif cache_file is False:
            self.cache_file = None
        else:
            self.cache_file = Path(cache_file)
        self.workers = workers or min(8, 2 * (os.cpu_count() or 1))
        self.prober = prober or _default_prober
        self._entries: dict[str, dict] = self._load()
        self._lock = threading.Lock()
        self.probed = 0  # files opened by the last lookup, for tests and progress reports

    def _key(self, path: str | Path) -> str:
        # Relative keys keep the cache valid when the dataset folder is moved or mounted elsewhere.
        absolute = os.path.abspath(path)
        root = os.path.abspath(self.root)
        if absolute == root or absolute.startswith(root + os.sep):
            return os.path.relpath(absolute, root)
        return absolute

    def _load(self) -> dict[str, dict]:
        if self.cache_file is None or not self.cache_file.is_file():
            return {}
        try:
            with open(self.cache_file, encoding="utf-8") as handle:
                data = json.load(handle)
        except (OSError, ValueError) as error:
            logger.warning("ignoring unreadable video index %s: %s", self.cache_file, error)
            return {}
        if not isinstance(data, dict) or data.get("version") not in _READABLE_VERSIONS:
            logger.warning("ignoring video index %s: unknown format", self.cache_file)
            return {}
        entries = data.get("entries", {})
        return entries if isinstance(entries, dict) else {}

    def save(self) -> None:
        """Write the cache atomically; a failure (read-only dataset folder) is logged, not raised."""
        if self.cache_file is None:
            return
        payload = {"version": _FORMAT_VERSION, "entries": self._entries}
        try:
            self.cache_file.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(
                prefix=self.cache_file.name + ".", suffix=".tmp", dir=self.cache_file.parent
            )
            try:
                with os.fdopen(handle, "w", encoding="utf-8") as out:
                    json.dump(payload, out, separators=(",", ":"))
                os.replace(temporary, self.cache_file)
            except BaseException:
                Path(temporary).unlink(missing_ok=True)
                raise
        except OSError as error:
            logger.warning("could not write video index %s: %s", self.cache_file, error)

    def _probe_one(self, path: str, size: int, mtime_ns: int) -> dict:
        try:
            num_frames, fps, height, width, *table = self.prober(path)
            if not math.isfinite(fps):
                fps = 0.0
            meta = VideoMeta(num_frames, fps, height, width, size, mtime_ns, frame_table=table[0] if table else None)
        except Exception as error:  # any failure is recorded against the file, reported by callers
            reason = getattr(error, "reason", None) or f"{type(error).__name__}: {error}"
            meta = VideoMeta(0, 0.0, 0, 0, size, mtime_ns, error=str(reason))
        return asdict(meta)

    def lookup(self, paths: Iterable[str | Path], *, progress: bool = False) -> dict[str, VideoMeta]:
        """Metadata of every existing file in ``paths`` (missing files are left out).

        Files whose size and mtime match the cache are not opened; the others are probed in a thread
        pool, once per inode. The cache is saved when something was probed.
        """
        result: dict[str, VideoMeta] = {}
        to_probe: dict[tuple[int, int], list[tuple[str, str, int, int]]] = {}
        for path in paths:
            path = str(path)
            try:
                stat = os.stat(path)
            except OSError:
                continue
            key = self._key(path)
            entry = self._entries.get(key)
            if (
                entry is not None
                and entry.get("size") == stat.st_size
                and entry.get("mtime_ns") == stat.st_mtime_ns
            ):
                result[path] = VideoMeta(**entry)
                continue
            to_probe.setdefault((stat.st_dev, stat.st_ino), []).append(
                (path, key, stat.st_size, stat.st_mtime_ns)
            )
        self.probed = len(to_probe)
        if not to_probe:
            return result
        groups = list(to_probe.values())
        iterator: Iterable = groups
        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            futures = pool.map(lambda group: self._probe_one(*_first(group)), groups)
            if progress:
                from tqdm import tqdm

                futures = tqdm(futures, total=len(groups), desc="probing videos", unit="video")
            for group, entry in zip(iterator, futures):
                with self._lock:
                    for path, key, _, _ in group:
                        self._entries[key] = entry
                        result[path] = VideoMeta(**entry)
        self.save()
        return result


def _first(group: list[tuple[str, str, int, int]]) -> tuple[str, int, int]:
    path, _, size, mtime_ns = group[0]
    return path, size, mtime_ns
