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

from .data import SequenceData

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
        gt_id_count = np.zeros(num_gt_ids)
        gt_matched_count = np.zeros(num_gt_ids)
        gt_frag_count = np.zeros(num_gt_ids)
        prev_tracker_id = np.full(num_gt_ids, np.nan)  # last match of each object, for IDSW
        prev_timestep_tracker_id = np.full(num_gt_ids, np.nan)  # match in the previous frame only

        for gt_ids_t, tracker_ids_t, similarity in zip(data.gt_ids, data.tracker_ids, data.similarity_scores):
            if len(gt_ids_t) == 0:
                res["CLR_FP"] += len(tracker_ids_t)
                continue
            if len(tracker_ids_t) == 0:
                res["CLR_FN"] += len(gt_ids_t)
                gt_id_count[gt_ids_t] += 1
                continue
            continuing = tracker_ids_t[np.newaxis, :] == prev_timestep_tracker_id[gt_ids_t[:, np.newaxis]]
            score = 1000 * continuing + similarity
            score[similarity < self.threshold - _EPS] = 0
            rows, cols = linear_sum_assignment(-score)  # per frame: scipy directly, rows sorted
            matched = score[rows, cols] > 0 + _EPS
            rows, cols = rows[matched], cols[matched]
            matched_gt = gt_ids_t[rows]
            matched_tracker = tracker_ids_t[cols]

            previous = prev_tracker_id[matched_gt]
            res["IDSW"] += int(np.sum(~np.isnan(previous) & (matched_tracker != previous)))

            gt_id_count[gt_ids_t] += 1
            gt_matched_count[matched_gt] += 1
            not_previously_tracked = np.isnan(prev_timestep_tracker_id)
            prev_tracker_id[matched_gt] = matched_tracker
            prev_timestep_tracker_id[:] = np.nan
            prev_timestep_tracker_id[matched_gt] = matched_tracker
            gt_frag_count += not_previously_tracked & ~np.isnan(prev_timestep_tracker_id)

            res["CLR_TP"] += len(matched_gt)
            res["CLR_FN"] += len(gt_ids_t) - len(matched_gt)
            res["CLR_FP"] += len(tracker_ids_t) - len(matched_gt)
            if len(matched_gt):
                res["MOTP_sum"] += sum(similarity[rows, cols])

        seen = gt_id_count > 0
        tracked_ratio = gt_matched_count[seen] / gt_id_count[seen]
        res["MT"] = int(np.sum(tracked_ratio > 0.8))
        res["PT"] = int(np.sum(tracked_ratio >= 0.2)) - res["MT"]
        res["ML"] = num_gt_ids - res["MT"] - res["PT"]
        res["Frag"] = int(np.sum(gt_frag_count[gt_frag_count > 0] - 1))
        return self.compute_final_fields(res)

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
