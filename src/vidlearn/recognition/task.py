"""Recognition on the engine: build data and model from a recipe, train, evaluate, save.

``train(cfg)`` trains a registered model with :class:`vidlearn.engine.Trainer` (one process or DDP
under ``torchrun``), evaluates it with the recipe's ``num_clips x num_crops`` protocol, and writes
into ``cfg.train.work_dir``: engine checkpoints and logs, ``model.safetensors`` (weights plus the
metadata ``predict`` needs: model name and options, class names, preprocessing),
``metrics.json``, ``confusion_matrix.png`` and ``per_class.csv``.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from vidlearn.engine import distributed as dist_utils
from vidlearn.engine.config import config_to_dict
from vidlearn.engine.seeding import seed_everything
from vidlearn.models import Preprocessing, create, get_model_info, load_weights, save_weights
from vidlearn.recognition.datasets import VideoClipDataset, count_skipped
from vidlearn.recognition.evaluation import (
    DecodedVideoDataset,
    EvaluationResult,
    evaluate_videos,
    protocol_metrics,
)
from vidlearn.recognition.metrics import plot_confusion_matrix, write_per_class_csv
from vidlearn.recognition.recipe import DataConfig, RecognitionConfig
from vidlearn.video.sampling import CenterClipSampler, RandomClipSampler, UniformClipSampler
from vidlearn.video.transforms import build_clip_transform

__all__ = [
    "ClassificationStep",
    "TrainResult",
    "build_dataset",
    "build_model",
    "evaluate",
    "load_trained_model",
    "preprocessing_of",
    "train",
]

logger = logging.getLogger("vidlearn.recognition")


def preprocessing_of(data: DataConfig) -> Preprocessing:
    """The :class:`Preprocessing` a recipe's ``data`` section describes."""
    return Preprocessing(
        mean=tuple(data.mean),
        std=tuple(data.std),
        channel_order=data.channel_order,
        value_range=tuple(data.value_range),  # type: ignore[arg-type]
        clip_length=data.clip_len,
        frame_interval=data.frame_interval,
        resize_short_side=data.resize_short_side,
        crop_size=data.crop_size,
        modality=data.modality,
    )


def _apply_weights_preprocessing(cfg: RecognitionConfig) -> None:
    """Copy the pixel settings of ``model.preprocessing`` (a weights spec name) into ``cfg.data``."""
    if not cfg.model.preprocessing:
        return
    info = get_model_info(cfg.model.name)
    if cfg.model.preprocessing not in info.weights:
        known = ", ".join(sorted(info.weights)) or "none"
        raise ValueError(f"model.preprocessing: {cfg.model.name} has no weights spec "
                         f"{cfg.model.preprocessing!r} (known: {known})")
    spec = info.weights[cfg.model.preprocessing].preprocessing
    cfg.data.mean, cfg.data.std = tuple(spec.mean), tuple(spec.std)
    cfg.data.channel_order = spec.channel_order  # type: ignore[assignment]
    cfg.data.value_range = tuple(spec.value_range)  # type: ignore[assignment]


def _ensure_synthetic(data: DataConfig) -> None:
    from vidlearn.synthetic import write_motion_dataset

    syn = data.synthetic
    write_motion_dataset(
        data.root,
        preset=syn.preset,
        num_train=syn.num_train,
        num_test=syn.num_test,
        num_frames=syn.num_frames,
        size=tuple(syn.size),
        fps=syn.fps,
        seed=syn.seed,
        workers=max(1, data.num_workers),
    )


