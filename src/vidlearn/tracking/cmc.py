"""Camera-motion compensation (CMC): the image motion between consecutive frames as a 2x3 similarity.

A moving camera moves every box in the image, and a constant-velocity Kalman filter then predicts each track
where the object would be had the camera stood still. Estimating the global motion between the previous and
the current frame and warping the tracks' predicted states by it (Aharon et al., "BoT-SORT: Robust
Associations Multi-Pedestrian Tracking", 2022, section 3.2, after ``GMC`` of its code) keeps static and slowly
moving objects on their detections. The warp maps a point of the previous frame to the current one:
``p' = A p + t`` with ``A = s R`` (rotation and uniform scale) and ``t`` the translation; it is estimated by

* ``"ecc"``: OpenCV's enhanced correlation coefficient maximisation (``cv2.findTransformECC``, Euclidean
  motion: rotation and translation) on grey images shrunk by ``downscale``, coarse to fine over a 3-level
  pyramid;
* ``"orb"``: ORB features matched between the frames (Hamming distance, cross-checked) and a RANSAC fit of a
  partial affine transform (``cv2.estimateAffinePartial2D``: rotation, uniform scale, translation).

Both fall back to the identity (and count it in :attr:`CameraMotionEstimator.failures`) when the frames give
no usable estimate (a flat image, too few matches), so a bad frame costs compensation, not the run.
"""

from __future__ import annotations

import numpy as np

__all__ = ["CMC_METHODS", "CameraMotionEstimator", "check_warp", "make_cmc", "resolve_warp", "similarity_scale"]

#: The estimators :class:`CameraMotionEstimator` knows.
CMC_METHODS = ("ecc", "orb")


def check_warp(warp: np.ndarray) -> np.ndarray:
    """``warp`` as ``float64 (2, 3)`` ``[A | t]``; raise ``ValueError`` unless finite with ``A`` a similarity."""
    warp = np.asarray(warp, dtype=np.float64)
    if warp.shape != (2, 3):
        raise ValueError(f"camera_motion must be a (2, 3) matrix [A | t], got shape {warp.shape}")
    if not np.isfinite(warp).all():
        raise ValueError(f"camera_motion is not finite: {warp.tolist()}")
    a = warp[:, :2]
    if not (np.isclose(a[0, 0], a[1, 1], atol=1e-6) and np.isclose(a[0, 1], -a[1, 0], atol=1e-6)) or not (
            np.linalg.det(a) > 0):
        raise ValueError(f"camera_motion must be a similarity (rotation, uniform scale > 0, translation), got "
                         f"{warp.tolist()}")
    return warp


def similarity_scale(warp: np.ndarray) -> float:
    """The uniform scale ``s`` of a similarity warp ``[s R | t]``."""
    return float(np.sqrt(np.linalg.det(warp[:, :2])))


