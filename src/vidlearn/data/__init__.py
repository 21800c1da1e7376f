"""Task-neutral video data: frame sources, the metadata index, annotation reading, the clip dataset core.

Every wing reads videos and frame folders through this package: recognition clips, tracking's
MOTChallenge ``img1/`` sequences, super-resolution's ``(T, C, H, W)`` sequences, generation's real
clips. It imports :mod:`vidlearn.video` and nothing of a wing or of ``cli``.

- :mod:`~vidlearn.data.frames`: :class:`FrameSource` and its implementations (:class:`VideoFileFrames`,
  :class:`JpegFrames` for frame folders, :class:`FlowFrames`), :func:`resized_shape`.
- :mod:`~vidlearn.data.index`: :class:`VideoIndex`, a cached per-file metadata index (:class:`VideoMeta`).
- :mod:`~vidlearn.data.annotations`: :func:`read_lines`, :class:`AnnotationError` (file, line, text),
  :class:`VideoSample`, :func:`resolve_missing`.
- :mod:`~vidlearn.data.clips`: :class:`ClipDataset`, seeded by ``(seed, epoch, index, attempt)`` with
  ``set_epoch`` through shared memory, ``on_error="skip" | "raise"``, multi-view decoding;
  :func:`count_skipped`, :func:`skipped_videos`.
"""

from vidlearn.data.annotations import (
    AnnotationError,
    AnnotationLine,
    VideoSample,
    read_lines,
    resolve_missing,
)
from vidlearn.data.clips import ClipDataset, count_skipped, skipped_videos
from vidlearn.data.frames import FlowFrames, FrameSource, JpegFrames, VideoFileFrames, resized_shape
from vidlearn.data.index import INDEX_FILENAME, VideoIndex, VideoMeta

__all__ = [
    "INDEX_FILENAME",
    "AnnotationError",
    "AnnotationLine",
    "ClipDataset",
    "FlowFrames",
    "FrameSource",
    "JpegFrames",
    "VideoFileFrames",
    "VideoIndex",
    "VideoMeta",
    "VideoSample",
    "count_skipped",
    "read_lines",
    "resized_shape",
    "resolve_missing",
    "skipped_videos",
]
