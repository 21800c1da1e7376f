"""Scoring super-resolution: a model on test sequences, or output frames against ground truth on disk.

* :func:`test_sequences` reads a recipe's test sequences (files, folders, roots of sequences, or
  held-out synthetic scenes rendered at the HR size with seeds training never draws).
* :func:`evaluate_model` super-resolves each sequence frame by frame (the streaming path users run)
  and scores it, with bicubic interpolation of the same LR frames beside it.
* :func:`score_outputs` pairs the frames of a prediction and a ground truth (folders or videos, at any
  depth, sequences matched by relative path; frames paired in sorted-name order) and scores each
  sequence: ``{"<SEQ>": {"psnr_y", "ssim_y", "tof", ...}, "mean": {...}}``. The mean is over
  sequences (as Vid4 tables average), with the protocol recorded.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from vidlearn.superres.data import (
    Sequence,
    find_sequences,
    open_frames,
    read_sequence,
    sample_sr_scene,
    to_float_frames,
)
from vidlearn.superres.degrade import Degradation
from vidlearn.superres.inference import bicubic_upscale, super_resolve
from vidlearn.superres.metrics import PROTOCOLS, MetricProtocol, evaluate_sequence
from vidlearn.synthetic.scene import render_scene

__all__ = ["SYNTHETIC_TEST_SEED", "evaluate_model", "mean_metrics", "score_outputs", "synthetic_sequence",
           "test_sequences"]

#: Held-out synthetic scenes use seeds from here on; training draws from seed sequences, never these.
SYNTHETIC_TEST_SEED = 1_000_000


def synthetic_sequence(index: int, degradation: Degradation, *, num_frames: int, size: tuple[int, int],
                       max_speed: float = 0.02) -> Sequence:
    """Held-out synthetic scene ``index`` rendered at ``size`` HR pixels and degraded."""
    spec = sample_sr_scene(SYNTHETIC_TEST_SEED + index, num_frames=num_frames, max_speed=max_speed)
    hr = to_float_frames(render_scene(spec, num_frames, size).frames)
    return Sequence(f"synthetic_{index:02d}", hr, degradation(hr).clamp(0.0, 1.0))


def test_sequences(sources: Iterable[str], degradation: Degradation, *, lr_root: str | None = None,
                   max_frames: int | None = None, synthetic_sequences: int = 4, synthetic_frames: int = 20,
                   synthetic_size: tuple[int, int] = (128, 128), max_sequences: int | None = None) -> list[Sequence]:
    """The sequences named by ``sources`` (``synthetic`` or paths), read whole (up to ``max_frames``)."""
    result: list[Sequence] = []
    for source in sources:
        if source == "synthetic":
            frames = synthetic_frames if max_frames is None else min(max_frames, synthetic_frames)
            for index in range(synthetic_sequences):
                result.append(synthetic_sequence(index, degradation, num_frames=frames, size=tuple(synthetic_size)))
            continue
        root = Path(source)
        for path in find_sequences(root):
            relative = path.relative_to(root) if path != root else Path(path.name)
            lr_path = Path(lr_root) / relative if lr_root is not None and path != root else lr_root
            name = relative.with_suffix("").as_posix() if path.is_file() else relative.as_posix()
            result.append(read_sequence(path, degradation, lr_path=lr_path, max_frames=max_frames, name=name))
    return result[:max_sequences] if max_sequences is not None else result


def mean_metrics(per_sequence: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The mean of every numeric metric over sequences (the protocol copied from the first)."""
    rows = list(per_sequence.values())
    mean: dict[str, Any] = {}
    for key in rows[0] if rows else ():
        values = [row[key] for row in rows if isinstance(row.get(key), (int, float)) and key != "frames"]
        if values and len(values) == len(rows):
            mean[key] = sum(values) / len(values)
    mean["sequences"] = len(rows)
    if rows and "protocol" in rows[0]:
        mean["protocol"] = rows[0]["protocol"]
    return mean


