"""FNet trained alone on pairs with known motion, by the warping loss FRVSR trains it with (``L_flow``).

FRVSR (Sajjadi et al., CVPR 2018) learns FNet without flow labels: the previous LR frame warped by FNet's
flow must match the current one. Trained jointly from scratch, a small FNet can sit at "no motion" for
thousands of steps before its flow starts to follow the content (the warped previous estimate is then of
no use to SRNet, and FRVSR does no better than the per-frame SISR). :func:`pretrain_fnet` trains FNet first,
alone, on pairs whose motion is known, so the end-point error shows when it has learnt motion; the file it
writes initialises an FRVSR recipe's FNet (``model.fnet_weights``).

Pairs (:func:`known_motion_pairs`): a random smooth texture (bicubic upsampling of 8x8 noise to twice the
crop) and the same texture moved by a random sub-pixel motion, uniform in ``[-max_motion, max_motion]`` LR
pixels per axis (the move made by bilinear resampling, so the known flow is exact), both cut to their
``size x size`` centres. The end-point error is the mean distance between FNet's flow and the true one over
the pixels 4 or more from the border, on held-out pairs; predicting no motion scores about ``0.77 x
max_motion`` (the mean length of a vector uniform in the square; 1.451 px on the 64 held-out pairs of the
default motion).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from vidlearn.superres.models.fnet import FNet
from vidlearn.superres.models.warp import backward_warp

__all__ = ["known_motion_pairs", "pretrain_fnet"]

BORDER = 4


def known_motion_pairs(
    count: int, generator: torch.Generator, *, max_motion: float = 2.0, size: int = 32,
) -> tuple[Tensor, Tensor, Tensor]:
    """``previous, current (count, 3, size, size)`` in [0, 1] and the flow ``(count, 2)`` (x, y in LR pixels)
    that aligns ``previous`` to ``current`` by :func:`~vidlearn.superres.models.warp.backward_warp`."""
    full = 2 * size
    texture = F.interpolate(torch.rand(count, 3, 8, 8, generator=generator), size=(full, full), mode="bicubic",
                            align_corners=False)
    motion = (torch.rand(count, 2, generator=generator) * 2 - 1) * max_motion
    flow = motion[:, :, None, None].expand(count, 2, full, full).contiguous()
    current = backward_warp(texture, -flow)  # current[p] = texture[p - motion]: the content moved by +motion
    cut = slice(size // 2, size // 2 + size)
    return texture[..., cut, cut], current[..., cut, cut], -motion


def pretrain_fnet(
    out: str | Path | None = None, *, width: int = 32, max_flow: float = 24.0, steps: int = 3000, batch: int = 32,
    lr: float = 3e-4, max_motion: float = 2.0, seed: int = 0, eval_every: int = 250, device: str = "cpu",
    log: Callable[[str], None] | None = print,
) -> dict[str, Any]:
    """Train ``FNet(width=width, max_flow=max_flow)`` alone by ``L_flow`` (MSE of the warped previous frame
    against the current one, border cut) on :func:`known_motion_pairs`, with Adam.

    Writes the state dict to ``out`` (``.safetensors``, else ``torch.save``) when given. Returns
    ``{"end_point_error_px": {step: error}, "zero_flow_px": ..., "seconds": ..., "fnet": the module}``,
    the error measured on 64 held-out pairs every ``eval_every`` steps and at the end.
    """
    if steps < 0 or batch < 1 or eval_every < 1:
        raise ValueError(f"steps must be >= 0, batch and eval_every >= 1; got {steps}, {batch}, {eval_every}")
    device_ = torch.device(device)
    torch.manual_seed(seed)
    train_generator = torch.Generator().manual_seed(seed + 1)
    test_generator = torch.Generator().manual_seed(seed + 2)
    fnet = FNet(3, width=width, max_flow=max_flow).to(device_)
    optimiser = torch.optim.Adam(fnet.parameters(), lr=lr)
    test_previous, test_current, test_truth = (t.to(device_) for t in known_motion_pairs(
        64, test_generator, max_motion=max_motion))
    inner = (..., slice(BORDER, -BORDER), slice(BORDER, -BORDER))

    def end_point_error() -> float:
        with torch.no_grad():
            flow = fnet(test_previous, test_current)[inner]
        return float((flow - test_truth[:, :, None, None]).norm(dim=1).mean())

    zero_flow = float(test_truth.norm(dim=1).mean())
    history = {0: end_point_error()}
    if log:
        log(f"FNet width {width}, max_flow {max_flow}: end-point error {history[0]:.3f} px at the start "
            f"(predicting no motion: {zero_flow:.3f} px)")
    started = time.perf_counter()
    for step in range(1, steps + 1):
        previous, current, _ = (t.to(device_) for t in known_motion_pairs(batch, train_generator,
                                                                          max_motion=max_motion))
        loss = F.mse_loss(backward_warp(previous, fnet(previous, current))[inner], current[inner])
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        if step % eval_every == 0 or step == steps:
            history[step] = end_point_error()
            if log:
                log(f"step {step}: held-out end-point error {history[step]:.3f} px")
    if out is not None:
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().cpu().contiguous() for k, v in fnet.state_dict().items()}
        if out.suffix == ".safetensors":
            from safetensors.torch import save_file

            save_file(state, str(out))
        else:
            torch.save(state, out)
    return {"end_point_error_px": history, "zero_flow_px": zero_flow, "seconds": time.perf_counter() - started,
            "fnet": fnet.cpu()}
