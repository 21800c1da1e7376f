"""C3D: 3D convolutional network for spatiotemporal features (Tran et al. 2015, "Learning
Spatiotemporal Features with 3D Convolutional Networks", ICCV).

Eight 3x3x3 convolutions (stride 1, padding 1), five max-pools, two 4096-d fully connected layers and
a classifier. Shapes for the paper's input ``(B, 3, 16, 112, 112)``::

    conv1a 64  -> ReLU -> pool1 1x2x2   (B,  64, 16, 56, 56)
    conv2a 128 -> ReLU -> pool2 2x2x2   (B, 128,  8, 28, 28)
    conv3a 256, conv3b 256 -> pool3     (B, 256,  4, 14, 14)
    conv4a 512, conv4b 512 -> pool4     (B, 512,  2,  7,  7)
    conv5a 512, conv5b 512 -> pool5 2x2x2, padding (0, 1, 1)  (B, 512, 1, 4, 4)
    flatten (B, 8192) -> fc6 4096 -> ReLU -> Dropout 0.5 -> fc7 4096 -> ReLU -> Dropout 0.5 -> fc8

pool5's spatial padding is that of the released Sports-1M model (a 4x4 map, hence fc6's 8192 inputs);
with 487 Sports-1M classes the network has exactly 79,991,015 parameters.

Checkpoint layouts registered here: DavideA/c3d-pytorch's ``c3d.pickle`` (``"c3d-pickle"``) and
MMAction2's C3D (``"mmaction2-c3d"``); MMAction2's Sports-1M pretrain file has no classifier, so load it
with ``load_weights(model, path, allow_missing=("fc8",))``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from vidlearn.models.classifier import ClassifierMixin
from vidlearn.models.layers import MaxPool3d
from vidlearn.models.registry import Preprocessing, WeightsSpec, register_model
from vidlearn.models.weights import CheckpointLayout, register_layout, remap_keys

__all__ = ["C3D", "C3D_CONV_NAMES", "c3d"]

PAPER = "Tran et al. 2015, Learning Spatiotemporal Features with 3D Convolutional Networks (ICCV)"

# (name, index into the width list) in network order; the names are the paper's (Figure 1).
C3D_CONV_NAMES = ("conv1a", "conv2a", "conv3a", "conv3b", "conv4a", "conv4b", "conv5a", "conv5b")
_WIDTH_INDEX = (0, 1, 2, 2, 3, 3, 4, 4)
# The pool that follows a conv, (kernel, stride, padding) as (T, H, W).
_POOLS: dict[str, tuple[tuple[int, int, int], tuple[int, int, int], tuple[int, int, int]]] = {
    "conv1a": ((1, 2, 2), (1, 2, 2), (0, 0, 0)),  # keeps time: "not to merge the temporal signal too early"
    "conv2a": ((2, 2, 2), (2, 2, 2), (0, 0, 0)),
    "conv3b": ((2, 2, 2), (2, 2, 2), (0, 0, 0)),
    "conv4b": ((2, 2, 2), (2, 2, 2), (0, 0, 0)),
    "conv5b": ((2, 2, 2), (2, 2, 2), (0, 1, 1)),
}
PAPER_WIDTHS = (64, 128, 256, 512, 512)


class ConvBlock3d(nn.Module):
    """``conv -> norm -> act``: ``(B, C_in, T, H, W) -> (B, C_out, T, H, W)`` (3x3x3, padding 1)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        conv_layer: Callable[..., nn.Module],
        norm_layer: Callable[[int], nn.Module] | None,
        activation: Callable[[], nn.Module],
    ) -> None:
        super().__init__()
        # The paper's convs have biases; a norm layer makes a bias redundant.
        self.conv = conv_layer(in_channels, out_channels, kernel_size=3, padding=1, bias=norm_layer is None)
        self.norm = norm_layer(out_channels) if norm_layer is not None else nn.Identity()
        self.act = activation()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.norm(self.conv(x)))


def _pooled_size(size: int, kernel: int, stride: int, padding: int) -> int:
    return (size + 2 * padding - kernel) // stride + 1


