"""GOTURN: generic object tracking using regression networks.

Held, Thrun & Savarese, "Learning to Track at 100 FPS with Deep Regression Networks", ECCV 2016. Two crops,
both centred on the target's box in the previous frame and ``k = 2`` times its size (the context factor),
go through one convolutional tower (shared weights); the two feature maps are concatenated and three fully
connected layers regress the target's box in the current crop::

    previous frame's crop (B, 3, 227, 227) -> tower -> (B, 256, 6, 6) --+
                                                                         +-> concat (B, 18432)
    current frame's search region (B, 3, 227, 227) -> tower -> (B, 256, 6, 6)
      -> fc6 4096 -> ReLU -> Dropout -> fc7 4096 -> ReLU -> Dropout -> fc7b 4096 -> ReLU -> Dropout
      -> fc8 4                                                   (B, 4) x1, y1, x2, y2 in [0, 10]

The box is in the search region's coordinates scaled to ``[0, scale]`` (GOTURN's ``kScaleFactor = 10``:
``(0, 0)`` the region's top-left, ``(10, 10)`` its bottom-right). The tower is CaffeNet's first five
layers (``backbone="caffenet"``: 96-256-384-384-256 channels, grouped conv2/4/5, local response
normalisation, as the paper) or torchvision's AlexNet (``backbone="alexnet"``: 64-192-384-256-256, no
LRN), whose ImageNet weights load with :meth:`Goturn.load_backbone` (the paper initialises the tower from
ImageNet and does not fine-tune it: ``freeze_backbone``). ``backbone="small"`` is a CPU-sized tower for
demos and tests (same data flow). Crops come in as RGB in [0, 1]; the model normalises them the way its
weights expect (``input_format``: torchvision's ImageNet mean/std, Caffe's BGR 0-255 minus the mean, or
NanoTrack's plain BGR 0-255). ``backbone="nanotrack"`` (model ``goturn_nanotrack``) is NanoTrack-v2's
MobileNetV3 backbone, a tracking-trained tower that loads from its published ONNX file
(:meth:`Goturn.load_backbone`): a stand-in for the paper's ImageNet tower where no ImageNet file is at hand.

Parameters (``backbone="caffenet"``, 227x227): tower 2,334,080, head 109,080,580, total 111,414,660.
The published Caffe model (``tracker.prototxt``) stores the tower twice (``conv1..5`` and
``conv1_p..5_p``, both frozen copies of CaffeNet), 113,748,740 numbers; :mod:`.caffe` converts it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from vidlearn.models import CheckpointLoadError, register_model

__all__ = [
    "BACKBONES",
    "CAFFE_MEAN_BGR",
    "CONTEXT_FACTOR",
    "OUTPUT_SCALE",
    "PAPER",
    "PAPER_PARAMETERS",
    "Goturn",
    "crop_regions",
    "goturn",
    "goturn_alexnet",
    "goturn_nanotrack",
    "image_to_region",
    "make_tower",
    "region_to_image",
    "search_regions",
]

PAPER = "Held, Thrun & Savarese, Learning to Track at 100 FPS with Deep Regression Networks, ECCV 2016"
#: Crops are ``CONTEXT_FACTOR`` times the previous box's width and height, centred on it (the paper's k = 2).
CONTEXT_FACTOR = 2.0
#: GOTURN regresses box corners scaled to ``[0, OUTPUT_SCALE]`` over the search region (kScaleFactor).
OUTPUT_SCALE = 10.0
#: Caffe's mean pixel of the GOTURN / CaffeNet weights, BGR in 0-255.
CAFFE_MEAN_BGR = (104.0, 117.0, 123.0)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
#: Parameters of the paper-sized network with one shared CaffeNet tower (see the module docstring).
PAPER_PARAMETERS = 111_414_660

BACKBONES = ("caffenet", "alexnet", "nanotrack", "small")


def make_tower(backbone: str, width: int = 16) -> tuple[nn.Module, int]:
    """The convolutional tower ``(B, 3, S, S) -> (B, C, s, s)`` and its channels ``C``.

    ``caffenet``: conv1 96 11x11/4 -> ReLU -> max 3/2 -> LRN -> conv2 256 5x5 g2 -> ReLU -> max 3/2 -> LRN
    -> conv3 384 3x3 -> ReLU -> conv4 384 3x3 g2 -> ReLU -> conv5 256 3x3 g2 -> ReLU -> max 3/2
    (227 -> 6). ``alexnet``: torchvision's ``features`` with the same indices as its state dict (224/227 -> 6).
    ``nanotrack``: NanoTrack-v2's MobileNetV3 backbone, 48 channels at stride 16 (127 -> 8; :mod:`.nanotrack`).
    ``small``: conv 5x5/2 ``width`` -> BN -> ReLU -> max 2 -> conv 3x3 ``2 width`` -> BN -> ReLU -> max 2 -> conv 3x3
    ``4 width`` -> BN -> ReLU -> max 2 (64 -> 4).
    """
    if backbone == "caffenet":
        lrn = {"size": 5, "alpha": 1e-4, "beta": 0.75, "k": 1.0}
        layers = nn.Sequential(
            nn.Conv2d(3, 96, 11, stride=4), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2, ceil_mode=True),
            nn.LocalResponseNorm(**lrn),
            nn.Conv2d(96, 256, 5, padding=2, groups=2), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2, ceil_mode=True),
            nn.LocalResponseNorm(**lrn),
            nn.Conv2d(256, 384, 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(384, 384, 3, padding=1, groups=2), nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, 3, padding=1, groups=2), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2, ceil_mode=True),
        )
        return layers, 256
    if backbone == "alexnet":
        # Index for index torchvision.models.alexnet().features, so its state dict keys load unchanged.
        layers = nn.Sequential(
            nn.Conv2d(3, 64, 11, stride=4, padding=2), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
            nn.Conv2d(64, 192, 5, padding=2), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
            nn.Conv2d(192, 384, 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(256, 256, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
        )
        return layers, 256
    if backbone == "nanotrack":
        from vidlearn.tracking.sot.nanotrack import NanoTrackBackbone

        tower = NanoTrackBackbone()
        return tower, tower.out_channels
    if backbone == "small":
        # Batch norm after each convolution: trained from scratch in a minute, the tower needs it.
        layers = nn.Sequential(
            nn.Conv2d(3, width, 5, stride=2, padding=2), nn.BatchNorm2d(width), nn.ReLU(inplace=True), nn.MaxPool2d(2),
            nn.Conv2d(width, 2 * width, 3, padding=1), nn.BatchNorm2d(2 * width), nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
            nn.Conv2d(2 * width, 4 * width, 3, padding=1), nn.BatchNorm2d(4 * width), nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
        )
        return layers, 4 * width
    raise ValueError(f"unknown GOTURN backbone {backbone!r}; choose one of {', '.join(BACKBONES)}")


def search_regions(boxes: torch.Tensor, context: float = CONTEXT_FACTOR) -> torch.Tensor:
    """Regions ``(N, 4)`` xyxy ``context`` times the size of ``boxes (N, 4)`` xyxy, on the same centres.

    Each side is at least one pixel, so a degenerate box still gives a region to look in.
    """
    centre = (boxes[:, :2] + boxes[:, 2:]) / 2
    half = (boxes[:, 2:] - boxes[:, :2]).clamp(min=1.0 / context) * (context / 2)
    return torch.cat([centre - half, centre + half], dim=1)


def crop_regions(
    frames: torch.Tensor, regions: torch.Tensor, size: int, frame_index: torch.Tensor | None = None
) -> torch.Tensor:
    """Cut ``regions (N, 4)`` xyxy out of ``frames (B, 3, H, W)`` float and resize each to ``size x size``.

    Bilinear sampling at the output pixels' centres (one ``grid_sample`` call for all regions); the aspect
    ratio is not kept (GOTURN stretches the region to the square input); parts outside the frame are black,
    as GOTURN pads them. ``frame_index (N,)`` says which frame each region is cut from (default: frame ``i``
    for region ``i``). Pixel ``(i, j)`` covers ``[j, j + 1) x [i, i + 1)``. Returns ``(N, 3, size, size)``.
    """
    if frame_index is None:
        frame_index = torch.arange(len(regions), device=regions.device)
    height, width = frames.shape[-2:]
    regions = regions.to(frames.dtype)
    steps = (torch.arange(size, dtype=frames.dtype, device=frames.device) + 0.5) / size  # (S,) in (0, 1)
    xs = regions[:, 0:1] + steps * (regions[:, 2:3] - regions[:, 0:1])  # (N, S) pixel coordinates
    ys = regions[:, 1:2] + steps * (regions[:, 3:4] - regions[:, 1:2])
    # grid_sample's normalised coordinates (align_corners=False): -1 and 1 are the outer pixel edges.
    grid = torch.stack(torch.broadcast_tensors((2 * xs / width - 1)[:, None, :], (2 * ys / height - 1)[:, :, None]),
                       dim=-1)  # (N, S, S, 2) as (x, y)
    return F.grid_sample(frames[frame_index], grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def region_to_image(outputs: torch.Tensor, regions: torch.Tensor, scale: float = OUTPUT_SCALE) -> torch.Tensor:
    """GOTURN outputs ``(N, 4)`` in ``[0, scale]`` over ``regions (N, 4)`` -> boxes ``(N, 4)`` xyxy in the image."""
    size = (regions[:, 2:] - regions[:, :2]).repeat(1, 2)
    return regions[:, :2].repeat(1, 2) + outputs / scale * size


def image_to_region(boxes: torch.Tensor, regions: torch.Tensor, scale: float = OUTPUT_SCALE) -> torch.Tensor:
    """Boxes ``(N, 4)`` xyxy in the image -> GOTURN's targets ``(N, 4)`` in ``[0, scale]`` over ``regions``."""
    size = (regions[:, 2:] - regions[:, :2]).repeat(1, 2)
    return (boxes - regions[:, :2].repeat(1, 2)) / size * scale


