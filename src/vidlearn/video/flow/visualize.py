"""Flow as colour: the Middlebury colour wheel (Baker et al., "A database and evaluation methodology
for optical flow", IJCV 2011), hue = direction and saturation = magnitude, through
``torchvision.utils.flow_to_image``; PNG and MP4/GIF writing."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch
from torchvision.utils import flow_to_image

from vidlearn.video.writer import write_video

__all__ = ["color_wheel", "flow_to_color", "with_color_key", "write_flow_image", "write_flow_video"]


def flow_to_color(flow: torch.Tensor | np.ndarray, *, max_flow: float | None = None) -> torch.Tensor:
    """Colour-code ``flow`` ``(2, H, W)`` or ``(T, 2, H, W)`` as ``uint8 (H, W, 3)`` / ``(T, H, W, 3)`` RGB.

    Magnitudes are divided by ``max_flow`` (pixels; longer vectors are clipped to it) or, when
    ``None``, by the largest magnitude over the whole input, so that every frame of a clip shares
    one scale and colours do not flicker. Zero motion is white.
    """
    tensor = torch.as_tensor(flow).detach().to("cpu", torch.float32)
    if tensor.ndim not in (3, 4) or tensor.shape[-3] != 2:
        raise ValueError(f"flow: expected shape (2, H, W) or (T, 2, H, W), got {tuple(tensor.shape)}")
    single = tensor.ndim == 3
    if single:
        tensor = tensor[None]
    if max_flow is not None:
        if not max_flow > 0:
            raise ValueError(f"max_flow must be > 0 pixels, got {max_flow}")
        magnitude = tensor.norm(dim=1, keepdim=True)
        tensor = tensor * (max_flow / magnitude.clamp_min(max_flow))
        # flow_to_image always divides by the largest magnitude it sees; one extra column holding a
        # vector of exactly max_flow makes that divisor max_flow. The column is cropped away below.
        reference = torch.zeros_like(tensor[..., :1])
        reference[:, 0] = max_flow
        tensor = torch.cat([tensor, reference], dim=-1)
    image = flow_to_image(tensor)  # (T, 3, H, W) uint8
    if max_flow is not None:
        image = image[..., :-1]
    image = image.permute(0, 2, 3, 1).contiguous()
    return image[0] if single else image


def color_wheel(size: int) -> torch.Tensor:
    """The key of :func:`flow_to_color`: ``uint8 (size, size, 3)`` RGB, the colour of a vector from the
    centre to each pixel, the rim being the full scale (``max_flow``); white outside the disc.

    Image coordinates: a pixel right of the centre is motion to the right (+x), below it motion down (+y).
    """
    if size < 3:
        raise ValueError(f"color wheel size must be >= 3 pixels, got {size}")
    radius = (size - 1) / 2
    y, x = torch.meshgrid(torch.arange(size) - radius, torch.arange(size) - radius, indexing="ij")
    wheel = flow_to_color(torch.stack([x, y]).float(), max_flow=radius)
    outside = (x**2 + y**2) > radius**2
    wheel[outside] = 255
    return wheel


def with_color_key(color: torch.Tensor, max_flow: float, *, key_size: int | None = None) -> torch.Tensor:
    """``color`` ``uint8 (H, W, 3)`` with the colour wheel to its right, labelled with the full-scale
    magnitude in pixels: ``uint8 (max(H, K + 16), W + K + 8, 3)`` on white, K = ``key_size`` (default
    ``H`` within [64, 160])."""
    height, width = color.shape[:2]
    size = key_size or int(min(max(height, 64), 160))
    label_height = 16
    canvas = np.full((max(height, size + label_height), width + size + 8, 3), 255, np.uint8)
    canvas[:height, :width] = color.numpy()
    canvas[:size, width + 8 :] = color_wheel(size).numpy()
    cv2.putText(canvas, f"{max_flow:.3g} px", (width + 8, size + label_height - 4), cv2.FONT_HERSHEY_SIMPLEX,
                0.35, (0, 0, 0), 1, cv2.LINE_AA)
    return torch.from_numpy(canvas)


def write_flow_image(
    flow: torch.Tensor | np.ndarray, path: str | Path, *, max_flow: float | None = None, key: bool = False
) -> Path:
    """Write one flow field ``(2, H, W)`` as a colour image (PNG, JPEG, ... by suffix).

    ``key=True`` draws the colour wheel to the right of the field (:func:`with_color_key`), its rim
    at ``max_flow`` or, when ``None``, at the field's largest magnitude, as the colours use.
    """
    path = Path(path)
    color = flow_to_color(flow, max_flow=max_flow)
    if color.ndim != 3:
        raise ValueError(f"{path}: an image holds one flow field (2, H, W), got {color.shape[0]} fields")
    if key:
        scale = max_flow if max_flow is not None else float(torch.as_tensor(flow).float().norm(dim=0).max())
        color = with_color_key(color, scale)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), cv2.cvtColor(color.numpy(), cv2.COLOR_RGB2BGR)):
        raise OSError(f"{path}: could not write the image (unknown suffix?)")
    return path


def write_flow_video(
    flow: torch.Tensor | np.ndarray, path: str | Path, *, fps: float = 25.0, max_flow: float | None = None
) -> Path:
    """Write flow ``(T, 2, H, W)`` as a colour video (MP4 or GIF by suffix) at ``fps``."""
    path = Path(path)
    color = flow_to_color(flow, max_flow=max_flow)
    if color.ndim == 3:
        color = color[None]
    path.parent.mkdir(parents=True, exist_ok=True)
    write_video(path, color, fps)
    return path
