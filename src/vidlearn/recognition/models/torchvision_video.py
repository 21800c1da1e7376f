"""torchvision's video classifiers as vidlearn models: R3D-18, MC3-18, R(2+1)D-18 (Tran et al. 2018,
"A Closer Look at Spatiotemporal Convolutions for Action Recognition", CVPR) and S3D (Xie et al. 2018,
"Rethinking Spatiotemporal Feature Learning", ECCV).

Each wraps torchvision's builder (``weights=None``: nothing is downloaded) and re-registers its
submodules at the top level, so the state dict keys are torchvision's own and the published
``.pth`` files load strictly (layout ``"torchvision-video"``). Data flow of the video ResNets::

    (B, 3, T, H, W) -> stem -> layer1 (64) -> layer2 (128, /2) -> layer3 (256, /2) -> layer4 (512, /2)
      -> AdaptiveAvgPool3d(1) -> (B, 512) -> fc -> (B, num_classes)

S3D: ``features`` (separable inception, 1024 channels, /8 in time, /32 in space) -> average pool
``2x7x7`` stride 1 -> dropout -> 1x1x1 conv -> mean over (T, H, W). torchvision's fixed 2x7x7 pool
needs a 224-pixel input; here the window is clipped to the feature map, which is identical at 224
pixels and lets small test clips through.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models import video as tv_video

from vidlearn.models.classifier import ClassifierMixin
from vidlearn.models.registry import Preprocessing, WeightsSpec, register_model
from vidlearn.models.weights import CheckpointLayout, StateDict, register_layout

__all__ = ["TorchvisionS3D", "TorchvisionVideoResNet", "mc3_18", "r2plus1d_18", "r3d_18", "s3d"]

RESNET_PAPER = "Tran et al. 2018, A Closer Look at Spatiotemporal Convolutions for Action Recognition (CVPR)"
S3D_PAPER = "Xie et al. 2018, Rethinking Spatiotemporal Feature Learning (ECCV)"


class TorchvisionVideoResNet(ClassifierMixin, nn.Module):
    """A torchvision ``VideoResNet`` with the zoo interface; keys ``stem.*``, ``layer1-4.*``, ``fc.*``."""

    classifier_name = "fc"

    def __init__(self, net: tv_video.VideoResNet) -> None:
        super().__init__()
        self.stem, self.layer1, self.layer2 = net.stem, net.layer1, net.layer2
        self.layer3, self.layer4, self.avgpool, self.fc = net.layer3, net.layer4, net.avgpool, net.fc

    def forward_features(self, x: torch.Tensor, *, layer: str | None = None) -> torch.Tensor:
        """``(B, 3, T, H, W) -> (B, 512)``, the globally average-pooled layer4 output."""
        self._feature_layer(layer)
        x = self.layer4(self.layer3(self.layer2(self.layer1(self.stem(x)))))
        return self.avgpool(x).flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.forward_features(x))


class TorchvisionS3D(ClassifierMixin, nn.Module):
    """torchvision's ``S3D`` with the zoo interface; keys ``features.*`` and ``classifier.1.*``."""

    classifier_name = "classifier.1"

    def __init__(self, net: tv_video.S3D) -> None:
        super().__init__()
        self.features, self.classifier = net.features, net.classifier

    def _pooled(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)
        kernel = (min(2, x.shape[2]), min(7, x.shape[3]), min(7, x.shape[4]))
        return F.avg_pool3d(x, kernel, stride=1)

    def forward_features(self, x: torch.Tensor, *, layer: str | None = None) -> torch.Tensor:
        """``(B, 3, T, H, W) -> (B, 1024)``: the pooled features averaged over (T, H, W)."""
        self._feature_layer(layer)
        return self._pooled(x).mean(dim=(2, 3, 4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self._pooled(x)).mean(dim=(2, 3, 4))


def _resnet_preprocessing() -> Preprocessing:
    return Preprocessing(
        mean=(0.43216, 0.394666, 0.37645), std=(0.22803, 0.22145, 0.216989), channel_order="RGB",
        value_range=(0.0, 1.0), clip_length=16, resize_short_side=128, crop_size=112,
        notes="torchvision VideoClassification: resize to (128, 171) bilinear, centre crop 112, /255, normalise.",
    )


def _weights(name: str, filename: str, top1: float, top5: float, preprocessing: Preprocessing,
             protocol: str) -> tuple[WeightsSpec, ...]:
    return (WeightsSpec(
        name="kinetics400", filename=filename,
        source=f"https://download.pytorch.org/models/{filename} (torchvision {name} KINETICS400_V1)",
        license="BSD-3-Clause (torchvision)", layout="torchvision-video",
        preprocessing=preprocessing,
        metrics={"top1": top1, "top5": top5},
        protocol=f"As documented by torchvision: Kinetics-400 val, {protocol}.",
        meta={"num_classes": 400, "classes": "Kinetics-400"},
    ),)


_VIDEO_LEVEL = "video-level, frame_rate=15, clips_per_video=5, clip_len=16"
_RESNET_SMALL_KWARGS = {"num_classes": 5}
_RESNET_SMALL = (3, 4, 16, 16)  # -> 1x1x1 at layer4: the least that exercises every layer


def _resnet(builder: Callable[..., tv_video.VideoResNet], num_classes: int, kwargs: Mapping[str, Any]
            ) -> TorchvisionVideoResNet:
    return TorchvisionVideoResNet(builder(weights=None, num_classes=num_classes, **kwargs))


@register_model("r3d_18", paper=RESNET_PAPER, input_shape=(3, 16, 112, 112),
                default_num_classes=400, small_input_shape=_RESNET_SMALL, family="torchvision_video",
                weights=_weights("r3d_18", "r3d_18-b3b3357e.pth", 63.200, 83.479, _resnet_preprocessing(),
                                 _VIDEO_LEVEL), small_kwargs=_RESNET_SMALL_KWARGS)
def r3d_18(*, num_classes: int = 400, **kwargs: Any) -> TorchvisionVideoResNet:
    """R3D-18: 18-layer ResNet with full 3x3x3 convolutions (torchvision)."""
    return _resnet(tv_video.r3d_18, num_classes, kwargs)


@register_model("mc3_18", paper=RESNET_PAPER, input_shape=(3, 16, 112, 112),
                default_num_classes=400, small_input_shape=_RESNET_SMALL, family="torchvision_video",
                weights=_weights("mc3_18", "mc3_18-a90a0ba3.pth", 63.960, 84.130, _resnet_preprocessing(),
                                 _VIDEO_LEVEL), small_kwargs=_RESNET_SMALL_KWARGS)
def mc3_18(*, num_classes: int = 400, **kwargs: Any) -> TorchvisionVideoResNet:
    """MC3-18: 3D convolutions in the stem and layer1, 2D (1x3x3) above (torchvision)."""
    return _resnet(tv_video.mc3_18, num_classes, kwargs)


@register_model("r2plus1d_18", paper=RESNET_PAPER, input_shape=(3, 16, 112, 112),
                default_num_classes=400, small_input_shape=_RESNET_SMALL, family="torchvision_video",
                weights=_weights("r2plus1d_18", "r2plus1d_18-91a641e6.pth", 67.463, 86.175,
                                 _resnet_preprocessing(), _VIDEO_LEVEL), small_kwargs=_RESNET_SMALL_KWARGS)
def r2plus1d_18(*, num_classes: int = 400, **kwargs: Any) -> TorchvisionVideoResNet:
    """R(2+1)D-18: each 3x3x3 convolution factored into 1x3x3 then 3x1x1 (torchvision)."""
    return _resnet(tv_video.r2plus1d_18, num_classes, kwargs)


_S3D_PREPROCESSING = Preprocessing(
    mean=(0.43216, 0.394666, 0.37645), std=(0.22803, 0.22145, 0.216989), channel_order="RGB",
    value_range=(0.0, 1.0), clip_length=128, resize_short_side=256, crop_size=224,
    notes="torchvision VideoClassification: resize to (256, 256) bilinear, centre crop 224, /255, normalise.",
)


@register_model("s3d", paper=S3D_PAPER, input_shape=(3, 16, 224, 224),
                default_num_classes=400, small_input_shape=(3, 8, 32, 32), family="torchvision_video",
                weights=_weights("s3d", "s3d-d76dad2f.pth", 68.368, 88.050, _S3D_PREPROCESSING,
                                 "clip-level, frame_rate=15, clips_per_video=1, clip_len=128"),
                small_kwargs=_RESNET_SMALL_KWARGS)
def s3d(*, num_classes: int = 400, **kwargs: Any) -> TorchvisionS3D:
    """S3D: separable (2D spatial + 1D temporal) inception network (torchvision)."""
    return TorchvisionS3D(tv_video.s3d(weights=None, num_classes=num_classes, **kwargs))


def _convert_torchvision(state: Mapping[str, torch.Tensor], model: nn.Module) -> StateDict:
    # The wrappers keep torchvision's names, so the keys pass unchanged; the strict check reports
    # any key that is not the model's.
    return dict(state)


register_layout(CheckpointLayout(
    name="torchvision-video",
    families=frozenset({"torchvision_video"}),
    detect=lambda state: "stem.0.weight" in state or "features.0.conv_s.0.weight" in state,
    convert=_convert_torchvision,
    description="torchvision.models.video state dicts (r3d_18, mc3_18, r2plus1d_18, s3d .pth files)",
    extensions=(".pth",),
))
