"""ROLO: recurrent YOLO, an LSTM over a detector's per-frame features and box.

Ning, Zhang, Huang, He, Ren & Wang, "Spatially Supervised Recurrent Convolutional Neural Networks for Visual
Object Tracking", ISCAS 2017 (arXiv 1607.05781, 2016). Each frame, a detector (YOLO in the paper) gives a
visual feature vector (YOLO's 4096-d fully connected layer) and its detection of the target (6 numbers:
class, box ``cx, cy, w, h`` normalised by the image size, confidence); their concatenation (4102 numbers)
is one LSTM step, and the target's box is read from the LSTM's output at the positions where the
detection's box sits in the input (``outputs[:, 4097:4101]`` in the authors' TensorFlow code: the LSTM
has as many hidden units as inputs and no output layer)::

    features (B, T, D), detections (B, T, 6) -> concat (B, T, D + 6) -> LSTM (hidden D + 6)
      -> outputs (B, T, D + 6) -> [:, :, D + 1 : D + 5]            (B, T, 4) cx, cy, w, h in [0, 1]

Training regresses the ground truth with ``100 * mean squared error`` over sequences of ``T`` frames
(the paper: ``T = 3`` in the main runs, also 6 and 9). The detector is not part of this module: features
and detections come from :class:`FrameFeatures` (a torchvision backbone with local weights, or a
parameter-free pixel grid), from files, or from any detector the caller plugs in.

Parameters: PyTorch's LSTM keeps two bias vectors where TensorFlow's ``LSTMCell`` keeps one, so the
paper-sized model (``D = 4096``) has ``4 * 4102 * (2 * 4102) + 2 * 4 * 4102 = 134,644,048`` parameters,
the TensorFlow model's 134,627,640 plus one extra bias of ``4 * 4102``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from vidlearn.models import CheckpointLoadError, register_model
from vidlearn.tracking.boxes import iou_matrix

__all__ = [
    "DETECTION_DIM",
    "PAPER",
    "BoxDetections",
    "DetectorBoxes",
    "FrameFeatures",
    "Rolo",
    "cxcywh_to_xyxy",
    "detection_vector",
    "rolo",
    "rolo_loss",
]

PAPER = ("Ning et al., Spatially Supervised Recurrent Convolutional Neural Networks for Visual Object "
         "Tracking, ISCAS 2017 (arXiv 1607.05781)")
#: The detection as ROLO feeds it: class, cx, cy, w, h (normalised by the image size), confidence.
DETECTION_DIM = 6


class Rolo(nn.Module):
    """ROLO's LSTM (see the module docstring).

    Args:
        feature_dim: ``D``, the detector's visual feature size (4096 for YOLO's fc layer).
        hidden_dim: LSTM units; ``None`` = ``D + 6`` as the paper, which reads the box out of the output.
            With another size a linear layer maps the output to the box.
    """

    def __init__(self, *, feature_dim: int = 4096, hidden_dim: int | None = None) -> None:
        super().__init__()
        self.feature_dim = int(feature_dim)
        input_dim = self.feature_dim + DETECTION_DIM
        self.hidden_dim = input_dim if hidden_dim is None else int(hidden_dim)
        self.lstm = nn.LSTM(input_dim, self.hidden_dim, batch_first=True)
        # The paper's read-out: the output units at the detection box's input positions.
        self.box_head = None if hidden_dim is None else nn.Linear(self.hidden_dim, 4)

    def forward(
        self, features: torch.Tensor, detections: torch.Tensor,
        state: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """``features (B, T, D)``, ``detections (B, T, 6)`` -> boxes ``(B, T, 4)`` ``cx, cy, w, h`` in [0, 1]."""
        outputs, _ = self.run(features, detections, state)
        return outputs

    def run(
        self, features: torch.Tensor, detections: torch.Tensor,
        state: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """As :meth:`forward`, also returning the LSTM state ``(h, c)`` to continue frame by frame."""
        if features.dim() != 3 or features.shape[-1] != self.feature_dim:
            raise ValueError(f"features must be (B, T, {self.feature_dim}), got {tuple(features.shape)}")
        if detections.shape != (*features.shape[:2], DETECTION_DIM):
            raise ValueError(f"detections must be (B, T, {DETECTION_DIM}) = {(*features.shape[:2], DETECTION_DIM)}, "
                             f"got {tuple(detections.shape)}")
        outputs, state = self.lstm(torch.cat([features, detections], dim=-1), state)
        if self.box_head is None:
            start = self.feature_dim + 1  # after the features and the class, where the detection's box sits
            return outputs[..., start:start + 4], state
        return self.box_head(outputs), state


def rolo_loss(predicted: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """ROLO's training loss: ``100 * mean((predicted - target)^2)`` over boxes ``(..., 4)`` in [0, 1]."""
    return 100.0 * F.mse_loss(predicted, target)


