"""Training and evaluation data for single-object trackers: synthetic sequences and GOTURN's examples.

Synthetic sequences (the embedded default data) come from :mod:`vidlearn.synthetic`'s scene renderer: one
target among distractors that cross and occlude it, a slowly zooming target (scale change) and a panning,
shaking camera; the target's box (clipped to the image) is the ground truth. :func:`write_otb_sequence`
stores a sequence in the OTB layout, so every tool reads synthetic and real sequences alike.

GOTURN's training examples (Held et al. 2016, Sec. 3.3-3.4): from a pair of consecutive frames, the
previous frame is cropped around the target's previous box and the current frame around the target's
current box moved by a random shift and scale (the "motion model"), both with context factor 2, and the
network learns the current box inside that search region. The shift and scale follow Laplace
distributions: ``c'_x = c_x + w dx``, ``c'_y = c_y + h dy`` with ``dx, dy ~ Laplace(0, 1/5)``, and
``w' = w g_w``, ``h' = h g_h`` with ``g_w, g_h ~ Laplace(1, 1/15)`` limited to ``[0.6, 1.4]`` (GOTURN's
``lambda_shift = 5``, ``lambda_scale = 15``, scale change within -0.4..0.4). Still images give examples
the same way with the image as its own previous frame (the paper's ImageNet detection images). Where
GOTURN redraws out-of-range samples up to 10 times, this clips them (the same limits, no loop).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from vidlearn.synthetic import Camera, SceneSpec, render_scene, sample_tracking_scene
from vidlearn.tracking.sot.goturn import (
    CONTEXT_FACTOR,
    OUTPUT_SCALE,
    crop_regions,
    image_to_region,
    search_regions,
)
from vidlearn.tracking.sot.otb import write_boxes
from vidlearn.video.files import IMAGE_SUFFIXES, image_files

__all__ = [
    "LAMBDA_SCALE",
    "LAMBDA_SHIFT",
    "MAX_SCALE_CHANGE",
    "BoxSequence",
    "GoturnExamples",
    "RoloWindows",
    "load_frames",
    "mot_tracks",
    "sample_motion",
    "simulated_detections",
    "synthetic_sequence",
    "synthetic_sequences",
    "write_otb_sequence",
    "xyxy_to_fractions",
]

#: GOTURN's motion model: shift ~ Laplace(0, 1 / LAMBDA_SHIFT) in box sizes, scale ~ Laplace(1, 1 / LAMBDA_SCALE).
LAMBDA_SHIFT = 5.0
LAMBDA_SCALE = 15.0
#: The scale factor stays within ``1 +- MAX_SCALE_CHANGE`` (GOTURN's min_scale -0.4, max_scale 0.4).
MAX_SCALE_CHANGE = 0.4


@dataclass(frozen=True)
class BoxSequence:
    """Frames ``uint8 (T, H, W, 3)`` RGB and the target's boxes ``float64 (T, 4)`` 0-based xyxy."""

    name: str
    frames: torch.Tensor
    boxes: np.ndarray

    def __len__(self) -> int:
        return len(self.frames)


