"""T3D: a 3D DenseNet with Temporal Transition Layers (Diba et al. 2017).

Diba, Fayyaz, Sharma, Karami, Arzani, Yousefzadeh, Van Gool, "Temporal 3D ConvNets: New Architecture
and Transfer Learning for Video Classification", arXiv:1711.08200, 2017. DenseNet-BC (Huang et al. 2017)
inflated to 3D, whose transition layers are replaced by Temporal Transition Layers (TTL): parallel 3D
convolutions of temporal depths 1, 3 and 6 (variable temporal depth), concatenated, then a 1x1x1
transition and pooling. Data flow for T3D-121 on a 32-frame 224x224 clip::

    (B, 3, 32, 224, 224) -> conv 3x7x7/2 + BN + ReLU -> (B, 64, 16, 112, 112)
      -> max pool 3x3x3 stride (1,2,2) -> (B, 64, 16, 56, 56)
      -> dense block 6 layers  -> (B, 256, 16, 56, 56)  -> TTL -> (B, 128, 8, 28, 28)
      -> dense block 12 layers -> (B, 512, 8, 28, 28)   -> TTL -> (B, 256, 4, 14, 14)
      -> dense block 24 layers -> (B, 1024, 4, 14, 14)  -> TTL -> (B, 512, 2, 7, 7)
      -> dense block 16 layers -> (B, 1024, 2, 7, 7) -> BN + ReLU -> global average pool (B, 1024)
      -> classifier (B, num_classes)

    dense layer: BN-ReLU-conv 1x1x1 (4k) -> BN-ReLU-conv 3x3x3 (k), concatenated to its input
    TTL:         BN-ReLU -> [conv 1x1x1 | conv 3x3x3 | conv 6x3x3] (128 each) -> concat (384)
                 -> BN-ReLU -> conv 1x1x1 (m/2) -> average pool 2x2x2 / 2

No runnable code accompanies the paper, so the choices it leaves open are fixed here:

* Growth rate k = 32, 64 stem filters, bottleneck 4k, compression 0.5 (DenseNet-BC-121/169), block
  configurations (6, 12, 24, 16) for T3D-121 and (6, 12, 32, 32) for T3D-169.
* Stem: a 3x7x7 conv with stride 2 in time and space, then 3x3x3 max pooling with stride (1, 2, 2);
  with the TTLs' 2x2x2 pooling a 32-frame clip goes 16 -> 16 -> 8 -> 4 -> 2 frames.
* TTL branches: temporal depths 1, 3, 6 with 1x1 spatial extent for depth 1 and 3x3 for 3 and 6;
  128 output channels per branch (the width of the authors' unfinished reference sketch); the 1x1x1
  transition then compresses to half the block's width as DenseNet-BC's transition does, so the
  next block sees the DenseNet widths. Each branch keeps the number of frames: depth 3 pads 1 frame at
  each end, depth 6 pads 2 before and 3 after (an even kernel cannot centre), zeros at the clip ends.
* The branches share one BN-ReLU pre-activation (DenseNet's pre-activation order); the pooling is a
  2x2x2 average with stride 2 rounding up, so a clip shorter than the network's temporal reduction
  keeps at least one frame.
* Weight initialisation: Kaiming-normal convs, unit BN, zero biases (torchvision's DenseNet).

``transition="plain"`` gives the paper's DenseNet3D baseline (DenseNet-BC transitions: BN-ReLU-1x1x1
conv-average pool). The paper's 2D->3D supervision transfer is in
:mod:`vidlearn.recognition.supervision_transfer`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from vidlearn.models.classifier import ClassifierMixin
from vidlearn.models.layers import MaxPool3d
from vidlearn.models.registry import register_model

__all__ = [
    "T3D",
    "DenseBlock3d",
    "DenseLayer3d",
    "HalvingAvgPool3d",
    "TemporalTransitionLayer",
    "densenet3d_121",
    "t3d_121",
    "t3d_169",
]

PAPER = "Diba et al., Temporal 3D ConvNets: New Architecture and Transfer Learning for Video Classification, 2017"
KINETICS_CLASSES = 400

NormLayer = Callable[[int], nn.Module]


class DenseLayer3d(nn.Module):
    """BN-ReLU-conv1x1x1 (``bn_size * growth_rate``) -> BN-ReLU-conv3x3x3 (``growth_rate``), concatenated.

    ``(B, C, T, H, W) -> (B, C + growth_rate, T, H, W)``.
    """

    def __init__(self, in_channels: int, growth_rate: int, *, bn_size: int = 4, drop_rate: float = 0.0,
                 conv_layer: Callable[..., nn.Module] = nn.Conv3d, norm_layer: NormLayer = nn.BatchNorm3d,
                 activation_layer: Callable[[], nn.Module] = nn.ReLU) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            norm_layer(in_channels), activation_layer(),
            conv_layer(in_channels, bn_size * growth_rate, kernel_size=1, bias=False),
            norm_layer(bn_size * growth_rate), activation_layer(),
            conv_layer(bn_size * growth_rate, growth_rate, kernel_size=3, padding=1, bias=False),
            nn.Dropout(drop_rate),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat((x, self.layers(x)), dim=1)


class DenseBlock3d(nn.Sequential):
    """``num_layers`` dense layers: ``(B, C, T, H, W) -> (B, C + num_layers * growth_rate, T, H, W)``."""

    def __init__(self, num_layers: int, in_channels: int, growth_rate: int, **layer_kwargs: object) -> None:
        super().__init__(*(DenseLayer3d(in_channels + i * growth_rate, growth_rate, **layer_kwargs)
                           for i in range(num_layers)))
        self.out_channels = in_channels + num_layers * growth_rate


class HalvingAvgPool3d(nn.Module):
    """2x2x2 average pooling with stride 2, rounding up; a dimension already of size 1 stays 1.

    ``(B, C, T, H, W) -> (B, C, ceil(T/2), ceil(H/2), ceil(W/2))``. ``nn.AvgPool3d`` refuses an input
    smaller than its kernel, which a short clip reaches after a few TTLs.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        kernel = [min(2, size) for size in x.shape[2:]]
        return nn.functional.avg_pool3d(x, kernel, stride=kernel, ceil_mode=True)


