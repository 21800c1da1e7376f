"""Shared building blocks for clip models: TensorFlow-"SAME" padded convolution and pooling, and the
conv -> norm -> activation unit that I3D-style networks stack.

TensorFlow's ``padding="SAME"`` makes the output size ``ceil(in / stride)`` and pads the shortfall
*asymmetrically* (the extra pixel goes after). Published I3D weights (Carreira & Zisserman 2017,
"Quo Vadis, Action Recognition?") were trained that way, so reproducing their outputs needs the same
padding; PyTorch's symmetric ``padding=k // 2`` shifts every stride-2 layer by one pixel.

The padding is computed from the input size at run time, as TensorFlow does, so a layer works for any
clip size.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "TEMPORAL_PADDING_MODES",
    "Conv3dSame",
    "ConvNormAct3d",
    "MaxPool3d",
    "MaxPool3dSame",
    "max_pool3d",
    "same_padding",
    "triple",
]

TEMPORAL_PADDING_MODES = ("zeros", "replicate")


def triple(value: int | Sequence[int], name: str = "value") -> tuple[int, int, int]:
    """``3 -> (3, 3, 3)``; a 3-sequence passes through. Anything else raises naming ``name``."""
    if isinstance(value, int):
        return (value, value, value)
    items = tuple(int(v) for v in value)
    if len(items) != 3:
        raise ValueError(f"{name} must be an int or 3 ints (T, H, W), got {value!r}")
    return items  # type: ignore[return-value]


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TF "SAME" padding ``(before, after)`` along one axis of length ``size``.

    Output length is ``ceil(size / stride)``; the total padding is what that needs and the odd pixel
    goes *after*, exactly as ``tf.nn.conv3d(padding="SAME")``.
    """
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def _pad_same(
    x: torch.Tensor,
    kernel: tuple[int, int, int],
    stride: tuple[int, int, int],
    value: float,
    temporal_padding: str,
) -> torch.Tensor:
    """Pad ``x (B, C, T, H, W)`` for a TF-"SAME" 3D window; time may be replicated instead."""
    t_pad = same_padding(x.shape[2], kernel[0], stride[0])
    h_pad = same_padding(x.shape[3], kernel[1], stride[1])
    w_pad = same_padding(x.shape[4], kernel[2], stride[2])
    if temporal_padding == "replicate" and any(t_pad):
        # Repeat the first and last frames: a static clip then stays static through every layer,
        # which is what makes an inflated network equal to its 2D source (see vidlearn.models.inflate).
        x = F.pad(x, (0, 0, 0, 0, *t_pad), mode="replicate")
        t_pad = (0, 0)
    if any(t_pad) or any(h_pad) or any(w_pad):
        x = F.pad(x, (*w_pad, *h_pad, *t_pad), value=value)
    return x


def _check_temporal_padding(mode: str) -> str:
    if mode not in TEMPORAL_PADDING_MODES:
        raise ValueError(f"temporal_padding must be one of {TEMPORAL_PADDING_MODES}, got {mode!r}")
    return mode


