"""The recipe's test protocols: ``num_clips x num_crops`` softmax scoring, and frozen features + SVM.

:func:`run_protocol` scores a model on a test split with the views the recipe's ``evaluate`` section
asks for (each rank of a DDP run scores its share of the videos; the results are gathered);
:func:`evaluate` does it for a checkpoint file and writes ``metrics.json``, ``confusion_matrix.png``
and ``per_class.csv``; :func:`evaluate_svm` is the C3D paper's "fc6 features + linear SVM" protocol
(Tran et al. 2015); :func:`average_splits` the mean over UCF-101 / HMDB51's three splits.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from vidlearn.engine import distributed as dist_utils
from vidlearn.models import load_weights
from vidlearn.recognition.builders import build_dataset, build_model
from vidlearn.recognition.datasets import VideoClipDataset
from vidlearn.recognition.evaluation import DecodedVideoDataset, EvaluationResult, evaluate_videos
from vidlearn.recognition.metrics import plot_confusion_matrix, write_per_class_csv
from vidlearn.recognition.preprocessing import clip_transform_of
from vidlearn.recognition.recipe import RecognitionConfig
from vidlearn.video.sampling import CenterClipSampler, UniformClipSampler

__all__ = [
    "average_splits",
    "evaluate",
    "evaluate_svm",
    "protocol_dataset",
    "run_protocol",
    "write_evaluation",
]


def _autocast_dtype(cfg: RecognitionConfig) -> torch.dtype | None:
    """The autocast dtype of ``train.amp`` (None for full precision)."""
    return {"bf16": torch.bfloat16, "fp16": torch.float16}.get(cfg.train.amp)


def protocol_dataset(cfg: RecognitionConfig, videos: VideoClipDataset, *, num_clips: int, num_crops: int
                     ) -> tuple[DecodedVideoDataset, Any]:
    """``videos`` decoded as ``num_clips`` clips each (centre clip for 1, else uniform), and the test
    transform giving ``num_crops`` crops per clip."""
    data = cfg.data
    sampler = (CenterClipSampler(data.clip_len, data.frame_interval, pad=data.pad) if num_clips == 1
               else UniformClipSampler(data.clip_len, num_clips, data.frame_interval, pad=data.pad))
    transform = clip_transform_of(cfg, train=False, num_crops=num_crops)
    return DecodedVideoDataset(videos, sampler, seed=cfg.train.seed), transform


def run_protocol(
    cfg: RecognitionConfig,
    model: nn.Module,
    videos: VideoClipDataset,
    *,
    num_clips: int,
    num_crops: int,
    device: torch.device | str = "cpu",
    progress: bool = False,
) -> EvaluationResult:
    """Evaluate ``model`` on ``videos`` with ``num_clips x num_crops`` views (DDP-aware: each rank scores
    its share of the videos through the engine's evaluation loop; every rank gets all the results)."""
    dataset, transform = protocol_dataset(cfg, videos, num_clips=num_clips, num_crops=num_crops)
    return evaluate_videos(
        model, dataset, transform,
        num_classes=len(videos.classes), average=cfg.evaluate.average, chunk_size=cfg.evaluate.chunk_size,
        num_workers=cfg.evaluate.num_workers, device=device, autocast_dtype=_autocast_dtype(cfg),
        progress=progress,
    )


def write_evaluation(out_dir: Path, result: EvaluationResult, classes: list[str], *, title: str = "") -> None:
    """``metrics.json``, ``confusion_matrix.png`` and ``per_class.csv`` of an evaluation."""
    out_dir.mkdir(parents=True, exist_ok=True)
    matrix = result.confusion(len(classes))
    (out_dir / "metrics.json").write_text(json.dumps(result.metrics, indent=2, sort_keys=True) + "\n")
    plot_confusion_matrix(matrix, classes, out_dir / "confusion_matrix.png", title=title or "Confusion matrix")
    write_per_class_csv(out_dir / "per_class.csv", matrix, classes)


def evaluate(
    cfg: RecognitionConfig, checkpoint: str | Path, *, out_dir: str | Path | None = None, progress: bool = True
) -> dict[str, float]:
    """Evaluate a checkpoint with the recipe's protocol; writes the evaluation files to ``out_dir``."""
    val_set = build_dataset(cfg, train=False)
    classes = list(val_set.classes)
    model = build_model(cfg, len(classes))
    load_weights(model, checkpoint)
    device = torch.device("cuda" if torch.cuda.is_available() and cfg.train.device != "cpu" else "cpu")
    model.to(device)
    result = run_protocol(cfg, model, val_set, num_clips=cfg.evaluate.num_clips,
                          num_crops=cfg.evaluate.num_crops, device=device, progress=progress)
    if out_dir is not None and dist_utils.is_main_process():
        write_evaluation(Path(out_dir), result, classes, title=f"{cfg.name}: {cfg.model.name}")
    return dict(result.metrics)


def evaluate_svm(cfg: RecognitionConfig, checkpoint: str | Path, *, layer: str | None = None,
                 C: float = 1.0) -> dict[str, float]:
    """The C3D "features + linear SVM" protocol on the recipe's splits (see :mod:`vidlearn.recognition.svm`).

    The network is frozen; ``layer`` names the feature (``forward_features(x, layer=...)``; one the
    model does not name is an error); ``None`` takes ``fc6`` where the model names it (the paper's
    choice) and the model's default features otherwise. Clips follow ``evaluate.num_clips x num_crops``.
    """
    from vidlearn.recognition.svm import extract_video_features, linear_svm_protocol

    train_videos = build_dataset(cfg, train=True)
    test_videos = build_dataset(cfg, train=False)
    model = build_model(cfg, len(test_videos.classes))
    load_weights(model, checkpoint)
    model.eval()
    if layer is None:
        layer = "fc6" if "fc6" in model.feature_layers else None

    def features(clips: torch.Tensor) -> torch.Tensor:
        return model.forward_features(clips, layer=layer)

    splits = []
    for videos in (train_videos, test_videos):
        dataset, transform = protocol_dataset(cfg, videos, num_clips=cfg.evaluate.num_clips,
                                              num_crops=cfg.evaluate.num_crops)
        splits.append(extract_video_features(features, dataset, transform, chunk_size=cfg.evaluate.chunk_size,
                                             num_workers=cfg.evaluate.num_workers))
    result = linear_svm_protocol(splits[0], splits[1], C=C, seed=cfg.train.seed)
    return {"svm_top1": result.top1, "svm_mean_class_accuracy": result.mean_class_accuracy,
            "num_train_videos": float(len(splits[0][1])), "num_test_videos": float(len(splits[1][1]))}


def average_splits(results: list[Mapping[str, float]]) -> dict[str, float]:
    """The mean of each metric over splits (UCF-101 / HMDB51 report the mean of splits 1-3)."""
    if not results:
        raise ValueError("no split results to average")
    keys = set(results[0]).intersection(*results[1:])
    return {key: float(np.mean([r[key] for r in results])) for key in sorted(keys) if not math.isnan(results[0][key])}