def build_dataset(cfg: RecognitionConfig, *, train: bool, sampler: Any = None, transform: Any = None) -> VideoClipDataset:
    """The training (``train=True``) or test split named by ``cfg.data``, with a sampler and transform.

    By default training clips are random ``clip_len x frame_interval`` windows with the training
    transform; the test split gets one centre clip with the centre-crop transform.
    """
    from vidlearn.recognition.datasets.formats import build_format_dataset

    data = cfg.data
    if sampler is None:
        sampler = (RandomClipSampler if train else CenterClipSampler)(data.clip_len, data.frame_interval)
    if transform is None:
        transform = build_clip_transform(
            preprocessing_of(data),
            train=train,
            multi_scale_crop=data.multi_scale_crop and train,
            input_layout="TCHW" if data.modality == "flow" else "THWC",
        )
        if train and not data.flip:
            transform.transforms = [t for t in transform.transforms if type(t).__name__ != "RandomHorizontalFlip"]
    return build_format_dataset(
        data,
        train=train,
        num_classes=cfg.model.num_classes,
        sampler=sampler,
        transform=transform,
        modality=data.modality,
        flow_root=data.flow_root,
        size=data.decode_size,
        on_error=data.on_error,
        seed=cfg.train.seed,
    )


def build_model(cfg: RecognitionConfig, num_classes: int) -> nn.Module:
    """``vidlearn.models.create`` from the recipe, with initial weights when ``model.weights`` is set."""
    model = create(cfg.model.name, num_classes=cfg.model.num_classes or num_classes, **cfg.model.kwargs)
    if cfg.model.weights:
        load_weights(model, cfg.model.weights, allow_missing=tuple(cfg.model.allow_missing))
    return model


@dataclass
class ClassificationStep:
    """The training step: cross-entropy on single-label batches, BCE-with-logits on multi-label ones.

    Returns the loss and the batch's accuracy (float, averaged by the engine) and skipped-video count
    (int, summed by the engine into the epoch summary).
    """

    multi_label: bool = False

    def __call__(self, model: nn.Module, batch: Any) -> tuple[torch.Tensor, dict[str, Any]]:
        clips, labels, info = batch
        logits = model(clips)
        if self.multi_label:
            loss = F.binary_cross_entropy_with_logits(logits.float(), labels.float())
            accuracy = (labels.gather(1, logits.argmax(1, keepdim=True)) > 0).float().mean()
        else:
            loss = F.cross_entropy(logits.float(), labels)
            accuracy = (logits.argmax(1) == labels).float().mean()
        return loss, {"acc": accuracy.detach(), "skipped": int(count_skipped(info))}


def _autocast_dtype(cfg: RecognitionConfig) -> torch.dtype | None:
    return {"bf16": torch.bfloat16, "fp16": torch.float16}.get(cfg.train.amp)


def _protocol(cfg: RecognitionConfig, videos: VideoClipDataset, *, num_clips: int, num_crops: int
              ) -> tuple[DecodedVideoDataset, Any]:
    data = cfg.data
    sampler = (CenterClipSampler(data.clip_len, data.frame_interval) if num_clips == 1
               else UniformClipSampler(data.clip_len, num_clips, data.frame_interval))
    transform = build_clip_transform(
        preprocessing_of(data), train=False, num_crops=num_crops,
        input_layout="TCHW" if data.modality == "flow" else "THWC",
    )
    return DecodedVideoDataset(videos, sampler, seed=cfg.train.seed), transform


def _shard(dataset: DecodedVideoDataset) -> DecodedVideoDataset:
    """This rank's share of the videos (every video once over all ranks)."""
    rank, world = dist_utils.get_rank(), dist_utils.get_world_size()
    if world == 1:
        return dataset
    subset = DecodedVideoDataset.__new__(DecodedVideoDataset)
    subset.__dict__.update(dataset.__dict__)
    subset.videos = _SampleSubset(dataset.videos, list(range(rank, len(dataset), world)))
    return subset


class _SampleSubset:
    """A view of a clip dataset restricted to some samples (keeps ``open`` and ``size``)."""

    def __init__(self, videos: VideoClipDataset, indices: list[int]) -> None:
        self._videos = videos
        self.samples = [videos.samples[i] for i in indices]
        self.size = videos.size

    def open(self, sample: Any) -> Any:
        return self._videos.open(sample)


