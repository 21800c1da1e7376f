"""Decoding backends behind :class:`vidlearn.video.VideoReader`.

``pyav`` is always there; ``torchcodec`` and ``decord`` are used when their packages import.
``AUTO_ORDER`` is the order ``backend="auto"`` tries them in: PyAV first, as it is the fastest on
random 16-frame clips here and reads the most files (every backend opens the file with it for the
packet index anyway); torchcodec, then decord, are tried only when PyAV cannot open a file.
"""

from __future__ import annotations

from functools import cache

from vidlearn.video.backends import decord_backend, torchcodec_backend
from vidlearn.video.backends.base import DecoderBackend
from vidlearn.video.backends.decord_backend import DecordBackend
from vidlearn.video.backends.pyav import PyAVBackend
from vidlearn.video.backends.torchcodec_backend import TorchCodecBackend

__all__ = ["AUTO_ORDER", "BACKEND_CLASSES", "DecoderBackend", "available_backends", "backend_is_available"]

BACKEND_CLASSES: dict[str, type[DecoderBackend]] = {
    "pyav": PyAVBackend,
    "torchcodec": TorchCodecBackend,
    "decord": DecordBackend,
}
AUTO_ORDER = ("pyav", "torchcodec", "decord")


@cache
def backend_is_available(name: str) -> bool:
    """Whether backend ``name`` imports and works here (checked once per process; importing an
    optional library can take seconds, so it is only done when that backend is wanted)."""
    if name == "pyav":
        return True
    if name == "torchcodec":
        return torchcodec_backend.is_available()
    if name == "decord":
        return decord_backend.is_available()
    return False


def available_backends() -> list[str]:
    """Names of the backends that import and work here, in ``AUTO_ORDER``."""
    return [name for name in AUTO_ORDER if backend_is_available(name)]
