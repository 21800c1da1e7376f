"""Dense re-encoding: short keyframe interval and smaller frames, so random access is cheap.

MMAction2 calls this "dense encoding" (``tools/data/resize_videos.py``; the Kinetics recipes use a
short side of 256 or 128): a keyframe every ``gop`` frames bounds the frames a reader decodes after
a seek, and a smaller short side makes every decoded frame cheaper. The audio is dropped.

``reencode_tree`` walks a dataset folder and mirrors it; with ``shard=(i, n)`` a job takes every
``n``-th file, so a scheduler (SLURM array, Ray, Kubernetes jobs) can spread the work, and with
``resume=True`` finished files are skipped (writes are atomic, so an existing file is complete).
"""

from __future__ import annotations

import logging
import multiprocessing
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import av
from av.video.reformatter import VideoReformatter

from vidlearn.video.backends.base import Deadline
from vidlearn.video.backends.pyav import open_container, set_decoder_threads
from vidlearn.video.errors import VideoDecodeError
from vidlearn.video.sharding import select_shard
from vidlearn.video.writer import VideoWriter, default_codec

__all__ = ["reencode_tree", "reencode_video", "short_side_size"]

log = logging.getLogger(__name__)

DEFAULT_EXTENSIONS = (".mp4", ".avi", ".mkv", ".webm")
_DECODE_TIMEOUT = 60.0  # seconds allowed between two decoded frames


def short_side_size(height: int, width: int, short_side: int) -> tuple[int, int]:
    """``(height, width)`` scaled so the short side is ``short_side``, both rounded to even
    numbers (4:2:0 chroma needs even sizes; FFmpeg's ``scale=-2:256`` does the same).
    """
    if short_side < 2:
        raise ValueError(f"short_side must be at least 2, got {short_side}")

    def even(value: float) -> int:
        return max(2, 2 * round(value / 2))

    if height <= width:
        return even(short_side), even(width * short_side / height)
    return even(height * short_side / width), even(short_side)


def reencode_video(
    src: str | Path, dst: str | Path, *, gop: int = 12, short_side: int | None = None, codec: str = "auto"
) -> Path:
    """Re-encode ``src`` to ``dst`` with a keyframe every ``gop`` frames and, if ``short_side`` is
    given, frames scaled to that short side (aspect kept, sizes even). ``codec="auto"`` picks the
    encoder from ``dst``'s suffix (H.264 for ``.mp4``/``.mkv``/``.avi``). Returns ``dst``.

    A file that cannot be decoded raises :class:`VideoDecodeError` naming ``src``; ``dst`` is then
    not created.
    """
    src, dst = Path(src), Path(dst)
    encoder = default_codec(dst.suffix) if codec == "auto" else codec
    container = open_container(src, _DECODE_TIMEOUT)
    try:
        stream = container.streams.video[0]
        set_decoder_threads(stream)
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        fps = float(rate) if rate and rate > 0 else 25.0
        height, width = stream.codec_context.height, stream.codec_context.width
        if short_side is not None:
            height, width = short_side_size(height, width, short_side)
        elif encoder != "gif" and (height % 2 or width % 2):
            height, width = height - height % 2, width - width % 2  # 4:2:0 needs even sizes
        reformatter = VideoReformatter()
        deadline = Deadline(src, _DECODE_TIMEOUT)
        with VideoWriter(dst, fps, codec=encoder, gop=gop) as writer:
            try:
                for frame in container.decode(stream):
                    deadline.check()
                    if (frame.height, frame.width) != (height, width) or encoder == "gif":
                        # gif needs RGB to quantise; the other encoders take the decoder's format.
                        target = "rgb24" if encoder == "gif" else None
                        frame = reformatter.reformat(
                            frame, width=width, height=height, format=target, interpolation="AREA", threads=1
                        )
                    if encoder == "gif":
                        writer.write(frame.to_ndarray())
                    else:
                        writer.write_av_frame(frame)
                    deadline.restart()
            except av.FFmpegError as error:
                raise VideoDecodeError(
                    src, f"decoding failed after {writer.frames_written} frames ({error})"
                ) from None
            if writer.frames_written == 0:
                raise VideoDecodeError(src, "no decodable video frames")
    finally:
        container.close()
    return dst


def _find_videos(root: Path, extensions: Iterable[str]) -> list[Path]:
    suffixes = {extension.lower() for extension in extensions}
    return sorted(path for path in root.rglob("*") if path.is_file() and path.suffix.lower() in suffixes)


def _reencode_job(job: tuple[Path, Path, int, int | None, str]) -> tuple[str, str]:
    """One file for the worker pool: returns ``(source, "")`` or ``(source, reason)``."""
    src, dst, gop, short_side, codec = job
    try:
        reencode_video(src, dst, gop=gop, short_side=short_side, codec=codec)
    except (VideoDecodeError, ValueError, av.FFmpegError, OSError) as error:
        return str(src), str(error)
    return str(src), ""


def reencode_tree(
    src_root: str | Path,
    dst_root: str | Path,
    *,
    extensions: Iterable[str] = DEFAULT_EXTENSIONS,
    gop: int = 12,
    short_side: int | None = None,
    codec: str = "auto",
    workers: int = 1,
    shard: tuple[int, int] = (0, 1),
    resume: bool = True,
    progress: bool = True,
) -> dict:
    """Re-encode every video under ``src_root`` into the same relative path under ``dst_root``.

    Files are taken in sorted order and ``shard=(i, n)`` keeps every ``n``-th from the ``i``-th.
    With ``resume`` an existing output is skipped. A file that fails is logged and counted; the
    others go on. ``workers > 1`` re-encodes in that many processes.

    Returns ``{"done": int, "skipped": int, "failed": int, "failures": [(source, reason), ...]}``.
    """
    from tqdm.auto import tqdm

    src_root, dst_root = Path(src_root), Path(dst_root)
    if not src_root.is_dir():
        raise FileNotFoundError(f"source folder {src_root} does not exist")
    index, count = shard
    if count < 1 or not 0 <= index < count:
        raise ValueError(f"shard {index}/{count}: need 0 <= i < n and n >= 1")
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    sources = select_shard(_find_videos(src_root, extensions), index, count)
    summary: dict = {"done": 0, "skipped": 0, "failed": 0, "failures": []}
    jobs = []
    for src in sources:
        dst = dst_root / src.relative_to(src_root)
        if resume and dst.exists():
            summary["skipped"] += 1
        else:
            jobs.append((src, dst, gop, short_side, codec))

    def record(result: tuple[str, str]) -> None:
        source, reason = result
        if reason:
            log.warning("re-encoding %s failed: %s", source, reason)
            summary["failed"] += 1
            summary["failures"].append((source, reason))
        else:
            summary["done"] += 1

    with tqdm(total=len(jobs), disable=not progress, unit="video", desc="re-encode") as bar:
        if workers == 1 or len(jobs) <= 1:
            for job in jobs:
                record(_reencode_job(job))
                bar.update()
        else:
            # fork where the platform has it (as torch's DataLoader does): a worker starts at once
            # instead of importing torch again; workers only run PyAV, never torch operations.
            methods = multiprocessing.get_all_start_methods()
            context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
            with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
                for result in pool.map(_reencode_job, jobs, chunksize=1):
                    record(result)
                    bar.update()
    return summary
