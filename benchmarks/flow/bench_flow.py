"""Optical flow methods at 320x240: speed (frame pairs per second) and accuracy (EPE) on synthetic motion.

For every method the same clip goes through ``vidlearn.video.flow.compute_flow`` and through the
peer library called directly (OpenCV on grayscale arrays; torchvision's RAFT on padded, normalised
tensors); the table prints both rates and their ratio (the wrapper's overhead). Accuracy is the
mean end-point error in the interior (24 px border cropped) on a smooth random texture moved by a
sub-pixel translation and by a 1.5-degree rotation, with the ground truth computed from the affine
map. RAFT runs with random weights unless ``--raft-weights-dir`` holds torchvision's files
(``raft_small_C_T_V2-01064c6d.pth``, ``raft_large_C_T_SKHT_V2-ff5fadd5.pth``): its speed is real,
its EPE is then meaningless and printed as ``-``.

    python benchmarks/flow/bench_flow.py [--pairs 8] [--raft-pairs 3] [--methods tvl1,farneback,...]
"""

from __future__ import annotations

import argparse
import itertools
import os
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F
import torchvision

from vidlearn.utils import machine_info
from vidlearn.video.flow import RAFTFlow, compute_flow, create_flow_estimator
from vidlearn.video.flow.methods import RAFT_WEIGHTS_URLS

HEIGHT, WIDTH, BORDER = 240, 320, 24
ALL_METHODS = ("tvl1", "farneback", "dis", "raft_small", "raft_large")


def texture(seed: int = 0) -> np.ndarray:
    noise = np.random.default_rng(seed).standard_normal((HEIGHT, WIDTH, 3)).astype(np.float32)
    blurred = cv2.GaussianBlur(noise, (0, 0), 3.0)
    return np.round((blurred - blurred.min()) / (blurred.max() - blurred.min()) * 255).astype(np.uint8)


