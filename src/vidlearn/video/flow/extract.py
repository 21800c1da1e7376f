"""Optical flow for whole videos and datasets: streaming, worker processes, resume and shards.

:func:`extract_video_flow` decodes a video frame by frame through ``VideoReader`` (time-bounded;
each frame resized when ``size`` is given), estimates flow in chunks of ``chunk_size`` pairs and writes
either MMAction2's ``flow_x_00001.jpg`` / ``flow_y_00001.jpg`` images or one ``flow.npz``; a small
done-file, written last, marks the output complete. :func:`extract_dataset_flow` runs it over many
videos in worker processes, mirroring the input tree under ``out_root``, skipping completed videos
(resume), taking one shard ``i/n`` of the sorted list, and counting failures instead of stopping.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import shutil
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vidlearn.video.errors import VideoDecodeError
from vidlearn.video.files import VIDEO_SUFFIXES, is_video_file
from vidlearn.video.flow.methods import FlowEstimator, compute_flow, create_flow_estimator
from vidlearn.video.flow.storage import (
    DEFAULT_BOUND,
    DEFAULT_TEMPLATE,
    flow_frame_paths,
    write_flow_frames,
    write_flow_npz,
)
from vidlearn.video.sharding import select_shard

__all__ = [
    "DONE_FILE",
    "NPZ_FILE",
    "VIDEO_SUFFIXES",
    "FlowExtractionSummary",
    "extract_dataset_flow",
    "extract_video_flow",
    "find_videos",
    "is_flow_complete",
    "iter_video_frames",
]

logger = logging.getLogger(__name__)

DONE_FILE = ".flow_done.json"
NPZ_FILE = "flow.npz"
FORMATS = ("jpg", "npz")

Size = int | tuple[int, int] | None


def _output_size(height: int, width: int, size: Size) -> tuple[int, int]:
    """``(height, width)`` after resizing: ``size`` an int is the short side, a pair is exact."""
    if size is None:
        return height, width
    if isinstance(size, int):
        if size < 1:
            raise ValueError(f"size must be a positive short side, got {size}")
        scale = size / min(height, width)
        return max(1, round(height * scale)), max(1, round(width * scale))
    out_height, out_width = (int(value) for value in size)
    if out_height < 1 or out_width < 1:
        raise ValueError(f"size must be positive (height, width), got {size}")
    return out_height, out_width


def iter_video_frames(path: str | Path, size: Size = None, *, decode_timeout: float = 60.0) -> Iterator[np.ndarray]:
    """Decode ``path`` frame by frame as ``uint8 (H, W, 3)`` RGB, resized to ``size`` if given.

    ``size``: an int (short side) or ``(height, width)``. Decoding goes through
    :class:`~vidlearn.video.reader.VideoReader` (its backends, and ``decode_timeout`` seconds at
    most to each next frame); failures raise :class:`~vidlearn.video.VideoDecodeError` naming the file.
    """
    import cv2

    from vidlearn.video.reader import VideoReader

    with VideoReader(path, decode_timeout=decode_timeout) as reader:
        out_size = _output_size(reader.height, reader.width, size)
        resize = out_size != (reader.height, reader.width)
        # area averaging when shrinking (no aliasing), bilinear when enlarging
        shrinking = out_size[0] * out_size[1] < reader.height * reader.width
        interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
        for frame in reader:
            array = frame.numpy()
            if resize:
                array = cv2.resize(array, (out_size[1], out_size[0]), interpolation=interpolation)
            yield array


def is_flow_complete(out_dir: str | Path, *, method: str | None = None, format: str | None = None) -> bool:
    """Whether ``out_dir`` holds a finished extraction (its done-file), of ``method``/``format`` if given."""
    done = Path(out_dir) / DONE_FILE
    try:
        record = json.loads(done.read_text())
    except (OSError, ValueError):
        return False
    if method is not None and record.get("method") != method:
        return False
    return format is None or record.get("format") == format


def _remove_stale_output(out_dir: Path, format: str, written: int, template: str) -> None:
    """Delete what an earlier extraction into ``out_dir`` left that this one did not overwrite: flow
    images past the ``written`` fields (a longer video, other frame settings) or the other format's
    files, so that counting the images of a folder gives this extraction's length."""
    first = written if format == "jpg" else 0
    index = first
    while True:
        paths = [path for path in flow_frame_paths(out_dir, index, template=template) if path.exists()]
        if not paths:
            break
        for path in paths:
            path.unlink()
        index += 1
    if format == "jpg":
        (out_dir / NPZ_FILE).unlink(missing_ok=True)