def synthetic_sequence(
    seed: int, *, num_frames: int = 24, size: tuple[int, int] = (128, 128), num_distractors: int = 2,
) -> BoxSequence:
    """One synthetic single-object sequence: object 0 of a tracking scene is the target.

    The target gets a slow zoom (log-radius rate ~ N(0, 0.01) per frame) and the camera a shake, on top of
    the scene's straight motions, swings, spin and pan; the target starts inside the view. Boxes are clipped
    to the image (the target's visible extent, as OTB annotates it).
    """
    rng = np.random.default_rng([seed, 7])
    spec = sample_tracking_scene(seed, num_objects=1 + num_distractors, num_frames=num_frames, size=size)
    objects = spec.objects
    extent = np.array([size[1], size[0]], dtype=float) / min(size)
    anchor = objects.anchor.copy()
    # Start the target well inside the view, drawn last (on top) now and then, behind distractors otherwise.
    anchor[0] = rng.uniform(0.3, 0.7, 2) * extent
    zoom = objects.zoom_rate.copy()
    zoom[0] = rng.normal(0.0, 0.01)
    velocity = objects.velocity.copy()
    velocity[0] = rng.normal(0.0, 0.5, 2) / num_frames  # stays mostly in view over the sequence
    objects = dataclasses.replace(objects, anchor=anchor, zoom_rate=zoom, velocity=velocity)
    camera = Camera(velocity=spec.camera.velocity, shake=tuple(rng.uniform(0.0, 0.02, 2)),
                    shake_period=float(rng.uniform(6, 16)), shake_phase=float(rng.uniform(0, 2 * math.pi)))
    rendered = render_scene(SceneSpec(background=spec.background, objects=objects, camera=camera),
                            num_frames, size)
    boxes = rendered.boxes[:, 0].double().numpy().copy()
    height, width = size
    boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, width)
    boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, height)
    return BoxSequence(name=f"synthetic_{seed:05d}", frames=rendered.frames, boxes=boxes)


def synthetic_sequences(
    seeds: Sequence[int], *, num_frames: int = 24, size: tuple[int, int] = (128, 128), num_distractors: int = 2,
) -> list[BoxSequence]:
    """:func:`synthetic_sequence` for each seed (held-out sets take seeds the training set does not)."""
    return [synthetic_sequence(s, num_frames=num_frames, size=size, num_distractors=num_distractors) for s in seeds]


def write_otb_sequence(sequence: BoxSequence, root: str | Path) -> Path:
    """Store ``sequence`` as ``root/NAME/img/0001.jpg...`` and ``groundtruth_rect.txt`` (OTB layout)."""
    import cv2

    folder = Path(root) / sequence.name
    (folder / "img").mkdir(parents=True, exist_ok=True)
    for index, frame in enumerate(sequence.frames.numpy(), start=1):
        cv2.imwrite(str(folder / "img" / f"{index:04d}.jpg"), np.ascontiguousarray(frame[..., ::-1]),
                    [cv2.IMWRITE_JPEG_QUALITY, 95])
    write_boxes(folder / "groundtruth_rect.txt", sequence.boxes)
    return folder


