"""Errors of the video layer."""

from __future__ import annotations

from pathlib import Path

__all__ = ["VideoDecodeError"]


class VideoDecodeError(RuntimeError):
    """A video that cannot be decoded as asked: missing, empty, corrupt, truncated or too short.

    ``path`` is the file and ``reason`` the cause; ``str(error)`` names both.
    """

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")

    def __reduce__(self):  # keeps the error picklable across DataLoader worker processes
        return (type(self), (self.path, self.reason))
