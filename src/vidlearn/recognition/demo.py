"""The main job: the talk's point on data whose classes live only in the motion.

``run_demo`` writes the built-in motion dataset as real video files, trains a single-frame network,
a late-fusion network and a small C3D on it (through the same recipe, engine and data path as any
``vidlearn train`` run), evaluates each on the held-out split, and writes under ``out_dir``:

- ``results.json``: per model held-out top-1 / top-5, the chance level, parameters, GMACs, training
  time; plus the dataset and machine.
- ``results.md``: the same as a table, and ``report.md``: what it shows.
- ``curves.png``: training loss and held-out top-1 per epoch.
- ``<model>/``: each run's work dir (checkpoints, logs, ``model.safetensors``, confusion matrix).

A single frame of these clips is distributed the same way whatever the class (Karpathy et al. 2014's
single-frame network can do no better than chance); C3D (Tran et al. 2015) and late fusion see motion.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import sys
import time
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from vidlearn.recognition.recipe import DataConfig, PreprocessingConfig, RecognitionConfig, SyntheticConfig
from vidlearn.utils import machine_info

__all__ = ["DEMO_MODELS", "DemoModel", "DemoSettings", "demo_part", "demo_recipe", "machine_report", "run_demo",
           "variant_gmacs"]


@dataclass(frozen=True)
class DemoModel:
    """One network of the demo: registry name, CPU-sized builder options and its schedule."""

    name: str
    title: str
    kwargs: dict[str, Any]
    epochs: int
    lr: float = 1e-3
    weight_decay: float = 1e-4
    batch_size: int = 16
    note: str = ""


DEMO_MODELS: tuple[DemoModel, ...] = (
    DemoModel("single_frame", "Single frame (Karpathy et al. 2014)",
              dict(width_multiplier=0.25, fc_dim=256, crop_size=32), epochs=6,
              note="scores each frame alone and averages: cannot see motion"),
    DemoModel("late_fusion", "Late fusion (Karpathy et al. 2014)",
              dict(width_multiplier=0.25, fc_dim=256, crop_size=32, dropout=0.0), epochs=12, lr=3e-3,
              note="two towers on the first and last frame, merged at the first FC; at 32x32 the towers "
                   "end in a map too small to keep the positions that the FC layers would compare, "
                   "so this CPU-sized variant stays near chance"),
    DemoModel("c3d", "C3D (Tran et al. 2015)",
              dict(width_multiplier=0.25, fc_dim=256, clip_len=16, crop_size=32, dropout=0.0,
                   norm_layer="batch", fc_init="kaiming"), epochs=12, lr=2e-3, batch_size=32,
              note="3x3x3 convolutions over the whole clip (CPU-sized: a quarter of the widths, "
                   "batch norm, fc 256)"),
)


@dataclass
class DemoSettings(SyntheticConfig):
    """The demo's run: the built-in dataset (the fields of :class:`SyntheticConfig`, with the demo's
    preset and training-set size), data-loading ``workers`` and the ``models`` to train."""

    preset: str = "motion4"
    num_train: int = 800
    workers: int = 2
    models: tuple[DemoModel, ...] = field(default=DEMO_MODELS)

    def synthetic(self) -> SyntheticConfig:
        """The dataset part alone, as a recipe's ``data.synthetic`` takes it."""
        return SyntheticConfig(**{spec.name: getattr(self, spec.name) for spec in fields(SyntheticConfig)})


def demo_recipe(model: DemoModel, settings: DemoSettings, data_root: Path, work_dir: Path) -> RecognitionConfig:
    """The recipe that trains ``model`` on the built-in motion data at ``data_root`` into ``work_dir`` (CPU)."""
    cfg = RecognitionConfig(name=f"demo-{model.name}")
    cfg.model.name = model.name
    cfg.model.kwargs = dict(model.kwargs)
    cfg.data = DataConfig(
        format="synthetic",
        root=str(data_root),
        clip_len=settings.num_frames,
        preprocessing=PreprocessingConfig(
            resize_short_side=None,
            crop_size=settings.size[0],
            flip=False,  # a mirror image turns "move left" into "move right": no flips on motion classes
            mean=(0.5, 0.5, 0.5),
            std=(0.25, 0.25, 0.25),
        ),
        batch_size=model.batch_size,
        num_workers=settings.workers,
        synthetic=settings.synthetic(),
    )
    cfg.optim.name = "adamw"
    cfg.optim.lr = model.lr
    cfg.optim.weight_decay = model.weight_decay
    cfg.schedule.name = "cosine"
    cfg.schedule.warmup_epochs = 0.5
    cfg.train.max_epochs = model.epochs
    cfg.train.seed = settings.seed
    cfg.train.work_dir = str(work_dir)
    cfg.train.log_every_steps = 10
    cfg.train.device = "cpu"
    cfg.train.progress_bar = sys.stderr.isatty()
    cfg.evaluate.num_clips = 1
    cfg.evaluate.val_num_clips = 1
    cfg.evaluate.num_workers = 0
    return cfg


