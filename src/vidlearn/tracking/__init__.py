"""The tracking wing: multi-object tracking with SORT and DeepSORT, MOTChallenge files and metrics.

Boxes are ``float (N, 4)`` ``x1, y1, x2, y2`` in pixels inside the library (:mod:`.boxes`); MOTChallenge
files keep their 1-based ``x, y, w, h`` (:mod:`.formats`). Every tracker has
``update(boxes, scores, features=None, frame=None) -> Tracks(ids, boxes)``.
"""

from .assignment import Assignment, linear_assignment
from .deepsort import DeepSort
from .kalman import CHI2_95, DeepSortKalmanFilter, SortKalmanFilter
from .sort import Sort, Tracks

__all__ = [
    "CHI2_95",
    "Assignment",
    "DeepSort",
    "DeepSortKalmanFilter",
    "Sort",
    "SortKalmanFilter",
    "Tracks",
    "linear_assignment",
]
