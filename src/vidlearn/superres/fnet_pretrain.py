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
``flow_weight`` times FRVSR's own ``L_flow``. The frames are decoded and degraded once and the teacher runs once
on whole LR frames (:func:`teacher_pairs`), so a step costs FNet's forward and backward pass alone. Started from
a known-motion FNet it learns in a few thousand steps to align held-out real clips better than no motion; a
fresh FNet does not leave "no motion" in that time. Its held-out measure is the warping error (MSE of the
warped previous frame against the current one) on held-out sequences, printed next to the error of no motion
and of the teacher. The teacher is a training aid only: FRVSR still runs FNet alone.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from vidlearn.superres.degrade import Degradation, crop_to_multiple
from vidlearn.superres.models.fnet import FNet
from vidlearn.superres.models.warp import backward_warp

__all__ = ["distill_fnet", "known_motion_pairs", "pretrain_fnet", "teacher_flow", "teacher_pairs"]

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

    if previous.shape != current.shape or previous.dim() != 4:
        raise ValueError(f"teacher_flow expects two (B, 3, h, w) batches of one shape, got {tuple(previous.shape)} "
                         f"and {tuple(current.shape)}")

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


def teacher_pairs(
    sources: Sequence[str], degradation: Degradation, *, crop_size: int = 192, max_frames: int | None = 300,
    synthetic_scenes: int = 60, synthetic_frames: int = 10, seed: int = 0,
) -> list[list[tuple[Tensor, Tensor]]]:
    """Consecutive LR frames of ``sources`` with :func:`teacher_flow` between them, decoded once.

    ``sources``: ``synthetic`` or video files / frame folders (a folder of sequences gives each). Per source a
    list of ``(lr (T, 3, h, w), flow (T - 1, 2, h, w))``: a file's first ``max_frames`` frames (all with
    ``None``), cut to a multiple of the scale and degraded whole, the teacher run on the whole LR frames (more
    context than a crop gives it); ``synthetic`` is ``synthetic_scenes`` random scenes of ``synthetic_frames``
    frames rendered at ``crop_size`` HR pixels. A file whose LR frames are smaller than the LR crop
    (``crop_size / scale``) raises a ``ValueError`` naming it.
    """
    import numpy as np

    from vidlearn.superres.data import FileSource, clip_sources, to_float_frames

    scale, crop = degradation.scale, crop_size // degradation.scale
    rng = np.random.default_rng(seed)

    def with_flow(lr: Tensor) -> tuple[Tensor, Tensor]:
        last = len(lr) - 1
        flows = [teacher_flow(lr[i:min(i + 32, last)], lr[i + 1:min(i + 33, last + 1)]) for i in range(0, last, 32)]
        return lr, torch.cat(flows)

    result = []
    for source in clip_sources(sources):
        if not isinstance(source, FileSource):
            result.append([with_flow(degradation(to_float_frames(source.clip(rng, synthetic_frames, crop_size)))
                                     .clamp(0.0, 1.0)) for _ in range(synthetic_scenes)])
            continue
        frames = source.frames
        count = frames.num_frames if max_frames is None else min(frames.num_frames, max_frames)
        if count < 2:
            raise ValueError(f"{source.path}: {frames.num_frames} frame(s); a flow pair needs 2")
        chunks = []
        for begin in range(0, count, 8):  # 8 HR frames at a time bound the memory of large frames
            hr = to_float_frames(frames.get(range(begin, min(count, begin + 8))))
            chunks.append(degradation(crop_to_multiple(hr, scale)).clamp(0.0, 1.0))
        lr = torch.cat(chunks)
        if min(lr.shape[-2:]) < crop:
            raise ValueError(f"{source.path}: LR frames of {lr.shape[-1]}x{lr.shape[-2]} are smaller than the "
                             f"{crop}x{crop} crop (crop_size {crop_size} / scale {scale})")
        result.append([with_flow(lr)])
    return result


def _augment(previous: Tensor, current: Tensor, flow: Tensor, flips: Any) -> tuple[Tensor, Tensor, Tensor]:
    """Mirror and transpose a pair and its flow alike (the flow's components change sign or swap)."""
    if flips[0]:
        previous, current, flow = previous.flip(-1), current.flip(-1), flow.flip(-1) * flow.new_tensor([-1, 1])[:, None, None]
    if flips[1]:
        previous, current, flow = previous.flip(-2), current.flip(-2), flow.flip(-2) * flow.new_tensor([1, -1])[:, None, None]
    if flips[2]:
        previous, current, flow = previous.transpose(-1, -2), current.transpose(-1, -2), flow.transpose(-1, -2).flip(0)
    return previous, current, flow


