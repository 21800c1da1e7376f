"""DeepSORT's re-identification network: a wide residual network with a cosine-softmax classifier.

Wojke, Bewley & Paulus, "Simple Online and Realtime Tracking with a Deep Association Metric", ICIP 2017,
Table 1, trained as in Wojke & Bewley, "Deep Cosine Metric Learning for Person Re-Identification", WACV
2018; layer by layer as nwojke/cosine_metric_learning's ``nets/deep_sort`` (TensorFlow slim)::

    crop (B, 3, 128, 64) in [0, 1]
      -> Conv 3x3 32 -> BN -> ELU -> Conv 3x3 32 -> BN -> ELU          (B, 32, 128, 64)   conv1_1, conv1_2
      -> MaxPool 3x3 / 2                                               (B, 32, 64, 32)    pool1
      -> Residual 32, Residual 32                                      (B, 32, 64, 32)    conv2_1, conv2_3
      -> Residual 64 / 2, Residual 64                                  (B, 64, 32, 16)    conv3_1, conv3_3
      -> Residual 128 / 2, Residual 128                                (B, 128, 16, 8)    conv4_1, conv4_3
      -> flatten -> Dropout -> Dense 128 -> BN -> ELU                  (B, 128)           fc1
      -> BN -> l2 normalisation                                        (B, 128) unit length   ("ball")
      -> cosine softmax: softplus(k) * <w_c / |w_c|, r>                (B, num_classes) logits

A residual block is pre-activation (``BN -> ELU`` before the first convolution, skipped in the first block,
which follows the stem's activation): ``Conv 3x3 (stride 2 when the width doubles) -> BN -> ELU -> Dropout
-> Conv 3x3 (bias)``, added to the input, through a 1x1 stride-2 projection (no bias) when the width
doubles. As in slim, convolutions followed by batch norm have no bias, and batch norm has an offset but no
scale (slim's ``batch_norm`` default ``scale=False``); dropout keeps 60 % (``p=0.4``).

Parameters: the paper gives 2,800,864 ("Overall, the network has 2,800,864 parameters"): exactly this
network up to ``fc1`` (:data:`PAPER_PARAMETERS`); the final batch norm adds its 128 offsets and the
classifier ``128 * num_classes + 1`` (mean vectors and the scale ``k``). ``forward`` returns the training
classifier's logits; :meth:`ReIDWideResNet.embed` the unit-length 128-d features DeepSORT compares by
cosine distance. :func:`crop_boxes` cuts and resizes detections from frames in one ``roi_align`` call.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.ops import roi_align

from vidlearn.models import register_model

__all__ = [
    "CROP_SIZE",
    "DEFAULT_NUM_CLASSES",
    "PAPER_PARAMETERS",
    "BatchNormOffset",
    "CosineSoftmax",
    "ReIDResidualBlock",
    "ReIDWideResNet",
    "crop_boxes",
    "deepsort_reid",
]

PAPER = ("Wojke et al., Simple Online and Realtime Tracking with a Deep Association Metric, ICIP 2017; "
         "Wojke & Bewley, Deep Cosine Metric Learning for Person Re-Identification, WACV 2018")
#: Input crops ``(height, width)``: 128 x 64 person crops (Table 1).
CROP_SIZE = (128, 64)
#: Parameters the paper states, equal to this network's up to ``fc1``.
PAPER_PARAMETERS = 2_800_864
#: Classifier outputs of cosine_metric_learning's MARS training: MARS person ids run to 1500 and the
#: classifier is indexed by id (``MAX_LABEL + 1``); the ids of MARS's training split are 625 of them.
DEFAULT_NUM_CLASSES = 1501


class BatchNormOffset(nn.Module):
    """Batch norm with a learned offset and no learned scale (TF slim's ``batch_norm`` default).

    ``(B, C, ...) -> (B, C, ...)``: normalise with batch (training) or running (eval) statistics, add ``beta``.
    """

    def __init__(self, channels: int, eps: float = 1e-3) -> None:
        super().__init__()
        # slim's epsilon (0.001); PyTorch's running-average momentum (0.1) rather than slim's decay 0.999, so
        # the running statistics are usable after the short runs of tests and demos.
        self.running = nn.BatchNorm2d(channels, eps=eps, affine=False)
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 2:  # (B, C) features: normalised as (B, C, 1, 1)
            return self.running(x[:, :, None, None]).flatten(1) + self.bias
        return self.running(x) + self.bias[:, None, None]


def _conv(in_channels: int, out_channels: int, stride: int = 1, bias: bool = False) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=bias)


class ReIDResidualBlock(nn.Module):
    """Pre-activation residual block ``(B, C, H, W) -> (B, C', H / s, W / s)``, ``C' = 2C, s = 2`` when
    ``downsample``; ``first`` skips the leading ``BN -> ELU`` (the stem's activation precedes it)."""

    def __init__(self, channels: int, *, downsample: bool = False, first: bool = False, dropout: float = 0.4) -> None:
        super().__init__()
        out_channels = 2 * channels if downsample else channels
        stride = 2 if downsample else 1
        self.pre_norm = None if first else BatchNormOffset(channels)
        self.conv1 = _conv(channels, out_channels, stride)
        self.norm1 = BatchNormOffset(out_channels)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = _conv(out_channels, out_channels, bias=True)
        self.projection = nn.Conv2d(channels, out_channels, 1, stride=2, bias=False) if downsample else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        inner = x if self.pre_norm is None else F.elu(self.pre_norm(x))
        inner = self.dropout(F.elu(self.norm1(self.conv1(inner))))
        inner = self.conv2(inner)
        # The shortcut takes the block's input before the pre-activation, as in the reference.
        shortcut = x if self.projection is None else self.projection(x)
        return shortcut + inner


class CosineSoftmax(nn.Module):
    """Cosine-softmax classifier ``(B, D) unit-length -> (B, num_classes)`` logits
    ``softplus(scale) * <w_c / |w_c|, r>`` (Wojke & Bewley 2018, Eq. 5; ``scale`` starts at 0)."""

    def __init__(self, features: int, num_classes: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(num_classes, features))
        nn.init.trunc_normal_(self.weight, std=1e-3, a=-2e-3, b=2e-3)
        self.scale = nn.Parameter(torch.zeros(()))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return F.softplus(self.scale) * F.linear(features, F.normalize(self.weight, dim=1))


class ReIDWideResNet(nn.Module):
    """The DeepSORT re-ID network (see the module docstring for the layers and shapes).

    Args:
        num_classes: training identities (classifier outputs).
        width: channels of the stem (32 in the paper); the blocks use ``width, 2 width, 4 width``.
        feature_dim: embedding size (128).
        input_size: crop ``(height, width)``, divisible by 8 (``(128, 64)``).
        dropout: drop probability inside blocks and before ``fc1`` (0.4: slim's ``keep_prob=0.6``).
    """

    def __init__(self, *, num_classes: int, width: int = 32, feature_dim: int = 128,
                 input_size: Sequence[int] = CROP_SIZE, dropout: float = 0.4) -> None:
        super().__init__()
        height, wide = (int(s) for s in input_size)
        if height % 8 or wide % 8:
            raise ValueError(f"input_size must be divisible by 8, got {tuple(input_size)}")
        self.input_size = (height, wide)
        self.stem = nn.Sequential(
            _conv(3, width), BatchNormOffset(width), nn.ELU(),
            _conv(width, width), BatchNormOffset(width), nn.ELU(),
            nn.MaxPool2d(3, stride=2, padding=1),
        )
        self.blocks = nn.Sequential(
            ReIDResidualBlock(width, first=True, dropout=dropout),
            ReIDResidualBlock(width, dropout=dropout),
            ReIDResidualBlock(width, downsample=True, dropout=dropout),
            ReIDResidualBlock(2 * width, dropout=dropout),
            ReIDResidualBlock(2 * width, downsample=True, dropout=dropout),
            ReIDResidualBlock(4 * width, dropout=dropout),
        )
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(4 * width * (height // 8) * (wide // 8), feature_dim, bias=False)
        self.fc_norm = BatchNormOffset(feature_dim)
        self.feature_norm = BatchNormOffset(feature_dim)
        self.classifier = CosineSoftmax(feature_dim, num_classes)
        for module in self.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                # The reference's truncated normal (std 1e-3) barely trains from scratch in PyTorch's
                # default float32 setting; He initialisation is the usual choice for ELU networks.
                nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
                if module.bias is not None:
                    nn.init.zeros_(module.bias)

    def embed(self, crops: torch.Tensor) -> torch.Tensor:
        """``(B, 3, H, W)`` RGB crops in [0, 1] -> ``(B, feature_dim)`` unit-length features."""
        if crops.dim() != 4 or crops.shape[1] != 3 or tuple(crops.shape[2:]) != self.input_size:
            raise ValueError(f"crops must have shape (B, 3, {self.input_size[0]}, {self.input_size[1]}), "
                             f"got {tuple(crops.shape)}")
        x = self.blocks(self.stem(crops))
        x = F.elu(self.fc_norm(self.fc(self.dropout(x.flatten(1)))))
        # The reference adds 1e-8 under the square root; F.normalize's eps guards the same zero.
        return F.normalize(self.feature_norm(x), dim=1, eps=1e-8)

    def forward(self, crops: torch.Tensor) -> torch.Tensor:
        """``(B, 3, H, W)`` crops -> ``(B, num_classes)`` cosine-softmax logits (the training head)."""
        return self.classifier(self.embed(crops))

    def reset_classifier(self, num_classes: int) -> None:
        """A new training head for ``num_classes`` identities (fine-tuning on another dataset)."""
        self.classifier = CosineSoftmax(self.classifier.weight.shape[1], num_classes).to(self.classifier.weight)


def crop_boxes(
    frames: torch.Tensor, boxes: torch.Tensor, frame_index: torch.Tensor | None = None, *,
    size: Sequence[int] = CROP_SIZE, keep_aspect: bool = True, sampling_ratio: int = 2,
) -> torch.Tensor:
    """Cut ``K`` boxes out of ``B`` frames and resize them to ``size``, in one ``roi_align`` call.

    Args:
        frames: ``uint8 (B, H, W, 3)`` (as :class:`vidlearn.video.VideoReader` gives them) or float
            ``(B, 3, H, W)`` in [0, 1].
        boxes: ``float (K, 4)`` ``x1, y1, x2, y2`` pixels.
        frame_index: ``int (K,)`` the frame of each box (default: all from frame 0).
        size: output ``(height, width)``.
        keep_aspect: widen or heighten each box about its centre to the output's aspect ratio first, as
            deep_sort's ``extract_image_patch`` does, so people are not stretched.
        sampling_ratio: bilinear samples per output bin side (``roi_align``'s).

    Returns:
        ``float (K, 3, height, width)`` in [0, 1]; parts of a box outside the frame are zero.
    """
    if frames.dtype == torch.uint8:
        if frames.dim() != 4 or frames.shape[-1] != 3:
            raise ValueError(f"uint8 frames must be (B, H, W, 3), got {tuple(frames.shape)}")
        frames = frames.permute(0, 3, 1, 2).float().div_(255.0)
    elif frames.dim() != 4 or frames.shape[1] != 3:
        raise ValueError(f"float frames must be (B, 3, H, W), got {tuple(frames.shape)}")
    boxes = torch.as_tensor(boxes, dtype=frames.dtype, device=frames.device).reshape(-1, 4)
    if not torch.isfinite(boxes).all():
        raise ValueError(f"boxes[{int((~torch.isfinite(boxes)).any(1).nonzero()[0])}] is not finite")
    if frame_index is None:
        frame_index = torch.zeros(len(boxes), dtype=frames.dtype, device=frames.device)
    frame_index = torch.as_tensor(frame_index, device=frames.device).reshape(-1).to(frames.dtype)
    if len(frame_index) != len(boxes):
        raise ValueError(f"{len(boxes)} boxes but {len(frame_index)} frame indices")
    if len(boxes) and not (int(frame_index.min()) >= 0 and int(frame_index.max()) < len(frames)):
        raise ValueError(f"frame indices must be in [0, {len(frames) - 1}], got {frame_index.min():g}..{frame_index.max():g}")
    height, width = (int(s) for s in size)
    if keep_aspect and len(boxes):
        centre = (boxes[:, :2] + boxes[:, 2:]) / 2
        box_h = boxes[:, 3] - boxes[:, 1]
        box_w = torch.maximum(boxes[:, 2] - boxes[:, 0], box_h * width / height)
        box_h = torch.maximum(box_h, box_w * height / width)
        half = torch.stack([box_w, box_h], dim=1) / 2
        boxes = torch.cat([centre - half, centre + half], dim=1)
    rois = torch.cat([frame_index[:, None], boxes], dim=1)
    return roi_align(frames, rois, output_size=(height, width), spatial_scale=1.0,
                     sampling_ratio=sampling_ratio, aligned=True)


@register_model(
    "deepsort_reid",
    paper=PAPER,
    input_shape=(3, *CROP_SIZE),
    default_num_classes=DEFAULT_NUM_CLASSES,
    small_input_shape=(3, 32, 16),
    small_kwargs={"width": 8, "feature_dim": 32, "input_size": (32, 16), "num_classes": 10},
    family="deepsort_reid",
)
def deepsort_reid(*, num_classes: int = DEFAULT_NUM_CLASSES, **kwargs) -> ReIDWideResNet:
    """DeepSORT's wide residual re-ID network (128-d unit features, cosine-softmax head; 128x64 crops)."""
    return ReIDWideResNet(num_classes=num_classes, **kwargs)
