"""The metrics' per-frame loops, written as TrackEval writes them (one Hungarian call per frame, every frame),
to check the all-frames-at-once code of :mod:`vidlearn.tracking.metrics` against on random cases."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment

from vidlearn.tracking.boxes import iou_matrix, xywh_to_xyxy
from vidlearn.tracking.formats import MotRows
from vidlearn.tracking.metrics.data import _DISTRACTORS, MOT_CLASSES, SequenceData
from vidlearn.tracking.metrics.hota import ALPHAS, HOTA

EPS = np.finfo(np.float64).eps


def prepare(gt: MotRows, tracker: MotRows, num_frames: int) -> SequenceData:
    """MOT17 preprocessing frame by frame: the all-classes IoU and the distractor matching in every frame."""
    distractors = [MOT_CLASSES[c] for c in _DISTRACTORS]
    gt_ids, tracker_ids, similarities = [], [], []
    for t in range(1, num_frames + 1):
        g, k = gt.select(gt.frames == t), tracker.select(tracker.frames == t)
        similarity = iou_matrix(xywh_to_xyxy(g.boxes), xywh_to_xyxy(k.boxes))
        keep_tracker = np.ones(len(k), dtype=bool)
        if len(g) and len(k):
            scores = similarity.copy()
            scores[scores < 0.5 - EPS] = 0.0
            rows, cols = linear_sum_assignment(-scores)
            matched = scores[rows, cols] > EPS
            rows, cols = rows[matched], cols[matched]
            keep_tracker[cols[np.isin(g.classes[rows], distractors)]] = False
        keep_gt = (g.scores.astype(np.int64) != 0) & (g.classes == MOT_CLASSES["pedestrian"])
        gt_ids.append(g.ids[keep_gt])
        tracker_ids.append(k.ids[keep_tracker])
        similarities.append(similarity[keep_gt][:, keep_tracker])
    data = SequenceData(name="", num_timesteps=num_frames, similarity_scores=similarities)
    for ids, attribute in ((gt_ids, "gt"), (tracker_ids, "tracker")):
        unique, inverse = np.unique(np.concatenate(ids), return_inverse=True)
        bounds = np.cumsum([0] + [len(i) for i in ids])
        setattr(data, f"{attribute}_ids", [inverse[bounds[t]:bounds[t + 1]] for t in range(num_frames)])
        setattr(data, f"num_{attribute}_ids", len(unique))
        setattr(data, f"num_{attribute}_dets", int(bounds[-1]))
    return data


def clear_counts(data: SequenceData, threshold: float = 0.5) -> dict:
    """TP, FN, FP, IDSW, Frag, MT, PT, ML and MOTP_sum, TrackEval's ``CLEAR.eval_sequence`` loop."""
    res = dict.fromkeys(("CLR_TP", "CLR_FN", "CLR_FP", "IDSW"), 0)
    res["MOTP_sum"] = 0.0
    num_gt_ids = data.num_gt_ids
    gt_id_count, gt_matched_count, gt_frag_count = np.zeros(num_gt_ids), np.zeros(num_gt_ids), np.zeros(num_gt_ids)
    prev_tracker_id = np.full(num_gt_ids, np.nan)
    prev_timestep_tracker_id = np.full(num_gt_ids, np.nan)
    for gt_ids_t, tracker_ids_t, similarity in zip(data.gt_ids, data.tracker_ids, data.similarity_scores):
        if len(gt_ids_t) == 0:
            res["CLR_FP"] += len(tracker_ids_t)
            continue
        if len(tracker_ids_t) == 0:
            res["CLR_FN"] += len(gt_ids_t)
            gt_id_count[gt_ids_t] += 1
            continue
        score_mat = tracker_ids_t[np.newaxis, :] == prev_timestep_tracker_id[gt_ids_t[:, np.newaxis]]
        score_mat = 1000 * score_mat + similarity
        score_mat[similarity < threshold - EPS] = 0
        rows, cols = linear_sum_assignment(-score_mat)
        actually_matched = score_mat[rows, cols] > 0 + EPS
        rows, cols = rows[actually_matched], cols[actually_matched]
        matched_gt, matched_tracker = gt_ids_t[rows], tracker_ids_t[cols]
        prev_matched = prev_tracker_id[matched_gt]
        res["IDSW"] += int(np.sum(np.logical_not(np.isnan(prev_matched)) & (matched_tracker != prev_matched)))
        gt_id_count[gt_ids_t] += 1
        gt_matched_count[matched_gt] += 1
        not_previously_tracked = np.isnan(prev_timestep_tracker_id)
        prev_tracker_id[matched_gt] = matched_tracker
        prev_timestep_tracker_id[:] = np.nan
        prev_timestep_tracker_id[matched_gt] = matched_tracker
        gt_frag_count += np.logical_and(not_previously_tracked, np.logical_not(np.isnan(prev_timestep_tracker_id)))
        res["CLR_TP"] += len(matched_gt)
        res["CLR_FN"] += len(gt_ids_t) - len(matched_gt)
        res["CLR_FP"] += len(tracker_ids_t) - len(matched_gt)
        if len(matched_gt):
            res["MOTP_sum"] += sum(similarity[rows, cols])
    ratio = gt_matched_count[gt_id_count > 0] / gt_id_count[gt_id_count > 0]
    res["MT"] = int(np.sum(ratio > 0.8))
    res["PT"] = int(np.sum(ratio >= 0.2)) - res["MT"]
    res["ML"] = num_gt_ids - res["MT"] - res["PT"]
    res["Frag"] = int(np.sum(gt_frag_count[gt_frag_count > 0] - 1))
    return res


