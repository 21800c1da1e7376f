"""Dense optical flow estimators: TV-L1, Farneback and DIS (OpenCV) and RAFT (torchvision).

Every estimator answers the same small interface: ``estimator(prev, next)`` takes two ``uint8``
RGB frames ``(H, W, 3)`` or two batches ``(N, H, W, 3)`` and returns ``float32 (2, H, W)`` or
``(N, 2, H, W)``: the displacement in pixels, x (right) then y (down), that carries a pixel of
``prev`` to its place in ``next``; :func:`compute_flow` runs one over a clip
``(T, H, W, 3) -> (T-1, 2, H, W)``.

Papers:
    - TV-L1: Zach, Pock & Bischof, "A duality based approach for realtime TV-L1 optical flow",
      DAGM 2007; Wedel et al., "An improved algorithm for TV-L1 optical flow", 2009. The flow of the
      two-stream network (Simonyan & Zisserman 2014 used Brox; later work and I3D use TV-L1).
    - Farneback: "Two-frame motion estimation based on polynomial expansion", SCIA 2003.
    - DIS: Kroeger et al., "Fast optical flow using dense inverse search", ECCV 2016.
    - RAFT: Teed & Deng, "RAFT: Recurrent all-pairs field transforms for optical flow", ECCV 2020.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
import torch.nn.functional as F

__all__ = [
    "FLOW_METHODS",
    "RAFT_WEIGHTS_URLS",
    "DISFlow",
    "FarnebackFlow",
    "FlowEstimator",
    "RAFTFlow",
    "TVL1Flow",
    "compute_flow",
    "create_flow_estimator",
]

FrameArray = np.ndarray | torch.Tensor

# torchvision's published RAFT weights (the "C_T_SKHT_V2" / "C_T_V2" entries of
# Raft_Large_Weights / Raft_Small_Weights). Named in error messages; vidlearn never fetches them.
RAFT_WEIGHTS_URLS = {
    "raft_large": "https://download.pytorch.org/models/raft_large_C_T_SKHT_V2-ff5fadd5.pth",
    "raft_small": "https://download.pytorch.org/models/raft_small_C_T_V2-01064c6d.pth",
}


def _as_uint8_numpy(frames: FrameArray, name: str) -> np.ndarray:
    """``frames`` as a C-contiguous ``uint8`` NumPy array; checks the dtype and the channel axis."""
    array = frames.detach().cpu().numpy() if isinstance(frames, torch.Tensor) else np.asarray(frames)
    if array.dtype != np.uint8:
        raise ValueError(f"{name}: expected uint8 RGB frames, got dtype {array.dtype}")
    if array.ndim not in (3, 4) or array.shape[-1] != 3:
        raise ValueError(f"{name}: expected shape (H, W, 3) or (N, H, W, 3), got {tuple(array.shape)}")
    return np.ascontiguousarray(array)


class FlowEstimator:
    """Common interface: ``estimator(prev, next) -> float32 tensor (2, H, W)`` or ``(N, 2, H, W)``.

    ``prev`` and ``next`` are ``uint8`` RGB, ``(H, W, 3)`` or ``(N, H, W, 3)``, tensors or arrays.
    Subclasses implement :meth:`estimate_batch` on NumPy batches ``(N, H, W, 3)``.
    """

    name = "base"

    def __call__(self, prev: FrameArray, next: FrameArray) -> torch.Tensor:
        prev_array = _as_uint8_numpy(prev, "prev")
        next_array = _as_uint8_numpy(next, "next")
        if prev_array.shape != next_array.shape:
            raise ValueError(f"prev {prev_array.shape} and next {next_array.shape} differ in shape")
        single = prev_array.ndim == 3
        if single:
            prev_array, next_array = prev_array[None], next_array[None]
        flow = self.estimate_batch(prev_array, next_array)
        return flow[0] if single else flow

    def estimate_batch(self, prev: np.ndarray, next: np.ndarray) -> torch.Tensor:
        """Flow of ``N`` pairs, ``uint8 (N, H, W, 3)`` each, as ``float32 (N, 2, H, W)``."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class _OpenCVFlow(FlowEstimator):
    """An OpenCV estimator on grayscale frames, one pair at a time (OpenCV threads inside a pair)."""

    def _pair(self, prev_gray: np.ndarray, next_gray: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def estimate_batch(self, prev: np.ndarray, next: np.ndarray) -> torch.Tensor:
        fields = []
        for prev_rgb, next_rgb in zip(prev, next):
            prev_gray = cv2.cvtColor(prev_rgb, cv2.COLOR_RGB2GRAY)
            next_gray = cv2.cvtColor(next_rgb, cv2.COLOR_RGB2GRAY)
            fields.append(self._pair(prev_gray, next_gray))  # (H, W, 2)
        stacked = np.stack(fields).astype(np.float32, copy=False)
        return torch.from_numpy(stacked).permute(0, 3, 1, 2).contiguous()


class TVL1Flow(_OpenCVFlow):
    """TV-L1 flow through ``cv2.optflow.DualTVL1OpticalFlow_create`` (opencv-contrib).

    The defaults are OpenCV's, which are the settings used by MMAction2's
    ``tools/misc/flow_extraction.py`` and by denseflow (that calls the CUDA TV-L1 with its defaults):
    ``tau=0.25, lambda_=0.15, theta=0.3, nscales=5, warps=5, epsilon=0.01, inner_iterations=30,
    outer_iterations=10, scale_step=0.8, gamma=0.0, median_filtering=5``; grayscale input.
    """

    name = "tvl1"

    def __init__(
        self,
        *,
        tau: float = 0.25,
        lambda_: float = 0.15,
        theta: float = 0.3,
        nscales: int = 5,
        warps: int = 5,
        epsilon: float = 0.01,
        inner_iterations: int = 30,
        outer_iterations: int = 10,
        scale_step: float = 0.8,
        gamma: float = 0.0,
        median_filtering: int = 5,
    ) -> None:
        if not hasattr(cv2, "optflow"):
            raise ImportError(
                "TV-L1 needs OpenCV's contrib modules: pip install opencv-contrib-python-headless"
            )
        self.options = dict(
            tau=tau, lambda_=lambda_, theta=theta, nscales=nscales, warps=warps, epsilon=epsilon,
            inner_iterations=inner_iterations, outer_iterations=outer_iterations, scale_step=scale_step,
            gamma=gamma, median_filtering=median_filtering,
        )  # fmt: skip
        self._solver = cv2.optflow.DualTVL1OpticalFlow_create(
            tau=tau, lambda_=lambda_, theta=theta, nscales=nscales, warps=warps, epsilon=epsilon,
            innnerIterations=inner_iterations,  # sic: OpenCV's keyword has three n's
            outerIterations=outer_iterations, scaleStep=scale_step, gamma=gamma,
            medianFiltering=median_filtering, useInitialFlow=False,
        )  # fmt: skip

    def _pair(self, prev_gray: np.ndarray, next_gray: np.ndarray) -> np.ndarray:
        return self._solver.calc(prev_gray, next_gray, None)

    def __repr__(self) -> str:
        return f"TVL1Flow({self.options})"


class FarnebackFlow(_OpenCVFlow):
    """Farneback polynomial-expansion flow through ``cv2.calcOpticalFlowFarneback``.

    Defaults are OpenCV's tutorial settings, common in action-recognition preprocessing:
    ``pyr_scale=0.5, levels=3, winsize=15, iterations=3, poly_n=5, poly_sigma=1.2, flags=0``.
    """

    name = "farneback"

    def __init__(
        self,
        *,
        pyr_scale: float = 0.5,
        levels: int = 3,
        winsize: int = 15,
        iterations: int = 3,
        poly_n: int = 5,
        poly_sigma: float = 1.2,
        flags: int = 0,
    ) -> None:
        self.options = dict(
            pyr_scale=pyr_scale, levels=levels, winsize=winsize, iterations=iterations,
            poly_n=poly_n, poly_sigma=poly_sigma, flags=flags,
        )  # fmt: skip

    def _pair(self, prev_gray: np.ndarray, next_gray: np.ndarray) -> np.ndarray:
        return cv2.calcOpticalFlowFarneback(prev_gray, next_gray, None, **self.options)

    def __repr__(self) -> str:
        return f"FarnebackFlow({self.options})"


_DIS_PRESETS = {
    "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
    "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
    "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
}


class DISFlow(_OpenCVFlow):
    """Dense Inverse Search flow through ``cv2.DISOpticalFlow_create``.

    ``preset="medium"`` by default (OpenCV's most accurate preset: patch 12, stride 8 (overlap
    reaches 2/3), 25 gradient-descent iterations, variational refinement on); ``"fast"`` and
    ``"ultrafast"`` trade accuracy for speed.
    """

    name = "dis"

    def __init__(self, *, preset: str = "medium") -> None:
        if preset not in _DIS_PRESETS:
            raise ValueError(f"DIS preset {preset!r} unknown; choose one of {', '.join(_DIS_PRESETS)}")
        self.preset = preset
        self._solver = cv2.DISOpticalFlow_create(_DIS_PRESETS[preset])

    def _pair(self, prev_gray: np.ndarray, next_gray: np.ndarray) -> np.ndarray:
        return self._solver.calc(prev_gray, next_gray, None)

    def __repr__(self) -> str:
        return f"DISFlow(preset={self.preset!r})"


_RAFT_MIN_SIZE = 128  # 8 (encoder stride) * 16 (smallest feature map the correlation pyramid takes)


def _raft_builders() -> dict[str, Callable[..., torch.nn.Module]]:
    from torchvision.models.optical_flow import raft_large, raft_small

    return {"raft_large": raft_large, "raft_small": raft_small}


class RAFTFlow(FlowEstimator):
    """RAFT through torchvision's ``raft_large`` / ``raft_small``, weights from a local file.

    Data flow: ``uint8 (N, H, W, 3) -> float (N, 3, H, W)`` in ``[-1, 1]`` (torchvision's
    ``OpticalFlow`` preset) ``-> replicate-pad to a multiple of 8, at least 128 -> RAFT (num_flow_updates
    refinements) -> last prediction (N, 2, H', W') -> crop to (N, 2, H, W)``, pairs in batches of
    ``batch_size`` under ``torch.no_grad``.

    ``weights_path``: a torchvision RAFT state dict (``.pth``/``.pt`` read with
    ``weights_only=True``, or ``.safetensors``), loaded strictly. Nothing is downloaded; without a
    file the constructor says where torchvision publishes the weights. ``random_weights=True``
    builds an untrained network (tests and speed benchmarks only: its flow is meaningless).
    """

    def __init__(
        self,
        *,
        model: str = "raft_large",
        weights_path: str | Path | None = None,
        random_weights: bool = False,
        device: str | torch.device = "cpu",
        num_flow_updates: int = 12,
        batch_size: int = 4,
    ) -> None:
        builders = _raft_builders()
        if model not in builders:
            raise ValueError(f"RAFT model {model!r} unknown; choose one of {', '.join(builders)}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.name = model
        self.device = torch.device(device)
        self.num_flow_updates = num_flow_updates
        self.batch_size = batch_size
        network = builders[model](weights=None, progress=False)
        if weights_path is not None:
            from vidlearn.models.weights import load_weights

            load_weights(network, weights_path)  # strict: names every missing or unexpected key
        elif not random_weights:
            from vidlearn.models.weights import CheckpointLoadError

            url = RAFT_WEIGHTS_URLS[model]
            raise CheckpointLoadError(
                f"{model} needs a weights file: pass weights_path= (CLI: --weights PATH). vidlearn downloads "
                f"nothing; torchvision publishes {url.rsplit('/', 1)[-1]} at {url}"
            )
        self.weights_path = None if weights_path is None else str(weights_path)
        self.network = network.eval().to(self.device)

    @staticmethod
    def _to_input(frames: np.ndarray, device: torch.device) -> torch.Tensor:
        tensor = torch.from_numpy(frames).to(device).permute(0, 3, 1, 2).float()
        return tensor / 127.5 - 1.0  # torchvision's OpticalFlow preset: [0, 1] then (x - 0.5) / 0.5

    @torch.no_grad()
    def estimate_batch(self, prev: np.ndarray, next: np.ndarray) -> torch.Tensor:
        height, width = prev.shape[1:3]
        # RAFT's feature encoders downsample by 8 and its 4-level correlation pyramid needs feature
        # maps of at least 16 (torchvision checks): pad like the reference InputPadder (replicate,
        # split between both sides, so that borders see image content) to a multiple of 8 and at
        # least 128, then crop back.
        pad_h = max(_RAFT_MIN_SIZE, height + (-height) % 8) - height
        pad_w = max(_RAFT_MIN_SIZE, width + (-width) % 8) - width
        padding = (pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2)
        outputs = []
        for start in range(0, len(prev), self.batch_size):
            stop = start + self.batch_size
            first = self._to_input(prev[start:stop], self.device)
            second = self._to_input(next[start:stop], self.device)
            if pad_h or pad_w:
                first = F.pad(first, padding, mode="replicate")
                second = F.pad(second, padding, mode="replicate")
            flow = self.network(first, second, num_flow_updates=self.num_flow_updates)[-1]
            flow = flow[..., padding[2] : padding[2] + height, padding[0] : padding[0] + width]
            outputs.append(flow.float().cpu())
        return torch.cat(outputs).contiguous()

    def __repr__(self) -> str:
        weights = "random" if self.weights_path is None else self.weights_path
        return f"RAFTFlow(model={self.name!r}, weights={weights!r}, device={str(self.device)!r})"


FLOW_METHODS: dict[str, Callable[..., FlowEstimator]] = {
    "tvl1": TVL1Flow,
    "farneback": FarnebackFlow,
    "dis": DISFlow,
    "raft": lambda **options: RAFTFlow(**{"model": "raft_large", **options}),
    "raft_large": lambda **options: RAFTFlow(model="raft_large", **options),
    "raft_small": lambda **options: RAFTFlow(model="raft_small", **options),
}


def create_flow_estimator(
    method: str, *, device: str | torch.device = "cpu", **options: Any
) -> FlowEstimator:
    """Build the estimator named ``method`` (``tvl1``, ``farneback``, ``dis``, ``raft``,
    ``raft_large``, ``raft_small``) with its keyword ``options``; ``device`` applies to RAFT only
    (the OpenCV methods run on the CPU)."""
    if method not in FLOW_METHODS:
        raise ValueError(f"unknown flow method {method!r}; choose one of {', '.join(FLOW_METHODS)}")
    if method.startswith("raft"):
        options["device"] = device
    elif torch.device(device).type != "cpu":
        raise ValueError(f"flow method {method!r} runs on the CPU only, got device={device!r}")
    try:
        return FLOW_METHODS[method](**options)
    except TypeError as error:  # an option the method does not take: say which method
        raise ValueError(f"flow method {method!r}: {error}") from error


def compute_flow(
    frames: FrameArray,
    method: str | FlowEstimator = "tvl1",
    *,
    device: str | torch.device = "cpu",
    **options: Any,
) -> torch.Tensor:
    """Dense optical flow between consecutive frames of a clip.

    ``frames``: ``uint8 (T, H, W, 3)`` RGB (tensor or array), ``T >= 2``. ``method``: a name for
    :func:`create_flow_estimator` (``options`` go to it) or an estimator already built. Returns
    ``float32 (T-1, 2, H, W)``: field ``t`` carries frame ``t`` to frame ``t+1``, in pixels, x then y.
    """
    array = _as_uint8_numpy(frames, "frames")
    if array.ndim != 4 or len(array) < 2:
        raise ValueError(f"frames: need uint8 (T, H, W, 3) with T >= 2, got shape {tuple(array.shape)}")
    if isinstance(method, FlowEstimator):
        if options:
            raise ValueError("options apply when method is a name, not an estimator already built")
        estimator = method
    else:
        estimator = create_flow_estimator(method, device=device, **options)
    return estimator.estimate_batch(array[:-1], array[1:])
