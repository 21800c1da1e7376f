"""C3D-keras: the smaller C3D of TianzhongSong/C3D-keras (``models.py``), trained from scratch on UCF-101.

A Keras reproduction of C3D (Tran et al. 2015, "Learning Spatiotemporal Features with 3D Convolutional
Networks", ICCV) with five convolutions instead of eight and 2048-d fully connected layers; its author
reports 42.96% clip accuracy on UCF-101 split 1's test list after 16 epochs from scratch (the paper's
Figure 2 shows about 44% for its net trained that way). Layer for layer, for the Keras input
``(112, 112, 16, 3)`` (height, width, time, channels), which is vidlearn's ``(B, 3, 16, 112, 112)``::

    conv1 64  3x3x3 same -> ReLU -> pool1 1x2x2 (T, H, W) same   (B,  64, 16, 56, 56)
    conv2 128 3x3x3 same -> ReLU -> pool2 2x2x2 same              (B, 128,  8, 28, 28)
    conv3 128 3x3x3 same -> ReLU -> pool3 2x2x2 same              (B, 128,  4, 14, 14)
    conv4 256 3x3x3 same -> ReLU -> pool4 2x2x2 same              (B, 256,  2,  7,  7)
    conv5 256 3x3x3 same -> ReLU -> pool5 2x2x2 same              (B, 256,  1,  4,  4)
    flatten (B, 4096) -> fc6 2048 -> ReLU -> Dropout 0.5 -> fc7 2048 -> ReLU -> Dropout 0.5 -> fc8 101

16,117,733 parameters at 101 classes. The Keras pools use ``padding='same'`` (TensorFlow's rule: the
output is ``ceil(n / 2)`` and the padding goes *after*), which matters at pool5: 7x7 -> 4x4, the last
row and column pooled alone (:class:`~vidlearn.models.layers.MaxPool3dSame`; PyTorch's symmetric
``padding=1`` would shift every window). A 3x3x3 stride-1 ``same`` convolution is PyTorch's
``padding=1``. The Keras model ends in a softmax; this one returns the logits (the loss applies it).

Keras flattens pool5 as (height, width, time, channels), vidlearn as (channels, time, height, width): the
Keras weights loader (:mod:`vidlearn.models.keras`) permutes fc6's input rows accordingly, so a Keras
file loads with ``vidlearn.models.load_weights(model, "weights_c3d.h5")`` (Keras 2 ``save_weights``, as
the repository's ``train_c3d.py`` writes) or a Keras 3 ``.weights.h5``; ``h5py`` is needed
(``pip install 'vidlearn[keras]'``).

Training set-up of ``train_c3d.py`` (for a recipe): every kernel (not the biases) has an L2 regulariser
of 0.005, i.e. a loss term ``0.005 * sum(w**2)``, whose gradient ``0.01 * w`` is PyTorch SGD's
``weight_decay=0.01`` on the kernels only; SGD with Nesterov momentum 0.9, lr 0.005 divided by 10 after
epochs 4, 8 and 12, 16 epochs, batch 16 (each batch is followed by its horizontally flipped copy, so an
epoch is twice the training clips). Input: RGB frames resized to 128x171, minus the mean (99.9, 92.1,
82.6) divided by (65.8, 62.3, 60.3) per R, G, B (0-255 values), cropped to rows 8:120, columns 30:142
(no random crop); clips are the non-overlapping 16-frame windows of every video. Kernels start as Keras's
default ``glorot_uniform``, biases at zero, as here.
"""

from __future__ import annotations

import torch
from torch import nn

from vidlearn.models.classifier import ClassifierMixin
from vidlearn.models.keras import KerasLayer, register_keras_family
from vidlearn.models.layers import MaxPool3dSame
from vidlearn.models.registry import Preprocessing, WeightsSpec, register_model

__all__ = ["KERAS_WIDTHS", "C3DKeras", "c3d_keras"]

PAPER = ("TianzhongSong/C3D-keras (models.py), a smaller C3D after Tran et al. 2015, Learning "
         "Spatiotemporal Features with 3D Convolutional Networks (ICCV)")
