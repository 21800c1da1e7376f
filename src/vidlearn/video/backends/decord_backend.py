"""decord backend (the ``decord2`` package on PyPI, a maintained build of decord), when it decodes here.

decord reads the frame count from the container header, which can count a frame that FFmpeg
discards (an MP4 edit list ending before the last packet); ``num_frames`` and the other metadata
are therefore taken from the PyAV packet index, so every backend agrees on them. MPEG-4 Part 2
files with B-frames are refused (decord returns wrong pixels after seeking in them);
``backend="auto"`` reads them with PyAV. Readers are opened on first use, one per requested size
(decord's own ``width``/``height`` resize), so a reader that only asks for one size opens the
file once. decord's resize fails for some output widths (8, 12, 16, 24, 32, 48 and 96 px in decord2
3.4, with a ``DECORDArrayCopyFromTo`` size check); for those sizes the backend decodes at the stored
size and resizes with OpenCV (area interpolation when shrinking, bilinear when enlarging).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from vidlearn.video.backends.base import (
    Deadline,
    DecoderBackend,
    check_readable_file,
    describe_import_failure,
    probe_decoding,
)
from vidlearn.video.backends.pyav import FrameTable
from vidlearn.video.errors import VideoDecodeError

__all__ = ["DecordBackend", "probe"]

_CHUNK = 16


def probe() -> str:
    """``""`` when decord imports and decodes a tiny clip here, else why not."""
    try:
        import decord
    except Exception as error:  # a missing package or a broken build
        return describe_import_failure("decord", error, "pip install decord2")

    def decode(path: Path) -> np.ndarray:
        reader = decord.VideoReader(str(path), ctx=decord.cpu(0), num_threads=1)
        return reader.get_batch([0, 3]).asnumpy()

    return probe_decoding("decord", decode)


def _resize(frames: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``uint8 (T, H, W, 3)`` to ``(T, *size, 3)`` with OpenCV."""
    import cv2

    height, width = size
    shrinking = height * width < frames.shape[1] * frames.shape[2]
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    out = np.empty((len(frames), height, width, 3), dtype=np.uint8)
    for index, frame in enumerate(frames):
        out[index] = cv2.resize(frame, (width, height), interpolation=interpolation)
    return out


class DecordBackend(DecoderBackend):
    """Frames through ``decord.VideoReader`` (CPU context)."""

    name = "decord"

    def __init__(self, path: Path, timeout: float, *, known: FrameTable | None = None) -> None:
        import decord

        from vidlearn.video.backends.pyav import PyAVBackend

        check_readable_file(path)
        self.path = path
        self._decord = decord
        index = PyAVBackend(path, timeout, known=known)  # exact frame count and stream metadata
        index.close()
        if index.codec == "mpeg4" and index.has_reordered_frames:
            # decord returns wrong pixels for MPEG-4 Part 2 B-frames after a seek.
            raise VideoDecodeError(path, "decord cannot seek exactly in MPEG-4 Part 2 with B-frames")
        self._readers: dict[tuple[int, int] | None, object] = {}
        self._resized_here: set[tuple[int, int]] = set()  # sizes decord's own resize fails for
        self.num_frames, self.height, self.width = index.num_frames, index.height, index.width
        self.fps, self.duration, self.codec = index.fps, index.duration, index.codec

    def _open(self, size: tuple[int, int] | None):
        height, width = size if size is not None else (-1, -1)
        return self._decord.VideoReader(
            str(self.path), ctx=self._decord.cpu(0), width=width, height=height, num_threads=0
        )

    def _reader(self, size: tuple[int, int] | None):
        reader = self._readers.get(size)
        if reader is None:
            try:
                reader = self._open(size)
            except Exception as error:  # decord's own exception types
                raise VideoDecodeError(self.path, f"decord cannot open it ({error})") from error
            if len(reader) < self.num_frames:
                raise VideoDecodeError(
                    self.path, f"decord finds {len(reader)} of the {self.num_frames} frames"
                )
            self._readers[size] = reader
        return reader

    def get_frames(
        self, indices: Sequence[int], size: tuple[int, int] | None, deadline: Deadline
    ) -> np.ndarray:
        if size is not None and size in self._resized_here:
            frames = _resize(self._reader(None).get_batch(list(indices)).asnumpy(), size)
        else:
            try:
                frames = self._reader(size).get_batch(list(indices)).asnumpy()
            except Exception as error:  # decord's own exception types
                if size is None or "DECORDArrayCopyFromTo" not in str(error):
                    raise
                self._readers.pop(size, None)
                self._resized_here.add(size)
                return self.get_frames(indices, size, deadline)
        deadline.check()
        return frames

    def iter_frames(self, deadline: Deadline) -> Iterator[np.ndarray]:
        reader = self._reader(None)
        for start in range(0, self.num_frames, _CHUNK):
            batch = reader.get_batch(list(range(start, min(start + _CHUNK, self.num_frames)))).asnumpy()
            deadline.check()
            yield from batch
            deadline.restart()

    def close(self) -> None:
        self._readers.clear()
