"""Training DVD-GAN on the engine: the alternating step, the data adapter, sample grids and ``train``.

The engine's :class:`~vidlearn.engine.Trainer` runs the loop (checkpoints with G, D_S, D_T, both
optimisers and G's EMA; exact resume; SIGTERM; AMP; DDP); this module supplies what is GAN-specific:

* :class:`DVDGANStep`: per batch, ``d_steps`` discriminator updates (the batch is split between them,
  as BigGAN-PyTorch splits its batch over ``num_D_steps``) then one generator update, with the hinge
  loss (Lim & Ye 2017; BigGAN) summed over D_S and D_T::

      L_D = Σ_{D in {D_S, D_T}} E[relu(1 - D(x, y))] + E[relu(1 + D(G(z, y'), y'))]
      L_G = -Σ_{D in {D_S, D_T}} E[D(G(z, y'), y')]  (+ β Σ_W ||W Wᵀ ⊙ (1 - I)||²_F, BigGAN's
                                                     orthogonal regularisation, when β > 0)

  with ``z ~ N(0, I)`` and fake classes ``y'`` uniform. DVD-GAN-FP (``context_frames = n``): every
  fake continues the first ``n`` frames of a real clip of the batch, with that clip's class. A
  non-finite loss stops the run with an error before any update, so the last checkpoint on disk stays
  the last good state.
* :class:`GenerationClips`: recognition-style items (``uint8 (T, H, W, 3)`` frames, or float
  ``(C, T, H, W)`` clips) and a label -> ``(float (C, T, H, W) in [-1, 1], class, info)``.
* :class:`SampleGridCallback`: a PNG per epoch, one row of frames per sample, from the EMA generator.
* :func:`train`: builds the models, the Trainer (Adam for G at 1e-4 and for D at 5e-4, betas
  ``(0, 0.999)``: DVD-GAN's settings), the EMA of G, and fits.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset

from vidlearn.engine import Callback, History, OptimConfig, ScheduleConfig, Trainer, TrainerConfig
from vidlearn.generation.models import DVDGAN, DVDGANGenerator
from vidlearn.models import create
from vidlearn.synthetic import SyntheticMotionDataset

__all__ = [
    "DVDGANStep",
    "GANRun",
    "GenerationClips",
    "NonFiniteLossError",
    "SampleGridCallback",
    "hinge_discriminator_loss",
    "hinge_generator_loss",
    "load_generator",
    "orthogonal_regularization",
    "save_sample_grid",
    "synthetic_motion_clips",
    "train",
]

DISCRIMINATORS = ("d_spatial", "d_temporal")


def hinge_discriminator_loss(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """``E[relu(1 - D(x))] + E[relu(1 + D(G(z)))]`` for scores ``(B,)``."""
    return F.relu(1.0 - real_scores).mean() + F.relu(1.0 + fake_scores).mean()


def hinge_generator_loss(fake_scores: torch.Tensor) -> torch.Tensor:
    """``-E[D(G(z))]`` for scores ``(B,)``."""
    return -fake_scores.mean()


def orthogonal_regularization(module: nn.Module, strength: float,
                              skip: Sequence[str] = ("embedding",)) -> torch.Tensor:
    """BigGAN's orthogonal regularisation ``β Σ_W ||W Wᵀ ⊙ (1 - I)||²_F`` (Brock et al. 2019, eq. 3).

    Over every weight with >= 2 dimensions, flattened to ``(out, -1)`` (a spectral-normed layer's
    unnormalised weight); parameters whose name contains an entry of ``skip`` are left out (BigGAN
    leaves out the shared class embedding).
    """
    total = None
    for name, param in module.named_parameters():
        if param.ndim < 2 or any(word in name for word in skip):
            continue
        matrix = param.flatten(1)
        gram = matrix @ matrix.T
        off_diagonal = gram - torch.diag_embed(torch.diagonal(gram))
        term = off_diagonal.square().sum()
        total = term if total is None else total + term
    if total is None:
        raise ValueError("orthogonal_regularization: the module has no weight matrices")
    return strength * total


class NonFiniteLossError(FloatingPointError, ValueError):
    """A GAN loss became NaN or infinite; raised before any update, so the weights are the last good ones.

    A ``ValueError`` too, so that the command line reports it in one line.
    """


def _check_finite(name: str, value: torch.Tensor, ctx: Any) -> None:
    if not torch.isfinite(value):
        raise NonFiniteLossError(
            f"DVD-GAN training: {name} is {value.item()} at batch {ctx.batch_index} of the epoch; stopping "
            "before any update, so the last checkpoint in the work_dir is the last good state (lower the "
            "learning rates or check the data)"
        )


class DVDGANStep:
    """DVD-GAN's training step for the engine (``manual_optimization``); see the module docstring.

    Models: ``"g"``, ``"d_spatial"`` and optionally ``"d_temporal"``; optimisers ``"g"`` and ``"d"``
    (D_S and D_T share ``"d"``). ``d_steps`` discriminator updates per generator update, each on
    ``len(batch) // d_steps`` real clips; ``ortho_reg`` is β of :func:`orthogonal_regularization` (0: off);
    ``context_frames`` is DVD-GAN-FP's ``n`` (0: plain DVD-GAN).
    """

    manual_optimization = True

    def __init__(self, *, num_classes: int, z_dim: int, d_steps: int = 1, ortho_reg: float = 0.0,
                 context_frames: int = 0) -> None:
        if d_steps < 1:
            raise ValueError(f"d_steps must be >= 1, got {d_steps}")
        if ortho_reg < 0:
            raise ValueError(f"ortho_reg must be >= 0, got {ortho_reg}")
        self.num_classes, self.z_dim, self.d_steps, self.ortho_reg = num_classes, z_dim, d_steps, ortho_reg
        self.context_frames = context_frames

    def _fake(self, g: nn.Module, real: torch.Tensor, real_y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """G's clips for a chunk of ``len(real)``, and their classes: uniform ones, or (DVD-GAN-FP) the real
        clips' classes with their first ``context_frames`` frames as context."""
        count = len(real)
        z = torch.randn(count, self.z_dim, device=real.device)
        if self.context_frames:
            return g(z, real_y, context=real[:, :, : self.context_frames]), real_y
        y = torch.randint(0, self.num_classes, (count,), device=real.device)
        return g(z, y), y

    def training_step(self, ctx: Any, batch: Sequence[torch.Tensor]) -> dict[str, torch.Tensor]:
        clips, labels = batch[0], batch[1]
        if self.d_steps > 1 and ctx.parts.accum["d"] > 1:
            raise ValueError("d_steps > 1 updates D several times per batch; it cannot accumulate D's gradients")
        if len(clips) < self.d_steps:
            raise ValueError(f"a batch of {len(clips)} clips cannot feed d_steps={self.d_steps} D updates")
        g = ctx.models["g"]
        discriminators = {name: ctx.models[name] for name in DISCRIMINATORS if name in ctx.models}
        metrics: dict[str, torch.Tensor] = {}
        chunk = len(clips) // self.d_steps
        for step in range(self.d_steps):
            real = clips[step * chunk : (step + 1) * chunk]
            real_y = labels[step * chunk : (step + 1) * chunk]
            with torch.no_grad():
                fake, fake_y = self._fake(g, real, real_y)
            d_loss = clips.new_zeros(())
            for name, d in discriminators.items():
                real_scores, fake_scores = d(real, real_y), d(fake, fake_y)
                part = hinge_discriminator_loss(real_scores, fake_scores)
                d_loss = d_loss + part
                metrics[f"{name}_loss"] = part.detach()
                metrics[f"{name}_real"] = real_scores.detach().float().mean()
                metrics[f"{name}_fake"] = fake_scores.detach().float().mean()
            _check_finite("the discriminator loss", d_loss, ctx)
            ctx.backward(d_loss, "d")
            ctx.step("d")
        fake, fake_y = self._fake(g, clips[:chunk], labels[:chunk])
        g_loss = sum(hinge_generator_loss(d(fake, fake_y)) for d in discriminators.values())
        total = g_loss
        if self.ortho_reg > 0:
            ortho = orthogonal_regularization(g, self.ortho_reg)
            metrics["ortho_reg"] = ortho.detach()
            total = g_loss + ortho
        _check_finite("the generator loss", total, ctx)
        ctx.backward(total, "g")
        ctx.step("g")
        metrics["d_loss"] = d_loss.detach()
        metrics["g_loss"] = g_loss.detach()
        return metrics


