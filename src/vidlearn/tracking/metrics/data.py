"""One sequence's ground truth and tracker output, prepared for the metrics as TrackEval prepares them.

:func:`prepare_mot_sequence` applies the MOTChallenge preprocessing of TrackEval's
``MotChallenge2DBox.get_preprocessed_seq_data`` (Luiten et al., TrackEval), so every metric counts the same
boxes TrackEval counts:

1. only pedestrians are evaluated, but every ground-truth class takes part in the matching;
2. per frame, tracker boxes are matched to all ground-truth boxes (Hungarian on IoU, IoU >= 0.5); tracker
   boxes matched to a distractor (person on vehicle, static person, distractor, reflection; MOT20 also
   non-MOT vehicle) are removed;
3. ground-truth boxes with the consider flag 0 ("zero-marked") or another class than pedestrian are removed;
4. ids are relabelled ``0..K-1`` in ascending order of the original ids.

MOT15 has no classes: only step 3's zero-marked rows are removed. The similarity of a ground-truth box and
a tracker box is their IoU, computed on the files' ``x, y, w, h`` exactly as TrackEval computes it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

from ..boxes import xywh_to_xyxy
from ..formats import MotRows

__all__ = ["MOT_CLASSES", "SequenceData", "prepare_mot_sequence"]

#: MOTChallenge class numbers (TrackEval's ``class_name_to_class_id``).
MOT_CLASSES = {
    "pedestrian": 1, "person_on_vehicle": 2, "car": 3, "bicycle": 4, "motorbike": 5, "non_mot_vehicle": 6,
    "static_person": 7, "distractor": 8, "occluder": 9, "occluder_on_ground": 10, "occluder_full": 11,
    "reflection": 12, "crowd": 13,
}
_DISTRACTORS = ("person_on_vehicle", "static_person", "distractor", "reflection")
_EPS = np.finfo(np.float64).eps


@dataclass
class SequenceData:
    """Per-frame ids (relabelled ``0..K-1``) and ``(G_t, T_t)`` IoU matrices of one sequence."""

    name: str
    num_timesteps: int
    gt_ids: list[np.ndarray] = field(default_factory=list)
    tracker_ids: list[np.ndarray] = field(default_factory=list)
    similarity_scores: list[np.ndarray] = field(default_factory=list)
    num_gt_ids: int = 0
    num_tracker_ids: int = 0
    num_gt_dets: int = 0
    num_tracker_dets: int = 0


def ious_by_frame(
    boxes_a: np.ndarray, offsets_a: np.ndarray, boxes_b: np.ndarray, offsets_b: np.ndarray,
    chunk_pairs: int = 500_000,
) -> list[np.ndarray]:
    """Per frame ``t`` the IoU matrix of ``boxes_a[offsets_a[t]:offsets_a[t + 1]]`` against ``boxes_b``'s rows
    of that frame, computed for all frames at once on the flat list of pairs (``chunk_pairs`` at a time),
    with :func:`~vidlearn.tracking.boxes.iou_matrix`'s operations in its order, so the values are the same
    bit for bit; one call instead of one per frame (tens of thousands in MOT17)."""
    count_a, count_b = np.diff(offsets_a), np.diff(offsets_b)
    counts = count_a * count_b
    starts = np.concatenate([[0], np.cumsum(counts)])
    eps = np.finfo(np.float64).eps
    out: list[np.ndarray] = []
    first, num_frames = 0, len(counts)
    while first < num_frames:
        last = min(num_frames, max(first + 1, int(np.searchsorted(starts, starts[first] + chunk_pairs, "right")) - 1))
        frames = np.arange(first, last)
        sizes = counts[first:last]
        frame = np.repeat(frames, sizes)
        local = np.arange(int(sizes.sum())) - np.repeat(starts[first:last] - starts[first], sizes)
        row = local // np.maximum(count_b[frame], 1)
        a = boxes_a[offsets_a[frame] + row]
        b = boxes_b[offsets_b[frame] + local - row * count_b[frame]]
        width = np.maximum(np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0]), 0.0)
        height = np.maximum(np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1]), 0.0)
        intersection = width * height
        area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
        area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
        union = area_a + area_b - intersection
        intersection[(area_a <= eps) | (area_b <= eps) | (union <= eps)] = 0.0
        union[union <= eps] = 1.0
        iou = intersection / union
        for t in frames:
            out.append(iou[starts[t] - starts[first]:starts[t + 1] - starts[first]].reshape(count_a[t], count_b[t]))
        first = last
    return out


def _relabel(per_frame: list[np.ndarray]) -> tuple[list[np.ndarray], int]:
    everything = np.concatenate(per_frame) if per_frame else np.zeros(0, dtype=np.int64)
    unique, inverse = np.unique(everything, return_inverse=True)
    offsets = np.cumsum([0] + [len(ids) for ids in per_frame])
    return [inverse[offsets[t]:offsets[t + 1]].astype(np.int64) for t in range(len(per_frame))], len(unique)


def prepare_mot_sequence(
    gt: MotRows, tracker: MotRows, num_frames: int, *, benchmark: str = "MOT17", preprocess: bool = True,
    name: str = "",
) -> SequenceData:
    """Split ``gt`` and ``tracker`` rows by frame and apply the MOTChallenge preprocessing.

    Args:
        gt: ground-truth rows (``scores`` holds the consider flag, ``classes`` the class).
        tracker: tracker result rows.
        num_frames: sequence length (frames ``1..num_frames``); rows past it are an error.
        benchmark: ``"MOT15"``, ``"MOT16"``, ``"MOT17"`` or ``"MOT20"``.
        preprocess: ``False`` skips steps 1, 2 and the class filter (zero-marked rows still go).
    """
    for rows, what in ((gt, "ground truth"), (tracker, "tracker")):
        if len(rows) and rows.num_frames > num_frames:
            raise ValueError(f"{name or 'sequence'}: {what} has frame {rows.num_frames} past the length {num_frames}")
    classes_used = preprocess and benchmark != "MOT15"
    if classes_used and len(gt):
        invalid = np.setdiff1d(np.unique(gt.classes), list(MOT_CLASSES.values()))
        if len(invalid):
            raise ValueError(f"{name or 'sequence'}: ground truth has unknown classes {invalid.tolist()}")
    if len(tracker) and tracker.classes.max() > 1:
        raise ValueError(f"{name or 'sequence'}: only pedestrians (class 1) can be evaluated, found class "
                         f"{int(tracker.classes.max())}")
    distractors = [MOT_CLASSES[c] for c in _DISTRACTORS] + ([MOT_CLASSES["non_mot_vehicle"]] if benchmark == "MOT20" else [])
    gt_sorted, gt_offsets = gt.frame_bounds(num_frames)
    tr_sorted, tr_offsets = tracker.frame_bounds(num_frames)
    gt_xyxy = xywh_to_xyxy(gt_sorted.boxes)
    tr_xyxy = xywh_to_xyxy(tr_sorted.boxes)
    # TrackEval casts the consider flag to int before comparing with 0.
    gt_keep_all = gt_sorted.scores.astype(np.int64) != 0
    if classes_used:
        gt_keep_all &= gt_sorted.classes == MOT_CLASSES["pedestrian"]
    is_distractor = np.isin(gt_sorted.classes, distractors)

    data = SequenceData(name=name, num_timesteps=num_frames)
    gt_ids, tracker_ids = [], []
    similarities = ious_by_frame(gt_xyxy, gt_offsets, tr_xyxy, tr_offsets)
    for t in range(num_frames):
        g0, g1 = gt_offsets[t], gt_offsets[t + 1]
        k0, k1 = tr_offsets[t], tr_offsets[t + 1]
        similarity = similarities[t]
        keep_tracker = np.ones(k1 - k0, dtype=bool)
        if classes_used and g1 > g0 and k1 > k0:
            scores = similarity.copy()
            scores[scores < 0.5 - _EPS] = 0.0
            matches = np.stack(linear_sum_assignment(-scores), axis=1)
            matches = matches[scores[matches[:, 0], matches[:, 1]] > _EPS]
            keep_tracker[matches[is_distractor[g0:g1][matches[:, 0]], 1]] = False
        keep_gt = gt_keep_all[g0:g1]
        gt_ids.append(gt_sorted.ids[g0:g1][keep_gt])
        tracker_ids.append(tr_sorted.ids[k0:k1][keep_tracker])
        data.similarity_scores.append(similarity[keep_gt][:, keep_tracker])
    data.gt_ids, data.num_gt_ids = _relabel(gt_ids)
    data.tracker_ids, data.num_tracker_ids = _relabel(tracker_ids)
    data.num_gt_dets = int(sum(len(ids) for ids in gt_ids))
    data.num_tracker_dets = int(sum(len(ids) for ids in tracker_ids))
    return data