class Goturn(nn.Module):
    """The GOTURN network (see the module docstring for the data flow and shapes).

    Args:
        backbone: ``caffenet`` (the paper), ``alexnet`` (torchvision's layout) or ``small`` (CPU-sized).
        input_size: side of the square crops (227 in the paper; 64 for ``small``).
        fc_dim: width of the three fully connected layers (4096).
        dropout: dropout after each of them (0.5, CaffeNet's).
        width: first-layer channels of the ``small`` tower.
        input_format: ``torchvision`` (RGB, ImageNet mean/std), ``caffe`` (BGR, 0-255, mean pixel subtracted)
            or ``bgr255`` (BGR, 0-255: NanoTrack's); defaults to ``caffe`` for ``caffenet``, ``bgr255`` for
            ``nanotrack`` and ``torchvision`` otherwise.
        freeze_backbone: do not train the tower (the paper keeps the ImageNet convolutions fixed).
    """

    def __init__(
        self, *, backbone: str = "caffenet", input_size: int = 227, fc_dim: int = 4096, dropout: float = 0.5,
        width: int = 16, input_format: Literal["torchvision", "caffe", "bgr255"] | None = None,
        freeze_backbone: bool = False,
    ) -> None:
        super().__init__()
        self.backbone = backbone
        self.input_size = int(input_size)
        self.tower, channels = make_tower(backbone, width)
        with torch.device("meta"):
            side = make_tower(backbone, width)[0](torch.zeros(1, 3, self.input_size, self.input_size)).shape[-1]
        if side < 1:
            raise ValueError(f"input_size {input_size} is too small for the {backbone} tower")
        self.feature_dim = channels * side * side
        self.head = nn.Sequential(
            nn.Linear(2 * self.feature_dim, fc_dim), nn.ReLU(inplace=True), nn.Dropout(dropout),
            nn.Linear(fc_dim, fc_dim), nn.ReLU(inplace=True), nn.Dropout(dropout),
            nn.Linear(fc_dim, fc_dim), nn.ReLU(inplace=True), nn.Dropout(dropout),
            nn.Linear(fc_dim, 4),
        )
        self.input_format = input_format or {"caffenet": "caffe", "nanotrack": "bgr255"}.get(backbone, "torchvision")
        if self.input_format == "caffe":
            mean = torch.tensor(CAFFE_MEAN_BGR[::-1]) / 255.0  # as RGB in [0, 1]
            std = torch.full((3,), 1.0 / 255.0)
        elif self.input_format == "torchvision":
            mean, std = torch.tensor(IMAGENET_MEAN), torch.tensor(IMAGENET_STD)
        elif self.input_format == "bgr255":
            mean, std = torch.zeros(3), torch.full((3,), 1.0 / 255.0)
        else:
            raise ValueError(f"input_format must be 'torchvision', 'caffe' or 'bgr255', got {input_format!r}")
        # Not saved with the weights: the normalisation belongs to the input format, not to training.
        self.register_buffer("pixel_mean", mean.view(1, 3, 1, 1), persistent=False)
        self.register_buffer("pixel_std", std.view(1, 3, 1, 1), persistent=False)
        for module in self.head:
            if isinstance(module, nn.Linear):
                # GOTURN's fillers: Gaussian std 0.005 for fc6-fc7b, 0.01 for fc8; biases 1 and 0 (CaffeNet's).
                last = module.out_features == 4
                nn.init.normal_(module.weight, std=0.01 if last else 0.005)
                nn.init.constant_(module.bias, 0.0 if last else 1.0)
        if backbone in ("small", "nanotrack"):  # (NanoTrack's tower is meant to load its weights: He until then)
            for module in self.tower.modules():
                if isinstance(module, nn.Conv2d):
                    nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
                    nn.init.zeros_(module.bias)
            for module in self.head:
                if isinstance(module, nn.Linear) and module.out_features != 4:
                    # With Adam, He initialisation trains these heads in minutes; Caffe's 0.005 (for SGD) does not.
                    nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
                    nn.init.zeros_(module.bias)
        self.freeze_backbone(freeze_backbone)

    def freeze_backbone(self, frozen: bool = True) -> None:
        """Keep the tower's weights fixed (``requires_grad=False``) or train them."""
        for parameter in self.tower.parameters():
            parameter.requires_grad_(not frozen)

    def normalise(self, crops: torch.Tensor) -> torch.Tensor:
        """RGB crops in [0, 1] ``(B, 3, S, S)`` -> the tower's input (channel order and scale of the weights)."""
        x = (crops - self.pixel_mean) / self.pixel_std
        return x.flip(1) if self.input_format in ("caffe", "bgr255") else x

    def features(self, crops: torch.Tensor) -> torch.Tensor:
        """``(B, 3, S, S)`` RGB crops in [0, 1] -> ``(B, feature_dim)`` flattened tower output."""
        if crops.dim() != 4 or crops.shape[1] != 3 or tuple(crops.shape[2:]) != (self.input_size,) * 2:
            raise ValueError(f"crops must have shape (B, 3, {self.input_size}, {self.input_size}), "
                             f"got {tuple(crops.shape)}")
        return self.tower(self.normalise(crops)).flatten(1)

    def forward(self, previous: torch.Tensor, search: torch.Tensor) -> torch.Tensor:
        """Previous frame's crop and current search region, both ``(B, 3, S, S)`` RGB in [0, 1], ->
        ``(B, 4)`` box ``x1, y1, x2, y2`` in the search region scaled to ``[0, 10]``."""
        # One tower call on both crops: the shared weights run once over a batch of 2B.
        features = self.features(torch.cat([previous, search], dim=0))
        target, region = features.chunk(2, dim=0)
        return self.head(torch.cat([target, region], dim=1))

    def load_backbone(self, path: str | Path) -> None:
        """Load the tower's pretrained weights: ImageNet weights from a torchvision AlexNet state dict
        (``alexnet-owt-*.pth``) into the ``alexnet`` tower, or NanoTrack-v2's ``nanotrack_backbone_sim.onnx``
        into the ``nanotrack`` tower.

        Strict: every tensor of the tower must be in the file with its shape; an AlexNet file's
        ``classifier.*`` (ImageNet's head) is not used; any other key is an error naming it.
        """
        path = Path(path)
        if self.backbone == "nanotrack":
            from vidlearn.tracking.sot.nanotrack import read_nanotrack_backbone

            self.tower.load_state_dict(read_nanotrack_backbone(path, self.tower), strict=True)  # type: ignore[arg-type]
            return
        if self.backbone != "alexnet":
            raise ValueError(f"load_backbone reads torchvision AlexNet or NanoTrack-v2 weights; this GOTURN has the "
                             f"{self.backbone} tower (create it with backbone='alexnet' or 'nanotrack')")
        state = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(state, dict):
            raise CheckpointLoadError(f"{path}: expected a state dict, got {type(state).__name__}")
        own = {f"features.{key}": value for key, value in self.tower.state_dict().items()}
        unexpected = sorted(k for k in state if k not in own and not k.startswith("classifier."))
        missing = sorted(k for k in own if k not in state)
        if unexpected or missing:
            raise CheckpointLoadError(f"{path}: not a torchvision AlexNet state dict: "
                                      f"missing {missing[:4]}, unexpected {unexpected[:4]}")
        for key, value in own.items():
            if tuple(state[key].shape) != tuple(value.shape):
                raise CheckpointLoadError(f"{path}: {key} has shape {tuple(state[key].shape)}, "
                                          f"expected {tuple(value.shape)}")
        self.tower.load_state_dict({key[len("features."):]: state[key] for key in own}, strict=True)