class C3D(ClassifierMixin, nn.Module):
    """The C3D network; see the module docstring for the data flow and shapes.

    Args:
        num_classes: outputs of ``fc8``.
        in_channels: 3 for RGB.
        widths: the five conv stage widths (paper: 64, 128, 256, 512, 512).
        fc_dim: width of fc6 and fc7 (paper: 4096).
        clip_len, crop_size: the input clip ``(T, H=W)`` used to size fc6; other sizes fail in fc6.
        dropout: dropout after fc6 and fc7 (paper: 0.5).
        conv_layer: ``callable(in, out, kernel_size=, padding=, bias=)`` (default ``nn.Conv3d``).
        norm_layer: ``callable(channels)`` or ``None`` (paper: none).
        activation: ``callable()`` (default ``nn.ReLU``).
        fc_init: ``"caffe"`` (the paper's Gaussian, std 0.005 / 0.01, made for 4096-wide layers) or
            ``"kaiming"`` (PyTorch's default ``nn.Linear`` initialisation), which trains narrow
            CPU-sized variants from scratch where the tiny Gaussian leaves the signal too weak.
    """

    classifier_name = "fc8"
    feature_layers = ("fc6", "fc7")

    def __init__(
        self,
        *,
        num_classes: int = 487,
        in_channels: int = 3,
        widths: tuple[int, int, int, int, int] = PAPER_WIDTHS,
        fc_dim: int = 4096,
        clip_len: int = 16,
        crop_size: int = 112,
        dropout: float = 0.5,
        conv_layer: Callable[..., nn.Module] = nn.Conv3d,
        norm_layer: Callable[[int], nn.Module] | None = None,
        activation: Callable[[], nn.Module] = nn.ReLU,
        fc_init: str = "caffe",
    ) -> None:
        super().__init__()
        if fc_init not in ("caffe", "kaiming"):
            raise ValueError(f"fc_init must be 'caffe' or 'kaiming', got {fc_init!r}")
        self.fc_init = fc_init
        if len(widths) != 5 or any(int(w) < 1 for w in widths):
            raise ValueError(f"widths must be 5 positive ints, got {widths!r}")
        if num_classes < 1 or fc_dim < 1:
            raise ValueError(f"num_classes and fc_dim must be positive, got {num_classes}, {fc_dim}")
        self.clip_len, self.crop_size, self.fc_dim = clip_len, crop_size, fc_dim
        channels = in_channels
        size = [clip_len, crop_size, crop_size]
        for name, index in zip(C3D_CONV_NAMES, _WIDTH_INDEX):
            width = int(widths[index])
            setattr(self, name, ConvBlock3d(channels, width, conv_layer=conv_layer,
                                            norm_layer=norm_layer, activation=activation))
            channels = width
            if name in _POOLS:
                kernel, stride, padding = _POOLS[name]
                pool_name = "pool" + name[4]
                setattr(self, pool_name, MaxPool3d(kernel, stride, padding))
                size = [_pooled_size(n, k, s, p) for n, k, s, p in zip(size, kernel, stride, padding)]
                if min(size) < 1:
                    raise ValueError(
                        f"clip_len={clip_len}, crop_size={crop_size} is too small for C3D: {pool_name} "
                        f"would produce an empty map (need clip_len >= 16 and crop_size >= 16)"
                    )
        self.pool5_shape = (channels, *size)
        self.fc6 = nn.Linear(channels * size[0] * size[1] * size[2], fc_dim)
        self.fc7 = nn.Linear(fc_dim, fc_dim)
        self.fc8 = nn.Linear(fc_dim, num_classes)
        self.act = activation()
        self.dropout = nn.Dropout(dropout)
        self._init_weights()

    def _init_weights(self) -> None:
        for module in self.modules():
            if isinstance(module, nn.Conv3d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Linear) and self.fc_init == "kaiming":
                module.reset_parameters()
            elif isinstance(module, nn.Linear):
                # The Caffe recipe's 0.005 std for the 4096-d layers (MMAction2 keeps it).
                nn.init.normal_(module.weight, std=0.005 if module is not self.fc8 else 0.01)
                nn.init.zeros_(module.bias)

    def forward_conv(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C, T, H, W) -> pool5 (B, 512, T/16, H', W')`` (``(B, 512, 1, 4, 4)`` at 16x112x112)."""
        if x.ndim != 5:
            raise ValueError(f"C3D expects input (B, C, T, H, W), got shape {tuple(x.shape)}")
        for name in C3D_CONV_NAMES:
            x = getattr(self, name)(x)
            if name in _POOLS:
                x = getattr(self, "pool" + name[4])(x)
        return x

    def forward_features(self, x: torch.Tensor, *, layer: str | None = None) -> torch.Tensor:
        """Clip features ``(B, fc_dim)``: the ReLU output of ``fc6`` or ``fc7`` (``None``: fc7).

        The paper's video descriptor is the fc6 activation averaged over clips and L2-normalised.
        """
        layer = self._feature_layer(layer, default="fc7")
        pooled = self.forward_conv(x)
        if tuple(pooled.shape[1:]) != self.pool5_shape:
            raise ValueError(
                f"C3D was built for clips of {self.clip_len}x{self.crop_size}x{self.crop_size} "
                f"(pool5 {self.pool5_shape}); input {tuple(x.shape)} gives pool5 {tuple(pooled.shape[1:])}"
            )
        features = self.act(self.fc6(pooled.flatten(1)))
        if layer == "fc6":
            return features
        return self.act(self.fc7(self.dropout(features)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C, T, H, W) -> logits (B, num_classes)``."""
        return self.fc8(self.dropout(self.forward_features(x)))

    def _init_classifier(self, head: nn.Module) -> None:
        # a new fc8 starts as the Caffe recipe's (std 0.01, zero bias), whatever fc_init was
        nn.init.normal_(head.weight, std=0.01)
        nn.init.zeros_(head.bias)


