"""Decoding backends behind :class:`vidlearn.video.VideoReader`.

``pyav`` is always there; ``torchcodec`` and ``decord`` are used when their packages import.
``AUTO_ORDER`` is the order ``backend="auto"`` tries them in: fastest first on random 16-frame
clips (see ``vidlearn.video.reader``), PyAV last as the fallback that reads the most files.
"""

from __future__ import annotations

from functools import cache

from vidlearn.video.backends import decord_backend, torchcodec_backend
from vidlearn.video.backends.base import DecoderBackend
from vidlearn.video.backends.decord_backend import DecordBackend
from vidlearn.video.backends.pyav import PyAVBackend
from vidlearn.video.backends.torchcodec_backend import TorchCodecBackend

__all__ = ["AUTO_ORDER", "BACKEND_CLASSES", "DecoderBackend", "available_backends"]

BACKEND_CLASSES: dict[str, type[DecoderBackend]] = {
    "pyav": PyAVBackend,
    "torchcodec": TorchCodecBackend,
    "decord": DecordBackend,
}
AUTO_ORDER = ("pyav", "torchcodec", "decord")


@cache
def _working_backends() -> tuple[str, ...]:
    working = {
        "pyav": True,
        "torchcodec": torchcodec_backend.is_available(),
        "decord": decord_backend.is_available(),
    }
    return tuple(name for name in AUTO_ORDER if working[name])


def available_backends() -> list[str]:
    """Names of the backends that import and work here, in ``AUTO_ORDER`` (checked once)."""
    return list(_working_backends())