def mot_tracks(
    frames_source: str | Path, gt_path: str | Path, *, frame_numbers: Sequence[int] | None = None,
    short_side: int | None = None, min_visibility: float = 0.5, min_size: float = 8.0,
) -> list[BoxSequence]:
    """Single-object sequences from multi-object ground truth: each pedestrian of a MOTChallenge ``gt.txt``,
    one :class:`BoxSequence` per run of consecutive frames in which it is annotated (the paper trains on
    ALOV300's videos of single objects; MOT17's people are real objects with real motion).

    ``frames_source`` is a video or a MOT ``img1`` folder; frame ``i`` of it is ground-truth frame
    ``frame_numbers[i]`` (default ``i + 1``, MOTChallenge's numbering; a video cut from a sequence names
    the frames it kept). Kept: rows marked to consider (column 7 = 1) of class 1 (pedestrian) with visibility
    at least ``min_visibility`` and both sides at least ``min_size`` pixels after scaling to ``short_side``.
    The sequences share the decoded frames (views, no copies).
    """
    from vidlearn.tracking.formats import read_mot
    from vidlearn.video import VideoReader
    from vidlearn.video.backends.base import resolve_size

    source = Path(frames_source)
    if source.is_dir():
        files = image_files(source)
        if not files:
            raise ValueError(f"{source}: no image files ({', '.join(IMAGE_SUFFIXES)})")
        frames = load_frames(files)
        stored = frames.shape[1:3]
        if short_side is not None:
            size = resolve_size(stored[0], stored[1], short_side)
            frames = torch.nn.functional.interpolate(frames.permute(0, 3, 1, 2).float(), size=size, mode="area",
                                                     ).round().clamp(0, 255).byte().permute(0, 2, 3, 1).contiguous()
    else:
        reader = VideoReader(source)
        stored = (reader.height, reader.width)
        frames = reader.get_frames(range(reader.num_frames), size=short_side)  # resized while decoding
    numbers = list(range(1, len(frames) + 1)) if frame_numbers is None else [int(n) for n in frame_numbers]
    if len(numbers) != len(frames):
        raise ValueError(f"{source}: {len(frames)} frames but {len(numbers)} frame numbers given")
    height, width = frames.shape[1:3]
    rows = read_mot(gt_path, kind="gt")
    keep = (rows.scores == 1) & (rows.classes == 1) & (rows.visibility >= min_visibility)
    rows = rows.select(keep)
    boxes_all = rows.boxes_xyxy * np.array([width / stored[1], height / stored[0]] * 2)
    boxes_all[:, [0, 2]] = boxes_all[:, [0, 2]].clip(0, width)
    boxes_all[:, [1, 3]] = boxes_all[:, [1, 3]].clip(0, height)
    large = np.minimum(boxes_all[:, 2] - boxes_all[:, 0], boxes_all[:, 3] - boxes_all[:, 1]) >= min_size
    position = {number: index for index, number in enumerate(numbers)}
    out: list[BoxSequence] = []
    for identity in np.unique(rows.ids):
        boxes: list[np.ndarray | None] = [None] * len(numbers)
        for row in np.flatnonzero((rows.ids == identity) & large):
            if int(rows.frames[row]) in position:
                boxes[position[int(rows.frames[row])]] = boxes_all[row]
        start = 0
        while start < len(boxes):
            if boxes[start] is None:
                start += 1
                continue
            end = start
            while end < len(boxes) and boxes[end] is not None:
                end += 1
            out.append(BoxSequence(name=f"{source.stem}_id{int(identity)}_{numbers[start]:06d}",
                                   frames=frames[start:end], boxes=np.stack(boxes[start:end])))  # type: ignore[arg-type]
            start = end
    return out


def load_frames(paths: Sequence[str | Path]) -> torch.Tensor:
    """Decode image files -> ``uint8 (T, H, W, 3)`` RGB (all frames must have one size)."""
    import cv2

    frames = []
    for path in paths:
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise ValueError(f"{path}: cannot decode the image")
        if frames and image.shape != frames[0].shape:
            raise ValueError(f"{path}: frame size {image.shape[:2]} differs from the first frame's {frames[0].shape[:2]}")
        frames.append(image)
    if not frames:
        raise ValueError("no frames to load")
    return torch.from_numpy(np.ascontiguousarray(np.stack(frames)[..., ::-1]))


def sample_motion(
    boxes: np.ndarray, rng: np.random.Generator, image_size: tuple[int, int], *,
    lambda_shift: float = LAMBDA_SHIFT, lambda_scale: float = LAMBDA_SCALE, max_scale_change: float = MAX_SCALE_CHANGE,
) -> np.ndarray:
    """GOTURN's motion model applied to ``boxes (N, 4)`` xyxy -> moved boxes ``(N, 4)`` (see the module docstring).

    The centre moves by at most ``CONTEXT_FACTOR / 2`` box sizes (so the target stays in the search region)
    and stays inside the image ``(height, width)``; the size stays within ``[1, image side - 1]``.
    """
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    height, width = image_size
    size = boxes[:, 2:] - boxes[:, :2]
    centre = boxes[:, :2] + size / 2
    scale = 1.0 + np.clip(rng.laplace(0.0, 1.0 / lambda_scale, size.shape), -max_scale_change, max_scale_change)
    new_size = np.clip(size * scale, 1.0, np.array([width, height], np.float64) - 1.0)
    shift = np.clip(rng.laplace(0.0, 1.0 / lambda_shift, size.shape), -CONTEXT_FACTOR / 2, CONTEXT_FACTOR / 2)
    new_centre = centre + size * shift
    new_centre = np.clip(new_centre, new_size / 2, np.array([width, height]) - new_size / 2)
    return np.concatenate([new_centre - new_size / 2, new_centre + new_size / 2], axis=1)


