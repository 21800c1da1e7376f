"""FRVSR's training losses (Sajjadi, Vemulapalli & Brown, CVPR 2018, Sec. 3.2).

``L_sr``: mean squared error between every HR estimate of the unrolled clip and its ground truth.
``L_flow``: mean squared error between each current LR frame and the previous LR frame warped to it
by FNet's LR flow; it trains FNet directly, since ``L_sr`` alone reaches FNet only through the warped
HR estimate. The paper adds the two with equal weight.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from vidlearn.superres.models.frvsr import FRVSROutput

__all__ = ["flow_loss", "frvsr_loss", "sr_loss"]


def sr_loss(hr_estimate: Tensor, hr_true: Tensor) -> Tensor:
    """``L_sr``: MSE over every frame, ``(B, T, C, H, W)`` twice -> scalar."""
    if hr_estimate.shape != hr_true.shape:
        raise ValueError(f"sr_loss: estimate {tuple(hr_estimate.shape)} and ground truth "
                         f"{tuple(hr_true.shape)} differ in shape")
    return F.mse_loss(hr_estimate, hr_true)


def flow_loss(lr_warped: Tensor, lr_target: Tensor) -> Tensor:
    """``L_flow``: MSE between warped previous LR frames and the current ones (same shapes) -> scalar.

    A one-frame clip has no pair; the loss is then 0 (kept in the graph so a caller can always add it).
    """
    if lr_warped.shape != lr_target.shape:
        raise ValueError(f"flow_loss: warped {tuple(lr_warped.shape)} and target {tuple(lr_target.shape)} "
                         f"differ in shape")
    if lr_warped.numel() == 0:
        return lr_warped.sum()
    return F.mse_loss(lr_warped, lr_target)


def frvsr_loss(output: FRVSROutput, hr_true: Tensor, *, flow_weight: float = 1.0) -> tuple[Tensor, dict[str, float]]:
    """``L_sr + flow_weight * L_flow`` for an unrolled clip and the parts as floats for logging."""
    loss_sr = sr_loss(output.hr, hr_true)
    loss_flow = flow_loss(output.lr_warped, output.lr_target)
    total = loss_sr + flow_weight * loss_flow
    return total, {"loss_sr": float(loss_sr.detach()), "loss_flow": float(loss_flow.detach())}