class TemporalTransitionLayer(nn.Module):
    """TTL: ``(B, C, T, H, W) -> (B, out_channels, ceil(T/2), ceil(H/2), ceil(W/2))``.

    Parallel convs of temporal depths ``temporal_depths`` (``branch_channels`` each, padded to keep
    ``T``), concatenated, BN-ReLU, a 1x1x1 conv to ``out_channels`` and 2x2x2 average pooling.
    """

    def __init__(self, in_channels: int, out_channels: int, *, branch_channels: int = 128,
                 temporal_depths: Sequence[int] = (1, 3, 6), conv_layer: Callable[..., nn.Module] = nn.Conv3d,
                 norm_layer: NormLayer = nn.BatchNorm3d, activation_layer: Callable[[], nn.Module] = nn.ReLU) -> None:
        super().__init__()
        if not temporal_depths or min(temporal_depths) < 1:
            raise ValueError(f"temporal_depths must be positive integers, got {temporal_depths}")
        self.pre = nn.Sequential(norm_layer(in_channels), activation_layer())
        branches = []
        for depth in temporal_depths:
            spatial = 1 if depth == 1 else 3
            before, after = (depth - 1) // 2, depth // 2  # depth 6: 2 frames before, 3 after
            pad = spatial // 2
            branches.append(nn.Sequential(
                nn.ConstantPad3d((pad, pad, pad, pad, before, after), 0.0),
                conv_layer(in_channels, branch_channels, kernel_size=(depth, spatial, spatial), bias=False),
            ))
        self.branches = nn.ModuleList(branches)
        self.transition = nn.Sequential(
            norm_layer(branch_channels * len(branches)), activation_layer(),
            conv_layer(branch_channels * len(branches), out_channels, kernel_size=1, bias=False),
            HalvingAvgPool3d(),
        )
        self.temporal_depths = tuple(temporal_depths)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pre(x)
        return self.transition(torch.cat([branch(x) for branch in self.branches], dim=1))


def _plain_transition(in_channels: int, out_channels: int, *, conv_layer: Callable[..., nn.Module],
                      norm_layer: NormLayer, activation_layer: Callable[[], nn.Module], **_: object) -> nn.Module:
    return nn.Sequential(norm_layer(in_channels), activation_layer(),
                         conv_layer(in_channels, out_channels, kernel_size=1, bias=False),
                         HalvingAvgPool3d())


