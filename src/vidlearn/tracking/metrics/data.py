"""One sequence's ground truth and tracker output, prepared for the metrics as TrackEval prepares them.

:func:`prepare_mot_sequence` applies the MOTChallenge preprocessing of TrackEval's
``MotChallenge2DBox.get_preprocessed_seq_data`` (Luiten et al., TrackEval), so every metric counts the same
boxes TrackEval counts:

1. only pedestrians are evaluated, but every ground-truth class takes part in the matching;
2. per frame, tracker boxes are matched to all ground-truth boxes (Hungarian on IoU, IoU >= 0.5); tracker
   boxes matched to a distractor (person on vehicle, static person, distractor, reflection; MOT20 also
   non-MOT vehicle) are removed (the matching runs only in frames where a distractor box has IoU >= 0.5 with
   a tracker box: elsewhere it cannot remove anything);
3. ground-truth boxes with the consider flag 0 ("zero-marked") or another class than pedestrian are removed;
4. ids are relabelled ``0..K-1`` in ascending order of the original ids.

MOT15 has no classes: only step 3's zero-marked rows are removed. The similarity of a ground-truth box and
a tracker box is their IoU, computed on the files' ``x, y, w, h`` exactly as TrackEval computes it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

from ..boxes import xywh_to_xyxy
from ..formats import MotRows

__all__ = ["MOT_CLASSES", "FramePairs", "SequenceData", "prepare_mot_sequence"]

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
    _pairs: FramePairs | None = field(default=None, init=False, repr=False, compare=False)

    def pairs(self) -> FramePairs:
        """The similarity matrices as one flat array (built on first use, shared by the metrics; the
        per-frame lists must not change afterwards)."""
        if self._pairs is None:
            self._pairs = FramePairs(self)
        return self._pairs


def _padded(boxes: np.ndarray, offsets: np.ndarray, first: int, last: int, most: int) -> np.ndarray:
    """``(4, last - first, most)`` coordinates of frames ``first..last-1``'s boxes (``boxes[offsets[t]:offsets[t + 1]]``
    for frame ``t``), zeros after each frame's boxes."""
    counts = np.diff(offsets[first:last + 1])
    frame = np.repeat(np.arange(last - first), counts)
    padded = np.zeros((4, last - first, most))
    padded[:, frame, np.arange(len(frame)) - (offsets[first:last] - offsets[first])[frame]] = \
        boxes[offsets[first]:offsets[last]].T
    return padded


def _iou_blocks(
    boxes_a: np.ndarray, offsets_a: np.ndarray, boxes_b: np.ndarray, offsets_b: np.ndarray,
    chunk_pairs: int = 500_000, max_frames: int = 64,
) -> Iterator[tuple[int, int, np.ndarray]]:
    """``(first, last, iou)`` per block of frames: ``iou[t - first, :count_a[t], :count_b[t]]`` is frame ``t``'s
    IoU matrix (the rest is padding). Boxes are padded per frame and each block is one broadcast, so no pair
    is gathered; the operations are :func:`~vidlearn.tracking.boxes.iou_matrix`'s, in its order (bit for bit).
    A block holds ``chunk_pairs`` padded pairs at most (unless one frame has more)."""
    count_a, count_b = np.diff(offsets_a).tolist(), np.diff(offsets_b).tolist()
    num_frames = len(count_a)
    eps = np.finfo(np.float64).eps
    first = 0
    while first < num_frames:
        last, most_a, most_b = first + 1, count_a[first], count_b[first]
        while last < num_frames and last - first < max_frames:
            grown_a, grown_b = max(most_a, count_a[last]), max(most_b, count_b[last])
            if (last + 1 - first) * grown_a * grown_b > chunk_pairs:
                break
            last, most_a, most_b = last + 1, grown_a, grown_b
        a = _padded(boxes_a, offsets_a, first, last, most_a)
        b = _padded(boxes_b, offsets_b, first, last, most_b)
        ax1, ay1, ax2, ay2 = a[:, :, :, np.newaxis]
        bx1, by1, bx2, by2 = b[:, :, np.newaxis, :]
        # An area is the same product per box as per pair, so it is computed once per box.
        area_a = ((a[2] - a[0]) * (a[3] - a[1]))[:, :, np.newaxis]
        area_b = ((b[2] - b[0]) * (b[3] - b[1]))[:, np.newaxis, :]
        width = np.maximum(np.minimum(ax2, bx2) - np.maximum(ax1, bx1), 0.0)
        height = np.maximum(np.minimum(ay2, by2) - np.maximum(ay1, by1), 0.0)
        intersection = width * height
        union = area_a + area_b - intersection
        intersection[(area_a <= eps) | (area_b <= eps) | (union <= eps)] = 0.0
        union[union <= eps] = 1.0
        yield first, last, intersection / union
        first = last


