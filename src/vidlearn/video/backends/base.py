"""What every decoding backend provides, and helpers they share.

A backend decodes one file. The front, :class:`vidlearn.video.VideoReader`, checks the indices and
the requested size and hands the backend a sorted, duplicate-free list of frame indices; it puts the
frames back into the caller's order (with repeats) itself.
"""

from __future__ import annotations

import abc
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from vidlearn.video.errors import VideoDecodeError

__all__ = ["Deadline", "DecoderBackend", "check_readable_file", "resolve_size"]


class DecoderBackend(abc.ABC):
    """One open video file. Subclasses set the metadata attributes in ``__init__``.

    ``num_frames`` is the number of frames a full sequential decode gives (not the header's claim),
    ``fps`` frames per second, ``duration`` seconds, ``codec`` the FFmpeg codec name.
    """

    name: str = ""
    path: Path
    num_frames: int
    fps: float
    height: int
    width: int
    duration: float
    codec: str

    @abc.abstractmethod
    def get_frames(
        self, indices: Sequence[int], size: tuple[int, int] | None, deadline: Deadline
    ) -> np.ndarray:
        """Frames at the sorted, unique ``indices`` as ``uint8 (len(indices), H, W, 3)`` RGB.

        ``size`` is ``(height, width)`` of the output or ``None`` for the stored size.
        """

    @abc.abstractmethod
    def iter_frames(self, deadline: Deadline) -> Iterator[np.ndarray]:
        """Every frame in order as ``uint8 (H, W, 3)`` RGB, holding only a few frames in memory."""

    def close(self) -> None:  # noqa: B027  (optional hook: most backends free on garbage collection)
        """Release the file and decoder."""


class Deadline:
    """A wall-clock time bound for one decoding request; ``check`` raises once it has passed."""

    def __init__(self, path: str | Path, seconds: float) -> None:
        self.path = path
        self.seconds = seconds
        self.end = time.monotonic() + seconds

    def restart(self) -> None:
        """Start the bound again (while iterating, each frame gets the full time)."""
        self.end = time.monotonic() + self.seconds

    def check(self, what: str = "decoding") -> None:
        if time.monotonic() > self.end:
            raise VideoDecodeError(self.path, f"{what} took longer than decode_timeout={self.seconds:g} s")


def check_readable_file(path: Path) -> None:
    """Raise :class:`VideoDecodeError` for a path that is missing, not a file or empty."""
    if not path.exists():
        raise VideoDecodeError(path, "file not found")
    if not path.is_file():
        raise VideoDecodeError(path, "not a regular file")
    if path.stat().st_size == 0:
        raise VideoDecodeError(path, "file is empty (0 bytes)")


def resolve_size(height: int, width: int, size: int | tuple[int, int] | None) -> tuple[int, int] | None:
    """The output ``(height, width)`` for ``size``: ``None`` keeps the stored size, an int is the
    short side (the long side is scaled to keep the aspect ratio and rounded), a pair is taken as is.
    """
    if size is None:
        return None
    if isinstance(size, (int, np.integer)) and not isinstance(size, bool):
        short = int(size)
        if short < 1:
            raise ValueError(f"size must be a positive short side, got {size}")
        if height <= width:
            return short, max(1, round(width * short / height))
        return max(1, round(height * short / width)), short
    if isinstance(size, Sequence) and len(size) == 2 and all(isinstance(v, (int, np.integer)) for v in size):
        out_h, out_w = int(size[0]), int(size[1])
        if out_h < 1 or out_w < 1:
            raise ValueError(f"size must be positive (height, width), got {tuple(size)}")
        return out_h, out_w
    raise ValueError(f"size must be None, an int (short side) or (height, width), got {size!r}")
