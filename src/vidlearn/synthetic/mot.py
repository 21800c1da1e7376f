"""Synthetic multi-object tracking sequences with box ground truth, written as MOTChallenge folders.

A sequence is a :class:`~vidlearn.synthetic.scene.SceneSpec` built for tracking's hard cases:

* look-alike objects: one shape for the whole scene, two base colours, each object told apart only by its
  own texture (so IoU and motion cannot tell two crossing objects apart, appearance can);
* crossing paths: objects go round circles of different centres and radii near the middle of the view, in
  both directions, at constant speed, so they meet, overlap and pass in front of one another again and again;
* occlusions: untracked pillars drawn in front of everything hide objects passing behind them for several
  frames, and objects occlude one another where their paths cross;
* camera motion: a slow sway of the whole view (:class:`~vidlearn.synthetic.scene.Camera` shake).

:func:`render_mot_sequence` renders one (in chunks of frames, so memory stays bounded) and returns the frames
with MOTChallenge ground truth: one row per frame in which an object is seen at all (``visibility > 0``),
1-based ``x, y, w, h`` of the whole object, consider flag 1 when at least ``min_consider_visibility`` of it
is seen (0 otherwise: TrackEval then ignores the row), class 1, the visibility. :func:`write_mot_sequence`
writes ``SEQ/img1/000001.jpg ...`` (or ``SEQ/SEQ.mp4``), ``gt/gt.txt``, ``det/det.txt`` from the seeded
:class:`~vidlearn.tracking.detectors.NoisyOracle` and ``seqinfo.ini``; :func:`write_synthetic_mot` writes a
set of sequences once (a ``.complete.json`` marker makes a second call with the same parameters free).
"""

from __future__ import annotations

import json
import math
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from vidlearn.synthetic.scene import Camera, Objects, SceneSpec, render_scene, sample_background, world_extent

__all__ = [
    "MotSceneConfig",
    "MotSequence",
    "render_mot_sequence",
    "sample_mot_scene",
    "write_mot_sequence",
    "write_synthetic_mot",
]

MARKER = ".complete.json"
_FORMAT_VERSION = 1


@dataclass(frozen=True)
class MotSceneConfig:
    """How hard a synthetic tracking sequence is.

    ``num_objects`` tracked objects on crossing circular paths; ``num_occluders`` untracked pillars in front;
    ``radius`` the objects' circumradius range in world units (the short image side is 1); ``path_period``
    the range of frames of one turn around a path;
    ``camera_sway`` the amplitude ``(x, y)`` of the view's sway in world units (0 for a still camera);
    ``look_alike`` one shape and two colours for all objects (else shapes and colours vary).
    """

    num_objects: int = 8
    num_frames: int = 150
    size: tuple[int, int] = (192, 256)
    num_occluders: int = 2
    radius: tuple[float, float] = (0.07, 0.085)
    path_period: tuple[float, float] = (140.0, 220.0)
    camera_sway: tuple[float, float] = (0.04, 0.02)
    look_alike: bool = True
    fps: int = 25


