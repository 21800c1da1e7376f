"""Which files are videos and which are frame images: one list of suffixes for every reader of folders.

Video files are decoded by :class:`vidlearn.video.VideoReader`; frame images (a folder of ``000001.jpg ...``,
OTB's ``img/``, MOTChallenge's ``img1/``, Vid4's ``calendar/``) by OpenCV, in name order.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["IMAGE_SUFFIXES", "VIDEO_SUFFIXES", "image_files", "is_video_file"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
VIDEO_SUFFIXES = (
    ".mp4", ".avi", ".mkv", ".mov", ".webm", ".m4v", ".mpg", ".mpeg", ".flv", ".wmv", ".gif", ".y4m",
)


def image_files(folder: str | Path) -> list[Path]:
    """The frame images (by suffix, any case) directly in ``folder``, sorted by name."""
    return sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


def is_video_file(path: str | Path) -> bool:
    """Whether ``path`` names a video by its suffix (the file need not exist)."""
    return Path(path).suffix.lower() in VIDEO_SUFFIXES
