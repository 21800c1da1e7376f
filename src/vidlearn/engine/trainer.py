"""A generic training loop that knows no task.

The task supplies a ``step_fn(model, batch) -> (loss, metrics)`` (or just ``loss``) and, optionally,
an ``eval_fn(model) -> metrics``; the :class:`Trainer` does the rest: the seeded resumable
DataLoader (sampler, worker seeding, persistent workers, pinned memory, DDP sharding), the optimizer
and per-step schedule, AMP, gradient accumulation and clipping, DDP, checkpoints, exact resume,
SIGTERM, progress and logs::

    def step_fn(model, batch):
        clips, labels = batch                       # already on the trainer's device
        logits = model(clips)
        loss = F.cross_entropy(logits, labels)
        return loss, {"acc": (logits.argmax(1) == labels).float().mean(), "skipped": 0}

    trainer = Trainer(model, dataset, step_fn=step_fn, batch_size=8, num_workers=4,
                      optim=cfg.optim, schedule=cfg.schedule, config=cfg.train, eval_fn=evaluate)
    history = trainer.fit(resume="auto")           # or a checkpoint path, or None
    if history.interrupted: ...                    # SIGTERM: a checkpoint was saved, exit 143

``step_fn`` may also be an object with a ``training_step(model, batch)`` method (and ``evaluate(model)``
used as ``eval_fn``). Metrics that are floats (or floating tensors) are averaged over the epoch's
batches and reported as ``train_<name>``; ints (or integer tensors) are counters, summed (e.g.
videos skipped by ``on_error="skip"``). ``eval_fn`` runs on every rank under ``torch.no_grad`` with
the model in eval mode and should return global metrics (reduce them with
:mod:`vidlearn.engine.distributed`); they appear as ``val_<name>``.

Exact resume: checkpoints are taken at optimizer-step boundaries and hold the model, optimizer,
scheduler, scaler, position (epoch, batches done, global step), every rank's RNG states, the epoch's
running sums and the config; the data order is a function of ``(seed, epoch)`` and the resumed
epoch skips the batches already done, so a killed and resumed run ends with the same weights as an
uninterrupted one (CPU, ``deterministic: true``; on GPU up to non-deterministic kernels).
A fresh ``fit()`` into a work_dir that already holds checkpoints is refused (``FileExistsError``).

Files (rank 0 only): ``work_dir/config.yaml`` (``run_config``), ``checkpoints/`` (see
:mod:`vidlearn.engine.checkpoint`; the ``model`` entry loads with ``vidlearn.models.load_weights``),
``log.jsonl``, ``steps.csv``, ``epochs.csv`` and ``tensorboard/`` (see :mod:`vidlearn.engine.loggers`).

DDP: under ``torchrun`` the trainer joins the process group itself (``init_distributed``), shards
the data, wraps the model in ``DistributedDataParallel`` and all-reduces the logged metrics;
``batch_size`` is per process. The caller ends with ``shutdown_distributed()``. Resuming on several
machines needs ``work_dir`` on a shared file system.
"""

from __future__ import annotations

import contextlib
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
from vidlearn.engine.config import OptimConfig, ScheduleConfig, TrainerConfig, config_to_dict, save_config
from vidlearn.engine.data import ResumableBatchSampler, build_train_loader
from vidlearn.engine.loggers import RunLogger
from vidlearn.engine.meters import EpochMeter, batch_length, move_to_device, plain_number
from vidlearn.engine.optim import build_optimizer, build_scheduler
from vidlearn.engine.seeding import configure_determinism, seed_everything
from vidlearn.models.layers import guard_bf16_conv3d_weight_grad

__all__ = ["Callback", "History", "StepFn", "Trainer"]

logger = logging.getLogger("vidlearn.engine")

StepFn = Callable[[nn.Module, Any], "torch.Tensor | tuple[torch.Tensor, Mapping[str, Any]]"]


