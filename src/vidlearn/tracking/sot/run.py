"""Track one target through a video file or a frame folder: the work behind ``vidlearn sot track``.

``INPUT`` is a video (any file :class:`vidlearn.video.VideoReader` decodes) or a folder of frames (an OTB /
GOT-10k / LaSOT sequence folder, whose first ground-truth box is the default start box, or any folder of
``.jpg`` / ``.png`` files in name order). Results are OTB rows (1-based ``x,y,w,h``), one per frame; the
optional overlay video draws the box on every frame.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vidlearn.tracking.sot.otb import (
    FRAME_SUFFIXES,
    GROUNDTRUTH_NAMES,
    SotFormatError,
    read_boxes,
    read_sequence,
    write_boxes,
)
from vidlearn.tracking.sot.trackers import check_init_box, create_sot_tracker, track_sequence

__all__ = ["FrameSource", "draw_box", "open_input", "parse_box", "track_input"]


@dataclass
class FrameSource:
    """Frames of ``path`` (an iterator of ``uint8 (H, W, 3)`` RGB), their ``count``, ``fps`` and ``size``
    ``(height, width)``, and the first ground-truth box ``(4,)`` xyxy when the folder has ground truth."""

    path: Path
    frames: Callable[[], Iterator[np.ndarray]]
    count: int
    fps: float
    size: tuple[int, int]
    first_box: np.ndarray | None = None


def parse_box(text: str, source: str = "--init") -> np.ndarray:
    """``"x,y,w,h"`` (0-based pixels, as OpenCV's trackers take it) -> ``(4,)`` xyxy; a bad text names it."""
    try:
        values = [float(v) for v in text.replace(" ", "").split(",")]
        if len(values) != 4:
            raise ValueError
    except ValueError:
        raise ValueError(f"{source} must be x,y,w,h (four numbers), got {text!r}") from None
    x, y, w, h = values
    return np.array([x, y, x + w, y + h], dtype=np.float64)


def _image_iterator(paths: list[Path]) -> Callable[[], Iterator[np.ndarray]]:
    import cv2

    def frames() -> Iterator[np.ndarray]:
        for path in paths:
            image = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if image is None:
                raise SotFormatError(f"{path}: cannot decode the image")
            yield np.ascontiguousarray(image[..., ::-1])

    return frames


def open_input(path: str | Path, *, chunk: int = 32) -> FrameSource:
    """A :class:`FrameSource` over a video file or a frame folder (errors name the path)."""
    path = Path(path)
    if path.is_dir():
        first_box = None
        if any((path / name).is_file() for name in GROUNDTRUTH_NAMES):
            sequence = read_sequence(path)
            paths, first_box = list(sequence.frames), sequence.boxes[0]
        else:
            folder = path / "img" if (path / "img").is_dir() else path
            paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in FRAME_SUFFIXES)
            if not paths:
                raise SotFormatError(f"{path}: no frames ({', '.join(FRAME_SUFFIXES)}) in the folder")
        first = next(_image_iterator(paths[:1])())
        return FrameSource(path, _image_iterator(paths), len(paths), 30.0, first.shape[:2], first_box)
    if not path.is_file():
        raise FileNotFoundError(f"no such video or frame folder: {path}")
    from vidlearn.video import VideoReader

    reader = VideoReader(path)

    def frames() -> Iterator[np.ndarray]:
        # Decode in chunks: memory stays bounded however long the video.
        for start in range(0, reader.num_frames, chunk):
            indices = list(range(start, min(start + chunk, reader.num_frames)))
            yield from reader.get_frames(indices).numpy()

    return FrameSource(path, frames, reader.num_frames, float(reader.fps), (reader.height, reader.width))


def draw_box(frame: np.ndarray, box: np.ndarray, colour: tuple[int, int, int] = (255, 40, 40)) -> np.ndarray:
    """A copy of ``frame (H, W, 3)`` RGB with ``box`` xyxy drawn, two pixels wide."""
    import cv2

    out = np.ascontiguousarray(frame).copy()
    x1, y1, x2, y2 = (round(float(v)) for v in box)
    cv2.rectangle(out, (x1, y1), (x2, y2), colour, 2)
    return out


def track_input(
    path: str | Path, *, tracker: str, output: str | Path, init: np.ndarray | None = None,
    checkpoint: str | Path | None = None, weights_dir: str | Path | None = None,
    detections: str | Path | None = None, video: str | Path | None = None, fast: bool = False,
    device: str = "cpu", progress: bool = True, detector: str | None = None,
    detector_weights: str | Path | None = None, classes: list[str] | None = None, score_threshold: float = 0.5,
) -> np.ndarray:
    """Track the target from ``init`` (xyxy; default the folder's first ground-truth box) through ``path``.

    Writes ``output`` (OTB rows) and, with ``video``, an overlay video; returns the boxes ``(T, 4)`` xyxy.
    ROLO needs the detector's box of the target per frame: ``detections``, an OTB-rows file, or ``detector``, a
    torchvision detection network (:data:`vidlearn.tracking.detectors.DETECTORS`) with ``detector_weights``
    from a local file, keeping ``classes`` (COCO names or ids; ``None`` keeps all) above ``score_threshold``.
    """
    source = open_input(path)
    if init is None:
        if source.first_box is None:
            raise ValueError(f"{path}: no ground truth to start from; give the first frame's box (--init x,y,w,h)")
        init = source.first_box
    init = check_init_box(init, source.size, source="--init box")
    detected = None if detections is None else read_boxes(detections)
    network = None
    if detector is not None:
        if tracker != "rolo":
            raise ValueError(f"--detector feeds ROLO's boxes; the {tracker} tracker takes none")
        if detector_weights is None:
            raise ValueError(f"--detector {detector} needs --detector-weights FILE (nothing is downloaded)")
        from vidlearn.tracking.detectors import TorchvisionDetector

        network = TorchvisionDetector(detector, detector_weights, classes=classes, score_threshold=score_threshold,
                                      device=device)
    sot = create_sot_tracker(tracker, checkpoint=checkpoint, weights_dir=weights_dir, device=device, fast=fast,
                             detections=detected, detector=network)
    wrap = None
    if progress:
        from tqdm import tqdm

        def wrap(frames: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
            return tqdm(frames, total=source.count, desc=f"{tracker} {source.path.name}", unit="frame")

    boxes = track_sequence(sot, source.frames(), init, progress=wrap)
    write_boxes(output, boxes)
    if video is not None:
        from vidlearn.video import VideoWriter

        with VideoWriter(video, fps=source.fps) as writer:
            for frame, box in zip(source.frames(), boxes):
                writer.write(draw_box(frame, box))
    return boxes
