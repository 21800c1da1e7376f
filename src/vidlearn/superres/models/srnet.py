"""SRNet: the super-resolution network of FRVSR (Sajjadi, Vemulapalli & Brown, CVPR 2018, Fig. 3).

Data flow, for the current LR frame ``(B, C, h, w)`` and a context ``(B, K, h, w)`` (FRVSR: the warped
previous HR estimate after space-to-depth, ``K = C*s*s``; SISR: none, ``K = 0``)::

    concat                                       (B, C + K, h, w)
    Conv3x3 F -> ReLU                            (B, F, h, w)
    num_blocks x [Conv3x3 F -> ReLU -> Conv3x3 F, + input]
    log2(s) x [ConvTranspose3x3 stride 2 F -> ReLU]   (B, F, s*h, s*w)
    Conv3x3 C                                    (B, C, s*h, s*w)
    (+ upsampled LR frame, when ``lr_skip`` is set)

The paper's sizes are named ``blocks-filters`` (FRVSR 10-128, 3-64, ...). The paper's figure draws no
additive skip from the LR frame; TecoGAN's FRVSR adds the bicubic (BD) or bilinear (BI) upsampled LR
frame to the output. Here that is ``lr_skip=None`` (the paper, the default) or ``"bicubic"`` /
``"bilinear"`` (TecoGAN); the skip has no parameters, so the counts do not change.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["LR_SKIPS", "ResidualBlock", "SRNet"]

LR_SKIPS = (None, "bilinear", "bicubic")


class ResidualBlock(nn.Module):
    """``x + Conv3x3(ReLU(Conv3x3(x)))`` without normalisation."""

    def __init__(self, filters: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(filters, filters, 3, padding=1)
        self.conv2 = nn.Conv2d(filters, filters, 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.conv2(F.relu(self.conv1(x)))


def _upsampling_steps(scale: int) -> int:
    steps = scale.bit_length() - 1
    if scale < 2 or 1 << steps != scale:
        raise ValueError(f"SRNet upsamples with stride-2 transposed convolutions: the scale must be a power "
                         f"of 2 (2, 4, 8), got {scale}")
    return steps


class SRNet(nn.Module):
    """LR frame (+ context) to HR frame: ``forward(lr (B, C, h, w), context (B, K, h, w)) -> (B, C, s*h, s*w)``.

    Args:
        scale: upscaling factor, a power of 2 (the paper: 4).
        num_blocks: residual blocks (the paper: 10; also 3 and 5 in its size study).
        num_filters: feature width (the paper: 128 or 64).
        channels: colour channels (3).
        context_channels: channels concatenated to the LR frame; ``None`` means FRVSR's
            ``channels * scale**2``, 0 gives the single-image baseline.
        lr_skip: ``None`` (the paper), ``"bicubic"`` or ``"bilinear"``: add the upsampled LR frame.
    """

    def __init__(self, *, scale: int = 4, num_blocks: int = 10, num_filters: int = 128, channels: int = 3,
                 context_channels: int | None = None, lr_skip: str | None = None) -> None:
        super().__init__()
        steps = _upsampling_steps(scale)
        if lr_skip not in LR_SKIPS:
            raise ValueError(f"lr_skip must be one of {LR_SKIPS}, got {lr_skip!r}")
        if num_blocks < 0 or num_filters < 1:
            raise ValueError(f"num_blocks must be >= 0 and num_filters >= 1, got {num_blocks}, {num_filters}")
        self.scale = scale
        self.channels = channels
        self.context_channels = channels * scale * scale if context_channels is None else context_channels
        self.lr_skip = lr_skip
        self.conv_in = nn.Conv2d(channels + self.context_channels, num_filters, 3, padding=1)
        self.blocks = nn.Sequential(*[ResidualBlock(num_filters) for _ in range(num_blocks)])
        self.upsample = nn.Sequential(*[
            layer
            for _ in range(steps)
            for layer in (nn.ConvTranspose2d(num_filters, num_filters, 3, stride=2, padding=1, output_padding=1),
                          nn.ReLU())
        ])
        self.conv_out = nn.Conv2d(num_filters, channels, 3, padding=1)

    def forward(self, lr: Tensor, context: Tensor | None = None) -> Tensor:
        if lr.dim() != 4 or lr.shape[1] != self.channels:
            raise ValueError(f"SRNet expects lr (B, {self.channels}, h, w), got {tuple(lr.shape)}")
        if self.context_channels:
            expected = (lr.shape[0], self.context_channels, *lr.shape[-2:])
            if context is None or tuple(context.shape) != expected:
                got = None if context is None else tuple(context.shape)
                raise ValueError(f"SRNet expects a context of shape {expected}, got {got}")
            x = torch.cat((lr, context), dim=1)
        else:
            if context is not None:
                raise ValueError("this SRNet was built without context (context_channels=0); pass context=None")
            x = lr
        x = F.relu(self.conv_in(x))
        x = self.conv_out(self.upsample(self.blocks(x)))
        if self.lr_skip is not None:
            x = x + F.interpolate(lr, scale_factor=self.scale, mode=self.lr_skip, align_corners=False)
        return x
