"""Two-stream networks (Simonyan & Zisserman 2014) with score fusion and cross-modality initialisation.

Simonyan, Zisserman, "Two-Stream Convolutional Networks for Action Recognition in Videos", NIPS 2014.
A spatial stream scores RGB frames; a temporal stream scores a stack of ``L = 10`` optical-flow fields;
their class scores are fused::

    rgb  (B, 3, T, H, W) -> per frame CNN (B*T, 3, H, W) -> (B, T, K) -> mean over T -> (B, K) ----\\
                                                                                             fuse -> (B, K)
    flow (B, 2, L, H, W) -> interleave (B, 2L, H, W) [2k: x of frame k, 2k+1: y] -> CNN -> (B, K) -/

The default CNN is CNN-M-2048 (Chatfield et al. 2014), the paper's network (Fig. 1), on 224 crops::

    conv1 96 7x7/2 + ReLU + LRN + pool 3x3/2 -> (96, 54, 54)
    conv2 256 5x5/2 pad 1 + ReLU + LRN + pool -> (256, 13, 13)    (no LRN in the temporal stream)
    conv3, conv4, conv5 512 3x3 pad 1 + ReLU, pool -> (512, 6, 6) -> full6 4096 -> full7 2048 -> K

Choices the paper leaves open, fixed here: pooling is 3x3 stride 2 rounding up (CNN-M's "x2 pool",
Caffe's ``ceil_mode``); LRN n=5, alpha=5e-4, beta=0.75, k=2 in Caffe's alpha/n convention (the
released CNN-M constants); dropout 0.5 after full6 and full7 (the paper compares 0.5 and 0.9); the
temporal stream subtracts each flow field's mean vector (the paper's camera-motion compensation) unless
``subtract_mean_flow=False``. A torchvision ResNet or VGG may replace CNN-M (``backbone="resnet18"``).

Fusion (Sec. 6 of the paper): averaging the softmax scores, a weighted average (TSN, Wang et al. 2016,
weighs flow 1.5 : RGB 1), both returned as the log of the fused probabilities so the contract's
"logits" hold (softmax of the output gives the fused scores back); or a linear SVM on the stacked
L2-normalised softmax scores (:class:`ScoreFusion`). Cross-modality initialisation (Wang et al. 2016):
:func:`cross_modality_weight` and :func:`init_temporal_from_spatial`.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import nn

from vidlearn.models.classifier import ClassifierMixin
from vidlearn.models.registry import register_model
from vidlearn.recognition.models.fusion import torchvision_backbone

__all__ = [
    "CNNM2048",
    "ScoreFusion",
    "SpatialStream",
    "TemporalStream",
    "TwoStreamNetwork",
    "cross_modality_weight",
    "init_temporal_from_spatial",
    "stack_flow",
    "two_stream",
    "two_stream_spatial",
    "two_stream_spatial_resnet18",
    "two_stream_temporal",
    "two_stream_temporal_resnet18",
]

PAPER = "Simonyan & Zisserman, Two-Stream Convolutional Networks for Action Recognition in Videos, NIPS 2014"
UCF101_CLASSES = 101
FLOW_FRAMES = 10


def cnn_m_lrn(num_channels: int) -> nn.Module:
    """CNN-M's local response normalisation (n=5, alpha=5e-4, beta=0.75, k=2)."""
    del num_channels  # no parameters; the argument keeps the norm-layer signature
    return nn.LocalResponseNorm(5, alpha=5e-4, beta=0.75, k=2.0)


def _pool_out(size: int) -> int:
    return math.ceil((size - 3) / 2) + 1  # 3x3 stride-2 max pooling, ceil_mode, no padding