def ious_by_frame(
    boxes_a: np.ndarray, offsets_a: np.ndarray, boxes_b: np.ndarray, offsets_b: np.ndarray,
    chunk_pairs: int = 500_000,
) -> list[np.ndarray]:
    """Per frame ``t`` the IoU matrix of ``boxes_a[offsets_a[t]:offsets_a[t + 1]]`` against ``boxes_b``'s rows
    of that frame, computed for blocks of frames at once (``chunk_pairs`` padded pairs at most, unless one
    frame has more), with :func:`~vidlearn.tracking.boxes.iou_matrix`'s operations in its order, so the values
    are the same bit for bit; a few calls instead of one per frame (tens of thousands in MOT17). The
    matrices are views into the blocks."""
    count_a, count_b = np.diff(offsets_a).tolist(), np.diff(offsets_b).tolist()
    out: list[np.ndarray] = []
    for first, last, iou in _iou_blocks(boxes_a, offsets_a, boxes_b, offsets_b, chunk_pairs):
        out.extend(iou[t - first, :count_a[t], :count_b[t]] for t in range(first, last))
    return out


def _relabel(ids: np.ndarray, offsets: np.ndarray) -> tuple[list[np.ndarray], int]:
    """Ids ``0..K-1`` in ascending order of ``ids``, split by frame (``offsets``); and ``K``."""
    unique, inverse = np.unique(ids, return_inverse=True)
    inverse = inverse.astype(np.int64).reshape(-1)
    bounds = offsets.tolist()
    return [inverse[bounds[t]:bounds[t + 1]] for t in range(len(bounds) - 1)], len(unique)