@register_model(
    "goturn",
    paper=PAPER,
    input_shape=((3, 227, 227), (3, 227, 227)),
    small_input_shape=((3, 64, 64), (3, 64, 64)),
    small_kwargs={"backbone": "small", "input_size": 64, "fc_dim": 64, "width": 8},
    family="goturn",
)
def goturn(**kwargs: object) -> Goturn:
    """GOTURN with CaffeNet towers (the paper): previous crop + search region -> box, 227x227 crops."""
    return Goturn(**{"backbone": "caffenet", **kwargs})  # type: ignore[arg-type]


@register_model(
    "goturn_alexnet",
    paper=PAPER,
    input_shape=((3, 227, 227), (3, 227, 227)),
    small_input_shape=((3, 64, 64), (3, 64, 64)),
    small_kwargs={"backbone": "small", "input_size": 64, "fc_dim": 64, "width": 8},
    family="goturn",
)
def goturn_alexnet(**kwargs: object) -> Goturn:
    """GOTURN with torchvision AlexNet towers (ImageNet weights via ``Goturn.load_backbone``)."""
    return Goturn(**{"backbone": "alexnet", **kwargs})  # type: ignore[arg-type]


@register_model(
    "goturn_nanotrack",
    paper=PAPER,
    input_shape=((3, 127, 127), (3, 127, 127)),
    small_input_shape=((3, 64, 64), (3, 64, 64)),
    small_kwargs={"input_size": 64, "fc_dim": 64, "input_format": "torchvision"},
    family="goturn",
)
def goturn_nanotrack(**kwargs: object) -> Goturn:
    """GOTURN with NanoTrack-v2's tracking-trained MobileNetV3 tower (weights via ``Goturn.load_backbone`` from
    its ONNX file), 127x127 crops (``48 x 8 x 8`` features each)."""
    return Goturn(**{"backbone": "nanotrack", "input_size": 127, **kwargs})  # type: ignore[arg-type]
