"""Training and test data for video super-resolution: HR clips from any video, frame folder or scene.

FRVSR trains on random clips of ``L`` consecutive HR frames (the paper: 10), each a random
``crop x crop`` window (the paper: 256, so 64x64 LR frames at ×4) flipped at random; the LR clip is
made from the HR clip by a :class:`~vidlearn.superres.degrade.Degradation`. Where the HR frames come from:

* :class:`FileSource`: a video file (read with :class:`vidlearn.video.VideoReader`) or a folder of
  frame images (``*.png``, ``*.jpg``, ``*.bmp``, ``*.tif``; frames in sorted-name order). Grey frames
  become RGB (the grey value in every channel) and an alpha channel is dropped, as OpenCV's
  ``IMREAD_COLOR`` reads them.
* :func:`find_sequences`: a root holding sequences, found at any depth: every folder with frame images
  is one sequence, every video file one more. This reads the Vid4 (``GT/calendar/*.png``), REDS
  (``train_sharp/000/00000000.png``) and Vimeo-90K (``sequences/00001/0001/im1.png``) layouts. An
  ``lr_root`` with the same relative folders (Vid4's ``BDx4/``, REDS's ``train_sharp_bicubic/X4/``)
  gives the published LR frames; without it the LR frames are made by the degradation.
* :class:`SyntheticSource`: scenes rendered directly at the HR size by :mod:`vidlearn.synthetic`'s
  renderer (the embedded default): fine Fourier textures, textured moving shapes and a moving camera,
  so the motion is known and nothing has to be read from disk.

Frame sizes that are not multiples of the scale are cropped at the bottom and right (BasicSR's
``mod_crop``) before the degradation; :func:`read_sequence` does this for test sequences and says so
in :attr:`Sequence.cropped`.

Items are dicts ``{"lr": float (T, C, h, w), "hr": float (T, C, s*h, s*w)}`` in [0, 1]; a batch adds the
batch dimension in front, as FRVSR's ``(B, T, C, H, W)`` contract wants.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from collections.abc import Sequence as SequenceType
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset, get_worker_info

from vidlearn.superres.degrade import Degradation, crop_to_multiple
from vidlearn.synthetic.scene import Background, Camera, Objects, SceneSpec, render_scene, sample_colors
from vidlearn.video.errors import VideoDecodeError
from vidlearn.video.files import IMAGE_SUFFIXES, VIDEO_SUFFIXES, image_files, is_video_file

__all__ = [
    "IMAGE_SUFFIXES",
    "VIDEO_SUFFIXES",
    "FileSource",
    "FrameFolder",
    "SRClipDataset",
    "Sequence",
    "SyntheticSource",
    "clip_sources",
    "find_sequences",
    "open_frames",
    "read_sequence",
    "sample_sr_scene",
    "to_float_frames",
]

def read_image(path: Path, index: int | None = None) -> np.ndarray:
    """One frame image as ``uint8 (H, W, 3)`` RGB (grey repeated, alpha dropped, 16-bit scaled to 8)."""
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    where = f" (frame {index})" if index is not None else ""
    if image is None:
        raise VideoDecodeError(path, f"frame image missing or unreadable{where}")
    if image.dtype == np.uint16:
        image = (image.astype(np.float64) / 257.0).round().astype(np.uint8)
    elif image.dtype != np.uint8:
        raise VideoDecodeError(path, f"unsupported frame image dtype {image.dtype}{where}")
    if image.ndim == 2:
        return np.repeat(image[..., None], 3, axis=2)
    if image.shape[2] == 4:
        image = image[..., :3]
    elif image.shape[2] == 1:
        return np.repeat(image, 3, axis=2)
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


class FrameFolder:
    """The frame images of one folder in sorted-name order: ``get(indices) -> uint8 (T, H, W, 3)`` RGB."""

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.path = Path(folder)
        if not self.path.is_dir():
            raise VideoDecodeError(self.path, "frame folder not found")
        self.files = image_files(self.path)
        if not self.files:
            raise VideoDecodeError(self.path, f"no frame images ({', '.join(IMAGE_SUFFIXES)}) in the folder")
        self.num_frames = len(self.files)
        self.fps: float | None = None
        self._shape: tuple[int, ...] | None = None

    def get(self, indices: SequenceType[int]) -> torch.Tensor:
        frames = []
        for index in indices:
            image = read_image(self.files[int(index)], int(index))
            if self._shape is None:
                self._shape = image.shape
            elif image.shape != self._shape:
                raise VideoDecodeError(self.files[int(index)], f"frame {int(index)} is {image.shape[1]}x"
                                       f"{image.shape[0]}, earlier frames are {self._shape[1]}x{self._shape[0]}")
            frames.append(image)
        return torch.from_numpy(np.stack(frames))

    def __iter__(self) -> Iterator[torch.Tensor]:
        for index in range(self.num_frames):
            yield self.get([index])[0]


class _VideoFrames:
    """A video file: ``get(indices) -> uint8 (T, H, W, 3)`` RGB through :class:`vidlearn.video.VideoReader`."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        from vidlearn.video import VideoReader

        self.path = Path(path)
        self.reader = VideoReader(self.path)
        self.num_frames = int(self.reader.num_frames)
        self.fps = float(self.reader.fps) if self.reader.fps else None

    def get(self, indices: SequenceType[int]) -> torch.Tensor:
        return self.reader.get_frames(list(indices))

    def __iter__(self) -> Iterator[torch.Tensor]:
        return iter(self.reader)


