"""Training machinery shared by every wing. Knows no task.

* :mod:`~vidlearn.engine.config`: YAML recipes into dataclasses (``load_config``, ``_base_``,
  ``key=value`` overrides, :class:`ConfigError`) and the engine's sections :class:`OptimConfig`,
  :class:`ScheduleConfig`, :class:`TrainerConfig`.
* :mod:`~vidlearn.engine.trainer`: :class:`Trainer` (one loop for every wing: named models and
  optimisers, AMP, accumulation, clipping, EMA, epoch hooks, checkpoints, exact resume, SIGTERM,
  progress, logs), :class:`Callback` and :class:`History`.
* :mod:`~vidlearn.engine.step`: :class:`StepContext` (``backward(loss, name)`` / ``step(name)`` for
  alternating updates) and the named parts; :mod:`~vidlearn.engine.ema`: :class:`ExponentialMovingAverage`.
* :mod:`~vidlearn.engine.evaluation`: :func:`evaluation_loop` (sharded over DDP ranks, gathered in order).
* :mod:`~vidlearn.engine.precision`: autocast and the CPU bf16 conv3d weight-gradient guard.
* :mod:`~vidlearn.engine.distributed`: DDP under ``torchrun``, reductions and gathers.
* :mod:`~vidlearn.engine.data`: the seeded, resumable samplers and loaders.
* :mod:`~vidlearn.engine.checkpoint`, :mod:`~vidlearn.engine.optim`, :mod:`~vidlearn.engine.loggers`,
  :mod:`~vidlearn.engine.seeding`: the pieces the trainer is made of, usable alone.
"""

from vidlearn.engine.checkpoint import find_latest_checkpoint, load_checkpoint
from vidlearn.engine.config import (
    ConfigError,
    OptimConfig,
    ScheduleConfig,
    TrainerConfig,
    config_from_dict,
    config_to_dict,
    load_config,
    save_config,
)
from vidlearn.engine.data import ResumableSampler, ShardSampler, build_eval_loader, build_train_loader
from vidlearn.engine.distributed import (
    all_gather_object,
    all_reduce_mean,
    all_reduce_sum,
    barrier,
    gather_tensors,
    get_rank,
    get_world_size,
    init_distributed,
    is_main_process,
    reduce_metrics,
    shutdown_distributed,
)
from vidlearn.engine.ema import ExponentialMovingAverage
from vidlearn.engine.evaluation import evaluation_loop
from vidlearn.engine.optim import build_optimizer, build_scheduler, lr_at
from vidlearn.engine.precision import autocast, guard_bf16_conv3d_weight_grad
from vidlearn.engine.resume import ResumeError, config_differences
from vidlearn.engine.seeding import configure_determinism, seed_everything
from vidlearn.engine.step import StepContext
from vidlearn.engine.trainer import Callback, History, Trainer

__all__ = [
    "Callback",
    "ConfigError",
    "ExponentialMovingAverage",
    "History",
    "OptimConfig",
    "ResumableSampler",
    "ResumeError",
    "ScheduleConfig",
    "ShardSampler",
    "StepContext",
    "Trainer",
    "TrainerConfig",
    "all_gather_object",
    "all_reduce_mean",
    "all_reduce_sum",
    "autocast",
    "barrier",
    "build_eval_loader",
    "build_optimizer",
    "build_scheduler",
    "build_train_loader",
    "config_differences",
    "config_from_dict",
    "config_to_dict",
    "configure_determinism",
    "evaluation_loop",
    "find_latest_checkpoint",
    "gather_tensors",
    "get_rank",
    "get_world_size",
    "guard_bf16_conv3d_weight_grad",
    "init_distributed",
    "is_main_process",
    "load_checkpoint",
    "load_config",
    "lr_at",
    "reduce_metrics",
    "save_config",
    "seed_everything",
    "shutdown_distributed",
]