class GoturnExamples(Dataset):
    """GOTURN training examples from box sequences (video pairs) and their frames (still images).

    Item ``i`` -> ``(previous crop, search crop, target)``: crops ``float (3, S, S)`` RGB in [0, 1], target
    ``float (4,)`` the current box in the search region scaled to ``[0, 10]``. Each consecutive pair gives
    ``1 + shifts_per_pair`` examples (the search region on the previous box, as at test time, then around
    GOTURN-moved copies of the current box); with ``still_images`` every frame also gives ``shifts_per_pair``
    still-image examples. Randomness is a function of ``(seed, epoch, i)``: :meth:`set_epoch` draws new motions.
    ``photometric`` applies one random colour change to both crops of an example (grey with probability 0.3,
    contrast x U(0.4, 1.2), brightness + U(-0.15, 0.15), Gaussian noise up to 0.04): the built-in scenes are
    more colourful and contrasted than real footage, and this narrows the gap.
    """

    def __init__(
        self, sequences: Sequence[BoxSequence], *, input_size: int = 64, shifts_per_pair: int = 10,
        still_images: bool = True, photometric: bool = False, seed: int = 0,
    ) -> None:
        self.input_size = int(input_size)
        self.photometric = bool(photometric)
        self.seed = int(seed)
        self.epoch = 0
        self.frames = [s.frames for s in sequences]
        self.boxes = [torch.as_tensor(s.boxes, dtype=torch.float32) for s in sequences]
        self.shifts_per_pair = int(shifts_per_pair)
        index = []  # (sequence, previous frame, current frame, kind 0 = real pair / 1 = moved)
        for s, sequence in enumerate(sequences):
            valid = np.all(sequence.boxes[:, 2:] - sequence.boxes[:, :2] >= 2.0, axis=1)
            for t in range(1, len(sequence)):
                if valid[t - 1] and valid[t]:
                    index.append((s, t - 1, t, 0))
                    index += [(s, t - 1, t, 1)] * self.shifts_per_pair
            if still_images:
                index += [(s, t, t, 1) for t in range(len(sequence)) if valid[t]] * self.shifts_per_pair
        if not index:
            raise ValueError("no training examples: every box is smaller than 2 pixels")
        self.index = index

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, item: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        s, previous, current, kind = self.index[item]
        frames = self.frames[s]
        boxes = self.boxes[s]
        if kind == 0:
            centre_box = boxes[previous]
        else:
            rng = np.random.default_rng([self.seed, self.epoch, item])
            moved = sample_motion(boxes[current].numpy()[None], rng, tuple(frames.shape[1:3]))
            centre_box = torch.as_tensor(moved[0], dtype=torch.float32)
        regions = search_regions(torch.stack([boxes[previous], centre_box]))
        # Only the window the two regions cover (and 2 pixels more, for bilinear sampling) becomes float: the
        # crops are the same as from whole frames, and on large frames converting them cost most of an example.
        height, width = frames.shape[1:3]
        x0, y0 = (regions[:, :2].amin(dim=0).floor() - 2).clamp(min=0).int().tolist()
        x1, y1 = (regions[:, 2:].amax(dim=0).ceil() + 2).int().tolist()
        x1, y1 = max(min(x1, width), x0 + 1), max(min(y1, height), y0 + 1)
        x0, y0 = min(x0, x1 - 1), min(y0, y1 - 1)
        window = frames[[previous, current], y0:y1, x0:x1]
        images = window.permute(0, 3, 1, 2).float().div_(255.0)
        offset = torch.tensor([x0, y0, x0, y0], dtype=regions.dtype)
        crops = crop_regions(images, regions - offset, self.input_size)
        if self.photometric:
            crops = _jitter(crops, np.random.default_rng([self.seed, self.epoch, item, 1]))
        target = image_to_region(boxes[current][None], regions[1:])[0].clamp(-OUTPUT_SCALE, 2 * OUTPUT_SCALE)
        return crops[0], crops[1], target