class ReferenceHOTA(HOTA):
    """HOTA with TrackEval's two per-frame loops (alignment, then one Hungarian call per frame)."""

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
        frames = list(zip(data.gt_ids, data.tracker_ids, data.similarity_scores))
        # Global alignment: soft (IoU-normalised) co-occurrence counts of every gt id / tracker id pair.
        potential = np.zeros((num_gt, num_tracker))
        for gt_ids_t, tracker_ids_t, similarity in frames:
            denominator = similarity.sum(0)[np.newaxis, :] + similarity.sum(1)[:, np.newaxis] - similarity
            sim_iou = np.zeros_like(similarity)
            mask = denominator > 0 + EPS
            sim_iou[mask] = similarity[mask] / denominator[mask]
            potential[gt_ids_t[:, np.newaxis], tracker_ids_t[np.newaxis, :]] += sim_iou
        gt_id_count = np.bincount(np.concatenate(data.gt_ids), minlength=num_gt).astype(np.float64)[:, np.newaxis]
        tracker_id_count = np.bincount(np.concatenate(data.tracker_ids), minlength=num_tracker).astype(np.float64)
        tracker_id_count = tracker_id_count[np.newaxis, :]
        global_alignment = potential / (gt_id_count + tracker_id_count - potential)

        no_ids = np.zeros(0, dtype=np.int64)
        matched_gt, matched_tracker, matched_similarity = [no_ids], [no_ids], [np.zeros(0)]
        for gt_ids_t, tracker_ids_t, similarity in frames:
            if len(gt_ids_t) == 0 or len(tracker_ids_t) == 0:
                continue
            score = global_alignment[gt_ids_t[:, np.newaxis], tracker_ids_t[np.newaxis, :]] * similarity
            rows, cols = linear_sum_assignment(-score)  # per frame: scipy directly, rows sorted
            matched_gt.append(gt_ids_t[rows])
            matched_tracker.append(tracker_ids_t[cols])
            matched_similarity.append(similarity[rows, cols])
        pair_gt = np.concatenate(matched_gt)
        pair_tracker = np.concatenate(matched_tracker)
        pair_similarity = np.concatenate(matched_similarity)

        return self.scores_from_matches(res, data, pair_gt, pair_tracker, pair_similarity, gt_id_count,
                                        tracker_id_count)
