"""Train a recognition recipe on the engine, evaluate it, and save what ``predict`` needs.

``train(cfg)`` trains a registered model with :class:`vidlearn.engine.Trainer` (one process or DDP
under ``torchrun``), evaluates it with the recipe's ``num_clips x num_crops`` protocol, and writes
into ``cfg.train.work_dir``: engine checkpoints and logs, ``model.safetensors`` (weights plus the
metadata ``predict`` needs: model name and options, class names, preprocessing),
``metrics.json``, ``confusion_matrix.png`` and ``per_class.csv``; ``model.json`` (the same metadata,
written when training starts, so that ``predict`` also reads the engine checkpoints of the run).

Resuming (``resume="auto"``, the default) continues the run in the work dir only under the same
recipe: any difference but in :data:`RESUME_CHANGEABLE_KEYS` is refused naming the keys
(:class:`vidlearn.engine.ResumeError`) unless ``allow_changed_recipe=True``, and a finished run is
refused rather than rewritten (raise ``train.max_epochs`` to train it longer). The console shows
what a run resumes from and one line per epoch (loss, accuracy, held-out top-1).
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from torch import nn

from vidlearn.engine import distributed as dist_utils
from vidlearn.engine.seeding import seed_everything
from vidlearn.engine.trainer import Callback
from vidlearn.models import save_weights
from vidlearn.recognition.builders import build_dataset, build_model, check_model_kwargs
from vidlearn.recognition.preprocessing import preprocessing_of
from vidlearn.recognition.protocols import run_protocol, write_evaluation
from vidlearn.recognition.recipe import RecognitionConfig
from vidlearn.recognition.steps import ClassificationStep

__all__ = ["RESUME_CHANGEABLE_KEYS", "TrainResult", "finished_run_result", "model_metadata", "train"]

#: Recipe keys that may differ from the saved run's on resume: how long to train (a finished run
#: continues when ``train.max_epochs`` / ``max_steps`` grow), where and how it reports, the evaluation
#: protocol, the loader's worker count (the data order depends on the seed and epoch only) and the
#: recipe's ``name`` (a label: the file's stem). Anything else (model, data, optimiser, schedule,
#: seed...) would make the continued run another one.
RESUME_CHANGEABLE_KEYS: tuple[str, ...] = (
    "name", "train.max_epochs", "train.max_steps", "train.work_dir", "train.progress_bar", "train.log_every_steps",
    "train.tensorboard", "train.keep_checkpoints", "train.checkpoint_every_steps", "train.device",
    "data.num_workers", "evaluate.*",
)


class ConsoleReport(Callback):
    """What the user sees on the console (stderr, beside the progress bar): the checkpoint a run
    resumes from and one line per epoch with the training loss and accuracy and the held-out top-1."""

    def __init__(self, stream: Any = None) -> None:
        self.stream = stream

    def _print(self, text: str) -> None:
        if dist_utils.is_main_process():
            print(text, file=self.stream or sys.stderr, flush=True)

    def on_train_start(self, trainer: Any) -> None:
        if trainer.resumed_from is not None:
            self._print(f"resuming from {trainer.resumed_from} (epoch {trainer.epoch} of "
                        f"{trainer.config.max_epochs} done, step {trainer.global_step})")

    def on_epoch_end(self, trainer: Any, summary: Any) -> None:
        parts = [f"epoch {summary['epoch']}/{trainer.config.max_epochs}"]
        for key, label in (("train_loss", "loss"), ("train_acc", "acc"), ("val_top1", "val top1")):
            value = summary.get(key)
            if isinstance(value, float):
                parts.append(f"{label} {value:.4f}" if key == "train_loss" else f"{label} {100 * value:.1f}%")
        parts.append(f"{summary.get('epoch_time_s', 0.0):.1f} s")
        self._print("  ".join(parts))


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


class _WriteMetadata(Callback):
    """Writes ``model.json`` once the trainer has accepted the run (after any resume checks)."""

    def __init__(self, metadata: dict[str, Any]) -> None:
        self.metadata = metadata

    def on_train_start(self, trainer: Any) -> None:
        if dist_utils.is_main_process():
            trainer.work_dir.mkdir(parents=True, exist_ok=True)
            (trainer.work_dir / "model.json").write_text(json.dumps(self.metadata, indent=1))


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


def train(cfg: RecognitionConfig, *, resume: str | Path | None = "auto", final_eval: bool = True,
          allow_changed_recipe: bool = False, console: bool = True) -> TrainResult:
    """Train the recipe's model, then evaluate it with the recipe's protocol on the test split.

    ``resume="auto"`` continues from the newest checkpoint in ``cfg.train.work_dir`` if there is one,
    under the same recipe but for :data:`RESUME_CHANGEABLE_KEYS` (``allow_changed_recipe`` lifts
    that); ``console`` prints the resume point and one line per epoch to stderr.
    """
    from vidlearn.engine import Trainer

    check_model_kwargs(cfg.model.name, cfg.model.kwargs)  # a misspelt option fails before the data is read
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
        callbacks=[_WriteMetadata(model_metadata(cfg, classes)), *([ConsoleReport()] if console else [])],
        resume_changeable_keys=RESUME_CHANGEABLE_KEYS,
    )
    started = time.perf_counter()
    history = trainer.fit(resume=resume, allow_changed_config=allow_changed_recipe)
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


def finished_run_result(cfg: RecognitionConfig) -> TrainResult:
    """The :class:`TrainResult` of the finished run in ``cfg.train.work_dir``, read from its files
    (``metrics.json``, ``model.safetensors``, ``epochs.csv``) without training or evaluating again.

    For a table that gathers several runs (``vidlearn bench talk``) and is re-made after adding one.
    Raises ``FileNotFoundError`` naming the file a run has not written.
    """
    import csv

    from vidlearn.recognition.checkpoints import load_trained_model

    work_dir = Path(cfg.train.work_dir)
    for name in ("metrics.json", "model.safetensors", "epochs.csv"):
        if not (work_dir / name).is_file():
            raise FileNotFoundError(f"{work_dir / name}: not written; the run in {work_dir} did not finish")
    model, meta = load_trained_model(work_dir / "model.safetensors")
    with (work_dir / "epochs.csv").open() as handle:
        history = [dict(row) for row in csv.DictReader(handle)]
    seconds = sum(float(row["epoch_time_s"]) for row in history if row.get("epoch_time_s"))
    metrics = json.loads((work_dir / "metrics.json").read_text())
    return TrainResult(work_dir, metrics, history, list(meta["classes"]),
                       sum(p.numel() for p in model.parameters()), seconds)
