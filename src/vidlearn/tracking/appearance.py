"""Appearance features for DeepSORT: detections cut out of frames and embedded by a network.

Every embedder is called as ``embedder(frames, boxes, frame_index) -> float32 (K, D)`` unit-length rows, with
``frames uint8 (B, H, W, 3)`` RGB (as :class:`vidlearn.video.VideoReader` gives them), ``boxes float (K, 4)``
xyxy pixels and ``frame_index int (K,)`` the frame of each box. The crops of all ``K`` boxes are cut and
resized in one :func:`~vidlearn.tracking.models.reid.crop_boxes` call (one batched
``torchvision.ops.roi_align``), never box by box.

* :class:`ReIDEmbedder`: DeepSORT's own network ``deepsort_reid`` (Wojke et al. 2017), from a checkpoint of
  ``vidlearn train configs/tracking/deepsort/reid_*.yaml`` or :func:`~vidlearn.tracking.reid.train_reid`
  (:func:`load_reid_model` reads the architecture off the checkpoint's shapes).
* :class:`OnnxEmbedder`: an ONNX re-ID network through onnxruntime (the ``onnx`` extra), e.g. OSNet-x0.25
  trained on MSMT17 (Zhou et al., ICCV 2019; torchreid's export: input ``1x3x256x128`` RGB with ImageNet
  mean and std, 512-d output). Its graph has a fixed batch of 1, so the network runs once per crop; the
  crops are still cut in one call.
* :class:`TorchvisionEmbedder`: any torchvision classification backbone (``resnet18``, ``mobilenet_v3_small``,
  ...) with weights from a file, its classifier removed: the pooled features.

:func:`create_embedder` picks one from a path: ``.onnx`` -> ONNX, ``NAME:FILE`` with a torchvision model name
-> backbone, anything else -> a ``deepsort_reid`` checkpoint.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .models.reid import ReIDWideResNet, crop_boxes

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "OnnxEmbedder",
    "ReIDEmbedder",
    "TorchvisionEmbedder",
    "create_embedder",
    "load_reid_model",
]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _normalised(features: torch.Tensor) -> np.ndarray:
    return F.normalize(features.float(), dim=1).cpu().numpy()


def load_reid_model(path: str | os.PathLike, device: str = "cpu") -> ReIDWideResNet:
    """A ``deepsort_reid`` network built to the shapes of the checkpoint at ``path`` and loaded strictly.

    The stem width, embedding size, number of identities and crop size are read off the tensors (crops are
    taken as twice as high as wide, the network's 128x64 layout at any scale).
    """
    from vidlearn.models import create, load_weights
    from vidlearn.models.weights import read_checkpoint

    path = Path(path)
    state = read_checkpoint(path)
    try:
        width = int(state["stem.0.weight"].shape[0])
        feature_dim, flat = (int(s) for s in state["fc.weight"].shape)
        num_classes = int(state["classifier.weight"].shape[0])
    except KeyError as error:
        raise ValueError(f"{path}: not a deepsort_reid checkpoint (no {error.args[0]!r})") from None
    cells = flat // (4 * width)  # (H / 8) * (W / 8) with H = 2 W
    side = math.isqrt(cells // 2)
    if 2 * side * side != cells or flat % (4 * width):
        raise ValueError(f"{path}: fc.weight {tuple(state['fc.weight'].shape)} fits no 2:1 crop for width {width}")
    model = create("deepsort_reid", num_classes=num_classes, width=width, feature_dim=feature_dim,
                   input_size=(16 * side, 8 * side))
    load_weights(model, path)
    return model.eval().to(device)


class ReIDEmbedder:
    """``deepsort_reid`` features (128-d by default); ``model`` a network or a checkpoint path.

    ``keep_aspect`` widens each box to the crop's 1:2 aspect about its centre first, as deep_sort does for
    people; ``False`` stretches the box to the crop (for a network trained that way, such as the synthetic
    recipe's).
    """

    def __init__(self, model: ReIDWideResNet | str | os.PathLike, *, device: str = "cpu", batch_size: int = 256,
                 keep_aspect: bool = True) -> None:
        self.model = model.eval().to(device) if isinstance(model, nn.Module) else load_reid_model(model, device)
        self.device = torch.device(device)
        self.batch_size = batch_size
        self.crop_size = self.model.input_size
        self.keep_aspect = keep_aspect

    @torch.no_grad()
    def __call__(self, frames: torch.Tensor, boxes: np.ndarray | torch.Tensor,
                 frame_index: np.ndarray | torch.Tensor | None = None) -> np.ndarray:
        crops = crop_boxes(frames.to(self.device), torch.as_tensor(boxes), None if frame_index is None
                           else torch.as_tensor(frame_index), size=self.crop_size, keep_aspect=self.keep_aspect)
        if len(crops) == 0:
            return np.zeros((0, self.model.fc.out_features), dtype=np.float32)
        parts = [self.model.embed(crops[i:i + self.batch_size]) for i in range(0, len(crops), self.batch_size)]
        return _normalised(torch.cat(parts))


class OnnxEmbedder:
    """An ONNX re-ID network through onnxruntime; crops normalised with ``mean`` / ``std`` (ImageNet's).

    The crop size is the graph's input size (``(256, 128)`` for OSNet); boxes are stretched to it, as
    torchreid's training resized them (``keep_aspect=True`` widens them first, as deep_sort does). A graph with
    a fixed batch size of 1 is run once per crop, one with a free batch dimension once per call.
    """

    def __init__(self, path: str | os.PathLike, *, mean: Sequence[float] = IMAGENET_MEAN,
                 std: Sequence[float] = IMAGENET_STD, threads: int | None = None, keep_aspect: bool = False) -> None:
        try:
            import onnxruntime
        except ImportError:
            raise ImportError("ONNX re-ID models need onnxruntime: pip install 'vidlearn[onnx]'") from None
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"ONNX model {path} does not exist")
        options = onnxruntime.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        try:
            self.session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as error:  # onnxruntime raises its own types for unreadable graphs; name the file
            raise ValueError(f"{path}: cannot load the ONNX model: {str(error)[:200]}") from error
        graph_input = self.session.get_inputs()[0]
        shape = graph_input.shape
        if len(shape) != 4 or shape[1] != 3 or not all(isinstance(s, int) for s in shape[2:]):
            raise ValueError(f"{path}: expected an image input (B, 3, H, W), got {shape}")
        self.input_name = graph_input.name
        self.crop_size = (int(shape[2]), int(shape[3]))
        self.fixed_batch = shape[0] if isinstance(shape[0], int) else None
        self.mean = torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1)
        self.std = torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1)
        self.feature_dim = self.session.get_outputs()[0].shape[-1]
        self.keep_aspect = keep_aspect

    def __call__(self, frames: torch.Tensor, boxes: np.ndarray | torch.Tensor,
                 frame_index: np.ndarray | torch.Tensor | None = None) -> np.ndarray:
        crops = crop_boxes(frames, torch.as_tensor(boxes), None if frame_index is None else torch.as_tensor(frame_index),
                           size=self.crop_size, keep_aspect=self.keep_aspect)
        if len(crops) == 0:
            return np.zeros((0, int(self.feature_dim) if isinstance(self.feature_dim, int) else 0), dtype=np.float32)
        inputs = ((crops - self.mean) / self.std).numpy()
        step = self.fixed_batch or len(inputs)
        if self.fixed_batch and self.fixed_batch != 1 and len(inputs) % self.fixed_batch:
            raise ValueError(f"the ONNX graph takes batches of exactly {self.fixed_batch}")
        outputs = [self.session.run(None, {self.input_name: inputs[i:i + step]})[0] for i in range(0, len(inputs), step)]
        return _normalised(torch.from_numpy(np.concatenate(outputs)).flatten(1))


class TorchvisionEmbedder:
    """A torchvision classification backbone's pooled features (its classifier replaced by the identity).

    Args:
        name: a builder of :mod:`torchvision.models` (``resnet18``, ``resnet50``, ``mobilenet_v3_small``, ...).
        weights: its ``state_dict`` file (e.g. torchvision's ``resnet18-f37072fd.pth``), loaded strictly.
        crop_size: ``(height, width)`` of the crops (256 x 128, person-shaped, by default).
    """

    def __init__(self, name: str, weights: str | os.PathLike, *, crop_size: Sequence[int] = (256, 128),
                 device: str = "cpu", batch_size: int = 64) -> None:
        import torchvision

        from vidlearn.models.weights import read_checkpoint

        if name not in torchvision.models.list_models(module=torchvision.models):
            raise ValueError(f"{name!r} is not a torchvision classification model "
                             "(see torchvision.models.list_models())")
        model = torchvision.models.get_model(name, weights=None)
        path = Path(weights)
        try:
            result = model.load_state_dict(read_checkpoint(path), strict=False)
        except RuntimeError as error:  # a key of the right name with the wrong shape
            raise ValueError(f"{path}: not {name} weights: {str(error).strip().splitlines()[-1].strip()}") from None
        problems = [f"missing {k}" for k in result.missing_keys] + [f"unexpected {k}" for k in result.unexpected_keys]
        if problems:
            raise ValueError(f"{path}: not {name} weights: {', '.join(problems[:4])}"
                             + (f" and {len(problems) - 4} more" if len(problems) > 4 else ""))
        for head in ("fc", "classifier", "head", "heads"):
            if hasattr(model, head):
                setattr(model, head, nn.Identity())
                break
        self.model = model.eval().to(device)
        self.device = torch.device(device)
        self.crop_size = tuple(int(s) for s in crop_size)
        self.keep_aspect = False
        self.batch_size = batch_size
        self.mean = torch.tensor(IMAGENET_MEAN, device=self.device).view(1, 3, 1, 1)
        self.std = torch.tensor(IMAGENET_STD, device=self.device).view(1, 3, 1, 1)

    @torch.no_grad()
    def __call__(self, frames: torch.Tensor, boxes: np.ndarray | torch.Tensor,
                 frame_index: np.ndarray | torch.Tensor | None = None) -> np.ndarray:
        crops = crop_boxes(frames.to(self.device), torch.as_tensor(boxes), None if frame_index is None
                           else torch.as_tensor(frame_index), size=self.crop_size, keep_aspect=self.keep_aspect)
        crops = (crops - self.mean) / self.std
        parts = [self.model(crops[i:i + self.batch_size]).flatten(1) for i in range(0, len(crops), self.batch_size)]
        return _normalised(torch.cat(parts)) if parts else np.zeros((0, 0), dtype=np.float32)


def create_embedder(spec: str | os.PathLike, *, device: str = "cpu", keep_aspect: bool | None = None):
    """An embedder from a command-line spec: ``MODEL.onnx``, ``TORCHVISION_NAME:WEIGHTS`` or a
    ``deepsort_reid`` checkpoint; ``keep_aspect=None`` keeps each embedder's own default."""
    text = str(spec)
    name, colon, weights = text.partition(":")
    options = {} if keep_aspect is None else {"keep_aspect": keep_aspect}
    if text.lower().endswith(".onnx"):
        return OnnxEmbedder(text, **options)
    if colon and name.isidentifier() and not Path(text).exists():
        embedder = TorchvisionEmbedder(name, weights, device=device)
        embedder.keep_aspect = bool(keep_aspect)
        return embedder
    return ReIDEmbedder(text, device=device, **options)