def extract_video_flow(
    video: str | Path,
    out_dir: str | Path,
    method: str | FlowEstimator = "tvl1",
    *,
    size: Size = None,
    format: str = "jpg",
    bound: float = DEFAULT_BOUND,
    quality: int = 95,
    template: str = DEFAULT_TEMPLATE,
    npz_dtype: str = "float16",
    chunk_size: int = 16,
    device: str | torch.device = "cpu",
    **options: Any,
) -> int:
    """Estimate the flow of every consecutive frame pair of ``video`` and write it to ``out_dir``.

    ``format="jpg"``: ``out_dir/flow_x_00001.jpg``, ``flow_y_00001.jpg``, ... (see
    :mod:`vidlearn.video.flow.storage` for the ``bound`` mapping); ``format="npz"``:
    ``out_dir/flow.npz`` ``(T-1, 2, H, W)``. ``method`` and ``options`` as in
    :func:`~vidlearn.video.flow.compute_flow`. Frames are decoded in a stream and flow is computed
    ``chunk_size`` pairs at a time, so memory stays bounded for long videos. The done-file
    (``.flow_done.json``) is written last. Returns the number of flow fields (frames - 1).
    """
    if format not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {format!r}")
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    video, out_dir = Path(video), Path(out_dir)
    if isinstance(method, FlowEstimator):
        if options:
            raise ValueError(
                f"options {sorted(options)} apply when method is a name, not an estimator already built"
            )
        estimator, method_name = method, method.name
    else:
        estimator, method_name = create_flow_estimator(method, device=device, **options), method
    # The folders this call creates go again if the video fails: a failed video leaves no empty output.
    created = [folder for folder in (out_dir, *out_dir.parents) if not folder.exists()]
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        return _extract_into(video, out_dir, estimator, method_name, size=size, format=format, bound=bound,
                             quality=quality, template=template, npz_dtype=npz_dtype, chunk_size=chunk_size)
    except BaseException:
        if created:
            shutil.rmtree(out_dir, ignore_errors=True)
            for folder in created[1:]:  # parents made for this video alone, innermost first
                try:
                    folder.rmdir()
                except OSError:  # another video's output arrived there meanwhile: keep it
                    break
        raise


def _extract_into(video: Path, out_dir: Path, estimator: FlowEstimator, method_name: str, *, size: Size,
                  format: str, bound: float, quality: int, template: str, npz_dtype: str, chunk_size: int) -> int:
    """The body of :func:`extract_video_flow`, once ``out_dir`` exists."""
    (out_dir / DONE_FILE).unlink(missing_ok=True)  # recomputing: the old output is no longer complete

    buffer: list[np.ndarray] = []
    npz_chunks: list[torch.Tensor] = []
    written = 0

    def flush() -> None:
        nonlocal written
        flow = compute_flow(np.stack(buffer), estimator)
        if format == "jpg":
            write_flow_frames(flow, out_dir, template=template, bound=bound, quality=quality, start=written)
        else:
            npz_chunks.append(flow.half() if npz_dtype == "float16" else flow)
        written += len(flow)
        del buffer[:-1]  # the last frame starts the next chunk's first pair

    for frame in iter_video_frames(video, size):
        buffer.append(frame)
        if len(buffer) == chunk_size + 1:
            flush()
    if len(buffer) >= 2:
        flush()
    if written == 0:
        raise VideoDecodeError(video, f"has {len(buffer)} decodable frame(s); optical flow needs at least 2")
    if format == "npz":
        write_flow_npz(torch.cat(npz_chunks).float(), out_dir / NPZ_FILE, dtype=npz_dtype, bound=bound)
    _remove_stale_output(out_dir, format, written, template)
    height, width = buffer[-1].shape[:2]
    record = {
        "video": str(video), "method": method_name, "format": format, "num_fields": written,
        "height": height, "width": width, "bound": bound, "estimator": repr(estimator),
    }  # fmt: skip
    temporary = out_dir / (DONE_FILE + ".tmp")
    temporary.write_text(json.dumps(record, indent=1))
    temporary.replace(out_dir / DONE_FILE)
    return written