def variant_gmacs(name: str, kwargs: dict[str, Any], shape: tuple[int, ...]) -> float | None:
    """GMACs per ``shape = (C, T, H, W)`` clip of the registered model ``name`` built with ``kwargs``
    (a CPU-sized variant); fake tensors, so nothing is computed. None when the counter cannot trace it."""
    from vidlearn.models import get_model_info
    from vidlearn.models.flops import count_flops

    try:
        return count_flops(get_model_info(name).builder(num_classes=8, **kwargs), shape)
    except Exception:  # a model the counter cannot trace: report no figure rather than a guess
        return None


def _plot_curves(runs: dict[str, list[dict[str, Any]]], chance: float, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (loss_axis, acc_axis) = plt.subplots(1, 2, figsize=(10, 4))
    for name, epochs in runs.items():
        x = [row["epoch"] for row in epochs]  # the engine's summaries count epochs from 1
        loss_axis.plot(x, [row.get("train_loss", float("nan")) for row in epochs], marker="o", label=name)
        acc_axis.plot(x, [100 * row.get("val_top1", float("nan")) for row in epochs], marker="o", label=name)
    acc_axis.axhline(100 * chance, color="grey", linestyle="--", label="chance")
    loss_axis.set(title="training loss", xlabel="epoch")
    acc_axis.set(title="held-out top-1 (%)", xlabel="epoch", ylim=(0, 100))
    loss_axis.legend()
    acc_axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def machine_report() -> dict[str, Any]:
    """:func:`vidlearn.utils.machine_info` as JSON fields, its one-line form as ``description``, and
    ``threads`` (the torch thread count, the key the architecture comparison's table reads)."""
    info = machine_info()
    return {**info.as_dict(), "threads": info.torch_threads, "description": str(info)}


def run_demo(out_dir: str | Path = "runs/demo", *, settings: DemoSettings | None = None,
             log: Any = print) -> dict[str, Any]:
    """Generate the motion dataset, train and evaluate the demo networks; returns ``results.json``'s content."""
    from vidlearn.engine.resume import ResumeError
    from vidlearn.recognition.builders import build_dataset
    from vidlearn.recognition.training import train

    settings = settings or DemoSettings()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    data_root = out / "data"
    started = time.perf_counter()
    first = demo_recipe(settings.models[0], settings, data_root, out / settings.models[0].name)
    log(f"[demo] writing the built-in motion dataset ({settings.preset}: {settings.num_train} train + "
        f"{settings.num_test} test clips of {settings.num_frames}x{settings.size[0]}x{settings.size[1]}) to {data_root}")
    classes = list(build_dataset(first, train=False).classes)
    chance = 1.0 / len(classes)
    log(f"[demo] {len(classes)} classes: {', '.join(classes)} (chance {100 * chance:.1f}%)")
    results: dict[str, Any] = {
        "dataset": {"preset": settings.preset, "classes": classes, "num_train": settings.num_train,
                    "num_test": settings.num_test, "clip": [settings.num_frames, *settings.size],
                    "root": str(data_root)},
        "chance": chance,
        "models": {},
        "machine": machine_report(),
    }
    histories: dict[str, list[dict[str, Any]]] = {}
    for model in settings.models:
        work_dir = out / model.name
        cfg = demo_recipe(model, settings, data_root, work_dir)
        log(f"[demo] training {model.title}: {model.epochs} epochs")
        try:
            result = train(cfg, resume="auto")  # an interrupted demo continues where it stopped
        except ResumeError as error:
            # A finished earlier demo (or one with other settings) in the same folder: measure afresh.
            log(f"[demo] replacing the earlier run in {work_dir} ({str(error).split(';')[0].split(': ', 1)[-1]})")
            shutil.rmtree(work_dir)
            result = train(cfg, resume="auto")
        histories[model.name] = result.history
        top1 = result.metrics.get("video_top1", float("nan"))
        results["models"][model.name] = {
            "title": model.title,
            "top1": top1,
            "top5": result.metrics.get("video_top5", float("nan")),
            "mean_class_accuracy": result.metrics.get("video_mean_class_accuracy", float("nan")),
            "chance": chance,
            "params": result.num_params,
            "gmacs": variant_gmacs(model.name, model.kwargs, (3, settings.num_frames, *settings.size)),
            "train_seconds": round(result.train_seconds, 1),
            "epochs": model.epochs,
            "checkpoint": str(work_dir / "model.safetensors"),
            "note": model.note,
        }
        log(f"[demo] {model.name}: held-out top-1 {100 * top1:.1f}% (chance {100 * chance:.1f}%) "
            f"in {result.train_seconds:.0f} s")
    results["total_seconds"] = round(time.perf_counter() - started, 1)
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    _plot_curves(histories, chance, out / "curves.png")
    table = _table(results)
    (out / "results.md").write_text(table + "\n")
    (out / "report.md").write_text(_report(results, table))
    log("")
    log(table)
    log(f"\n[demo] done in {results['total_seconds']:.0f} s; results in {out}/ (results.json, report.md, curves.png)")
    return results


def demo_part(out_dir: str | Path, *, quick: bool = False, workers: int = 2, log: Any = print) -> dict[str, Any]:
    """``vidlearn demo``'s recognition part (see :data:`vidlearn.tasks.DEMO_PARTS`): :func:`run_demo` with
    the demo's settings; ``quick`` trains each network one epoch on 160 + 48 clips."""
    settings = DemoSettings(workers=workers)
    if quick:
        settings.num_train, settings.num_test = 160, 48
        settings.models = tuple(dataclasses.replace(m, epochs=1) for m in settings.models)
    return run_demo(out_dir, settings=settings, log=log)


def _table(results: dict[str, Any]) -> str:
    """The results as a Markdown table; no top-5 column with 5 classes or fewer (it is then always 100%)."""
    with_top5 = len(results["dataset"]["classes"]) > 5
    top5_head, top5_rule = (" top-5 |", " ---: |") if with_top5 else ("", "")
    lines = [f"| model | held-out top-1 |{top5_head} chance | parameters | GMACs/clip | training time |",
             f"| --- | ---: |{top5_rule} ---: | ---: | ---: | ---: |"]
    for name, row in results["models"].items():
        gmacs = "-" if row["gmacs"] is None else f"{row['gmacs']:.3f}"
        top5 = f" {100 * row['top5']:.1f}% |" if with_top5 else ""
        lines.append(f"| {name} | {100 * row['top1']:.1f}% |{top5} {100 * row['chance']:.1f}% "
                     f"| {row['params']:,} | {gmacs} | {row['train_seconds']:.0f} s |")
    return "\n".join(lines)


def _report(results: dict[str, Any], table: str) -> str:
    data = results["dataset"]
    models = results["models"]
    lines = [
        "# vidlearn demo: motion needs a spatio-temporal network",
        "",
        f"Built-in dataset `{data['preset']}`: {len(data['classes'])} classes ({', '.join(data['classes'])}), "
        f"{data['num_train']} training and {data['num_test']} held-out clips of "
        f"{data['clip'][0]} frames at {data['clip'][1]}x{data['clip'][2]}, written as video files and decoded "
        "back. Every single frame is distributed the same way whatever the class: only the motion tells them apart.",
        "",
        table,
        "",
    ]
    for name, row in models.items():
        lines.append(f"- **{row['title']}** (`{name}`): {row['note']}; {100 * row['top1']:.1f}% held-out top-1.")
    lines += [
        "",
        "Curves: `curves.png`; confusion matrices: `<model>/confusion_matrix.png`; per-class accuracy: "
        "`<model>/per_class.csv`; weights: `<model>/model.safetensors` (try "
        "`vidlearn predict VIDEO --checkpoint runs/demo/c3d/model.safetensors`).",
        "",
        f"Machine: {results['machine']['description']}. Total time {results['total_seconds']:.0f} s.",
        "",
    ]
    return "\n".join(lines)
