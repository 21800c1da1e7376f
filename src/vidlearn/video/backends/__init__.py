"""Decoding backends behind :class:`vidlearn.video.VideoReader`.

``pyav`` is always there; ``torchcodec`` and ``decord`` are used when they can really decode here:
each is probed once per process by decoding a tiny clip (importing is not enough: torchcodec
imports without FFmpeg's shared libraries and fails on the first file). :func:`backend_status`
gives the answer and, when a backend is unavailable, the reason.

``AUTO_ORDER`` is the order ``backend="auto"`` tries them in: PyAV first, as it is the fastest on
random 16-frame clips here and reads the most files (every backend opens the file with it for the
packet index anyway); torchcodec, then decord, are tried only when PyAV cannot open a file, and
only when available.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from vidlearn.video.backends import decord_backend, torchcodec_backend
from vidlearn.video.backends.base import DecoderBackend
from vidlearn.video.backends.decord_backend import DecordBackend
from vidlearn.video.backends.pyav import PyAVBackend
from vidlearn.video.backends.torchcodec_backend import TorchCodecBackend

__all__ = [
    "AUTO_ORDER",
    "BACKEND_CLASSES",
    "BackendStatus",
    "DecoderBackend",
    "available_backends",
    "backend_is_available",
    "backend_status",
]

BACKEND_CLASSES: dict[str, type[DecoderBackend]] = {
    "pyav": PyAVBackend,
    "torchcodec": TorchCodecBackend,
    "decord": DecordBackend,
}
AUTO_ORDER = ("pyav", "torchcodec", "decord")


@dataclass(frozen=True)
class BackendStatus:
    """Whether backend ``name`` decodes here; ``reason`` says why not (``""`` when available)."""

    name: str
    available: bool
    reason: str = ""


def _probe(name: str) -> str:
    """``""`` when backend ``name`` decodes here, else the reason. Looked up at call time, so a
    test can replace a module's ``probe``."""
    if name == "pyav":
        return ""  # a required dependency, imported above
    if name == "torchcodec":
        return torchcodec_backend.probe()
    if name == "decord":
        return decord_backend.probe()
    return f"unknown video backend {name!r}; choose one of {', '.join(['auto', *AUTO_ORDER])}"


@cache
def backend_status(name: str) -> BackendStatus:
    """Whether backend ``name`` imports and decodes a tiny clip here, and if not, why.

    Probed once per process (about 3 s for torchcodec's import, milliseconds for the decode) and
    only for a backend that is asked about, so an unused optional library is never imported.
    ``backend_status.cache_clear()`` probes again.
    """
    reason = _probe(name)
    return BackendStatus(name, available=not reason, reason=reason)


def backend_is_available(name: str) -> bool:
    """Whether backend ``name`` imports and decodes here (see :func:`backend_status`)."""
    return backend_status(name).available


def available_backends() -> list[str]:
    """Names of the backends that import and decode here, in ``AUTO_ORDER``."""
    return [name for name in AUTO_ORDER if backend_is_available(name)]
