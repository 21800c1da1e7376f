"""Detectors for the trackers: torchvision's detection networks with local weights, and a noisy oracle.

* :class:`TorchvisionDetector`: Faster R-CNN (Ren et al. 2015, the detector of SORT's and DeepSORT's papers),
  RetinaNet, FCOS or SSD / SSDlite from :mod:`torchvision.models.detection`, built with ``weights=None,
  weights_backbone=None`` and loaded strictly from a file the user gives (torchvision's own ``.pth``
  files, e.g. ``fasterrcnn_resnet50_fpn_coco-258fb6c6.pth``, or any ``state_dict``): nothing downloads. Its
  detections are filtered by class (COCO ids or names; default ``person``) and score.
* :class:`NoisyOracle`: detections made from ground truth with set rates of misses, box jitter and false
  positives, seeded. It is the detector of the built-in synthetic sequences
  (:mod:`vidlearn.synthetic.mot`), where a trained network would only add its own errors to the tracker's.

Both give, per frame, ``boxes float64 (N, 4)`` xyxy pixels, ``scores (N,)`` and ``classes (N,)``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .boxes import mot_to_xyxy, xyxy_to_mot
from .formats import MotRows

__all__ = ["DETECTORS", "FrameDetections", "NoisyOracle", "TorchvisionDetector", "select_detections"]

#: ``--detector`` names: torchvision builders (all take ``weights``, ``weights_backbone`` and ``num_classes``).
DETECTORS = (
    "fasterrcnn_resnet50_fpn",
    "fasterrcnn_resnet50_fpn_v2",
    "fasterrcnn_mobilenet_v3_large_fpn",
    "fasterrcnn_mobilenet_v3_large_320_fpn",
    "retinanet_resnet50_fpn",
    "retinanet_resnet50_fpn_v2",
    "fcos_resnet50_fpn",
    "ssd300_vgg16",
    "ssdlite320_mobilenet_v3_large",
)


@dataclass
class FrameDetections:
    """One frame's detections: ``boxes float64 (N, 4)`` xyxy pixels, ``scores (N,)``, ``classes int64 (N,)``."""

    boxes: np.ndarray
    scores: np.ndarray
    classes: np.ndarray

    def __len__(self) -> int:
        return len(self.boxes)


def select_detections(output: dict[str, torch.Tensor], classes: Sequence[int] | None,
                      score_threshold: float) -> FrameDetections:
    """A torchvision detection output (``boxes``, ``scores``, ``labels``) filtered by class and score."""
    boxes = output["boxes"].detach().cpu().double().numpy().reshape(-1, 4)
    scores = output["scores"].detach().cpu().double().numpy().reshape(-1)
    labels = output["labels"].detach().cpu().numpy().astype(np.int64).reshape(-1)
    keep = scores >= score_threshold
    if classes is not None:
        keep &= np.isin(labels, np.asarray(list(classes), dtype=np.int64))
    return FrameDetections(boxes[keep], scores[keep], labels[keep])


def _coco_categories() -> list[str]:
    """torchvision's 91 COCO category names (index = label; read from its weights metadata, no download)."""
    from torchvision.models.detection import FasterRCNN_ResNet50_FPN_Weights

    return list(FasterRCNN_ResNet50_FPN_Weights.COCO_V1.meta["categories"])


def _class_ids(classes: Sequence[int | str] | None) -> list[int] | None:
    if classes is None:
        return None
    names = None
    ids = []
    for value in classes:
        if isinstance(value, str) and not value.strip().isdigit():
            names = names or _coco_categories()
            if value not in names:
                known = ", ".join(n for n in names if n and n != "N/A")
                raise ValueError(f"unknown COCO class {value!r}; known: {known}")
            ids.append(names.index(value))
        else:
            ids.append(int(value))
    return ids


class TorchvisionDetector:
    """A torchvision detection network with weights from a local file.

    Args:
        name: one of :data:`DETECTORS`.
        weights: the ``state_dict`` file (``.pth``/``.pt``/``.safetensors``; a training checkpoint's
            ``model`` or ``state_dict`` entry is unwrapped); loaded strictly, a missing or unexpected key
            is an error naming the file and the keys.
        classes: labels to keep (COCO ids, or names such as ``"person"``); ``None`` keeps every class.
        score_threshold: detections scoring below this are dropped.
        num_classes: the network's outputs (91 for torchvision's COCO weights, background included).
        device: ``"cpu"``, ``"cuda"``, ...
        **kwargs: passed to the builder (e.g. ``box_detections_per_img``, ``min_size``).

    ``detector(frames)`` takes ``uint8 (B, H, W, 3)`` RGB frames and returns one :class:`FrameDetections`
    per frame.
    """

    def __init__(self, name: str, weights: str | os.PathLike, *, classes: Sequence[int | str] | None = ("person",),
                 score_threshold: float = 0.5, num_classes: int = 91, device: str = "cpu", **kwargs) -> None:
        from torchvision.models import detection

        from vidlearn.models.weights import read_checkpoint

        if name not in DETECTORS:
            raise ValueError(f"unknown detector {name!r}; known: {', '.join(DETECTORS)}")
        if not 0.0 <= float(score_threshold) <= 1.0:
            raise ValueError(f"score_threshold must be in [0, 1], got {score_threshold!r}")
        self.name = name
        self.classes = _class_ids(classes)
        self.score_threshold = float(score_threshold)
        self.device = torch.device(device)
        model = getattr(detection, name)(weights=None, weights_backbone=None, num_classes=num_classes, **kwargs)
        path = Path(weights)
        state = read_checkpoint(path)
        try:
            result = model.load_state_dict(state, strict=False)
        except RuntimeError as error:  # a key of the right name with the wrong shape
            raise ValueError(f"{path}: not {name} weights: {str(error).strip().splitlines()[-1].strip()}") from None
        problems = [f"missing {k}" for k in result.missing_keys] + [f"unexpected {k}" for k in result.unexpected_keys]
        if problems:
            shown = ", ".join(problems[:4]) + (f" and {len(problems) - 4} more" if len(problems) > 4 else "")
            raise ValueError(f"{path}: not {name} weights with {num_classes} classes: {shown}")
        self.model = model.eval().to(self.device)

    @torch.no_grad()
    def __call__(self, frames: torch.Tensor) -> list[FrameDetections]:
        if frames.dtype != torch.uint8 or frames.dim() != 4 or frames.shape[-1] != 3:
            raise ValueError(f"frames must be uint8 (B, H, W, 3), got {frames.dtype} {tuple(frames.shape)}")
        images = list(frames.to(self.device).permute(0, 3, 1, 2).float().div_(255.0))
        return [select_detections(out, self.classes, self.score_threshold) for out in self.model(images)]


