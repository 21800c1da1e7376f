"""DVD-GAN's building blocks: spectral-normed layers, class-conditional BN, ConvGRU, residual blocks.

Spectral norm (Miyato et al. 2018) and orthogonal initialisation (Saxe et al. 2014; BigGAN, Brock et
al. 2019) are applied in one place, :func:`spectral_normed`, which every layer builder here goes
through (BigGAN-PyTorch keeps them in ``which_conv`` / ``which_linear`` partials for the same reason):
a reader checking that every weight of G and D is normalised reads one function.

Blocks (BigGAN's, Brock et al. 2019, Figure 15):

* :class:`GBlock`: ``x -> CBN(cond) -> ReLU -> [up x2] -> conv3x3 -> CBN(cond) -> ReLU -> conv3x3``,
  plus ``[up x2] -> conv1x1`` on the shortcut when the width or the size changes. ``(N, C_in, H, W)
  -> (N, C_out, 2H, 2W)`` (or ``H, W`` without upsampling).
* :class:`DBlock`: ``x -> [ReLU] -> conv -> ReLU -> conv -> [avg-pool /2]`` plus a 1x1 shortcut, in 2D
  ``(N, C, H, W)`` or 3D ``(N, C, T, H, W)`` (DVD-GAN's D_T, kernels 3x3x3).
* :class:`ConvGRU`: a convolutional GRU unrolled over the frames, ``(B, T, C_in, H, W) -> (B, T, C_h, H, W)``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

__all__ = [
    "SN_EPS",
    "ConditionalBatchNorm2d",
    "ConvGRU",
    "DBlock",
    "GBlock",
    "is_spectral_normed",
    "is_tracing",
    "sn_conv2d",
    "sn_conv3d",
    "sn_embedding",
    "sn_linear",
    "spectral_normed",
]

SN_EPS = 1e-6  # BigGAN-PyTorch's launch scripts use SN_eps 1e-6 for G and D


def spectral_normed(module: nn.Module, *, enabled: bool = True, eps: float = SN_EPS) -> nn.Module:
    """Orthogonally initialise ``module.weight`` (zero bias), then wrap it in spectral norm.

    The single place where G's and D's weights get their initialisation and normalisation. On the
    meta device (parameter counting without memory) both are skipped: there are no values to set, and
    spectral norm adds buffers (its power-iteration vectors), no parameters.
    """
    weight = module.weight
    if weight.is_meta:
        return module
    nn.init.orthogonal_(weight)
    bias = getattr(module, "bias", None)
    if bias is not None:
        nn.init.zeros_(bias)
    if not enabled:
        return module
    # dim=0 for every layer (the largest singular value of a matrix is that of its transpose).
    return spectral_norm(module, eps=eps, dim=0)


def is_tracing() -> bool:
    """Whether torch.export / torch.compile is tracing: value-dependent input checks are skipped there."""
    return torch.compiler.is_compiling() or torch.compiler.is_exporting()


def is_spectral_normed(module: nn.Module) -> bool:
    """Whether ``module.weight`` is computed by a spectral-norm parametrisation."""
    parametrizations = getattr(module, "parametrizations", None)
    if parametrizations is None or "weight" not in parametrizations:
        return False
    return any(type(p).__name__ == "_SpectralNorm" for p in parametrizations["weight"])


def sn_conv2d(in_channels: int, out_channels: int, kernel_size: int = 3, *, sn: bool = True,
              bias: bool = True) -> nn.Module:
    """Spectral-normed, orthogonally initialised ``Conv2d`` with "same" padding (odd kernels)."""
    conv = nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2, bias=bias)
    return spectral_normed(conv, enabled=sn)


def sn_conv3d(in_channels: int, out_channels: int, kernel_size: int = 3, *, sn: bool = True,
              bias: bool = True) -> nn.Module:
    """Spectral-normed, orthogonally initialised ``Conv3d`` with "same" padding (odd kernels)."""
    conv = nn.Conv3d(in_channels, out_channels, kernel_size, padding=kernel_size // 2, bias=bias)
    return spectral_normed(conv, enabled=sn)


def sn_linear(in_features: int, out_features: int, *, sn: bool = True, bias: bool = True) -> nn.Module:
    """Spectral-normed, orthogonally initialised ``Linear``."""
    return spectral_normed(nn.Linear(in_features, out_features, bias=bias), enabled=sn)


def sn_embedding(num_classes: int, dim: int, *, sn: bool = True) -> nn.Module:
    """Spectral-normed, orthogonally initialised ``Embedding`` (the projection discriminator's class table)."""
    return spectral_normed(nn.Embedding(num_classes, dim), enabled=sn)


class ConditionalBatchNorm2d(nn.Module):
    """Class-conditional batch norm (de Vries et al. 2017; BigGAN's ``ccbn``).

    ``(N, C, H, W), cond (N, D) -> (N, C, H, W)``: batch norm without affine parameters, then a
    per-sample gain ``1 + W_g cond`` and bias ``W_b cond``, both spectral-normed linear maps without
    bias (the ``1 +`` is the gain's offset). DVD-GAN feeds ``cond = [z; e(y)]`` to every CBN of G; the
    statistics are taken over every frame of every clip in the batch (frames are folded into ``N``).
    """

    def __init__(self, num_features: int, cond_dim: int, *, sn: bool = True, eps: float = 1e-5,
                 momentum: float = 0.1) -> None:
        super().__init__()
        self.bn = nn.BatchNorm2d(num_features, affine=False, eps=eps, momentum=momentum)
        self.gain = sn_linear(cond_dim, num_features, sn=sn, bias=False)
        self.bias = sn_linear(cond_dim, num_features, sn=sn, bias=False)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        gain = 1.0 + self.gain(cond)
        bias = self.bias(cond)
        return self.bn(x) * gain[:, :, None, None] + bias[:, :, None, None]


class ConvGRU(nn.Module):
    """A convolutional GRU (Ballas et al. 2016) unrolled once per frame.

    ``(B, T, C_in, H, W) -> (B, T, C_h, H, W)``, the hidden state at every step, from a zero state::

        r, u = sigmoid(conv_gates([x_t; h]))           reset and update gates, (B, C_h, H, W) each
        c    = activation(conv_candidate([x_t; r * h]))
        h    = u * h + (1 - u) * c

    Both convolutions are spectral-normed (BigGAN normalises every weight of G). ``activation`` is
    ``tanh`` as in the standard GRU.
    """

    def __init__(self, in_channels: int, hidden_channels: int, kernel_size: int = 3, *, sn: bool = True,
                 activation: Callable[[torch.Tensor], torch.Tensor] = torch.tanh) -> None:
        super().__init__()
        self.hidden_channels = hidden_channels
        self.gates = sn_conv2d(in_channels + hidden_channels, 2 * hidden_channels, kernel_size, sn=sn)
        self.candidate = sn_conv2d(in_channels + hidden_channels, hidden_channels, kernel_size, sn=sn)
        self.activation = activation

    def forward(self, x: torch.Tensor, hidden: torch.Tensor | None = None) -> torch.Tensor:
        if x.ndim != 5:
            raise ValueError(f"ConvGRU expects (B, T, C, H, W), got shape {tuple(x.shape)}")
        batch, steps, _, height, width = x.shape
        if hidden is None:
            hidden = x.new_zeros(batch, self.hidden_channels, height, width)
        outputs = []
        for t in range(steps):  # recurrent: step t needs step t - 1
            frame = x[:, t]
            reset, update = torch.sigmoid(self.gates(torch.cat((frame, hidden), dim=1))).chunk(2, dim=1)
            candidate = self.activation(self.candidate(torch.cat((frame, reset * hidden), dim=1)))
            hidden = update * hidden + (1.0 - update) * candidate
            outputs.append(hidden)
        return torch.stack(outputs, dim=1)


class GBlock(nn.Module):
    """BigGAN's generator residual block with class-conditional BN; see the module docstring."""

    def __init__(self, in_channels: int, out_channels: int, cond_dim: int, *, upsample: bool,
                 sn: bool = True) -> None:
        super().__init__()
        self.upsample = upsample
        self.bn1 = ConditionalBatchNorm2d(in_channels, cond_dim, sn=sn)
        self.conv1 = sn_conv2d(in_channels, out_channels, 3, sn=sn)
        self.bn2 = ConditionalBatchNorm2d(out_channels, cond_dim, sn=sn)
        self.conv2 = sn_conv2d(out_channels, out_channels, 3, sn=sn)
        learnable = in_channels != out_channels or upsample
        self.shortcut = sn_conv2d(in_channels, out_channels, 1, sn=sn) if learnable else None

    def _up(self, x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x, scale_factor=2, mode="nearest") if self.upsample else x

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        h = self.conv1(self._up(F.relu(self.bn1(x, cond))))
        h = self.conv2(F.relu(self.bn2(h, cond)))
        skip = self._up(x)
        if self.shortcut is not None:
            skip = self.shortcut(skip)
        return h + skip


def _downsample(x: torch.Tensor, temporal: bool) -> torch.Tensor:
    """Average-pool by 2 in space (and in time when ``temporal`` and the clip has >= 2 frames)."""
    if x.ndim == 4:
        return F.avg_pool2d(x, 2)
    kernel_t = 2 if temporal and x.shape[2] >= 2 else 1
    return F.avg_pool3d(x, (kernel_t, 2, 2))


class DBlock(nn.Module):
    """BigGAN's discriminator residual block, 2D or 3D (``dims``); see the module docstring.

    ``preactivation=False`` for a network's first block (no ReLU on the input image; the shortcut
    pools before its 1x1 conv, as BigGAN's optimised first block). In 3D, ``temporal_downsample``
    also halves the frames when downsampling.
    """

    def __init__(self, in_channels: int, out_channels: int, *, downsample: bool, preactivation: bool = True,
                 dims: int = 2, temporal_downsample: bool = True, sn: bool = True) -> None:
        super().__init__()
        if dims not in (2, 3):
            raise ValueError(f"DBlock dims must be 2 or 3, got {dims}")
        conv = partial(sn_conv2d if dims == 2 else sn_conv3d, sn=sn)
        self.downsample = downsample
        self.preactivation = preactivation
        self.temporal_downsample = temporal_downsample
        self.conv1 = conv(in_channels, out_channels, 3)
        self.conv2 = conv(out_channels, out_channels, 3)
        learnable = in_channels != out_channels or downsample
        self.shortcut = conv(in_channels, out_channels, 1) if learnable else None

    def _down(self, x: torch.Tensor) -> torch.Tensor:
        return _downsample(x, self.temporal_downsample) if self.downsample else x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu(x) if self.preactivation else x
        h = self._down(self.conv2(F.relu(self.conv1(h))))
        skip = x
        if self.shortcut is not None:
            skip = self._down(self.shortcut(skip)) if self.preactivation else self.shortcut(self._down(skip))
        return h + skip
