"""FNet: the flow estimator of FRVSR (Sajjadi, Vemulapalli & Brown, CVPR 2018, Fig. 3).

Data flow on two LR frames ``(B, C, h, w)`` concatenated to ``(B, 2C, h, w)``::

    [Conv3x3 32 -> LReLU -> Conv3x3 32 -> LReLU -> MaxPool2]        (B, 32, h/2, w/2)
    [Conv3x3 64 -> LReLU -> Conv3x3 64 -> LReLU -> MaxPool2]        (B, 64, h/4, w/4)
    [Conv3x3 128 -> LReLU -> Conv3x3 128 -> LReLU -> MaxPool2]      (B, 128, h/8, w/8)
    [Conv3x3 256 -> LReLU -> Conv3x3 256 -> LReLU -> Bilinear x2]   (B, 256, h/4, w/4)
    [Conv3x3 128 -> LReLU -> Conv3x3 128 -> LReLU -> Bilinear x2]   (B, 128, h/2, w/2)
    [Conv3x3 64 -> LReLU -> Conv3x3 64 -> LReLU -> Bilinear x2]     (B, 64, h, w)
    Conv3x3 32 -> LReLU -> Conv3x3 2 -> tanh -> x max_flow           (B, 2, h, w)

LeakyReLU slope 0.2. The paper bounds the flow with tanh; the pixel scale of that bound,
``max_flow = 24`` LR pixels, is the one TecoGAN's code uses (its "maximum velocity"). Parameters
for 3 colour channels: 1,745,506 (the same in every FRVSR size, since only SRNet changes).

Frames whose sides are not multiples of 8 are padded by edge replication before the encoder and
the flow is cropped back, so any LR size works (TecoGAN pads the flow after the fact instead).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["FNet"]


def _conv_pair(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, padding=1),
        nn.LeakyReLU(0.2),
        nn.Conv2d(out_channels, out_channels, 3, padding=1),
        nn.LeakyReLU(0.2),
    )


class FNet(nn.Module):
    """Flow from the current LR frame to the previous one: ``forward(previous, current) -> (B, 2, h, w)``.

    The result aligns ``previous`` to ``current`` by :func:`~vidlearn.superres.models.warp.backward_warp`.

    Args:
        channels: colour channels of one frame (3 for RGB).
        max_flow: bound of the tanh output in LR pixels.
        width: filters of the first stage; the others have 2, 4, 8, 4, 2 and 1 times as many. The paper's
            FNet is ``width=32`` (1.75 M parameters); smaller widths make CPU-sized variants (``8``: 0.11 M).
    """

    def __init__(self, channels: int = 3, *, max_flow: float = 24.0, width: int = 32) -> None:
        super().__init__()
        if isinstance(width, bool) or not isinstance(width, int) or width < 1:
            raise ValueError(f"FNet width must be a positive integer, got {width!r}")
        self.channels = channels
        self.max_flow = float(max_flow)
        w = width
        encoder = []
        previous = 2 * channels
        for stage_width in (w, 2 * w, 4 * w):
            encoder.append(_conv_pair(previous, stage_width))
            previous = stage_width
        self.encoder = nn.ModuleList(encoder)
        self.decoder = nn.ModuleList([_conv_pair(4 * w, 8 * w), _conv_pair(8 * w, 4 * w), _conv_pair(4 * w, 2 * w)])
        self.head = nn.Sequential(nn.Conv2d(2 * w, w, 3, padding=1), nn.LeakyReLU(0.2), nn.Conv2d(w, 2, 3, padding=1))

    def forward(self, previous: Tensor, current: Tensor) -> Tensor:
        """``(B, C, h, w)`` twice -> flow ``(B, 2, h, w)`` in LR pixels, within ``±max_flow``."""
        if previous.shape != current.shape or previous.dim() != 4:
            raise ValueError(f"FNet expects two (B, C, h, w) frames of one shape, got {tuple(previous.shape)} "
                             f"and {tuple(current.shape)}")
        if previous.shape[1] != self.channels:
            raise ValueError(f"FNet was built for {self.channels} channels, got {previous.shape[1]}")
        height, width = previous.shape[-2:]
        pad_bottom, pad_right = -height % 8, -width % 8
        x = torch.cat((previous, current), dim=1)
        if pad_bottom or pad_right:
            x = F.pad(x, (0, pad_right, 0, pad_bottom), mode="replicate")
        for stage in self.encoder:
            x = F.max_pool2d(stage(x), 2)
        for stage in self.decoder:
            x = F.interpolate(stage(x), scale_factor=2, mode="bilinear", align_corners=False)
        flow = torch.tanh(self.head(x)) * self.max_flow
        return flow[..., :height, :width]
