"""A textured world seen through a moving camera, for camera-motion compensation tests."""

from __future__ import annotations

import numpy as np


def world_texture(height: int = 600, width: int = 900, seed: int = 0) -> np.ndarray:
    """``uint8 (H, W, 3)``: smooth blobs (for ECC) with sharp rectangles on them (corners for ORB)."""
    import cv2

    rng = np.random.default_rng(seed)
    noise = rng.integers(0, 255, (height, width, 3)).astype(np.uint8)
    image = cv2.normalize(cv2.GaussianBlur(noise, (0, 0), 12), None, 0, 255, cv2.NORM_MINMAX)
    for _ in range(120):
        x, y = int(rng.integers(0, width - 40)), int(rng.integers(0, height - 40))
        w, h = int(rng.integers(8, 40)), int(rng.integers(8, 40))
        image[y:y + h, x:x + w] = rng.integers(0, 255, 3)
    return image


def view(world: np.ndarray, x: int, y: int, height: int = 240, width: int = 320) -> np.ndarray:
    """The camera's frame with its top-left corner at world ``(x, y)``."""
    return np.ascontiguousarray(world[y:y + height, x:x + width])
