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
its output does (``id + 1``). Tracks are held as two arrays, ``(N, 24)`` compact Kalman states
(:class:`~vidlearn.tracking.kalman.SortCompactKalman`, filterpy's numbers) and ``(N, 5)`` integer counters,
so a frame is a fixed number of array operations on small arrays, whatever the number of tracks. A frame
with few boxes (at most ``Sort.scalar_pairs`` detection x track pairs; most MOTChallenge frames) runs the
same formulas on Python floats instead (:mod:`~vidlearn.tracking.sort_rows`), where NumPy's per-call cost
would dominate; both paths give the same numbers to the last bit.

Two options beyond the paper, both off by default (and then the output is abewley/sort's):

* ``byte=True``: BYTE (Zhang et al., "ByteTrack: Multi-Object Tracking by Associating Every Detection Box",
  ECCV 2022). Detections scoring at least ``high_threshold`` take part in the association above and alone
  start tracks; those in ``[low_threshold, high_threshold)`` are matched in a second IoU association
  (``IoU >= second_iou_threshold``) to the tracks left unmatched that were updated in the previous frame, so
  an occluded, low-scoring person continues a track instead of breaking it; the rest are dropped.
* ``cmc="ecc"`` or ``"orb"`` (or a ``camera_motion`` warp passed to :meth:`Sort.update`): camera-motion
  compensation (:mod:`~vidlearn.tracking.cmc`). The predicted states are warped by the motion of the image
  between the previous and the current frame before the association.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy.optimize import linear_sum_assignment

from .boxes import iou_matrix, validate_boxes
from .cmc import make_cmc, resolve_warp, similarity_scale
from .kalman import SortCompactKalman, SortKalmanFilter
from .sort_rows import associate_rows, box_of, predict_row, update_row, z_of

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
    if not np.isfinite(scores.sum()) and not np.isfinite(scores).all():
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


def check_byte_thresholds(low: float, high: float, second_iou: float) -> tuple[float, float, float]:
    """BYTE's thresholds as floats; ``ValueError`` unless ``low < high`` and the IoU is in ``[0, 1]``."""
    for name, value in (("low_threshold", low), ("high_threshold", high), ("second_iou_threshold", second_iou)):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)) or not np.isfinite(
                value):
            raise ValueError(f"{name} must be a finite number, got {value!r}")
    if not low < high:
        raise ValueError(f"low_threshold must be below high_threshold, got {low!r} >= {high!r}")
    if not 0.0 <= second_iou <= 1.0:
        raise ValueError(f"second_iou_threshold must be in [0, 1], got {second_iou!r}")
    return float(low), float(high), float(second_iou)


def _xyxy_to_z(boxes: np.ndarray) -> np.ndarray:
    # abewley/sort's convert_bbox_to_z, operation for operation: [x1 + w/2, y1 + h/2, w h, w / h].
    z = np.empty((len(boxes), 4))
    size = boxes[:, 2:] - boxes[:, :2]
    np.add(boxes[:, :2], size / 2.0, out=z[:, :2])
    np.multiply(size[:, 0], size[:, 1], out=z[:, 2])
    np.divide(size[:, 0], size[:, 1], out=z[:, 3])
    return z


def _x_to_xyxy(x: np.ndarray) -> np.ndarray:
    # abewley/sort's convert_x_to_bbox on (N, >=4) [cx, cy, s, r]: w = sqrt(s r), h = s / w; a negative
    # area gives NaN (the caller drops such tracks).
    half = np.empty((len(x), 2))
    product = x[:, 2] * x[:, 3]
    if len(product) and product.min() < 0:
        with np.errstate(invalid="ignore"):
            np.sqrt(product, out=half[:, 0])
    else:
        np.sqrt(product, out=half[:, 0])
    np.divide(x[:, 2], half[:, 0], out=half[:, 1])
    half /= 2.0
    boxes = np.empty((len(x), 4))
    np.subtract(x[:, :2], half, out=boxes[:, :2])
    np.add(x[:, :2], half, out=boxes[:, 2:])
    return boxes


_EMPTY_PAIRS = np.zeros((0, 2), dtype=np.int64)
_EMPTY_INDEX = np.zeros(0, dtype=np.int64)
# Columns of Sort's integer counters.
_ID, _HITS, _STREAK, _AGE, _SINCE = range(5)
# Columns of the compact state's covariance entries for cx and cy, and for the area (four 2x2 blocks each).
_COV_XY = [8, 9, 12, 13, 16, 17, 20, 21]
_COV_AREA = [10, 14, 18, 22]


