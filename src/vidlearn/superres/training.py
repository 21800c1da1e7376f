"""Train a super-resolution recipe on the engine's :class:`~vidlearn.engine.Trainer`, then score it.

FRVSR's training (Sajjadi et al. 2018, Sec. 4): clips of ``L`` frames (the paper: 10) unrolled with
back-propagation through every step; the loss is ``L_sr`` (MSE of every HR estimate) plus ``L_flow``
(MSE of the previous LR frame warped by FNet's flow against the current frame); Adam, learning rate
1e-4, batch 4, 256x256 HR crops. A per-frame model (SISR) has no flow and trains on ``L_sr`` alone.

:func:`train` writes into ``cfg.train.work_dir``: the engine's checkpoints and logs, ``model.json``
(model name, options, scale, degradation; written when training starts so that ``vidlearn upscale``
also reads the engine checkpoints), ``model.safetensors`` (weights + the same metadata) and
``metrics.json`` (per sequence, mean, and bicubic on the same LR frames). With ``ema.decay`` the
validation, ``model.safetensors`` and ``metrics.json`` are those of the moving average of the weights.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from vidlearn.engine import distributed as dist_utils
from vidlearn.engine.config import ConfigError
from vidlearn.engine.seeding import seed_everything
from vidlearn.engine.trainer import Callback
from vidlearn.superres.data import SRClipDataset, clip_sources
from vidlearn.superres.evaluation import evaluate_model, test_sequences
from vidlearn.superres.losses import frvsr_loss, sr_loss
from vidlearn.superres.recipe import SuperresConfig

__all__ = ["RESUME_CHANGEABLE_KEYS", "SRStep", "TrainResult", "build_model", "build_train_set", "load_fnet",
           "model_metadata", "train"]

#: Recipe keys that may differ from the saved run's on resume (how long, where it reports, evaluation).
RESUME_CHANGEABLE_KEYS: tuple[str, ...] = (
    "name", "train.max_epochs", "train.max_steps", "train.work_dir", "train.progress_bar", "train.log_every_steps",
    "train.tensorboard", "train.keep_checkpoints", "train.checkpoint_every_steps", "train.device", "train.eval_every_epochs",
    "data.num_workers", "evaluate.*",
)


class SRStep:
    """One training step on a batch ``{"lr": (B, T, C, h, w), "hr": (B, T, C, H, W)}``.

    A recurrent or sliding-window model (one with ``forward_train``) is unrolled over the clip and
    trained on ``L_sr + flow_weight * L_flow``; a per-frame model on ``L_sr``.
    """

    def __init__(self, flow_weight: float = 1.0) -> None:
        self.flow_weight = flow_weight

    def training_step(self, model: nn.Module, batch: dict[str, Tensor]) -> tuple[Tensor, dict[str, float]]:
        lr, hr = batch["lr"], batch["hr"]
        inner = getattr(model, "module", model)
        inner = getattr(inner, "_orig_mod", inner)
        if hasattr(inner, "forward_train"):
            output = model(lr, training_outputs=True)
            loss, parts = frvsr_loss(output, hr, flow_weight=self.flow_weight)
            return loss, parts
        loss = sr_loss(model(lr), hr)
        return loss, {"loss_sr": float(loss.detach())}


@dataclass
class TrainResult:
    """What :func:`train` returns."""

    work_dir: Path
    metrics: dict[str, Any]
    history: list[dict[str, Any]] = field(default_factory=list)
    num_params: int = 0
    train_seconds: float = 0.0
    interrupted: bool = False


def model_metadata(cfg: SuperresConfig) -> dict[str, Any]:
    """What ``model.safetensors`` and ``model.json`` carry besides weights."""
    degradation = cfg.data.degradation.build()
    return {"model": cfg.model.name, "kwargs": cfg.model.kwargs, "scale": degradation.scale,
            "degradation": degradation.protocol, "recipe": cfg.name, "task": "superres"}


def build_model(cfg: SuperresConfig) -> nn.Module:
    """The recipe's registered model at the degradation's scale (initialised from ``model.weights`` if set, its
    FNet from ``model.fnet_weights``, its SRNet from ``model.srnet_weights``; FNet's parameters without gradient
    when ``model.freeze_fnet``, so the optimiser leaves them out). A training checkpoint that holds a moving
    average of its weights (``ema.decay``) gives the average."""
    from vidlearn.models import create, load_weights

    model = create(cfg.model.name, scale=cfg.data.degradation.scale, **cfg.model.kwargs)
    if cfg.model.weights:
        load_weights(model, cfg.model.weights, ema="auto")
    if cfg.model.fnet_weights:
        load_fnet(model, cfg.model.fnet_weights)
    if cfg.model.srnet_weights:
        load_srnet_from_sisr(model, cfg.model.srnet_weights)
    if cfg.model.freeze_fnet:
        fnet = getattr(model, "fnet", None)
        if fnet is None:
            raise ConfigError(f"model.freeze_fnet needs a model with an FNet (FRVSR), not {cfg.model.name}")
        if not (cfg.model.fnet_weights or cfg.model.weights):
            raise ConfigError("model.freeze_fnet would keep a randomly initialised FNet: set model.fnet_weights "
                              "(or model.weights)")
        fnet.requires_grad_(False)
    return model


def load_fnet(model: nn.Module, path: str | Path) -> None:
    """Load an FNet state dict file (``torch.save`` or safetensors) into ``model.fnet`` strictly
    (:func:`vidlearn.models.load_weights`: the errors name the file and every missing, unexpected or
    mis-shaped key, as an FNet of another width gives)."""
    from vidlearn.models import CheckpointLoadError, load_weights

    fnet = getattr(model, "fnet", None)
    if fnet is None:
        raise CheckpointLoadError(f"{path}: model.fnet_weights needs a model with an FNet (FRVSR), "
                                  f"not {type(model).__name__}")
    load_weights(fnet, path, layout="vidlearn")


def load_srnet_from_sisr(model: nn.Module, path: str | Path) -> None:
    """Start FRVSR's SRNet from a trained per-frame SISR of the same size (blocks, filters, scale; the LR skip
    is not in the weights, so build both with the same ``lr_skip``).

    Every SRNet weight is copied; the first convolution's weights on the context channels (the
    space-to-depth of the warped previous estimate) are set to zero, so the model starts out computing
    the SISR's output exactly and training teaches it to use the previous estimate. ``path``: a SISR
    training checkpoint (its moving average of the weights when it holds one) or ``model.safetensors``.
    Strict: any other key or shape is an error naming the file.
    """
    from vidlearn.models import CheckpointLoadError
    from vidlearn.models.weights import read_checkpoint

    srnet = getattr(model, "srnet", None)
    context = getattr(srnet, "context_channels", 0)
    if getattr(model, "fnet", None) is None or not context:
        raise CheckpointLoadError(f"{path}: model.srnet_weights needs FRVSR (an SRNet with a context), "
                                  f"not {type(model).__name__}")
    state = read_checkpoint(path, ema="auto")
    own = {f"srnet.{key}": value for key, value in srnet.state_dict().items()}
    missing, unexpected = sorted(set(own) - set(state)), sorted(set(state) - set(own))
    if missing or unexpected:
        raise CheckpointLoadError(f"{path}: not a SISR checkpoint for this SRNet: missing {missing[:4]}, "
                                  f"unexpected {unexpected[:4]}")
    loaded = {}
    for key, value in own.items():
        weights = state[key]
        if key == "srnet.conv_in.weight" and weights.shape[1] == value.shape[1] - context:
            weights = torch.cat([weights, weights.new_zeros(weights.shape[0], context, *weights.shape[2:])], dim=1)
        if weights.shape != value.shape:
            raise CheckpointLoadError(f"{path}: {key} has shape {tuple(state[key].shape)}; this FRVSR's SRNet "
                                      f"needs {tuple(value.shape)} (a SISR of another size?)")
        loaded[key[len("srnet."):]] = weights.to(value.dtype)
    srnet.load_state_dict(loaded, strict=True)


def build_train_set(cfg: SuperresConfig) -> SRClipDataset:
    """Random training clips from ``data.train_sources`` (every sequence under a root is one source)."""
    sources = clip_sources(cfg.data.train_sources, synthetic_max_speed=cfg.data.synthetic_max_speed,
                           cache_frames=cfg.data.cache_frames)
    return SRClipDataset(sources, degradation=cfg.data.degradation.build(), clip_len=cfg.data.clip_len,
                         crop_size=cfg.data.crop_size, samples=cfg.data.samples_per_epoch, flip=cfg.data.flip,
                         seed=cfg.train.seed)


class _Report(Callback):
    """model.json once the run is accepted; one console line per epoch (loss parts, validation PSNR)."""

    def __init__(self, metadata: dict[str, Any], console: bool) -> None:
        self.metadata = metadata
        self.console = console

    def _print(self, text: str) -> None:
        if self.console and dist_utils.is_main_process():
            print(text, file=sys.stderr, flush=True)

    def on_train_start(self, trainer: Any) -> None:
        if dist_utils.is_main_process():
            trainer.work_dir.mkdir(parents=True, exist_ok=True)
            (trainer.work_dir / "model.json").write_text(json.dumps(self.metadata, indent=1))
        if trainer.resumed_from is not None:
            self._print(f"resuming from {trainer.resumed_from} (epoch {trainer.epoch} of "
                        f"{trainer.config.max_epochs} done, step {trainer.global_step})")

    def on_epoch_end(self, trainer: Any, summary: Any) -> None:
        parts = [f"epoch {summary['epoch']}/{trainer.config.max_epochs}"]
        for key in ("train_loss_sr", "train_loss_flow"):
            if isinstance(summary.get(key), float):
                parts.append(f"{key[6:]} {summary[key]:.5f}")
        for key in ("val_psnr_y", "val_bicubic_psnr_y"):
            if isinstance(summary.get(key), float):
                parts.append(f"{key[4:]} {summary[key]:.2f} dB")
        parts.append(f"{summary.get('epoch_time_s', 0.0):.1f} s")
        self._print("  ".join(parts))


def train(cfg: SuperresConfig, *, resume: str | Path | None = "auto", final_eval: bool = True,
          allow_changed_recipe: bool = False, console: bool = True) -> TrainResult:
    """Train the recipe's model on the engine, then score it on the recipe's test sequences."""
    from vidlearn.engine import Trainer
    from vidlearn.models import save_weights

    train_set = build_train_set(cfg)
    degradation = cfg.data.degradation.build()
    seed_everything(cfg.train.seed)
    model = build_model(cfg)
    work_dir = Path(cfg.train.work_dir)
    ev = cfg.evaluate
    val_sequences = test_sequences(ev.sources, degradation, lr_root=ev.lr_root, max_frames=ev.val_max_frames,
                                   synthetic_sequences=ev.synthetic_sequences, synthetic_frames=ev.synthetic_frames,
                                   synthetic_size=ev.synthetic_size, max_sequences=ev.val_sequences)

    def validate(current: nn.Module | dict[str, nn.Module]) -> dict[str, float]:
        if isinstance(current, dict):  # the weights and their moving average: score the average
            current = current["model_ema"]
        result = evaluate_model(current, val_sequences, scale=degradation.scale, protocol=ev.protocol, temporal=False)
        return {"psnr_y": result["mean"]["psnr_y"], "bicubic_psnr_y": result["bicubic"]["mean"]["psnr_y"]}

    metadata = model_metadata(cfg)
    trainer = Trainer(
        model, train_set, step_fn=SRStep(cfg.loss.flow_weight), optim=cfg.optim, schedule=cfg.schedule,
        config=cfg.train, batch_size=cfg.data.batch_size, num_workers=cfg.data.num_workers,
        eval_fn=validate if cfg.train.eval_every_epochs else None, run_config=cfg,
        drop_last=len(train_set) > cfg.data.batch_size, callbacks=[_Report(metadata, console)],
        resume_changeable_keys=RESUME_CHANGEABLE_KEYS,
        ema={"model": cfg.ema.decay} if cfg.ema.decay > 0 else None, ema_start_step=cfg.ema.start_step,
    )
    started = time.perf_counter()
    history = trainer.fit(resume=resume, allow_changed_config=allow_changed_recipe)
    seconds = time.perf_counter() - started
    metrics: dict[str, Any] = {}
    if cfg.ema.decay > 0:  # what the run delivers and is scored on: the moving average
        model = trainer.ema["model"].module
    if dist_utils.is_main_process() and not history.interrupted:
        save_weights(model, work_dir / "model.safetensors", metadata=metadata)
        if final_eval:
            sequences = test_sequences(ev.sources, degradation, lr_root=ev.lr_root, max_frames=ev.max_frames,
                                       synthetic_sequences=ev.synthetic_sequences,
                                       synthetic_frames=ev.synthetic_frames, synthetic_size=ev.synthetic_size)
            result = evaluate_model(model.eval(), sequences, scale=degradation.scale, protocol=ev.protocol,
                                    temporal=ev.temporal)
            result["degradation"] = degradation.protocol
            result["train_seconds"] = seconds
            (work_dir / "metrics.json").write_text(json.dumps(result, indent=1))
            metrics = _headline(result)
    num_params = sum(p.numel() for p in model.parameters())
    return TrainResult(work_dir, metrics, list(history.epochs), num_params, seconds, history.interrupted)


def _headline(result: dict[str, Any]) -> dict[str, Any]:
    """The mean metrics of a result, with the bicubic ones prefixed ``bicubic_``."""
    mean = {k: v for k, v in result["mean"].items() if isinstance(v, float)}
    if "bicubic" in result:
        mean.update({f"bicubic_{k}": v for k, v in result["bicubic"]["mean"].items() if isinstance(v, float)})
    return mean
