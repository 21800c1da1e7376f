"""Flow on disk: MMAction2/denseflow JPEG pairs and compressed NumPy archives.

JPEG layout (MMAction2's ``rawframes`` convention, written by denseflow and MMAction2's
``tools/misc/flow_extraction.py``): field ``t`` (0-based, the flow from frame ``t`` to ``t+1``) is
two grayscale images ``flow_x_{t+1:05d}.jpg`` and ``flow_y_{t+1:05d}.jpg`` (1-based names). A value
``v`` in pixels is clipped to ``[-bound, bound]`` and stored as::

    q = round((clip(v, -bound, bound) + bound) / (2 * bound) * 255)      # uint8 0..255
    v' = q / 255 * (2 * bound) - bound                                     # what reading returns

so ``q = 127.5`` is zero motion (it rounds to 128: zero reads back as ``+bound / 255``), and the
quantisation error inside the bound is at most ``bound / 255`` (0.078 px for the default 20) plus
JPEG's loss. Flow beyond the bound saturates.

NPZ layout: one ``np.savez_compressed`` archive per video with ``flow`` ``(T, 2, H, W)`` as
``float16`` (error about 1e-3 relative) or quantised ``uint8`` as above, plus ``bound`` and
``format_version``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import torch

__all__ = [
    "DEFAULT_BOUND",
    "DEFAULT_TEMPLATE",
    "dequantize_flow",
    "flow_frame_paths",
    "quantize_flow",
    "read_flow_frames",
    "read_flow_npz",
    "write_flow_frames",
    "write_flow_npz",
]

DEFAULT_BOUND = 20.0
DEFAULT_TEMPLATE = "flow_{axis}_{index:05d}.jpg"
_NPZ_FORMAT_VERSION = 1


def _flow_numpy(flow: torch.Tensor | np.ndarray) -> np.ndarray:
    array = flow.detach().cpu().numpy() if isinstance(flow, torch.Tensor) else np.asarray(flow)
    if array.ndim == 3:
        array = array[None]
    if array.ndim != 4 or array.shape[1] != 2:
        raise ValueError(f"flow: expected shape (T, 2, H, W) or (2, H, W), got {tuple(array.shape)}")
    if not np.issubdtype(array.dtype, np.floating):
        raise ValueError(f"flow: expected floating-point values in pixels, got dtype {array.dtype}")
    return array


def _check_bound(bound: float) -> float:
    bound = float(bound)
    if not bound > 0:
        raise ValueError(f"bound must be > 0 pixels, got {bound}")
    return bound


def quantize_flow(flow: torch.Tensor | np.ndarray, bound: float = DEFAULT_BOUND) -> np.ndarray:
    """Map flow in pixels to ``uint8``: ``round((clip(v, ±bound) + bound) / (2 bound) * 255)``."""
    bound = _check_bound(bound)
    array = flow.detach().cpu().numpy() if isinstance(flow, torch.Tensor) else np.asarray(flow)
    scaled = (np.clip(array, -bound, bound) + bound) * (255.0 / (2.0 * bound))
    return np.rint(scaled).astype(np.uint8)


def dequantize_flow(quantized: np.ndarray, bound: float = DEFAULT_BOUND) -> np.ndarray:
    """Inverse of :func:`quantize_flow`: ``q / 255 * 2 bound - bound`` as ``float32``."""
    bound = _check_bound(bound)
    return quantized.astype(np.float32) * np.float32(2.0 * bound / 255.0) - np.float32(bound)


def flow_frame_paths(
    directory: str | Path, index: int, *, template: str = DEFAULT_TEMPLATE
) -> tuple[Path, Path]:
    """The x and y image paths of 0-based flow field ``index`` (files are numbered from 1)."""
    directory = Path(directory)
    return (
        directory / template.format(axis="x", index=index + 1),
        directory / template.format(axis="y", index=index + 1),
    )


def write_flow_frames(
    flow: torch.Tensor | np.ndarray,
    directory: str | Path,
    *,
    template: str = DEFAULT_TEMPLATE,
    bound: float = DEFAULT_BOUND,
    quality: int = 95,
    start: int = 0,
) -> list[Path]:
    """Write ``flow`` ``float (T, 2, H, W)`` as ``2 T`` grayscale images; return their paths.

    Field ``i`` goes to index ``start + i`` of ``template`` (0-based, so the first file of a video
    is ``flow_x_00001.jpg``); ``start`` lets a long video be written chunk by chunk. ``quality`` is
    the JPEG quality (ignored for lossless suffixes such as ``.png``).
    """
    array = _flow_numpy(flow)
    if not 1 <= quality <= 100:
        raise ValueError(f"quality must be in 1..100, got {quality}")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    quantized = quantize_flow(array, bound)
    params = [cv2.IMWRITE_JPEG_QUALITY, int(quality)]
    written: list[Path] = []
    for offset, field in enumerate(quantized):
        for path, channel in zip(flow_frame_paths(directory, start + offset, template=template), field):
            if not cv2.imwrite(str(path), channel, params):
                raise OSError(f"{path}: could not write the flow image")
            written.append(path)
    return written


def read_flow_frames(
    directory: str | Path,
    indices: Sequence[int],
    *,
    template: str = DEFAULT_TEMPLATE,
    bound: float = DEFAULT_BOUND,
) -> torch.Tensor:
    """Read flow fields ``indices`` (0-based) of ``directory`` as ``float32 (T, 2, H, W)`` pixels.

    Index ``i`` reads ``flow_x_{i+1:05d}.jpg`` and ``flow_y_{i+1:05d}.jpg`` and maps them back with
    :func:`dequantize_flow`. A missing or unreadable image raises ``FileNotFoundError`` naming it.
    """
    indices = [int(index) for index in indices]
    if not indices:
        raise ValueError(f"{directory}: no flow indices asked for")
    fields = []
    for index in indices:
        if index < 0:
            raise ValueError(f"{directory}: flow index {index} is negative (indices are 0-based)")
        channels = []
        for path in flow_frame_paths(directory, index, template=template):
            image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
            if image is None:
                raise FileNotFoundError(f"{path}: flow image missing or unreadable (flow index {index})")
            channels.append(image)
        if channels[0].shape != channels[1].shape:
            raise ValueError(f"{directory}: x and y images of flow index {index} differ in size")
        fields.append(np.stack(channels))
    shapes = {field.shape for field in fields}
    if len(shapes) > 1:
        raise ValueError(f"{directory}: flow images differ in size: {sorted(shapes)}")
    return torch.from_numpy(dequantize_flow(np.stack(fields), bound))


def write_flow_npz(
    flow: torch.Tensor | np.ndarray,
    path: str | Path,
    *,
    dtype: str = "float16",
    bound: float = DEFAULT_BOUND,
) -> Path:
    """Write ``flow`` ``float (T, 2, H, W)`` to a compressed ``.npz``.

    ``dtype="float16"`` keeps the values (half precision: 11 significant bits, about 0.01 px at
    20 px); ``dtype="uint8"`` quantises with :func:`quantize_flow` and ``bound`` (smaller files,
    clipped at the bound). The file is written to a temporary name and renamed, so a reader never
    sees half a file.
    """
    array = _flow_numpy(flow)
    path = Path(path)
    if dtype == "float16":
        stored = array.astype(np.float16)
    elif dtype == "uint8":
        stored = quantize_flow(array, bound)
    else:
        raise ValueError(f"npz dtype must be 'float16' or 'uint8', got {dtype!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp.npz")
    np.savez_compressed(
        temporary,
        flow=stored,
        bound=np.float32(_check_bound(bound)),
        format_version=np.int32(_NPZ_FORMAT_VERSION),
    )
    temporary.replace(path)
    return path


def read_flow_npz(path: str | Path, indices: Sequence[int] | None = None) -> torch.Tensor:
    """Read an archive of :func:`write_flow_npz` as ``float32 (T, 2, H, W)`` pixels.

    ``indices`` (0-based) selects fields; ``None`` reads all. Errors name the file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such flow archive")
    try:
        with np.load(path, allow_pickle=False) as archive:
            stored = archive["flow"]
            bound = float(archive["bound"])
    except (KeyError, ValueError, OSError) as error:
        raise ValueError(f"{path}: not a vidlearn flow archive ({error})") from error
    if stored.ndim != 4 or stored.shape[1] != 2:
        raise ValueError(f"{path}: flow has shape {stored.shape}, expected (T, 2, H, W)")
    if indices is not None:
        indices = [int(index) for index in indices]
        bad = [index for index in indices if not 0 <= index < len(stored)]
        if bad:
            raise IndexError(f"{path}: flow indices {bad} out of range 0..{len(stored) - 1}")
        stored = stored[indices]
    if stored.dtype == np.uint8:
        return torch.from_numpy(dequantize_flow(stored, bound))
    return torch.from_numpy(stored.astype(np.float32))
