"""The super-resolution wing: FRVSR (Sajjadi et al., CVPR 2018) and its baselines, the BD and BI
degradations, FRVSR's losses, and quality metrics under named protocols.

Sequences are ``float (B, T, C, H, W)`` RGB in [0, 1]; a video SR model maps LR ``(B, T, C, h, w)`` to HR
``(B, T, C, s*h, s*w)`` and also runs one frame at a time with an explicit state.
"""

from vidlearn.superres.degrade import DEGRADATIONS, Degradation, bd_degrade, bi_degrade
from vidlearn.superres.losses import flow_loss, frvsr_loss, sr_loss
from vidlearn.superres.metrics import PROTOCOLS, MetricProtocol, evaluate_sequence, psnr, ssim, tof

__all__ = [
    "DEGRADATIONS",
    "PROTOCOLS",
    "Degradation",
    "MetricProtocol",
    "bd_degrade",
    "bi_degrade",
    "evaluate_sequence",
    "flow_loss",
    "frvsr_loss",
    "psnr",
    "sr_loss",
    "ssim",
    "tof",
]
