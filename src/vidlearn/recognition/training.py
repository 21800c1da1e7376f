"""Train a recognition recipe on the engine, evaluate it, and save what ``predict`` needs.

``train(cfg)`` trains a registered model with :class:`vidlearn.engine.Trainer` (one process or DDP
under ``torchrun``), evaluates it with the recipe's ``num_clips x num_crops`` protocol, and writes
into ``cfg.train.work_dir``: engine checkpoints and logs, ``model.safetensors`` (weights plus the
metadata ``predict`` needs: model name and options, class names, preprocessing),
``metrics.json``, ``confusion_matrix.png`` and ``per_class.csv``.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from torch import nn

from vidlearn.engine import distributed as dist_utils
from vidlearn.engine.seeding import seed_everything
from vidlearn.models import save_weights
from vidlearn.recognition.builders import build_dataset, build_model
from vidlearn.recognition.preprocessing import preprocessing_of
from vidlearn.recognition.protocols import run_protocol, write_evaluation
from vidlearn.recognition.recipe import RecognitionConfig
from vidlearn.recognition.steps import ClassificationStep

__all__ = ["TrainResult", "model_metadata", "train"]


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


def model_metadata(cfg: RecognitionConfig, classes: list[str]) -> dict[str, Any]:
    """What ``model.safetensors`` carries besides the weights: the model, its classes and preprocessing."""
    return {
        "model": cfg.model.name,
        "kwargs": cfg.model.kwargs,
        "num_classes": len(classes) if not cfg.model.num_classes else cfg.model.num_classes,
        "classes": classes,
        "preprocessing": asdict(preprocessing_of(cfg)),
        "decode_size": cfg.data.decode_size,
        "recipe": cfg.name,
    }


def train(cfg: RecognitionConfig, *, resume: str | Path | None = "auto", final_eval: bool = True) -> TrainResult:
    """Train the recipe's model, then evaluate it with the recipe's protocol on the test split.

    ``resume="auto"`` continues from the newest checkpoint in ``cfg.train.work_dir`` if there is one.
    """
    from vidlearn.engine import Trainer

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
        step_fn=ClassificationStep(multi_label=getattr(train_set, "multi_label", False),
                                   channels_last=cfg.train.channels_last),
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
        save_weights(model, work_dir / "model.safetensors", metadata=model_metadata(cfg, classes))
    return TrainResult(work_dir, metrics, list(history.epochs), classes, num_params, seconds, history.interrupted)