@dataclass(frozen=True)
class NoisyOracle:
    """Detections from ground truth with errors at set rates (seeded; the same seed gives the same file).

    Args:
        miss_rate: chance that a visible object is not detected in a frame.
        jitter: box noise: the centre moves by ``N(0, jitter)`` box sizes, width and height scale by
            ``exp(N(0, jitter))``.
        false_positives: mean number of false detections per frame (Poisson), boxes of ground-truth sizes at
            uniform places.
        min_visibility: objects seen less than this (the ground truth's visibility column) are never
            detected; rows without visibility (``-1``) count as visible.
        true_scores: mean and spread of a true detection's score (clipped to ``[0.5, 1]``).
        false_scores: range of a false positive's score (uniform).
    """

    miss_rate: float = 0.1
    jitter: float = 0.04
    false_positives: float = 0.3
    min_visibility: float = 0.35
    true_scores: tuple[float, float] = (0.85, 0.08)
    false_scores: tuple[float, float] = (0.3, 0.8)

    def __post_init__(self) -> None:
        for name in ("miss_rate", "min_visibility"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)!r}")
        for name in ("jitter", "false_positives"):
            if not getattr(self, name) >= 0.0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)!r}")

    def detect(self, gt: MotRows, *, image_size: tuple[int, int], seed: int = 0,
               num_frames: int | None = None) -> MotRows:
        """Detection rows (``frame, -1, x, y, w, h, score, -1, -1, -1``) for frames ``1..num_frames``.

        ``gt`` rows with the consider flag 0 are still detected when visible enough (a detector does not
        know the flag); ``image_size = (height, width)`` bounds the false positives.
        """
        rng = np.random.default_rng(seed)
        num_frames = gt.num_frames if num_frames is None else int(num_frames)
        visible = np.where(gt.visibility < 0, 1.0, gt.visibility) >= self.min_visibility
        kept = np.flatnonzero(visible & (rng.random(len(gt)) >= self.miss_rate))
        xyxy = mot_to_xyxy(gt.boxes[kept])
        size = xyxy[:, 2:] - xyxy[:, :2]
        centre = (xyxy[:, :2] + xyxy[:, 2:]) / 2 + rng.normal(0.0, self.jitter, size.shape) * size
        size = size * np.exp(rng.normal(0.0, self.jitter, size.shape))
        true_boxes = np.concatenate([centre - size / 2, centre + size / 2], axis=1)
        mean, spread = self.true_scores
        true_scores = np.clip(rng.normal(mean, spread, len(kept)), 0.5, 1.0)

        counts = rng.poisson(self.false_positives, num_frames) if num_frames else np.zeros(0, dtype=np.int64)
        total = int(counts.sum())
        height, width = image_size
        if total and len(gt):
            all_sizes = gt.boxes[:, 2:4]
            false_size = all_sizes[rng.integers(0, len(gt), total)]
        else:
            false_size = np.full((total, 2), min(height, width) / 8.0)
        corner = rng.uniform(0.0, 1.0, (total, 2)) * np.maximum([width, height] - false_size, 1.0)
        false_boxes = np.concatenate([corner, corner + false_size], axis=1)
        false_scores = rng.uniform(*self.false_scores, total)

        frames = np.concatenate([gt.frames[kept], np.repeat(np.arange(1, num_frames + 1), counts)])
        boxes = np.concatenate([true_boxes, false_boxes]).reshape(-1, 4)
        scores = np.round(np.concatenate([true_scores, false_scores]), 4)
        order = np.argsort(frames, kind="stable")
        count = len(frames)
        return MotRows(frames=frames[order].astype(np.int64), ids=np.full(count, -1, dtype=np.int64),
                       boxes=xyxy_to_mot(boxes[order]), scores=scores[order],
                       classes=np.full(count, -1, dtype=np.int64), visibility=np.full(count, -1.0))