def _grey(image: np.ndarray, downscale: int) -> np.ndarray:
    import cv2

    image = np.asarray(image)
    if image.ndim == 3 and image.shape[2] == 3:
        image = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2GRAY)
    elif image.ndim != 2:
        raise ValueError(f"image must be (H, W, 3) RGB or (H, W) grey, got shape {image.shape}")
    if image.dtype != np.uint8:
        raise ValueError(f"image must be uint8, got {image.dtype}")
    if downscale > 1:
        image = cv2.resize(image, (image.shape[1] // downscale, image.shape[0] // downscale),
                           interpolation=cv2.INTER_AREA)
    return image


class CameraMotionEstimator:
    """Estimate the camera motion from each frame to the next.

    Args:
        method: ``"ecc"`` or ``"orb"`` (see the module docstring).
        downscale: images are shrunk by this integer factor before estimating (speed); the translation is
            scaled back.
        ecc_iterations: the ECC solver's iteration limit.
    """

    def __init__(self, method: str = "ecc", downscale: int = 2, ecc_iterations: int = 100) -> None:
        if method not in CMC_METHODS:
            raise ValueError(f"cmc method must be one of {', '.join(CMC_METHODS)}, got {method!r}")
        if isinstance(downscale, bool) or not isinstance(downscale, (int, np.integer)) or downscale < 1:
            raise ValueError(f"cmc_downscale must be an integer >= 1, got {downscale!r}")
        if isinstance(ecc_iterations, bool) or not isinstance(ecc_iterations, (int, np.integer)) or ecc_iterations < 1:
            raise ValueError(f"ecc_iterations must be an integer >= 1, got {ecc_iterations!r}")
        self.method, self.downscale, self.ecc_iterations = method, int(downscale), int(ecc_iterations)
        self.reset()

    def reset(self) -> None:
        """Forget the previous frame."""
        self._previous: np.ndarray | None = None
        self.failures = 0

    def __call__(self, image: np.ndarray) -> np.ndarray:
        """The ``(2, 3)`` warp from the previous image to ``image`` (the identity for the first image)."""
        grey = _grey(image, self.downscale)
        previous, self._previous = self._previous, grey
        warp = np.eye(2, 3)
        if previous is None:
            return warp
        if previous.shape != grey.shape:
            raise ValueError(f"image size changed from {previous.shape} to {grey.shape} (grey, downscaled)")
        estimate = self._ecc(previous, grey) if self.method == "ecc" else self._orb(previous, grey)
        if estimate is None:
            self.failures += 1
            return warp
        estimate[:, 2] *= self.downscale
        return estimate

    def _ecc(self, previous: np.ndarray, current: np.ndarray) -> np.ndarray | None:
        import cv2

        # Coarse to fine: a pyramid of up to 3 levels, each halving the image, so that motions of tens of
        # pixels are within the reach of ECC's local search; the translation doubles from level to level.
        levels = [(previous, current)]
        while len(levels) < 3 and min(levels[-1][0].shape) >= 64:
            levels.append((cv2.pyrDown(levels[-1][0]), cv2.pyrDown(levels[-1][1])))
        warp = np.eye(2, 3, dtype=np.float32)
        criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, self.ecc_iterations, 1e-5)
        for level, (template, image) in enumerate(reversed(levels)):
            if level:
                warp[:, 2] *= 2.0
            try:
                _, warp = cv2.findTransformECC(template, image, warp, cv2.MOTION_EUCLIDEAN, criteria, None, 5)
            except cv2.error:  # no convergence or a flat image: no estimate for this frame
                return None
        return warp.astype(np.float64)

    def _orb(self, previous: np.ndarray, current: np.ndarray) -> np.ndarray | None:
        import cv2

        orb = cv2.ORB_create(nfeatures=1000)
        keys_a, desc_a = orb.detectAndCompute(previous, None)
        keys_b, desc_b = orb.detectAndCompute(current, None)
        if desc_a is None or desc_b is None or len(keys_a) < 4 or len(keys_b) < 4:
            return None
        matches = cv2.BFMatcher(cv2.NORM_HAMMING, crossCheck=True).match(desc_a, desc_b)
        if len(matches) < 4:
            return None
        points_a = np.float32([keys_a[m.queryIdx].pt for m in matches])
        points_b = np.float32([keys_b[m.trainIdx].pt for m in matches])
        warp, _ = cv2.estimateAffinePartial2D(points_a, points_b, method=cv2.RANSAC, ransacReprojThreshold=3.0)
        return None if warp is None else warp.astype(np.float64)


def make_cmc(cmc: str | None, downscale: int) -> CameraMotionEstimator | None:
    """A tracker's estimator for its ``cmc`` option (``None``: no compensation unless a warp is passed)."""
    if cmc is None:
        return None
    if cmc not in CMC_METHODS:
        raise ValueError(f"cmc must be None or one of {', '.join(CMC_METHODS)}, got {cmc!r}")
    return CameraMotionEstimator(cmc, downscale)


def resolve_warp(
    estimator: CameraMotionEstimator | None, image: np.ndarray | None, camera_motion: np.ndarray | None
) -> np.ndarray | None:
    """The warp a tracker's ``update`` applies: the caller's ``camera_motion``, the estimator's estimate on
    ``image``, or ``None`` (no motion: nothing to apply)."""
    if camera_motion is not None:
        if estimator is not None:
            raise ValueError("pass camera_motion or build the tracker with cmc, not both")
        return check_warp(camera_motion)
    if estimator is None:
        return None
    if image is None:
        raise ValueError(f"cmc={estimator.method!r} needs the frame: update(..., image=FRAME) on every call")
    warp = estimator(image)
    return None if np.array_equal(warp, np.eye(2, 3)) else warp
