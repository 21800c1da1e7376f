"""One training loop for every wing: named models and optimisers, epoch hooks, exact resume.

A wing supplies its step; the :class:`Trainer` does the rest: the seeded resumable DataLoader
(sampler, worker seeding, persistent workers, pinned memory, DDP sharding), the optimisers and their
per-step schedules, AMP, gradient accumulation and clipping (per optimiser), EMA copies, DDP,
checkpoints, exact resume, SIGTERM, progress and logs.

The simple case, one model and one loss (the trainer calls backward and steps the optimiser)::

    def step_fn(model, batch):
        clips, labels = batch                       # already on the trainer's device
        logits = model(clips)
        loss = F.cross_entropy(logits, labels)
        return loss, {"acc": (logits.argmax(1) == labels).float().mean()}

    trainer = Trainer(model, dataset, step_fn=step_fn, batch_size=8, num_workers=4,
                      optim=cfg.optim, schedule=cfg.schedule, config=cfg.train, eval_fn=evaluate)
    history = trainer.fit(resume="auto")           # or a checkpoint path, or None
    if history.interrupted: ...                    # SIGTERM: a checkpoint was saved, exit 143

Several models: pass a mapping (``{"g": G, "d": D}``); by default each gets its own optimiser of the
same name (``optimizer_models`` groups models under one optimiser; ``optim`` and ``schedule`` may be
mappings by optimiser name); ``ema={"g": 0.999}`` keeps an averaged copy (``trainer.ema["g"]``). The
step then receives the mapping of models. A step object with ``manual_optimization = True`` gets a
:class:`~vidlearn.engine.step.StepContext` instead of the model and calls ``ctx.backward(loss, name)``
and ``ctx.step(name)`` itself, for alternating updates (a GAN's D and G steps); see
:mod:`vidlearn.engine.step`.

``step_fn`` may be a function or an object with ``training_step`` (and optionally ``evaluate``, used
as ``eval_fn``, and the epoch hooks below). Metrics that are floats (or floating tensors) are
averaged over the epoch's batches and reported as ``train_<name>``; ints (or integer tensors) are
counters, summed. The engine counts the items a dataset replaced (``on_error="skip"``) itself, from
the batch's ``skipped`` entries (:func:`~vidlearn.engine.meters.count_skipped_items`). ``eval_fn``
runs on every rank under ``torch.no_grad`` with the models in eval mode; it receives the model (or
the mapping of models, EMA copies under ``"<name>_ema"``) and returns global metrics, which appear as
``val_<name>``.

Epoch hooks: before each epoch (also a resumed one) the trainer calls ``set_epoch(epoch)`` on the
training dataset when it has one (so per-item randomness changes every epoch, in every worker), then
``on_epoch_start(trainer)`` of the step object and the callbacks; ``on_epoch_end(trainer, summary)``
follows the epoch's evaluation; ``on_train_start`` / ``on_train_end`` bracket :meth:`Trainer.fit`.

Exact resume: checkpoints are taken at training-step boundaries and hold every named model,
optimiser, scheduler, scaler and EMA copy, gradients held mid-accumulation, the position (epoch,
batches done, global step), every rank's RNG states, the epoch's running sums and the config; the
data order is a function of ``(seed, epoch)`` and the resumed epoch skips the batches already done,
so a killed and resumed run ends with the same weights as an uninterrupted one (CPU,
``deterministic: true``; on GPU up to non-deterministic kernels). A fresh ``fit()`` into a work_dir
that already holds checkpoints is refused (``FileExistsError``).

Resume guards (:class:`ResumeError`): the run config saved in the checkpoint is compared with the
current one before any state is loaded, and a difference in any key but those the caller declares
changeable (``resume_changeable_keys``, dotted paths with ``*`` wildcards, e.g. ``train.max_epochs``)
is refused with the differing keys named, unless ``fit(allow_changed_config=True)``; a checkpoint
of a finished run (its epoch at ``max_epochs``, or ``max_steps`` reached) is refused too rather than
rewritten. ``trainer.resumed_from`` is the checkpoint a run continued from (None for a fresh one).

Files (rank 0 only): ``work_dir/config.yaml`` (``run_config``), ``checkpoints/`` (see
:mod:`vidlearn.engine.checkpoint`; the ``model`` entry, the first model's state dict, loads with
``vidlearn.models.load_weights``), ``log.jsonl``, ``steps.csv``, ``epochs.csv`` and ``tensorboard/``
(see :mod:`vidlearn.engine.loggers`).

DDP: under ``torchrun`` the trainer joins the process group itself (``init_distributed``) and shards
the data; a single model with the automatic step is wrapped in ``DistributedDataParallel``, other
set-ups average each optimiser's gradients over the ranks before it steps. ``batch_size`` is per
process. The caller ends with ``shutdown_distributed()``. Resuming on several machines needs
``work_dir`` on a shared file system.

This module is long (about 770 lines): the loop, the checkpoint it writes and the resume that reads
it are one mechanism, and a reader checking why a resumed run is exact needs them side by side. The
parts the loop drives (models, optimisers, accumulation, EMA) live in :mod:`vidlearn.engine.step`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import signal
import threading
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from vidlearn.engine import distributed as dist_utils
from vidlearn.engine.checkpoint import (
    capture_rng_state,
    find_latest_checkpoint,
    load_checkpoint,
    restore_rng_state,
    save_checkpoint,
)
from vidlearn.engine.config import (
    OptimConfig,
    ScheduleConfig,
    TrainerConfig,
    config_from_dict,
    config_to_dict,
    save_config,
)
from vidlearn.engine.data import ResumableBatchSampler, build_train_loader
from vidlearn.engine.ema import ExponentialMovingAverage
from vidlearn.engine.loggers import RunLogger
from vidlearn.engine.meters import EpochMeter, batch_length, count_skipped_items, move_to_device, plain_number
from vidlearn.engine.precision import autocast, guard_bf16_conv3d_weight_grad, to_channels_last
from vidlearn.engine.resume import ResumeError, config_differences, flatten_config
from vidlearn.engine.seeding import configure_determinism, seed_everything
from vidlearn.engine.step import StepContext, TrainingParts
from vidlearn.utils.machine import cpu_has_bf16

__all__ = ["Callback", "History", "ResumeError", "StepFn", "Trainer", "config_differences"]

logger = logging.getLogger("vidlearn.engine")

StepFn = Callable[[Any, Any], Any]

HOOKS = ("on_train_start", "on_epoch_start", "on_step_end", "on_epoch_end", "on_train_end")


class Callback:
    """Hooks called on every rank; override what you need."""

    def on_train_start(self, trainer: Trainer) -> None:
        """Once :meth:`Trainer.fit` has restored any checkpoint, before the first batch."""

    def on_epoch_start(self, trainer: Trainer) -> None:
        """Before an epoch's (or a resumed epoch's) first batch; ``trainer.epoch`` is 0-based."""

    def on_step_end(self, trainer: Trainer, metrics: Mapping[str, float]) -> None:
        """After a logged training step, with the row written to the logs."""

    def on_epoch_end(self, trainer: Trainer, summary: Mapping[str, float]) -> None:
        """After an epoch (and its evaluation), with the epoch summary."""

    def on_train_end(self, trainer: Trainer) -> None:
        """When :meth:`Trainer.fit` returns (also after a SIGTERM stop)."""


@dataclass
class History:
    """What :meth:`Trainer.fit` returns: the epoch summaries and how the run ended."""

    epochs: list[dict[str, Any]] = field(default_factory=list)
    global_step: int = 0
    interrupted: bool = False
    last_checkpoint: Path | None = None


def _unwrap_dataset(loader: DataLoader) -> Any:
    dataset = loader.dataset
    return getattr(dataset, "dataset", dataset) if type(dataset).__name__ == "_SeededDataset" else dataset


class Trainer:
    """Trains one model or several named ones on a dataset (or a ready DataLoader) with a wing's step.

    Args:
        model: the network, or a mapping of names to networks (``{"g": G, "d": D}``); moved to the
            device; checkpoints hold every ``state_dict``.
        train_data: a map-style ``Dataset`` (the trainer builds a seeded, resumable, DDP-aware
            DataLoader; ``batch_size`` is per process) or a ``DataLoader`` (used as is; resuming
            mid-epoch then fast-forwards by loading and dropping batches).
        step_fn: ``(model, batch) -> loss`` or ``(loss, metrics)`` (``model`` is the mapping when
            there are several), or an object with ``training_step``; with ``manual_optimization =
            True`` it is called as ``training_step(ctx, batch) -> metrics`` and steps the optimisers
            itself. The batch is already on the device; the call runs under the run's autocast.
        optim, schedule: one config for every optimiser or a mapping by optimiser name.
        config: the engine's trainer section.
        optimizer_models: optimiser name -> the model names it updates (default: one per model).
        ema: model name -> decay of an exponential moving average of its weights.
        eval_fn: ``(model or models) -> metrics`` run every ``config.eval_every_epochs`` epochs.
        run_config: the full recipe (dataclass or dict) saved in checkpoints and ``config.yaml``.
        resume_changeable_keys: dotted keys of ``run_config`` (or, without one, of ``train.``,
            ``optim.<name>.``, ``schedule.<name>.``) that may differ from the checkpoint's on resume;
            ``*`` matches any part. Any other difference is a :class:`ResumeError`.
    """

    def __init__(
        self,
        model: nn.Module | Mapping[str, nn.Module],
        train_data: Dataset | DataLoader,
        *,
        step_fn: StepFn | Any,
        optim: OptimConfig | Mapping[str, OptimConfig] | None = None,
        schedule: ScheduleConfig | Mapping[str, ScheduleConfig] | None = None,
        config: TrainerConfig | None = None,
        batch_size: int | None = None,
        num_workers: int = 0,
        collate_fn: Callable[[list[Any]], Any] | None = None,
        pin_memory: bool | None = None,
        drop_last: bool = False,
        eval_fn: Callable[[Any], Mapping[str, Any]] | None = None,
        callbacks: Sequence[Callback] = (),
        run_config: Any = None,
        optimizer_models: Mapping[str, Sequence[str]] | None = None,
        ema: Mapping[str, float] | None = None,
        ema_start_step: int = 0,
        resume_changeable_keys: Sequence[str] = (),
    ) -> None:
        self.config = cfg = config or TrainerConfig()
        if cfg.grad_accum_steps < 1:
            raise ValueError(f"train.grad_accum_steps must be >= 1, got {cfg.grad_accum_steps}")
        if cfg.max_epochs < 1:
            raise ValueError(f"train.max_epochs must be >= 1, got {cfg.max_epochs}")
        if cfg.max_steps is not None and cfg.max_steps < 1:
            raise ValueError(f"train.max_steps must be >= 1 when set, got {cfg.max_steps}")
        self.manual = bool(getattr(step_fn, "manual_optimization", False))
        self.step_fn = getattr(step_fn, "training_step", step_fn)
        if not callable(self.step_fn):
            raise TypeError("step_fn must be callable or have a training_step method")
        self.step_object = step_fn if hasattr(step_fn, "training_step") else None
        self.eval_fn = eval_fn if eval_fn is not None else getattr(step_fn, "evaluate", None)
        self.callbacks = list(callbacks)
        self.run_config = run_config
        self.resume_changeable_keys = tuple(resume_changeable_keys)
        self.resumed_from: Path | None = None
        self.work_dir = Path(cfg.work_dir)

        if cfg.deterministic:
            configure_determinism(True)
        self.dist = dist_utils.init_distributed(cfg.device)
        self.device = self.dist.device
        self.is_main = self.dist.rank == 0
        if cfg.amp == "fp16" and self.device.type != "cuda":
            raise ValueError("train.amp=fp16 needs a CUDA device; use train.amp=bf16 on the CPU")
        if cfg.amp == "bf16" and self.device.type == "cpu" and cpu_has_bf16() is False:
            logger.warning("train.amp=bf16 on a CPU without bf16 instructions: autocast emulates bf16 there and "
                           "trains several times slower than float32 (train.amp=none)")
        seed_everything(cfg.seed + self.dist.rank)

        self.single = isinstance(model, nn.Module)
        models = {"model": model} if isinstance(model, nn.Module) else dict(model)
        if not models or not all(isinstance(m, nn.Module) for m in models.values()):
            raise TypeError("model must be an nn.Module or a non-empty mapping of names to nn.Module")
        for name, module in models.items():
            module.to(self.device)
            if cfg.channels_last:
                to_channels_last(module)
            if cfg.amp == "bf16" and self.device.type == "cpu":
                # CPU bf16 conv3d weight gradients are wrong when 1 < input depth < kernel depth.
                guarded = guard_bf16_conv3d_weight_grad(module)
                if guarded:
                    logger.debug("bf16 on the CPU: %d 3D convolutions of %s guarded", guarded, name)

        self.loader = self._build_loader(train_data, batch_size, num_workers, collate_fn, pin_memory, drop_last)
        self.train_dataset = _unwrap_dataset(self.loader)
        self._batch_sampler = self.loader.batch_sampler
        self.batches_per_epoch = (
            self._batch_sampler.batches_per_epoch
            if isinstance(self._batch_sampler, ResumableBatchSampler)
            else len(self.loader)
        )
        if self.batches_per_epoch == 0:
            raise ValueError(
                "the training data gives no batch (fewer samples than batch_size with drop_last?)"
            )
        self.steps_per_epoch = math.ceil(self.batches_per_epoch / cfg.grad_accum_steps)
        self.parts = TrainingParts(
            models, optim=optim, schedule=schedule, config=cfg, batches_per_epoch=self.batches_per_epoch,
            device=self.device, optimizer_models=optimizer_models, ema=ema, ema_start_step=ema_start_step,
        )
        if cfg.amp == "fp16" and not self.manual and len(self.parts.optimizers) > 1:
            raise ValueError("train.amp=fp16 with several optimisers needs a manual step (one scaler each)")

        # One DDP wrapper for the simple case; otherwise StepContext.step averages gradients itself.
        ddp_wrapped = self.dist.world_size > 1 and len(models) == 1 and not self.manual
        train_models: dict[str, nn.Module] = {}
        for name, module in models.items():
            wrapped: nn.Module = module
            if ddp_wrapped:
                device_ids = [self.device.index] if self.device.type == "cuda" else None
                wrapped = nn.parallel.DistributedDataParallel(module, device_ids=device_ids)
            if cfg.compile:
                wrapped = torch.compile(wrapped)  # type: ignore[assignment]
            train_models[name] = wrapped
        self.context = StepContext(self.parts, train_models, world_size=self.dist.world_size,
                                   ddp_wrapped=ddp_wrapped)

        self.epoch = 0
        self.batches_done = 0
        self.global_step = 0
        self.history = History()
        self._meter = EpochMeter()
        self._stop_requested = False
        self.logs = RunLogger(self.work_dir, tensorboard=cfg.tensorboard, enabled=self.is_main)

    def _build_loader(self, train_data: Dataset | DataLoader, batch_size: int | None, num_workers: int,
                      collate_fn: Any, pin_memory: bool | None, drop_last: bool) -> DataLoader:
        if isinstance(train_data, DataLoader):
            if batch_size is not None or num_workers or collate_fn is not None:
                raise ValueError(
                    "batch_size, num_workers and collate_fn apply when the trainer builds the DataLoader "
                    "from a dataset; set them on the DataLoader passed instead"
                )
            return train_data
        if batch_size is None:
            raise ValueError("batch_size is required when the trainer builds the DataLoader")
        return build_train_loader(
            train_data,
            batch_size=batch_size,
            seed=self.config.seed,
            drop_last=drop_last,
            num_workers=num_workers,
            collate_fn=collate_fn,
            pin_memory=self.device.type == "cuda" if pin_memory is None else pin_memory,
            rank=self.dist.rank,
            world_size=self.dist.world_size,
        )

    # ------------------------------------------------------------------------------------------
    # Named parts

    @property
    def models(self) -> dict[str, nn.Module]:
        """The named models (unwrapped)."""
        return self.parts.models

    @property
    def model(self) -> nn.Module:
        """The first (or only) model."""
        return next(iter(self.parts.models.values()))

    @property
    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return self.parts.optimizers

    @property
    def optimizer(self) -> torch.optim.Optimizer:
        """The first (or only) optimiser."""
        return next(iter(self.parts.optimizers.values()))

    @property
    def schedulers(self) -> dict[str, torch.optim.lr_scheduler.LRScheduler]:
        return self.parts.schedulers

    @property
    def scheduler(self) -> torch.optim.lr_scheduler.LRScheduler:
        """The first (or only) schedule."""
        return next(iter(self.parts.schedulers.values()))

    @property
    def ema(self) -> dict[str, ExponentialMovingAverage]:
        """EMA copies by model name."""
        return self.parts.emas

    @property
    def train_model(self) -> nn.Module:
        """The first model as trained (DDP- or compile-wrapped)."""
        return next(iter(self.context.models.values()))

    def eval_models(self) -> nn.Module | dict[str, nn.Module]:
        """What ``eval_fn`` receives: the model, or the mapping of models plus ``<name>_ema`` copies."""
        if self.single and not self.parts.emas:
            return self.model
        models: dict[str, nn.Module] = dict(self.parts.models)
        models.update({f"{name}_ema": e.module for name, e in self.parts.emas.items()})
        return models

    # ------------------------------------------------------------------------------------------
    # Checkpoints

    def state_dict(self) -> dict[str, Any]:
        """Everything a checkpoint holds (this rank's view; RNG states of all ranks are gathered)."""
        rng_states = dist_utils.all_gather_object(capture_rng_state())
        sampler = (
            self._batch_sampler.sampler.state_dict()
            if isinstance(self._batch_sampler, ResumableBatchSampler)
            else {}
        )
        return {
            # The first model's weights under "model", so vidlearn.models.load_weights reads the file.
            "model": self.model.state_dict(),
            **self.parts.state_dict(self.batches_done),
            "epoch": self.epoch,
            "batches_done": self.batches_done,
            "global_step": self.global_step,
            "world_size": self.dist.world_size,
            "rng": rng_states,
            "sampler": sampler,
            "epoch_meter": self._meter.state_dict(),
            "history": self.history.epochs,
            "config": self._config_record(),
        }

    def _config_record(self) -> dict[str, Any]:
        return {
            "optim": {k: config_to_dict(v) for k, v in self.parts.optim_configs.items()},
            "schedule": {k: config_to_dict(v) for k, v in self.parts.schedule_configs.items()},
            "train": config_to_dict(self.config),
            "run": config_to_dict(self.run_config),
        }

    def _check_resume_config(self, state: Mapping[str, Any], path: str | Path) -> None:
        """Refuse a checkpoint written under another config (but the changeable keys), naming the keys."""
        saved = state.get("config")
        if not isinstance(saved, Mapping):
            return  # an older checkpoint without its config: nothing to compare
        current = self._config_record()
        if saved.get("run") is not None and current["run"] is not None:
            old, new = saved["run"], current["run"]
            if dataclasses.is_dataclass(self.run_config):
                # Read the saved recipe through today's schema: a key added since takes its default,
                # as the older code behaved, rather than counting as a change.
                with contextlib.suppress(Exception):
                    old = config_to_dict(config_from_dict(old, type(self.run_config)))
        else:
            old = {k: saved.get(k) for k in ("train", "optim", "schedule")}
            new = {k: current[k] for k in ("train", "optim", "schedule")}
        differing = config_differences(old, new, self.resume_changeable_keys)
        if differing:
            old_flat, new_flat = flatten_config(old), flatten_config(new)
            shown = "; ".join(
                f"{key}: {old_flat.get(key, '<absent>')!r} -> {new_flat.get(key, '<absent>')!r}"
                for key in differing[:8]
            )
            more = f" (and {len(differing) - 8} more)" if len(differing) > 8 else ""
            allowed = ", ".join(self.resume_changeable_keys) or "none"
            raise ResumeError(
                f"{path}: the run in {self.work_dir} was started with another config; differing keys: "
                f"{shown}{more}. Only these keys may change on resume: {allowed}. Use the run's own config "
                "(config.yaml in the work dir), choose another work_dir, or allow the change explicitly"
            )

    def _check_not_finished(self, path: str | Path) -> None:
        cfg = self.config
        if self._max_steps_reached():
            raise ResumeError(
                f"{path}: the run in {self.work_dir} already reached train.max_steps={cfg.max_steps} "
                f"(step {self.global_step}); nothing is left to train and it is not rewritten. To train "
                "longer, raise train.max_steps; to start afresh, choose another work_dir",
                finished=True,
            )
        if self.epoch >= cfg.max_epochs:
            raise ResumeError(
                f"{path}: the run in {self.work_dir} already finished epoch {self.epoch} and "
                f"train.max_epochs is {cfg.max_epochs}; nothing is left to train and it is not rewritten. "
                f"To train longer, raise train.max_epochs above {self.epoch}; to start afresh, choose "
                "another work_dir",
                finished=True,
            )

    def save_checkpoint(self) -> Path | None:
        """Save a checkpoint now (rank 0 writes; every rank must call). Returns its path on rank 0."""
        state = self.state_dict()
        path = None
        if self.is_main:
            path = save_checkpoint(
                state,
                self.work_dir,
                # Named by the epoch in progress, or the one just completed at an epoch end.
                epoch=self.epoch + 1 if self.batches_done else self.epoch,
                global_step=self.global_step,
                keep=self.config.keep_checkpoints,
            )
            self.history.last_checkpoint = path
        dist_utils.barrier()
        return path

    def load_checkpoint(self, path: str | Path, *, allow_changed_config: bool = True) -> None:
        """Restore a checkpoint written by :meth:`save_checkpoint` (position, states and RNG).

        With ``allow_changed_config=False`` a checkpoint whose saved config differs from this
        trainer's in a key not declared changeable raises :class:`ResumeError` before anything loads.
        """
        state = load_checkpoint(path, map_location="cpu")
        if not allow_changed_config:
            self._check_resume_config(state, path)
        if "models" not in state:  # format 1: one model and one optimiser, stored flat
            state = {**state, "models": {"model": state["model"]}, "optimizers": {"model": state["optimizer"]},
                     "schedulers": {"model": state["scheduler"]}, "scalers": {"model": state["scaler"]}, "ema": {}}
        try:
            self.parts.load_state_dict(state, str(path))
        except RuntimeError as error:  # torch's "size mismatch for fc7.bias ..." (a changed model)
            details = [line.strip() for line in str(error).splitlines() if line.strip()]
            shown = "; ".join(details[1:4] or details[:1])
            more = f" (and {len(details) - 4} more)" if len(details) > 4 else ""
            raise ResumeError(f"{path}: cannot resume: the checkpoint does not fit this run's model or "
                              f"optimiser: {shown}{more}") from error
        self.epoch = int(state["epoch"])
        self.batches_done = int(state["batches_done"])
        self.global_step = int(state["global_step"])
        self.history.epochs = list(state["history"])
        self.history.global_step = self.global_step
        self._meter.load_state_dict(state["epoch_meter"])
        saved_world = int(state.get("world_size", 1))
        if saved_world != self.dist.world_size:
            warnings.warn(
                f"{path}: written by {saved_world} process(es), resumed by {self.dist.world_size}; "
                "training continues but the data order differs from an uninterrupted run",
                stacklevel=2,
            )
            self.batches_done = min(self.batches_done, self.batches_per_epoch)
        saved_seed = state.get("sampler", {}).get("seed")
        if saved_seed is not None and saved_seed != self.config.seed:
            warnings.warn(
                f"{path}: written with train.seed={saved_seed}, resumed with {self.config.seed}; "
                "the data order differs from the interrupted run",
                stacklevel=2,
            )
        rng = state["rng"]
        restore_rng_state(rng[self.dist.rank] if self.dist.rank < len(rng) else rng[0])
        self.resumed_from = Path(path)
        self.logs.truncate_after(self.global_step)
        if self.is_main:
            logger.info(
                "resumed from %s (epoch %d, batch %d, step %d)",
                path,
                self.epoch,
                self.batches_done,
                self.global_step,
            )

    def _resolve_resume(self, resume: str | Path | None) -> Path | None:
        if resume is None or resume is False:
            return None
        if str(resume) == "auto":
            return find_latest_checkpoint(self.work_dir)
        path = Path(resume)
        if not path.is_file():
            raise FileNotFoundError(f"resume checkpoint not found: {path}")
        return path

    # ------------------------------------------------------------------------------------------
    # The loop

    def _install_sigterm(self) -> Callable[[], None]:
        if threading.current_thread() is not threading.main_thread():
            return lambda: None

        def request_stop(signum: int, frame: Any) -> None:
            # Only set a flag: the loop saves at the next step boundary, where the state is whole.
            self._stop_requested = True

        previous = signal.signal(signal.SIGTERM, request_stop)
        return lambda: signal.signal(signal.SIGTERM, previous)

    def _should_stop(self) -> bool:
        if self.dist.world_size == 1:
            return self._stop_requested
        # Every rank must stop at the same step, or the next collective would hang.
        return dist_utils.all_reduce_sum(float(self._stop_requested)) > 0

    def _hook(self, name: str, *args: Any) -> None:
        for target in (self.step_object, *self.callbacks):
            method = getattr(target, name, None) if target is not None else None
            if method is not None:
                method(self, *args)

    def _start_epoch(self) -> None:
        set_epoch = getattr(self.train_dataset, "set_epoch", None)
        if callable(set_epoch):
            set_epoch(self.epoch)
        self._hook("on_epoch_start")

    def _run_step(self, batch: Any) -> dict[str, Any]:
        """One batch: the step under autocast, then (automatic step) backward and optimiser steps."""
        ctx = self.context
        ctx.batch_index = self.batches_done
        with autocast(self.device, self.config.amp):
            if self.manual:
                metrics = dict(self.step_fn(ctx, batch) or {})
                return metrics
        last = all(self.parts.group(name, self.batches_done)[1] for name in self.parts.optimizers)
        with ctx.no_sync(last or self.dist.world_size == 1):
            with autocast(self.device, self.config.amp):
                output = self.step_fn(self.train_model if self.single else ctx.models, batch)
            loss, metrics = (output, {}) if isinstance(output, torch.Tensor) else output
            if not isinstance(loss, torch.Tensor) or loss.ndim != 0:
                raise TypeError("step_fn must return a scalar loss tensor (or a (loss, metrics) pair)")
            ctx.backward(loss)
        ctx.step()
        metrics = dict(metrics)
        metrics["loss"] = loss.detach()
        return metrics

    def _epoch_batches(self) -> Any:
        if isinstance(self._batch_sampler, ResumableBatchSampler):
            self._batch_sampler.set_epoch(self.epoch, self.batches_done)
            return iter(self.loader)
        sampler = getattr(self.loader, "sampler", None)
        if hasattr(sampler, "set_epoch"):
            sampler.set_epoch(self.epoch)
        iterator = iter(self.loader)
        for _ in range(self.batches_done):  # a foreign loader cannot skip: load and drop
            next(iterator)
        return iterator

    def _progress(self) -> Any:
        if not (self.is_main and self.config.progress_bar):
            return None
        from tqdm.auto import tqdm

        return tqdm(
            total=self.batches_per_epoch,
            initial=self.batches_done,
            desc=f"epoch {self.epoch + 1}/{self.config.max_epochs}",
            unit="batch",
            dynamic_ncols=True,
            leave=False,
        )

    def _max_steps_reached(self) -> bool:
        return self.config.max_steps is not None and self.global_step >= self.config.max_steps

    def _train_epoch(self) -> str:
        """Run the rest of the current epoch: ``"done"``, ``"stopped"`` (SIGTERM) or ``"max_steps"``."""
        cfg = self.config
        accum = cfg.grad_accum_steps
        bar = self._progress()
        started = time.perf_counter()
        samples_seen = 0
        step_sums: dict[str, float] = {}
        for module in self.context.models.values():
            module.train()
        try:
            for batch in self._epoch_batches():
                index = self.batches_done
                group_start = index - index % accum
                group_size = min(accum, self.batches_per_epoch - group_start)
                batch = move_to_device(batch, self.device)
                n = batch_length(batch) or 1
                metrics = self._run_step(batch)
                skipped = count_skipped_items(batch)
                if skipped is not None:
                    metrics["skipped"] = skipped
                self._meter.add(metrics)
                for key, value in metrics.items():
                    if isinstance(value, (int, float, torch.Tensor)) and not isinstance(value, bool):
                        step_sums[key] = step_sums.get(key, 0) + value
                samples_seen += n * self.dist.world_size
                self._meter.samples += n
                self.batches_done += 1
                if bar is not None:
                    bar.update(1)
                if index - group_start != group_size - 1:
                    continue
                self.global_step += 1
                if cfg.log_every_steps > 0 and self.global_step % cfg.log_every_steps == 0:
                    rate = samples_seen / max(1e-9, time.perf_counter() - started)
                    self._log_step(step_sums, group_size, rate, bar)
                step_sums = {}
                epoch_done = self.batches_done >= self.batches_per_epoch
                if self._should_stop():
                    path = self.save_checkpoint()
                    if self.is_main:
                        logger.warning(
                            "SIGTERM received: saved checkpoint %s at epoch %d, batch %d, step %d; stopping "
                            "(resume with resume='auto')",
                            path,
                            self.epoch + 1,
                            self.batches_done,
                            self.global_step,
                        )
                    self.history.interrupted = True
                    return "stopped"
                if self._max_steps_reached() and not epoch_done:
                    self.save_checkpoint()
                    return "max_steps"
                # At the epoch's last step the epoch-end checkpoint follows; don't save twice.
                every = cfg.checkpoint_every_steps
                if every > 0 and self.global_step % every == 0 and not epoch_done:
                    self.save_checkpoint()
        finally:
            if bar is not None:
                bar.close()
        return "done"

    def _lr_row(self) -> dict[str, float]:
        lrs = self.parts.last_lr
        if len(lrs) == 1:
            return {"lr": next(iter(lrs.values()))}
        return {f"lr_{name}": value for name, value in lrs.items()}

    def _log_step(self, sums: dict[str, Any], group_size: int, rate: float, bar: Any) -> None:
        keys = [
            k
            for k, v in sums.items()
            if not (isinstance(v, int) or (isinstance(v, torch.Tensor) and not v.is_floating_point()))
        ]
        means = {k: float(sums[k]) / group_size for k in keys}
        counters = {k: float(v) for k, v in sums.items() if k not in means}
        row = dist_utils.reduce_metrics(means)
        row = {k: v / self.dist.world_size for k, v in row.items()}
        row.update({k: int(v) for k, v in dist_utils.reduce_metrics(counters).items()})
        row.update(self._lr_row())
        row["samples_per_s"] = rate
        self.logs.log_step(self.global_step, self.epoch + 1, row)
        shown = {k: row[k] for k in row if k == "loss" or k.endswith("_loss")}
        if bar is not None:
            bar.set_postfix({**{k: f"{v:.4f}" for k, v in shown.items()}, "samples_s": f"{rate:.1f}"})
        elif self.is_main:
            text = " ".join(f"{k} {v:.4f}" for k, v in shown.items())
            logger.info("epoch %d step %d: %s %.1f samples/s", self.epoch + 1, self.global_step, text, rate)
        for callback in self.callbacks:
            callback.on_step_end(self, row)

    def _end_epoch(self, epoch_time: float) -> None:
        summary: dict[str, Any] = self._meter.reduce()
        summary.update(self._lr_row())
        summary["epoch_time_s"] = epoch_time
        summary["samples_per_s"] = dist_utils.all_reduce_sum(self._meter.samples) / max(1e-9, epoch_time)
        every = self.config.eval_every_epochs
        last = self.epoch + 1 == self.config.max_epochs or self._max_steps_reached()
        if self.eval_fn is not None and every > 0 and ((self.epoch + 1) % every == 0 or last):
            for module in self.parts.models.values():
                module.eval()
            with torch.no_grad():
                results = self.eval_fn(self.eval_models())
            for module in self.parts.models.values():
                module.train()
            summary.update({f"val_{k}": plain_number(v) for k, v in dict(results).items()})
        summary = {"epoch": self.epoch + 1, **summary}
        self.history.epochs.append(summary)
        self.logs.log_epoch(self.epoch + 1, self.global_step, summary)
        if self.is_main:
            text = " ".join(
                f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in summary.items()
            )
            logger.info("%s", text)
        self._hook("on_epoch_end", summary)

    def fit(self, resume: str | Path | None = None, *, allow_changed_config: bool = False) -> History:
        """Train to ``config.max_epochs`` (or ``max_steps``); ``resume`` is ``"auto"`` (latest in
        work_dir, if any), a checkpoint path or None (from scratch). Returns the :class:`History`.

        Resuming refuses (:class:`ResumeError`) a checkpoint saved under another config, but for the
        ``resume_changeable_keys``, unless ``allow_changed_config``, and one of a finished run."""
        path = self._resolve_resume(resume)
        if path is not None:
            self.load_checkpoint(path, allow_changed_config=allow_changed_config)
            self._check_not_finished(path)
        elif find_latest_checkpoint(self.work_dir) is not None:
            # Starting afresh would mix two runs' checkpoints and logs in one folder.
            raise FileExistsError(
                f"{self.work_dir} already holds checkpoints of a run; resume it with resume='auto' "
                "or choose another work_dir"
            )
        if self.is_main and self.run_config is not None:
            save_config(self.run_config, self.work_dir / "config.yaml")
        restore_signal = self._install_sigterm()
        self._hook("on_train_start")
        try:
            while self.epoch < self.config.max_epochs and not self._max_steps_reached():
                started = time.perf_counter()
                self._start_epoch()
                outcome = self._train_epoch()
                if outcome == "stopped":
                    break
                if outcome == "max_steps":
                    # Mid-epoch: the partial epoch is summarised (and evaluated) once.
                    self._end_epoch(time.perf_counter() - started)
                    break
                self._end_epoch(time.perf_counter() - started)
                self.epoch += 1
                self.batches_done = 0
                self._meter = EpochMeter()
                path = self.save_checkpoint()
                if self._should_stop() and self.epoch < self.config.max_epochs:
                    # SIGTERM during the epoch's last step or its evaluation: this checkpoint will do.
                    if self.is_main:
                        logger.warning(
                            "SIGTERM received: saved checkpoint %s at the end of epoch %d; stopping "
                            "(resume with resume='auto')",
                            path,
                            self.epoch,
                        )
                    self.history.interrupted = True
                    break
        finally:
            restore_signal()
            self.logs.close()
            self._hook("on_train_end")
        self.history.global_step = self.global_step
        return self.history