SOURCE = "https://github.com/TianzhongSong/C3D-keras"
KERAS_WIDTHS = (64, 128, 128, 256, 256)
# Pool kernels = strides as (T, H, W); pool1 keeps time, as C3D's.
_POOL_KERNELS = ((1, 2, 2), (2, 2, 2), (2, 2, 2), (2, 2, 2), (2, 2, 2))


def _same_size(size: int, stride: int) -> int:
    return -(-size // stride)  # ceil, TensorFlow "SAME"


class C3DKeras(ClassifierMixin, nn.Module):
    """C3D-keras; see the module docstring for the data flow, shapes and training set-up.

    Args:
        num_classes: outputs of ``fc8`` (101 for UCF-101).
        in_channels: 3 for RGB.
        widths: the five conv widths (C3D-keras: 64, 128, 128, 256, 256).
        fc_dim: width of fc6 and fc7 (2048).
        clip_len, crop_size: the input clip ``(T, H=W)``, which sizes fc6 (16, 112).
        dropout: after fc6 and fc7 (0.5).
    """

    classifier_name = "fc8"
    feature_layers = ("fc6", "fc7")
    # The Keras model's input is (height, width, time, channels): its kernels and its Flatten use
    # this axis order (see vidlearn.models.keras).
    keras_axes = "HWT"

    def __init__(
        self,
        *,
        num_classes: int = 101,
        in_channels: int = 3,
        widths: tuple[int, int, int, int, int] = KERAS_WIDTHS,
        fc_dim: int = 2048,
        clip_len: int = 16,
        crop_size: int = 112,
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        if len(widths) != 5 or any(int(w) < 1 for w in widths):
            raise ValueError(f"widths must be 5 positive ints, got {widths!r}")
        if num_classes < 1 or fc_dim < 1 or clip_len < 1 or crop_size < 1:
            raise ValueError(f"num_classes, fc_dim, clip_len and crop_size must be positive, got "
                             f"{num_classes}, {fc_dim}, {clip_len}, {crop_size}")
        self.clip_len, self.crop_size = clip_len, crop_size
        channels, size = in_channels, [clip_len, crop_size, crop_size]
        for index, (width, kernel) in enumerate(zip(widths, _POOL_KERNELS), start=1):
            setattr(self, f"conv{index}", nn.Conv3d(channels, int(width), kernel_size=3, padding=1))
            setattr(self, f"pool{index}", MaxPool3dSame(kernel, stride=kernel))
            channels = int(width)
            size = [_same_size(n, k) for n, k in zip(size, kernel)]
        self.pool5_shape: tuple[int, int, int, int] = (channels, size[0], size[1], size[2])
        self.fc6 = nn.Linear(channels * size[0] * size[1] * size[2], fc_dim)
        self.fc7 = nn.Linear(fc_dim, fc_dim)
        self.fc8 = nn.Linear(fc_dim, num_classes)
        self.act = nn.ReLU()
        self.dropout = nn.Dropout(dropout)
        for module in self.modules():
            if isinstance(module, (nn.Conv3d, nn.Linear)):
                self._init_classifier(module)

    def forward_conv(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C, T, H, W) -> pool5 (B, 256, T', H', W')`` (``(B, 256, 1, 4, 4)`` at 16x112x112)."""
        if x.ndim != 5:
            raise ValueError(f"C3DKeras expects input (B, C, T, H, W), got shape {tuple(x.shape)}")
        for index in range(1, 6):
            x = getattr(self, f"pool{index}")(self.act(getattr(self, f"conv{index}")(x)))
        return x

    def forward_features(self, x: torch.Tensor, *, layer: str | None = None) -> torch.Tensor:
        """Clip features ``(B, fc_dim)``: the ReLU output of ``fc6`` or ``fc7`` (``None``: fc7)."""
        layer = self._feature_layer(layer, default="fc7")
        pooled = self.forward_conv(x)
        if tuple(pooled.shape[1:]) != self.pool5_shape:
            raise ValueError(
                f"C3DKeras was built for clips of {self.clip_len}x{self.crop_size}x{self.crop_size} "
                f"(pool5 {self.pool5_shape}); input {tuple(x.shape)} gives pool5 {tuple(pooled.shape[1:])}"
            )
        # (C, T, H, W) order; a Keras fc6 is permuted from its (H, W, T, C) order when loaded.
        features = self.act(self.fc6(pooled.flatten(1)))
        if layer == "fc6":
            return features
        return self.act(self.fc7(self.dropout(features)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C, T, H, W) -> logits (B, num_classes)`` (the Keras model's softmax input)."""
        return self.fc8(self.dropout(self.forward_features(x)))

    def _init_classifier(self, head: nn.Module) -> None:
        # Keras's defaults: glorot_uniform kernels (fans as PyTorch counts them), zero biases.
        nn.init.xavier_uniform_(head.weight)
        nn.init.zeros_(head.bias)

    def keras_layers(self) -> tuple[KerasLayer, ...]:
        """The layers with weights in the Keras model's order (for :mod:`vidlearn.models.keras`)."""
        convs = tuple(KerasLayer(f"conv{index}", "conv3d") for index in range(1, 6))
        return (*convs, KerasLayer("fc6", "dense", flatten_from=self.pool5_shape),
                KerasLayer("fc7", "dense"), KerasLayer("fc8", "dense"))


_PREPROCESSING = Preprocessing(
    mean=(99.9, 92.1, 82.6),
    std=(65.8, 62.3, 60.3),
    channel_order="RGB",
    value_range=(0.0, 255.0),
    clip_length=16,
    resize_short_side=128,
    crop_size=112,
    notes="train_c3d.py: frames resized to 128x171 (cv2, RGB), (x - mean) / std per R, G, B on 0-255 "
    "values, crop rows 8:120 and columns 30:142, 16 consecutive frames; vidlearn input (B, 3, 16, 112, 112) "
    "is the Keras (B, 112, 112, 16, 3) permuted by (0, 4, 3, 1, 2).",
)

WEIGHTS = (
    WeightsSpec(
        name="ucf101-split1",
        filename="weights_c3d.h5",
        source=f"{SOURCE} (README: trained weights on a Baidu Pan link; train_c3d.py writes "
        "results/weights_c3d.h5 with Keras 2 save_weights)",
        license="MIT (the repository's LICENSE)",
        layout="keras2-h5",
        meta={"num_classes": 101, "classes": "UCF-101 (101 classes, classInd.txt order, 0-based)"},
        preprocessing=_PREPROCESSING,
        metrics={"clip_top1": 42.96},
        protocol="As reported by the repository (README, results/result.txt, epoch 16): accuracy over "
        "the non-overlapping 16-frame clips of UCF-101 split 1's test videos, one centre-ish crop, from "
        "scratch.",
    ),
)


@register_model(
    "c3d_keras",
    paper=PAPER,
    input_shape=(3, 16, 112, 112),
    default_num_classes=101,
    weights=WEIGHTS,
    small_input_shape=(3, 16, 32, 32),
    family="c3d_keras",
    small_kwargs={"num_classes": 5, "width_multiplier": 0.125, "fc_dim": 64, "clip_len": 16, "crop_size": 32},
)
def c3d_keras(
    *,
    num_classes: int = 101,
    in_channels: int = 3,
    width_multiplier: float = 1.0,
    fc_dim: int = 2048,
    clip_len: int = 16,
    crop_size: int = 112,
    dropout: float = 0.5,
) -> C3DKeras:
    """C3D-keras (TianzhongSong/C3D-keras): 5 3x3x3 convs, SAME pools, fc6/fc7 2048, fc8; 16,117,733 params.

    ``width_multiplier`` scales the conv widths and ``fc_dim`` the fc6/fc7 width for CPU-sized variants;
    ``clip_len`` and ``crop_size`` size fc6. The defaults are the Keras model, whose weights load with
    ``vidlearn.models.load_weights(model, "weights_c3d.h5")``.
    """
    if width_multiplier <= 0:
        raise ValueError(f"width_multiplier must be positive, got {width_multiplier}")
    widths = tuple(max(1, round(w * width_multiplier)) for w in KERAS_WIDTHS)
    return C3DKeras(num_classes=num_classes, in_channels=in_channels, widths=widths,  # type: ignore[arg-type]
                    fc_dim=fc_dim, clip_len=clip_len, crop_size=crop_size, dropout=dropout)


register_keras_family("c3d_keras")
