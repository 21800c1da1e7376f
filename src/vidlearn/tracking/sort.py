"""SORT: Simple Online and Realtime Tracking (Bewley et al., ICIP 2016), faithful to abewley/sort.

Every frame::

    predict all tracks (7-d Kalman filter, :class:`~vidlearn.tracking.kalman.SortKalmanFilter`)
      -> drop tracks whose predicted box is NaN (negative area)
      -> IoU(detections, predictions); a unique one-to-one overlap above the threshold is taken as is,
         otherwise the Hungarian assignment on -IoU; pairs with IoU < iou_threshold are unmatched
      -> matched tracks: Kalman update, hits += 1, hit_streak += 1, time_since_update = 0
      -> each unmatched detection starts a new track
      -> output tracks updated this frame whose hit_streak >= min_hits, or every updated track while
         frame_count <= min_hits (so the first frames are not empty)
      -> delete tracks with time_since_update > max_age

Life-cycle of one track::

    detection unmatched --> new (hit_streak 0) --matched--> hit_streak 1, 2, ... --(>= min_hits)--> output
                              |                      |
                              +--missed-------------+--> hit_streak 0; deleted after max_age missed frames

The defaults are abewley/sort's (``max_age=1``, ``min_hits=3``, ``iou_threshold=0.3``); ids start at 1, as
its output does (``id + 1``). Tracks are held as arrays (structure of arrays) so each step is a handful of
array operations, whatever the number of tracks.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .assignment import linear_assignment
from .boxes import cxcysr_to_xyxy, iou_matrix, validate_boxes, xyxy_to_cxcysr
from .kalman import SortKalmanFilter

__all__ = ["Sort", "Tracks", "validate_frame_input"]


class Tracks(NamedTuple):
    """The confirmed tracks of one frame: ``ids int64 (M,)`` and ``boxes float64 (M, 4)`` xyxy."""

    ids: np.ndarray
    boxes: np.ndarray


def validate_frame_input(
    boxes: np.ndarray, scores: np.ndarray | None, features: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Check one frame's detections; return ``boxes (N, 4)``, ``scores (N,)``, ``features (N, D)`` as float64.

    ``scores=None`` means every detection scores 1. Raises ``ValueError`` naming the bad value.
    """
    boxes = validate_boxes(boxes, "boxes")
    if scores is None:
        scores = np.ones(len(boxes))
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    if len(scores) != len(boxes):
        raise ValueError(f"{len(boxes)} boxes but {len(scores)} scores")
    if not np.isfinite(scores).all():
        index = int(np.flatnonzero(~np.isfinite(scores))[0])
        raise ValueError(f"scores[{index}] is not finite: {scores[index]}")
    if features is not None:
        features = np.asarray(features, dtype=np.float64)
        if features.ndim != 2 or len(features) != len(boxes):
            raise ValueError(f"features must have shape ({len(boxes)}, D), got {features.shape}")
        if not np.isfinite(features).all():
            index = int(np.flatnonzero(~np.isfinite(features).all(axis=1))[0])
            raise ValueError(f"features[{index}] is not finite")
    return boxes, scores, features


