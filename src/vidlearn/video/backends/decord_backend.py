"""decord backend (the ``decord2`` package on PyPI, a maintained build of decord), when installed.

decord reads the frame count from the container header, which can count a frame that FFmpeg
discards (an MP4 edit list ending before the last packet); ``num_frames`` and the other metadata
are therefore taken from the PyAV packet index, so every backend agrees on them. MPEG-4 Part 2
files with B-frames are refused (decord returns wrong pixels after seeking in them);
``backend="auto"`` reads them with PyAV. Readers are opened on first use, one per requested size
(decord's own ``width``/``height`` resize), so a reader that only asks for one size opens the
file once.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from vidlearn.video.backends.base import Deadline, DecoderBackend, check_readable_file
from vidlearn.video.errors import VideoDecodeError

__all__ = ["DecordBackend", "is_available"]

_CHUNK = 16


def is_available() -> bool:
    """Whether decord imports."""
    try:
        import decord  # noqa: F401
    except Exception:
        return False
    return True


class DecordBackend(DecoderBackend):
    """Frames through ``decord.VideoReader`` (CPU context)."""

    name = "decord"

    def __init__(self, path: Path, timeout: float) -> None:
        import decord

        from vidlearn.video.backends.pyav import PyAVBackend

        check_readable_file(path)
        self.path = path
        self._decord = decord
        index = PyAVBackend(path, timeout)  # exact frame count and stream metadata
        index.close()
        if index.codec == "mpeg4" and index.has_reordered_frames:
            # decord returns wrong pixels for MPEG-4 Part 2 B-frames after a seek.
            raise VideoDecodeError(path, "decord cannot seek exactly in MPEG-4 Part 2 with B-frames")
        self._readers: dict[tuple[int, int] | None, object] = {}
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
        frames = self._reader(size).get_batch(list(indices)).asnumpy()
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
