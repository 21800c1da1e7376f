"""Synthetic MOT sequences seen by a moving camera: frames, ground-truth boxes and noisy scored detections.

A textured world (smooth blobs and sharp rectangles, so both ECC and ORB find the motion) holds pedestrians,
some standing, some walking; the camera pans with a drifting velocity and, now and then, jumps (a hand-held
shake). Each frame gives the camera's view (``uint8 (H, W, 3)``, pedestrians drawn as flat rectangles), the
ground truth in image coordinates, and detections: jittered ground truth, 5 % missed, 15 % with a low score
in ``[0.15, 0.5)`` (partly occluded people, what BYTE recovers), the rest scored in ``[0.6, 1)``, plus a few
low-scoring false positives; appearance features are a unit vector per person plus noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class CameraSequence:
    frames: list[np.ndarray]
    gt: list[tuple[np.ndarray, np.ndarray]]  # per frame (ids (G,), boxes (G, 4) xyxy)
    detections: list[tuple[np.ndarray, np.ndarray, np.ndarray]]  # per frame (boxes, scores, features)


def _world(height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    import cv2

    noise = rng.integers(0, 255, (height, width, 3)).astype(np.uint8)
    image = cv2.normalize(cv2.GaussianBlur(noise, (0, 0), 12), None, 0, 255, cv2.NORM_MINMAX)
    for _ in range(height * width // 2500):
        x, y = int(rng.integers(0, width - 40)), int(rng.integers(0, height - 40))
        w, h = int(rng.integers(8, 40)), int(rng.integers(8, 40))
        image[y:y + h, x:x + w] = rng.integers(0, 255, 3)
    return image


def camera_sequence(
    num_frames: int = 150, num_people: int = 14, jump_every: int = 25, jump: float = 40.0, seed: int = 0,
    height: int = 240, width: int = 320, feature_dim: int = 32,
) -> CameraSequence:
    """One sequence (see the module docstring); ``jump_every`` frames the camera jumps by up to ``jump`` px."""
    rng = np.random.default_rng(seed)
    world_h, world_w = height * 3, width * 4
    world = _world(world_h, world_w, rng)
    camera = np.array([world_w / 2 - width / 2, world_h / 2 - height / 2])
    pan = rng.uniform(-3, 3, size=2)
    size = rng.uniform([14, 34], [26, 60], size=(num_people, 2))
    position = camera + rng.uniform([0, 0], [width, height], size=(num_people, 2)) - size / 2
    velocity = rng.uniform(-1.5, 1.5, size=(num_people, 2)) * (rng.random((num_people, 1)) < 0.6)
    colours = rng.integers(0, 255, size=(num_people, 3))
    base = rng.normal(size=(num_people, feature_dim))
    base /= np.linalg.norm(base, axis=1, keepdims=True)
    frames, gt, detections = [], [], []
    for t in range(num_frames):
        pan = np.clip(pan + rng.normal(scale=0.3, size=2), -4, 4)
        camera = camera + pan
        if t and t % jump_every == 0:
            camera = camera + rng.uniform(-jump, jump, size=2)
        camera = np.clip(camera, [0, 0], [world_w - width, world_h - height])
        position = position + velocity
        corner = np.round(camera).astype(int)
        frame = world[corner[1]:corner[1] + height, corner[0]:corner[0] + width].copy()
        boxes = np.concatenate([position - corner, position - corner + size], axis=1)
        inside = (boxes[:, 0] > -size[:, 0] / 2) & (boxes[:, 2] < width + size[:, 0] / 2) & (
            boxes[:, 1] > -size[:, 1] / 2) & (boxes[:, 3] < height + size[:, 1] / 2)
        ids = np.flatnonzero(inside)
        for i in ids:
            x1, y1, x2, y2 = np.clip(np.round(boxes[i]).astype(int), 0, [width, height, width, height])
            frame[y1:y2, x1:x2] = colours[i]
        frames.append(frame)
        gt.append((ids + 1, boxes[ids]))
        seen = ids[rng.random(len(ids)) >= 0.05]
        noisy = boxes[seen] + rng.normal(scale=1.0, size=(len(seen), 4))
        low = rng.random(len(seen)) < 0.15
        scores = np.where(low, rng.uniform(0.15, 0.5, len(seen)), rng.uniform(0.6, 1.0, len(seen)))
        features = base[seen] + rng.normal(scale=0.1, size=(len(seen), feature_dim))
        num_fp = rng.poisson(0.5)
        fp_xy = rng.uniform([0, 0], [width - 20, height - 40], size=(num_fp, 2))
        fp = np.concatenate([fp_xy, fp_xy + np.array([20.0, 40.0])], axis=1)
        fp_features = rng.normal(size=(num_fp, feature_dim))
        detections.append((np.concatenate([noisy, fp]), np.concatenate([scores, rng.uniform(0.15, 0.45, num_fp)]),
                           np.concatenate([features, fp_features]).astype(np.float32)))
    return CameraSequence(frames, gt, detections)
