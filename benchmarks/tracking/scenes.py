"""Inputs of the tracking benchmarks: MOT15 public detections and a synthetic crowd of N boxes per frame.

Both give per frame ``(boxes (N, 4) xyxy, scores (N,), features (N, D) float32)``, the same arrays for the
peer and for vidlearn.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from vidlearn.tracking.boxes import xywh_to_xyxy
from vidlearn.tracking.formats import read_mot

Frame = tuple[np.ndarray, np.ndarray, np.ndarray]


def shared_data_root() -> Path:
    """``VIDLEARN_SHARED_DATA`` or the ``shared/data`` folder next to the repository."""
    env = os.environ.get("VIDLEARN_SHARED_DATA")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2].parent / "shared" / "data"


def mot15_sequences(root: Path | None = None) -> dict[str, list[Frame]]:
    """The 11 MOT15 train sequences' public detections, converted as abewley/sort converts them (x + w)."""
    root = (root or shared_data_root()) / "tracking" / "mot" / "MOT15" / "train"
    sequences = {}
    for folder in sorted(root.iterdir()):
        det = read_mot(folder / "det" / "det.txt", "det")
        rows, offsets = det.frame_bounds(det.num_frames)
        boxes = xywh_to_xyxy(rows.boxes)
        frames = []
        for f in range(det.num_frames):
            b = boxes[offsets[f]:offsets[f + 1]]
            frames.append((b, rows.scores[offsets[f]:offsets[f + 1]].copy(), np.zeros((len(b), 0), np.float32)))
        sequences[folder.name] = frames
    if not sequences:
        raise FileNotFoundError(f"no MOT15 sequences under {root}")
    return sequences


def crowd(num_boxes: int = 30, num_frames: int = 500, feature_dim: int = 128, seed: int = 0) -> list[Frame]:
    """``num_boxes`` pedestrians per frame walking at constant velocity in a 1920x1080 image.

    Each detection has 2-px jitter and is missed 10 % of the time; an object leaving the image is replaced
    by a new one (new appearance), so the number of boxes per frame stays about ``num_boxes``. Features are
    a unit vector per object plus noise (float32, a re-ID network's output).
    """
    rng = np.random.default_rng(seed)
    width, height = 1920.0, 1080.0

    def spawn(count: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        size = rng.uniform([30, 80], [80, 220], size=(count, 2))
        position = rng.uniform([0, 0], [width - 80, height - 220], size=(count, 2))
        velocity = rng.uniform(-6, 6, size=(count, 2))
        base = rng.normal(size=(count, feature_dim))
        return position, velocity, size, base / np.linalg.norm(base, axis=1, keepdims=True)

    position, velocity, size, base = spawn(num_boxes)
    frames = []
    for _ in range(num_frames):
        position = position + velocity
        gone = (position[:, 0] < -size[:, 0]) | (position[:, 0] > width) | (position[:, 1] < -size[:, 1]) | (
            position[:, 1] > height)
        if gone.any():
            new = spawn(int(gone.sum()))
            for array, fresh in zip((position, velocity, size, base), new):
                array[gone] = fresh
        seen = np.flatnonzero(rng.random(num_boxes) >= 0.1)
        top_left = position[seen] + rng.normal(scale=2.0, size=(len(seen), 2))
        boxes = np.concatenate([top_left, top_left + size[seen]], axis=1)
        scores = rng.uniform(0.3, 1.0, size=len(seen))
        features = (base[seen] + rng.normal(scale=0.1, size=(len(seen), feature_dim))).astype(np.float32)
        frames.append((boxes, scores, features))
    return frames
