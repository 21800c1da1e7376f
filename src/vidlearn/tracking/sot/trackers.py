"""Single-object trackers behind one interface, and the loop that runs one over a sequence.

Every tracker has ``init(frame, box)`` and ``update(frame) -> box``: ``frame`` a ``uint8 (H, W, 3)`` RGB
array (NumPy or torch), ``box`` ``(4,)`` 0-based ``x1, y1, x2, y2`` pixels. :func:`create_sot_tracker`
builds one by name:

- ``goturn``: :class:`GoturnTracker` (Held et al. 2016) with a trained checkpoint;
- ``rolo``: :class:`RoloTracker` (Ning et al. 2016), an LSTM over a detector's features and box;
- ``stay``: the box stays where it was (the floor every tracker must beat);
- ``csrt``, ``kcf``, ``mil``: OpenCV's trackers (opencv-contrib); ``nanotrack``: NanoTrack-v2's ONNX
  backbone and head through OpenCV's ``TrackerNano``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import torch

from vidlearn.tracking.sot.goturn import OUTPUT_SCALE, Goturn, crop_regions, region_to_image, search_regions

__all__ = [
    "OPENCV_TRACKERS",
    "SOT_TRACKERS",
    "GoturnTracker",
    "OpenCVTracker",
    "RoloTracker",
    "StayTracker",
    "check_init_box",
    "create_sot_tracker",
    "track_sequence",
]

OPENCV_TRACKERS = ("csrt", "kcf", "mil", "nanotrack")
SOT_TRACKERS = ("goturn", "rolo", "stay", *OPENCV_TRACKERS)


def check_init_box(box: Iterable[float], frame_size: tuple[int, int], source: str = "init box") -> np.ndarray:
    """Validate a first-frame box ``(4,)`` xyxy against the frame ``(height, width)``; return it as float64.

    A box with zero (or negative) width or height, a non-finite value, or no pixel inside the frame is a
    ``ValueError`` naming ``source`` and the box as ``x,y,w,h``.
    """
    box = np.asarray(list(box), dtype=np.float64).reshape(-1)
    if box.shape != (4,) or not np.isfinite(box).all():
        raise ValueError(f"{source}: expected 4 finite numbers, got {box.tolist()}")
    x, y, w, h = box[0], box[1], box[2] - box[0], box[3] - box[1]
    shown = f"x,y,w,h = {x:g},{y:g},{w:g},{h:g}"
    if w <= 0 or h <= 0:
        raise ValueError(f"{source} {shown} has zero size (width and height must be > 0)")
    height, width = frame_size
    if box[2] <= 0 or box[3] <= 0 or box[0] >= width or box[1] >= height:
        raise ValueError(f"{source} {shown} is outside the {width}x{height} frame")
    return box


def _as_numpy(frame: np.ndarray | torch.Tensor) -> np.ndarray:
    return frame.numpy() if isinstance(frame, torch.Tensor) else np.asarray(frame)


class StayTracker:
    """The box stays where it was in the first frame."""

    def init(self, frame: np.ndarray | torch.Tensor, box: np.ndarray) -> None:
        self.box = np.asarray(box, np.float64).copy()

    def update(self, frame: np.ndarray | torch.Tensor) -> np.ndarray:
        return self.box.copy()


class GoturnTracker:
    """GOTURN at test time: crop the previous frame around the previous box and the current frame around
    the same box (context 2), regress the new box, repeat (no online updates, no re-detection).

    ``fast``: the CPU fast path, channels-last memory and bf16 autocast (DESIGN.md's performance habits).
    """

    def __init__(self, model: Goturn, *, device: str | torch.device = "cpu", fast: bool = False) -> None:
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.fast = fast
        if fast:
            self.model = self.model.to(memory_format=torch.channels_last)

    def _tensor(self, frame: np.ndarray | torch.Tensor) -> torch.Tensor:
        frame = torch.as_tensor(_as_numpy(frame)).to(self.device)
        return frame.permute(2, 0, 1)[None].float().div_(255.0)

    def init(self, frame: np.ndarray | torch.Tensor, box: np.ndarray) -> None:
        self.previous = self._tensor(frame)
        self.box = torch.as_tensor(np.asarray(box, np.float64), dtype=torch.float32, device=self.device)[None]

    @torch.no_grad()
    def update(self, frame: np.ndarray | torch.Tensor) -> np.ndarray:
        current = self._tensor(frame)
        region = search_regions(self.box)
        crops = crop_regions(torch.cat([self.previous, current]), region.repeat(2, 1), self.model.input_size)
        if self.fast:
            crops = crops.contiguous(memory_format=torch.channels_last)
        autocast = torch.autocast(self.device.type, dtype=torch.bfloat16) if self.fast else nullcontext()
        with autocast:
            output = self.model(crops[:1], crops[1:]).float()
        box = region_to_image(output.clamp(-OUTPUT_SCALE, 2 * OUTPUT_SCALE), region)
        # Keep a usable box for the next crop: at least 1 pixel, corners in order.
        low, high = torch.minimum(box[:, :2], box[:, 2:]), torch.maximum(box[:, :2], box[:, 2:])
        self.box = torch.cat([low, torch.maximum(high, low + 1.0)], dim=1)
        self.previous = current
        return self.box[0].double().cpu().numpy()


class RoloTracker:
    """ROLO at test time, as the authors' test code runs it: each frame, the detector's features and detection
    join a window of the last ``sequence_length`` frames, the LSTM runs over the window from a zero state and
    its last output is the box (the window it was trained on; a shorter one at the start).

    ``detect(frame, index) -> (features (D,), detection (6,))`` is the pluggable detector: detections are
    ``class, cx, cy, w, h, confidence`` with the box normalised by the frame size (see :mod:`.rolo`).
    """

    def __init__(self, model: torch.nn.Module, detect: Callable[[np.ndarray, int], tuple[torch.Tensor, torch.Tensor]],
                 *, sequence_length: int = 3, device: str | torch.device = "cpu") -> None:
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.detect = detect
        self.sequence_length = int(sequence_length)

    def init(self, frame: np.ndarray | torch.Tensor, box: np.ndarray) -> None:
        self.window: list[tuple[torch.Tensor, torch.Tensor]] = []
        self.index = 0
        start = getattr(self.detect, "start", None)
        if start is not None:  # a detector that follows the target from its first box (DetectorBoxes)
            start(box)
        self.update(frame)  # the first frame enters the window; its box is the given one
        self.box = np.asarray(box, np.float64).copy()

    @torch.no_grad()
    def update(self, frame: np.ndarray | torch.Tensor) -> np.ndarray:
        frame = _as_numpy(frame)
        features, detection = self.detect(frame, self.index)
        self.index += 1
        self.window = [*self.window, (features.float(), detection.float())][-self.sequence_length:]
        stacked_features = torch.stack([f for f, _ in self.window])[None].to(self.device)
        stacked_detections = torch.stack([d for _, d in self.window])[None].to(self.device)
        cx, cy, w, h = self.model(stacked_features, stacked_detections)[0, -1].double().cpu().numpy()
        height, width = frame.shape[:2]
        w, h = max(abs(w) * width, 1.0), max(abs(h) * height, 1.0)
        self.box = np.array([cx * width - w / 2, cy * height - h / 2, cx * width + w / 2, cy * height + h / 2])
        return self.box.copy()


class OpenCVTracker:
    """An OpenCV tracker (``csrt``, ``kcf``, ``mil`` or ``nanotrack``) behind the common interface.

    NanoTrack needs its two ONNX files: ``weights_dir`` holding ``nanotrack_backbone_sim.onnx`` and
    ``nanotrack_head_sim.onnx`` (the NanoTrack-v2 release). A lost target keeps the last box.
    """

    def __init__(self, name: str, *, weights_dir: str | Path | None = None) -> None:
        import cv2

        self.name = name
        if name == "csrt":
            self.factory = cv2.TrackerCSRT.create
        elif name == "kcf":
            self.factory = cv2.TrackerKCF.create
        elif name == "mil":
            self.factory = cv2.TrackerMIL.create
        elif name == "nanotrack":
            if weights_dir is None:
                raise ValueError("nanotrack needs weights_dir with nanotrack_backbone_sim.onnx and nanotrack_head_sim.onnx")
            folder = Path(weights_dir)
            params = cv2.TrackerNano_Params()
            params.backbone = str(folder / "nanotrack_backbone_sim.onnx")
            params.neckhead = str(folder / "nanotrack_head_sim.onnx")
            for path in (params.backbone, params.neckhead):
                if not Path(path).is_file():
                    raise FileNotFoundError(f"NanoTrack weights not found: {path}")
            def create_nano() -> object:
                # OpenCV 5's DNN engine warns at every creation that it ignores the preferred target: noise here.
                level = cv2.utils.logging.getLogLevel()
                cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
                try:
                    return cv2.TrackerNano.create(params)
                finally:
                    cv2.utils.logging.setLogLevel(level)

            self.factory = create_nano
        else:
            raise ValueError(f"unknown OpenCV tracker {name!r}; choose one of {', '.join(OPENCV_TRACKERS)}")

    def init(self, frame: np.ndarray | torch.Tensor, box: np.ndarray) -> None:
        self.tracker = self.factory()
        self.box = np.asarray(box, np.float64).copy()
        x, y, w, h = self.box[0], self.box[1], self.box[2] - self.box[0], self.box[3] - self.box[1]
        # OpenCV trackers take integer x, y, w, h and BGR frames.
        rect = (round(float(x)), round(float(y)), max(round(float(w)), 1), max(round(float(h)), 1))
        self.tracker.init(np.ascontiguousarray(_as_numpy(frame)[..., ::-1]), rect)

    def update(self, frame: np.ndarray | torch.Tensor) -> np.ndarray:
        found, (x, y, w, h) = self.tracker.update(np.ascontiguousarray(_as_numpy(frame)[..., ::-1]))
        if found:
            self.box = np.array([x, y, x + w, y + h], dtype=np.float64)
        return self.box.copy()


def create_sot_tracker(
    name: str, *, checkpoint: str | Path | None = None, weights_dir: str | Path | None = None,
    device: str = "cpu", fast: bool = False, detections: np.ndarray | None = None,
    detector: Callable[[torch.Tensor], list] | None = None,
) -> StayTracker | GoturnTracker | RoloTracker | OpenCVTracker:
    """A tracker by name (:data:`SOT_TRACKERS`); ``goturn`` and ``rolo`` load ``checkpoint`` (the
    ``model.safetensors`` a ``vidlearn train`` run wrote). ROLO also needs the detector's box of the target in
    each frame: ``detections (T, 4)`` xyxy from a file, or a ``detector`` run on the frames (a
    :class:`~vidlearn.tracking.detectors.TorchvisionDetector`; :class:`~.rolo.DetectorBoxes` picks the target's
    box); its frame features are the kind it was trained with."""
    if name == "stay":
        return StayTracker()
    if name in OPENCV_TRACKERS:
        return OpenCVTracker(name, weights_dir=weights_dir)
    if name in ("goturn", "rolo"):
        from vidlearn.tracking.sot.checkpoints import load_sot_model

        if checkpoint is None:
            raise ValueError(f"the {name} tracker needs a checkpoint (a trained model's weights file)")
        model, extras = load_sot_model(checkpoint, expected=name)
        if name == "goturn":
            return GoturnTracker(model, device=device, fast=fast)
        from vidlearn.tracking.sot.rolo import BoxDetections, DetectorBoxes, FrameFeatures

        if (detections is None) == (detector is None):
            raise ValueError("the rolo tracker needs the detector's boxes of the target: either a file with one box "
                             "per frame (--detections) or a detector run on the frames (--detector), not both")
        features = FrameFeatures(**extras.get("features", {}))
        source = BoxDetections(features, detections) if detector is None else DetectorBoxes(features, detector)
        return RoloTracker(model, source,
                           sequence_length=int(extras.get("sequence_length", 3)), device=device)
    raise ValueError(f"unknown single-object tracker {name!r}; choose one of {', '.join(SOT_TRACKERS)}")


def track_sequence(
    tracker: StayTracker | GoturnTracker | RoloTracker | OpenCVTracker,
    frames: Iterable[np.ndarray | torch.Tensor], init_box: np.ndarray, *, progress: Callable | None = None,
) -> np.ndarray:
    """Run ``tracker`` over ``frames`` from ``init_box`` (xyxy, the first frame's) -> boxes ``(T, 4)`` xyxy.

    The first row is ``init_box`` (one-pass evaluation counts the first frame with its given box).
    ``progress`` wraps the frame iterator (a tqdm bar, say).
    """
    iterator = iter(progress(frames) if progress else frames)
    first = next(iterator, None)
    if first is None:
        raise ValueError("no frames to track")
    first_np = _as_numpy(first)
    box = check_init_box(init_box, tuple(first_np.shape[:2]))
    tracker.init(first_np, box)
    boxes = [box]
    for frame in iterator:
        boxes.append(tracker.update(frame))
    return np.stack(boxes)