def associate(
    detections: np.ndarray, predicted: np.ndarray, iou_threshold: float
) -> tuple[np.ndarray, np.ndarray]:
    """abewley/sort's ``associate_detections_to_trackers``: ``(K, 2)`` (det, track) pairs and new-track order.

    A one-to-one overlap above the threshold is taken as is, otherwise the Hungarian assignment on ``-IoU``;
    pairs with ``IoU < iou_threshold`` are dropped. The second array lists the unmatched detections in
    abewley/sort's order: never-assigned detections, then those of the rejected pairs.
    """
    if len(predicted) == 0 or len(detections) == 0:
        return _EMPTY_PAIRS, np.arange(len(detections))
    iou = iou_matrix(detections, predicted)
    above = iou > iou_threshold
    if above.sum(axis=1).max() == 1 and above.sum(axis=0).max() == 1:
        pairs = np.argwhere(above)
    else:
        pairs = np.stack(linear_sum_assignment(-iou), axis=1)
    low = iou[pairs[:, 0], pairs[:, 1]] < iou_threshold
    assigned = np.zeros(len(detections), dtype=bool)
    assigned[pairs[:, 0]] = True
    never = np.flatnonzero(~assigned)
    if not low.any():
        return pairs, never
    return pairs[~low], np.concatenate([never, pairs[low, 0]])