def _gather_result(result: EvaluationResult, num_classes: int) -> EvaluationResult:
    if dist_utils.get_world_size() == 1:
        return result
    parts = dist_utils.all_gather_object(
        (result.video_scores, result.labels, result.clip_scores, result.clip_labels, result.paths)
    )
    merged = EvaluationResult(
        video_scores=torch.cat([p[0] for p in parts]),
        labels=torch.cat([p[1] for p in parts]),
        clip_scores=torch.cat([p[2] for p in parts]),
        clip_labels=torch.cat([p[3] for p in parts]),
        paths=[path for p in parts for path in p[4]],
    )
    merged.metrics = protocol_metrics(merged, num_classes)
    return merged


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
    """Evaluate ``model`` on ``videos`` with ``num_clips x num_crops`` views (DDP-aware)."""
    dataset, transform = _protocol(cfg, videos, num_clips=num_clips, num_crops=num_crops)
    result = evaluate_videos(
        model, _shard(dataset), transform,
        num_classes=len(videos.classes), average=cfg.evaluate.average, chunk_size=cfg.evaluate.chunk_size,
        num_workers=cfg.evaluate.num_workers, device=device, autocast_dtype=_autocast_dtype(cfg),
        progress=progress,
    )
    return _gather_result(result, len(videos.classes))


@dataclass
class TrainResult:
    """What :func:`train` returns (accuracies in [0, 1])."""

    work_dir: Path
    metrics: dict[str, float]
    history: list[dict[str, Any]] = field(default_factory=list)
    classes: list[str] = field(default_factory=list)
    num_params: int = 0
    train_seconds: float = 0.0
    interrupted: bool = False


def _model_metadata(cfg: RecognitionConfig, classes: list[str]) -> dict[str, Any]:
    return {
        "model": cfg.model.name,
        "kwargs": cfg.model.kwargs,
        "num_classes": len(classes) if not cfg.model.num_classes else cfg.model.num_classes,
        "classes": classes,
        "preprocessing": asdict(preprocessing_of(cfg.data)),
        "decode_size": cfg.data.decode_size,
        "recipe": cfg.name,
    }


def train(cfg: RecognitionConfig, *, resume: str | Path | None = "auto", final_eval: bool = True) -> TrainResult:
    """Train the recipe's model, then evaluate it with the recipe's protocol on the test split.

    ``resume="auto"`` continues from the newest checkpoint in ``cfg.train.work_dir`` if there is one.
    """
    import time

    from vidlearn.engine import Trainer

    _apply_weights_preprocessing(cfg)
    train_set = build_dataset(cfg, train=True)
    val_set = build_dataset(cfg, train=False)
    if train_set.classes != val_set.classes:
        raise ValueError("the training and test splits name different classes")
    classes = list(train_set.classes)
    seed_everything(cfg.train.seed)  # the same initial weights in every process and every run
    model = build_model(cfg, len(classes))
    work_dir = Path(cfg.train.work_dir)

    def validate(current: nn.Module) -> dict[str, float]:
        result = run_protocol(cfg, current, val_set, num_clips=cfg.evaluate.val_num_clips, num_crops=1,
                              device=next(current.parameters()).device)
        return {"top1": result.metrics.get("video_top1", 0.0), "top5": result.metrics.get("video_top5", 0.0)}

    trainer = Trainer(
        model, train_set,
        step_fn=ClassificationStep(multi_label=getattr(train_set, "multi_label", False)),
        optim=cfg.optim, schedule=cfg.schedule, config=cfg.train,
        batch_size=cfg.data.batch_size, num_workers=cfg.data.num_workers,
        eval_fn=validate if cfg.train.eval_every_epochs else None,
        run_config=cfg, drop_last=len(train_set) > cfg.data.batch_size,
    )
    started = time.perf_counter()
    history = trainer.fit(resume=resume)
    seconds = time.perf_counter() - started
    num_params = sum(p.numel() for p in model.parameters())
    metrics: dict[str, float] = {}
    if final_eval and not history.interrupted:
        result = run_protocol(cfg, model, val_set, num_clips=cfg.evaluate.num_clips,
                              num_crops=cfg.evaluate.num_crops, device=trainer.device)
        metrics = dict(result.metrics)
        if dist_utils.is_main_process():
            write_evaluation(work_dir, result, classes, title=f"{cfg.name}: {cfg.model.name}")
    if dist_utils.is_main_process() and not history.interrupted:
        save_weights(model, work_dir / "model.safetensors", metadata=_model_metadata(cfg, classes))
    return TrainResult(work_dir, metrics, list(history.epochs), classes, num_params, seconds, history.interrupted)


