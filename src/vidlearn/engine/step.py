"""Named training parts (models, optimisers, schedulers, scalers, EMAs) and the step context.

A wing's step sees the parts through a :class:`StepContext`. Single-loss steps never touch it: the
trainer calls ``backward`` and ``step`` for them. A step that alternates updates (a GAN's
discriminator and generator) sets ``manual_optimization = True`` and drives them itself::

    class GANStep:
        manual_optimization = True

        def training_step(self, ctx, batch):
            g, d = ctx.models["g"], ctx.models["d"]
            z = torch.randn(len(batch), 8, device=ctx.device)
            with torch.no_grad():
                fake = g(z)
            d_loss = relu(1 - d(batch)).mean() + relu(1 + d(fake)).mean()
            ctx.backward(d_loss, "d")               # gradients reach D's parameters only
            ctx.step("d")
            g_loss = -d(g(z)).mean()
            ctx.backward(g_loss, "g")               # gradients reach G's parameters only
            ctx.step("g")                           # also updates G's EMA copy, if any
            return {"d_loss": d_loss.detach(), "g_loss": g_loss.detach()}

``backward(loss, name)`` differentiates with respect to the parameters of optimiser ``name`` only
(``torch.autograd.backward(inputs=...)``), so one optimiser's loss never leaves gradients in another's
parameters. Accumulation is per optimiser and counts batches: with ``k`` accumulation steps the loss is
divided by ``k`` and ``step(name)`` updates only at the ``k``-th batch of a group (the last group of an
epoch may be shorter, and is divided by its own length). Under DDP with several models or a manual
step, ``step`` averages the optimiser's gradients over the ranks before updating (as StyleGAN2-ADA
does), so any forward pattern works; a single model with the automatic step is wrapped in
``DistributedDataParallel`` instead.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from vidlearn.engine import distributed as dist_utils
from vidlearn.engine.config import OptimConfig, ScheduleConfig, TrainerConfig
from vidlearn.engine.ema import ExponentialMovingAverage
from vidlearn.engine.optim import build_optimizer, build_scheduler
from vidlearn.engine.precision import autocast

__all__ = ["StepContext", "TrainingParts"]


def _named(value: Any, names: Sequence[str], kind: str, default: Any) -> dict[str, Any]:
    """``value`` for every name: one value for all, or a mapping that must name each exactly."""
    if value is None:
        return {name: default() for name in names}
    if not isinstance(value, Mapping):
        return {name: value for name in names}
    unknown = sorted(set(value) - set(names))
    missing = [name for name in names if name not in value]
    if unknown or missing:
        raise ValueError(
            f"{kind} must name the optimisers {list(names)}; unknown: {unknown or 'none'}, missing: {missing or 'none'}"
        )
    return {name: value[name] for name in names}


class TrainingParts:
    """The named models and, per optimiser, its models, optimiser, schedule, scaler and settings.

    ``optimizer_models`` maps an optimiser name to the model names it updates; by default there is one
    optimiser per model, named like it. ``optim`` and ``schedule`` are one config for every optimiser
    or a mapping by optimiser name. ``ema`` maps model names to an EMA decay.
    """

    def __init__(
        self,
        models: Mapping[str, nn.Module],
        *,
        optim: OptimConfig | Mapping[str, OptimConfig] | None,
        schedule: ScheduleConfig | Mapping[str, ScheduleConfig] | None,
        config: TrainerConfig,
        batches_per_epoch: int,
        device: torch.device,
        optimizer_models: Mapping[str, Sequence[str]] | None = None,
        ema: Mapping[str, float] | None = None,
        ema_start_step: int = 0,
    ) -> None:
        self.models = dict(models)
        self.config = config
        self.batches_per_epoch = batches_per_epoch
        self.device = device
        groups = dict(optimizer_models) if optimizer_models is not None else {n: [n] for n in self.models}
        for opt_name, model_names in groups.items():
            unknown = [m for m in model_names if m not in self.models]
            if unknown or not model_names:
                raise ValueError(f"optimiser {opt_name!r} names unknown models {unknown} (models: {list(self.models)})")
        self.optimizer_models = {name: list(models_) for name, models_ in groups.items()}
        names = list(self.optimizer_models)
        self.optim_configs: dict[str, OptimConfig] = _named(optim, names, "optim", OptimConfig)
        self.schedule_configs: dict[str, ScheduleConfig] = _named(schedule, names, "schedule", ScheduleConfig)
        self.accum: dict[str, int] = {}
        self.clip: dict[str, float | None] = {}
        self.optimizers: dict[str, torch.optim.Optimizer] = {}
        self.schedulers: dict[str, torch.optim.lr_scheduler.LRScheduler] = {}
        self.scalers: dict[str, torch.amp.GradScaler] = {}
        self.params: dict[str, list[nn.Parameter]] = {}
        self.steps: dict[str, int] = {}
        self.last_lr: dict[str, float] = {}
        for name in names:
            ocfg = self.optim_configs[name]
            accum = ocfg.grad_accum_steps or config.grad_accum_steps
            if accum < 1:
                raise ValueError(f"grad_accum_steps of optimiser {name!r} must be >= 1, got {accum}")
            self.accum[name] = accum
            self.clip[name] = ocfg.clip_grad_norm if ocfg.clip_grad_norm is not None else config.clip_grad_norm
            members = [self.models[m] for m in self.optimizer_models[name]]
            module = members[0] if len(members) == 1 else nn.ModuleList(members)
            self.optimizers[name] = build_optimizer(module, ocfg)
            self.params[name] = [p for group in self.optimizers[name].param_groups for p in group["params"]]
            self.schedulers[name] = build_scheduler(
                self.optimizers[name],
                self.schedule_configs[name],
                steps_per_epoch=-(-batches_per_epoch // accum),
                max_epochs=config.max_epochs,
            )
            self.scalers[name] = torch.amp.GradScaler("cuda", enabled=config.amp == "fp16")
            self.steps[name] = 0
            self.last_lr[name] = ocfg.lr
        self.emas: dict[str, ExponentialMovingAverage] = {}
        for model_name, decay in (ema or {}).items():
            if model_name not in self.models:
                raise ValueError(f"ema names an unknown model {model_name!r} (models: {list(self.models)})")
            self.emas[model_name] = ExponentialMovingAverage(self.models[model_name], decay, start_step=ema_start_step)

    # -- accumulation groups ------------------------------------------------------------------

    def group(self, name: str, index: int) -> tuple[int, bool]:
        """``(size, last)``: the size of the accumulation group of batch ``index`` and whether it ends it."""
        accum = self.accum[name]
        start = index - index % accum
        size = min(accum, self.batches_per_epoch - start)
        return size, index - start == size - 1

    def pending(self, name: str, batches_done: int) -> bool:
        """Whether optimiser ``name`` holds accumulated gradients after ``batches_done`` batches."""
        return 0 < batches_done < self.batches_per_epoch and batches_done % self.accum[name] != 0

    # -- checkpoints --------------------------------------------------------------------------

    def state_dict(self, batches_done: int) -> dict[str, Any]:
        """Models, optimisers, schedulers, scalers, EMA copies and any gradients mid-accumulation."""
        pending = {
            name: [p.grad for p in self.params[name]]
            for name in self.optimizers
            if self.pending(name, batches_done)
        }
        return {
            "models": {name: model.state_dict() for name, model in self.models.items()},
            "optimizers": {name: opt.state_dict() for name, opt in self.optimizers.items()},
            "schedulers": {name: s.state_dict() for name, s in self.schedulers.items()},
            "scalers": {name: s.state_dict() for name, s in self.scalers.items()},
            "ema": {name: e.state_dict() for name, e in self.emas.items()},
            "optimizer_steps": dict(self.steps),
            "pending_grads": pending,
        }

    def load_state_dict(self, state: Mapping[str, Any], where: str) -> None:
        """Restore :meth:`state_dict`; a part missing from (or unknown to) the checkpoint is an error."""
        for key, parts in (
            ("models", self.models),
            ("optimizers", self.optimizers),
            ("schedulers", self.schedulers),
            ("scalers", self.scalers),
            ("ema", self.emas),
        ):
            saved = state.get(key, {})
            if set(saved) != set(parts):
                raise ValueError(
                    f"{where}: the checkpoint's {key} are {sorted(saved)}, this run has {sorted(parts)}"
                )
            for name, part in parts.items():
                part.load_state_dict(saved[name])
        self.steps.update(state.get("optimizer_steps", {}))
        for name, grads in state.get("pending_grads", {}).items():
            for param, grad in zip(self.params[name], grads):
                param.grad = None if grad is None else grad.to(param.device)


class StepContext:
    """What a step sees: ``models`` (as trained: DDP- or compile-wrapped), ``backward``, ``step``."""

    def __init__(self, parts: TrainingParts, train_models: Mapping[str, nn.Module], *, world_size: int,
                 ddp_wrapped: bool) -> None:
        self.parts = parts
        self.models = dict(train_models)
        self.device = parts.device
        self.world_size = world_size
        self.ddp_wrapped = ddp_wrapped
        self.batch_index = 0

    def autocast(self) -> Any:
        """The run's autocast context (already active around the step; for code run outside it)."""
        return autocast(self.device, self.parts.config.amp)

    def _names(self, name: str | None) -> list[str]:
        if name is None:
            return list(self.parts.optimizers)
        if name not in self.parts.optimizers:
            raise KeyError(f"no optimiser named {name!r} (optimisers: {list(self.parts.optimizers)})")
        return [name]

    def backward(self, loss: torch.Tensor, name: str | None = None) -> None:
        """Accumulate the gradient of ``loss`` into optimiser ``name``'s parameters (all when None)."""
        if not isinstance(loss, torch.Tensor) or loss.ndim != 0:
            raise TypeError(f"backward needs a scalar loss tensor, got {type(loss).__name__}")
        names = self._names(name)
        sizes = {self.parts.group(n, self.batch_index)[0] for n in names}
        if len(sizes) > 1:
            raise ValueError(f"optimisers {names} accumulate over different batch counts; call backward per optimiser")
        scaled = self.parts.scalers[names[0]].scale(loss / sizes.pop())
        if name is None:
            scaled.backward()
        else:
            torch.autograd.backward(scaled, inputs=self.parts.params[name])

    def step(self, name: str | None = None) -> None:
        """Update optimiser ``name`` (all when None) if this batch ends its accumulation group.

        Clips its gradients (``clip_grad_norm``), steps its scheduler and updates the EMA copies of
        its models.
        """
        for opt_name in self._names(name):
            if not self.parts.group(opt_name, self.batch_index)[1]:
                continue  # accumulate: the update comes at the group's last batch
            params = self.parts.params[opt_name]
            if self.world_size > 1 and not self.ddp_wrapped:
                self._average_gradients(params)
            optimizer, scaler = self.parts.optimizers[opt_name], self.parts.scalers[opt_name]
            clip = self.parts.clip[opt_name]
            if clip is not None:
                scaler.unscale_(optimizer)
                torch.nn.utils.clip_grad_norm_(params, clip)
            self.parts.last_lr[opt_name] = optimizer.param_groups[0]["lr"]
            scaler.step(optimizer)
            scaler.update()
            optimizer.zero_grad(set_to_none=True)
            self.parts.schedulers[opt_name].step()
            self.parts.steps[opt_name] += 1
            for model_name in self.parts.optimizer_models[opt_name]:
                if model_name in self.parts.emas:
                    self.parts.emas[model_name].update(self.parts.models[model_name])

    @staticmethod
    def _average_gradients(params: list[nn.Parameter]) -> None:
        # Parameters a rank did not reach get zeros, so every rank reduces the same flat buffer; one
        # that no rank reached keeps no gradient, so the optimiser skips it as in a single process.
        reached = torch.tensor([float(p.grad is not None) for p in params])
        dist_utils.all_reduce_mean_(reached)
        grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
        flat = torch.cat([g.reshape(-1) for g in grads])
        dist_utils.all_reduce_mean_(flat)
        offset = 0
        for index, param in enumerate(params):
            count = param.numel()
            param.grad = flat[offset : offset + count].view_as(param).clone() if reached[index] > 0 else None
            offset += count

    def no_sync(self, last: bool) -> Any:
        """DDP's ``no_sync`` for the automatic step's accumulation (a no-op elsewhere)."""
        if last or not self.ddp_wrapped:
            return contextlib.nullcontext()
        (model,) = self.models.values()
        return getattr(model, "no_sync", contextlib.nullcontext)()