def sample_mot_scene(seed: int, config: MotSceneConfig = MotSceneConfig()) -> tuple[SceneSpec, np.ndarray]:
    """A scene for :func:`render_mot_sequence` and ``tracked bool (N,)``: which objects are ground truth.

    The pillars (the last ``num_occluders`` objects, drawn on top) are not tracked.
    """
    count, pillars = config.num_objects, config.num_occluders
    if count < 1 or pillars < 0:
        raise ValueError(f"num_objects must be >= 1 and num_occluders >= 0, got {count}, {pillars}")
    rng = np.random.default_rng(seed)
    extent = world_extent(config.size)
    background = sample_background(rng, "noise")
    # Look-alike: one shape (disc or textured square) and two base colours far from the background.
    palette = rng.uniform(0.15, 0.85, (2, 3))
    palette[np.linalg.norm(palette - background.base_color, axis=1) < 0.3] = 1.0 - background.base_color
    if config.look_alike:
        shapes = np.full(count, rng.choice([0, 3]))
        colors = palette[np.arange(count) % 2] + rng.uniform(-0.03, 0.03, (count, 3))
    else:
        shapes = rng.integers(0, 4, count)
        colors = rng.uniform(0.1, 0.9, (count, 3))
    modes = 4
    texture_frequencies = (rng.integers(1, 4, (count, modes, 2)) * rng.choice([-1, 1], (count, modes, 2))).astype(float)
    texture_amplitudes = rng.uniform(-0.3, 0.3, (count, modes, 3))
    texture_phases = rng.uniform(0, 2 * math.pi, (count, modes))

    # Circular paths around centres near the middle of the view: every two circles cross, so objects meet,
    # overlap and pass in front of one another again and again, at a constant speed (a gentle turn, which
    # a constant-velocity Kalman filter follows) in both directions.
    anchor = extent / 2 + rng.normal(0.0, 0.08, (count, 2)) * extent
    radius_of_path = rng.uniform(0.22, 0.36, count) * extent[1]
    period = rng.uniform(*config.path_period, count)
    direction = rng.choice([-1.0, 1.0], count)
    objects = Objects.static(
        shape=shapes, color=np.clip(colors, 0, 1), anchor=anchor, radius=rng.uniform(*config.radius, count),
        orbit_radius=radius_of_path, orbit_phase=rng.uniform(0, 2 * math.pi, count),
        angular_velocity=direction * 2 * math.pi / period,
        texture_frequencies=texture_frequencies, texture_amplitudes=texture_amplitudes,
        texture_phases=texture_phases,
    )
    if pillars:
        pillar_x = extent[0] / 2 + (np.arange(pillars) - (pillars - 1) / 2) * 0.35 * extent[1]
        grey = np.full((pillars, 3), rng.uniform(0.35, 0.6))
        occluders = Objects.static(
            shape=np.full(pillars, 1), color=grey, anchor=np.stack([pillar_x, np.full(pillars, extent[1] / 2)], 1),
            radius=np.full(pillars, 0.13),
        )
        objects = Objects(**{
            name: np.concatenate([getattr(objects, name), _pad_modes(getattr(occluders, name), modes, name)])
            for name in objects.__dataclass_fields__ if name != "radius_range"
        })
    camera = Camera(velocity=(0.0, 0.0), shake=tuple(float(a) for a in config.camera_sway),
                    shake_period=float(rng.uniform(60, 90)), shake_phase=float(rng.uniform(0, 2 * math.pi)))
    tracked = np.arange(count + pillars) < count
    return SceneSpec(background=background, objects=objects, camera=camera), tracked


def _pad_modes(value: np.ndarray, modes: int, name: str) -> np.ndarray:
    """The pillars' (untextured) texture arrays widened to the objects' ``modes`` texture modes."""
    if name.startswith("texture_"):
        shape = (len(value), modes, *value.shape[2:])
        return np.zeros(shape)
    return value


@dataclass
class MotSequence:
    """A rendered sequence: ``frames uint8 (T, H, W, 3)``, ground truth :class:`~vidlearn.tracking.MotRows`,
    ``boxes float (T, N, 4)`` xyxy and ``visibility float (T, N)`` of the tracked objects, name and frame rate."""

    name: str
    frames: torch.Tensor
    gt: object  # vidlearn.tracking.MotRows
    boxes: np.ndarray
    visibility: np.ndarray
    fps: int


def render_mot_sequence(
    seed: int, config: MotSceneConfig = MotSceneConfig(), *, name: str | None = None,
    min_consider_visibility: float = 0.25, chunk: int = 16,
) -> MotSequence:
    """Render the scene of ``seed`` and its MOTChallenge ground truth (see the module docstring).

    ``chunk`` frames are rendered at a time (memory grows with ``chunk * objects * H * W``).
    """
    from vidlearn.tracking.boxes import xyxy_to_mot
    from vidlearn.tracking.formats import MotRows

    spec, tracked = sample_mot_scene(seed, config)
    frames, boxes, visibility = [], [], []
    for start in range(0, config.num_frames, chunk):
        part = render_scene(spec, min(chunk, config.num_frames - start), config.size, start_frame=float(start))
        frames.append(part.frames)
        boxes.append(part.boxes[:, tracked].numpy().astype(np.float64))
        visibility.append(part.visibility[:, tracked].numpy().astype(np.float64))
    boxes_all, seen = np.concatenate(boxes), np.concatenate(visibility)
    height, width = config.size
    inside = (boxes_all[..., 2] > 0) & (boxes_all[..., 0] < width) & (boxes_all[..., 3] > 0) & (boxes_all[..., 1] < height)
    frame_index, obj = np.nonzero((seen > 0) & inside)
    count = len(frame_index)
    gt = MotRows(frames=frame_index.astype(np.int64) + 1, ids=obj.astype(np.int64) + 1,
                 boxes=xyxy_to_mot(boxes_all[frame_index, obj]),
                 scores=(seen[frame_index, obj] >= min_consider_visibility).astype(np.float64),
                 classes=np.ones(count, dtype=np.int64), visibility=np.round(seen[frame_index, obj], 4))
    return MotSequence(name=name or f"SYN-{seed:04d}", frames=torch.cat(frames), gt=gt, boxes=boxes_all,
                       visibility=seen, fps=config.fps)


