"""DeepSORT's track life-cycle (Wojke et al. 2017; nwojke/deep_sort ``track.py``), held as arrays.

::

                 n_init consecutive matches
    Tentative ------------------------------> Confirmed
        |                                        |   ^
        | missed once                            |   | matched (time_since_update = 0)
        v                                        v   |
     Deleted <------ missed for more than max_age frames (time_since_update > max_age)

A new track starts Tentative with ``hits = 1``, ``age = 1``. Every frame ``predict`` adds 1 to ``age`` and
``time_since_update``; a match resets ``time_since_update`` and adds a hit (``hits >= n_init`` confirms); a
Tentative track that misses a single frame is deleted.

:class:`TrackSet` keeps every track's Kalman state and counters in parallel arrays, so a frame costs a few
array operations however many tracks there are. Row order is creation order, as in nwojke's list.
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np

from ..kalman import DeepSortKalmanFilter
from .nn_matching import member_of

__all__ = ["TrackSet", "TrackState"]


class TrackState(IntEnum):
    """States of a DeepSORT track (values as nwojke/deep_sort numbers them)."""

    TENTATIVE = 1
    CONFIRMED = 2
    DELETED = 3


class TrackSet:
    """All live tracks of a DeepSORT tracker as a structure of arrays.

    Attributes (``N`` tracks): ``mean (N, 8)``, ``covariance (N, 8, 8)``, ``ids (N,)``, ``hits (N,)``,
    ``age (N,)``, ``time_since_update (N,)``, ``state (N,)`` (:class:`TrackState` values). Appearance
    features observed since the track's last gallery update are ``pending_features (P, D)`` owned by
    ``pending_owner (P,)`` (track ids), as nwojke's ``Track.features`` lists are.
    """

    _fields = ("mean", "covariance", "ids", "hits", "age", "time_since_update", "state")

    def __init__(self, n_init: int, max_age: int) -> None:
        self.n_init = n_init
        self.max_age = max_age
        self.mean = np.zeros((0, 8))
        self.covariance = np.zeros((0, 8, 8))
        self.ids = np.zeros(0, dtype=np.int64)
        self.hits = np.zeros(0, dtype=np.int64)
        self.age = np.zeros(0, dtype=np.int64)
        self.time_since_update = np.zeros(0, dtype=np.int64)
        self.state = np.zeros(0, dtype=np.int64)
        self.pending_features: np.ndarray | None = None
        self.pending_owner = np.zeros(0, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def confirmed(self) -> np.ndarray:
        """``bool (N,)``: which tracks are Confirmed."""
        return self.state == TrackState.CONFIRMED

    def add(
        self, mean: np.ndarray, covariance: np.ndarray, ids: np.ndarray, features: np.ndarray | None
    ) -> None:
        """Append new Tentative tracks (``hits = age = 1``) with their first features ``(K, D)`` if any."""
        count = len(ids)
        ones = np.ones(count, dtype=np.int64)
        self.mean = np.concatenate([self.mean, mean])
        self.covariance = np.concatenate([self.covariance, covariance])
        self.ids = np.concatenate([self.ids, np.asarray(ids, dtype=np.int64)])
        self.hits = np.concatenate([self.hits, ones])
        self.age = np.concatenate([self.age, ones])
        self.time_since_update = np.concatenate([self.time_since_update, np.zeros(count, dtype=np.int64)])
        self.state = np.concatenate([self.state, np.full(count, int(TrackState.TENTATIVE))])
        self._add_pending(features, ids)

    def _add_pending(self, features: np.ndarray | None, owners: np.ndarray) -> None:
        if features is None or len(features) == 0:
            return
        if self.pending_features is None:
            self.pending_features = np.zeros((0, features.shape[1]))
        self.pending_features = np.concatenate([self.pending_features, features])
        self.pending_owner = np.concatenate([self.pending_owner, np.asarray(owners, dtype=np.int64)])

    def predict(self, kf: DeepSortKalmanFilter) -> None:
        """Propagate every track one frame (``age`` and ``time_since_update`` + 1)."""
        if len(self):
            self.mean, self.covariance = kf.predict(self.mean, self.covariance)
        self.age += 1
        self.time_since_update += 1

    def update(
        self, rows: np.ndarray, measurements: np.ndarray, features: np.ndarray | None, kf: DeepSortKalmanFilter
    ) -> None:
        """Matched tracks ``rows (K,)`` take ``measurements (K, 4)`` ``[cx, cy, a, h]``; confirm at ``n_init`` hits."""
        if len(rows) == 0:
            return
        self.mean[rows], self.covariance[rows] = kf.update(self.mean[rows], self.covariance[rows], measurements)
        self._add_pending(features, self.ids[rows])
        self.hits[rows] += 1
        self.time_since_update[rows] = 0
        promote = rows[(self.state[rows] == TrackState.TENTATIVE) & (self.hits[rows] >= self.n_init)]
        self.state[promote] = TrackState.CONFIRMED

    def mark_missed(self, rows: np.ndarray) -> None:
        """Unmatched tracks ``rows``: Tentative ones die at once, others after ``max_age`` frames unseen."""
        rows = np.asarray(rows, dtype=np.int64)
        dead = (self.state[rows] == TrackState.TENTATIVE) | (self.time_since_update[rows] > self.max_age)
        self.state[rows[dead]] = TrackState.DELETED

    def prune(self) -> None:
        """Drop Deleted tracks and their pending features."""
        keep = self.state != TrackState.DELETED
        for name in self._fields:
            setattr(self, name, getattr(self, name)[keep])
        if self.pending_features is not None:
            alive = member_of(self.pending_owner, self.ids)
            self.pending_features = self.pending_features[alive]
            self.pending_owner = self.pending_owner[alive]

    def take_confirmed_features(self) -> tuple[np.ndarray | None, np.ndarray]:
        """Remove and return the pending ``features (P, D)`` and owners ``(P,)`` of Confirmed tracks."""
        if self.pending_features is None:
            return None, np.zeros(0, dtype=np.int64)
        mine = member_of(self.pending_owner, self.ids[self.confirmed])
        features, owners = self.pending_features[mine], self.pending_owner[mine]
        self.pending_features = self.pending_features[~mine]
        self.pending_owner = self.pending_owner[~mine]
        return features, owners