def open_frames(path: str | os.PathLike[str]) -> FrameFolder | _VideoFrames:
    """A video file or a frame folder as a frame source (``num_frames``, ``fps``, ``get``, iteration)."""
    path = Path(path)
    if path.is_dir():
        return FrameFolder(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such video file or frame folder")
    return _VideoFrames(path)


def find_sequences(root: str | os.PathLike[str]) -> list[Path]:
    """Every sequence under ``root``, sorted: folders with frame images (at any depth) and video files.

    ``root`` itself may be a video file or a frame folder (one sequence).
    """
    root = Path(root)
    if not root.exists():
        raise FileNotFoundError(f"{root}: no such video file or folder")
    if root.is_file():
        return [root]
    found: list[Path] = []
    for folder, _, files in os.walk(root):
        names = [name for name in files if not name.startswith(".")]
        if any(Path(name).suffix.lower() in IMAGE_SUFFIXES for name in names):
            found.append(Path(folder))
        found += [Path(folder) / name for name in names if is_video_file(name)]
    if not found:
        raise FileNotFoundError(f"{root}: no frame images and no video files found under it")
    return sorted(found)


@dataclass
class Sequence:
    """A whole test sequence: ``hr`` and ``lr`` ``float (T, C, H, W)``; ``cropped`` HR pixels cut off (rows, cols)."""

    name: str
    hr: torch.Tensor
    lr: torch.Tensor
    cropped: tuple[int, int] = (0, 0)


def to_float_frames(frames: torch.Tensor) -> torch.Tensor:
    """``uint8 (T, H, W, 3)`` -> ``float (T, 3, H, W)`` in [0, 1]."""
    return frames.permute(0, 3, 1, 2).float().div_(255.0)


def read_sequence(path: str | os.PathLike[str], degradation: Degradation, *, lr_path: str | os.PathLike[str] | None = None,
                  max_frames: int | None = None, name: str | None = None) -> Sequence:
    """Read one test sequence and its LR frames (from ``lr_path``, else made by ``degradation``).

    HR frames whose size is not a multiple of the scale are cropped at the bottom and right first.
    """
    source = open_frames(path)
    count = source.num_frames if max_frames is None else min(max_frames, source.num_frames)
    hr_raw = to_float_frames(source.get(range(count)))
    scale = degradation.scale
    hr = crop_to_multiple(hr_raw, scale)
    cropped = (hr_raw.shape[-2] - hr.shape[-2], hr_raw.shape[-1] - hr.shape[-1])
    if lr_path is not None:
        lr_source = open_frames(lr_path)
        if lr_source.num_frames < count:
            raise ValueError(f"{lr_path}: {lr_source.num_frames} LR frames for {count} HR frames in {path}")
        lr = to_float_frames(lr_source.get(range(count)))
        if lr.shape[-2] * scale != hr.shape[-2] or lr.shape[-1] * scale != hr.shape[-1]:
            raise ValueError(f"{lr_path}: LR frames {lr.shape[-1]}x{lr.shape[-2]} times {scale} do not match the "
                             f"HR frames {hr.shape[-1]}x{hr.shape[-2]} of {path}")
    else:
        lr = degradation(hr).clamp(0.0, 1.0)
    return Sequence(name or Path(path).stem, hr, lr, cropped)


# ----------------------------------------------------------------------------------------------
# Clip sources


class FileSource:
    """Random HR clips of a video file or frame folder: ``clip(rng, length, crop) -> uint8 (T, crop, crop, 3)``.

    The file is opened on first use (so a dataset pickles into DataLoader workers cheaply). A source
    shorter than ``length`` frames or smaller than ``crop`` raises a ``ValueError`` naming it.

    ``cache=True`` decodes every frame once, on first use, and cuts later clips from memory: the same
    clips, without decoding ten full frames for each small crop (which bounds training speed on
    small models). It costs the decoded size in each process that draws clips (a DataLoader worker
    keeps its own copy): ``frames x height x width x 3`` bytes, 738 MiB for 280 frames of 720p.
    """

    def __init__(self, path: str | os.PathLike[str], *, cache: bool = False) -> None:
        self.path = Path(path)
        self.cache = cache
        self._frames: FrameFolder | _VideoFrames | None = None
        self._decoded: torch.Tensor | None = None

    def __getstate__(self) -> dict:
        return {"path": self.path, "cache": self.cache, "_frames": None, "_decoded": None}

    @property
    def frames(self) -> FrameFolder | _VideoFrames:
        if self._frames is None:
            self._frames = open_frames(self.path)
        return self._frames

    def clip(self, rng: np.random.Generator, length: int, crop: int) -> torch.Tensor:
        frames = self.frames
        if frames.num_frames < length:
            raise ValueError(f"{self.path}: {frames.num_frames} frames, shorter than a clip of {length}")
        start = int(rng.integers(0, frames.num_frames - length + 1))
        if self.cache:
            if self._decoded is None:
                self._decoded = frames.get(range(frames.num_frames))
            clip = self._decoded[start:start + length]
        else:
            clip = frames.get(range(start, start + length))
        height, width = clip.shape[1:3]
        if min(height, width) < crop:
            raise ValueError(f"{self.path}: frames of {width}x{height} are smaller than the {crop}x{crop} crop")
        top = int(rng.integers(0, height - crop + 1))
        left = int(rng.integers(0, width - crop + 1))
        return clip[:, top:top + crop, left:left + crop]

    def __repr__(self) -> str:
        return f"FileSource({str(self.path)!r}{', cache=True' if self.cache else ''})"


def sample_sr_scene(seed: int | np.random.Generator, *, num_frames: int = 10, max_speed: float = 0.02) -> SceneSpec:
    """A random scene with detail at every scale, for super-resolution.

    The background sums 48 Fourier modes up to 16 cycles across the view with 1/f amplitudes (at a
    64-pixel view, periods down to 4 HR pixels, which a ×4 LR frame cannot hold), 3 to 6 shapes (a third of them textured patches) move, turn and
    orbit, and the camera pans at up to ``max_speed`` views per frame, so every pixel moves.
    """
    rng = np.random.default_rng(seed)
    modes = 48
    freq = rng.integers(-16, 17, (modes, 2)).astype(float)
    freq[np.all(freq == 0, 1)] = (1.0, 0.0)
    norm = np.linalg.norm(freq, axis=1, keepdims=True)
    amplitudes = rng.normal(0.0, 1.0, (modes, 3)) * (0.5 / norm) * (0.6 + 0.4 * rng.random((modes, 1)))
    background = Background(base_color=rng.uniform(0.25, 0.75, 3), frequencies=freq, amplitudes=amplitudes,
                            phases=rng.uniform(0, 2 * math.pi, modes))
    count = int(rng.integers(3, 7))
    shapes = rng.integers(0, 4, count)
    texture_modes = 4
    texture_freq = rng.integers(2, 9, (count, texture_modes, 2)) * rng.choice([-1, 1], (count, texture_modes, 2))
    texture_amp = rng.uniform(-0.3, 0.3, (count, texture_modes, 3)) * (shapes == 3)[:, None, None]
    objects = Objects.static(
        shape=shapes,
        color=sample_colors(rng, count, background.base_color),
        anchor=rng.uniform(0.1, 0.9, (count, 2)),
        radius=rng.uniform(0.08, 0.25, count),
        velocity=rng.normal(0.0, max_speed, (count, 2)),
        orbit_radius=rng.uniform(0.0, 0.05, count),
        orbit_phase=rng.uniform(0, 2 * math.pi, count),
        angular_velocity=rng.normal(0.0, 0.1, count),
        angle=rng.uniform(0, 2 * math.pi, count),
        spin=rng.normal(0.0, 0.04, count),
        texture_frequencies=texture_freq.astype(float),
        texture_amplitudes=texture_amp,
        texture_phases=rng.uniform(0, 2 * math.pi, (count, texture_modes)),
    )
    camera = Camera(velocity=tuple(rng.uniform(-max_speed, max_speed, 2)))
    return SceneSpec(background=background, objects=objects, camera=camera, wrap=True)


class SyntheticSource:
    """Random scenes rendered directly at the HR crop size (no file): ``clip(rng, length, crop)``."""

    path = Path("<synthetic>")

    def __init__(self, max_speed: float = 0.02) -> None:
        self.max_speed = max_speed

    def clip(self, rng: np.random.Generator, length: int, crop: int) -> torch.Tensor:
        spec = sample_sr_scene(rng, num_frames=length, max_speed=self.max_speed)
        return render_scene(spec, length, (crop, crop)).frames

    def __repr__(self) -> str:
        return f"SyntheticSource(max_speed={self.max_speed})"


def clip_sources(names: SequenceType[str], *, synthetic_max_speed: float = 0.02, cache_frames: bool = False
                 ) -> list[FileSource | SyntheticSource]:
    """The clip sources ``names`` lists, as a recipe's ``data.train_sources``: ``synthetic`` is one
    :class:`SyntheticSource`; a path is one :class:`FileSource` per sequence under it (``cache_frames``:
    each keeps its decoded frames in memory, see :class:`FileSource`)."""
    sources: list[FileSource | SyntheticSource] = []
    for name in names:
        if name == "synthetic":
            sources.append(SyntheticSource(synthetic_max_speed))
        else:
            sources += [FileSource(path, cache=cache_frames) for path in find_sequences(name)]
    return sources


class SRClipDataset(Dataset):
    """``samples`` random training clips ``{"lr": (T, C, h, w), "hr": (T, C, H, W)}`` from ``sources``.

    Item ``i`` of epoch ``e`` draws from source ``i mod len(sources)`` with a generator seeded by
    ``(seed, e, i)``, so items are reproducible (exact resume) and change every epoch
    (:meth:`set_epoch`). Augmentation: random crop (in the source), horizontal and vertical flips
    and, for square crops, transposition, each with probability 1/2, the same for the whole clip.
    """

    def __init__(self, sources: SequenceType[FileSource | SyntheticSource], *, degradation: Degradation,
                 clip_len: int = 10, crop_size: int = 256, samples: int = 1000, flip: bool = True, seed: int = 0,
                 time_reverse: bool = True) -> None:
        if not sources:
            raise ValueError("SRClipDataset needs at least one source")
        if crop_size % degradation.scale:
            raise ValueError(f"crop_size {crop_size} is not a multiple of the scale {degradation.scale}")
        if clip_len < 1:
            raise ValueError(f"clip_len must be >= 1, got {clip_len}")
        self.sources = list(sources)
        self.degradation = degradation
        self.clip_len = clip_len
        self.crop_size = crop_size
        self.samples = samples
        self.flip = flip
        self.time_reverse = time_reverse
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.samples

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        # In a DataLoader worker the engine reseeds torch from the batch's seed, which changes every
        # epoch (set_epoch does not reach persistent workers); in the main process set_epoch does.
        batch_seed = int(torch.randint(0, 2**31, ()).item()) if get_worker_info() is not None else 0
        rng = np.random.default_rng([self.seed, self.epoch, index, batch_seed])
        source = self.sources[index % len(self.sources)]
        hr = to_float_frames(source.clip(rng, self.clip_len, self.crop_size))
        if self.flip:
            flips = rng.random(4) < 0.5
            if flips[0]:
                hr = hr.flip(-1)
            if flips[1]:
                hr = hr.flip(-2)
            if flips[2]:
                hr = hr.transpose(-1, -2)
            if flips[3] and self.time_reverse:
                hr = hr.flip(0)
        hr = hr.contiguous()
        noise = torch.Generator().manual_seed(int(rng.integers(2**62)))
        lr = self.degradation(hr, generator=noise).clamp_(0.0, 1.0)
        return {"lr": lr, "hr": hr}
