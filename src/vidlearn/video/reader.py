"""Reading frames from video files: :class:`VideoReader`, :func:`probe_video`.

The reader is frame-exact: ``get_frames([i])`` is the frame a full sequential decode gives at
index ``i``, for every backend (PyAV always; torchcodec and decord when they decode here). ``num_frames``
counts the frames a full decode gives, not the header's claim (an MP4 whose edit list drops the
last packet says 443 frames in its header and decodes 442).

Truncated files: ``num_frames`` counts the frames whose packets are in the file; a frame whose
data is cut off or corrupt raises :class:`VideoDecodeError` naming its index when asked for.

Known metadata: counting frames exactly means reading every packet of the file on open (a few ms
per file). :func:`probe_video` returns that packet table in compact form when the file's frame
timestamps are evenly spaced (``VideoInfo.frame_table``, a :class:`FrameTable`); a caller that kept
it (a dataset's metadata index) passes it back, ``VideoReader(path, metadata=info)``, and the file
opens without the packet pass. The frames are the same: the table is the one the pass would build.

Typical use::

    with VideoReader("v_Biking_g05_c02.avi") as video:
        clip = video.get_frames(range(16, 32), size=128)  # uint8 (16, 128, 171, 3) RGB
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
import torch

from vidlearn.video.backends import (
    AUTO_ORDER,
    BACKEND_CLASSES,
    available_backends,
    backend_is_available,
    backend_status,
)
from vidlearn.video.backends.base import Deadline, DecoderBackend, check_readable_file, resolve_size
from vidlearn.video.backends.pyav import FrameTable, PyAVBackend
from vidlearn.video.errors import VideoDecodeError

__all__ = ["FrameTable", "VideoInfo", "VideoReader", "available_backends", "probe_video"]


@dataclass(frozen=True)
class VideoInfo:
    """What :func:`probe_video` finds out about a file without decoding it.

    ``num_frames`` is the true frame count (packets the decoder keeps), ``header_num_frames`` what
    the container header claims (0 when it says nothing), ``keyframe_indices`` the frames a
    decoder can start from. ``frame_table`` is the packet table in compact form when the frame
    timestamps are evenly spaced (``None`` otherwise): hand it back to :class:`VideoReader`
    (``metadata=``) to open the file without reading every packet again.
    """

    path: Path
    num_frames: int
    fps: float
    height: int
    width: int
    duration: float
    codec: str
    pixel_format: str
    header_num_frames: int
    keyframe_indices: tuple[int, ...]
    frame_table: FrameTable | None = None

    @property
    def max_keyframe_interval(self) -> int:
        """Largest gap between keyframes (or to the end): the worst case of frames decoded per seek."""
        bounds = [*self.keyframe_indices, self.num_frames]
        return max(later - earlier for earlier, later in pairwise(bounds))


def probe_video(path: str | Path, *, decode_timeout: float = 60.0) -> VideoInfo:
    """Stream metadata and the exact frame count of ``path`` (demuxes packets, decodes nothing)."""
    path = Path(path)
    backend = PyAVBackend(path, decode_timeout)
    try:
        return VideoInfo(
            path=path,
            num_frames=backend.num_frames,
            fps=backend.fps,
            height=backend.height,
            width=backend.width,
            duration=backend.duration,
            codec=backend.codec,
            pixel_format=backend.pixel_format,
            header_num_frames=backend.header_num_frames,
            keyframe_indices=tuple(backend.keyframe_indices),
            frame_table=backend.frame_table,
        )
    finally:
        backend.close()


def _frame_table_of(metadata: Any) -> FrameTable | None:
    """The :class:`FrameTable` carried by ``metadata`` (see :class:`VideoReader`), or ``None``."""
    if metadata is None or isinstance(metadata, FrameTable):
        return metadata
    table = metadata.get("frame_table") if isinstance(metadata, Mapping) else getattr(metadata, "frame_table", None)
    if table is None or isinstance(table, FrameTable):
        return table
    if not isinstance(table, Mapping):
        raise TypeError(f"metadata's frame_table must be a FrameTable or a mapping, got {type(table).__name__}")
    table = FrameTable.from_mapping(table)
    expected = metadata.get("num_frames") if isinstance(metadata, Mapping) else getattr(metadata, "num_frames", None)
    if expected is not None and int(expected) != table.num_frames:
        return None  # an entry that contradicts itself: read the packets
    return table


class VideoReader:
    """Random access to the frames of one video file.

    ``backend`` is ``"pyav"``, ``"torchcodec"``, ``"decord"`` or ``"auto"`` (the first of
    ``AUTO_ORDER`` that is available and opens the file; if it later fails on this file, the reader
    moves on to the next one). A backend is available when it imports and decodes a probe clip
    here (:func:`vidlearn.video.backends.backend_status`); asking for one that is not raises
    ``ValueError`` with the reason. ``decode_timeout`` bounds, in seconds, opening the file and each
    :meth:`get_frames` call; past it a :class:`VideoDecodeError` is raised (PyAV checks it between
    packets; other backends after each call).

    ``metadata`` is what an earlier :func:`probe_video` found (a :class:`VideoInfo`, a
    :class:`FrameTable`, or anything with a ``frame_table`` attribute or key, such as a dataset
    index's entry): when it carries a frame table that fits the file, the file opens without reading
    every packet. It is a hint about speed only: metadata without a table, or one that disagrees with
    the stream (another time base), is ignored and the packets are read as usual.

    Attributes: ``num_frames``, ``fps``, ``height``, ``width``, ``duration`` (seconds), ``codec``
    and ``backend`` (the name of the backend in use).
    """

    def __init__(
        self,
        path: str | Path,
        backend: str = "auto",
        *,
        decode_timeout: float = 60.0,
        metadata: Any = None,
    ) -> None:
        self.path = Path(path)
        if decode_timeout <= 0:
            raise ValueError(f"decode_timeout must be positive, got {decode_timeout}")
        self.decode_timeout = decode_timeout
        self._known = _frame_table_of(metadata)
        if backend == "auto":
            self._candidates = list(AUTO_ORDER)  # availability is checked when a name is reached
        elif backend in BACKEND_CLASSES:
            status = backend_status(backend)
            if not status.available:
                raise ValueError(
                    f"video backend {backend!r} is not available here: {status.reason}; "
                    f"available: {', '.join(available_backends())}"
                )
            self._candidates = [backend]
        else:
            names = ", ".join(["auto", *AUTO_ORDER])
            raise ValueError(f"unknown video backend {backend!r}; choose one of {names}")
        check_readable_file(self.path)
        self._backend: DecoderBackend | None = None
        self._metadata: dict = {}
        self._open_next()

    def _open_next(self) -> None:
        """Open the first remaining candidate backend that accepts the file."""
        errors: dict[str, VideoDecodeError] = {}
        while self._candidates:
            name = self._candidates.pop(0)
            if not backend_is_available(name):
                continue
            try:
                # Only a reader given a table passes it on: every backend accepts ``known=``.
                options = {"known": self._known} if self._known is not None else {}
                backend = BACKEND_CLASSES[name](self.path, self.decode_timeout, **options)
                self._backend = backend
                self._metadata = {
                    "backend": backend.name,
                    "num_frames": backend.num_frames,
                    "fps": backend.fps,
                    "height": backend.height,
                    "width": backend.width,
                    "duration": backend.duration,
                    "codec": backend.codec,
                }
                return
            except VideoDecodeError as error:
                errors[name] = error
            except Exception as error:  # an optional library's own exception type
                errors[name] = VideoDecodeError(self.path, f"{name} cannot open it ({error})")
        # PyAV's message is the most specific about what is wrong with the file.
        if not errors:
            raise VideoDecodeError(self.path, "no video backend left to try")
        raise errors.get("pyav") or next(iter(errors.values()))

    @property
    def _open_backend(self) -> DecoderBackend:
        if self._backend is None:
            raise VideoDecodeError(self.path, "the reader is closed")
        return self._backend

    # Metadata is copied at open, so it stays readable after close().
    @property
    def backend(self) -> str:
        return self._metadata["backend"]

    @property
    def num_frames(self) -> int:
        return self._metadata["num_frames"]

    @property
    def fps(self) -> float:
        return self._metadata["fps"]

    @property
    def height(self) -> int:
        return self._metadata["height"]

    @property
    def width(self) -> int:
        return self._metadata["width"]

    @property
    def duration(self) -> float:
        return self._metadata["duration"]

    @property
    def codec(self) -> str:
        return self._metadata["codec"]

    def __len__(self) -> int:
        return self.num_frames

    def get_frames(
        self, indices: Sequence[int] | np.ndarray | torch.Tensor, size: int | tuple[int, int] | None = None
    ) -> torch.Tensor:
        """The frames at ``indices`` as ``uint8 (T, H, W, 3)`` RGB, in the order given.

        ``indices`` may repeat and come in any order. ``size`` is ``(height, width)``, an int for
        the short side (the long side keeps the aspect ratio), or ``None`` for the stored size;
        the resize happens inside the colour conversion, for the wanted frames only.
        """
        backend = self._open_backend
        wanted = self._check_indices(indices)
        out_size = resolve_size(backend.height, backend.width, size)
        height, width = out_size if out_size is not None else (backend.height, backend.width)
        if wanted.size == 0:
            return torch.empty((0, height, width, 3), dtype=torch.uint8)
        unique, inverse = np.unique(wanted, return_inverse=True)
        frames = self._decode(unique.tolist(), out_size)
        return torch.from_numpy(np.ascontiguousarray(frames[inverse.reshape(-1)]))

    def _check_indices(self, indices: Sequence[int] | np.ndarray | torch.Tensor) -> np.ndarray:
        if isinstance(indices, torch.Tensor):
            indices = indices.detach().cpu().numpy()
        array = np.asarray(list(indices) if isinstance(indices, range) else indices)
        if array.size == 0:
            return array.astype(np.int64).reshape(0)
        if array.ndim != 1 or not np.issubdtype(array.dtype, np.integer):
            raise ValueError(
                f"{self.path}: frame indices must be a 1-D sequence of ints, got {array.dtype} {array.shape}"
            )
        array = array.astype(np.int64)
        bad = array[(array < 0) | (array >= self.num_frames)]
        if bad.size:
            raise VideoDecodeError(
                self.path,
                f"frame index {int(bad[0])} is out of range for a video of {self.num_frames} frames",
            )
        return array

    def _decode(self, unique: list[int], size: tuple[int, int] | None) -> np.ndarray:
        while True:
            backend = self._open_backend
            try:
                return backend.get_frames(unique, size, Deadline(self.path, self.decode_timeout))
            except VideoDecodeError:
                if backend.name == "pyav" or not self._has_fallback():
                    raise
            except Exception as error:  # an optional library failed on this file: use the next one
                if not self._has_fallback():
                    raise VideoDecodeError(self.path, f"{backend.name} failed ({error})") from error
            # Every backend gives the same frames, so falling back changes speed, not results.
            backend.close()
            self._backend = None
            self._open_next()

    def _has_fallback(self) -> bool:
        """Whether a working backend is left to try (imports optional libraries only now)."""
        self._candidates = [name for name in self._candidates if backend_is_available(name)]
        return bool(self._candidates)

    def __iter__(self) -> Iterator[torch.Tensor]:
        """Every frame in order as ``uint8 (H, W, 3)`` RGB, decoding as it goes.

        ``decode_timeout`` bounds the time to each next frame, not the whole pass.
        """
        deadline = Deadline(self.path, self.decode_timeout)
        for frame in self._open_backend.iter_frames(deadline):
            yield torch.from_numpy(frame)

    def close(self) -> None:
        """Release the file; the reader cannot be used afterwards."""
        if self._backend is not None:
            self._backend.close()
            self._backend = None

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        if self._backend is None:
            return f"VideoReader({str(self.path)!r}, closed)"
        return (
            f"VideoReader({str(self.path)!r}, backend={self.backend!r}, num_frames={self.num_frames}, "
            f"fps={self.fps:.3f}, size={self.width}x{self.height})"
        )
