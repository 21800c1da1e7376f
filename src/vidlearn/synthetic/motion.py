"""Motion-class videos: the class lives in how things move, never in what one frame shows.

Each clip shows one moving shape (disc, square, triangle, textured patch; random colours) on a random
background (smooth noise, gradient or solid colour); the shape follows the clip's class:

==========================  =====================================================================
class                       motion (y points down on screen)
==========================  =====================================================================
``move_right`` / ``_left``  straight translation at constant speed
``move_up`` / ``move_down``
``rotate_clockwise``        rigid rotation about a centre off the shape (the shape orbits and turns)
``rotate_anticlockwise``
``zoom_in`` / ``zoom_out``  the shape grows / shrinks at a constant rate (log-scale)
``oscillate_horizontal``    periodic back-and-forth swing (``motion10-hard`` only)
``oscillate_vertical``
==========================  =====================================================================

Why no single frame leaks the class: the world is a torus (a shape leaving on one side comes back on
the other) and every pose parameter is drawn uniformly on its circle -- the position on the torus,
the orientation on ``[0, 2 pi)``, the log-size on a wrapped interval (a zooming shape that reaches the
largest size re-enters at the smallest) -- and motion only shifts a uniform variable along its circle.
So at every frame index the position, orientation and size are uniform whatever the class, and
shapes, colours and backgrounds are drawn the same way for every class. A network that sees one frame
(Karpathy et al. 2014, "single-frame") cannot beat chance; one that sees the clip (C3D, Tran et al.
2015) can.

Presets:

- ``"motion4"``: the four translations only (the demo's default: a small C3D learns it in minutes
  on a CPU).
- ``"motion4-solid"``: the four translations on a flat background, with larger shapes (circumradius
  0.2-0.3) moving 1.25x as fast: the same classes with less to draw, for generative models that must
  learn the look of a clip before its motion.
- ``"motion6"``: translations and the two rotations.
- ``"motion8"`` (default): the 8 classes above (without oscillation), static camera, no noise.
- ``"motion10-hard"``: 10 classes (adds the two oscillations), slower motion, a panning and shaking
  camera, 1-2 static distractor shapes and pixel noise.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from vidlearn.synthetic.scene import (
    SHAPES,
    Camera,
    Objects,
    RenderedScene,
    SceneSpec,
    render_scene,
    sample_background,
    sample_colors,
    sample_textures,
    world_extent,
)

__all__ = [
    "PRESETS",
    "MotionPreset",
    "SyntheticMotionDataset",
    "get_preset",
    "render_motion_clip",
    "sample_motion_scene",
]

_SPLIT_CODES = {"train": 0, "test": 1, "val": 2}


@dataclass(frozen=True)
class MotionPreset:
    """A motion-class dataset recipe. Speeds are per frame in world units (short image side = 1)."""

    name: str
    classes: tuple[str, ...]
    num_objects: tuple[int, int] = (1, 1)  # moving shapes per clip, inclusive range
    num_distractors: tuple[int, int] = (0, 0)  # static shapes per clip, inclusive range
    radius_range: tuple[float, float] = (0.12, 0.24)  # circumradius; the zoom wraps inside it
    speed_scale: float = 1.0  # multiplies every class's speed range
    camera_speed: float = 0.0  # largest camera pan per frame
    camera_shake: float = 0.0  # largest camera shake amplitude
    noise_std: float = 0.0  # Gaussian pixel noise, [0, 1] units
    background: str | None = None  # "noise", "gradient" or "solid"; None: any of the three


_MOTION8 = (
    "move_right",
    "move_left",
    "move_up",
    "move_down",
    "rotate_clockwise",
    "rotate_anticlockwise",
    "zoom_in",
    "zoom_out",
)

PRESETS: dict[str, MotionPreset] = {
    "motion4": MotionPreset(name="motion4", classes=_MOTION8[:4]),
    "motion6": MotionPreset(name="motion6", classes=_MOTION8[:6]),
    "motion8": MotionPreset(name="motion8", classes=_MOTION8),
    "motion4-solid": MotionPreset(name="motion4-solid", classes=_MOTION8[:4], radius_range=(0.2, 0.3),
                                  speed_scale=1.25, background="solid"),
    "motion10-hard": MotionPreset(
        name="motion10-hard",
        classes=(*_MOTION8, "oscillate_horizontal", "oscillate_vertical"),
        num_objects=(1, 1),
        num_distractors=(1, 2),
        speed_scale=0.7,
        camera_speed=0.012,
        camera_shake=0.02,
        noise_std=0.04,
    ),
}
"""Named presets; see the module docstring for their classes."""

_DIRECTIONS = {
    "move_right": (1.0, 0.0),
    "move_left": (-1.0, 0.0),
    "move_up": (0.0, -1.0),
    "move_down": (0.0, 1.0),
}


def get_preset(preset: str | MotionPreset) -> MotionPreset:
    """The :class:`MotionPreset` named ``preset`` (or ``preset`` itself); an unknown name raises ``ValueError``."""
    if isinstance(preset, MotionPreset):
        return preset
    if preset not in PRESETS:
        raise ValueError(f"unknown motion preset {preset!r}; available: {sorted(PRESETS)}")
    return PRESETS[preset]


def sample_motion_scene(
    label: int,
    rng: np.random.Generator,
    *,
    preset: str | MotionPreset = "motion8",
    size: tuple[int, int] = (64, 64),
) -> SceneSpec:
    """A random wrapped scene whose moving shapes all follow class ``label`` of ``preset``.

    Appearance and pose are drawn first and the same way for every class; only then does ``label``
    choose the motion, so nothing but the motion depends on it.
    """
    preset = get_preset(preset)
    if not 0 <= label < len(preset.classes):
        raise ValueError(
            f"label {label} out of range for preset {preset.name!r} with {len(preset.classes)} classes"
        )
    extent = world_extent(size)
    background = sample_background(rng, preset.background)
    moving = int(rng.integers(preset.num_objects[0], preset.num_objects[1] + 1))
    static = int(rng.integers(preset.num_distractors[0], preset.num_distractors[1] + 1))
    count = moving + static
    shapes = rng.integers(0, len(SHAPES), count)
    texture_frequencies, texture_amplitudes, texture_phases = sample_textures(rng, shapes)
    low, high = np.log(preset.radius_range)
    pose = {
        "anchor": rng.uniform(0.0, 1.0, (count, 2)) * extent,
        "angle": rng.uniform(0.0, 2 * math.pi, count),
        "radius": np.exp(rng.uniform(low, high, count)),
    }
    # Draws for every motion family are made for every clip, so the random stream (and with it the
    # appearance of later objects) does not depend on the class either.
    unit = rng.uniform(0.0, 1.0, (count, 4))
    zeros = np.zeros(count)
    is_moving = (np.arange(count) < moving).astype(float)  # distractors stay still in the scene
    name = preset.classes[label]
    s = preset.speed_scale
    motion: dict[str, Any] = {}
    if name in _DIRECTIONS:
        speed = (0.04 + 0.02 * unit[:, 0]) * s
        motion["velocity"] = (speed * is_moving)[:, None] * np.asarray(_DIRECTIONS[name])
    elif name.startswith("rotate_"):
        sign = 1.0 if name == "rotate_clockwise" else -1.0  # y down: growing angle turns clockwise
        omega = sign * (0.2 + 0.1 * unit[:, 0]) * s * is_moving
        motion["orbit_radius"] = (0.12 + 0.06 * unit[:, 1]) * is_moving
        motion["orbit_phase"] = unit[:, 2] * 2 * math.pi
        motion["angular_velocity"] = omega
        motion["spin"] = omega  # rigid rotation: the shape turns with its orbit
    elif name.startswith("zoom_"):
        sign = 1.0 if name == "zoom_in" else -1.0
        motion["zoom_rate"] = sign * (0.03 + 0.015 * unit[:, 0]) * s * is_moving
    elif name.startswith("oscillate_"):
        axis = np.array([1.0, 0.0]) if name == "oscillate_horizontal" else np.array([0.0, 1.0])
        motion["oscillation_amplitude"] = ((0.08 + 0.06 * unit[:, 0]) * is_moving)[:, None] * axis
        motion["oscillation_period"] = 8.0 + 6.0 * unit[:, 1]
        motion["oscillation_phase"] = unit[:, 2] * 2 * math.pi
    else:  # a preset naming a class this module cannot animate
        raise ValueError(f"preset {preset.name!r} has class {name!r} with no motion rule")
    objects = Objects.static(
        shape=shapes,
        color=sample_colors(rng, count, background.base_color),
        texture_frequencies=texture_frequencies,
        texture_amplitudes=texture_amplitudes,
        texture_phases=texture_phases,
        radius_range=preset.radius_range,
        **pose,
        **{
            key: motion.get(key, zeros)
            for key in ("orbit_radius", "orbit_phase", "angular_velocity", "spin", "zoom_rate")
        },
        **{
            key: motion[key]
            for key in ("velocity", "oscillation_amplitude", "oscillation_period", "oscillation_phase")
            if key in motion
        },
    )
    camera_draw = rng.uniform(0.0, 1.0, 4)
    heading = 2 * math.pi * camera_draw[0]
    camera = Camera(
        velocity=(
            preset.camera_speed * camera_draw[1] * math.cos(heading),
            preset.camera_speed * camera_draw[1] * math.sin(heading),
        ),
        shake=(preset.camera_shake * camera_draw[2], preset.camera_shake * camera_draw[3]),
        shake_period=6.0,
        shake_phase=2 * math.pi * camera_draw[0],
    )
    noise_seed = int(rng.integers(2**31))
    return SceneSpec(
        background=background,
        objects=objects,
        camera=camera,
        wrap=True,
        noise_std=preset.noise_std,
        noise_seed=noise_seed,
    )


def _video_rng(seed: int, split: str, index: int) -> np.random.Generator:
    # Separate SeedSequence entropy per (seed, split, index): splits never share a clip.
    return np.random.default_rng(np.random.SeedSequence([seed, _SPLIT_CODES[split], index]))


def render_motion_clip(
    index: int,
    *,
    preset: str | MotionPreset = "motion8",
    num_frames: int = 16,
    size: tuple[int, int] = (64, 64),
    seed: int = 0,
    split: str = "train",
) -> tuple[RenderedScene, int]:
    """Clip ``index`` of a motion dataset and its label (``index % num_classes``, so classes are balanced).

    Returns the :class:`RenderedScene` (frames ``uint8 (T, H, W, 3)``, boxes of each shape, ...). The same
    arguments give identical bytes; a different seed or split gives different clips.
    """
    preset = get_preset(preset)
    if split not in _SPLIT_CODES:
        raise ValueError(f"split {split!r} is not one of {sorted(_SPLIT_CODES)}")
    if index < 0:
        raise ValueError(f"index must be >= 0, got {index}")
    label = index % len(preset.classes)
    spec = sample_motion_scene(label, _video_rng(seed, split, index), preset=preset, size=size)
    return render_scene(spec, num_frames, size), label


class SyntheticMotionDataset(Dataset):
    """A motion-class dataset rendered on the fly, in memory (no files).

    Item ``i`` is ``(clip, label, info)``: ``clip`` is ``uint8 (T, H, W, 3)`` RGB before ``transform``
    (whatever ``transform(clip)`` returns after), ``label`` an ``int`` (``i % len(classes)``: balanced),
    ``info`` a dict with ``index``, ``class_name`` and ``split``. ``classes`` lists the class names.
    Train and test draw from disjoint seed streams. Set ``cache=True`` to keep rendered clips for later
    epochs (``num_videos * T * H * W * 3`` bytes).
    """

    def __init__(
        self,
        num_videos: int,
        *,
        preset: str | MotionPreset = "motion8",
        num_frames: int = 16,
        size: tuple[int, int] | int = (64, 64),
        seed: int = 0,
        split: str = "train",
        transform: Callable[[torch.Tensor], Any] | None = None,
        cache: bool = False,
    ) -> None:
        if num_videos < 1:
            raise ValueError(f"num_videos must be >= 1, got {num_videos}")
        if num_frames < 1:
            raise ValueError(f"num_frames must be >= 1, got {num_frames}")
        if isinstance(size, int):
            size = (size, size)
        if len(size) != 2 or min(size) < 8:
            raise ValueError(f"size must be (height, width) with sides >= 8, got {size}")
        if split not in _SPLIT_CODES:
            raise ValueError(f"split {split!r} is not one of {sorted(_SPLIT_CODES)}")
        self.preset = get_preset(preset)
        self.classes: list[str] = list(self.preset.classes)
        self.num_videos = num_videos
        self.num_frames = num_frames
        self.size = (int(size[0]), int(size[1]))
        self.seed = seed
        self.split = split
        self.transform = transform
        self._cache: dict[int, torch.Tensor] | None = {} if cache else None

    def __len__(self) -> int:
        return self.num_videos

    def __getitem__(self, index: int) -> tuple[Any, int, dict[str, Any]]:
        if not -self.num_videos <= index < self.num_videos:
            raise IndexError(f"index {index} out of range for {self.num_videos} videos")
        index = index % self.num_videos
        label = index % len(self.classes)
        clip = self._cache.get(index) if self._cache is not None else None
        if clip is None:
            rendered, label = render_motion_clip(
                index,
                preset=self.preset,
                num_frames=self.num_frames,
                size=self.size,
                seed=self.seed,
                split=self.split,
            )
            clip = rendered.frames
            if self._cache is not None:
                self._cache[index] = clip
        info = {"index": index, "class_name": self.classes[label], "split": self.split}
        return (self.transform(clip) if self.transform is not None else clip), label, info

    def labels(self) -> list[int]:
        """Every item's label, without rendering."""
        return [i % len(self.classes) for i in range(self.num_videos)]
