"""The tracking wing: multi-object tracking with SORT and DeepSORT, MOTChallenge files and metrics.

Boxes are ``float (N, 4)`` ``x1, y1, x2, y2`` in pixels inside the library (:mod:`.boxes`); MOTChallenge
files keep their 1-based ``x, y, w, h`` (:mod:`.formats`). Every tracker has
``update(boxes, scores, features=None, frame=None) -> Tracks(ids, boxes)``.
"""

from .assignment import Assignment, linear_assignment
from .deepsort import DeepSort
from .formats import MotFormatError, MotRows, SeqInfo, read_mot, read_seqinfo, tracks_to_rows, write_mot
from .kalman import CHI2_95, DeepSortKalmanFilter, SortKalmanFilter
from .pets import read_pets_xml
from .run import Detections, create_tracker, read_detections, track_detections
from .sdd import read_sdd
from .sort import Sort, Tracks

__all__ = [
    "CHI2_95",
    "Assignment",
    "DeepSort",
    "DeepSortKalmanFilter",
    "Detections",
    "MotFormatError",
    "MotRows",
    "SeqInfo",
    "Sort",
    "SortKalmanFilter",
    "Tracks",
    "create_tracker",
    "linear_assignment",
    "read_detections",
    "read_mot",
    "read_pets_xml",
    "read_sdd",
    "read_seqinfo",
    "track_detections",
    "tracks_to_rows",
    "write_mot",
]
