"""DeepSORT (Wojke et al., "Simple Online and Realtime Tracking with a Deep Association Metric", ICIP 2017).

Faithful to nwojke/deep_sort (``tracker.py`` and ``deep_sort_app.py``). Every frame::

    detections with score >= min_confidence and height >= min_height -> NMS (off at nms_max_overlap=1)
      -> predict every track (8-d Kalman filter)
      -> matching cascade over Confirmed tracks, by time since update 1..max_age:
         cost = nearest-neighbour cosine distance to the track's gallery, Mahalanobis-gated (chi2 0.95)
      -> IoU matching (1 - IoU <= max_iou_distance) of Tentative tracks and of Confirmed tracks missed
         for exactly one frame, against the detections the cascade left
      -> update matched tracks; mark the rest missed (see the life-cycle in :mod:`.track`);
         every unmatched detection starts a Tentative track; drop Deleted tracks
      -> galleries take the new features of Confirmed tracks (last nn_budget kept)
      -> output Confirmed tracks with time_since_update <= 1 (deep_sort_app's rule)

Without appearance features (``features=None``) the cascade uses ``1 - IoU`` with ``max_iou_distance``
instead of the cosine distance (still gated); this is how the tracker runs on detections alone.

Two options beyond the paper, both off by default (and then the output is nwojke/deep_sort's):

* ``byte=True``: BYTE (Zhang et al., ByteTrack, ECCV 2022). Detections scoring in ``[low_threshold,
  min_confidence)``, which DeepSORT would drop, are matched by IoU (``IoU >= second_iou_threshold``) to the
  Confirmed tracks seen in the previous frame that the two associations above left unmatched; a match updates
  the track's motion (not its appearance gallery: low scores are mostly occluded or blurred crops).
  Unmatched low-score detections start no track.
* ``cmc="ecc"`` or ``"orb"`` (or a ``camera_motion`` warp passed to :meth:`DeepSort.update`): camera-motion
  compensation (:mod:`~vidlearn.tracking.cmc`): the predicted means and covariances are warped by the image
  motion from the previous frame before the association (BoT-SORT's GMC).

Defaults: ``n_init=3``, ``max_age=30`` and a gallery of ``nn_budget=100`` features are the paper's (nwojke's
``Tracker`` class defaults to ``max_age=70`` and deep_sort_app to an unlimited gallery);
``max_cosine_distance=0.2``, ``max_iou_distance=0.7``, ``min_confidence=0.8``, ``nms_max_overlap=1.0`` and
``min_height=0`` are deep_sort_app's command-line defaults. Detection scores differ between detectors, so
``min_confidence`` usually needs setting for the detections at hand.
"""

from __future__ import annotations

import numpy as np

from ..boxes import cxcyah_to_xyxy, iou_matrix, nms, xyxy_to_cxcyah
from ..cmc import make_cmc, resolve_warp, similarity_scale
from ..kalman import DeepSortKalmanFilter
from ..sort import Tracks, check_byte_thresholds, validate_frame_input
from .linear_assignment import gate_cost_matrix, iou_cost, matching_cascade, min_cost_matching
from .nn_matching import NearestNeighborDistanceMetric
from .track import TrackSet

__all__ = ["DeepSort"]