def warp(image: np.ndarray, affine: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Frame 2 (``image`` moved by ``affine``) and the true flow ``(2, H, W)`` from frame 1 to 2."""
    moved = cv2.warpAffine(image, affine, (WIDTH, HEIGHT), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)
    ys, xs = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float64)
    flow = np.stack([
        affine[0, 0] * xs + affine[0, 1] * ys + affine[0, 2] - xs,
        affine[1, 0] * xs + affine[1, 1] * ys + affine[1, 2] - ys,
    ])
    return moved, flow.astype(np.float32)


def epe(estimate: torch.Tensor, truth: np.ndarray) -> float:
    error = (estimate.numpy() - truth)[:, BORDER:-BORDER, BORDER:-BORDER]
    return float(np.sqrt((error**2).sum(axis=0)).mean())


def clip(pairs: int) -> np.ndarray:
    """``pairs + 1`` frames panning 1.3 px right and 0.4 px down per frame."""
    first = texture()
    frames = [first]
    for index in range(1, pairs + 1):
        frames.append(warp(first, np.array([[1, 0, 1.3 * index], [0, 1, 0.4 * index]]))[0])
    return np.stack(frames)


def rates(first: Callable[[], object], second: Callable[[], object], pairs: int, repeats: int) -> tuple[float, float]:
    """Best-of-``repeats`` pairs per second of two functions, runs interleaved (first, second,
    first, ...) after one warm-up each, so that load from other processes hits both alike."""
    first()
    second()
    best = [float("inf"), float("inf")]
    for _ in range(repeats):
        for slot, function in enumerate((first, second)):
            start = time.perf_counter()
            function()
            best[slot] = min(best[slot], time.perf_counter() - start)
    return pairs / best[0], pairs / best[1]


def direct_opencv(method: str, frames: np.ndarray) -> Callable[[], object]:
    """OpenCV called the way a script would, on grayscale frames converted beforehand."""
    gray = [cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY) for frame in frames]
    if method == "tvl1":
        solver = cv2.optflow.DualTVL1OpticalFlow_create()
        pair = lambda a, b: solver.calc(a, b, None)  # noqa: E731
    elif method == "farneback":
        pair = lambda a, b: cv2.calcOpticalFlowFarneback(a, b, None, 0.5, 3, 15, 3, 5, 1.2, 0)  # noqa: E731
    elif method == "dis":
        solver = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
        pair = lambda a, b: solver.calc(a, b, None)  # noqa: E731
    else:
        raise ValueError(method)
    return lambda: [pair(a, b) for a, b in itertools.pairwise(gray)]


def direct_raft(estimator: RAFTFlow, frames: np.ndarray) -> Callable[[], object]:
    tensor = torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 127.5 - 1
    tensor = F.pad(tensor, (0, 0, 0, (-HEIGHT) % 8), mode="replicate")

    @torch.no_grad()
    def run() -> None:
        for start in range(0, len(tensor) - 1, estimator.batch_size):
            stop = min(start + estimator.batch_size, len(tensor) - 1)
            estimator.network(tensor[start:stop], tensor[start + 1 : stop + 1], num_flow_updates=12)

    return run


def machine() -> str:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"{machine_info()}\n"
        f"OpenCV threads {cv2.getNumThreads()}, load average {load:.1f}; torchvision {torchvision.__version__}, "
        f"OpenCV {cv2.__version__}, numpy {np.__version__}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=8, help="frame pairs timed for the OpenCV methods")
    parser.add_argument("--raft-pairs", type=int, default=2, help="frame pairs timed for RAFT")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of the OpenCV methods (best is kept)")
    parser.add_argument("--raft-repeats", type=int, default=2, help="timed runs of RAFT (best is kept)")
    parser.add_argument("--methods", default=",".join(ALL_METHODS))
    parser.add_argument("--raft-weights-dir", type=Path, default=None)
    args = parser.parse_args()

    base = texture()
    translated, translation_truth = warp(base, np.array([[1.0, 0.0, 1.7], [0.0, 1.0, -0.6]]))
    rotated, rotation_truth = warp(base, cv2.getRotationMatrix2D((WIDTH / 2 - 10.5, HEIGHT / 2 + 5.5), 1.5, 1.0))

    print(machine())
    print(f"input {WIDTH}x{HEIGHT} RGB uint8, CPU, float32 (no AMP, no compile); pairs/s best of {args.repeats} (RAFT {args.raft_repeats}) after a warm-up\n")
    header = f"| {'method':<28} | {'vidlearn pairs/s':>16} | {'direct pairs/s':>14} | {'ratio':>5} | {'EPE shift':>9} | {'EPE rotate':>10} |"
    print(header)
    print("|" + "|".join("-" * (len(cell)) for cell in header.split("|")[1:-1]) + "|")
    for method in args.methods.split(","):
        if method.startswith("raft"):
            weights = None
            if args.raft_weights_dir is not None:
                weights = args.raft_weights_dir / RAFT_WEIGHTS_URLS[method].rsplit("/", 1)[-1]
            torch.manual_seed(0)
            estimator = RAFTFlow(model=method, weights_path=weights, random_weights=weights is None, batch_size=2)
            pairs = args.raft_pairs
            frames = clip(pairs)
            direct = direct_raft(estimator, frames)
            label = f"{method} ({'random weights' if weights is None else 'published weights'})"
        else:
            estimator = create_flow_estimator(method)
            pairs = args.pairs
            frames = clip(pairs)
            direct = direct_opencv(method, frames)
            label = method if method != "dis" else f"dis (preset {estimator.preset})"
        repeats = args.raft_repeats if method.startswith("raft") else args.repeats
        ours, peer = rates(lambda estimator=estimator, frames=frames: compute_flow(frames, estimator), direct,
                           pairs, repeats)  # fmt: skip
        if method.startswith("raft") and estimator.weights_path is None:
            shift = rotate = "-"
        else:
            shift = f"{epe(compute_flow(np.stack([base, translated]), estimator)[0], translation_truth):.3f}"
            rotate = f"{epe(compute_flow(np.stack([base, rotated]), estimator)[0], rotation_truth):.3f}"
        print(f"| {label:<28} | {ours:>16.2f} | {peer:>14.2f} | {ours / peer:>5.2f} | {shift:>9} | {rotate:>10} |",
              flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