def _frames_with_distractor_overlap(
    gt_xyxy: np.ndarray, gt_frame: np.ndarray, is_distractor: np.ndarray, tr_xyxy: np.ndarray, tr_offsets: np.ndarray
) -> np.ndarray:
    """Frames where a distractor box has IoU >= 0.5 with a tracker box: elsewhere the distractor matching
    cannot remove a tracker box (a match needs IoU >= 0.5), so it need not run."""
    num_frames = len(tr_offsets) - 1
    rows = np.flatnonzero(is_distractor)
    offsets = np.searchsorted(gt_frame[rows], np.arange(num_frames + 1))
    found = []
    for first, _, iou in _iou_blocks(gt_xyxy[rows], offsets, tr_xyxy, tr_offsets):
        found.append(first + np.flatnonzero((iou >= 0.5 - _EPS).any(axis=(1, 2))))  # padding has IoU 0
    return np.concatenate([np.zeros(0, dtype=np.int64), *found])


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
    gt_frame = np.repeat(np.arange(num_frames), np.diff(gt_offsets))
    kept = np.flatnonzero(gt_keep_all)
    kept_offsets = np.searchsorted(gt_frame[kept], np.arange(num_frames + 1))
    # The metrics need the IoU of the kept ground truth only; the other rows matter only where a distractor
    # can be matched (IoU >= 0.5 with a tracker box), and only there is the all-classes matrix rebuilt.
    similarities = ious_by_frame(gt_xyxy[kept], kept_offsets, tr_xyxy, tr_offsets)
    keep_tracker = np.ones(len(tr_sorted), dtype=bool)
    changed = []
    if classes_used and len(tr_sorted):
        is_distractor = np.isin(gt_sorted.classes, distractors)
        candidates = _frames_with_distractor_overlap(gt_xyxy, gt_frame, is_distractor, tr_xyxy, tr_offsets)
        if len(candidates):
            # The all-classes matrices of those frames only, with the same IoU code (the same bits).
            gt_rows = np.concatenate([np.arange(gt_offsets[t], gt_offsets[t + 1]) for t in candidates])
            tr_rows = np.concatenate([np.arange(tr_offsets[t], tr_offsets[t + 1]) for t in candidates])
            full = ious_by_frame(gt_xyxy[gt_rows], np.r_[0, np.cumsum(np.diff(gt_offsets)[candidates])],
                                 tr_xyxy[tr_rows], np.r_[0, np.cumsum(np.diff(tr_offsets)[candidates])])
            for t, similarity in zip(candidates.tolist(), full, strict=True):
                scores = similarity.copy()
                scores[scores < 0.5 - _EPS] = 0.0
                matches = np.stack(linear_sum_assignment(-scores), axis=1)
                matches = matches[scores[matches[:, 0], matches[:, 1]] > _EPS]
                removed = matches[is_distractor[gt_offsets[t]:gt_offsets[t + 1]][matches[:, 0]], 1]
                if len(removed):
                    keep_tracker[tr_offsets[t] + removed] = False
                    changed.append(t)
    kept_tracker = np.flatnonzero(keep_tracker)
    kept_tracker_offsets = np.searchsorted(np.repeat(np.arange(num_frames), np.diff(tr_offsets))[kept_tracker],
                                           np.arange(num_frames + 1))
    for t in changed:
        similarities[t] = similarities[t][:, keep_tracker[tr_offsets[t]:tr_offsets[t + 1]]]

    data = SequenceData(name=name, num_timesteps=num_frames, similarity_scores=similarities)
    data.gt_ids, data.num_gt_ids = _relabel(gt_sorted.ids[kept], kept_offsets)
    data.tracker_ids, data.num_tracker_ids = _relabel(tr_sorted.ids[kept_tracker], kept_tracker_offsets)
    data.num_gt_dets = len(kept)
    data.num_tracker_dets = len(kept_tracker)
    return data


class FramePairs:
    """All frames' similarity matrices as one flat array (frame after frame, each row-major), for work done
    on every pair at once.

    With ``F`` frames, ``G_t`` ground-truth and ``T_t`` tracker boxes in frame ``t``: ``values float64 (P,)``
    with ``P = sum G_t T_t``; ``starts (F + 1,)``: frame ``t``'s pairs are ``values[starts[t]:starts[t + 1]]``;
    ``num_gt``, ``num_tracker (F,)``; ``gt_offsets``, ``tracker_offsets (F + 1,)``: frame ``t``'s rows in the
    concatenated per-frame ids; ``scored bool (F,)``: the frames with ground truth and tracker boxes.
    """

    def __init__(self, data: SequenceData) -> None:
        self.num_gt = np.array([len(ids) for ids in data.gt_ids], dtype=np.int64)
        self.num_tracker = np.array([len(ids) for ids in data.tracker_ids], dtype=np.int64)
        self.starts = np.concatenate([[0], np.cumsum(self.num_gt * self.num_tracker)])
        self.gt_offsets = np.concatenate([[0], np.cumsum(self.num_gt)])
        self.tracker_offsets = np.concatenate([[0], np.cumsum(self.num_tracker)])
        self.values = np.concatenate([np.zeros(0), *(s.reshape(-1) for s in data.similarity_scores)])
        self.scored = (self.num_gt > 0) & (self.num_tracker > 0)

    def locate(self, flat: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(frame, row, col)`` of flat positions."""
        frame = np.searchsorted(self.starts, flat, side="right") - 1
        row, col = np.divmod(flat - self.starts[frame], self.num_tracker[frame])
        return frame, row, col