_SPORTS1M_PICKLE = Preprocessing(
    mean=(90.25, 97.66, 101.41),
    std=(1.0, 1.0, 1.0),
    channel_order="BGR",
    value_range=(0.0, 255.0),
    clip_length=16,
    resize_short_side=128,
    crop_size=112,
    notes="Frames resized to 128x171 (short side 128), centre 112x112 crop, BGR 0-255 minus the "
    "Sports-1M mean (B, G, R); 16 consecutive frames.",
)
_MMACTION2 = Preprocessing(
    mean=(104.0, 117.0, 128.0),
    std=(1.0, 1.0, 1.0),
    channel_order="RGB",
    value_range=(0.0, 255.0),
    clip_length=16,
    resize_short_side=128,
    crop_size=112,
    notes="MMAction2 config: Resize to (128, 171), 112 crop, Normalize(mean=[104, 117, 128], "
    "std=[1, 1, 1], to_bgr=False) on decoded RGB frames, i.e. the means apply to R, G, B in that order.",
)

WEIGHTS = (
    WeightsSpec(
        name="sports1m",
        filename="c3d.pickle",
        source="https://github.com/DavideA/c3d-pytorch (converted from the authors' Caffe Sports-1M model)",
        license="not stated by the source; check before redistribution",
        layout="c3d-pickle",
        meta={"num_classes": 487, "classes": "Sports-1M (487 classes)"},
        preprocessing=_SPORTS1M_PICKLE,
        metrics={"sports1m_video_hit@1": 61.1, "sports1m_video_hit@5": 85.2, "ucf101_top1_fc6_svm": 82.3},
        protocol="As reported by Tran et al. 2015: Sports-1M video hit@1/@5 (Table 2, fine-tuned from I380K); "
        "UCF-101 82.3% mean accuracy over 3 splits with fc6 features (averaged over clips, L2-normalised) "
        "and a linear SVM (Table 3, C3D 1 net).",
    ),
    WeightsSpec(
        name="sports1m-mmaction2",
        filename="c3d_sports1m_pretrain_20201016-dcc47ddc.pth",
        source="https://download.openmmlab.com/mmaction/recognition/c3d/c3d_sports1m_pretrain_20201016-dcc47ddc.pth",
        license="Apache-2.0 (MMAction2)",
        layout="mmaction2-c3d",
        meta={"num_classes": 0, "classes": "none: backbone only (conv1a..fc7), no fc8"},
        preprocessing=_MMACTION2,
        protocol="Pretrain for fine-tuning; load with load_weights(model, path, allow_missing=('fc8',)).",
    ),
    WeightsSpec(
        name="ucf101-split1-mmaction2",
        filename="c3d_sports1m_16x1x1_45e_ucf101_rgb_20201021-26655025.pth",
        source="https://download.openmmlab.com/mmaction/recognition/c3d/c3d_sports1m_16x1x1_45e_ucf101_rgb/"
        "c3d_sports1m_16x1x1_45e_ucf101_rgb_20201021-26655025.pth",
        license="Apache-2.0 (MMAction2)",
        layout="mmaction2-c3d",
        meta={"num_classes": 101, "classes": "UCF-101 (101 classes, classInd.txt order)"},
        preprocessing=_MMACTION2,
        metrics={"top1": 83.27, "top5": 95.90},
        protocol="As reported by MMAction2's C3D README: config c3d_sports1m_16x1x1_45e_ucf101_rgb.py, "
        "UCF-101 split 1, 10 clips x 1 crop, 128x171 frames.",
    ),
)