class GenerationClips(Dataset):
    """Items ``(clip, label, ...)`` of a recognition-style dataset as ``(float (C, T, H, W) in [-1, 1], label, info)``.

    ``info`` holds the item's ``index`` and ``skipped`` (videos the dataset replaced, 0 when it does
    not say), which the engine sums into the epoch summary.

    ``uint8 (T, H, W, 3)`` frames (a decoded clip, :class:`~vidlearn.synthetic.SyntheticMotionDataset`)
    map ``[0, 255] -> [-1, 1]``; float ``(C, T, H, W)`` clips map ``float_range -> [-1, 1]``. With
    ``size`` the frames are resized (bilinear, antialiased); with ``num_frames`` the first
    ``num_frames`` are kept (a shorter clip is an error naming the item).
    """

    def __init__(self, dataset: Dataset, *, size: int | tuple[int, int] | None = None,
                 num_frames: int | None = None, float_range: tuple[float, float] = (0.0, 1.0)) -> None:
        self.dataset = dataset
        self.size = (size, size) if isinstance(size, int) else size
        self.num_frames = num_frames
        low, high = float_range
        if not high > low:
            raise ValueError(f"float_range must be (low, high) with high > low, got {float_range}")
        self.float_range = (float(low), float(high))
        self.classes: list[str] | None = list(getattr(dataset, "classes", []) or []) or None

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def set_epoch(self, epoch: int) -> None:
        set_epoch = getattr(self.dataset, "set_epoch", None)
        if callable(set_epoch):
            set_epoch(epoch)

    def to_generator_range(self, clip: Any, index: int) -> torch.Tensor:
        """One clip as ``float32 (C, T, H, W)`` in [-1, 1] (see the class docstring)."""
        clip = torch.as_tensor(clip)
        if clip.dtype == torch.uint8 and clip.ndim == 4 and clip.shape[-1] in (1, 3):
            clip = clip.permute(3, 0, 1, 2).float() / 127.5 - 1.0
        elif clip.is_floating_point() and clip.ndim == 4:
            low, high = self.float_range
            clip = (clip.float() - low) * (2.0 / (high - low)) - 1.0
        else:
            raise ValueError(f"item {index}: expected uint8 frames (T, H, W, 3) or a float clip (C, T, H, W), "
                             f"got {clip.dtype} {tuple(clip.shape)}")
        if self.num_frames is not None:
            if clip.shape[1] < self.num_frames:
                raise ValueError(f"item {index}: clip has {clip.shape[1]} frames, need {self.num_frames}")
            clip = clip[:, : self.num_frames]
        if self.size is not None and tuple(clip.shape[-2:]) != tuple(self.size):
            frames = F.interpolate(clip.transpose(0, 1), size=self.size, mode="bilinear", align_corners=False,
                                   antialias=True)
            clip = frames.transpose(0, 1)
        return clip.clamp(-1.0, 1.0).contiguous()

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor, dict[str, int]]:
        item = self.dataset[index]
        label = torch.as_tensor(item[1])
        if label.numel() != 1 or label.is_floating_point():
            raise ValueError(f"item {index}: DVD-GAN needs one class index per clip, got a label of shape "
                             f"{tuple(label.shape)} ({label.dtype}); multi-label data cannot condition G")
        info = item[2] if len(item) > 2 and isinstance(item[2], Mapping) else {}
        # The engine counts the videos a dataset replaced (on_error="skip") from this entry.
        return (self.to_generator_range(item[0], index), label.reshape(()).long(),
                {"index": index, "skipped": int(info.get("skipped", 0))})


