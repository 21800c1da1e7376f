"""Files to frames and back: readers, writers, samplers, clip transforms and optical flow.

This layer knows no task. The reader contract (DESIGN.md): ``VideoReader(path, backend="auto")``
with ``num_frames``, ``fps``, ``height``, ``width``, ``duration`` and
``get_frames(indices, size=None) -> uint8 (T, H, W, 3)`` RGB, frame-exact.
"""

from vidlearn.video.errors import VideoDecodeError
from vidlearn.video.files import IMAGE_SUFFIXES, VIDEO_SUFFIXES, image_files, is_video_file
from vidlearn.video.reader import VideoInfo, VideoReader, available_backends, probe_video
from vidlearn.video.reencode import reencode_tree, reencode_video
from vidlearn.video.writer import VideoWriter, write_video

__all__ = [
    "IMAGE_SUFFIXES",
    "VIDEO_SUFFIXES",
    "VideoDecodeError",
    "VideoInfo",
    "VideoReader",
    "VideoWriter",
    "available_backends",
    "image_files",
    "is_video_file",
    "probe_video",
    "reencode_tree",
    "reencode_video",
    "write_video",
]
