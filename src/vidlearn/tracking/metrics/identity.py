"""Identity metrics IDF1, IDP, IDR (Ristani et al., "Performance Measures and a Data Set for Multi-Target,
Multi-Camera Tracking", ECCV 2016 workshops), with TrackEval's ``metrics/identity.py`` conventions.

Each ground-truth trajectory is matched to at most one tracker trajectory for the whole sequence, by one
Hungarian assignment that minimises ID false negatives plus ID false positives; a pair of boxes counts
as an identity true positive when the two trajectories are matched and the boxes overlap with
IoU >= 0.5. Counting the per-pair overlaps takes one ``np.bincount`` over all frames.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..assignment import linear_assignment
from .data import SequenceData

__all__ = ["Identity"]


class Identity:
    """IDF1, IDP, IDR and the counts IDTP, IDFN, IDFP."""

    integer_fields = ("IDTP", "IDFN", "IDFP")
    float_fields = ("IDF1", "IDR", "IDP")

    def __init__(self, threshold: float = 0.5) -> None:
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(f"threshold must be in [0, 1], got {threshold!r}")
        self.threshold = float(threshold)

    def eval_sequence(self, data: SequenceData) -> dict[str, Any]:
        """Sufficient statistics and scores of one sequence."""
        res: dict[str, Any] = dict.fromkeys(self.integer_fields, 0)
        if data.num_tracker_dets == 0 or data.num_gt_dets == 0:
            res["IDFN"] = data.num_gt_dets
            res["IDFP"] = data.num_tracker_dets
            res.update(dict.fromkeys(self.float_fields, 0))
            return res
        num_gt, num_tracker = data.num_gt_ids, data.num_tracker_ids
        frames = data.pairs()
        gt_all, tracker_all = np.concatenate(data.gt_ids), np.concatenate(data.tracker_ids)
        frame, row, col = frames.locate(np.flatnonzero(frames.values >= self.threshold))  # all frames at once
        pair_id = gt_all[frames.gt_offsets[frame] + row] * num_tracker + tracker_all[frames.tracker_offsets[frame] + col]
        potential = np.bincount(pair_id, minlength=num_gt * num_tracker).reshape(num_gt, num_tracker).astype(np.float64)
        gt_id_count = np.bincount(gt_all, minlength=num_gt).astype(np.float64)
        tracker_id_count = np.bincount(tracker_all, minlength=num_tracker).astype(np.float64)

        # Square problem: gt rows + one dummy row per tracker id; tracker columns + one dummy column per gt id.
        size = num_gt + num_tracker
        fp_mat = np.zeros((size, size))
        fn_mat = np.zeros((size, size))
        fp_mat[num_gt:, :num_tracker] = 1e10
        fn_mat[:num_gt, num_tracker:] = 1e10
        fn_mat[:num_gt, :num_tracker] = gt_id_count[:, np.newaxis]
        fn_mat[np.arange(num_gt), num_tracker + np.arange(num_gt)] = gt_id_count
        fp_mat[:num_gt, :num_tracker] = tracker_id_count[np.newaxis, :]
        fp_mat[num_gt + np.arange(num_tracker), np.arange(num_tracker)] = tracker_id_count
        fn_mat[:num_gt, :num_tracker] -= potential
        fp_mat[:num_gt, :num_tracker] -= potential

        rows, cols = linear_assignment(fn_mat + fp_mat).matches.T
        res["IDFN"] = int(fn_mat[rows, cols].sum())
        res["IDFP"] = int(fp_mat[rows, cols].sum())
        res["IDTP"] = int(gt_id_count.sum() - res["IDFN"])
        return self.compute_final_fields(res)

    def combine_sequences(self, all_res: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
        """Sum the counts of several sequences and score the sum."""
        res = {name: sum(r[name] for r in all_res.values()) for name in self.integer_fields}
        return self.compute_final_fields(res)

    @staticmethod
    def compute_final_fields(res: dict[str, Any]) -> dict[str, Any]:
        """IDR, IDP, IDF1 from the counts."""
        tp, fn, fp = res["IDTP"], res["IDFN"], res["IDFP"]
        res["IDR"] = tp / max(1.0, tp + fn)
        res["IDP"] = tp / max(1.0, tp + fp)
        res["IDF1"] = tp / max(1.0, tp + 0.5 * fp + 0.5 * fn)
        return res