class CNNM2048(nn.Module):
    """CNN-M-2048 without its classifier: ``(N, C, H, W) -> (N, fc_dims[-1])`` (see the module doc).

    ``conv2_norm=False`` gives the temporal stream's variant. ``crop_size`` fixes full6's input;
    ``width_multiplier`` scales the conv widths and ``fc_dims`` the FC widths (CPU-sized variants).
    """

    def __init__(
        self,
        in_channels: int = 3,
        *,
        conv2_norm: bool = True,
        crop_size: int = 224,
        width_multiplier: float = 1.0,
        fc_dims: Sequence[int] = (4096, 2048),
        dropout: float = 0.5,
        conv_layer: Callable[..., nn.Module] = nn.Conv2d,
        norm_layer: Callable[[int], nn.Module] | None = cnn_m_lrn,
        activation_layer: Callable[[], nn.Module] = nn.ReLU,
    ) -> None:
        super().__init__()
        if width_multiplier <= 0:
            raise ValueError(f"width_multiplier must be positive, got {width_multiplier}")
        widths = [max(1, round(c * width_multiplier)) for c in (96, 256, 512, 512, 512)]
        # (kernel, stride, padding, normalise, pool) for conv1..conv5
        spec = ((7, 2, 0, True, True), (5, 2, 1, conv2_norm, True), (3, 1, 1, False, False),
                (3, 1, 1, False, False), (3, 1, 1, False, True))
        # named layers (conv1, norm1, pool1, ...) keep the spatial and temporal streams' keys aligned
        # although the temporal stream lacks norm2
        layers: dict[str, nn.Module] = {}
        channels, side = in_channels, crop_size
        for index, (width, (kernel, stride, padding, normalise, pool)) in enumerate(zip(widths, spec), start=1):
            layers[f"conv{index}"] = conv_layer(channels, width, kernel_size=kernel, stride=stride, padding=padding)
            layers[f"relu{index}"] = activation_layer()
            if normalise and norm_layer is not None:
                layers[f"norm{index}"] = norm_layer(width)
            side = (side + 2 * padding - kernel) // stride + 1
            if pool:
                if side < 3:
                    raise ValueError(f"crop size {crop_size} is too small for CNN-M-2048 (the smallest is 57)")
                layers[f"pool{index}"] = nn.MaxPool2d(3, stride=2, ceil_mode=True)
                side = _pool_out(side)
            channels = width
        self.features = nn.Sequential(OrderedDict(layers))
        self.crop_size = crop_size
        head: list[nn.Module] = [nn.Flatten()]
        dim = channels * side * side
        for fc_dim in fc_dims:
            head += [nn.Linear(dim, fc_dim), activation_layer(), nn.Dropout(dropout)]
            dim = fc_dim
        self.head = nn.Sequential(*head)
        self.out_features = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-2:] != (self.crop_size, self.crop_size):
            raise ValueError(f"CNN-M-2048 was built for {self.crop_size}x{self.crop_size} crops, got "
                             f"{x.shape[-2]}x{x.shape[-1]}; build it with crop_size={x.shape[-1]}")
        return self.head(self.features(x))


def _backbone(backbone: str, in_channels: int, conv2_norm: bool, **kwargs: object) -> tuple[nn.Module, int]:
    if backbone == "cnn_m_2048":
        net = CNNM2048(in_channels, conv2_norm=conv2_norm, **kwargs)
        return net, net.out_features
    if kwargs:
        raise ValueError(f"options {sorted(kwargs)} apply to the cnn_m_2048 backbone only, not {backbone!r}")
    return torchvision_backbone(backbone, in_channels=in_channels)


def stack_flow(flow: torch.Tensor, num_frames: int | None = None) -> torch.Tensor:
    """Flow clip ``(B, 2, L, H, W)`` -> ``(B, 2L, H, W)``, channel ``2k`` = x and ``2k+1`` = y of frame k.

    A tensor already stacked, ``(B, 2L, H, W)``, is returned unchanged. ``num_frames`` checks ``L``.
    """
    if flow.dim() == 5:
        if flow.shape[1] != 2:
            raise ValueError(f"a flow clip is (B, 2, L, H, W) with x and y fields, got {tuple(flow.shape)}")
        flow = flow.transpose(1, 2).flatten(1, 2)  # (B, L, 2, H, W) -> (B, 2L, H, W)
    elif flow.dim() != 4:
        raise ValueError(f"expected flow (B, 2, L, H, W) or (B, 2L, H, W), got {tuple(flow.shape)}")
    if num_frames is not None and flow.shape[1] != 2 * num_frames:
        raise ValueError(f"expected {num_frames} flow fields ({2 * num_frames} channels), got {flow.shape[1]} channels")
    return flow


class SpatialStream(ClassifierMixin, nn.Module):
    """RGB stream: ``(B, 3, T, H, W)`` (or one frame ``(B, 3, H, W)``) -> ``(B, K)``, frames averaged."""

    def __init__(self, *, num_classes: int, backbone: str = "cnn_m_2048", **kwargs: object) -> None:
        super().__init__()
        self.backbone, self.num_features = _backbone(backbone, 3, True, **kwargs)
        self.classifier = nn.Linear(self.num_features, num_classes)

    def forward_steps(self, x: torch.Tensor) -> torch.Tensor:
        """Per-frame features ``(B, T, D)``."""
        if x.dim() == 4:
            x = x.unsqueeze(2)
        if x.dim() != 5 or x.shape[1] != 3:
            raise ValueError(f"expected RGB (B, 3, T, H, W), got {tuple(x.shape)}")
        batch, frames = x.shape[0], x.shape[2]
        return self.backbone(x.transpose(1, 2).flatten(0, 1)).reshape(batch, frames, -1)

    def forward_features(self, x: torch.Tensor, *, layer: str | None = None) -> torch.Tensor:
        self._feature_layer(layer)
        return self.forward_steps(x).mean(dim=1)

    def forward(self, x: torch.Tensor, return_per_step: bool = False) -> torch.Tensor:
        if return_per_step:
            return self.classifier(self.forward_steps(x))
        return self.classifier(self.forward_features(x))  # linear: equals the mean of per-frame logits