class Conv3dSame(nn.Conv3d):
    """``nn.Conv3d`` with TensorFlow "SAME" padding: ``(B, C, T, H, W) -> (B, C', ⌈T/s⌉, ⌈H/s⌉, ⌈W/s⌉)``.

    ``temporal_padding="replicate"`` repeats boundary frames instead of padding time with zeros.
    The state dict is that of ``nn.Conv3d`` (``weight``, ``bias``).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | Sequence[int],
        *,
        stride: int | Sequence[int] = 1,
        bias: bool = True,
        temporal_padding: str = "zeros",
    ) -> None:
        super().__init__(in_channels, out_channels, triple(kernel_size, "kernel_size"),
                         stride=triple(stride, "stride"), padding=0, bias=bias)
        self.temporal_padding = _check_temporal_padding(temporal_padding)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = _pad_same(x, self.kernel_size, self.stride, 0.0, self.temporal_padding)  # type: ignore[arg-type]
        return super().forward(x)


def max_pool3d(
    x: torch.Tensor,
    kernel_size: int | Sequence[int],
    stride: int | Sequence[int] | None = None,
    padding: int | Sequence[int] = 0,
    ceil_mode: bool = False,
) -> torch.Tensor:
    """``F.max_pool3d`` that keeps a bfloat16 / float16 input's dtype under CPU autocast.

    CPU autocast runs ``max_pool3d`` in float32, so on the bf16 fast path a pooled activation is cast
    up and the next convolution casts it back down: two copies of some of the network's largest
    tensors (15 % of C3D's fast-path time at 16x112x112). A maximum is exact in any floating dtype, so
    pooling in the input's dtype gives the same values, only without the copies.
    """
    if x.device.type == "cpu" and x.dtype in (torch.bfloat16, torch.float16) and torch.is_autocast_enabled("cpu"):
        with torch.autocast("cpu", enabled=False):
            return F.max_pool3d(x, kernel_size, stride, padding, ceil_mode=ceil_mode)
    return F.max_pool3d(x, kernel_size, stride, padding, ceil_mode=ceil_mode)


class MaxPool3d(nn.MaxPool3d):
    """``nn.MaxPool3d`` that pools in the input's dtype under CPU autocast (see :func:`max_pool3d`)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.dilation not in (1, (1, 1, 1)) or self.return_indices:
            return super().forward(x)
        return max_pool3d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode)


class MaxPool3dSame(nn.Module):
    """3D max pooling with TensorFlow "SAME" padding: ``(B, C, T, H, W) -> (B, C, ⌈T/s⌉, ⌈H/s⌉, ⌈W/s⌉)``.

    Padded cells are ``-inf`` (TensorFlow ignores them), so the layer is correct on any input sign;
    on ReLU outputs it equals the zero padding used by piergiaj's ``MaxPool3dSamePadding``.
    """

    def __init__(
        self,
        kernel_size: int | Sequence[int],
        *,
        stride: int | Sequence[int] | None = None,
        temporal_padding: str = "zeros",
    ) -> None:
        super().__init__()
        self.kernel_size = triple(kernel_size, "kernel_size")
        self.stride = self.kernel_size if stride is None else triple(stride, "stride")
        self.temporal_padding = _check_temporal_padding(temporal_padding)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = _pad_same(x, self.kernel_size, self.stride, float("-inf"), self.temporal_padding)
        return max_pool3d(x, self.kernel_size, self.stride)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding=SAME"


class ConvNormAct3d(nn.Module):
    """``Conv3d(SAME) -> norm -> activation``, the unit of Inception-style video networks.

    ``(B, C_in, T, H, W) -> Conv3dSame(k, s) -> (B, C_out, ⌈T/s⌉, ⌈H/s⌉, ⌈W/s⌉) -> norm -> act``.
    Without a norm the convolution has a bias (as I3D's logits layer); with one it has none (the
    norm's shift replaces it). Submodules are ``conv``, ``norm``, ``act``.

    Args:
        norm_layer: ``callable(num_channels) -> nn.Module`` or ``None`` for no normalisation.
        activation: ``callable() -> nn.Module`` or ``None`` for a linear unit.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | Sequence[int] = 1,
        *,
        stride: int | Sequence[int] = 1,
        norm_layer: Callable[[int], nn.Module] | None = None,
        activation: Callable[[], nn.Module] | None = None,
        temporal_padding: str = "zeros",
    ) -> None:
        super().__init__()
        self.conv = Conv3dSame(in_channels, out_channels, kernel_size, stride=stride,
                               bias=norm_layer is None, temporal_padding=temporal_padding)
        self.norm = norm_layer(out_channels) if norm_layer is not None else nn.Identity()
        self.act = activation() if activation is not None else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.norm(self.conv(x)))