class Sort:
    """SORT multi-object tracker (Bewley et al. 2016), with optional BYTE and camera-motion compensation.

    Args:
        max_age: frames a track survives without a matched detection.
        min_hits: consecutive matched frames before a track is output (except in the first ``min_hits`` frames).
        iou_threshold: minimum IoU for a detection-track match, in ``[0, 1]``.
        byte: BYTE's two-stage association by score (see the module docstring); off by default.
        high_threshold, low_threshold: BYTE's score thresholds (``low < high``; ByteTrack's 0.6 and 0.1).
        second_iou_threshold: minimum IoU of BYTE's second association (ByteTrack's 0.5).
        cmc: ``None`` (default), ``"ecc"`` or ``"orb"``: estimate the camera motion from the ``image`` given
            to every :meth:`update`.
        cmc_downscale: shrink factor of the images for the motion estimate.
    """

    #: Frames with at most this many detection x track pairs (and neither BYTE nor camera motion) run on
    #: Python floats: the same numbers as the array path, with far fewer NumPy calls. A negative value
    #: sends every frame down the array path.
    scalar_pairs: int = 144

    def __init__(
        self, max_age: int = 1, min_hits: int = 3, iou_threshold: float = 0.3, *, byte: bool = False,
        high_threshold: float = 0.6, low_threshold: float = 0.1, second_iou_threshold: float = 0.5,
        cmc: str | None = None, cmc_downscale: int = 2,
    ) -> None:
        self.max_age = _check_int("max_age", max_age, 0)
        self.min_hits = _check_int("min_hits", min_hits, 0)
        if not 0.0 <= float(iou_threshold) <= 1.0:
            raise ValueError(f"iou_threshold must be in [0, 1], got {iou_threshold!r}")
        self.iou_threshold = float(iou_threshold)
        if not isinstance(byte, (bool, np.bool_)):
            raise ValueError(f"byte must be True or False, got {byte!r}")
        self.byte = bool(byte)
        self.low_threshold, self.high_threshold, self.second_iou_threshold = check_byte_thresholds(
            low_threshold, high_threshold, second_iou_threshold)
        self.cmc = make_cmc(cmc, cmc_downscale)
        self.kf = SortKalmanFilter()
        self._filter = SortCompactKalman(self.kf)
        self._rows_constants = (self._filter.initial.tolist(), self._filter.q_position.tolist(),
                                self._filter.q_velocity.tolist(), self._filter.r.tolist())
        self.reset()

    def reset(self) -> None:
        """Forget every track; ids start again at 1."""
        self.frame_count = 0
        self.last_frame: int | None = None
        self._next_id = 1
        self._state = np.zeros((0, 24))
        self._counters = np.zeros((0, 5), dtype=np.int64)
        # Between small frames the tracks stay Python lists (rows of ``_state`` and ``_counters``);
        # ``_arrays`` turns them back into the arrays when the array path or a reader needs them.
        self._lists: tuple[list[list[float]], list[list[int]]] | None = None
        if self.cmc is not None:
            self.cmc.reset()

    def __len__(self) -> int:
        return len(self._counters) if self._lists is None else len(self._lists[1])

    def _arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """``(state (N, 24), counters (N, 5))``, converted from the small-frame lists if they hold the tracks."""
        if self._lists is not None:
            rows, counters = self._lists
            self._state = np.array(rows, dtype=np.float64).reshape(-1, 24)
            self._counters = np.array(counters, dtype=np.int64).reshape(-1, 5)
            self._lists = None
        return self._state, self._counters

    # Read-only views of the tracks (rows in creation order).
    ids = property(lambda self: self._arrays()[1][:, _ID], doc="``int64 (N,)`` track ids.")
    hits = property(lambda self: self._arrays()[1][:, _HITS], doc="``int64 (N,)`` matched frames.")
    hit_streak = property(lambda self: self._arrays()[1][:, _STREAK], doc="``int64 (N,)`` consecutive matches.")
    age = property(lambda self: self._arrays()[1][:, _AGE], doc="``int64 (N,)`` frames since creation.")
    time_since_update = property(lambda self: self._arrays()[1][:, _SINCE], doc="``int64 (N,)`` frames unmatched.")

    @property
    def mean(self) -> np.ndarray:
        """``(N, 7)`` Kalman means ``[cx, cy, s, r, vx, vy, vs]``."""
        return self._filter.expand(self._arrays()[0])[0]

    @property
    def covariance(self) -> np.ndarray:
        """``(N, 7, 7)`` Kalman covariances."""
        return self._filter.expand(self._arrays()[0])[1]

    def _compensate(self, warp: np.ndarray) -> None:
        """Warp the predicted states by the camera motion ``[s R | t]`` (previous frame -> this frame)."""
        state = self._state
        linear, scale2 = warp[:, :2], similarity_scale(warp) ** 2
        state[:, 0:2] = state[:, 0:2] @ linear.T + warp[:, 2]
        state[:, 4:6] = state[:, 4:6] @ linear.T
        state[:, [2, 6]] *= scale2  # area and its velocity
        # Covariance blocks: x and y share theirs (same noise, same updates), so R s^2 P R^T = s^2 P.
        state[:, _COV_XY] *= scale2
        state[:, _COV_AREA] *= scale2 * scale2

    def _step(self, boxes: np.ndarray, scores: np.ndarray, warp: np.ndarray | None) -> Tracks:
        self.frame_count += 1
        state, counters = self._arrays()
        if len(counters):
            # abewley/sort: an area velocity that would make the area non-positive is zeroed first.
            state[:, 6] *= state[:, 6] + state[:, 2] > 0
            self._filter.predict(state)
            counters[:, _STREAK] *= counters[:, _SINCE] == 0
            counters[:, _AGE:] += 1
            if warp is not None:
                self._compensate(warp)
            predicted = _x_to_xyxy(state)
            if np.isnan(predicted.sum()):
                valid = ~np.isnan(predicted).any(axis=1)
                self._state, self._counters = state, counters = state[valid], counters[valid]
                predicted = predicted[valid]
        else:
            predicted = np.zeros((0, 4))

        if self.byte:
            high = np.flatnonzero(scores >= self.high_threshold)
            matches, new = associate(boxes[high], predicted, self.iou_threshold)
            matches, new = np.stack([high[matches[:, 0]], matches[:, 1]], axis=1), high[new]
            low = np.flatnonzero((scores >= self.low_threshold) & (scores < self.high_threshold))
            left = np.ones(len(counters), dtype=bool)
            left[matches[:, 1]] = False
            # ByteTrack's second association: only tracks that were tracked in the previous frame.
            candidates = np.flatnonzero(left & (counters[:, _SINCE] == 1))
            if len(low) and len(candidates):
                second, _ = associate(boxes[low], predicted[candidates], self.second_iou_threshold)
                matches = np.concatenate([matches, np.stack([low[second[:, 0]], candidates[second[:, 1]]], axis=1)])
        else:
            matches, new = associate(boxes, predicted, self.iou_threshold)
        if len(matches):
            det, trk = matches[:, 0], matches[:, 1]
            state[trk] = self._filter.update(state[trk], _xyxy_to_z(boxes[det]))
            counters[trk, _SINCE] = 0
            counters[trk, _HITS:_STREAK + 1] += 1
        if len(new):
            count = len(new)
            added = np.zeros((count, 5), dtype=np.int64)
            added[:, _ID] = np.arange(self._next_id, self._next_id + count)
            self._next_id += count
            self._state = state = np.concatenate([state, self._filter.initiate(_xyxy_to_z(boxes[new]))])
            self._counters = counters = np.concatenate([counters, added])

        since = counters[:, _SINCE]
        shown = since < 1
        if self.frame_count > self.min_hits:
            shown &= counters[:, _STREAK] >= self.min_hits
        # abewley/sort lists the output from the newest track to the oldest.
        order = np.flatnonzero(shown)[::-1]
        result = Tracks(counters[order, _ID], _x_to_xyxy(state[order]))
        if since.max(initial=0) > self.max_age:
            alive = since <= self.max_age
            self._state, self._counters = state[alive], counters[alive]
        return result

    def _step_scalar(self, boxes: np.ndarray) -> Tracks:
        """:meth:`_step` without BYTE or camera motion, on Python floats (small frames; same numbers)."""
        self.frame_count += 1
        initial, q_position, q_velocity, r = self._rows_constants
        rows, counters = (self._state.tolist(), self._counters.tolist()) if self._lists is None else self._lists
        predicted: list[list[float]] = []
        if rows:
            rows = [predict_row(row, q_position, q_velocity) for row in rows]
            for c in counters:
                if c[_SINCE] != 0:
                    c[_STREAK] = 0
                c[_AGE] += 1
                c[_SINCE] += 1
            predicted = [box_of(row) for row in rows]
            valid = [i for i, b in enumerate(predicted) if b[0] == b[0] and b[1] == b[1] and b[2] == b[2] and b[3] == b[3]]
            if len(valid) < len(rows):
                rows, counters = [rows[i] for i in valid], [counters[i] for i in valid]
                predicted = [predicted[i] for i in valid]
        detections = boxes.tolist()
        matches, new = associate_rows(detections, predicted, self.iou_threshold)
        for det, trk in matches:
            rows[trk] = update_row(rows[trk], z_of(detections[det]), r)
            c = counters[trk]
            c[_SINCE] = 0
            c[_HITS] += 1
            c[_STREAK] += 1
        for det in new:
            rows.append(z_of(detections[det]) + initial[4:])
            counters.append([self._next_id, 0, 0, 0, 0])
            self._next_id += 1

        warm_up = self.frame_count <= self.min_hits
        shown = [i for i in range(len(counters) - 1, -1, -1)
                 if counters[i][_SINCE] < 1 and (warm_up or counters[i][_STREAK] >= self.min_hits)]
        result = Tracks(np.array([counters[i][_ID] for i in shown], dtype=np.int64),
                        np.array([box_of(rows[i]) for i in shown], dtype=np.float64).reshape(-1, 4))
        if any(c[_SINCE] > self.max_age for c in counters):
            alive = [i for i, c in enumerate(counters) if c[_SINCE] <= self.max_age]
            rows, counters = [rows[i] for i in alive], [counters[i] for i in alive]
        self._lists = (rows, counters)
        return result

    def update(
        self,
        boxes: np.ndarray,
        scores: np.ndarray | None = None,
        features: np.ndarray | None = None,
        frame: int | None = None,
        *,
        image: np.ndarray | None = None,
        camera_motion: np.ndarray | None = None,
    ) -> Tracks:
        """Advance one frame with its detections and return the tracks to report for it.

        Args:
            boxes: ``(N, 4)`` x1, y1, x2, y2 detections of this frame (``N`` may be 0).
            scores: ``(N,)`` detection scores (used by BYTE only; otherwise checked for shape).
            features: ignored by SORT (accepted so every tracker has the same ``update``).
            frame: optional frame number; frames skipped since the last call are run as frames without
                detections, so ages and the motion model stay in step. Must increase.
            image: this frame, ``uint8 (H, W, 3)`` RGB or ``(H, W)`` grey; needed on every call when the
                tracker was built with ``cmc``.
            camera_motion: the ``(2, 3)`` similarity warp ``[s R | t]`` from the previous frame to this one,
                when the caller knows it (instead of ``cmc``).

        Returns:
            :class:`Tracks` of this frame, newest track first.
        """
        boxes, scores, _ = validate_frame_input(boxes, scores, None)
        warp = resolve_warp(self.cmc, image, camera_motion)
        if frame is not None:
            frame = int(frame)
            if self.last_frame is not None:
                if frame <= self.last_frame:
                    raise ValueError(f"frame {frame} does not follow the previous frame {self.last_frame}")
                for _ in range(frame - self.last_frame - 1):
                    self._step(np.zeros((0, 4)), np.zeros(0), None)
            self.last_frame = frame
        if warp is None and not self.byte and len(self) * len(boxes) <= self.scalar_pairs:
            return self._step_scalar(boxes)
        return self._step(boxes, scores, warp)