def _jitter(crops: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    """One photometric change applied alike to crops ``(2, 3, S, S)`` in [0, 1] (see :class:`GoturnExamples`)."""
    grey, contrast, brightness, noise, seed = rng.random(), rng.uniform(0.4, 1.2), rng.uniform(-0.15, 0.15), \
        rng.uniform(0.0, 0.04), int(rng.integers(2**62))
    if grey < 0.3:
        crops = crops.mean(dim=1, keepdim=True).expand_as(crops)
    mean = crops.mean()
    # torch's generator: drawing the noise is most of this function's cost, and NumPy's normal is slower.
    generator = torch.Generator().manual_seed(seed)
    crops = (crops - mean) * contrast + mean + brightness + noise * torch.randn(crops.shape, generator=generator)
    return crops.clamp_(0.0, 1.0)


def simulated_detections(
    boxes: np.ndarray, rng: np.random.Generator, *, noise: float = 0.1, miss_rate: float = 0.1,
) -> np.ndarray:
    """A stand-in detector for ROLO: ground truth ``(T, 4)`` xyxy moved and resized by Gaussian noise of
    ``noise`` box sizes, missing (``NaN``) in a ``miss_rate`` share of frames -> ``(T, 4)`` xyxy."""
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    size = boxes[:, 2:] - boxes[:, :2]
    centre = boxes[:, :2] + size / 2 + size * rng.normal(0.0, noise, size.shape)
    size = size * np.exp(rng.normal(0.0, noise, size.shape))
    detected = np.concatenate([centre - size / 2, centre + size / 2], axis=1)
    detected[rng.random(len(boxes)) < miss_rate] = np.nan
    return detected


class RoloWindows(Dataset):
    """ROLO training windows: ``sequence_length`` consecutive frames of a sequence (every start frame).

    Item -> ``(features (T, D), detections (T, 6), targets (T, 4))``, targets the ground truth ``cx, cy, w, h``
    as fractions of the frame. ``features[s] (len_s, D)`` and ``detections[s] (len_s, 6)`` are precomputed per
    sequence (the detector runs once per frame, as ROLO's offline YOLO features).
    """

    def __init__(self, features: Sequence[torch.Tensor], detections: Sequence[torch.Tensor],
                 targets: Sequence[torch.Tensor], *, sequence_length: int = 3) -> None:
        if not len(features) == len(detections) == len(targets):
            raise ValueError("features, detections and targets need one entry per sequence")
        self.features, self.detections, self.targets = list(features), list(detections), list(targets)
        self.length = int(sequence_length)
        self.index = [(s, t) for s, f in enumerate(self.features) for t in range(len(f) - self.length + 1)]
        if not self.index:
            raise ValueError(f"no sequence has {self.length} frames")

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, item: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        s, t = self.index[item]
        window = slice(t, t + self.length)
        return self.features[s][window], self.detections[s][window], self.targets[s][window]


def xyxy_to_fractions(boxes: np.ndarray, frame_size: tuple[int, int]) -> torch.Tensor:
    """Boxes ``(T, 4)`` xyxy pixels -> ``(T, 4)`` cx, cy, w, h as fractions of the frame (ROLO's targets)."""
    boxes = np.asarray(boxes, np.float64)
    height, width = frame_size
    scale = np.array([width, height], np.float64)
    centre = (boxes[:, :2] + boxes[:, 2:]) / 2 / scale
    size = (boxes[:, 2:] - boxes[:, :2]) / scale
    return torch.as_tensor(np.concatenate([centre, size], axis=1), dtype=torch.float32)
