"""LRCN: a per-frame CNN followed by an LSTM (Donahue et al. 2015), for activity recognition.

Donahue, Hendricks, Guadarrama, Rohrbach, Venugopalan, Saenko, Darrell, "Long-term Recurrent
Convolutional Networks for Visual Recognition and Description", CVPR 2015. Every frame goes through a
2D CNN up to fc6; an LSTM reads the fc6 features in order; each time step predicts the class and the
clip's prediction is the average over the steps::

    (B, C, T, 227, 227) -> frames (B*T, C, 227, 227) -> CaffeNet conv1..conv5 -> (B*T, 256, 6, 6)
      -> fc6 + ReLU + dropout (B*T, 4096) -> (B, T, 4096) -> LSTM(256) -> (B, T, 256) -> dropout
      -> classifier per step (B, T, K) -> mean over T -> (B, K)

CaffeNet (the BVLC reference network, the paper's base) up to fc6::

    conv1 96 11x11/4 + ReLU + pool 3x3/2 + LRN   -> (96, 27, 27)
    conv2 256 5x5 pad 2 groups 2 + ReLU + pool + LRN -> (256, 13, 13)
    conv3 384 3x3 pad 1; conv4 384 groups 2; conv5 256 groups 2; pool -> (256, 6, 6) -> fc6 4096

Choices the paper leaves open or makes otherwise, fixed here:

* LSTM: one layer of 256 hidden units, the size the paper found best for activity recognition; the
  LSTM sits on fc6 (the paper's best placement). PyTorch's LSTM carries two bias vectors per gate
  where Caffe's has one, so it holds 4 * 256 more parameters than the Caffe model.
* Dropout 0.5 after fc6 and after the LSTM (CaffeNet's and the paper's practice).
* LRN n=5, alpha=1e-4, beta=0.75 (CaffeNet's); pooling rounds up (Caffe's ``ceil_mode``).
* Flow input: the paper feeds flow as 3-channel images (x, y and the flow magnitude). Here flow arrives
  as ``(B, 2, T, H, W)`` (x, y); with ``modality="flow"`` the model appends the magnitude as the third
  channel (``flow_magnitude=False`` feeds the two fields alone).
* A torchvision 2D network may replace CaffeNet (``backbone="resnet18"``): its pooled features feed the
  LSTM directly.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable

import torch
from torch import nn

from vidlearn.models.classifier import ClassifierMixin
from vidlearn.models.registry import register_model
from vidlearn.recognition.models.fusion import torchvision_backbone

__all__ = ["LRCN", "CaffeNetFc6", "caffenet_lrn", "lrcn", "lrcn_flow", "lrcn_resnet18"]

PAPER = "Donahue et al., Long-term Recurrent Convolutional Networks for Visual Recognition and Description, CVPR 2015"
UCF101_CLASSES = 101


def caffenet_lrn(num_channels: int) -> nn.Module:
    """CaffeNet's local response normalisation (n=5, alpha=1e-4, beta=0.75, k=1)."""
    del num_channels  # no parameters; the argument keeps the norm-layer signature
    return nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=1.0)


class CaffeNetFc6(nn.Module):
    """CaffeNet conv1..conv5 and fc6: ``(N, C, crop, crop) -> (N, fc6_dim)`` (see the module doc).

    ``groups`` is CaffeNet's two-GPU split of conv2, conv4 and conv5 (1 for dense convs);
    ``width_multiplier`` and ``fc6_dim`` give CPU-sized variants.
    """

    def __init__(
        self,
        in_channels: int = 3,
        *,
        crop_size: int = 227,
        width_multiplier: float = 1.0,
        fc6_dim: int = 4096,
        groups: int = 2,
        dropout: float = 0.5,
        conv_layer: Callable[..., nn.Module] = nn.Conv2d,
        norm_layer: Callable[[int], nn.Module] | None = caffenet_lrn,
        activation_layer: Callable[[], nn.Module] = nn.ReLU,
    ) -> None:
        super().__init__()
        if width_multiplier <= 0:
            raise ValueError(f"width_multiplier must be positive, got {width_multiplier}")
        widths = [max(groups, round(c * width_multiplier / groups) * groups) for c in (96, 256, 384, 384, 256)]
        # (kernel, stride, padding, groups, pool + LRN after, pool after)
        spec = ((11, 4, 0, 1, True, True), (5, 1, 2, groups, True, True), (3, 1, 1, 1, False, False),
                (3, 1, 1, groups, False, False), (3, 1, 1, groups, False, True))
        layers: dict[str, nn.Module] = {}
        channels, side = in_channels, crop_size
        for index, (width, (kernel, stride, padding, conv_groups, normalise, pool)) in enumerate(
                zip(widths, spec), start=1):
            layers[f"conv{index}"] = conv_layer(channels, width, kernel_size=kernel, stride=stride,
                                                padding=padding, groups=conv_groups)
            layers[f"relu{index}"] = activation_layer()
            side = (side + 2 * padding - kernel) // stride + 1
            if pool:
                if side < 3:
                    raise ValueError(f"crop size {crop_size} is too small for CaffeNet (the smallest is 55)")
                layers[f"pool{index}"] = nn.MaxPool2d(3, stride=2, ceil_mode=True)
                side = math.ceil((side - 3) / 2) + 1
            if normalise and norm_layer is not None:
                layers[f"norm{index}"] = norm_layer(width)
            channels = width
        self.features = nn.Sequential(OrderedDict(layers))
        self.crop_size = crop_size
        self.fc6 = nn.Sequential(nn.Flatten(), nn.Linear(channels * side * side, fc6_dim), activation_layer(),
                                 nn.Dropout(dropout))
        self.out_features = fc6_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-2:] != (self.crop_size, self.crop_size):
            raise ValueError(f"CaffeNet was built for {self.crop_size}x{self.crop_size} crops, got "
                             f"{x.shape[-2]}x{x.shape[-1]}; build it with crop_size={x.shape[-1]}")
        return self.fc6(self.features(x))


