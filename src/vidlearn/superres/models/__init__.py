"""Super-resolution networks: FRVSR (FNet + SRNet) and the paper's SISR and sliding-window baselines.

Importing this package registers every variant with the model registry (see
:mod:`vidlearn.superres.models.zoo`); ``MODEL_VARIANTS`` maps each name to its builder and keyword
arguments.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from vidlearn.superres.models.baselines import (
    SISR,
    SlidingWindowState,
    SlidingWindowVSR,
    sisr,
    sliding_window_vsr,
)
from vidlearn.superres.models.fnet import FNet
from vidlearn.superres.models.frvsr import (
    FRVSR,
    FRVSR_VARIANTS,
    FRVSROutput,
    FRVSRState,
    frvsr,
    frvsr_3_64,
    frvsr_10_64,
    frvsr_10_128,
)
from vidlearn.superres.models.srnet import SRNet
from vidlearn.superres.models.tecogan import TECOGAN_FRNET
from vidlearn.superres.models.warp import backward_warp, depth_to_space, space_to_depth, upsample_flow
from vidlearn.superres.models.zoo import PAPER

# name -> (builder, keyword arguments): the paper's FRVSR sizes and the same-size baselines.
MODEL_VARIANTS: dict[str, tuple[Callable[..., nn.Module], dict[str, int]]] = {
    **{name: (frvsr, size) for name, size in FRVSR_VARIANTS.items()},
    **{name.replace("frvsr", "sisr"): (sisr, size) for name, size in FRVSR_VARIANTS.items()},
    **{name.replace("frvsr", "vsr"): (sliding_window_vsr, size) for name, size in FRVSR_VARIANTS.items()},
}

__all__ = [
    "FRVSR",
    "FRVSR_VARIANTS",
    "MODEL_VARIANTS",
    "PAPER",
    "SISR",
    "TECOGAN_FRNET",
    "FNet",
    "FRVSROutput",
    "FRVSRState",
    "SRNet",
    "SlidingWindowState",
    "SlidingWindowVSR",
    "backward_warp",
    "depth_to_space",
    "frvsr",
    "frvsr_3_64",
    "frvsr_10_64",
    "frvsr_10_128",
    "sisr",
    "sliding_window_vsr",
    "space_to_depth",
    "upsample_flow",
]
