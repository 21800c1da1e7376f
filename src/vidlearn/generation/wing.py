"""What ``vidlearn train`` and ``vidlearn evaluate`` call for a ``task: generation`` recipe.

The task registry (:mod:`vidlearn.tasks`) imports this module when a recipe names the task; it
exposes the interface every wing's entry module has:

* :func:`load_recipe` -> :class:`~vidlearn.generation.recipe.GenerationConfig`;
* :func:`train`: DVD-GAN on the recipe's real clips through the engine (G, D_S, D_T; Adam for G and
  for D; ``gan.d_steps`` D steps per G step; G's EMA; checkpoints, exact resume, SIGTERM), then,
  unless ``final_eval`` is off, :func:`evaluate` on the last checkpoint; writes ``metrics.json`` and
  ``samples.gif`` (one row per class) into the work dir;
* :func:`evaluate`: the metric protocols of ``evaluate`` (FVD, IS, sample accuracy) on a checkpoint,
  written to ``out_dir/metrics.json`` with every protocol choice beside each number;
* :func:`average_splits`: the mean of each metric's value over several runs.

Resuming refuses a recipe that differs but in :data:`RESUME_CHANGEABLE_KEYS` (the engine's
``ResumeError``) unless ``allow_changed_recipe``. A non-finite loss stops the run with an error
naming the loss and the batch; the last checkpoint in the work dir is then the last good state.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vidlearn.generation.data import build_real_clips
from vidlearn.generation.recipe import GenerationConfig, load_recipe

__all__ = ["RESUME_CHANGEABLE_KEYS", "GenerationResult", "average_splits", "evaluate", "load_recipe", "train"]

#: Run-config keys that may change when a run resumes: how long it trains, where and how it reports,
#: the metric protocols and the loader's worker count.
RESUME_CHANGEABLE_KEYS: tuple[str, ...] = (
    "recipe.name", "recipe.train.max_epochs", "recipe.train.max_steps", "recipe.train.work_dir",
    "recipe.train.progress_bar", "recipe.train.log_every_steps", "recipe.train.tensorboard",
    "recipe.train.keep_checkpoints", "recipe.train.checkpoint_every_steps", "recipe.train.device",
    "recipe.data.num_workers", "recipe.evaluate.*",
)


@dataclass
class GenerationResult:
    """What :func:`train` returns: the work dir, the final metrics (values only) and how the run ended."""

    work_dir: Path
    metrics: dict[str, float]
    history: list[dict[str, Any]] = field(default_factory=list)
    interrupted: bool = False
    train_seconds: float = 0.0
    last_checkpoint: Path | None = None


def train(cfg: GenerationConfig, *, resume: str | Path | None = "auto", final_eval: bool = True,
          allow_changed_recipe: bool = False, real_clips: Any = None) -> GenerationResult:
    """Train the recipe's DVD-GAN on its real clips; then score the last checkpoint (see the module docstring).

    ``real_clips``: the training clips when the caller has built them already (:func:`build_real_clips`
    of ``cfg.data``), so that rendered or decoded clips are not made twice.
    """
    import time

    from vidlearn.engine import distributed as dist_utils
    from vidlearn.generation.sampling import real_contexts, sample_clips, write_sample_video
    from vidlearn.generation.training import NonFiniteLossError
    from vidlearn.generation.training import train as train_gan

    real = real_clips if real_clips is not None else build_real_clips(cfg.data, train=True, seed=cfg.train.seed)
    kwargs = dict(cfg.model.kwargs)
    kwargs.setdefault("num_frames", cfg.data.clip_len)
    started = time.perf_counter()
    try:
        run = train_gan(
            real, work_dir=cfg.train.work_dir, model=cfg.model.name, model_kwargs=kwargs,
            num_classes=cfg.model.num_classes, batch_size=cfg.data.batch_size, g_lr=cfg.gan.g_lr, d_lr=cfg.gan.d_lr,
            betas=tuple(cfg.gan.betas), d_steps=cfg.gan.d_steps, ortho_reg=cfg.gan.ortho_reg,  # type: ignore[arg-type]
            ema_decay=cfg.gan.ema_decay, ema_start_step=cfg.gan.ema_start_step,
            temporal_discriminator=cfg.model.temporal_discriminator, num_workers=cfg.data.num_workers,
            samples_per_class=cfg.gan.samples_per_class, truncation=cfg.gan.truncation, resume=resume,
            trainer_config=cfg.train, recipe=cfg, resume_changeable_keys=RESUME_CHANGEABLE_KEYS,
            allow_changed_config=allow_changed_recipe,
        )
    except NonFiniteLossError as error:
        last = _latest_checkpoint(Path(cfg.train.work_dir))
        kept = f"the last good checkpoint is {last}" if last else "no checkpoint had been written yet"
        raise NonFiniteLossError(f"{error}; {kept}") from None
    seconds = time.perf_counter() - started
    work_dir = Path(cfg.train.work_dir)
    history = run.history
    result = GenerationResult(work_dir, {}, list(history.epochs), history.interrupted, seconds, history.last_checkpoint)
    if history.interrupted or not dist_utils.is_main_process():
        return result
    checkpoint = history.last_checkpoint or _latest_checkpoint(work_dir)
    if checkpoint is not None:
        from vidlearn.generation.training import load_generator

        generator = load_generator(checkpoint, ema=True)
        if generator.context_frames:  # DVD-GAN-FP: continue 16 held-out real clips
            context, labels = real_contexts(build_real_clips(cfg.data, train=False, seed=cfg.train.seed), 16,
                                            generator.context_frames)
            clips, _ = sample_clips(generator, labels.tolist(), seed=cfg.evaluate.seed, truncation=cfg.gan.truncation,
                                    context=context)
        else:
            clips, _ = sample_clips(generator, list(range(generator.num_classes)), num=4, seed=cfg.evaluate.seed,
                                    truncation=cfg.gan.truncation)
        write_sample_video(work_dir / "samples.gif", clips, ncol=4, scale=max(1, 96 // generator.resolution))
        if final_eval:
            full = evaluate(cfg, checkpoint, out_dir=work_dir, progress=False)
            result.metrics = {name: entry["value"] for name, entry in full.items() if isinstance(entry, dict)}
    return result


def _latest_checkpoint(work_dir: Path) -> Path | None:
    found = sorted((work_dir / "checkpoints").glob("*.pt"))
    return found[-1] if found else None


def evaluate(cfg: GenerationConfig, checkpoint: str | Path, *, out_dir: str | Path | None = None,
             progress: bool = True, **protocol_options: Any) -> dict[str, Any]:
    """The recipe's metric protocols on a :func:`train` checkpoint (its EMA generator unless ``evaluate.ema`` is off).

    ``protocol_options`` override fields of the recipe's ``evaluate`` section (``num_samples=64``).
    A checkpoint whose generator makes clips of another size or length than the recipe's data is an
    error naming both. Returns ``{metric: {value, std, num_fake, num_real, protocol...}}`` and writes
    it to ``out_dir/metrics.json`` when ``out_dir`` is given.
    """
    from dataclasses import replace

    from vidlearn.generation.evaluation import evaluate_generator
    from vidlearn.generation.training import load_generator

    settings = replace(cfg.evaluate, **protocol_options) if protocol_options else cfg.evaluate
    generator = load_generator(checkpoint, ema=settings.ema)
    check_generator_fits(generator, cfg, checkpoint)
    real = None
    if settings.fvd.enabled or generator.context_frames:  # DVD-GAN-FP continues real clips
        real = build_real_clips(cfg.data, train=settings.real_split == "train", seed=cfg.train.seed)
    split_name = _real_split_name(cfg, settings.real_split)
    log = print if progress else None
    results = evaluate_generator(generator, settings, real=real, real_split=split_name,
                                 num_workers=cfg.data.num_workers, log=log)
    results["checkpoint"] = str(checkpoint)
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        (out / "metrics.json").write_text(json.dumps(results, indent=2) + "\n")
    return results


def check_generator_fits(generator: Any, cfg: GenerationConfig, checkpoint: str | Path) -> None:
    """Raise ``ValueError`` when the checkpoint's generator makes clips of another size or length than ``cfg.data``."""
    if generator.resolution != cfg.data.resolution:
        raise ValueError(f"{checkpoint}: the checkpoint's generator makes {generator.resolution}x{generator.resolution} "
                         f"clips, the recipe's data.resolution is {cfg.data.resolution}: evaluate it with the recipe "
                         "it was trained with (or data.resolution=" f"{generator.resolution})")
    if generator.num_frames != cfg.data.clip_len:
        raise ValueError(f"{checkpoint}: the checkpoint's generator makes {generator.num_frames}-frame clips, the "
                         f"recipe's data.clip_len is {cfg.data.clip_len}")


def _real_split_name(cfg: GenerationConfig, part: str) -> str:
    data = cfg.data
    if data.format == "motion":
        count = data.motion.num_train if part == "train" else data.motion.num_test
        return f"motion:{data.motion.preset} {part} ({count} clips, seed {data.motion.seed}, {data.resolution}px)"
    return f"{data.format}:{data.root} split {data.split} {part} ({data.resolution}px centre squares)"


def average_splits(results: list[dict[str, Any]]) -> dict[str, float]:
    """The mean value of every metric over ``results`` (one :func:`evaluate` dict per split or run)."""
    names = [name for name, entry in results[0].items() if isinstance(entry, dict) and "value" in entry]
    return {name: sum(float(r[name]["value"]) for r in results) / len(results) for name in names}