class TemporalStream(ClassifierMixin, nn.Module):
    """Flow stream: ``(B, 2, L, H, W)`` or ``(B, 2L, H, W)`` -> ``(B, K)`` (see :func:`stack_flow`)."""

    def __init__(self, *, num_classes: int, num_flow_frames: int = FLOW_FRAMES, backbone: str = "cnn_m_2048",
                 subtract_mean_flow: bool = True, **kwargs: object) -> None:
        super().__init__()
        if num_flow_frames < 1:
            raise ValueError(f"num_flow_frames must be positive, got {num_flow_frames}")
        self.num_flow_frames = num_flow_frames
        self.subtract_mean_flow = subtract_mean_flow
        self.backbone, self.num_features = _backbone(backbone, 2 * num_flow_frames, False, **kwargs)
        self.classifier = nn.Linear(self.num_features, num_classes)

    def forward_features(self, x: torch.Tensor, *, layer: str | None = None) -> torch.Tensor:
        self._feature_layer(layer)
        x = stack_flow(x, self.num_flow_frames)
        if self.subtract_mean_flow:  # removes a global (camera) translation from every field
            x = x - x.mean(dim=(2, 3), keepdim=True)
        return self.backbone(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.forward_features(x))


def cross_modality_weight(rgb_weight: torch.Tensor, in_channels: int) -> torch.Tensor:
    """TSN's cross-modality initialisation: ``(O, 3, *k) -> (O, in_channels, *k)``.

    The RGB filters are averaged over their input channels and the mean repeated ``in_channels`` times
    (``2L`` for a flow stack), so a pretrained first conv starts on flow input.
    """
    if rgb_weight.dim() < 3 or rgb_weight.shape[1] != 3:
        raise ValueError(f"expected RGB conv weights (O, 3, ...), got {tuple(rgb_weight.shape)}")
    if in_channels < 1:
        raise ValueError(f"in_channels must be positive, got {in_channels}")
    mean = rgb_weight.mean(dim=1, keepdim=True)
    return mean.expand(-1, in_channels, *rgb_weight.shape[2:]).contiguous()


@torch.no_grad()
def init_temporal_from_spatial(temporal: TemporalStream, spatial: SpatialStream) -> None:
    """Copy a spatial stream's weights into a temporal stream of the same backbone.

    The first conv goes through :func:`cross_modality_weight`; every other tensor of matching name and
    shape is copied. CNN-M's LRN has no weights, so its absence in the temporal conv2 changes nothing.
    """
    source = spatial.state_dict()
    target = temporal.state_dict()
    first_conv = next(name for name, value in target.items() if name.endswith("weight") and value.dim() == 4)
    copied = {}
    for name, value in target.items():
        if name == first_conv:
            copied[name] = cross_modality_weight(source[name], value.shape[1])
        elif name in source and source[name].shape == value.shape:
            copied[name] = source[name]
        else:
            copied[name] = value
    temporal.load_state_dict(copied, strict=True)


