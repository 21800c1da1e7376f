"""Recognition datasets: UCF-101, HMDB51, Kinetics, Sports-1M, YouTube-8M and generic layouts.

Every video dataset is a :class:`VideoClipDataset` returning ``(clip, label, info)``: the
task-neutral :class:`vidlearn.data.ClipDataset` (see :mod:`vidlearn.data.clips` for the shapes,
seeding and skipping) plus classes and labels. Annotation problems fail at construction with
:class:`AnnotationError` (file, line number, line); a missing video names the list line.
:class:`VideoIndex` caches frame counts so a second construction opens no video. The generic names
(:class:`AnnotationError`, :class:`VideoSample`, :class:`VideoIndex`, :class:`VideoMeta`,
:data:`INDEX_FILENAME`, :func:`count_skipped`, :func:`skipped_videos`) live in :mod:`vidlearn.data`
and are re-exported here. :mod:`~vidlearn.recognition.datasets.formats` names every ``data.format``
of a recipe.
"""

from vidlearn.data.annotations import AnnotationError, VideoSample
from vidlearn.data.clips import ClipDataset, count_skipped, skipped_videos
from vidlearn.data.index import INDEX_FILENAME, VideoIndex, VideoMeta
from vidlearn.recognition.datasets.annotations import read_class_names
from vidlearn.recognition.datasets.base import VideoClipDataset
from vidlearn.recognition.datasets.hmdb51 import HMDB51
from vidlearn.recognition.datasets.kinetics import VIDEO_EXTENSIONS, Kinetics, kinetics_classes
from vidlearn.recognition.datasets.lists import RawframeDataset, VideoFolder, VideoListDataset
from vidlearn.recognition.datasets.sports1m import Sports1M
from vidlearn.recognition.datasets.ucf101 import UCF101

__all__ = [
    "HMDB51",
    "INDEX_FILENAME",
    "UCF101",
    "VIDEO_EXTENSIONS",
    "AnnotationError",
    "ClipDataset",
    "Kinetics",
    "RawframeDataset",
    "Sports1M",
    "VideoClipDataset",
    "VideoFolder",
    "VideoIndex",
    "VideoListDataset",
    "VideoMeta",
    "VideoSample",
    "count_skipped",
    "kinetics_classes",
    "read_class_names",
    "skipped_videos",
]

try:  # YouTube-8M lives in its own module, written separately
    from vidlearn.recognition.datasets.youtube8m import YouTube8MDataset  # noqa: F401
except ModuleNotFoundError as error:
    if error.name != "vidlearn.recognition.datasets.youtube8m":
        raise
else:
    __all__.append("YouTube8MDataset")
