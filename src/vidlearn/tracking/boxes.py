"""Box utilities: format conversions, IoU matrices and non-maximum suppression.

Inside the library a box is ``float (N, 4)`` ``x1, y1, x2, y2`` in pixels (0-based, ``x2 = x1 + w``).
MOTChallenge files keep their own 1-based ``x, y, w, h`` (the top-left pixel of the image is ``(1, 1)``);
:func:`mot_to_xyxy` and :func:`xyxy_to_mot` convert at the file boundary and nowhere else.

The Kalman filters use centre-based parametrisations: SORT's ``(cx, cy, s, r)`` with area ``s = w h`` and
aspect ratio ``r = w / h`` (Bewley et al., "Simple Online and Realtime Tracking", ICIP 2016) and
DeepSORT's ``(cx, cy, a, h)`` with ``a = w / h`` (Wojke et al., "Simple Online and Realtime Tracking with
a Deep Association Metric", ICIP 2017).

Every function takes NumPy arrays and works on all boxes at once.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "cxcyah_to_xyxy",
    "cxcysr_to_xyxy",
    "iou_matrix",
    "mot_to_xyxy",
    "nms",
    "validate_boxes",
    "xywh_to_xyxy",
    "xyxy_to_cxcyah",
    "xyxy_to_cxcysr",
    "xyxy_to_mot",
    "xyxy_to_xywh",
]


def validate_boxes(boxes: np.ndarray, name: str = "boxes") -> np.ndarray:
    """Return ``boxes`` as ``float64 (N, 4)``; raise ``ValueError`` naming the first bad box.

    A bad box is non-finite (NaN or infinite) or has ``x2 < x1`` or ``y2 < y1``.
    """
    array = np.asarray(boxes, dtype=np.float64)
    if array.size == 0:
        return array.reshape(0, 4)
    if array.ndim != 2 or array.shape[1] != 4:
        raise ValueError(f"{name} must have shape (N, 4) as x1, y1, x2, y2; got shape {array.shape}")
    # Trackers call this every frame: on the good path two reductions (x2 - x1 keeps its sign exactly, and
    # is NaN where a coordinate is); the bad box is looked for only on failure.
    if np.isfinite(array.sum()) and (array[:, 2:] - array[:, :2]).min() >= 0:
        return array
    if not np.isfinite(array.sum()):
        bad = ~np.isfinite(array).all(axis=1)
        if bad.any():
            index = int(np.flatnonzero(bad)[0])
            raise ValueError(f"{name}[{index}] is not finite: {array[index].tolist()}")
    if (array[:, 2:] < array[:, :2]).any():
        index = int(np.flatnonzero((array[:, 2:] < array[:, :2]).any(axis=1))[0])
        raise ValueError(f"{name}[{index}] has x2 < x1 or y2 < y1 (expected x1, y1, x2, y2): {array[index].tolist()}")
    return array


def xywh_to_xyxy(boxes: np.ndarray) -> np.ndarray:
    """``(N, 4)`` top-left x, y, width, height -> ``(N, 4)`` x1, y1, x2, y2 (same origin)."""
    boxes = np.asarray(boxes, dtype=np.float64)
    return np.concatenate([boxes[..., :2], boxes[..., :2] + boxes[..., 2:4]], axis=-1)


def xyxy_to_xywh(boxes: np.ndarray) -> np.ndarray:
    """``(N, 4)`` x1, y1, x2, y2 -> ``(N, 4)`` top-left x, y, width, height (same origin)."""
    boxes = np.asarray(boxes, dtype=np.float64)
    return np.concatenate([boxes[..., :2], boxes[..., 2:4] - boxes[..., :2]], axis=-1)


def mot_to_xyxy(boxes: np.ndarray) -> np.ndarray:
    """MOTChallenge 1-based ``x, y, w, h`` ``(N, 4)`` -> library 0-based ``x1, y1, x2, y2`` ``(N, 4)``."""
    xyxy = xywh_to_xyxy(boxes)
    return xyxy - 1.0


def xyxy_to_mot(boxes: np.ndarray) -> np.ndarray:
    """Library 0-based ``x1, y1, x2, y2`` ``(N, 4)`` -> MOTChallenge 1-based ``x, y, w, h`` ``(N, 4)``."""
    xywh = xyxy_to_xywh(boxes)
    xywh[..., :2] += 1.0
    return xywh


def xyxy_to_cxcysr(boxes: np.ndarray) -> np.ndarray:
    """``(N, 4)`` x1, y1, x2, y2 -> SORT's measurement ``(N, 4)`` centre x, centre y, area, aspect w/h."""
    boxes = np.asarray(boxes, dtype=np.float64)
    w = boxes[..., 2] - boxes[..., 0]
    h = boxes[..., 3] - boxes[..., 1]
    # Same operation order as abewley/sort's convert_bbox_to_z, so the numbers agree to the last bit.
    return np.stack([boxes[..., 0] + w / 2.0, boxes[..., 1] + h / 2.0, w * h, w / h], axis=-1)