class TwoStreamNetwork(ClassifierMixin, nn.Module):
    """Spatial + temporal streams fused late: ``forward(rgb, flow) -> (B, K)`` log fused probabilities.

    ``fusion="average"`` weighs both streams' softmax scores 1:1, ``"weighted"`` uses ``weights``
    (spatial, temporal), normalised to sum to 1. The output is ``log(sum_i w_i softmax(s_i))``.
    """

    classifier_name = {"spatial": "spatial.classifier", "temporal": "temporal.classifier"}

    def __init__(self, spatial: SpatialStream, temporal: TemporalStream, *, fusion: str = "average",
                 weights: tuple[float, float] = (1.0, 1.5)) -> None:
        super().__init__()
        if fusion not in ("average", "weighted"):
            raise ValueError(f"unknown fusion {fusion!r}; choose 'average' or 'weighted' (ScoreFusion for the SVM)")
        if fusion == "weighted" and (len(weights) != 2 or min(weights) < 0 or sum(weights) <= 0):
            raise ValueError(f"weights must be two non-negative numbers with a positive sum, got {weights}")
        self.spatial = spatial
        self.temporal = temporal
        self.fusion = fusion
        pair = (1.0, 1.0) if fusion == "average" else tuple(float(w) for w in weights)
        self.register_buffer("log_weights", torch.tensor(pair).div(sum(pair)).log(), persistent=False)

    def forward_features(self, rgb: torch.Tensor, flow: torch.Tensor, *, layer: str | None = None) -> torch.Tensor:
        """Both streams' features, concatenated: ``(B, D_spatial + D_temporal)``."""
        self._feature_layer(layer)
        return torch.cat((self.spatial.forward_features(rgb), self.temporal.forward_features(flow)), dim=1)

    def forward(self, rgb: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
        log_probs = torch.stack((self.spatial(rgb).log_softmax(-1), self.temporal(flow).log_softmax(-1)))
        return torch.logsumexp(log_probs + self.log_weights.view(2, 1, 1), dim=0)


class ScoreFusion:
    """Fuses per-stream class scores: ``"average"``, ``"weighted"`` or ``"svm"`` (the paper's best).

    ``scores_list`` holds one ``(N, K)`` array or tensor per stream: logits (``inputs="logits"``, turned
    into softmax scores) or probabilities. The SVM is scikit-learn's ``LinearSVC`` (one-vs-rest, ``C``)
    on the streams' L2-normalised softmax scores stacked into ``(N, S*K)``, as the paper does.
    """

    def __init__(self, method: str = "svm", *, weights: Sequence[float] | None = None, C: float = 1.0,
                 inputs: str = "logits") -> None:
        if method not in ("average", "weighted", "svm"):
            raise ValueError(f"unknown fusion method {method!r}; choose 'average', 'weighted' or 'svm'")
        if inputs not in ("logits", "probabilities"):
            raise ValueError(f"inputs must be 'logits' or 'probabilities', got {inputs!r}")
        if method == "weighted" and weights is None:
            raise ValueError("weighted fusion needs weights, one per stream")
        self.method = method
        self.weights = None if weights is None else np.asarray(weights, dtype=np.float64)
        self.C = C
        self.inputs = inputs
        self.svm = None

    def _probabilities(self, scores_list: Sequence[np.ndarray | torch.Tensor]) -> list[np.ndarray]:
        if len(scores_list) == 0:
            raise ValueError("scores_list is empty; pass one (N, K) score array per stream")
        arrays = [s.detach().cpu().double().numpy() if isinstance(s, torch.Tensor) else np.asarray(s, np.float64)
                  for s in scores_list]
        if any(a.ndim != 2 or a.shape != arrays[0].shape for a in arrays):
            raise ValueError(f"every stream's scores must be (N, K) of one shape, got {[a.shape for a in arrays]}")
        if self.inputs == "logits":
            arrays = [np.exp(a - a.max(axis=1, keepdims=True)) for a in arrays]
            arrays = [a / a.sum(axis=1, keepdims=True) for a in arrays]
        return arrays

    def fit(self, scores_list: Sequence[np.ndarray | torch.Tensor], labels: np.ndarray | torch.Tensor) -> ScoreFusion:
        """Train the SVM on the streams' scores of labelled samples (a no-op for the averages)."""
        probabilities = self._probabilities(scores_list)
        labels = np.asarray(labels.cpu() if isinstance(labels, torch.Tensor) else labels)
        if labels.shape != (probabilities[0].shape[0],):
            raise ValueError(f"labels must be ({probabilities[0].shape[0]},), got {labels.shape}")
        if self.method == "svm":
            from sklearn.svm import LinearSVC

            self.svm = LinearSVC(C=self.C).fit(self._stacked(probabilities), labels)
        return self

    @staticmethod
    def _stacked(probabilities: list[np.ndarray]) -> np.ndarray:
        normalised = [p / np.maximum(np.linalg.norm(p, axis=1, keepdims=True), 1e-12) for p in probabilities]
        return np.concatenate(normalised, axis=1)

    def decision_function(self, scores_list: Sequence[np.ndarray | torch.Tensor]) -> np.ndarray:
        """Fused scores ``(N, K)``: fused probabilities for the averages, SVM margins for ``"svm"``."""
        probabilities = self._probabilities(scores_list)
        if self.method == "svm":
            if self.svm is None:
                raise RuntimeError("ScoreFusion('svm') must be fit before it predicts")
            margins = self.svm.decision_function(self._stacked(probabilities))
            # two classes give one margin per sample; return one column per class as for K > 2
            return np.stack((-margins, margins), axis=1) if margins.ndim == 1 else margins
        weights = np.ones(len(probabilities)) if self.method == "average" else self.weights
        if len(weights) != len(probabilities):
            raise ValueError(f"{len(weights)} weights for {len(probabilities)} streams")
        return sum(w * p for w, p in zip(weights / weights.sum(), probabilities))

    def predict(self, scores_list: Sequence[np.ndarray | torch.Tensor]) -> np.ndarray:
        """Predicted class per sample ``(N,)``."""
        scores = self.decision_function(scores_list)
        if self.method == "svm":
            return self.svm.classes_[scores.argmax(axis=1)]
        return scores.argmax(axis=1)


_SMALL_CNN_M = {"num_classes": 5, "crop_size": 64, "width_multiplier": 0.25, "fc_dims": (64, 32), "dropout": 0.0}


@register_model("two_stream_spatial", paper=PAPER, input_shape=(3, 1, 224, 224),
                default_num_classes=UCF101_CLASSES, small_input_shape=(3, 2, 64, 64), family="two_stream",
                small_kwargs=_SMALL_CNN_M)
def two_stream_spatial(*, num_classes: int = UCF101_CLASSES, **kwargs: object) -> SpatialStream:
    """Spatial stream, CNN-M-2048 on RGB frames (clip scores are the mean of its frames')."""
    return SpatialStream(num_classes=num_classes, **kwargs)


@register_model("two_stream_temporal", paper=PAPER, input_shape=(2, FLOW_FRAMES, 224, 224),
                default_num_classes=UCF101_CLASSES, small_input_shape=(2, FLOW_FRAMES, 64, 64),
                family="two_stream", small_kwargs=_SMALL_CNN_M)
def two_stream_temporal(*, num_classes: int = UCF101_CLASSES, **kwargs: object) -> TemporalStream:
    """Temporal stream, CNN-M-2048 (no conv2 LRN) on 10 stacked flow fields (20 channels)."""
    return TemporalStream(num_classes=num_classes, **kwargs)


@register_model("two_stream_spatial_resnet18", paper=PAPER, input_shape=(3, 1, 224, 224),
                default_num_classes=UCF101_CLASSES, small_input_shape=(3, 2, 32, 32), family="two_stream")
def two_stream_spatial_resnet18(*, num_classes: int = UCF101_CLASSES, **kwargs: object) -> SpatialStream:
    """Spatial stream on a torchvision ResNet-18."""
    return SpatialStream(num_classes=num_classes, backbone="resnet18", **kwargs)


@register_model("two_stream_temporal_resnet18", paper=PAPER,
                input_shape=(2, FLOW_FRAMES, 224, 224), default_num_classes=UCF101_CLASSES,
                small_input_shape=(2, FLOW_FRAMES, 32, 32), family="two_stream")
def two_stream_temporal_resnet18(*, num_classes: int = UCF101_CLASSES, **kwargs: object) -> TemporalStream:
    """Temporal stream on a torchvision ResNet-18 whose first conv takes 2L flow channels."""
    return TemporalStream(num_classes=num_classes, backbone="resnet18", **kwargs)


@register_model("two_stream", paper=PAPER,
                input_shape=((3, 1, 224, 224), (2, FLOW_FRAMES, 224, 224)), default_num_classes=UCF101_CLASSES,
                small_input_shape=((3, 2, 64, 64), (2, 4, 64, 64)), family="two_stream",
                small_kwargs={**_SMALL_CNN_M, "num_flow_frames": 4})
def two_stream(*, num_classes: int = UCF101_CLASSES, fusion: str = "average",
               fusion_weights: tuple[float, float] = (1.0, 1.5),
               num_flow_frames: int = FLOW_FRAMES, backbone: str = "cnn_m_2048", **kwargs: object) -> TwoStreamNetwork:
    """Two-stream network, ``forward(rgb, flow)``, fusing softmax scores by (weighted) averaging.

    ``fusion_weights`` (spatial, temporal) apply with ``fusion="weighted"``; the name keeps clear of
    ``create``'s ``weights`` (a checkpoint path).
    """
    spatial = SpatialStream(num_classes=num_classes, backbone=backbone, **kwargs)
    temporal = TemporalStream(num_classes=num_classes, num_flow_frames=num_flow_frames, backbone=backbone, **kwargs)
    return TwoStreamNetwork(spatial, temporal, fusion=fusion, weights=fusion_weights)
