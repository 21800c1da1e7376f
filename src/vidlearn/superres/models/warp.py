"""Flow upsampling, backward warping and space-to-depth: the glue of FRVSR.

Sajjadi, Vemulapalli & Brown, "Frame-Recurrent Video Super-Resolution", CVPR 2018, Sec. 3:
the LR flow ``F^LR`` from FNet is upscaled to ``F^HR`` by bilinear interpolation (values multiplied
by the scale, since a displacement of one LR pixel is ``s`` HR pixels), the previous HR estimate is
warped with it, and the warped estimate is moved back to LR space by space-to-depth so that SRNet
sees it as ``s*s*C`` extra LR channels.

Flow convention (as the rest of vidlearn): ``float (B, 2, H, W)`` in pixels, x then y. Warping is
*backward*: ``warped[y, x] = image[y + flow_y[y, x], x + flow_x[y, x]]``, so the flow that aligns the
previous frame to the current one is the flow from the current frame to the previous one.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["backward_warp", "depth_to_space", "space_to_depth", "upsample_flow"]


def _check_4d(name: str, x: Tensor) -> None:
    if x.dim() != 4:
        raise ValueError(f"{name} must be (B, C, H, W), got shape {tuple(x.shape)}")


def backward_warp(image: Tensor, flow: Tensor, *, padding_mode: str = "border") -> Tensor:
    """Sample ``image`` at ``pixel + flow`` with bilinear interpolation (``grid_sample``).

    Args:
        image: ``(B, C, H, W)``.
        flow: ``(B, 2, H, W)`` displacements in pixels (x, y).
        padding_mode: what lies outside the image: ``"border"`` (repeat the edge, TecoGAN's choice)
            or ``"zeros"``.

    Returns:
        ``(B, C, H, W)``. An integer flow reproduces a shifted copy exactly wherever the source
        pixel lies inside the image.
    """
    _check_4d("image", image)
    _check_4d("flow", flow)
    batch, _, height, width = image.shape
    if flow.shape != (batch, 2, height, width):
        raise ValueError(f"flow must be (B, 2, H, W) = {(batch, 2, height, width)}, got {tuple(flow.shape)}")
    # Pixel centres to grid_sample's [-1, 1] coordinates with align_corners=False:
    # x_norm = (2 * x + 1) / W - 1, so an integer displacement lands exactly on a pixel centre.
    ys = torch.arange(height, device=flow.device, dtype=flow.dtype)
    xs = torch.arange(width, device=flow.device, dtype=flow.dtype)
    grid_y, grid_x = torch.meshgrid(ys, xs, indexing="ij")
    sample_x = (2.0 * (grid_x + flow[:, 0]) + 1.0) / width - 1.0
    sample_y = (2.0 * (grid_y + flow[:, 1]) + 1.0) / height - 1.0
    grid = torch.stack((sample_x, sample_y), dim=-1)
    return F.grid_sample(image, grid.to(image.dtype), mode="bilinear", padding_mode=padding_mode,
                         align_corners=False)


def upsample_flow(flow: Tensor, scale: int) -> Tensor:
    """Bilinear ×``scale`` upsampling of an LR flow field, values multiplied by ``scale``.

    ``(B, 2, h, w) -> (B, 2, scale*h, scale*w)``; the flow stays in pixels of its own grid.
    """
    _check_4d("flow", flow)
    return scale * F.interpolate(flow, scale_factor=scale, mode="bilinear", align_corners=False)


def space_to_depth(image: Tensor, scale: int) -> Tensor:
    """``(B, C, s*h, s*w) -> (B, C*s*s, h, w)``: every ``s × s`` block becomes ``s*s`` channels.

    PyTorch's ``pixel_unshuffle`` channel order (channel-major: ``c*s*s + i*s + j``), the exact inverse
    of :func:`depth_to_space`. TecoGAN's port orders them ``(i, j, c)`` as TensorFlow's
    ``space_to_depth``; the order matters only when loading foreign weights into SRNet's first conv.
    """
    _check_4d("image", image)
    if image.shape[-2] % scale or image.shape[-1] % scale:
        raise ValueError(f"space_to_depth: height and width {tuple(image.shape[-2:])} must be divisible "
                         f"by the scale {scale}")
    return F.pixel_unshuffle(image, scale)


def depth_to_space(image: Tensor, scale: int) -> Tensor:
    """``(B, C*s*s, h, w) -> (B, C, s*h, s*w)``, the inverse of :func:`space_to_depth`."""
    _check_4d("image", image)
    return F.pixel_shuffle(image, scale)