def distill_fnet(
    out: str | Path | None, *, sources: Sequence[str], width: int = 32, max_flow: float = 24.0,
    init: str | Path | None = None, steps: int = 3000, batch: int = 8, lr: float = 3e-4, crop_size: int = 192,
    degradation: Degradation | None = None, flow_weight: float = 10.0, seed: int = 0, eval_every: int = 500,
    test_sources: Sequence[str] = ("synthetic",), test_scenes: int = 3, test_frames: int = 30,
    max_frames: int | None = 300, synthetic_scenes: int = 60, log: Callable[[str], None] | None = print,
) -> dict[str, Any]:
    """Train FNet on consecutive LR frames of ``sources`` towards :func:`teacher_flow` (see the module docstring).

    The frames and the teacher's flows are computed once (:func:`teacher_pairs`); each step draws ``batch``
    pairs, each from a source drawn uniformly, as random ``crop_size / scale`` LR crops, mirrored and
    transposed at random. ``init``: an FNet state dict to start from, loaded strictly: start from
    :func:`pretrain_fnet`'s (a fresh small FNet sits at "no motion" for thousands of steps; one that has
    learnt known shifts distils in a few thousand). Loss: mean L1 distance to the teacher's flow (clamped to
    ``max_flow``) plus ``flow_weight * L_flow``; Adam with the learning rate decayed to zero on a cosine.
    Writes FNet's state dict to ``out`` when given.

    Held out: the ``test_sources`` (``synthetic``: ``test_scenes`` held-out scenes of 8 frames at 128x128 HR;
    files: their first ``test_frames`` frames), BD-degraded as in training. Returns ``{"warp_error": {step:
    error}, "teacher_distance_px": {step: px}, "zero_flow_error": .., "teacher_error": .., "per_sequence":
    {name: {"fnet": .., "zero_flow": .., "teacher": ..}}, "prepare_seconds": .., "seconds": .., "fnet": the
    module}``: per held-out sequence the mean squared error of the warped previous frame against the current
    one, and the mean end-point distance between FNet's flow and the teacher's, each averaged over sequences.
    """
    import numpy as np

    from vidlearn.superres.evaluation import test_sequences

    if steps < 0 or batch < 1 or eval_every < 1 or test_scenes < 1:
        raise ValueError(f"steps must be >= 0, batch, eval_every and test_scenes >= 1; got {steps}, {batch}, "
                         f"{eval_every}, {test_scenes}")
    if not sources:
        raise ValueError("distill_fnet needs at least one source (synthetic, a video file or a frame folder)")
    degradation = degradation or Degradation(kind="bd", scale=4, sigma=1.5)
    if crop_size % degradation.scale:
        raise ValueError(f"crop_size {crop_size} is not a multiple of the scale {degradation.scale}")
    torch.manual_seed(seed)
    fnet = FNet(3, width=width, max_flow=max_flow)
    if init is not None:
        from vidlearn.models import load_weights

        load_weights(fnet, init, layout="vidlearn")
    prepare_started = time.perf_counter()
    pairs = teacher_pairs(sources, degradation, crop_size=crop_size, max_frames=max_frames,
                          synthetic_scenes=synthetic_scenes, seed=seed)
    held = test_sequences(test_sources, degradation, max_frames=test_frames, synthetic_sequences=test_scenes,
                          synthetic_frames=8, synthetic_size=(128, 128))
    held_out_sequences, names = [s.lr for s in held], [s.name for s in held]
    test_flows = [teacher_flow(lr[:-1], lr[1:]) for lr in held_out_sequences]
    prepare_seconds = time.perf_counter() - prepare_started
    optimiser = torch.optim.Adam(fnet.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=max(1, steps))

    def warp_error(lr_frames: Tensor, flow: Tensor | None) -> float:
        warped = lr_frames[:-1] if flow is None else backward_warp(lr_frames[:-1], flow)
        return float(F.mse_loss(warped, lr_frames[1:]))

    zero = [warp_error(frames, None) for frames in held_out_sequences]
    teacher = [warp_error(frames, flow) for frames, flow in zip(held_out_sequences, test_flows)]

    def held_out() -> tuple[list[float], float]:
        fnet.eval()
        errors, distances = [], []
        with torch.no_grad():
            for frames, target in zip(held_out_sequences, test_flows):
                flow = fnet(frames[:-1], frames[1:])
                errors.append(warp_error(frames, flow))
                distances.append(float((flow - target.clamp(-max_flow, max_flow)).norm(dim=1).mean()))
        fnet.train()
        return errors, sum(distances) / len(distances)

    def mean(values: list[float]) -> float:
        return sum(values) / len(values)

    errors, distance = held_out()
    history, distances = {0: mean(errors)}, {0: distance}
    if log:
        log(f"FNet width {width}, max_flow {max_flow}: held-out warping error {history[0]:.5f} at the start "
            f"(no motion {mean(zero):.5f}, the DIS teacher {mean(teacher):.5f}), {distance:.3f} px from the "
            f"teacher; frames and teacher flows prepared in {prepare_seconds:.0f} s")
    rng = np.random.default_rng(seed)
    crop = crop_size // degradation.scale
    started = time.perf_counter()
    for step in range(1, steps + 1):
        drawn = []
        for _ in range(batch):
            sequences = pairs[int(rng.integers(len(pairs)))]
            frames, flows = sequences[int(rng.integers(len(sequences)))]
            index = int(rng.integers(len(flows)))
            top = int(rng.integers(frames.shape[-2] - crop + 1))
            left = int(rng.integers(frames.shape[-1] - crop + 1))
            window = (..., slice(top, top + crop), slice(left, left + crop))
            drawn.append(_augment(frames[index][window], frames[index + 1][window], flows[index][window],
                                  rng.random(3) < 0.5))
        previous, current, target = (torch.stack(parts) for parts in zip(*drawn))
        flow = fnet(previous, current)
        loss = ((flow - target.clamp(-max_flow, max_flow)).abs().mean()
                + flow_weight * F.mse_loss(backward_warp(previous, flow), current))
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        schedule.step()
        if step % eval_every == 0 or step == steps:
            errors, distances[step] = held_out()
            history[step] = mean(errors)
            if log:
                log(f"step {step}: held-out warping error {history[step]:.5f}, {distances[step]:.3f} px from the "
                    f"teacher")
    if out is not None:
        _save(fnet, Path(out))
    per_sequence = {name: {"fnet": error, "zero_flow": z, "teacher": t}
                    for name, error, z, t in zip(names, errors, zero, teacher)}
    return {"warp_error": history, "teacher_distance_px": distances, "zero_flow_error": mean(zero),
            "teacher_error": mean(teacher), "per_sequence": per_sequence, "prepare_seconds": prepare_seconds,
            "seconds": time.perf_counter() - started, "fnet": fnet}
