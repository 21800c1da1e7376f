"""Single-frame, early, late and slow fusion networks (Karpathy et al. 2014).

Karpathy, Toderici, Shetty, Leung, Sukthankar, Fei-Fei, "Large-scale Video Classification with
Convolutional Neural Networks", CVPR 2014. Every network shares one column, in the paper's notation
``C(filters, size, stride)``, ``N`` local response normalisation, ``P`` 2x2 max pooling::

    C(96,11,3)-N-P-C(256,5,1)-N-P-C(384,3,1)-C(384,3,1)-C(256,3,1)-P-FC(4096)-FC(4096)-classifier

on 170x170 crops. The column is written with 3D convolutions whose temporal extent and stride differ
per layer, so one module gives the four connectivity patterns:

=============  ===========================  ==========================================
fusion         temporal extents / strides   steps scored (and averaged) for T frames
=============  ===========================  ==========================================
single frame   1,1,1,1,1 / 1,1,1,1,1        T (every frame alone: it cannot see motion)
early          10,1,1,1,1 / 1,1,1,1,1       T - 9 (sliding 10-frame windows)
late           tower on 2 frames, merged    1 (towers on frames i and j, shared weights,
               at FC6                         concatenated at the first FC)
slow           4,2,2,1,1 / 2,2,2,1,1        1 on 10 frames (4 -> 2 -> 1 responses in time)
=============  ===========================  ==========================================

Data flow (single frame, 170x170, width 1)::

    (B, 3, T, 170, 170) -> C(96,11,3)+ReLU+N+P -> (B, 96, T, 27, 27)
      -> C(256,5,1)+ReLU+N+P -> (B, 256, T, 14, 14) -> C(384)+C(384)+C(256)+P -> (B, 256, T, 7, 7)
      -> per step flatten (B, T, 12544) -> FC6 -> FC7 (B, T, 4096) -> mean over T (B, 4096)
      -> classifier (B, num_classes)

Choices the paper leaves open, fixed here:

* Padding: none in conv1, "same" (``size // 2``) in conv2-conv5; pooling rounds up (``ceil_mode``, as
  cuda-convnet and Caffe do). With these, a 170 crop ends in 7x7x256, and so does an 89 stream of the
  multiresolution network once its last pooling is removed - the size the paper states for both.
* Normalisation ``N``: Krizhevsky's LRN with the paper's k=2, n=5, alpha=1e-4, beta=0.5, as
  ``nn.LocalResponseNorm`` (which divides alpha by n, as cuda-convnet and Caffe do). ReLU follows
  every conv and FC (conv -> ReLU -> N -> P, as AlexNet).
* Dropout 0.5 after FC6 and FC7 (AlexNet practice; the paper does not say).
* Late fusion: the towers run up to and including the last pooling; the paper places the frames 15
  apart; here the default is the first and last frame of the clip (0 and 15 of a 16-frame clip).
* Early fusion on a clip longer than its 10-frame extent slides over every 10-frame window and
  averages the windows' predictions (the paper scores 20 clips per video and averages).
* Multiresolution: the context stream sees the whole crop average-pooled 2x (178 -> 89), the fovea
  stream the centre half at full resolution (89); the two streams have their own weights and meet at
  FC6 (concatenated).
* Weight initialisation is PyTorch's default.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
import torchvision
from torch import nn

from vidlearn.models.classifier import ClassifierMixin
from vidlearn.models.layers import MaxPool3d
from vidlearn.models.registry import register_model

__all__ = [
    "FusionNet",
    "KarpathyColumn",
    "early_fusion",
    "karpathy_lrn",
    "late_fusion",
    "single_frame",
    "single_frame_multires",
    "slow_fusion",
    "torchvision_backbone",
]

PAPER = "Karpathy et al., Large-scale Video Classification with Convolutional Neural Networks, CVPR 2014"
SPORTS1M_CLASSES = 487

# (filters, spatial size, spatial stride, LRN + pool after, pool after)
_COLUMN = ((96, 11, 3, True, True), (256, 5, 1, True, True), (384, 3, 1, False, False),
           (384, 3, 1, False, False), (256, 3, 1, False, True))

FUSIONS = ("single", "early", "late", "slow")
_TEMPORAL = {  # (temporal extents, temporal strides) of the five convs
    "single": ((1, 1, 1, 1, 1), (1, 1, 1, 1, 1)),
    "late": ((1, 1, 1, 1, 1), (1, 1, 1, 1, 1)),
    "early": ((10, 1, 1, 1, 1), (1, 1, 1, 1, 1)),
    "slow": ((4, 2, 2, 1, 1), (2, 2, 2, 1, 1)),
}

ConvLayer = Callable[..., nn.Module]
NormLayer = Callable[[int], nn.Module]


def karpathy_lrn(num_channels: int) -> nn.Module:
    """The paper's normalisation ``N``: LRN over 5 channels, k=2, alpha=1e-4, beta=0.5."""
    del num_channels  # LRN has no parameters; the argument keeps the norm-layer signature
    return nn.LocalResponseNorm(5, alpha=1e-4, beta=0.5, k=2.0)


