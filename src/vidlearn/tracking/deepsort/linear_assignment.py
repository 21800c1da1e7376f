"""DeepSORT's association steps (nwojke/deep_sort ``linear_assignment.py`` and ``iou_matching.py``).

* :func:`min_cost_matching`: one Hungarian assignment on a cost matrix; pairs above ``max_distance`` are
  unmatched.
* :func:`matching_cascade`: Wojke et al. 2017, Listing 1: tracks seen 1 frame ago are matched first, then
  tracks seen 2 frames ago against the detections left over, up to ``cascade_depth`` (= ``max_age``), so a
  recently seen track wins a detection over one whose uncertainty has grown.
* :func:`gate_cost_matrix`: pairs whose squared Mahalanobis distance exceeds the chi-square 0.95 quantile
  get :data:`INFTY_COST`.
* :func:`iou_cost`: ``1 - IoU`` for tracks seen in the last frame; older tracks get :data:`INFTY_COST`.

Indices are ``int64`` arrays of track rows and detection rows; a matching returns
``(matches (K, 2) as (track, detection), unmatched_tracks, unmatched_detections)`` in nwojke's order (the
order decides which new track gets which id).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.optimize import linear_sum_assignment

from ..boxes import cxcyah_to_xyxy, iou_matrix
from ..kalman import CHI2_95, DeepSortKalmanFilter

__all__ = ["INFTY_COST", "gate_cost_matrix", "iou_cost", "matching_cascade", "min_cost_matching"]

#: Cost given to forbidden pairs (nwojke/deep_sort's value).
INFTY_COST = 1e5

DistanceFn = Callable[[np.ndarray, np.ndarray], np.ndarray]
Matching = tuple[np.ndarray, np.ndarray, np.ndarray]


def _empty_matches() -> np.ndarray:
    return np.zeros((0, 2), dtype=np.int64)


def min_cost_matching(
    distance: DistanceFn, max_distance: float, track_indices: np.ndarray, detection_indices: np.ndarray
) -> Matching:
    """Solve one assignment; ``distance(track_indices, detection_indices)`` gives the ``(T, D)`` cost."""
    track_indices = np.asarray(track_indices, dtype=np.int64)
    detection_indices = np.asarray(detection_indices, dtype=np.int64)
    if len(track_indices) == 0 or len(detection_indices) == 0:
        return _empty_matches(), track_indices, detection_indices
    cost = np.array(distance(track_indices, detection_indices), dtype=np.float64)
    cost[cost > max_distance] = max_distance + 1e-5
    rows, cols = linear_sum_assignment(cost)  # rows come sorted
    rejected = cost[rows, cols] > max_distance
    # nwojke's order: what the solver left unassigned first, then the rejected pairs (in row order).
    # (Boolean masks rather than np.setdiff1d: this runs once per cascade level, on a few dozen indices.)
    row_free = np.ones(len(track_indices), dtype=bool)
    row_free[rows] = False
    col_free = np.ones(len(detection_indices), dtype=bool)
    col_free[cols] = False
    kept = ~rejected
    matches = np.stack([track_indices[rows[kept]], detection_indices[cols[kept]]], axis=1)
    unmatched_tracks = track_indices[np.concatenate([np.flatnonzero(row_free), rows[rejected]])]
    unmatched_detections = detection_indices[np.concatenate([np.flatnonzero(col_free), cols[rejected]])]
    return matches, unmatched_tracks, unmatched_detections


def matching_cascade(
    distance: DistanceFn,
    max_distance: float,
    cascade_depth: int,
    time_since_update: np.ndarray,
    track_indices: np.ndarray,
    detection_indices: np.ndarray,
) -> Matching:
    """Match by increasing ``time_since_update`` (1, 2, ..., ``cascade_depth``), each level on what is left."""
    track_indices = np.asarray(track_indices, dtype=np.int64)
    unmatched_detections = np.asarray(detection_indices, dtype=np.int64)
    matches = [_empty_matches()]
    since = time_since_update[track_indices]
    # Only the levels that hold tracks, in increasing order (an empty level matches nothing).
    for level in np.unique(since[(since >= 1) & (since <= cascade_depth)]):
        if len(unmatched_detections) == 0:
            break
        level_tracks = track_indices[since == level]
        level_matches, _, unmatched_detections = min_cost_matching(
            distance, max_distance, level_tracks, unmatched_detections
        )
        matches.append(level_matches)
    all_matches = np.concatenate(matches)
    matched = np.zeros(int(track_indices.max(initial=-1)) + 1, dtype=bool)
    matched[all_matches[:, 0]] = True
    unmatched_tracks = np.sort(track_indices[~matched[track_indices]])
    return all_matches, unmatched_tracks, unmatched_detections


def gate_cost_matrix(
    kf: DeepSortKalmanFilter,
    cost: np.ndarray,
    mean: np.ndarray,
    covariance: np.ndarray,
    measurements: np.ndarray,
    only_position: bool = False,
    gated_cost: float = INFTY_COST,
) -> np.ndarray:
    """Set ``cost (T, D)`` to ``gated_cost`` where the Mahalanobis gate of track ``t`` rejects detection ``d``.

    ``mean (T, 8)``, ``covariance (T, 8, 8)`` are the tracks' states, ``measurements (D, 4)`` ``[cx, cy, a, h]``.
    """
    threshold = CHI2_95[2 if only_position else 4]
    gating = kf.gating_distance(mean, covariance, measurements, only_position)
    cost = cost.copy()
    cost[gating > threshold] = gated_cost
    return cost


def iou_cost(
    track_mean: np.ndarray, time_since_update: np.ndarray, detection_boxes: np.ndarray
) -> np.ndarray:
    """``(T, D)`` ``1 - IoU`` of tracks ``track_mean (T, 8)`` and ``detection_boxes (D, 4)`` xyxy.

    Tracks not updated in the last frame (``time_since_update > 1``) get :data:`INFTY_COST`.
    """
    cost = 1.0 - iou_matrix(cxcyah_to_xyxy(track_mean), detection_boxes)
    cost[np.asarray(time_since_update) > 1, :] = INFTY_COST
    return cost
