"""CLEAR-MOT metrics (Bernardin & Stiefelhagen, "Evaluating Multiple Object Tracking Performance: The
CLEAR MOT Metrics", EURASIP JIVP 2008), with the conventions of TrackEval's ``metrics/clear.py``.

Per frame, ground truth and tracker boxes are matched by the Hungarian algorithm on
``1000 * continues_previous_match + IoU`` (pairs under IoU 0.5 forbidden), so a track keeps its object when
it still overlaps it. An identity switch is a matched ground-truth id whose tracker id differs from the last
one it was matched to (any number of frames before). A fragmentation is a resumed track after a gap.
MT / PT / ML: tracked in more than 80 % / at least 20 % / under 20 % of the frames the object appears in.

``MOTA = 1 - (FN + FP + IDSW) / GT``; ``MOTP`` is the mean IoU of the matches (TrackEval's convention; the
CLEAR paper's MOTP is a distance). :meth:`CLEAR.eval_sequence` returns counts and sums, and
:meth:`CLEAR.combine_sequences` adds them, so a combined score is exact, not a mean of per-sequence scores.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment

from .data import FramePairs, SequenceData

__all__ = ["CLEAR"]

_EPS = np.finfo(np.float64).eps


class CLEAR:
    """CLEAR-MOT: MOTA, MOTP, MODA, FP, FN, IDSW, Frag, MT/PT/ML and their ratios."""

    integer_fields = ("CLR_TP", "CLR_FN", "CLR_FP", "IDSW", "MT", "PT", "ML", "Frag", "CLR_Frames")
    summed_fields = (*integer_fields, "MOTP_sum")
    float_fields = ("MOTA", "MOTP", "MODA", "CLR_Re", "CLR_Pr", "MTR", "PTR", "MLR", "sMOTA", "CLR_F1",
                    "FP_per_frame", "MOTAL")

    def __init__(self, threshold: float = 0.5) -> None:
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(f"threshold must be in [0, 1], got {threshold!r}")
        self.threshold = float(threshold)

    def eval_sequence(self, data: SequenceData) -> dict[str, Any]:
        """Sufficient statistics and scores of one sequence."""
        res: dict[str, Any] = dict.fromkeys(self.summed_fields, 0)
        res["MOTP_sum"] = 0.0
        res["CLR_Frames"] = data.num_timesteps
        if data.num_tracker_dets == 0 or data.num_gt_dets == 0:
            # TrackEval returns early here: scores stay 0 except MLR = 1, and the frame count is not recorded.
            res["CLR_Frames"] = 0
            res["CLR_FN"] = data.num_gt_dets
            res["CLR_FP"] = data.num_tracker_dets
            res["ML"] = data.num_gt_ids if data.num_tracker_dets == 0 else 0
            res.update(dict.fromkeys(self.float_fields, 0.0))
            res["MLR"] = 1.0
            return res

        num_gt_ids = data.num_gt_ids
        frames = data.pairs()
        matches = self._match(data, frames)
        m_frame, m_row, m_col = (np.concatenate([np.zeros(0, dtype=np.int64), *parts]).astype(np.int64)
                                 for parts in zip(*matches, strict=True)) if matches else [np.zeros(0, dtype=np.int64)] * 3
        order = np.argsort(m_frame, kind="stable")  # frame order; rows ascending within a frame
        m_frame, m_row, m_col = m_frame[order], m_row[order], m_col[order]
        gt_all, tracker_all = np.concatenate(data.gt_ids), np.concatenate(data.tracker_ids)
        matched_gt = gt_all[frames.gt_offsets[m_frame] + m_row]
        matched_tracker = tracker_all[frames.tracker_offsets[m_frame] + m_col]
        matched_similarity = frames.values[frames.starts[m_frame] + m_row * frames.num_tracker[m_frame] + m_col]

        # Per object, its matches in time order: an identity switch is a tracker id that differs from the
        # object's previous match; a fragment starts where the previous scored frame did not match it.
        by_object = np.lexsort((m_frame, matched_gt))
        gt_sorted, tracker_sorted = matched_gt[by_object], matched_tracker[by_object]
        rank = np.cumsum(frames.scored) - 1  # frames with ground truth and tracker boxes, numbered
        rank_sorted = rank[m_frame[by_object]]
        same_object = gt_sorted[1:] == gt_sorted[:-1]
        res["IDSW"] = int(np.sum(same_object & (tracker_sorted[1:] != tracker_sorted[:-1])))
        fragments = len(gt_sorted) - int(np.sum(same_object & (rank_sorted[1:] == rank_sorted[:-1] + 1)))
        tracked_objects = len(np.unique(matched_gt))
        res["Frag"] = fragments - tracked_objects

        num_matches = len(matched_gt)
        res["CLR_TP"] = num_matches
        res["CLR_FN"] = data.num_gt_dets - num_matches
        res["CLR_FP"] = data.num_tracker_dets - num_matches
        res["MOTP_sum"] = _sequential_sum_by_frame(matched_similarity, m_frame)

        gt_id_count = np.bincount(gt_all, minlength=num_gt_ids)
        gt_matched_count = np.bincount(matched_gt, minlength=num_gt_ids)
        seen = gt_id_count > 0
        tracked_ratio = gt_matched_count[seen] / gt_id_count[seen]
        res["MT"] = int(np.sum(tracked_ratio > 0.8))
        res["PT"] = int(np.sum(tracked_ratio >= 0.2)) - res["MT"]
        res["ML"] = num_gt_ids - res["MT"] - res["PT"]
        return self.compute_final_fields(res)

    def _match(self, data: SequenceData, frames: FramePairs) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """``(frame, row, col)`` of every frame's matches, in pieces.

        Where every row and every column of a frame has at most one pair with IoU >= threshold, the
        Hungarian optimum is exactly those pairs (each is worth more than 0, and nothing else is), whatever
        the continuation bonus; those frames are read off at once. The other frames are solved in time order,
        each with the bonus for the pairs matched in the previous frame that had ground truth and tracker
        boxes, as TrackEval does."""
        threshold = self.threshold - _EPS
        if threshold > _EPS:
            admissible = np.flatnonzero(frames.values >= threshold)
            frame, row, col = frames.locate(admissible)
            gt_row = frames.gt_offsets[frame] + row
            tracker_col = frames.tracker_offsets[frame] + col
            shared = (np.bincount(gt_row, minlength=frames.gt_offsets[-1])[gt_row] > 1) | (
                np.bincount(tracker_col, minlength=frames.tracker_offsets[-1])[tracker_col] > 1)
            unforced = np.zeros(len(frames.scored), dtype=bool)
            unforced[frame[shared]] = True
            forced = ~unforced[frame]
            matches = [(frame[forced], row[forced], col[forced])]
        else:  # with a threshold of 0 a zero-IoU pair may count: solve every frame
            unforced = frames.scored.copy()
            frame = row = col = np.zeros(0, dtype=np.int64)
            forced = np.zeros(0, dtype=bool)
            matches = []
        forced_frame, forced_row, forced_col = frame[forced], row[forced], col[forced]
        previous_scored = np.maximum.accumulate(np.where(frames.scored, np.arange(len(frames.scored)), -1))
        previous_scored = np.concatenate([[-1], previous_scored[:-1]])
        previous_tracker = np.full(data.num_gt_ids, -1, dtype=np.int64)  # match in the previous scored frame
        solved: tuple[int, np.ndarray, np.ndarray] | None = None
        for t in np.flatnonzero(unforced).tolist():
            gt_ids_t, tracker_ids_t, similarity = data.gt_ids[t], data.tracker_ids[t], data.similarity_scores[t]
            before = int(previous_scored[t])
            previous_tracker.fill(-1)
            if before >= 0:
                if solved is not None and solved[0] == before:
                    rows, cols = solved[1], solved[2]
                else:
                    lo, hi = np.searchsorted(forced_frame, [before, before + 1])
                    rows, cols = forced_row[lo:hi], forced_col[lo:hi]
                previous_tracker[data.gt_ids[before][rows]] = data.tracker_ids[before][cols]
            continuing = tracker_ids_t[np.newaxis, :] == previous_tracker[gt_ids_t[:, np.newaxis]]
            score = 1000 * continuing + similarity
            score[similarity < threshold] = 0
            rows, cols = linear_sum_assignment(-score)  # per frame: scipy directly, rows sorted
            matched = score[rows, cols] > 0 + _EPS
            rows, cols = rows[matched], cols[matched]
            solved = (t, rows, cols)
            matches.append((np.full(len(rows), t), rows, cols))
        return matches

    def combine_sequences(self, all_res: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
        """Sum the statistics of several sequences and score the sum."""
        res = {name: sum(r[name] for r in all_res.values()) for name in self.summed_fields}
        return self.compute_final_fields(res)

    @staticmethod
    def compute_final_fields(res: dict[str, Any]) -> dict[str, Any]:
        """Scores from the statistics (TrackEval's ``_compute_final_fields``)."""
        tp, fn, fp, idsw = res["CLR_TP"], res["CLR_FN"], res["CLR_FP"], res["IDSW"]
        num_gt_ids = res["MT"] + res["ML"] + res["PT"]
        gt_dets = max(1.0, tp + fn)
        res["MTR"] = res["MT"] / max(1.0, num_gt_ids)
        res["MLR"] = res["ML"] / max(1.0, num_gt_ids)
        res["PTR"] = res["PT"] / max(1.0, num_gt_ids)
        res["CLR_Re"] = tp / gt_dets
        res["CLR_Pr"] = tp / max(1.0, tp + fp)
        res["MODA"] = (tp - fp) / gt_dets
        res["MOTA"] = (tp - fp - idsw) / gt_dets
        res["MOTP"] = res["MOTP_sum"] / max(1.0, tp)
        res["sMOTA"] = (res["MOTP_sum"] - fp - idsw) / gt_dets
        res["CLR_F1"] = tp / max(1.0, tp + 0.5 * fn + 0.5 * fp)
        res["FP_per_frame"] = fp / max(1.0, res["CLR_Frames"])
        safe_log_idsw = np.log10(idsw) if idsw > 0 else idsw
        res["MOTAL"] = (tp - fp - safe_log_idsw) / gt_dets
        return res


def _sequential_sum_by_frame(values: np.ndarray, frame: np.ndarray) -> float:
    """``sum`` of each frame's values (in order, one after the other), then the sum of those, as TrackEval's
    per-frame ``MOTP_sum += sum(...)`` adds them; cumulative sums add in order, bit for bit."""
    if len(values) == 0:
        return 0.0
    first = np.flatnonzero(np.r_[True, frame[1:] != frame[:-1]])
    count = np.diff(np.r_[first, len(values)])
    padded = np.zeros((len(first), int(count.max())))
    padded[np.repeat(np.arange(len(first)), count), np.arange(len(values)) - np.repeat(first, count)] = values
    return float(np.cumsum(np.cumsum(padded, axis=1)[:, -1])[-1])
