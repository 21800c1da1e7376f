"""Networks of the tracking wing; importing this package registers them with :mod:`vidlearn.models`.

``deepsort_reid``: DeepSORT's re-identification network (:mod:`.reid`).
"""

from .reid import CROP_SIZE, PAPER_PARAMETERS, CosineSoftmax, ReIDWideResNet, crop_boxes, deepsort_reid

__all__ = ["CROP_SIZE", "PAPER_PARAMETERS", "CosineSoftmax", "ReIDWideResNet", "crop_boxes", "deepsort_reid"]

# The single-object trackers live in their own folder; importing it registers goturn, goturn_alexnet, goturn_nanotrack, rolo.
import vidlearn.tracking.sot  # noqa: F401  isort: skip