def write_evaluation(out_dir: Path, result: EvaluationResult, classes: list[str], *, title: str = "") -> None:
    """``metrics.json``, ``confusion_matrix.png`` and ``per_class.csv`` of an evaluation."""
    out_dir.mkdir(parents=True, exist_ok=True)
    matrix = result.confusion(len(classes))
    (out_dir / "metrics.json").write_text(json.dumps(result.metrics, indent=2, sort_keys=True) + "\n")
    plot_confusion_matrix(matrix, classes, out_dir / "confusion_matrix.png", title=title or "Confusion matrix")
    write_per_class_csv(out_dir / "per_class.csv", matrix, classes)


def load_trained_model(path: str | Path) -> tuple[nn.Module, dict[str, Any]]:
    """A model saved by :func:`train` (``model.safetensors``) and its metadata."""
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        with safe_open(str(path), framework="pt") as handle:
            header = handle.metadata() or {}
    except Exception as error:
        raise ValueError(f"{path}: not a vidlearn safetensors checkpoint ({error})") from error
    if "metadata" not in header:
        raise ValueError(f"{path}: has no vidlearn metadata; use --model NAME --weights {path}")
    meta = json.loads(header["metadata"])
    model = create(meta["model"], num_classes=meta["num_classes"], **meta.get("kwargs", {}))
    load_weights(model, path)
    model.eval()
    return model, meta


def evaluate(
    cfg: RecognitionConfig, checkpoint: str | Path, *, out_dir: str | Path | None = None, progress: bool = True
) -> dict[str, float]:
    """Evaluate a checkpoint with the recipe's protocol; writes the evaluation files to ``out_dir``."""
    _apply_weights_preprocessing(cfg)
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


def evaluate_svm(cfg: RecognitionConfig, checkpoint: str | Path, *, layer: str = "fc6", C: float = 1.0) -> dict[str, float]:
    """The C3D "features + linear SVM" protocol on the recipe's splits (see :mod:`vidlearn.recognition.svm`).

    The network is frozen; ``layer`` names the feature (``forward_features(x, layer=...)`` where the
    model takes it, else ``forward_features(x)``); clips follow ``evaluate.num_clips x num_crops``.
    """
    import inspect

    from vidlearn.recognition.svm import extract_video_features, linear_svm_protocol

    _apply_weights_preprocessing(cfg)
    train_videos = build_dataset(cfg, train=True)
    test_videos = build_dataset(cfg, train=False)
    model = build_model(cfg, len(test_videos.classes))
    load_weights(model, checkpoint)
    model.eval()
    takes_layer = "layer" in inspect.signature(model.forward_features).parameters

    def features(clips: torch.Tensor) -> torch.Tensor:
        return model.forward_features(clips, layer=layer) if takes_layer else model.forward_features(clips)

    splits = []
    for videos in (train_videos, test_videos):
        dataset, transform = _protocol(cfg, videos, num_clips=cfg.evaluate.num_clips, num_crops=cfg.evaluate.num_crops)
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


def recipe_dict(cfg: RecognitionConfig) -> dict[str, Any]:
    """The recipe as plain data (for reports)."""
    return config_to_dict(cfg)