@register_model(
    "c3d",
    paper=PAPER,
    input_shape=(3, 16, 112, 112),
    default_num_classes=487,
    weights=WEIGHTS,
    small_input_shape=(3, 16, 32, 32),
    family="c3d",
    small_kwargs={"num_classes": 5, "width_multiplier": 0.125, "fc_dim": 64, "clip_len": 16, "crop_size": 32},
)
def c3d(
    *,
    num_classes: int = 487,
    in_channels: int = 3,
    width_multiplier: float = 1.0,
    fc_dim: int = 4096,
    clip_len: int = 16,
    crop_size: int = 112,
    dropout: float = 0.5,
    conv_layer: Callable[..., nn.Module] = nn.Conv3d,
    norm_layer: Callable[[int], nn.Module] | str | None = None,
    activation: Callable[[], nn.Module] = nn.ReLU,
    fc_init: str = "caffe",
) -> C3D:
    """C3D (Tran et al. 2015): 8 3x3x3 convs, 5 pools, fc6/fc7 4096, fc8; 79,991,015 params at 487 classes.

    ``width_multiplier`` scales the conv widths (0.25 gives 16, 32, 64, 128, 128) and ``fc_dim`` the
    fc6/fc7 width, for CPU-sized variants; ``clip_len`` and ``crop_size`` size fc6 for the input clip.
    ``norm_layer`` may also be the string ``"batch"`` (``nn.BatchNorm3d`` after every conv, not in the
    paper) so that recipes written in YAML can ask for it; ``fc_init`` is described in :class:`C3D`.
    """
    if isinstance(norm_layer, str):
        if norm_layer != "batch":
            raise ValueError(f"norm_layer must be a callable, None or 'batch', got {norm_layer!r}")
        norm_layer = nn.BatchNorm3d
    if width_multiplier <= 0:
        raise ValueError(f"width_multiplier must be positive, got {width_multiplier}")
    widths = tuple(max(1, round(w * width_multiplier)) for w in PAPER_WIDTHS)
    return C3D(num_classes=num_classes, in_channels=in_channels, widths=widths, fc_dim=fc_dim,  # type: ignore[arg-type]
               clip_len=clip_len, crop_size=crop_size, dropout=dropout, conv_layer=conv_layer,
               norm_layer=norm_layer, activation=activation, fc_init=fc_init)


# --- checkpoint layouts ---------------------------------------------------------------------------

# Model keys: conv1a.conv.weight ... conv5b.conv.bias, fc6.*, fc7.*, fc8.*. Each layout names them
# in its file; keys a file has beyond these are reported under their own name by the strict check.
# DavideA/c3d-pytorch names its first two convs conv1, conv2 (the others as the paper).
_PICKLE_CONV = {"conv1a": "conv1", "conv2a": "conv2", **{n: n for n in C3D_CONV_NAMES[2:]}}


def _c3d_pickle_name(key: str) -> str | None:
    module, _, leaf = key.partition(".")
    if module in _PICKLE_CONV and leaf in ("conv.weight", "conv.bias"):
        return f"{_PICKLE_CONV[module]}.{leaf[len('conv.'):]}"
    return key if module in ("fc6", "fc7", "fc8") else None


def _mmaction2_c3d_name(key: str) -> str | None:
    if key.startswith("fc8."):
        return "cls_head.fc_cls." + key[len("fc8."):]
    return "backbone." + key


register_layout(CheckpointLayout(
    name="c3d-pickle",
    families=frozenset({"c3d"}),
    detect=lambda state: "conv1.weight" in state and "conv3a.weight" in state,
    convert=lambda state, model: remap_keys(state, model, _c3d_pickle_name),
    description="DavideA/c3d-pytorch c3d.pickle: torch.save'd state dict, conv1, conv2, conv3a..conv5b, fc6-fc8",
    extensions=(".pickle",),
    foreign_name=_c3d_pickle_name,
))
register_layout(CheckpointLayout(
    name="mmaction2-c3d",
    families=frozenset({"c3d"}),
    detect=lambda state: "backbone.conv1a.conv.weight" in state,
    convert=lambda state, model: remap_keys(state, model, _mmaction2_c3d_name),
    description="MMAction2 Recognizer3D(C3D, I3DHead): backbone.conv1a.conv.*, backbone.fc6/fc7, cls_head.fc_cls",
    extensions=(".pth",),
    foreign_name=_mmaction2_c3d_name,
))
