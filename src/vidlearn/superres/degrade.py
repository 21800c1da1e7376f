"""LR frames from HR frames under a named degradation: BD (blur + decimation) and BI (MATLAB bicubic).

Published video SR tables mix the two (a model trained on BI scores poorly on BD inputs and the other
way round), so every LR clip here comes from a :class:`Degradation` whose :attr:`~Degradation.protocol`
string names everything that changes the pixels, to be recorded next to every number.

* **BD** (FRVSR, TecoGAN, DUF, BasicVSR): Gaussian blur of standard deviation ``sigma`` with a
  ``kernel_size`` square kernel (reflect padding), then every ``scale``-th pixel starting at ``offset``.
  FRVSR and TecoGAN use ``sigma = 1.5`` at ×4 with TecoGAN's kernel size ``1 + 2*int(3*sigma)`` (9);
  DUF and BasicVSR use ``sigma = 1.6`` (0.4 × scale) with a 13×13 kernel. Both sample from pixel 0.
* **BI**: MATLAB's ``imresize(img, 1/scale, 'bicubic')`` with its antialiasing: the cubic kernel
  (``a = -0.5``) stretched by the scale when shrinking, weights normalised to sum 1, out-of-image
  taps mirrored (symmetric padding). OpenCV's ``INTER_CUBIC`` (``a = -0.75``, no antialiasing) and
  PyTorch's ``interpolate(mode="bicubic")`` give different LR frames. Computed in floating point, as
  BasicSR's port; MATLAB on ``uint8`` input rounds between the two passes, which changes values by at
  most a grey level.

Input frames: ``float (..., C, H, W)`` in [0, 1], any leading dimensions (a frame, a clip ``(T, C, H, W)``,
a batch ``(B, T, C, H, W)``), all processed at once. ``H`` and ``W`` must be multiples of the scale
(crop with :func:`crop_to_multiple` first), so that LR and HR frames pair up exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "DEGRADATIONS",
    "Degradation",
    "bd_degrade",
    "bi_degrade",
    "crop_to_multiple",
    "gaussian_kernel1d",
    "matlab_bicubic_matrix",
    "matlab_imresize",
]


def _check_frames(frames: Tensor, scale: int) -> None:
    if frames.dim() < 3 or not frames.is_floating_point():
        raise ValueError(f"expected float frames (..., C, H, W), got shape {tuple(frames.shape)} and dtype "
                         f"{frames.dtype}")
    height, width = frames.shape[-2:]
    if height % scale or width % scale:
        raise ValueError(f"frame size {height}x{width} is not divisible by the scale {scale}; crop the HR "
                         f"frames with crop_to_multiple(frames, {scale}) first")


def crop_to_multiple(frames: Tensor, scale: int) -> Tensor:
    """Crop ``(..., H, W)`` at the bottom and right to the largest multiple of ``scale`` (BasicSR's ``mod_crop``)."""
    height, width = frames.shape[-2:]
    return frames[..., : height - height % scale, : width - width % scale]


def gaussian_kernel1d(sigma: float, kernel_size: int, dtype: torch.dtype = torch.float64) -> Tensor:
    """Normalised 1-D Gaussian ``(kernel_size,)`` centred on the middle tap (odd sizes only)."""
    if kernel_size < 1 or kernel_size % 2 == 0:
        raise ValueError(f"kernel_size must be odd and positive, got {kernel_size}")
    if sigma <= 0:
        raise ValueError(f"sigma must be positive, got {sigma}")
    taps = torch.arange(kernel_size, dtype=dtype) - kernel_size // 2
    kernel = torch.exp(-(taps**2) / (2.0 * sigma**2))
    return kernel / kernel.sum()


def bd_degrade(frames: Tensor, *, scale: int = 4, sigma: float = 1.5, kernel_size: int | None = None,
               offset: int = 0) -> Tensor:
    """BD: Gaussian blur then every ``scale``-th pixel from ``offset``: ``(..., C, H, W) -> (..., C, H/s, W/s)``.

    ``kernel_size`` defaults to ``1 + 2*int(3*sigma)`` (TecoGAN's rule). The 2-D Gaussian is separable,
    so it runs as two 1-D convolutions.
    """
    _check_frames(frames, scale)
    if not 0 <= offset < scale:
        raise ValueError(f"offset must lie in [0, scale), got {offset} for scale {scale}")
    size = 1 + 2 * int(3.0 * sigma) if kernel_size is None else kernel_size
    kernel = gaussian_kernel1d(sigma, size).to(device=frames.device, dtype=frames.dtype)
    *lead, height, width = frames.shape
    x = frames.reshape(-1, 1, height, width)
    half = size // 2
    if half >= min(height, width):
        raise ValueError(f"blur kernel of size {size} needs frames larger than {half} px, got {height}x{width}")
    x = F.pad(x, (half, half, half, half), mode="reflect")
    x = F.conv2d(x, kernel.view(1, 1, size, 1))
    x = F.conv2d(x, kernel.view(1, 1, 1, size))
    x = x[..., offset::scale, offset::scale]
    return x.reshape(*lead, height // scale, width // scale)


def _matlab_cubic(x: Tensor) -> Tensor:
    """MATLAB's ``cubic`` kernel (Keys, ``a = -0.5``)."""
    ax = x.abs()
    ax2, ax3 = ax**2, ax**3
    near = (1.5 * ax3 - 2.5 * ax2 + 1.0) * (ax <= 1)
    far = (-0.5 * ax3 + 2.5 * ax2 - 4.0 * ax + 2.0) * ((ax > 1) & (ax <= 2))
    return near + far


def matlab_bicubic_matrix(in_length: int, out_length: int, scale: float, *, antialias: bool = True) -> Tensor:
    """The ``(out_length, in_length)`` float64 matrix of MATLAB's bicubic ``imresize`` along one axis.

    Output pixel ``x`` (1-based) samples input position ``u = x / scale + 0.5 * (1 - 1/scale)``; when
    shrinking with antialiasing the kernel is ``scale * cubic(scale * d)`` over ``4 / scale`` pixels.
    Taps outside ``1..in_length`` are mirrored (``[1..n, n..1]`` repeated), as MATLAB pads.
    """
    shrink = scale < 1 and antialias
    width = 4.0 / scale if shrink else 4.0
    x = torch.arange(1, out_length + 1, dtype=torch.float64)
    u = x / scale + 0.5 * (1.0 - 1.0 / scale)
    left = torch.floor(u - width / 2.0)
    taps = math.ceil(width) + 2
    indices = left[:, None] + torch.arange(taps, dtype=torch.float64)[None, :]
    distance = u[:, None] - indices
    weights = scale * _matlab_cubic(distance * scale) if shrink else _matlab_cubic(distance)
    weights = weights / weights.sum(dim=1, keepdim=True)
    mirror = torch.cat((torch.arange(in_length), torch.arange(in_length - 1, -1, -1)))
    source = mirror[torch.remainder(indices.long() - 1, 2 * in_length)]
    matrix = torch.zeros(out_length, in_length, dtype=torch.float64)
    matrix.scatter_add_(1, source, weights)
    return matrix


def matlab_imresize(frames: Tensor, scale: float, *, antialias: bool = True) -> Tensor:
    """MATLAB ``imresize(img, scale, 'bicubic')`` on ``(..., H, W)``; output ``ceil(H*scale) x ceil(W*scale)``.

    Runs as two matrix products (rows, then columns) in float64, returned in the input dtype.
    """
    height, width = frames.shape[-2:]
    rows = matlab_bicubic_matrix(height, math.ceil(height * scale), scale, antialias=antialias)
    cols = matlab_bicubic_matrix(width, math.ceil(width * scale), scale, antialias=antialias)
    rows, cols = rows.to(frames.device), cols.to(frames.device)
    out = rows @ frames.to(torch.float64) @ cols.T
    return out.to(frames.dtype)


def bi_degrade(frames: Tensor, *, scale: int = 4) -> Tensor:
    """BI: MATLAB bicubic downscaling by ``1/scale`` with antialiasing, ``(..., C, H, W) -> (..., C, H/s, W/s)``."""
    _check_frames(frames, scale)
    return matlab_imresize(frames, 1.0 / scale)


@dataclass(frozen=True)
class Degradation:
    """A named degradation; calling it maps HR frames ``(..., C, H, W)`` to LR frames.

    Attributes:
        kind: ``"bd"`` or ``"bi"``.
        scale: integer downscaling factor.
        sigma: Gaussian standard deviation (BD only).
        kernel_size: Gaussian kernel size (BD only; ``None``: ``1 + 2*int(3*sigma)``).
        offset: first sampled pixel (BD only).
        quantize: round the LR frames to 8-bit levels (as LR frames saved as PNG are).
    """

    kind: str = "bd"
    scale: int = 4
    sigma: float = 1.5
    kernel_size: int | None = None
    offset: int = 0
    quantize: bool = False

    def __post_init__(self) -> None:
        if self.kind not in ("bd", "bi"):
            raise ValueError(f"unknown degradation kind {self.kind!r}: expected 'bd' or 'bi'")
        if self.scale < 1:
            raise ValueError(f"scale must be a positive integer, got {self.scale}")

    @property
    def protocol(self) -> str:
        """A string naming every setting, e.g. ``"BD x4 gaussian sigma=1.5 kernel=9 offset=0 reflect"``."""
        if self.kind == "bi":
            text = f"BI x{self.scale} matlab-bicubic antialias"
        else:
            size = 1 + 2 * int(3.0 * self.sigma) if self.kernel_size is None else self.kernel_size
            text = f"BD x{self.scale} gaussian sigma={self.sigma:g} kernel={size} offset={self.offset} reflect"
        return text + (" uint8" if self.quantize else "")

    def __call__(self, frames: Tensor) -> Tensor:
        if self.kind == "bi":
            lr = bi_degrade(frames, scale=self.scale)
        else:
            lr = bd_degrade(frames, scale=self.scale, sigma=self.sigma, kernel_size=self.kernel_size,
                            offset=self.offset)
        if self.quantize:
            lr = torch.round(lr.clamp(0.0, 1.0) * 255.0) / 255.0
        return lr


# The settings of published tables, by name.
DEGRADATIONS: dict[str, Degradation] = {
    "bd_frvsr_x4": Degradation("bd", 4, sigma=1.5),  # FRVSR, TecoGAN: 9x9 kernel
    "bd_duf_x4": Degradation("bd", 4, sigma=1.6, kernel_size=13),  # DUF, BasicVSR
    "bi_x4": Degradation("bi", 4),
    "bi_x2": Degradation("bi", 2),
}
