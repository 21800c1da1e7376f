"""Files to frames and back: readers, writers, samplers, clip transforms and optical flow.

This layer knows no task. The reader contract (DESIGN.md): ``VideoReader(path, backend="auto")``
with ``num_frames``, ``fps``, ``height``, ``width``, ``duration`` and
``get_frames(indices, size=None) -> uint8 (T, H, W, 3)`` RGB, frame-exact.
"""

from vidlearn.video.errors import VideoDecodeError

__all__ = ["VideoDecodeError"]
