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

Known motion teaches FNet what a shift looks like, not what real frames do: on real clips such an FNet (and
one trained jointly from scratch) returns flows that align the previous frame *worse* than no motion at
all, and SRNet learns to ignore the warped estimate (``benchmarks/superres/recurrence_check.py`` measures both).
:func:`distill_fnet` fine-tunes FNet on consecutive LR frames of the training sources with a classical flow
as teacher (OpenCV's DIS, :func:`teacher_flow`): the loss is the L1 distance to the teacher's flow plus
``flow_weight`` times FRVSR's own ``L_flow``. Its held-out measure is the warping error (MSE of the warped
previous frame against the current one) on pairs of held-out synthetic scenes, printed next to the error of
no motion and of the teacher. The teacher is a training aid only: FRVSR still runs FNet alone.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from vidlearn.superres.degrade import Degradation
from vidlearn.superres.models.fnet import FNet
from vidlearn.superres.models.warp import backward_warp

__all__ = ["distill_fnet", "known_motion_pairs", "pretrain_fnet", "teacher_flow"]

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
        _save(fnet, Path(out))
    return {"end_point_error_px": history, "zero_flow_px": zero_flow, "seconds": time.perf_counter() - started,
            "fnet": fnet.cpu()}


def _save(fnet: FNet, out: Path) -> None:
    """FNet's state dict to ``out``: safetensors for ``.safetensors``, else ``torch.save``."""
    out.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in fnet.state_dict().items()}
    if out.suffix == ".safetensors":
        from safetensors.torch import save_file

        save_file(state, str(out))
    else:
        torch.save(state, out)


def teacher_flow(previous: Tensor, current: Tensor) -> Tensor:
    """OpenCV's DIS optical flow (preset "medium", 8x8 patches, stride 4) on the BT.601 luma of each pair.

    ``previous, current (B, 3, h, w)`` in [0, 1] -> ``(B, 2, h, w)`` (x, y in pixels) such that
    ``backward_warp(previous, flow)`` approximates ``current``, FNet's convention.
    """
    import cv2

    def luma(frames: Tensor) -> Any:
        y = 0.299 * frames[:, 0] + 0.587 * frames[:, 1] + 0.114 * frames[:, 2]
        return y.detach().float().cpu().clamp(0, 1).mul(255).round().to(torch.uint8).numpy()

    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    dis.setPatchSize(8)
    dis.setPatchStride(4)
    before, after = luma(previous), luma(current)
    # DIS(I0, I1) gives f with I0(p) ~ I1(p + f(p)): with I0 the current frame, f samples the previous one.
    flows = [torch.from_numpy(dis.calc(after[i], before[i], None)) for i in range(len(before))]
    return torch.stack(flows).permute(0, 3, 1, 2).to(previous.device, previous.dtype)


def distill_fnet(
    out: str | Path | None, *, sources: Sequence[str], width: int = 32, max_flow: float = 24.0,
    init: str | Path | None = None, steps: int = 600, batch: int = 8, lr: float = 3e-4, crop_size: int = 128,
    degradation: Degradation | None = None, flow_weight: float = 10.0, seed: int = 0, eval_every: int = 100,
    test_scenes: int = 3, log: Callable[[str], None] | None = print,
) -> dict[str, Any]:
    """Train FNet on consecutive LR frames of ``sources`` towards :func:`teacher_flow` (see the module docstring).

    ``sources``: ``synthetic`` or video files / frame folders, as a recipe's ``data.train_sources``; pairs are
    random ``crop_size`` HR crops degraded by ``degradation`` (default BD x4, sigma 1.5). ``init``: an FNet
    state dict to start from (e.g. :func:`pretrain_fnet`'s), loaded strictly. Loss: mean L1 distance to the
    teacher's flow (clamped to ``max_flow``) plus ``flow_weight * L_flow``; Adam. Writes FNet's state dict to
    ``out`` when given. Returns ``{"warp_error": {step: error}, "teacher_distance_px": {step: px},
    "zero_flow_error": .., "teacher_error": .., "seconds": .., "fnet": the module}``: the mean squared error of
    the warped previous frame against the current one, and the mean end-point distance between FNet's flow and
    the teacher's, over the 7 pairs of each of ``test_scenes`` held-out synthetic scenes (128x128 HR).
    """
    from vidlearn.superres.data import SRClipDataset, clip_sources
    from vidlearn.superres.evaluation import synthetic_sequence

    if steps < 0 or batch < 1 or eval_every < 1 or test_scenes < 1:
        raise ValueError(f"steps must be >= 0, batch, eval_every and test_scenes >= 1; got {steps}, {batch}, "
                         f"{eval_every}, {test_scenes}")
    if not sources:
        raise ValueError("distill_fnet needs at least one source (synthetic, a video file or a frame folder)")
    degradation = degradation or Degradation(kind="bd", scale=4, sigma=1.5)
    pairs = SRClipDataset(clip_sources(sources), degradation=degradation, clip_len=2, crop_size=crop_size,
                          samples=max(1, steps * batch), seed=seed)
    torch.manual_seed(seed)
    fnet = FNet(3, width=width, max_flow=max_flow)
    if init is not None:
        from vidlearn.models import load_weights

        load_weights(fnet, init, layout="vidlearn")
    optimiser = torch.optim.Adam(fnet.parameters(), lr=lr)
    scenes = [synthetic_sequence(i, degradation, num_frames=8, size=(128, 128)).lr for i in range(test_scenes)]
    test_previous = torch.cat([lr[:-1] for lr in scenes])
    test_current = torch.cat([lr[1:] for lr in scenes])

    def warp_error(flow: Tensor | None) -> float:
        warped = test_previous if flow is None else backward_warp(test_previous, flow)
        return float(F.mse_loss(warped, test_current))

    test_teacher = teacher_flow(test_previous, test_current)
    zero, teacher = warp_error(None), warp_error(test_teacher)

    def held_out() -> tuple[float, float]:
        fnet.eval()
        with torch.no_grad():
            flow = fnet(test_previous, test_current)
        fnet.train()
        distance = (flow - test_teacher.clamp(-max_flow, max_flow)).norm(dim=1).mean()
        return warp_error(flow), float(distance)

    history, distances = {}, {}
    history[0], distances[0] = held_out()
    if log:
        log(f"FNet width {width}, max_flow {max_flow}: held-out warping error {history[0]:.5f} at the start "
            f"(no motion {zero:.5f}, the DIS teacher {teacher:.5f}), {distances[0]:.3f} px from the teacher")
    started = time.perf_counter()
    for step in range(1, steps + 1):
        items = [pairs[(step - 1) * batch + k] for k in range(batch)]
        lr_pairs = torch.stack([item["lr"] for item in items])
        previous, current = lr_pairs[:, 0], lr_pairs[:, 1]
        target = teacher_flow(previous, current).clamp(-max_flow, max_flow)
        flow = fnet(previous, current)
        loss = (flow - target).abs().mean() + flow_weight * F.mse_loss(backward_warp(previous, flow), current)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        if step % eval_every == 0 or step == steps:
            history[step], distances[step] = held_out()
            if log:
                log(f"step {step}: held-out warping error {history[step]:.5f}, {distances[step]:.3f} px from the "
                    f"teacher")
    if out is not None:
        _save(fnet, Path(out))
    return {"warp_error": history, "teacher_distance_px": distances, "zero_flow_error": zero, "teacher_error": teacher,
            "seconds": time.perf_counter() - started, "fnet": fnet}
