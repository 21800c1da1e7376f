"""Seeds and deterministic mode."""

from __future__ import annotations

import os
import random

import numpy as np
import torch

__all__ = ["configure_determinism", "seed_everything"]


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, NumPy and torch (CPU and every CUDA device).

    Call it before building the model so that its initial weights depend on ``seed`` alone.
    """
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def configure_determinism(enabled: bool) -> None:
    """Turn deterministic algorithms on (or back off) for bitwise-repeatable runs.

    Sets ``torch.use_deterministic_algorithms``, cuDNN's ``deterministic``/``benchmark`` flags and
    ``CUBLAS_WORKSPACE_CONFIG`` (cuBLAS needs it for deterministic matmuls on CUDA >= 10.2; it must
    be set before the first cuBLAS call, so this runs before the model touches the GPU). An
    operation without a deterministic implementation then raises instead of silently varying.
    Turning it off leaves ``cudnn.benchmark`` as it is.
    """
    if enabled:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(enabled)
    torch.backends.cudnn.deterministic = enabled
    if enabled:
        # benchmark picks the fastest kernel by timing, which may differ from run to run.
        torch.backends.cudnn.benchmark = False