def find_videos(root: str | Path) -> list[Path]:
    """Every video file (by suffix, see ``VIDEO_SUFFIXES``) under ``root``, sorted."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such directory")
    return sorted(
        path for path in root.rglob("*") if is_video_file(path) and path.is_file()
    )


@dataclass
class FlowExtractionSummary:
    """What :func:`extract_dataset_flow` did: videos done, skipped (already complete) and failed."""

    total: int = 0
    done: list[Path] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)

    def __str__(self) -> str:
        return (
            f"{self.total} videos: {len(self.done)} extracted, {len(self.skipped)} already complete, "
            f"{len(self.failed)} failed"
        )


def _init_worker() -> None:
    # One thread per worker process: the processes are the parallelism, oversubscription slows all.
    import cv2

    cv2.setNumThreads(1)
    torch.set_num_threads(1)


def _extract_job(video: Path, out_dir: Path, method: str, kwargs: dict[str, Any]) -> int:
    return extract_video_flow(video, out_dir, method, **kwargs)


def extract_dataset_flow(
    videos: str | Path | Sequence[str | Path],
    out_root: str | Path,
    *,
    method: str = "tvl1",
    root: str | Path | None = None,
    workers: int = 1,
    shard: tuple[int, int] | None = None,
    resume: bool = True,
    progress: bool = True,
    on_error: str = "skip",
    **kwargs: Any,
) -> FlowExtractionSummary:
    """Extract the flow of many videos into ``out_root``, mirroring their folder tree.

    ``videos``: a folder (searched recursively, see :func:`find_videos`) or a list of files; the
    output of ``root/a/b.mp4`` is ``out_root/a/b/`` where ``root`` is the folder, the ``root``
    argument, or the common parent of the files. ``shard=(i, n)`` keeps items ``i, i+n, ...`` of the
    sorted list (disjoint shards that cover everything). With ``resume`` a video whose done-file
    records the same method and format is skipped. ``workers > 1`` runs videos in that many
    processes (each single-threaded); ``workers <= 1`` runs in this process. A failing video is
    logged with its file and counted (``on_error="raise"`` stops at the first instead). ``kwargs``
    go to :func:`extract_video_flow` (``size``, ``format``, ``bound``, method options, ...).
    Two videos that differ only in suffix (``a.avi``, ``a.mp4``) would share a folder: ``ValueError``.
    """
    if on_error not in ("skip", "raise"):
        raise ValueError(f"on_error must be 'skip' or 'raise', got {on_error!r}")
    if isinstance(videos, (str, Path)):
        root = Path(videos) if root is None else Path(root)
        paths = find_videos(videos)
    else:
        paths = sorted(Path(video) for video in videos)
        if root is None and paths:
            root = Path(os.path.commonpath([path.parent.resolve() for path in paths]))
    out_root = Path(out_root)
    out_dirs: dict[Path, Path] = {}
    for path in paths:  # all of them, before sharding, so that every shard sees the same clash
        relative = path.resolve().relative_to(Path(root).resolve()) if root is not None else Path(path.name)
        out_dir = out_root / relative.with_suffix("")
        if out_dir in out_dirs.values():
            other = next(video for video, used in out_dirs.items() if used == out_dir)
            raise ValueError(f"{other} and {path} would share the flow folder {out_dir}; rename one of them")
        out_dirs[path] = out_dir
    if shard is not None:
        paths = select_shard(paths, *shard)
    format_name = kwargs.get("format", "jpg")
    summary = FlowExtractionSummary(total=len(paths))

    jobs: list[tuple[Path, Path]] = []
    for path in paths:
        out_dir = out_dirs[path]
        if resume and is_flow_complete(out_dir, method=method, format=format_name):
            summary.skipped.append(path)
        else:
            jobs.append((path, out_dir))

    from tqdm.auto import tqdm

    bar = tqdm(total=len(jobs), disable=not progress, unit="video", desc=f"flow {method}")

    def record(path: Path, error: BaseException | None) -> None:
        if error is None:
            summary.done.append(path)
        else:
            if on_error == "raise":
                raise error
            message = f"{type(error).__name__}: {error}"
            summary.failed.append((path, message))
            logger.warning("flow extraction failed for %s: %s", path, message)
        bar.update(1)
        bar.set_postfix(failed=len(summary.failed))

    try:
        if workers <= 1:
            for path, out_dir in jobs:
                try:
                    _extract_job(path, out_dir, method, kwargs)
                except Exception as error:  # any failure of one video is counted, not fatal
                    record(path, error)
                else:
                    record(path, None)
        else:
            # forkserver: a clean child per worker, safe after this process started torch/OpenMP threads.
            context = multiprocessing.get_context("forkserver")
            # The server imports torch and OpenCV once; each worker forks from it already loaded.
            context.set_forkserver_preload([__name__])
            with ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker) as pool:
                pending: dict[Future, Path] = {
                    pool.submit(_extract_job, path, out_dir, method, kwargs): path for path, out_dir in jobs
                }
                try:
                    while pending:
                        finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                        for future in finished:
                            record(pending.pop(future), future.exception())
                except BaseException:
                    for future in pending:
                        future.cancel()
                    raise
    finally:
        bar.close()
    return summary
