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

__all__ = ["flow_to_color", "write_flow_image", "write_flow_video"]


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


def write_flow_image(
    flow: torch.Tensor | np.ndarray, path: str | Path, *, max_flow: float | None = None
) -> Path:
    """Write one flow field ``(2, H, W)`` as a colour image (PNG, JPEG, ... by suffix)."""
    path = Path(path)
    color = flow_to_color(flow, max_flow=max_flow)
    if color.ndim != 3:
        raise ValueError(f"{path}: an image holds one flow field (2, H, W), got {color.shape[0]} fields")
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