def write_mot_sequence(
    root: str | os.PathLike, sequence: MotSequence, *, detections: object | None = None, video: bool = False,
) -> Path:
    """Write ``root/NAME/`` as MOTChallenge lays a sequence out; returns that folder.

    ``img1/000001.jpg ...`` (JPEG quality 95) or, with ``video=True``, ``NAME.mp4`` (``seqinfo.ini`` then
    names it: ``imDir=NAME.mp4``); ``gt/gt.txt``; ``det/det.txt`` when ``detections`` (MotRows) are given;
    ``seqinfo.ini``. Every text file is written atomically.
    """
    from torchvision.io import encode_jpeg

    from vidlearn.tracking.formats import SeqInfo, write_mot, write_seqinfo

    folder = Path(root) / sequence.name
    frames = sequence.frames
    height, width = int(frames.shape[1]), int(frames.shape[2])
    if video:
        from vidlearn.video.writer import write_video

        folder.mkdir(parents=True, exist_ok=True)
        write_video(folder / f"{sequence.name}.mp4", frames, sequence.fps, crf=12)
        im_dir, im_ext = f"{sequence.name}.mp4", ""
    else:
        images = folder / "img1"
        images.mkdir(parents=True, exist_ok=True)
        encoded = encode_jpeg(list(frames.permute(0, 3, 1, 2).contiguous()), quality=95)
        for index, data in enumerate(encoded, start=1):
            (images / f"{index:06d}.jpg").write_bytes(data.numpy().tobytes())
        im_dir, im_ext = "img1", ".jpg"
    write_mot(folder / "gt" / "gt.txt", sequence.gt, kind="gt")
    if detections is not None:
        write_mot(folder / "det" / "det.txt", detections, kind="det")
    write_seqinfo(folder / "seqinfo.ini", SeqInfo(name=sequence.name, seq_length=len(frames),
                                                  frame_rate=float(sequence.fps), im_width=width, im_height=height,
                                                  im_dir=im_dir, im_ext=im_ext))
    return folder


def write_synthetic_mot(
    root: str | os.PathLike, *, num_sequences: int = 2, config: MotSceneConfig = MotSceneConfig(), seed: int = 0,
    detector: object | None = None, video: bool = False,
) -> list[Path]:
    """Write ``num_sequences`` sequences (seeds ``seed, seed + 1, ...``) under ``root``; their folders.

    ``detector`` is a :class:`~vidlearn.tracking.detectors.NoisyOracle` (default: its defaults, seeded by
    the sequence seed) whose detections go to ``det/det.txt``. A ``root`` written before with the same
    parameters is returned as is; one with other parameters is rewritten.
    """
    from vidlearn.tracking.detectors import NoisyOracle

    if num_sequences < 1:
        raise ValueError(f"num_sequences must be >= 1, got {num_sequences}")
    oracle = detector if detector is not None else NoisyOracle()
    root = Path(root)
    names = [f"SYN-{seed + i:04d}" for i in range(num_sequences)]
    params = {"format_version": _FORMAT_VERSION, "num_sequences": num_sequences, "config": asdict(config),
              "seed": seed, "detector": repr(oracle), "video": video}
    params = json.loads(json.dumps(params))  # tuples -> lists, as the marker reads back
    marker = root / MARKER
    if marker.is_file():
        try:
            previous = json.loads(marker.read_text())
        except (OSError, json.JSONDecodeError):
            previous = None
        if previous == params:
            return [root / name for name in names]
        marker.unlink()
        for name in names:
            shutil.rmtree(root / name, ignore_errors=True)
    folders = []
    for i, name in enumerate(names):
        sequence = render_mot_sequence(seed + i, config, name=name)
        detections = oracle.detect(sequence.gt, image_size=config.size, seed=seed + i)
        folders.append(write_mot_sequence(root, sequence, detections=detections, video=video))
    root.mkdir(parents=True, exist_ok=True)
    part = marker.with_name(marker.name + ".part")
    part.write_text(json.dumps(params, indent=1, sort_keys=True) + "\n")
    os.replace(part, marker)
    return folders