def evaluate_model(model: nn.Module, sequences: list[Sequence], *, scale: int, protocol: str | MetricProtocol = "vid4",
                   temporal: bool = True, bicubic: bool = True, tile: int | None = None,
                   progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Score ``model`` (streamed frame by frame) and bicubic on every sequence.

    Returns ``{"sequences": {name: metrics}, "mean": metrics, "bicubic": {"sequences": .., "mean": ..}}``.
    """
    per_sequence: dict[str, dict[str, Any]] = {}
    per_bicubic: dict[str, dict[str, Any]] = {}
    device = next(model.parameters()).device
    for sequence in sequences:
        if progress:
            progress(sequence.name)
        estimate = super_resolve(model, sequence.lr.to(device), scale=scale, tile=tile)
        per_sequence[sequence.name] = evaluate_sequence(estimate, sequence.hr, protocol, temporal=temporal)
        if bicubic:
            per_bicubic[sequence.name] = evaluate_sequence(bicubic_upscale(sequence.lr, scale), sequence.hr, protocol,
                                                           temporal=temporal)
    result: dict[str, Any] = {"sequences": per_sequence, "mean": mean_metrics(per_sequence)}
    if bicubic:
        result["bicubic"] = {"sequences": per_bicubic, "mean": mean_metrics(per_bicubic)}
    return result


def _frames(path: Path) -> torch.Tensor:
    source = open_frames(path)
    return to_float_frames(source.get(range(source.num_frames)))


def score_outputs(prediction: str | os.PathLike[str], ground_truth: str | os.PathLike[str], *, crop_border: int = 8,
                  skip: int = 2, channel: str = "y", temporal: bool = True,
                  lpips_model: nn.Module | None = None) -> dict[str, dict[str, Any]]:
    """Score predicted sequences against ground truth; both a video, a frame folder or a root of sequences.

    Sequences pair by their path relative to the roots (a video ``calendar.mp4`` pairs with a folder
    ``calendar``); frames pair in sorted-name (or decoding) order and their counts must agree. The
    protocol: ``channel``, ``crop_border`` pixels, ``skip`` frames at each end. With ``lpips_model``
    (:func:`vidlearn.superres.lpips.load_lpips`) TecoGAN's tLP x100 is added as ``tlp``.
    """
    prediction, ground_truth = Path(prediction), Path(ground_truth)
    protocol = MetricProtocol(f"{channel}_crop{crop_border}_skip{skip}", channel, crop_border=crop_border,
                              skip_first=skip, skip_last=skip, quantize=True)
    if (channel, crop_border, skip) == ("y", 8, 2):
        protocol = PROTOCOLS["vid4"]

    def keyed(root: Path) -> dict[str, Path]:
        found = find_sequences(root)
        if found == [root]:
            return {root.stem if root.is_file() else root.name: root}
        return {path.relative_to(root).with_suffix("").as_posix() if path.is_file()
                else path.relative_to(root).as_posix(): path for path in found}

    predicted, truth = keyed(prediction), keyed(ground_truth)
    if len(predicted) == 1 and len(truth) == 1:
        pairs = [(next(iter(truth)), next(iter(predicted.values())), next(iter(truth.values())))]
    else:
        missing = sorted(set(truth) - set(predicted))
        if missing:
            raise ValueError(f"{prediction}: no prediction for the ground-truth sequence(s) {', '.join(missing[:5])}")
        pairs = [(name, predicted[name], truth[name]) for name in sorted(truth)]
    results: dict[str, dict[str, Any]] = {}
    for name, pred_path, true_path in pairs:
        pred, true = _frames(pred_path), _frames(true_path)
        if pred.shape != true.shape:
            raise ValueError(f"{pred_path}: {pred.shape[0]} frames of {pred.shape[-1]}x{pred.shape[-2]}, the ground "
                             f"truth {true_path} has {true.shape[0]} of {true.shape[-1]}x{true.shape[-2]}")
        results[name] = evaluate_sequence(pred, true, protocol, temporal=temporal)
        if lpips_model is not None:
            from vidlearn.superres.lpips import tlp

            kept = slice(protocol.skip_first, pred.shape[0] - protocol.skip_last)
            results[name]["tlp"] = 100.0 * float(tlp(pred[kept], true[kept], lpips_model).mean())
    results["mean"] = mean_metrics(results)
    return results