class Callback:
    """Hooks called on rank 0 and every other rank; override what you need."""

    def on_step_end(self, trainer: Trainer, metrics: Mapping[str, float]) -> None:
        """After a logged optimizer step, with the row written to the logs."""

    def on_epoch_end(self, trainer: Trainer, summary: Mapping[str, float]) -> None:
        """After an epoch (and its evaluation), with the epoch summary."""


@dataclass
class History:
    """What :meth:`Trainer.fit` returns: the epoch summaries and how the run ended."""

    epochs: list[dict[str, Any]] = field(default_factory=list)
    global_step: int = 0
    interrupted: bool = False
    last_checkpoint: Path | None = None


class Trainer:
    """Trains ``model`` on a dataset (or a ready DataLoader) with a task's ``step_fn``.

    Args:
        model: the network; moved to the device; checkpoints hold its ``state_dict``.
        train_data: a map-style ``Dataset`` (the trainer builds a seeded, resumable, DDP-aware
            DataLoader; ``batch_size`` is per process) or a ``DataLoader`` (used as is; resuming
            mid-epoch then fast-forwards by loading and dropping batches).
        step_fn: ``(model, batch) -> loss`` or ``(loss, metrics)``, or an object with
            ``training_step`` (and optionally ``evaluate``); the batch is already on the device and
            the call runs under autocast when ``config.amp`` asks for it.
        optim, schedule, config: the engine's config sections.
        eval_fn: ``(model) -> metrics`` run every ``config.eval_every_epochs`` epochs.
        run_config: the full recipe (dataclass or dict) saved in checkpoints and ``config.yaml``.
    """

    def __init__(
        self,
        model: nn.Module,
        train_data: Dataset | DataLoader,
        *,
        step_fn: StepFn | Any,
        optim: OptimConfig | None = None,
        schedule: ScheduleConfig | None = None,
        config: TrainerConfig | None = None,
        batch_size: int | None = None,
        num_workers: int = 0,
        collate_fn: Callable[[list[Any]], Any] | None = None,
        pin_memory: bool | None = None,
        drop_last: bool = False,
        eval_fn: Callable[[nn.Module], Mapping[str, Any]] | None = None,
        callbacks: Sequence[Callback] = (),
        run_config: Any = None,
    ) -> None:
        self.optim_cfg = optim or OptimConfig()
        self.schedule_cfg = schedule or ScheduleConfig()
        self.config = cfg = config or TrainerConfig()
        if cfg.grad_accum_steps < 1:
            raise ValueError(f"train.grad_accum_steps must be >= 1, got {cfg.grad_accum_steps}")
        if cfg.max_epochs < 1:
            raise ValueError(f"train.max_epochs must be >= 1, got {cfg.max_epochs}")
        self.step_fn = getattr(step_fn, "training_step", step_fn)
        if not callable(self.step_fn):
            raise TypeError("step_fn must be callable or have a training_step(model, batch) method")
        self.eval_fn = eval_fn if eval_fn is not None else getattr(step_fn, "evaluate", None)
        self.callbacks = list(callbacks)
        self.run_config = run_config
        self.work_dir = Path(cfg.work_dir)

        if cfg.deterministic:
            configure_determinism(True)
        self.dist = dist_utils.init_distributed(cfg.device)
        self.device = self.dist.device
        self.is_main = self.dist.rank == 0
        if cfg.amp == "fp16" and self.device.type != "cuda":
            raise ValueError("train.amp=fp16 needs a CUDA device; use train.amp=bf16 on the CPU")
        seed_everything(cfg.seed + self.dist.rank)

        self.model = model.to(self.device)
        if cfg.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last_3d)

        if isinstance(train_data, DataLoader):
            if batch_size is not None or num_workers or collate_fn is not None:
                raise ValueError(
                    "batch_size, num_workers and collate_fn apply when the trainer builds the DataLoader "
                    "from a dataset; set them on the DataLoader passed instead"
                )
            self.loader = train_data
        else:
            if batch_size is None:
                raise ValueError("batch_size is required when the trainer builds the DataLoader")
            self.loader = build_train_loader(
                train_data,
                batch_size=batch_size,
                seed=cfg.seed,
                drop_last=drop_last,
                num_workers=num_workers,
                collate_fn=collate_fn,
                pin_memory=self.device.type == "cuda" if pin_memory is None else pin_memory,
                rank=self.dist.rank,
                world_size=self.dist.world_size,
            )
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

        self.optimizer = build_optimizer(self.model, self.optim_cfg)
        self.scheduler = build_scheduler(
            self.optimizer, self.schedule_cfg, steps_per_epoch=self.steps_per_epoch, max_epochs=cfg.max_epochs
        )
        self.scaler = torch.amp.GradScaler("cuda", enabled=cfg.amp == "fp16")
        self._autocast_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(cfg.amp)
        if cfg.amp == "bf16" and self.device.type == "cpu":
            # CPU bf16 conv3d weight gradients are wrong when 1 < input depth < kernel depth.
            guarded = guard_bf16_conv3d_weight_grad(self.model)
            if guarded:
                logger.debug("bf16 on the CPU: %d 3D convolutions guarded against the weight-gradient fault", guarded)

        train_model: nn.Module = self.model
        if self.dist.world_size > 1:
            device_ids = [self.device.index] if self.device.type == "cuda" else None
            train_model = nn.parallel.DistributedDataParallel(self.model, device_ids=device_ids)
        if cfg.compile:
            train_model = torch.compile(train_model)  # type: ignore[assignment]
        self.train_model = train_model

        self.epoch = 0
        self.batches_done = 0
        self.global_step = 0
        self.history = History()
        self._meter = EpochMeter()
        self._stop_requested = False
        self._last_lr = self.optim_cfg.lr
        self.logs = RunLogger(self.work_dir, tensorboard=cfg.tensorboard, enabled=self.is_main)

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
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
            "epoch": self.epoch,
            "batches_done": self.batches_done,
            "global_step": self.global_step,
            "world_size": self.dist.world_size,
            "rng": rng_states,
            "sampler": sampler,
            "epoch_meter": self._meter.state_dict(),
            "history": self.history.epochs,
            "config": {
                "optim": config_to_dict(self.optim_cfg),
                "schedule": config_to_dict(self.schedule_cfg),
                "train": config_to_dict(self.config),
                "run": config_to_dict(self.run_config),
            },
        }

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

    def load_checkpoint(self, path: str | Path) -> None:
        """Restore a checkpoint written by :meth:`save_checkpoint` (position, states and RNG)."""
        state = load_checkpoint(path, map_location="cpu")
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.scaler.load_state_dict(state["scaler"])
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

    def _forward(self, batch: Any) -> tuple[torch.Tensor, dict[str, Any]]:
        autocast = (
            torch.autocast(self.device.type, dtype=self._autocast_dtype)
            if self._autocast_dtype is not None
            else contextlib.nullcontext()
        )
        with autocast:
            output = self.step_fn(self.train_model, batch)
        loss, metrics = (output, {}) if isinstance(output, torch.Tensor) else output
        if not isinstance(loss, torch.Tensor) or loss.ndim != 0:
            raise TypeError("step_fn must return a scalar loss tensor (or a (loss, metrics) pair)")
        return loss, dict(metrics)

    def _optimizer_step(self) -> None:
        if self.config.clip_grad_norm is not None:
            self.scaler.unscale_(self.optimizer)
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.config.clip_grad_norm)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)
        self.scheduler.step()
        self.global_step += 1

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

    def _train_epoch(self) -> bool:
        """Run the rest of the current epoch; False when stopped by SIGTERM."""
        cfg = self.config
        accum = cfg.grad_accum_steps
        bar = self._progress()
        started = time.perf_counter()
        samples_seen = 0
        step_sums: dict[str, float] = {}
        self.train_model.train()
        try:
            for batch in self._epoch_batches():
                index = self.batches_done
                group_start = index - index % accum
                group_size = min(accum, self.batches_per_epoch - group_start)
                last_in_group = index - group_start == group_size - 1
                batch = move_to_device(batch, self.device, cfg.channels_last)
                n = batch_length(batch) or 1
                sync = last_in_group or self.dist.world_size == 1
                no_sync = getattr(self.train_model, "no_sync", None)
                with contextlib.nullcontext() if sync or no_sync is None else no_sync():
                    loss, metrics = self._forward(batch)
                    self.scaler.scale(loss / group_size).backward()
                metrics["loss"] = loss.detach()
                self._meter.add(metrics)
                for key, value in metrics.items():
                    if isinstance(value, (int, float, torch.Tensor)) and not isinstance(value, bool):
                        step_sums[key] = step_sums.get(key, 0) + value
                samples_seen += n * self.dist.world_size
                self._meter.samples += n
                self.batches_done += 1
                if bar is not None:
                    bar.update(1)
                if not last_in_group:
                    continue
                lr = self._last_lr = self.optimizer.param_groups[0]["lr"]
                self._optimizer_step()
                if cfg.log_every_steps > 0 and self.global_step % cfg.log_every_steps == 0:
                    rate = samples_seen / max(1e-9, time.perf_counter() - started)
                    self._log_step(step_sums, group_size, lr, rate, bar)
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
                    return False
                # At the epoch's last step the epoch-end checkpoint follows; don't save twice.
                every = cfg.checkpoint_every_steps
                if every > 0 and self.global_step % every == 0 and not epoch_done:
                    self.save_checkpoint()
        finally:
            if bar is not None:
                bar.close()
        return True

    def _log_step(self, sums: dict[str, Any], group_size: int, lr: float, rate: float, bar: Any) -> None:
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
        row.update({"lr": lr, "samples_per_s": rate})
        self.logs.log_step(self.global_step, self.epoch + 1, row)
        if bar is not None:
            bar.set_postfix(loss=f"{row['loss']:.4f}", lr=f"{lr:.3g}", samples_s=f"{rate:.1f}")
        elif self.is_main:
            logger.info(
                "epoch %d step %d: loss %.4f lr %.4g %.1f samples/s",
                self.epoch + 1,
                self.global_step,
                row["loss"],
                lr,
                rate,
            )
        for callback in self.callbacks:
            callback.on_step_end(self, row)

    def _end_epoch(self, epoch_time: float) -> None:
        summary: dict[str, Any] = self._meter.reduce()
        summary["lr"] = self._last_lr
        summary["epoch_time_s"] = epoch_time
        summary["samples_per_s"] = dist_utils.all_reduce_sum(self._meter.samples) / max(1e-9, epoch_time)
        every = self.config.eval_every_epochs
        last = self.epoch + 1 == self.config.max_epochs
        if self.eval_fn is not None and every > 0 and ((self.epoch + 1) % every == 0 or last):
            self.model.eval()
            with torch.no_grad():
                results = self.eval_fn(self.model)
            self.model.train()
            summary.update({f"val_{k}": plain_number(v) for k, v in dict(results).items()})
        summary = {"epoch": self.epoch + 1, **summary}
        self.history.epochs.append(summary)
        self.logs.log_epoch(self.epoch + 1, self.global_step, summary)
        if self.is_main:
            text = " ".join(
                f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in summary.items()
            )
            logger.info("%s", text)
        for callback in self.callbacks:
            callback.on_epoch_end(self, summary)

    def fit(self, resume: str | Path | None = None) -> History:
        """Train to ``config.max_epochs``; ``resume`` is ``"auto"`` (latest in work_dir, if any),
        a checkpoint path or None (from scratch). Returns the :class:`History`."""
        path = self._resolve_resume(resume)
        if path is not None:
            self.load_checkpoint(path)
        elif find_latest_checkpoint(self.work_dir) is not None:
            # Starting afresh would mix two runs' checkpoints and logs in one folder.
            raise FileExistsError(
                f"{self.work_dir} already holds checkpoints of a run; resume it with resume='auto' "
                "or choose another work_dir"
            )
        if self.is_main and self.run_config is not None:
            save_config(self.run_config, self.work_dir / "config.yaml")
        restore_signal = self._install_sigterm()
        try:
            while self.epoch < self.config.max_epochs:
                started = time.perf_counter()
                if not self._train_epoch():
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
        self.history.global_step = self.global_step
        return self.history