def _scaled(channels: int, width_multiplier: float) -> int:
    return max(1, round(channels * width_multiplier))


def _pool_out(size: int) -> int:
    return math.ceil(size / 2)  # 2x2 stride-2 pooling with ceil_mode


class KarpathyColumn(nn.Module):
    """The paper's conv column as 3D convs: ``(B, C, T, H, W) -> (B, 256w, T', H', W')``.

    ``temporal_kernels`` / ``temporal_strides`` give each conv's extent and stride in time (valid
    convolution in time, so ``T' = (T - k) // s + 1`` per layer). ``conv_layer`` is called as
    ``conv_layer(in, out, kernel_size=(t, k, k), stride=(s_t, s, s), padding=(0, p, p))``;
    ``norm_layer(channels)`` gives ``N`` (``None`` for none); ``last_pool=False`` drops the final
    pooling (the multiresolution streams).
    """

    def __init__(
        self,
        in_channels: int = 3,
        *,
        temporal_kernels: Sequence[int] = (1, 1, 1, 1, 1),
        temporal_strides: Sequence[int] = (1, 1, 1, 1, 1),
        width_multiplier: float = 1.0,
        conv_layer: ConvLayer = nn.Conv3d,
        norm_layer: NormLayer | None = karpathy_lrn,
        activation_layer: Callable[[], nn.Module] = nn.ReLU,
        last_pool: bool = True,
    ) -> None:
        super().__init__()
        if len(temporal_kernels) != 5 or len(temporal_strides) != 5:
            raise ValueError(f"need 5 temporal kernels and strides, got {temporal_kernels} and {temporal_strides}")
        if width_multiplier <= 0:
            raise ValueError(f"width_multiplier must be positive, got {width_multiplier}")
        self.temporal_kernels = tuple(temporal_kernels)
        self.temporal_strides = tuple(temporal_strides)
        self.last_pool = last_pool
        layers: list[nn.Module] = []
        channels = in_channels
        for index, (filters, size, stride, normalise, pool) in enumerate(_COLUMN):
            out = _scaled(filters, width_multiplier)
            layers.append(conv_layer(channels, out, kernel_size=(self.temporal_kernels[index], size, size),
                                     stride=(self.temporal_strides[index], stride, stride),
                                     padding=(0, 0 if index == 0 else size // 2, 0 if index == 0 else size // 2)))
            layers.append(activation_layer())
            if normalise and norm_layer is not None:
                layers.append(norm_layer(out))
            if pool and (index < 4 or last_pool):
                layers.append(MaxPool3d((1, 2, 2), stride=(1, 2, 2), ceil_mode=True))
            channels = out
        self.layers = nn.Sequential(*layers)
        self.out_channels = channels

    def output_size(self, num_frames: int, size: int) -> tuple[int, int]:
        """``(T', H')`` for an input of ``num_frames`` frames of ``size x size``; errors if too small."""
        frames = num_frames
        for kernel, stride in zip(self.temporal_kernels, self.temporal_strides):
            if frames < kernel:
                raise ValueError(f"the column needs at least {self.min_frames} frames, got {num_frames}")
            frames = (frames - kernel) // stride + 1
        if size < 11:
            raise ValueError(f"crop size {size} is smaller than the 11x11 first conv")
        spatial = _pool_out((size - 11) // 3 + 1)
        spatial = _pool_out(spatial)
        if self.last_pool:
            spatial = _pool_out(spatial)
        return frames, spatial

    @property
    def min_frames(self) -> int:
        """Fewest input frames giving one output step."""
        frames = 1
        for kernel, stride in reversed(list(zip(self.temporal_kernels, self.temporal_strides))):
            frames = (frames - 1) * stride + kernel
        return frames

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


def torchvision_backbone(name: str, *, in_channels: int = 3) -> tuple[nn.Module, int]:
    """A torchvision 2D classifier without its last layer: ``(N, in_channels, H, W) -> (N, D)``.

    ResNet family (``resnet18`` ... ``resnext*``, ``wide_resnet*``) and VGG (``vgg11`` ...
    ``vgg19_bn``), built with ``weights=None`` (nothing is downloaded). When ``in_channels != 3`` the
    first conv is rebuilt with ``in_channels`` inputs (see
    :func:`vidlearn.recognition.models.two_stream.cross_modality_weight` to initialise it from RGB
    weights). Returns the module and ``D`` (512 for ResNet-18/34, 2048 for ResNet-50, 4096 for VGG).
    """
    try:
        net = torchvision.models.get_model(name, weights=None)
    except ValueError as error:
        raise ValueError(f"unknown torchvision backbone {name!r}: {error}") from None
    if hasattr(net, "fc") and hasattr(net, "conv1"):
        dim = net.fc.in_features
        net.fc = nn.Identity()
        first = "conv1"
    elif name.startswith("vgg"):
        dim = net.classifier[-1].in_features
        net.classifier[-1] = nn.Identity()
        first = "features.0"
    else:
        raise ValueError(f"backbone {name!r} is not supported; use a ResNet (e.g. 'resnet18') or a VGG")
    if in_channels != 3:
        parent_name, _, attr = first.rpartition(".")
        parent = net.get_submodule(parent_name) if parent_name else net
        old: nn.Conv2d = getattr(parent, attr)
        setattr(parent, attr, nn.Conv2d(in_channels, old.out_channels, old.kernel_size, old.stride,
                                        old.padding, bias=old.bias is not None))
    return net, dim


class _ColumnTower(nn.Module):
    """Column + per-step flatten: ``(B, C, T, H, W) -> (B, S, C' H' W')``."""

    def __init__(self, column: KarpathyColumn) -> None:
        super().__init__()
        self.column = column

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        maps = self.column(x)  # (B, C', S, h, w)
        return maps.permute(0, 2, 1, 3, 4).flatten(2)


class _BackboneTower(nn.Module):
    """A 2D backbone per frame, or per ``window``-frame stack (early fusion): ``(B, S, D)``."""

    def __init__(self, backbone: nn.Module, window: int) -> None:
        super().__init__()
        self.backbone = backbone
        self.window = window

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, channels, frames, height, width = x.shape
        if self.window == 1:
            stacks = x.transpose(1, 2).reshape(batch * frames, channels, height, width)
            steps = frames
        else:  # every window of `window` frames stacked into channels: a 3D conv of that extent
            windows = x.unfold(2, self.window, 1)  # (B, C, S, H, W, window)
            steps = windows.shape[2]
            stacks = windows.permute(0, 2, 1, 5, 3, 4).reshape(batch * steps, channels * self.window, height, width)
        return self.backbone(stacks).reshape(batch, steps, -1)


class FusionNet(ClassifierMixin, nn.Module):
    """A Karpathy et al. 2014 fusion network: ``(B, C, T, H, W) -> (B, num_classes)``.

    See the module docstring for the data flow and the choices made. ``fusion`` is one of
    ``"single"``, ``"early"``, ``"late"``, ``"slow"``. ``backbone=None`` uses the paper's column on
    ``crop_size`` crops; a torchvision name (``"resnet18"``) uses that 2D network as the tower
    (not for slow fusion, whose 3D connectivity has no 2D counterpart) on any input size.

    Args:
        fusion: the connectivity, see the table in the module docstring.
        num_classes: classifier size (487 Sports-1M classes in the paper).
        in_channels: input channels (3 for RGB).
        crop_size: the square input the column is built for (170; 178 for multires); FC6's input
            depends on it, so a different input size needs a model built for it.
        width_multiplier: scales every conv width (0.25 gives 24-64-96-96-64 filters).
        fc_dim, num_fc: width and number of the FC layers before the classifier (4096 x 2 for the
            column; one FC of 512 for a torchvision backbone, where late fusion merges).
        dropout: after each FC layer.
        multires: fovea + context streams on half-size inputs.
        early_frames: temporal extent of early fusion's first conv (10 in the paper).
        late_fusion_frames: the two frame indices late fusion merges (default first and last; the
            paper's are 15 frames apart).
        backbone: ``None`` for the paper's column, or a torchvision 2D network name.
        conv_layer, norm_layer, activation_layer: the column's building blocks (``norm_layer=None``
            drops ``N``; ``nn.BatchNorm3d`` trains faster from scratch on small data).
    """

    def __init__(
        self,
        *,
        fusion: str,
        num_classes: int,
        in_channels: int = 3,
        crop_size: int = 170,
        width_multiplier: float = 1.0,
        fc_dim: int | None = None,
        num_fc: int | None = None,
        dropout: float = 0.5,
        multires: bool = False,
        early_frames: int = 10,
        late_fusion_frames: tuple[int, int] = (0, -1),
        backbone: str | None = None,
        conv_layer: ConvLayer = nn.Conv3d,
        norm_layer: NormLayer | None = karpathy_lrn,
        activation_layer: Callable[[], nn.Module] = nn.ReLU,
    ) -> None:
        super().__init__()
        if fusion not in FUSIONS:
            raise ValueError(f"unknown fusion {fusion!r}; choose one of {FUSIONS}")
        if num_classes < 1:
            raise ValueError(f"num_classes must be positive, got {num_classes}")
        if multires and crop_size % 2:
            raise ValueError(f"the multiresolution network needs an even crop size, got {crop_size}")
        if fusion == "early" and early_frames < 1:
            raise ValueError(f"early_frames must be positive, got {early_frames}")
        self.fusion = fusion
        self.in_channels = in_channels
        self.crop_size = crop_size if backbone is None else None
        self.multires = multires
        self.late_fusion_frames = tuple(late_fusion_frames)
        if len(self.late_fusion_frames) != 2:
            raise ValueError(f"late_fusion_frames must be two frame indices, got {late_fusion_frames}")
        stream_size = crop_size // 2 if multires else crop_size
        num_streams = 2 if multires else 1
        if backbone is None:
            kernels, strides = _TEMPORAL[fusion]
            if fusion == "early":
                kernels = (early_frames, *kernels[1:])
            columns = [KarpathyColumn(in_channels, temporal_kernels=kernels, temporal_strides=strides,
                                      width_multiplier=width_multiplier, conv_layer=conv_layer,
                                      norm_layer=norm_layer, activation_layer=activation_layer,
                                      last_pool=not multires) for _ in range(num_streams)]
            self.min_frames = columns[0].min_frames
            _, side = columns[0].output_size(self.min_frames, stream_size)
            step_dim = columns[0].out_channels * side * side
            self.towers = nn.ModuleList(_ColumnTower(column) for column in columns)
            fc_dim = 4096 if fc_dim is None else fc_dim
            num_fc = 2 if num_fc is None else num_fc
        else:
            if fusion == "slow":
                raise ValueError("slow fusion is defined on the paper's 3D column only; use backbone=None")
            window = early_frames if fusion == "early" else 1
            self.min_frames = window
            towers = []
            for _ in range(num_streams):
                net, step_dim = torchvision_backbone(backbone, in_channels=in_channels * window)
                towers.append(_BackboneTower(net, window))
            self.towers = nn.ModuleList(towers)
            fc_dim = 512 if fc_dim is None else fc_dim
            num_fc = 1 if num_fc is None else num_fc
        step_dim *= num_streams * (2 if fusion == "late" else 1)
        if fusion == "late" and num_fc < 1:
            raise ValueError("late fusion merges its towers in a fully connected layer; num_fc must be >= 1")
        head: list[nn.Module] = []
        for _ in range(num_fc):
            head += [nn.Linear(step_dim, fc_dim), activation_layer(), nn.Dropout(dropout)]
            step_dim = fc_dim
        self.head = nn.Sequential(*head)
        self.num_features = step_dim
        self.classifier = nn.Linear(step_dim, num_classes)

    def _check_input(self, x: torch.Tensor) -> None:
        if x.dim() != 5 or x.shape[1] != self.in_channels:
            raise ValueError(f"expected input (B, {self.in_channels}, T, H, W), got {tuple(x.shape)}")
        if self.crop_size is not None and (x.shape[3] != self.crop_size or x.shape[4] != self.crop_size):
            raise ValueError(f"this network was built for {self.crop_size}x{self.crop_size} crops, got "
                             f"{x.shape[3]}x{x.shape[4]}; build it with crop_size={x.shape[3]} for that input")
        needed = 1 if self.fusion == "late" else self.min_frames
        if x.shape[2] < needed:
            raise ValueError(f"{self.fusion} fusion needs at least {needed} frames, got {x.shape[2]}")

    def forward_steps(self, x: torch.Tensor) -> torch.Tensor:
        """Per-step features after the FC layers: ``(B, C, T, H, W) -> (B, S, D)``."""
        self._check_input(x)
        if self.fusion == "late":
            frames = x.shape[2]
            first, last = self.late_fusion_frames
            if not (-frames <= first < frames and -frames <= last < frames):
                raise ValueError(f"late_fusion_frames {self.late_fusion_frames} out of range for {frames} frames")
            x = torch.stack((x[:, :, first], x[:, :, last]), dim=2)
        if self.multires:
            size = x.shape[-1]
            start = size // 4
            fovea = x[..., start:start + size // 2, start:start + size // 2]
            context = nn.functional.avg_pool3d(x, (1, 2, 2))
            steps = torch.cat((self.towers[0](fovea), self.towers[1](context)), dim=2)
        else:
            steps = self.towers[0](x)
        if self.fusion == "late":  # the two frames' towers meet in the first FC
            steps = steps.flatten(1).unsqueeze(1)
        return self.head(steps)

    def forward_features(self, x: torch.Tensor, *, layer: str | None = None) -> torch.Tensor:
        """``(B, C, T, H, W) -> (B, D)``: FC7 features averaged over the scored steps."""
        self._feature_layer(layer)
        return self.forward_steps(x).mean(dim=1)

    def forward(self, x: torch.Tensor, return_per_step: bool = False) -> torch.Tensor:
        """Logits ``(B, num_classes)``, the mean over steps; ``(B, S, num_classes)`` if asked."""
        if return_per_step:
            return self.classifier(self.forward_steps(x))
        # the classifier is linear, so classifying the mean feature equals averaging the step logits
        return self.classifier(self.forward_features(x))


_SMALL = {"width_multiplier": 0.25, "fc_dim": 64, "crop_size": 32, "num_classes": 5, "dropout": 0.0}


@register_model("single_frame", paper=PAPER, input_shape=(3, 1, 170, 170),
                default_num_classes=SPORTS1M_CLASSES, small_input_shape=(3, 4, 32, 32), family="fusion",
                small_kwargs=_SMALL)
def single_frame(*, num_classes: int = SPORTS1M_CLASSES, **kwargs: object) -> FusionNet:
    """Single-frame network: each frame scored alone, predictions averaged over the T frames."""
    return FusionNet(fusion="single", num_classes=num_classes, **kwargs)


@register_model("single_frame_multires", paper=PAPER, input_shape=(3, 1, 178, 178),
                default_num_classes=SPORTS1M_CLASSES, small_input_shape=(3, 2, 64, 64), family="fusion",
                small_kwargs={**_SMALL, "crop_size": 64})
def single_frame_multires(*, num_classes: int = SPORTS1M_CLASSES, crop_size: int = 178,
                          **kwargs: object) -> FusionNet:
    """Single-frame multiresolution network: fovea (centre 89) and context (whole, halved) streams."""
    return FusionNet(fusion="single", num_classes=num_classes, multires=True, crop_size=crop_size, **kwargs)


@register_model("early_fusion", paper=PAPER, input_shape=(3, 10, 170, 170),
                default_num_classes=SPORTS1M_CLASSES, small_input_shape=(3, 10, 32, 32), family="fusion",
                small_kwargs=_SMALL)
def early_fusion(*, num_classes: int = SPORTS1M_CLASSES, **kwargs: object) -> FusionNet:
    """Early fusion: the first conv spans 10 frames (11x11x3x10 filters)."""
    return FusionNet(fusion="early", num_classes=num_classes, **kwargs)


@register_model("late_fusion", paper=PAPER, input_shape=(3, 16, 170, 170),
                default_num_classes=SPORTS1M_CLASSES, small_input_shape=(3, 16, 32, 32), family="fusion",
                small_kwargs=_SMALL)
def late_fusion(*, num_classes: int = SPORTS1M_CLASSES, **kwargs: object) -> FusionNet:
    """Late fusion: two shared-weight single-frame towers (first and last frame) merged at FC6."""
    return FusionNet(fusion="late", num_classes=num_classes, **kwargs)


@register_model("slow_fusion", paper=PAPER, input_shape=(3, 10, 170, 170),
                default_num_classes=SPORTS1M_CLASSES, small_input_shape=(3, 10, 32, 32), family="fusion",
                small_kwargs=_SMALL)
def slow_fusion(*, num_classes: int = SPORTS1M_CLASSES, **kwargs: object) -> FusionNet:
    """Slow fusion: 3D convs of temporal extent 4, 2, 2 and stride 2 over 10 frames."""
    return FusionNet(fusion="slow", num_classes=num_classes, **kwargs)
