"""Frame sources: what a dataset item decodes its clip from (a video file, JPEG frames, flow images).

Each source knows its ``num_frames`` and ``fps`` (``None`` when unknown) and returns the frames at
given 0-based indices: ``uint8 (T, H, W, 3)`` RGB for videos and JPEG folders (the reader contract of
DESIGN.md), ``float32 (T, 2, H, W)`` pixels for optical flow. Every failure is a
:class:`~vidlearn.video.VideoDecodeError` naming the file or folder, so datasets handle one error type.

Frame folders are MMAction2's rawframe layout (``img_00001.jpg``) and, with
``filename_tmpl="{:06d}.jpg"``, MOTChallenge's ``img1/000001.jpg`` sequences.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from vidlearn.video.errors import VideoDecodeError

__all__ = ["FlowFrames", "FrameSource", "JpegFrames", "VideoFileFrames", "resized_shape"]

Size = int | tuple[int, int] | None


class FrameSource(Protocol):
    """Anything a dataset can take clip frames from."""

    num_frames: int
    fps: float | None

    def get(self, indices: Sequence[int], size: Size = None) -> torch.Tensor: ...


def resized_shape(height: int, width: int, size: Size) -> tuple[int, int]:
    """Output ``(height, width)`` for ``size``: ``None`` keeps it, an int is the short side, a pair is exact."""
    if size is None:
        return height, width
    if isinstance(size, int):
        if height <= width:
            return size, max(1, round(width * size / height))
        return max(1, round(height * size / width)), size
    return int(size[0]), int(size[1])


class VideoFileFrames:
    """Frames of a video file through :class:`vidlearn.video.VideoReader` (decode-time resize).

    ``metadata`` is what a metadata index already knows of the file (a
    :class:`~vidlearn.data.index.VideoMeta`, or anything with ``num_frames``, ``fps``, ``height``,
    ``width`` and optionally ``frame_table``): the reader then opens the file without demuxing every
    packet again (frame-exact all the same; see :class:`vidlearn.video.VideoReader`).
    """

    def __init__(self, path: str, backend: str = "auto", *, metadata: Any = None) -> None:
        from vidlearn.video import VideoReader

        self.path = path
        try:
            self.reader = VideoReader(path, backend=backend, metadata=metadata)
        except OSError as error:  # a file removed after construction, or unreadable
            raise VideoDecodeError(path, f"cannot open: {error}") from error
        self.num_frames = int(self.reader.num_frames)
        fps = float(self.reader.fps or 0.0)
        self.fps = fps if fps > 0 else None

    def get(self, indices: Sequence[int], size: Size = None) -> torch.Tensor:
        return self.reader.get_frames(list(indices), size=size)

    def close(self) -> None:
        """Release the decoder now rather than at garbage collection (open files add up in workers)."""
        close = getattr(self.reader, "close", None)
        if close is not None:
            close()


class JpegFrames:
    """RGB frames stored as images ``directory/filename_tmpl.format(i + start_index)``.

    This is MMAction2's rawframe layout (``img_00001.jpg``, 1-based) and, with
    ``filename_tmpl="{:06d}.jpg"``, MOTChallenge's ``img1`` folders. ``num_frames`` usually comes from
    a list file (or ``seqinfo.ini``), so nothing is listed on disk; ``None`` counts the files that
    match the template.
    """

    def __init__(
        self,
        directory: str,
        num_frames: int | None,
        filename_tmpl: str = "img_{:05d}.jpg",
        start_index: int = 1,
    ) -> None:
        self.path = directory
        self.directory = Path(directory)
        if not self.directory.is_dir():
            raise VideoDecodeError(directory, "frame folder not found")
        if num_frames is None:
            num_frames = sum(1 for _ in self.directory.glob(re.sub(r"\{[^}]*\}", "*", filename_tmpl)))
        self.num_frames = int(num_frames)
        self.fps = None
        self.filename_tmpl = filename_tmpl
        self.start_index = start_index

    def get(self, indices: Sequence[int], size: Size = None) -> torch.Tensor:
        frames = []
        for index in indices:
            file = self.directory / self.filename_tmpl.format(int(index) + self.start_index)
            image = cv2.imread(str(file), cv2.IMREAD_COLOR)
            if image is None:
                raise VideoDecodeError(file, f"frame image missing or unreadable (frame index {index})")
            height, width = image.shape[:2]
            out_h, out_w = resized_shape(height, width, size)
            if (out_h, out_w) != (height, width):
                # INTER_AREA averages when shrinking (no aliasing); linear when enlarging.
                shrink = out_h * out_w < height * width
                image = cv2.resize(
                    image, (out_w, out_h), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
                )
            frames.append(cv2.cvtColor(image, cv2.COLOR_BGR2RGB))
        shapes = {frame.shape for frame in frames}
        if len(shapes) > 1:
            raise VideoDecodeError(self.directory, f"frame images differ in size: {sorted(shapes)}")
        return torch.from_numpy(np.stack(frames))


def _template_glob(template: str) -> str:
    """``flow_{axis}_{index:05d}.jpg`` -> ``flow_x_*.jpg``: the files that count flow fields."""
    return re.sub(r"\{index[^}]*\}", "*", template).replace("{axis}", "x")


class FlowFrames:
    """Optical flow stored as quantised x/y JPEGs (MMAction2 layout) via ``read_flow_frames``.

    ``num_frames`` is the number of flow fields (the x images in the folder unless given). Returns
    ``float32 (T, 2, H, W)`` in pixels; a resize scales the vectors with the image, so they stay in
    pixels of the output size.
    """

    def __init__(
        self,
        directory: str,
        num_frames: int | None = None,
        template: str = "flow_{axis}_{index:05d}.jpg",
        bound: float = 20.0,
    ) -> None:
        self.path = directory
        self.directory = Path(directory)
        if not self.directory.is_dir():
            raise VideoDecodeError(directory, "flow folder not found")
        if num_frames is None:
            num_frames = sum(1 for _ in self.directory.glob(_template_glob(template)))
        self.num_frames = int(num_frames)
        self.fps = None
        self.template = template
        self.bound = bound

    def get(self, indices: Sequence[int], size: Size = None) -> torch.Tensor:
        from vidlearn.video.flow.storage import read_flow_frames

        try:
            flow = read_flow_frames(self.directory, list(indices), template=self.template, bound=self.bound)
        except (OSError, ValueError) as error:
            raise VideoDecodeError(self.directory, str(error)) from error
        height, width = flow.shape[-2:]
        out_h, out_w = resized_shape(height, width, size)
        if (out_h, out_w) != (height, width):
            flow = F.interpolate(flow, size=(out_h, out_w), mode="bilinear", align_corners=False)
            scale = torch.tensor([out_w / width, out_h / height], dtype=flow.dtype).view(1, 2, 1, 1)
            flow = flow * scale
        return flow