def _check_int(name: str, value: int, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


class Sort:
    """SORT multi-object tracker (Bewley et al. 2016).

    Args:
        max_age: frames a track survives without a matched detection.
        min_hits: consecutive matched frames before a track is output (except in the first ``min_hits`` frames).
        iou_threshold: minimum IoU for a detection-track match, in ``[0, 1]``.
    """

    def __init__(self, max_age: int = 1, min_hits: int = 3, iou_threshold: float = 0.3) -> None:
        self.max_age = _check_int("max_age", max_age, 0)
        self.min_hits = _check_int("min_hits", min_hits, 0)
        if not 0.0 <= float(iou_threshold) <= 1.0:
            raise ValueError(f"iou_threshold must be in [0, 1], got {iou_threshold!r}")
        self.iou_threshold = float(iou_threshold)
        self.kf = SortKalmanFilter()
        self.reset()

    def reset(self) -> None:
        """Forget every track; ids start again at 1."""
        self.frame_count = 0
        self.last_frame: int | None = None
        self._next_id = 1
        self.mean = np.zeros((0, 7))
        self.covariance = np.zeros((0, 7, 7))
        self.ids = np.zeros(0, dtype=np.int64)
        self.hits = np.zeros(0, dtype=np.int64)
        self.hit_streak = np.zeros(0, dtype=np.int64)
        self.age = np.zeros(0, dtype=np.int64)
        self.time_since_update = np.zeros(0, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.ids)

    def _keep(self, mask: np.ndarray) -> None:
        if mask.all():
            return
        for name in ("mean", "covariance", "ids", "hits", "hit_streak", "age", "time_since_update"):
            setattr(self, name, getattr(self, name)[mask])

    def _associate(self, detections: np.ndarray, predicted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """abewley/sort's ``associate_detections_to_trackers``: ``(K, 2)`` (det, track) and new-track order."""
        if len(predicted) == 0 or len(detections) == 0:
            return np.zeros((0, 2), dtype=np.int64), np.arange(len(detections))
        iou = iou_matrix(detections, predicted)
        above = iou > self.iou_threshold
        if above.sum(axis=1).max() == 1 and above.sum(axis=0).max() == 1:
            pairs = np.argwhere(above)
        else:
            pairs = linear_assignment(-iou).matches
        low = iou[pairs[:, 0], pairs[:, 1]] < self.iou_threshold
        assigned = np.zeros(len(detections), dtype=bool)
        assigned[pairs[:, 0]] = True
        never = np.flatnonzero(~assigned)
        # New tracks start in abewley/sort's order: never-assigned detections, then the rejected low-IoU pairs.
        return pairs[~low], np.concatenate([never, pairs[low, 0]]).astype(np.int64)

    def _step(self, boxes: np.ndarray) -> Tracks:
        self.frame_count += 1
        if len(self.ids):
            # abewley/sort: an area velocity that would make the area non-positive is zeroed first.
            shrinking = self.mean[:, 6] + self.mean[:, 2] <= 0
            self.mean[shrinking, 6] = 0.0
            self.mean, self.covariance = self.kf.predict(self.mean, self.covariance)
            self.age += 1
            self.hit_streak[self.time_since_update > 0] = 0
            self.time_since_update += 1
        predicted = cxcysr_to_xyxy(self.mean)
        valid = ~np.isnan(predicted).any(axis=1)
        if not valid.all():
            self._keep(valid)
            predicted = predicted[valid]

        matches, new = self._associate(boxes, predicted)
        if len(matches):
            det, trk = matches[:, 0], matches[:, 1]
            self.mean[trk], self.covariance[trk] = self.kf.update(
                self.mean[trk], self.covariance[trk], xyxy_to_cxcysr(boxes[det])
            )
            self.time_since_update[trk] = 0
            self.hits[trk] += 1
            self.hit_streak[trk] += 1
        if len(new):
            mean, covariance = self.kf.initiate(xyxy_to_cxcysr(boxes[new]))
            count = len(new)
            self.mean = np.concatenate([self.mean, mean])
            self.covariance = np.concatenate([self.covariance, covariance])
            self.ids = np.concatenate([self.ids, np.arange(self._next_id, self._next_id + count)])
            self._next_id += count
            zeros = np.zeros(count, dtype=np.int64)
            self.hits = np.concatenate([self.hits, zeros])
            self.hit_streak = np.concatenate([self.hit_streak, zeros])
            self.age = np.concatenate([self.age, zeros])
            self.time_since_update = np.concatenate([self.time_since_update, zeros])

        shown = (self.time_since_update < 1) & (
            (self.hit_streak >= self.min_hits) | (self.frame_count <= self.min_hits)
        )
        # abewley/sort lists the output from the newest track to the oldest.
        order = np.flatnonzero(shown)[::-1]
        result = Tracks(self.ids[order].copy(), cxcysr_to_xyxy(self.mean[order]))
        self._keep(self.time_since_update <= self.max_age)
        return result

    def update(
        self,
        boxes: np.ndarray,
        scores: np.ndarray | None = None,
        features: np.ndarray | None = None,
        frame: int | None = None,
    ) -> Tracks:
        """Advance one frame with its detections and return the tracks to report for it.

        Args:
            boxes: ``(N, 4)`` x1, y1, x2, y2 detections of this frame (``N`` may be 0).
            scores: ``(N,)`` detection scores (SORT does not use them; checked for shape only).
            features: ignored by SORT (accepted so every tracker has the same ``update``).
            frame: optional frame number; frames skipped since the last call are run as frames without
                detections, so ages and the motion model stay in step. Must increase.

        Returns:
            :class:`Tracks` of this frame, newest track first.
        """
        boxes, scores, _ = validate_frame_input(boxes, scores, None)
        if frame is not None:
            frame = int(frame)
            if self.last_frame is not None:
                if frame <= self.last_frame:
                    raise ValueError(f"frame {frame} does not follow the previous frame {self.last_frame}")
                for _ in range(frame - self.last_frame - 1):
                    self._step(np.zeros((0, 4)))
            self.last_frame = frame
        return self._step(boxes)
