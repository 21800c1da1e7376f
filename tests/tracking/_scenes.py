"""Small synthetic multi-object scenes for tracker tests: linear motion, misses, crossings, id features."""

from __future__ import annotations

import numpy as np


def linear_scene(
    num_objects: int = 12, num_frames: int = 60, miss_rate: float = 0.1, feature_dim: int = 16, seed: int = 0
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """Per frame ``(boxes (N, 4) xyxy, scores (N,), features (N, D) float32, true ids (N,))``.

    Objects move at constant velocity with 1-px box jitter; each detection is missed with ``miss_rate``.
    Features are a fixed unit vector per object plus small noise (float32, as re-ID networks give them).
    """
    rng = np.random.default_rng(seed)
    start = rng.uniform([0, 0], [600, 300], size=(num_objects, 2))
    velocity = rng.uniform(-4, 4, size=(num_objects, 2))
    size = rng.uniform([20, 50], [40, 100], size=(num_objects, 2))
    base = rng.normal(size=(num_objects, feature_dim))
    base /= np.linalg.norm(base, axis=1, keepdims=True)
    frames = []
    for t in range(num_frames):
        seen = rng.random(num_objects) >= miss_rate
        ids = np.flatnonzero(seen)
        top_left = start[ids] + t * velocity[ids] + rng.normal(scale=1.0, size=(len(ids), 2))
        boxes = np.concatenate([top_left, top_left + size[ids]], axis=1)
        scores = rng.uniform(0.5, 1.0, size=len(ids))
        features = (base[ids] + rng.normal(scale=0.05, size=(len(ids), feature_dim))).astype(np.float32)
        order = rng.permutation(len(ids))
        frames.append((boxes[order], scores[order], features[order], ids[order]))
    return frames