def _check_positive_int(name: str, value: int, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _check_unit(name: str, value: float, low: float = 0.0, high: float = 1.0) -> float:
    if not low <= float(value) <= high:
        raise ValueError(f"{name} must be in [{low}, {high}], got {value!r}")
    return float(value)


class DeepSort:
    """DeepSORT multi-object tracker.

    Args:
        max_cosine_distance: appearance gate of the matching cascade (cosine distance, ``[0, 2]``).
        nn_budget: gallery size per track (``None`` unlimited).
        max_iou_distance: IoU matching gate, as ``1 - IoU`` in ``[0, 1]``.
        max_age: frames a Confirmed track survives unseen; also the cascade depth.
        n_init: consecutive matches that confirm a Tentative track.
        min_confidence: detections scoring below this are dropped.
        nms_max_overlap: NMS IoU threshold on the kept detections; ``1.0`` disables NMS.
        min_height: detections shorter than this (pixels) are dropped.
        metric: ``"cosine"`` or ``"euclidean"`` appearance distance.
        byte: BYTE's second association of low-score detections (see the module docstring); off by default.
        low_threshold: BYTE's lower score bound (its upper bound is ``min_confidence``).
        second_iou_threshold: minimum IoU of BYTE's association.
        cmc: ``None`` (default), ``"ecc"`` or ``"orb"``: estimate the camera motion from the ``image`` given
            to every :meth:`update`.
        cmc_downscale: shrink factor of the images for the motion estimate.
    """

    def __init__(
        self,
        max_cosine_distance: float = 0.2,
        nn_budget: int | None = 100,
        max_iou_distance: float = 0.7,
        max_age: int = 30,
        n_init: int = 3,
        min_confidence: float = 0.8,
        nms_max_overlap: float = 1.0,
        min_height: float = 0.0,
        metric: str = "cosine",
        *,
        byte: bool = False,
        low_threshold: float = 0.1,
        second_iou_threshold: float = 0.5,
        cmc: str | None = None,
        cmc_downscale: int = 2,
    ) -> None:
        if metric == "cosine":
            max_cosine_distance = _check_unit("max_cosine_distance", max_cosine_distance, 0.0, 2.0)
        self.metric = NearestNeighborDistanceMetric(metric, max_cosine_distance, nn_budget)
        self.max_iou_distance = _check_unit("max_iou_distance", max_iou_distance)
        self.max_age = _check_positive_int("max_age", max_age)
        self.n_init = _check_positive_int("n_init", n_init)
        self.min_confidence = float(min_confidence)
        self.nms_max_overlap = _check_unit("nms_max_overlap", nms_max_overlap)
        if not float(min_height) >= 0:
            raise ValueError(f"min_height must be >= 0, got {min_height!r}")
        self.min_height = float(min_height)
        if not isinstance(byte, (bool, np.bool_)):
            raise ValueError(f"byte must be True or False, got {byte!r}")
        self.byte = bool(byte)
        # BYTE's high threshold is min_confidence; the order of the two is checked only when BYTE is on.
        high = self.min_confidence if self.byte else float(low_threshold) + 1.0
        self.low_threshold, _, self.second_iou_threshold = check_byte_thresholds(
            low_threshold, high, second_iou_threshold)
        self.cmc = make_cmc(cmc, cmc_downscale)
        self.kf = DeepSortKalmanFilter()
        self.reset()

    def reset(self) -> None:
        """Forget every track and gallery; ids start again at 1."""
        self.tracks = TrackSet(self.n_init, self.max_age)
        self.metric.features = None
        self.metric.owners = np.zeros(0, dtype=np.int64)
        self._next_id = 1
        self.last_frame: int | None = None
        if self.cmc is not None:
            self.cmc.reset()

    def _select(self, boxes: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Indices of the detections the tracker uses: confident, tall enough, surviving NMS (input order);
        and BYTE's low-score detections (empty when BYTE is off)."""
        heights = boxes[:, 3] - boxes[:, 1]
        # A zero-height box has no aspect ratio (a = w / h); it cannot start or update a track.
        usable = (heights >= self.min_height) & (heights > 0)
        kept = np.flatnonzero((scores >= self.min_confidence) & usable)
        if self.nms_max_overlap < 1.0 and len(kept):
            kept = np.sort(kept[nms(boxes[kept], scores[kept], self.nms_max_overlap)])
        low = np.zeros(0, dtype=np.int64)
        if self.byte:
            low = np.flatnonzero((scores >= self.low_threshold) & (scores < self.min_confidence) & usable)
        return kept, low

    def _compensate(self, warp: np.ndarray) -> None:
        """Warp the predicted states by the camera motion ``[s R | t]``: ``x' = T x + t``, ``P' = T P T^T``."""
        tracks = self.tracks
        if len(tracks) == 0:
            return
        scale = similarity_scale(warp)
        transform = np.eye(8)
        for start in (0, 4):  # (cx, cy) and (vx, vy) rotate and scale; h and vh scale; a and va stay
            transform[start:start + 2, start:start + 2] = warp[:, :2]
            transform[start + 3, start + 3] = scale
        tracks.mean = tracks.mean @ transform.T
        tracks.mean[:, :2] += warp[:, 2]
        tracks.covariance = transform @ tracks.covariance @ transform.T

    def _second_association(
        self, low_boxes: np.ndarray, unmatched_tracks: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """BYTE: IoU matching of Confirmed tracks seen last frame with low-score boxes; (matches, still unmatched)."""
        tracks = self.tracks
        candidates = unmatched_tracks[tracks.confirmed[unmatched_tracks]
                                      & (tracks.time_since_update[unmatched_tracks] == 1)]
        matches, _, _ = min_cost_matching(
            lambda t, d: iou_cost(tracks.mean[t], tracks.time_since_update[t], low_boxes[d]),
            1.0 - self.second_iou_threshold, candidates, np.arange(len(low_boxes)),
        )
        return matches, np.setdiff1d(unmatched_tracks, matches[:, 0])

    def _match(self, boxes: np.ndarray, features: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        tracks = self.tracks
        measurements = xyxy_to_cxcyah(boxes)
        confirmed = np.flatnonzero(tracks.confirmed)
        # The gated cost of a (track, detection) pair does not depend on the cascade level that asks for it:
        # compute it once for every Confirmed track and detection (one gallery product, one gating), and let
        # each level take its rows and columns.
        if features is None:
            cost = 1.0 - iou_matrix(cxcyah_to_xyxy(tracks.mean[confirmed]), boxes)
        else:
            cost = self.metric.distance(features, tracks.ids[confirmed])
        cost = gate_cost_matrix(self.kf, cost, tracks.mean[confirmed], tracks.covariance[confirmed], measurements)
        row_of = np.zeros(len(tracks), dtype=np.int64)
        row_of[confirmed] = np.arange(len(confirmed))

        def gated_distance(track_rows: np.ndarray, det_rows: np.ndarray) -> np.ndarray:
            return cost[np.ix_(row_of[track_rows], det_rows)]

        cascade_threshold = self.max_iou_distance if features is None else self.metric.matching_threshold
        unconfirmed = np.flatnonzero(~tracks.confirmed)
        matches_a, unmatched_a, unmatched_dets = matching_cascade(
            gated_distance, cascade_threshold, self.max_age, tracks.time_since_update, confirmed,
            np.arange(len(boxes)),
        )
        just_lost = tracks.time_since_update[unmatched_a] == 1
        candidates = np.concatenate([unconfirmed, unmatched_a[just_lost]])
        matches_b, unmatched_b, unmatched_dets = min_cost_matching(
            lambda t, d: iou_cost(tracks.mean[t], tracks.time_since_update[t], boxes[d]),
            self.max_iou_distance, candidates, unmatched_dets,
        )
        matches = np.concatenate([matches_a, matches_b])
        unmatched_tracks = np.union1d(unmatched_a[~just_lost], unmatched_b)
        return matches, unmatched_tracks, unmatched_dets

    def _step(
        self, boxes: np.ndarray, features: np.ndarray | None, low_boxes: np.ndarray | None = None,
        warp: np.ndarray | None = None,
    ) -> Tracks:
        tracks = self.tracks
        tracks.predict(self.kf)
        if warp is not None:
            self._compensate(warp)
        matches, unmatched_tracks, unmatched_dets = self._match(boxes, features)
        measurements = xyxy_to_cxcyah(boxes)
        rows, dets = matches[:, 0], matches[:, 1]
        tracks.update(rows, measurements[dets], None if features is None else features[dets], self.kf)
        if low_boxes is not None and len(low_boxes) and len(unmatched_tracks):
            low_matches, unmatched_tracks = self._second_association(low_boxes, unmatched_tracks)
            tracks.update(low_matches[:, 0], xyxy_to_cxcyah(low_boxes[low_matches[:, 1]]), None, self.kf)
        tracks.mark_missed(unmatched_tracks)
        if len(unmatched_dets):
            mean, covariance = self.kf.initiate(measurements[unmatched_dets])
            ids = np.arange(self._next_id, self._next_id + len(unmatched_dets))
            self._next_id += len(unmatched_dets)
            tracks.add(mean, covariance, ids, None if features is None else features[unmatched_dets])
        tracks.prune()
        gallery_features, owners = tracks.take_confirmed_features()
        self.metric.partial_fit(gallery_features, owners, tracks.ids[tracks.confirmed])
        shown = tracks.confirmed & (tracks.time_since_update <= 1)
        return Tracks(tracks.ids[shown].copy(), cxcyah_to_xyxy(tracks.mean[shown]))

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
        """Advance one frame with its detections and return the Confirmed tracks to report.

        Args:
            boxes: ``(N, 4)`` x1, y1, x2, y2 detections.
            scores: ``(N,)`` detection confidences (``None``: all 1).
            features: ``(N, D)`` appearance features (e.g. the re-ID network's 128-d output), or ``None``.
            frame: optional frame number; skipped frames are run without detections. Must increase.
            image: this frame, ``uint8 (H, W, 3)`` RGB or ``(H, W)`` grey; needed on every call when the
                tracker was built with ``cmc``.
            camera_motion: the ``(2, 3)`` similarity warp ``[s R | t]`` from the previous frame to this one,
                when the caller knows it (instead of ``cmc``).

        Returns:
            :class:`~vidlearn.tracking.sort.Tracks` in track creation order.
        """
        boxes, scores, features = validate_frame_input(boxes, scores, features)
        if features is not None and self.metric.features is not None and features.shape[1] != self.metric.features.shape[1]:
            raise ValueError(
                f"features have {features.shape[1]} dimensions but the galleries hold {self.metric.features.shape[1]}"
            )
        kept, low = self._select(boxes, scores)
        low_boxes = boxes[low] if self.byte else None
        boxes = boxes[kept]
        features = None if features is None else features[kept]
        warp = resolve_warp(self.cmc, image, camera_motion)
        if frame is not None:
            frame = int(frame)
            if self.last_frame is not None:
                if frame <= self.last_frame:
                    raise ValueError(f"frame {frame} does not follow the previous frame {self.last_frame}")
                for _ in range(frame - self.last_frame - 1):
                    self._step(np.zeros((0, 4)), None)
            self.last_frame = frame
        return self._step(boxes, features, low_boxes, warp)
