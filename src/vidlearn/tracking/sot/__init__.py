"""Single-object tracking: GOTURN (Held et al. 2016) and ROLO (Ning et al. 2016), OTB data and metrics,
OpenCV and NanoTrack baselines.

A single-object tracker has ``init(frame, box)`` and ``update(frame) -> box`` (:mod:`.trackers`); boxes are
``(4,)`` 0-based ``x1, y1, x2, y2`` pixels inside the library, OTB files keep their 1-based ``x, y, w, h``
(:mod:`.otb`). The networks live in :mod:`.goturn` and :mod:`.rolo` and are registered with
:mod:`vidlearn.models` as ``goturn``, ``goturn_alexnet``, ``goturn_nanotrack`` (NanoTrack-v2's tower,
:mod:`.nanotrack`) and ``rolo``. Training is the ``sot`` task (:mod:`.wing`).
"""

from vidlearn.tracking.sot import caffe as _caffe  # noqa: F401  registers the .caffemodel reader and layout
from vidlearn.tracking.sot.goturn import Goturn, goturn, goturn_alexnet, goturn_nanotrack
from vidlearn.tracking.sot.otb import (
    OtbMetric,
    OtbSequence,
    SotFormatError,
    evaluate_results,
    find_sequences,
    plot_curves,
    read_boxes,
    read_sequence,
    write_boxes,
)
from vidlearn.tracking.sot.rolo import FrameFeatures, Rolo, rolo
from vidlearn.tracking.sot.trackers import (
    SOT_TRACKERS,
    GoturnTracker,
    OpenCVTracker,
    RoloTracker,
    StayTracker,
    check_init_box,
    create_sot_tracker,
    track_sequence,
)

__all__ = [
    "SOT_TRACKERS",
    "FrameFeatures",
    "Goturn",
    "GoturnTracker",
    "OpenCVTracker",
    "OtbMetric",
    "OtbSequence",
    "Rolo",
    "RoloTracker",
    "SotFormatError",
    "StayTracker",
    "check_init_box",
    "create_sot_tracker",
    "evaluate_results",
    "find_sequences",
    "goturn",
    "goturn_alexnet",
    "goturn_nanotrack",
    "plot_curves",
    "read_boxes",
    "read_sequence",
    "rolo",
    "track_sequence",
    "write_boxes",
]