def synthetic_motion_clips(num_videos: int, *, preset: str = "motion4", num_frames: int = 8, size: int = 32,
                           seed: int = 0, split: str = "train", cache: bool = True) -> GenerationClips:
    """The built-in motion data (classes live only in the motion) as DVD-GAN training items."""
    motion = SyntheticMotionDataset(num_videos, preset=preset, num_frames=num_frames, size=(size, size),
                                    seed=seed, split=split, cache=cache)
    return GenerationClips(motion)


def save_sample_grid(clips: torch.Tensor, path: str | Path) -> Path:
    """Write ``clips (N, C, T, H, W)`` in [-1, 1] as one PNG: a row of ``T`` frames per sample."""
    from torchvision.utils import save_image

    if clips.ndim != 5:
        raise ValueError(f"clips must be (N, C, T, H, W), got shape {tuple(clips.shape)}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    frames = clips.detach().float().cpu().transpose(1, 2).flatten(0, 1)  # (N*T, C, H, W), sample-major
    save_image((frames + 1.0) / 2.0, path, nrow=clips.shape[2], padding=1)
    return path


class SampleGridCallback(Callback):
    """After every epoch, ``samples/epoch{NNNN}.png`` in the work_dir: ``per_class`` samples of each class.

    Drawn from G's EMA copy when there is one (else from G in eval mode), with the same ``z`` every
    epoch (a private ``torch.Generator``: the run's random streams, and so an exact resume, are untouched).
    DVD-GAN-FP: ``context`` ``(N, 3, n, R, R)`` and its ``classes`` ``(N,)`` (real clips' first frames) replace
    the per-class rows; each row then shows the context followed by the prediction.
    """

    def __init__(self, *, num_classes: int, z_dim: int, per_class: int = 2, truncation: float | None = None,
                 seed: int = 0, max_classes: int = 16, context: torch.Tensor | None = None,
                 classes: torch.Tensor | None = None) -> None:
        from vidlearn.generation.models import truncated_normal

        if context is not None:
            if classes is None or len(classes) != len(context):
                raise ValueError("SampleGridCallback: context needs one class per clip")
        else:
            classes = torch.arange(min(num_classes, max_classes)).repeat_interleave(per_class)
        generator = torch.Generator().manual_seed(seed)
        self.classes, self.context = classes, context
        self.z = truncated_normal((len(classes), z_dim), truncation, generator=generator)
        self.paths: list[Path] = []

    def on_epoch_end(self, trainer: Trainer, summary: Mapping[str, Any]) -> None:
        if not trainer.is_main:
            return
        ema = trainer.ema.get("g")
        model = ema.module if ema is not None else trainer.models["g"]
        was_training = model.training
        model.eval()
        with torch.no_grad():
            context = None if self.context is None else self.context.to(trainer.device)
            clips = model(self.z.to(trainer.device), self.classes.to(trainer.device), context=context)
        model.train(was_training)
        epoch = int(summary.get("epoch", trainer.epoch + 1))
        self.paths.append(save_sample_grid(clips, trainer.work_dir / "samples" / f"epoch{epoch:04d}.png"))


@dataclass
class GANRun:
    """What :func:`train` returns: the trained :class:`DVDGAN`, its trainer and history, the sample grids."""

    model: DVDGAN
    trainer: Trainer
    history: History
    sample_grids: list[Path]


def train(dataset: Dataset, *, work_dir: str | Path, model: str | DVDGAN = "dvdgan_cpu",
          model_kwargs: Mapping[str, Any] | None = None, num_classes: int | None = None, batch_size: int = 8,
          max_epochs: int = 1, max_steps: int | None = None, g_lr: float = 1e-4, d_lr: float = 5e-4,
          betas: tuple[float, float] = (0.0, 0.999), d_steps: int = 1, ortho_reg: float = 0.0,
          ema_decay: float = 0.9999, ema_start_step: int = 0, temporal_discriminator: bool = True,
          num_workers: int = 0, seed: int = 0, device: str = "auto", amp: str = "none",
          deterministic: bool = False, checkpoint_every_steps: int = 0, log_every_steps: int = 10,
          progress_bar: bool = False, samples_per_class: int = 2, truncation: float | None = None,
          resume: str | Path | None = None, callbacks: Sequence[Callback] = (),
          trainer_config: TrainerConfig | None = None, recipe: Any = None,
          resume_changeable_keys: Sequence[str] = (), allow_changed_config: bool = False) -> GANRun:
    """Train DVD-GAN on ``dataset`` (items ``(clip (C, T, H, W) in [-1, 1], class, ...)``) with the engine.

    ``model`` is a registered name (built with ``num_classes``, default ``dataset.classes``' length, and
    ``model_kwargs``) or a ready :class:`DVDGAN`. ``temporal_discriminator=False`` trains without D_T
    (the ablation). The engine's checkpoints hold ``g``, ``d_spatial``, ``d_temporal``, the optimisers
    ``g`` and ``d`` and the EMA of ``g``; ``resume="auto"`` continues the latest one.

    ``trainer_config`` (a recipe's ``train`` section) replaces the loop settings given one by one
    (``max_epochs`` ... ``progress_bar``); ``recipe`` is saved in the run config (``run["recipe"]``), and a
    resume under a recipe that differs but in ``resume_changeable_keys`` (dotted keys of the run config,
    e.g. ``recipe.train.max_epochs``) is refused unless ``allow_changed_config``.
    """
    if trainer_config is not None:
        seed = trainer_config.seed
    model_name = model if isinstance(model, str) else getattr(model, "vidlearn_name", None)
    kwargs: dict[str, Any] = {}
    if isinstance(model, str):
        if num_classes is None:
            classes = getattr(dataset, "classes", None)
            num_classes = len(classes) if classes else None
        kwargs = dict(model_kwargs or {})
        kwargs.setdefault("temporal_discriminator", temporal_discriminator)
        torch.manual_seed(seed)  # the initial weights are part of the run's seed
        gan = create(model, num_classes=num_classes, **kwargs)
    else:
        gan = model
    if not isinstance(gan, DVDGAN):
        raise TypeError(f"model must build a DVDGAN, got {type(gan).__name__}")
    clip, label = dataset[0][0], dataset[0][1]
    g = gan.generator
    expected = (3, g.num_frames, g.resolution, g.resolution)
    if tuple(clip.shape) != expected:
        raise ValueError(f"dataset item 0 is a clip of shape {tuple(clip.shape)}; the model generates "
                         f"{expected} (C, T, H, W): resize the data or build the model for it")
    if not 0 <= int(label) < g.num_classes:
        raise ValueError(f"dataset item 0 has class {int(label)}, the model has {g.num_classes} classes")
    models: dict[str, nn.Module] = {"g": g, "d_spatial": gan.spatial_discriminator}
    if gan.temporal_discriminator is not None:
        models["d_temporal"] = gan.temporal_discriminator
    if trainer_config is not None:
        from dataclasses import replace

        config = replace(trainer_config, work_dir=str(work_dir), eval_every_epochs=0)
    else:
        config = TrainerConfig(max_epochs=max_epochs, max_steps=max_steps, seed=seed, device=device, amp=amp,  # type: ignore[arg-type]
                               deterministic=deterministic, work_dir=str(work_dir), progress_bar=progress_bar,
                               checkpoint_every_steps=checkpoint_every_steps, log_every_steps=log_every_steps,
                               eval_every_epochs=0)
    # What load_generator needs to rebuild G from a checkpoint (saved in it and in config.yaml).
    run_config = {
        "model": model_name, "model_kwargs": kwargs, "num_classes": g.num_classes,
        "classes": list(getattr(dataset, "classes", None) or []), "resolution": g.resolution,
        "num_frames": g.num_frames, "z_dim": g.z_dim, "batch_size": batch_size, "g_lr": g_lr, "d_lr": d_lr,
        "betas": list(betas), "d_steps": d_steps, "ortho_reg": ortho_reg, "ema_decay": ema_decay,
        "ema_start_step": ema_start_step, "temporal_discriminator": gan.temporal_discriminator is not None,
    }
    if recipe is not None:
        from vidlearn.engine.config import config_to_dict

        run_config["recipe"] = config_to_dict(recipe)
    context = classes_of_context = None
    if g.context_frames:  # DVD-GAN-FP's grids continue the first clips of the data
        from vidlearn.generation.sampling import real_contexts

        count = min(len(dataset), 4 * samples_per_class)  # type: ignore[arg-type]
        context, classes_of_context = real_contexts(dataset, count, g.context_frames)
    grids = SampleGridCallback(num_classes=g.num_classes, z_dim=g.z_dim, per_class=samples_per_class,
                               truncation=truncation, seed=seed, context=context, classes=classes_of_context)
    trainer = Trainer(
        models, dataset,
        step_fn=DVDGANStep(num_classes=g.num_classes, z_dim=g.z_dim, d_steps=d_steps, ortho_reg=ortho_reg,
                           context_frames=g.context_frames),
        optim={"g": OptimConfig(name="adam", lr=g_lr, betas=betas), "d": OptimConfig(name="adam", lr=d_lr, betas=betas)},
        schedule=ScheduleConfig(name="constant"),
        optimizer_models={"g": ["g"], "d": [name for name in models if name != "g"]},
        ema={"g": ema_decay}, ema_start_step=ema_start_step, config=config, batch_size=batch_size,
        num_workers=num_workers, drop_last=True, callbacks=[grids, *callbacks], run_config=run_config,
        resume_changeable_keys=resume_changeable_keys,
    )
    history = trainer.fit(resume=resume, allow_changed_config=allow_changed_config)
    return GANRun(model=gan, trainer=trainer, history=history, sample_grids=list(grids.paths))


def load_generator(checkpoint: str | Path, *, ema: bool = True) -> DVDGANGenerator:
    """The generator of a :func:`train` checkpoint (its EMA copy by default), rebuilt and loaded strictly.

    The checkpoint's run config names the registered model and its arguments; the generator comes
    back in eval mode with ``classes`` (the training data's class names, possibly empty) attached.
    """
    from vidlearn.engine import load_checkpoint

    state = load_checkpoint(checkpoint, map_location="cpu")
    run = (state.get("config") or {}).get("run") or {}
    if not run.get("model"):
        raise ValueError(f"{checkpoint}: no registered model name in the checkpoint's run config; "
                         "it was not written by vidlearn.generation.train with a registered model")
    kwargs = dict(run.get("model_kwargs") or {})
    gan = create(run["model"], num_classes=run["num_classes"], **kwargs)
    generator = gan.generator
    if ema:
        if "g" not in state.get("ema", {}):
            raise ValueError(f"{checkpoint}: holds no EMA copy of G; pass ema=False for the raw weights")
        weights = {k: v for k, v in state["ema"]["g"].items() if k != "__num_updates__"}
    else:
        weights = state["models"]["g"]
    generator.load_state_dict(weights, strict=True)
    generator.classes = list(run.get("classes") or [])
    return generator.eval()