class FrameFeatures(nn.Module):
    """The detector's visual features of whole frames: ``(N, 3, H, W)`` RGB in [0, 1] -> ``(N, D)``.

    ``kind="grid"``: the frame averaged down to ``grid x grid`` pixels (``D = 3 grid^2``), no parameters, a
    stand-in when no detector weights are at hand. ``kind="resnet18"``: torchvision's ResNet-18 up to its
    global average pool (``D = 512``), ImageNet weights from ``weights`` (a torchvision state dict, loaded
    strictly; the ``fc.*`` head is not used), frozen.
    """

    def __init__(self, kind: str = "grid", *, grid: int = 8, weights: str | Path | None = None) -> None:
        super().__init__()
        self.kind = kind
        self.grid = int(grid)
        if kind == "grid":
            self.dim = 3 * self.grid * self.grid
            self.backbone = None
        elif kind == "resnet18":
            from torchvision.models import resnet18

            network = resnet18()
            if weights is not None:
                state = torch.load(weights, map_location="cpu", weights_only=True)
                own = network.state_dict()
                unexpected = sorted(set(state) - set(own))
                missing = sorted(set(own) - set(state))
                if unexpected or missing:
                    raise CheckpointLoadError(f"{weights}: not a torchvision ResNet-18 state dict: missing "
                                              f"{missing[:4]}, unexpected {unexpected[:4]}")
                network.load_state_dict(state, strict=True)
            network.fc = nn.Identity()
            self.backbone = network.eval().requires_grad_(False)
            self.dim = 512
            self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1), persistent=False)
            self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1), persistent=False)
        else:
            raise ValueError(f"unknown frame feature kind {kind!r}; choose grid or resnet18")

    @torch.no_grad()
    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        if frames.dim() != 4 or frames.shape[1] != 3:
            raise ValueError(f"frames must be (N, 3, H, W) RGB in [0, 1], got {tuple(frames.shape)}")
        if self.backbone is None:
            return F.adaptive_avg_pool2d(frames, self.grid).flatten(1)
        return self.backbone((frames - self.mean) / self.std)


@register_model(
    "rolo",
    paper=PAPER,
    input_shape=((3, 4096), (3, DETECTION_DIM)),
    small_input_shape=((3, 26), (3, DETECTION_DIM)),
    small_kwargs={"feature_dim": 26},
    family="rolo",
)
def rolo(**kwargs: object) -> Rolo:
    """ROLO: detector features + detection -> LSTM (hidden = input size) -> the target's box per frame."""
    return Rolo(**kwargs)  # type: ignore[arg-type]


