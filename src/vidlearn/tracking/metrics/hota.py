"""HOTA (Luiten et al., "HOTA: A Higher Order Metric for Evaluating Multi-Object Tracking", IJCV 2021),
with TrackEval's ``metrics/hota.py`` conventions.

For each localisation threshold ``alpha`` in 0.05, 0.10, ..., 0.95 (:data:`ALPHAS`)::

    DetA  = TP / (TP + FN + FP)
    AssA  = 1/TP * sum over TP pairs c of  TPA(c) / (TPA(c) + FNA(c) + FPA(c))
    HOTA  = sqrt(DetA * AssA)
    LocA  = mean IoU of the TP pairs

The per-frame matching maximises the global alignment of the two trajectories times the IoU, as the paper
prescribes; it is solved once per frame, and the counts for all 19 alphas come from the same matches in
one array operation. ``HOTA``, ``DetA``, ... are arrays over the alphas; the single numbers TrackEval
prints are their means (:func:`summary`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment

from .data import SequenceData

__all__ = ["ALPHAS", "HOTA"]

#: The 19 localisation thresholds (TrackEval's ``np.arange(0.05, 0.99, 0.05)``, bit for bit).
ALPHAS = np.arange(0.05, 0.99, 0.05)
_EPS = np.finfo(np.float64).eps


class HOTA:
    """HOTA, DetA, AssA, DetRe, DetPr, AssRe, AssPr, LocA, OWTA over :data:`ALPHAS`."""

    integer_array_fields = ("HOTA_TP", "HOTA_FN", "HOTA_FP")
    float_array_fields = ("HOTA", "DetA", "AssA", "DetRe", "DetPr", "AssRe", "AssPr", "LocA", "OWTA")
    float_fields = ("HOTA(0)", "LocA(0)", "HOTALocA(0)")

    def eval_sequence(self, data: SequenceData) -> dict[str, Any]:
        """Sufficient statistics (per-alpha counts, association sums) and scores of one sequence."""
        num_alphas = len(ALPHAS)
        res: dict[str, Any] = {f: np.zeros(num_alphas) for f in self.float_array_fields + self.integer_array_fields}
        res.update(dict.fromkeys(self.float_fields, 0.0))
        if data.num_tracker_dets == 0 or data.num_gt_dets == 0:
            res["HOTA_FN"] = data.num_gt_dets * np.ones(num_alphas)
            res["HOTA_FP"] = data.num_tracker_dets * np.ones(num_alphas)
            res["LocA"] = np.ones(num_alphas)
            res["LocA(0)"] = 1.0
            return res

        num_gt, num_tracker = data.num_gt_ids, data.num_tracker_ids
        frames = data.pairs()
        gt_all, tracker_all = np.concatenate(data.gt_ids), np.concatenate(data.tracker_ids)
        # Global alignment: soft (IoU-normalised) co-occurrence counts of every gt id / tracker id pair.
        # The row and column sums are each frame's own ``sum`` calls (so the same bits); the rest is done on
        # the overlapping pairs of all frames at once (a pair without overlap adds 0).
        sims = data.similarity_scores
        row_sums = np.concatenate([np.zeros(0), *(s.sum(1) for s in sims)])
        col_sums = np.concatenate([np.zeros(0), *(s.sum(0) for s in sims)])
        overlap = np.flatnonzero(frames.values > 0)
        frame, row, col = frames.locate(overlap)
        gt_row, tracker_col = frames.gt_offsets[frame] + row, frames.tracker_offsets[frame] + col
        similarity = frames.values[overlap]
        denominator = col_sums[tracker_col] + row_sums[gt_row] - similarity
        sim_iou = np.zeros_like(similarity)
        np.divide(similarity, denominator, out=sim_iou, where=denominator > 0 + _EPS)
        pair_id = gt_all[gt_row] * num_tracker + tracker_all[tracker_col]
        # bincount adds in frame order, as TrackEval's per-frame ``+=`` does (a pair occurs once per frame).
        potential = np.bincount(pair_id, weights=sim_iou, minlength=num_gt * num_tracker).reshape(num_gt, num_tracker)
        gt_id_count = np.bincount(gt_all, minlength=num_gt).astype(np.float64)[:, np.newaxis]
        tracker_id_count = np.bincount(tracker_all, minlength=num_tracker).astype(np.float64)
        tracker_id_count = tracker_id_count[np.newaxis, :]
        global_alignment = potential / (gt_id_count + tracker_id_count - potential)

        # Per frame, the Hungarian matching on alignment x IoU (zero where the boxes do not overlap).
        negative_score = np.zeros(len(frames.values))
        negative_score[overlap] = -(global_alignment.reshape(-1)[pair_id] * similarity)
        starts, num_gt_t, num_tracker_t = frames.starts.tolist(), frames.num_gt.tolist(), frames.num_tracker.tolist()
        match_frames, match_rows, match_cols = [], [np.zeros(0, dtype=np.int64)], [np.zeros(0, dtype=np.int64)]
        for t in np.flatnonzero(frames.scored).tolist():
            rows, cols = linear_sum_assignment(  # per frame: scipy directly, rows sorted
                negative_score[starts[t]:starts[t + 1]].reshape(num_gt_t[t], num_tracker_t[t]))
            match_frames.append(np.full(len(rows), t))
            match_rows.append(rows)
            match_cols.append(cols)
        match_frame = np.concatenate([np.zeros(0, dtype=np.int64), *match_frames])
        match_row, match_col = np.concatenate(match_rows), np.concatenate(match_cols)
        pair_gt = gt_all[frames.gt_offsets[match_frame] + match_row]
        pair_tracker = tracker_all[frames.tracker_offsets[match_frame] + match_col]
        pair_similarity = frames.values[frames.starts[match_frame] + match_row * frames.num_tracker[match_frame]
                                        + match_col]

        return self.scores_from_matches(res, data, pair_gt, pair_tracker, pair_similarity, gt_id_count,
                                        tracker_id_count)

    def scores_from_matches(
        self, res: dict[str, Any], data: SequenceData, pair_gt: np.ndarray, pair_tracker: np.ndarray,
        pair_similarity: np.ndarray, gt_id_count: np.ndarray, tracker_id_count: np.ndarray,
    ) -> dict[str, Any]:
        """Per-alpha counts and association scores from the matches of all frames: ``pair_gt``,
        ``pair_tracker`` ``int (K,)`` relabelled ids and ``pair_similarity (K,)`` their IoU;
        ``gt_id_count (G, 1)`` / ``tracker_id_count (1, T)`` the frames each id occurs in."""
        num_tracker = data.num_tracker_ids
        # (A, K): which of the K matches count at each alpha.
        counts_at = pair_similarity[np.newaxis, :] >= ALPHAS[:, np.newaxis] - _EPS
        tp = counts_at.sum(axis=1).astype(np.float64)
        res["HOTA_TP"] = tp
        res["HOTA_FN"] = data.num_gt_dets - tp
        res["HOTA_FP"] = data.num_tracker_dets - tp
        res["LocA"] = np.maximum(1e-10, (counts_at * pair_similarity).sum(axis=1)) / np.maximum(1e-10, tp)

        # Association per alpha over the distinct (gt id, tracker id) pairs that were ever matched.
        pair_keys, inverse = np.unique(pair_gt * num_tracker + pair_tracker, return_inverse=True)
        pair_gt_count = gt_id_count[pair_keys // num_tracker, 0]
        pair_tracker_count = tracker_id_count[0, pair_keys % num_tracker]
        for a in range(len(ALPHAS)):
            matches_count = np.bincount(inverse[counts_at[a]], minlength=len(pair_keys)).astype(np.float64)
            ass_a = matches_count / np.maximum(1, pair_gt_count + pair_tracker_count - matches_count)
            res["AssA"][a] = np.sum(matches_count * ass_a) / np.maximum(1, tp[a])
            res["AssRe"][a] = np.sum(matches_count * matches_count / np.maximum(1, pair_gt_count)) / np.maximum(1, tp[a])
            res["AssPr"][a] = np.sum(matches_count * matches_count / np.maximum(1, pair_tracker_count)) / np.maximum(1, tp[a])
        return self.compute_final_fields(res)

    def combine_sequences(self, all_res: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
        """Sum the counts; association scores and LocA are averaged with weights TP (exactly as TrackEval)."""
        res: dict[str, Any] = {f: sum(r[f] for r in all_res.values()) for f in self.integer_array_fields}
        weight = np.maximum(1.0, res["HOTA_TP"])
        for field in ("AssRe", "AssPr", "AssA"):
            res[field] = sum(r[field] * r["HOTA_TP"] for r in all_res.values()) / weight
        loca_weighted = sum(r["LocA"] * r["HOTA_TP"] for r in all_res.values())
        res["LocA"] = np.maximum(1e-10, loca_weighted) / np.maximum(1e-10, res["HOTA_TP"])
        return self.compute_final_fields(res)

    @staticmethod
    def compute_final_fields(res: dict[str, Any]) -> dict[str, Any]:
        """Detection and combined scores from the counts and association scores."""
        tp, fn, fp = res["HOTA_TP"], res["HOTA_FN"], res["HOTA_FP"]
        res["DetRe"] = tp / np.maximum(1, tp + fn)
        res["DetPr"] = tp / np.maximum(1, tp + fp)
        res["DetA"] = tp / np.maximum(1, tp + fn + fp)
        res["HOTA"] = np.sqrt(res["DetA"] * res["AssA"])
        res["OWTA"] = np.sqrt(res["DetRe"] * res["AssA"])
        res["HOTA(0)"] = res["HOTA"][0]
        res["LocA(0)"] = res["LocA"][0]
        res["HOTALocA(0)"] = res["HOTA(0)"] * res["LocA(0)"]
        return res