class LRCN(ClassifierMixin, nn.Module):
    """Per-frame CNN + LSTM: ``(B, C, T, H, W) -> (B, K)``, the mean of the per-step predictions.

    ``modality="rgb"`` takes ``C = 3``; ``"flow"`` takes ``C = 2`` (x, y fields). ``backbone`` is
    ``"caffenet"`` (the paper's) or a torchvision 2D network name. Keyword options of
    :class:`CaffeNetFc6` pass through for the CaffeNet backbone.
    """

    def __init__(
        self,
        *,
        num_classes: int,
        modality: str = "rgb",
        flow_magnitude: bool = True,
        backbone: str = "caffenet",
        hidden_size: int = 256,
        num_layers: int = 1,
        dropout: float = 0.5,
        **backbone_kwargs: object,
    ) -> None:
        super().__init__()
        if modality not in ("rgb", "flow"):
            raise ValueError(f"unknown modality {modality!r}; choose 'rgb' or 'flow'")
        if hidden_size < 1 or num_layers < 1:
            raise ValueError(f"hidden_size and num_layers must be positive, got {hidden_size} and {num_layers}")
        self.modality = modality
        self.flow_magnitude = modality == "flow" and flow_magnitude
        self.in_channels = 3 if modality == "rgb" else 2
        cnn_channels = 3 if modality == "rgb" or flow_magnitude else 2
        if backbone == "caffenet":
            self.cnn: nn.Module = CaffeNetFc6(cnn_channels, dropout=dropout, **backbone_kwargs)
            cnn_dim = self.cnn.out_features
        else:
            if backbone_kwargs:
                raise ValueError(f"options {sorted(backbone_kwargs)} apply to the caffenet backbone only")
            self.cnn, cnn_dim = torchvision_backbone(backbone, in_channels=cnn_channels)
        self.lstm = nn.LSTM(cnn_dim, hidden_size, num_layers=num_layers, batch_first=True)
        self.dropout = nn.Dropout(dropout)
        self.num_features = hidden_size
        self.classifier = nn.Linear(hidden_size, num_classes)

    def forward_steps(self, x: torch.Tensor) -> torch.Tensor:
        """LSTM outputs per time step: ``(B, C, T, H, W) -> (B, T, hidden_size)``."""
        if x.dim() != 5 or x.shape[1] != self.in_channels:
            raise ValueError(f"expected {self.modality} input (B, {self.in_channels}, T, H, W), got {tuple(x.shape)}")
        if self.flow_magnitude:  # the paper's third flow channel
            x = torch.cat((x, x.square().sum(dim=1, keepdim=True).sqrt()), dim=1)
        batch, frames = x.shape[0], x.shape[2]
        per_frame = self.cnn(x.transpose(1, 2).flatten(0, 1)).reshape(batch, frames, -1)
        hidden, _ = self.lstm(per_frame)
        return self.dropout(hidden)

    def forward_features(self, x: torch.Tensor, *, layer: str | None = None) -> torch.Tensor:
        """``(B, hidden_size)``: the LSTM outputs averaged over time."""
        self._feature_layer(layer)
        return self.forward_steps(x).mean(dim=1)

    def forward(self, x: torch.Tensor, return_per_step: bool = False) -> torch.Tensor:
        """Logits ``(B, K)`` (mean over steps) or per-step logits ``(B, T, K)``."""
        if return_per_step:
            return self.classifier(self.forward_steps(x))
        return self.classifier(self.forward_features(x))  # linear: equals the mean of the step logits


_SMALL = {"num_classes": 5, "crop_size": 67, "width_multiplier": 0.25, "fc6_dim": 64, "hidden_size": 32,
          "dropout": 0.0}


@register_model("lrcn", paper=PAPER, input_shape=(3, 16, 227, 227),
                default_num_classes=UCF101_CLASSES, small_input_shape=(3, 4, 67, 67), family="lrcn",
                small_kwargs=_SMALL)
def lrcn(*, num_classes: int = UCF101_CLASSES, **kwargs: object) -> LRCN:
    """LRCN on RGB frames: CaffeNet to fc6, LSTM of 256 units, per-frame predictions averaged."""
    return LRCN(num_classes=num_classes, modality="rgb", **kwargs)


@register_model("lrcn_flow", paper=PAPER, input_shape=(2, 16, 227, 227),
                default_num_classes=UCF101_CLASSES, small_input_shape=(2, 4, 67, 67), family="lrcn",
                small_kwargs=_SMALL)
def lrcn_flow(*, num_classes: int = UCF101_CLASSES, **kwargs: object) -> LRCN:
    """LRCN on optical flow (x, y and magnitude channels, as the paper's flow images)."""
    return LRCN(num_classes=num_classes, modality="flow", **kwargs)


@register_model("lrcn_resnet18", paper=PAPER, input_shape=(3, 16, 224, 224),
                default_num_classes=UCF101_CLASSES, small_input_shape=(3, 4, 32, 32), family="lrcn")
def lrcn_resnet18(*, num_classes: int = UCF101_CLASSES, **kwargs: object) -> LRCN:
    """LRCN with a torchvision ResNet-18 per frame instead of CaffeNet."""
    return LRCN(num_classes=num_classes, backbone="resnet18", **kwargs)
