"""DeepSORT in the rooms nwojke/deep_sort uses: life-cycle (``track``), gallery metric (``nn_matching``),
cascade and gating (``linear_assignment``) and the tracker (``tracker``)."""

from .linear_assignment import INFTY_COST, gate_cost_matrix, iou_cost, matching_cascade, min_cost_matching
from .nn_matching import NearestNeighborDistanceMetric
from .track import TrackSet, TrackState
from .tracker import DeepSort

__all__ = [
    "INFTY_COST",
    "DeepSort",
    "NearestNeighborDistanceMetric",
    "TrackSet",
    "TrackState",
    "gate_cost_matrix",
    "iou_cost",
    "matching_cascade",
    "min_cost_matching",
]
