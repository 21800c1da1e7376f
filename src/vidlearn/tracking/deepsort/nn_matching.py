"""Appearance distance of detections to each track's gallery (nwojke/deep_sort ``nn_matching.py``).

Each confirmed track keeps a gallery of its last ``budget`` appearance features (the paper's
``R_k``, at most 100 of them). The distance of a track to a detection is the smallest cosine distance
``1 - r_j^T r_i`` (features L2-normalised) over the gallery (Wojke et al. 2017, eq. 3), or the smallest
squared Euclidean distance. The gallery is one array with an owner column, so :meth:`distance` is one
matrix product and one segmented minimum.
"""

from __future__ import annotations

import numpy as np

__all__ = ["NearestNeighborDistanceMetric"]


def member_of(values: np.ndarray, pool: np.ndarray) -> np.ndarray:
    """``np.isin(values, pool)`` for non-negative integer ids, through a lookup table (isin sorts; trackers
    ask this every frame about a few dozen ids)."""
    values = np.asarray(values, dtype=np.int64)
    pool = np.asarray(pool, dtype=np.int64)
    if len(values) == 0 or len(pool) == 0:
        return np.zeros(len(values), dtype=bool)
    table = np.zeros(max(int(values.max()), int(pool.max())) + 1, dtype=bool)
    table[pool] = True
    return table[values]


def _normalise(features: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(features, axis=1, keepdims=True)
    return features / np.where(norms > 0, norms, 1.0)


class NearestNeighborDistanceMetric:
    """Nearest-neighbour distance of detections to per-track galleries.

    Args:
        metric: ``"cosine"`` or ``"euclidean"`` (squared).
        matching_threshold: pairs farther than this are not matched (DeepSORT's ``max_cosine_distance``).
        budget: gallery size per track (oldest dropped first); ``None`` keeps everything.
    """

    def __init__(self, metric: str, matching_threshold: float, budget: int | None = None) -> None:
        if metric not in ("cosine", "euclidean"):
            raise ValueError(f"metric must be 'cosine' or 'euclidean', got {metric!r}")
        if not matching_threshold >= 0:
            raise ValueError(f"matching_threshold must be >= 0, got {matching_threshold!r}")
        if budget is not None and (isinstance(budget, bool) or int(budget) != budget or budget < 1):
            raise ValueError(f"budget must be a positive integer or None, got {budget!r}")
        self.metric = metric
        self.matching_threshold = float(matching_threshold)
        self.budget = None if budget is None else int(budget)
        self.features: np.ndarray | None = None
        self.owners = np.zeros(0, dtype=np.int64)

    def gallery_size(self, target: int) -> int:
        """Number of features stored for ``target``."""
        return int(np.count_nonzero(self.owners == target))

    def partial_fit(self, features: np.ndarray | None, targets: np.ndarray, active_targets: np.ndarray) -> None:
        """Append ``features (P, D)`` of ``targets (P,)``, keep only ``active_targets``, trim to the budget."""
        targets = np.asarray(targets, dtype=np.int64).reshape(-1)
        if features is not None and len(features):
            features = np.asarray(features, dtype=np.float64)
            if self.metric == "cosine":
                features = _normalise(features)
            self.features = features if self.features is None else np.concatenate([self.features, features])
            self.owners = np.concatenate([self.owners, targets])
        if self.features is None:
            return
        keep = member_of(self.owners, active_targets)
        if self.budget is not None:
            # Rank each feature from the newest within its owner; keep the newest `budget`.
            order = np.argsort(self.owners, kind="stable")
            sorted_owners = self.owners[order]
            starts = np.flatnonzero(np.r_[True, sorted_owners[1:] != sorted_owners[:-1]])
            counts = np.diff(np.r_[starts, len(order)])
            position = np.arange(len(order)) - np.repeat(starts, counts)
            from_newest = np.empty(len(order), dtype=np.int64)
            from_newest[order] = np.repeat(counts, counts) - 1 - position
            keep &= from_newest < self.budget
        self.features = self.features[keep]
        self.owners = self.owners[keep]

    def distance(self, features: np.ndarray, targets: np.ndarray) -> np.ndarray:
        """``(T, M)`` smallest distance of each of ``features (M, D)`` to the gallery of each of ``targets (T,)``.

        A target without a gallery gets ``inf`` (it can only be matched by other means).
        """
        targets = np.asarray(targets, dtype=np.int64).reshape(-1)
        features = np.asarray(features, dtype=np.float64)
        cost = np.full((len(targets), len(features)), np.inf)
        if self.features is None or len(features) == 0 or len(targets) == 0:
            return cost
        rows = np.flatnonzero(member_of(self.owners, targets))
        if len(rows) == 0:
            return cost
        gallery, owners = self.features[rows], self.owners[rows]
        if self.metric == "cosine":
            pair = 1.0 - gallery @ _normalise(features).T
        else:
            pair = (
                np.sum(gallery**2, axis=1)[:, None] + np.sum(features**2, axis=1)[None, :] - 2.0 * gallery @ features.T
            )
            pair = np.maximum(pair, 0.0)
        order = np.argsort(owners, kind="stable")
        sorted_owners = owners[order]
        starts = np.flatnonzero(np.r_[True, sorted_owners[1:] != sorted_owners[:-1]])
        minima = np.minimum.reduceat(pair[order], starts, axis=0)
        where = np.searchsorted(sorted_owners[starts], targets)
        where = np.clip(where, 0, len(starts) - 1)
        present = sorted_owners[starts][where] == targets
        cost[present] = minima[where[present]]
        return cost