class BoxDetections:
    """A detector for :class:`~vidlearn.tracking.sot.trackers.RoloTracker` from per-frame boxes.

    ``features`` computes the visual features of a frame; ``boxes (T, 4)`` xyxy are the detector's boxes of
    the target, one per frame (from a file a detector wrote; ``NaN`` where it found nothing, fed as zeros
    with confidence 0). Calling it with ``(frame (H, W, 3) uint8, index)`` gives ``(features (D,), detection (6,))``.
    """

    def __init__(self, features: FrameFeatures, boxes: np.ndarray) -> None:
        self.features = features
        self.boxes = np.asarray(boxes, np.float64).reshape(-1, 4)

    def __call__(self, frame: np.ndarray, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        if index >= len(self.boxes):
            raise ValueError(f"frame {index + 1}: the detections file has only {len(self.boxes)} boxes")
        image = torch.as_tensor(np.ascontiguousarray(frame)).permute(2, 0, 1)[None].float() / 255.0
        height, width = frame.shape[:2]
        return self.features(image)[0], detection_vector(self.boxes[index][None], (height, width))[0]


class DetectorBoxes:
    """A detector for :class:`~vidlearn.tracking.sot.trackers.RoloTracker` that runs a detection network.

    ``detector`` maps frames ``uint8 (1, H, W, 3)`` to one detection list per frame (boxes xyxy, scores:
    :class:`vidlearn.tracking.detectors.TorchvisionDetector`, a torchvision detector with local weights, filtered
    by class and score). Each frame, the target's detection is the one overlapping the target's last detected
    box most (the start box at first). ROLO's code picks, among YOLO's detections, the one that best matches
    the ground-truth box; a tracker has no ground truth at test time, so the last detected box stands in for
    it. None overlapping by at least ``min_iou`` is a missed frame (zeros, confidence 0) and the last box is
    kept for the next frame. The detection's confidence is the detector's score. Call :meth:`start` with the first frame's
    box before the first frame (:class:`RoloTracker` does).
    """

    def __init__(self, features: FrameFeatures, detector: Callable[[torch.Tensor], list], *,
                 min_iou: float = 0.1) -> None:
        self.features = features
        self.detector = detector
        self.min_iou = float(min_iou)
        self.last: np.ndarray | None = None

    def start(self, box: np.ndarray) -> None:
        self.last = np.asarray(box, np.float64).reshape(4).copy()

    def _check_started(self) -> None:
        if self.last is None:
            raise ValueError("DetectorBoxes needs the first frame's box: call start(box) first")

    def select(self, boxes: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, float]:
        """The target's box among ``boxes (N, 4)`` xyxy and its score; ``NaN`` boxes when none overlaps."""
        self._check_started()
        boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
        if len(boxes):
            overlap = iou_matrix(self.last[None], boxes)[0]
            best = int(np.argmax(overlap))
            if overlap[best] >= self.min_iou:
                self.last = boxes[best].copy()
                return boxes[best], float(np.asarray(scores).reshape(-1)[best])
        return np.full(4, np.nan), 0.0

    def __call__(self, frame: np.ndarray, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        self._check_started()
        frame = np.ascontiguousarray(frame)
        found = self.detector(torch.from_numpy(frame)[None])[0]
        box, score = self.select(found.boxes, found.scores)
        image = torch.from_numpy(frame).permute(2, 0, 1)[None].float() / 255.0
        return self.features(image)[0], detection_vector(box[None], frame.shape[:2], confidence=score)[0]


def detection_vector(boxes: np.ndarray, frame_size: tuple[int, int], confidence: float = 1.0) -> torch.Tensor:
    """Boxes ``(N, 4)`` xyxy pixels -> ROLO detections ``(N, 6)``: class 0, cx, cy, w, h (fractions of the
    frame), confidence; a non-finite box gives zeros (no detection)."""
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    height, width = frame_size
    scale = np.array([width, height], np.float64)
    centre = (boxes[:, :2] + boxes[:, 2:]) / 2 / scale
    size = (boxes[:, 2:] - boxes[:, :2]) / scale
    found = np.isfinite(boxes).all(1)
    vector = np.zeros((len(boxes), DETECTION_DIM))
    vector[found, 1:3], vector[found, 3:5], vector[found, 5] = centre[found], size[found], confidence
    return torch.as_tensor(vector, dtype=torch.float32)


def cxcywh_to_xyxy(boxes: torch.Tensor, frame_size: tuple[int, int]) -> torch.Tensor:
    """ROLO's ``(..., 4)`` cx, cy, w, h (fractions of the frame) -> pixels xyxy ``(..., 4)``."""
    height, width = frame_size
    scale = boxes.new_tensor([width, height, width, height])
    cx, cy, w, h = (boxes * scale).unbind(-1)
    return torch.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], dim=-1)
