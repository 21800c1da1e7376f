"""What every decoding backend provides, and helpers they share.

A backend decodes one file. The front, :class:`vidlearn.video.VideoReader`, checks the indices and
the requested size and hands the backend a sorted, duplicate-free list of frame indices; it puts the
frames back into the caller's order (with repeats) itself.
"""

from __future__ import annotations

import abc
import re
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np

from vidlearn.video.errors import VideoDecodeError

__all__ = [
    "Deadline",
    "DecoderBackend",
    "check_readable_file",
    "describe_import_failure",
    "missing_shared_libraries",
    "probe_decoding",
    "resolve_size",
    "summarize_error",
]


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


# ------------------------------------------------------------------ availability probes
#
# An optional backend counts as available only when it decodes: a package can import and still
# fail on the first file (torchcodec imports without FFmpeg's shared libraries and fails when it
# opens a video). Each optional backend's ``probe()`` decodes this tiny clip once per process.

PROBE_FRAMES = 4
PROBE_HEIGHT, PROBE_WIDTH = 48, 64  # decord2 3.4 fails on some widths (48 among them), not on 64
PROBE_GRAY = 128  # the uniform colour of the probe clip
_PROBE_TOLERANCE = 12  # MPEG-4 at default quality on a flat picture stays within a few values


def write_probe_clip(folder: Path) -> Path:
    """Write the probe clip to ``folder``: 4 uniform gray frames, 64x48, MPEG-4 Part 2 in MP4.

    MPEG-4 Part 2 is FFmpeg's own codec, so every FFmpeg build decodes it.
    """
    import av  # PyAV is the required backend; it writes the clip the optional ones must read

    path = folder / "probe.mp4"
    picture = np.full((PROBE_HEIGHT, PROBE_WIDTH, 3), PROBE_GRAY, dtype=np.uint8)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=25)
        stream.width, stream.height, stream.pix_fmt = PROBE_WIDTH, PROBE_HEIGHT, "yuv420p"
        for _ in range(PROBE_FRAMES):
            container.mux(stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")))
        container.mux(stream.encode(None))
    return path


def summarize_error(error: BaseException, limit: int = 200) -> str:
    """``Type: first line of the message``, cut to ``limit`` characters (some libraries put whole
    tracebacks into their messages)."""
    lines = str(error).strip().splitlines()
    text = f"{type(error).__name__}: {lines[0].strip() if lines else ''}".rstrip(": ")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def missing_shared_libraries(error: BaseException) -> list[str]:
    """Shared libraries the dynamic loader could not find, named anywhere in ``error``'s message
    or in the errors it was raised from."""
    texts = []
    while error is not None:
        texts.append(str(error))
        error = error.__cause__ or error.__context__
    found = re.findall(r"([\w.+-]+\.so[.\d]*): cannot open shared object file", "\n".join(texts))
    return sorted(set(found))


def describe_import_failure(package: str, error: BaseException, install: str) -> str:
    """Why ``package`` is unavailable when importing it raised ``error``."""
    if isinstance(error, ModuleNotFoundError) and (error.name or "").split(".")[0] == package:
        return f"{package} is not installed ({install})"
    return f"{package} is installed but does not import ({summarize_error(error)})"


def probe_decoding(
    package: str,
    decode: Callable[[Path], np.ndarray],
    describe: Callable[[BaseException], str] = summarize_error,
) -> str:
    """Decode the probe clip with ``decode(path) -> uint8 (T, H, W, 3)`` (frames 0 and 3).

    Returns ``""`` when the frames come out right, else the reason, starting with ``package``;
    ``describe`` turns a library's exception into a short cause.
    """
    with tempfile.TemporaryDirectory(prefix="vidlearn-probe-") as folder:
        path = write_probe_clip(Path(folder))
        try:
            frames = np.asarray(decode(path))
        except Exception as error:  # the library's own exception types
            return f"{package} is installed but cannot decode a video: {describe(error)}"
    expected = (2, PROBE_HEIGHT, PROBE_WIDTH, 3)
    if frames.shape != expected or frames.dtype != np.uint8:
        return f"{package} decodes the probe clip to {frames.dtype} {frames.shape}, not uint8 {expected}"
    deviation = int(np.abs(frames.astype(np.int16) - PROBE_GRAY).max())
    if deviation > _PROBE_TOLERANCE:
        return f"{package} decodes the probe clip wrongly (gray {PROBE_GRAY} comes back off by up to {deviation})"
    return ""