class T3D(ClassifierMixin, nn.Module):
    """3D DenseNet with TTLs: ``(B, 3, T, H, W) -> (B, num_classes)`` (see the module docstring)."""

    def __init__(
        self,
        *,
        num_classes: int,
        in_channels: int = 3,
        growth_rate: int = 32,
        block_config: Sequence[int] = (6, 12, 24, 16),
        num_init_features: int = 64,
        bn_size: int = 4,
        compression: float = 0.5,
        drop_rate: float = 0.0,
        transition: str = "ttl",
        ttl_branch_channels: int = 128,
        ttl_temporal_depths: Sequence[int] = (1, 3, 6),
        conv_layer: Callable[..., nn.Module] = nn.Conv3d,
        norm_layer: NormLayer = nn.BatchNorm3d,
        activation_layer: Callable[[], nn.Module] = nn.ReLU,
    ) -> None:
        super().__init__()
        if transition not in ("ttl", "plain"):
            raise ValueError(f"unknown transition {transition!r}; choose 'ttl' or 'plain'")
        if not block_config or min(block_config) < 1:
            raise ValueError(f"block_config must hold positive layer counts, got {block_config}")
        if not 0 < compression <= 1:
            raise ValueError(f"compression must be in (0, 1], got {compression}")
        self.in_channels = in_channels
        modules: dict[str, nn.Module] = {
            "stem": nn.Sequential(
                conv_layer(in_channels, num_init_features, kernel_size=(3, 7, 7), stride=2, padding=(1, 3, 3),
                           bias=False),
                norm_layer(num_init_features), activation_layer(),
                MaxPool3d(3, stride=(1, 2, 2), padding=1),
            )
        }
        layer_kwargs = {"bn_size": bn_size, "drop_rate": drop_rate, "conv_layer": conv_layer,
                        "norm_layer": norm_layer, "activation_layer": activation_layer}
        channels = num_init_features
        for index, num_layers in enumerate(block_config, start=1):
            block = DenseBlock3d(num_layers, channels, growth_rate, **layer_kwargs)
            modules[f"denseblock{index}"] = block
            channels = block.out_channels
            if index < len(block_config):
                out = int(channels * compression)
                if transition == "ttl":
                    modules[f"ttl{index}"] = TemporalTransitionLayer(
                        channels, out, branch_channels=ttl_branch_channels, temporal_depths=ttl_temporal_depths,
                        conv_layer=conv_layer, norm_layer=norm_layer, activation_layer=activation_layer)
                else:
                    modules[f"transition{index}"] = _plain_transition(
                        channels, out, conv_layer=conv_layer, norm_layer=norm_layer,
                        activation_layer=activation_layer)
                channels = out
        modules["final"] = nn.Sequential(norm_layer(channels), activation_layer())
        self.features = nn.Sequential()
        for name, module in modules.items():
            self.features.add_module(name, module)
        self.num_features = channels
        self.classifier = nn.Linear(channels, num_classes)
        for module in self.modules():
            if isinstance(module, nn.Conv3d):
                nn.init.kaiming_normal_(module.weight)
            elif isinstance(module, nn.BatchNorm3d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Linear):
                nn.init.zeros_(module.bias)

    def forward_features(self, x: torch.Tensor, *, layer: str | None = None) -> torch.Tensor:
        """``(B, C, T, H, W) -> (B, num_features)``, globally average-pooled."""
        self._feature_layer(layer)
        if x.dim() != 5 or x.shape[1] != self.in_channels:
            raise ValueError(f"expected input (B, {self.in_channels}, T, H, W), got {tuple(x.shape)}")
        return self.features(x).mean(dim=(2, 3, 4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.forward_features(x))


# the CPU-sized variant (same depth; demos, benchmarks, zoo test): the full networks hold tens of millions of 3D weights
_SMALL = {"num_classes": 5, "growth_rate": 4, "num_init_features": 8, "bn_size": 2, "ttl_branch_channels": 4}


@register_model("t3d_121", paper=PAPER, input_shape=(3, 32, 224, 224),
                default_num_classes=KINETICS_CLASSES, small_input_shape=(3, 8, 16, 16), family="t3d",
                small_kwargs=_SMALL)
def t3d_121(*, num_classes: int = KINETICS_CLASSES, **kwargs: object) -> T3D:
    """T3D-121: 3D DenseNet-121 with Temporal Transition Layers."""
    return T3D(num_classes=num_classes, block_config=(6, 12, 24, 16), **kwargs)


@register_model("t3d_169", paper=PAPER, input_shape=(3, 32, 224, 224),
                default_num_classes=KINETICS_CLASSES, small_input_shape=(3, 8, 16, 16), family="t3d",
                small_kwargs=_SMALL)
def t3d_169(*, num_classes: int = KINETICS_CLASSES, **kwargs: object) -> T3D:
    """T3D-169: 3D DenseNet-169 with Temporal Transition Layers."""
    return T3D(num_classes=num_classes, block_config=(6, 12, 32, 32), **kwargs)


@register_model("densenet3d_121", paper=PAPER, input_shape=(3, 32, 224, 224),
                default_num_classes=KINETICS_CLASSES, small_input_shape=(3, 8, 16, 16), family="t3d",
                small_kwargs=_SMALL)
def densenet3d_121(*, num_classes: int = KINETICS_CLASSES, **kwargs: object) -> T3D:
    """DenseNet3D-121, the paper's baseline: DenseNet-BC transitions instead of TTLs."""
    return T3D(num_classes=num_classes, block_config=(6, 12, 24, 16), transition="plain", **kwargs)
