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
  BasicSR's port does; MATLAB given ``uint8`` frames keeps its intermediate result in ``uint8``
  between the two passes, so its output can differ by about one grey level.
* Optional, as in the paper's ablation: additive Gaussian noise (``noise_sigma``, on the [0, 1] scale)
  and JPEG compression (``jpeg_quality``, OpenCV's encoder, one frame at a time) after downscaling.

Input frames: ``float (..., C, H, W)`` in [0, 1], any leading dimensions (a frame, a clip ``(T, C, H, W)``,
a batch ``(B, T, C, H, W)``), all processed at once. ``H`` and ``W`` must be multiples of the scale
(crop with :func:`crop_to_multiple` first), so that LR and HR frames pair up exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
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
    "jpeg_round_trip",
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


def jpeg_round_trip(frames: Tensor, quality: int) -> Tensor:
    """Encode and decode every frame ``(..., C, H, W)`` (C = 1 or 3, RGB) as JPEG at ``quality`` with OpenCV."""
    *lead, channels, height, width = frames.shape
    if channels not in (1, 3):
        raise ValueError(f"JPEG needs 1 or 3 channels, got {channels}")
    images = (frames.detach().clamp(0, 1) * 255).round().to(torch.uint8).reshape(-1, channels, height, width)
    images = images.permute(0, 2, 3, 1).cpu().numpy()
    decoded = []
    for image in images:  # OpenCV's codec takes one image at a time
        bgr = np.ascontiguousarray(image[..., ::-1]) if channels == 3 else image
        ok, buffer = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
        if not ok:
            raise RuntimeError(f"OpenCV failed to JPEG-encode a {height}x{width} frame")
        out = cv2.imdecode(buffer, cv2.IMREAD_COLOR if channels == 3 else cv2.IMREAD_GRAYSCALE)
        decoded.append(out[..., ::-1].copy() if channels == 3 else out[..., None])
    result = torch.from_numpy(np.stack(decoded)).permute(0, 3, 1, 2).to(frames.device, frames.dtype) / 255.0
    return result.reshape(*lead, channels, height, width)


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
        noise_sigma: standard deviation of additive Gaussian noise on the [0, 1] scale (0: none).
        jpeg_quality: JPEG quality 1-100 of a compression round trip (``None``: none).

    Order: downscale, noise, JPEG (which implies 8-bit frames), then ``quantize``.
    """

    kind: str = "bd"
    scale: int = 4
    sigma: float = 1.5
    kernel_size: int | None = None
    offset: int = 0
    quantize: bool = False
    noise_sigma: float = 0.0
    jpeg_quality: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("bd", "bi"):
            raise ValueError(f"unknown degradation kind {self.kind!r}: expected 'bd' or 'bi'")
        if self.scale < 1:
            raise ValueError(f"scale must be a positive integer, got {self.scale}")
        if self.noise_sigma < 0:
            raise ValueError(f"noise_sigma must be >= 0, got {self.noise_sigma}")
        if self.jpeg_quality is not None and not 1 <= self.jpeg_quality <= 100:
            raise ValueError(f"jpeg_quality must lie in 1..100, got {self.jpeg_quality}")

    @property
    def protocol(self) -> str:
        """A string naming every setting, e.g. ``"BD x4 gaussian sigma=1.5 kernel=9 offset=0 reflect"``."""
        if self.kind == "bi":
            text = f"BI x{self.scale} matlab-bicubic antialias"
        else:
            size = 1 + 2 * int(3.0 * self.sigma) if self.kernel_size is None else self.kernel_size
            text = f"BD x{self.scale} gaussian sigma={self.sigma:g} kernel={size} offset={self.offset} reflect"
        if self.noise_sigma:
            text += f" noise={self.noise_sigma:g}"
        if self.jpeg_quality is not None:
            text += f" jpeg={self.jpeg_quality}"
        return text + (" uint8" if self.quantize else "")

    def __call__(self, frames: Tensor, *, generator: torch.Generator | None = None) -> Tensor:
        """HR ``(..., C, H, W)`` -> LR ``(..., C, H/s, W/s)``; ``generator`` seeds the noise."""
        if self.kind == "bi":
            lr = bi_degrade(frames, scale=self.scale)
        else:
            lr = bd_degrade(frames, scale=self.scale, sigma=self.sigma, kernel_size=self.kernel_size,
                            offset=self.offset)
        if self.noise_sigma:
            noise = torch.randn(lr.shape, generator=generator, dtype=lr.dtype, device=lr.device)
            lr = lr + self.noise_sigma * noise
        if self.jpeg_quality is not None:
            lr = jpeg_round_trip(lr, self.jpeg_quality)
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
