"""Video super-resolution quality metrics, each computed under a named protocol.

A PSNR is only comparable with another computed the same way, and published video SR tables differ in
the colour channel, the border crop, the frames skipped and whether frames are rounded to 8 bits first.
Every function here takes these as explicit arguments (BasicSR's style: ``calculate_psnr(img, img2,
crop_border, test_y_channel)``) and :class:`MetricProtocol` bundles them under a name recorded next to
every number. ``vid4`` is the protocol of DUF and TecoGAN's Vid4 tables: Y channel (ITU-R BT.601, the
MATLAB ``rgb2ycbcr`` matrix, Y in [16, 235]), an 8-pixel border cropped, the first and last 2 frames
skipped, frames rounded to 8 bits as saved PNGs are.

* :func:`psnr` / :func:`ssim`: per frame, on the 0-255 scale in float64. SSIM is Wang et al. 2004 as
  MATLAB's ``ssim`` and BasicSR compute it: 11×11 Gaussian window (σ = 1.5), ``K1 = 0.01``,
  ``K2 = 0.03``, population statistics, the mean over the valid region; on RGB, the mean over channels.
* :func:`tof`: TecoGAN's tOF (Chu et al., TOG 2020): the mean end-point distance between the Farneback
  flow of consecutive output frames and that of consecutive ground-truth frames, with TecoGAN's OpenCV
  parameters ``(0.5, 3, 15, 3, 5, 1.2, 0)`` on grey frames. Lower is better; it is zero when the output
  moves exactly as the ground truth does, and flicker shows up as spurious motion.
* :func:`temporal_difference_error`: a flow-free flicker measure, the mean absolute difference between
  the frame-to-frame change of the output and that of the ground truth (Y, 0-255). Not a published
  metric: a cheap check with no estimator in the loop, so it cannot be fooled by flow errors; it
  punishes any temporal change the ground truth lacks (flicker), also where motion is large.
* tLP (TecoGAN's LPIPS-based temporal metric) needs LPIPS AlexNet weights and is not computed here.

Frames are ``float (T, C, H, W)`` RGB in [0, 1] or ``uint8 (T, C, H, W)``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "FARNEBACK_TECOGAN",
    "PROTOCOLS",
    "MetricProtocol",
    "evaluate_sequence",
    "psnr",
    "rgb_to_y",
    "ssim",
    "temporal_difference_error",
    "tof",
]

# BT.601 luma for RGB in [0, 1] giving Y in [16, 235] (MATLAB rgb2ycbcr; BasicSR's rgb2ycbcr).
_BT601_Y = (65.481, 128.553, 24.966)
# cv2.calcOpticalFlowFarneback(pyr_scale, levels, winsize, iterations, poly_n, poly_sigma, flags) as TecoGAN.
FARNEBACK_TECOGAN = (0.5, 3, 15, 3, 5, 1.2, 0)


@dataclass(frozen=True)
class MetricProtocol:
    """How frames are compared.

    Attributes:
        name: recorded next to every number.
        channel: ``"y"`` (BT.601 luma) or ``"rgb"``.
        crop_border: pixels removed on each side before comparing.
        skip_first, skip_last: frames left out at the start and end of each sequence.
        quantize: round float frames to 8-bit levels first (as saved PNG frames are).
    """

    name: str
    channel: str = "y"
    crop_border: int = 0
    skip_first: int = 0
    skip_last: int = 0
    quantize: bool = True

    def __post_init__(self) -> None:
        if self.channel not in ("y", "rgb"):
            raise ValueError(f"channel must be 'y' or 'rgb', got {self.channel!r}")
        if min(self.crop_border, self.skip_first, self.skip_last) < 0:
            raise ValueError(f"crop_border and skips must be >= 0, got {self}")

    def describe(self) -> dict[str, object]:
        """The protocol as a JSON-ready dict."""
        return asdict(self)


PROTOCOLS: dict[str, MetricProtocol] = {
    "vid4": MetricProtocol("vid4", "y", crop_border=8, skip_first=2, skip_last=2, quantize=True),
    "y": MetricProtocol("y", "y"),
    "rgb": MetricProtocol("rgb", "rgb"),
}


def _to_255(frames: Tensor, quantize: bool) -> Tensor:
    """``(..., C, H, W)`` uint8 or float in [0, 1] -> float64 on the 0-255 scale."""
    if frames.dtype == torch.uint8:
        return frames.to(torch.float64)
    if not frames.is_floating_point():
        raise TypeError(f"frames must be uint8 or float in [0, 1], got dtype {frames.dtype}")
    scaled = frames.to(torch.float64) * 255.0
    return scaled.clamp(0.0, 255.0).round() if quantize else scaled


def rgb_to_y(frames_255: Tensor) -> Tensor:
    """BT.601 luma of RGB on the 0-255 scale: ``(..., 3, H, W) -> (..., 1, H, W)``, Y in [16, 235]."""
    if frames_255.shape[-3] != 3:
        raise ValueError(f"rgb_to_y needs 3 channels, got shape {tuple(frames_255.shape)}")
    weights = torch.tensor(_BT601_Y, dtype=frames_255.dtype, device=frames_255.device) / 255.0
    return (frames_255 * weights.view(3, 1, 1)).sum(dim=-3, keepdim=True) + 16.0


def _prepare(pred: Tensor, target: Tensor, *, channel: str, crop_border: int, quantize: bool
             ) -> tuple[Tensor, Tensor]:
    if pred.shape != target.shape:
        raise ValueError(f"prediction {tuple(pred.shape)} and ground truth {tuple(target.shape)} differ in shape")
    if pred.dim() < 3:
        raise ValueError(f"frames must be (..., C, H, W), got shape {tuple(pred.shape)}")
    height, width = pred.shape[-2:]
    if 2 * crop_border >= min(height, width):
        raise ValueError(f"crop_border {crop_border} leaves nothing of {height}x{width} frames")
    a, b = _to_255(pred, quantize), _to_255(target, quantize)
    if channel == "y":
        a, b = rgb_to_y(a), rgb_to_y(b)
    elif channel != "rgb":
        raise ValueError(f"channel must be 'y' or 'rgb', got {channel!r}")
    if crop_border:
        a = a[..., crop_border:-crop_border, crop_border:-crop_border]
        b = b[..., crop_border:-crop_border, crop_border:-crop_border]
    return a, b


def psnr(pred: Tensor, target: Tensor, *, channel: str, crop_border: int, quantize: bool) -> Tensor:
    """PSNR in dB per frame: ``(..., C, H, W)`` twice -> ``(...)`` float64 (``inf`` for equal frames)."""
    a, b = _prepare(pred, target, channel=channel, crop_border=crop_border, quantize=quantize)
    mse = ((a - b) ** 2).mean(dim=(-3, -2, -1))
    return 10.0 * torch.log10(255.0**2 / mse)


def _gaussian_window(dtype: torch.dtype, device: torch.device) -> Tensor:
    taps = torch.arange(11, dtype=dtype, device=device) - 5
    kernel = torch.exp(-(taps**2) / (2.0 * 1.5**2))
    return kernel / kernel.sum()


def ssim(pred: Tensor, target: Tensor, *, channel: str, crop_border: int, quantize: bool) -> Tensor:
    """SSIM per frame: ``(..., C, H, W)`` twice -> ``(...)`` float64 (mean over channels on RGB)."""
    a, b = _prepare(pred, target, channel=channel, crop_border=crop_border, quantize=quantize)
    lead, (channels, height, width) = a.shape[:-3], a.shape[-3:]
    if min(height, width) < 11:
        raise ValueError(f"SSIM's 11x11 window needs frames of at least 11x11 after cropping, got {height}x{width}")
    kernel = _gaussian_window(a.dtype, a.device)

    def blur(x: Tensor) -> Tensor:  # 'valid' separable Gaussian, as BasicSR's filter2D then [5:-5, 5:-5]
        return F.conv2d(F.conv2d(x, kernel.view(1, 1, 11, 1)), kernel.view(1, 1, 1, 11))

    x = a.reshape(-1, 1, height, width)
    y = b.reshape(-1, 1, height, width)
    c1, c2 = (0.01 * 255.0) ** 2, (0.03 * 255.0) ** 2
    mu_x, mu_y = blur(x), blur(y)
    var_x = blur(x * x) - mu_x**2
    var_y = blur(y * y) - mu_y**2
    cov = blur(x * y) - mu_x * mu_y
    ssim_map = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))
    per_channel = ssim_map.mean(dim=(-2, -1)).view(*lead, channels)
    return per_channel.mean(dim=-1)


def _grey_uint8(frames: Tensor) -> np.ndarray:
    """``(T, 3, H, W)`` -> ``uint8 (T, H, W)`` grey as ``cv2.COLOR_RGB2GRAY`` (what TecoGAN feeds Farneback)."""
    rgb = _to_255(frames, quantize=True).clamp(0, 255).round().to(torch.uint8)
    rgb = rgb.permute(0, 2, 3, 1).cpu().numpy()
    return np.stack([cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2GRAY) for frame in rgb])


def tof(pred: Tensor, target: Tensor, *, crop_border: int, farneback: tuple = FARNEBACK_TECOGAN) -> Tensor:
    """TecoGAN's tOF per frame pair: ``(T, 3, H, W)`` twice -> ``(T-1,)`` float64 (lower is better).

    Flows of pairs ``(t-1, t)`` are compared after removing ``crop_border`` pixels on each side; the
    value is the mean over pixels of the Euclidean distance between the two flow vectors. TecoGAN's
    script crops the flow to a centred block whose sides are multiples of 32 (at least 8 pixels off
    each side); here the protocol's border is cut instead, so values differ slightly from its tables.
    """
    if pred.shape != target.shape or pred.dim() != 4 or pred.shape[1] != 3:
        raise ValueError(f"tof expects two RGB sequences (T, 3, H, W) of one shape, got {tuple(pred.shape)} "
                         f"and {tuple(target.shape)}")
    grey_pred, grey_true = _grey_uint8(pred), _grey_uint8(target)
    values = []
    for t in range(1, len(grey_pred)):
        flow_pred = cv2.calcOpticalFlowFarneback(grey_pred[t - 1], grey_pred[t], None, *farneback)
        flow_true = cv2.calcOpticalFlowFarneback(grey_true[t - 1], grey_true[t], None, *farneback)
        diff = flow_pred.astype(np.float64) - flow_true.astype(np.float64)
        if crop_border:
            diff = diff[crop_border:-crop_border, crop_border:-crop_border]
        values.append(np.sqrt((diff**2).sum(axis=-1)).mean())
    return torch.tensor(values, dtype=torch.float64)


def temporal_difference_error(pred: Tensor, target: Tensor, *, channel: str, crop_border: int,
                              quantize: bool) -> Tensor:
    """Flicker measure per frame pair: ``mean |(p_t - p_{t-1}) - (g_t - g_{t-1})|`` on the 0-255 scale, ``(T-1,)``."""
    a, b = _prepare(pred, target, channel=channel, crop_border=crop_border, quantize=quantize)
    if a.dim() != 4:
        raise ValueError(f"temporal_difference_error expects sequences (T, C, H, W), got {tuple(pred.shape)}")
    return ((a[1:] - a[:-1]) - (b[1:] - b[:-1])).abs().mean(dim=(-3, -2, -1))


def evaluate_sequence(pred: Tensor, target: Tensor, protocol: MetricProtocol | str = "vid4",
                      *, temporal: bool = True) -> dict[str, object]:
    """PSNR, SSIM (and tOF, temporal difference error) of one sequence ``(T, C, H, W)`` under a protocol.

    Frames ``skip_first .. T - skip_last`` are scored; PSNR and SSIM are the means of the per-frame
    values (as BasicSR and TecoGAN average); temporal metrics use the pairs inside the kept frames.
    Keys: ``psnr_<channel>``, ``ssim_<channel>``, ``tof``, ``tdiff_<channel>``, ``frames``, ``protocol``.
    """
    spec = PROTOCOLS[protocol] if isinstance(protocol, str) else protocol
    if pred.shape != target.shape or pred.dim() != 4:
        raise ValueError(f"evaluate_sequence expects two (T, C, H, W) sequences of one shape, got "
                         f"{tuple(pred.shape)} and {tuple(target.shape)}")
    length = pred.shape[0]
    stop = length - spec.skip_last
    if stop - spec.skip_first < 1:
        raise ValueError(f"protocol {spec.name!r} skips {spec.skip_first} + {spec.skip_last} frames of a "
                         f"{length}-frame sequence: nothing is left to score")
    pred, target = pred[spec.skip_first:stop], target[spec.skip_first:stop]
    options = {"channel": spec.channel, "crop_border": spec.crop_border, "quantize": spec.quantize}
    result: dict[str, object] = {
        f"psnr_{spec.channel}": float(psnr(pred, target, **options).mean()),
        f"ssim_{spec.channel}": float(ssim(pred, target, **options).mean()),
    }
    if temporal and pred.shape[0] > 1:
        if pred.shape[1] == 3:
            result["tof"] = float(tof(pred, target, crop_border=spec.crop_border).mean())
        result[f"tdiff_{spec.channel}"] = float(temporal_difference_error(pred, target, **options).mean())
    result["frames"] = int(pred.shape[0])
    result["protocol"] = spec.describe()
    return result