def cxcysr_to_xyxy(state: np.ndarray) -> np.ndarray:
    """SORT's ``(N, >=4)`` centre x, centre y, area, aspect -> ``(N, 4)`` x1, y1, x2, y2.

    A negative area gives NaN (as in abewley/sort's ``convert_x_to_bbox``); SORT drops such tracks.
    """
    state = np.asarray(state, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        w = np.sqrt(state[..., 2] * state[..., 3])
        h = state[..., 2] / w
    cx, cy = state[..., 0], state[..., 1]
    return np.stack([cx - w / 2.0, cy - h / 2.0, cx + w / 2.0, cy + h / 2.0], axis=-1)


def xyxy_to_cxcyah(boxes: np.ndarray) -> np.ndarray:
    """``(N, 4)`` x1, y1, x2, y2 -> DeepSORT's measurement ``(N, 4)`` centre x, centre y, aspect w/h, height."""
    boxes = np.asarray(boxes, dtype=np.float64)
    w = boxes[..., 2] - boxes[..., 0]
    h = boxes[..., 3] - boxes[..., 1]
    return np.stack([boxes[..., 0] + w / 2.0, boxes[..., 1] + h / 2.0, w / h, h], axis=-1)


def cxcyah_to_xyxy(state: np.ndarray) -> np.ndarray:
    """DeepSORT's ``(N, >=4)`` centre x, centre y, aspect, height -> ``(N, 4)`` x1, y1, x2, y2."""
    state = np.asarray(state, dtype=np.float64)
    h = state[..., 3]
    w = state[..., 2] * h
    x1 = state[..., 0] - w / 2.0
    y1 = state[..., 1] - h / 2.0
    return np.stack([x1, y1, x1 + w, y1 + h], axis=-1)


def iou_matrix(boxes_a: np.ndarray, boxes_b: np.ndarray) -> np.ndarray:
    """Intersection over union of every pair: ``(N, 4)`` x ``(M, 4)`` xyxy -> ``float64 (N, M)``.

    Pairs whose union is empty (two degenerate boxes) get 0, not NaN. The operations run in the order
    TrackEval's ``_calculate_box_ious`` and abewley/sort's ``iou_batch`` use, so the values are bitwise equal
    to theirs (which keeps ties in the assignment resolved the same way). Trackers call this every frame on
    a few dozen boxes, so it is written as few ``(N, M)`` operations as possible, and the fix-up of
    degenerate boxes runs only when one is present.
    """
    a = np.asarray(boxes_a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(boxes_b, dtype=np.float64).reshape(-1, 4)
    a_t, b_t = a.T, b.T
    ax1, ay1, ax2, ay2 = a_t[:, :, np.newaxis]
    width = np.minimum(ax2, b_t[2]) - np.maximum(ax1, b_t[0])
    height = np.minimum(ay2, b_t[3]) - np.maximum(ay1, b_t[1])
    np.maximum(width, 0.0, out=width)
    np.maximum(height, 0.0, out=height)
    intersection = width * height
    area_a = (a_t[2] - a_t[0]) * (a_t[3] - a_t[1])
    area_b = (b_t[2] - b_t[0]) * (b_t[3] - b_t[1])
    union = area_a[:, np.newaxis] + area_b - intersection
    eps = np.finfo(np.float64).eps
    if intersection.size and (union.min() <= eps or area_a.min() <= eps or area_b.min() <= eps):
        intersection[area_a <= eps, :] = 0.0
        intersection[:, area_b <= eps] = 0.0
        intersection[union <= eps] = 0.0
        union[union <= eps] = 1.0
    intersection /= union
    return intersection


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Greedy non-maximum suppression; returns the kept indices ``int64 (K,)`` by decreasing score.

    A box is suppressed when its IoU with a kept, higher-scoring box exceeds ``iou_threshold``
    (``torchvision.ops.nms`` does the work). ``iou_threshold >= 1`` keeps every box.
    """
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    if len(boxes) != len(scores):
        raise ValueError(f"nms: {len(boxes)} boxes but {len(scores)} scores")
    if iou_threshold >= 1.0:
        return np.argsort(-scores, kind="stable").astype(np.int64)
    if len(boxes) == 0:
        return np.zeros(0, dtype=np.int64)
    import torch
    from torchvision.ops import nms as torchvision_nms

    keep = torchvision_nms(torch.from_numpy(boxes), torch.from_numpy(scores), float(iou_threshold))
    return keep.numpy().astype(np.int64)
