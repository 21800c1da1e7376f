"""The architecture comparison of the talk (``vidlearn bench talk``): every network, one benchmark, one table.

Each network is trained from scratch on the same built-in motion dataset (the demo's, see
:mod:`vidlearn.recognition.demo`) in a CPU-sized variant (its registry ``small_kwargs``: the same
architecture with narrower layers), then scored on the held-out clips. The two-stream network is
trained as in Simonyan & Zisserman 2014: the spatial stream on RGB frames and the temporal stream on
stacked optical flow (Farneback, extracted once with :mod:`vidlearn.video.flow`), separately, then
fused by averaging their softmax scores. The table (held-out top-1, parameters, GMACs per clip,
training time) is written as Markdown, JSON and a PNG bar chart.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from vidlearn.models import get_model_info
from vidlearn.recognition.demo import DemoModel, DemoSettings, demo_recipe, machine_report, variant_gmacs

__all__ = ["TALK_MODELS", "TalkEntry", "run_talk_benchmark"]


@dataclass(frozen=True)
class TalkEntry:
    """One row of the talk table: a registered model trained on RGB or flow clips."""

    name: str
    title: str
    modality: str = "rgb"
    clip_len: int = 16
    extra_kwargs: dict[str, Any] = field(default_factory=dict)


TALK_MODELS: tuple[TalkEntry, ...] = (
    TalkEntry("single_frame", "Single frame (Karpathy et al. 2014)"),
    TalkEntry("early_fusion", "Early fusion (Karpathy et al. 2014)", clip_len=10),
    TalkEntry("late_fusion", "Late fusion (Karpathy et al. 2014)"),
    TalkEntry("slow_fusion", "Slow fusion (Karpathy et al. 2014)", clip_len=10),
    TalkEntry("two_stream_spatial", "Two-stream: spatial stream (Simonyan & Zisserman 2014)"),
    TalkEntry("two_stream_temporal", "Two-stream: temporal stream, L=10 flow fields", modality="flow", clip_len=10),
    TalkEntry("lrcn", "LRCN (Donahue et al. 2015)"),
    TalkEntry("c3d", "C3D (Tran et al. 2015)",
              extra_kwargs={"width_multiplier": 0.25, "fc_dim": 256, "dropout": 0.0, "norm_layer": "batch",
                            "fc_init": "kaiming"}),
    TalkEntry("i3d", "I3D, Inception-v1 inflated (Carreira & Zisserman 2017)"),
    TalkEntry("t3d_121", "T3D, DenseNet with TTL (Diba et al. 2017)"),
    TalkEntry("r3d_18", "R3D-18 (Tran et al. 2018, torchvision)"),
)


def _spatial_size(name: str) -> int:
    shape = get_model_info(name).small_input_shape or get_model_info(name).input_shape
    return int(shape[-1])  # type: ignore[arg-type]


def _ensure_flow(data_root: Path, flow_root: Path, log: Any) -> None:
    from vidlearn.video.flow.extract import extract_dataset_flow

    log(f"[talk] extracting Farneback optical flow of every clip to {flow_root}")
    summary = extract_dataset_flow(data_root / "videos", flow_root / "videos", method="farneback",
                                   root=data_root / "videos", workers=2, progress=False)
    failed = getattr(summary, "failed", 0)
    if failed:
        raise RuntimeError(f"optical flow extraction failed for {failed} videos; see the log")


def run_talk_benchmark(
    out_dir: str | Path = "runs/talk",
    *,
    settings: DemoSettings | None = None,
    entries: tuple[TalkEntry, ...] = TALK_MODELS,
    epochs: int = 8,
    log: Any = print,
) -> dict[str, Any]:
    """Train and score every entry; writes ``talk.md``, ``talk.json`` and ``talk.png`` to ``out_dir``."""
    from vidlearn.engine.resume import ResumeError
    from vidlearn.recognition.builders import build_dataset
    from vidlearn.recognition.protocols import run_protocol
    from vidlearn.recognition.training import finished_run_result, train

    settings = settings or DemoSettings()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    data_root = out / "data"
    flow_root = out / "flow"
    # Rows of an earlier run in the same folder are kept, so one model can be re-run alone.
    previous = out / "talk.json"
    rows: dict[str, dict[str, Any]] = json.loads(previous.read_text())["models"] if previous.is_file() else {}
    fused_inputs: dict[str, Any] = {}
    started = time.perf_counter()
    for entry in entries:
        info = get_model_info(entry.name)
        kwargs = {k: v for k, v in info.small_kwargs.items() if k != "num_classes"}
        kwargs.update(entry.extra_kwargs)
        size = _spatial_size(entry.name)
        if "clip_len" in kwargs:
            kwargs["clip_len"] = entry.clip_len
        model = DemoModel(entry.name, entry.title, kwargs, epochs=epochs)
        cfg = demo_recipe(model, settings, data_root, out / entry.name)
        cfg.data.clip_len = entry.clip_len
        cfg.data.preprocessing.resize_short_side = size if size != settings.size[0] else None
        cfg.data.preprocessing.crop_size = size
        if entry.modality == "flow":
            build_dataset(cfg, train=False)  # writes the videos if needed
            if not (flow_root / ".complete").is_file():
                _ensure_flow(data_root, flow_root, log)
                (flow_root / ".complete").write_text("farneback\n")
            cfg.data.modality = "flow"
            cfg.data.flow_root = str(flow_root)
            cfg.data.preprocessing.mean, cfg.data.preprocessing.std = (0.0, 0.0), (1.0, 1.0)
            cfg.data.preprocessing.value_range = (0.0, 255.0)
        log(f"[talk] {entry.title}: {epochs} epochs, input {3 if entry.modality == 'rgb' else 2}x{entry.clip_len}x{size}x{size}")
        try:
            result = train(cfg, resume="auto")  # an interrupted benchmark continues where it stopped
        except ResumeError as error:
            if not error.finished:
                raise
            result = finished_run_result(cfg)  # this model's run is done: its row is re-read, not re-run
            log(f"[talk] {entry.name}: finished earlier in {cfg.train.work_dir}; its results are reused")
        shape = (3 if entry.modality == "rgb" else 2, entry.clip_len, size, size)
        rows[entry.name] = {
            "title": entry.title,
            "modality": entry.modality,
            "top1": result.metrics.get("video_top1", float("nan")),
            "params": result.num_params,
            "gmacs": variant_gmacs(entry.name, kwargs, shape),
            "train_seconds": round(_training_seconds(out / entry.name, result.train_seconds), 1),
            "input": list(shape),
        }
        if entry.name.startswith("two_stream_"):
            from vidlearn.recognition.checkpoints import load_trained_model

            trained, _ = load_trained_model(out / entry.name / "model.safetensors")
            videos = build_dataset(cfg, train=False)
            fused_inputs[entry.name] = run_protocol(cfg, trained, videos, num_clips=1, num_crops=1)
        log(f"[talk] {entry.name}: held-out top-1 {100 * rows[entry.name]['top1']:.1f}%")
    if {"two_stream_spatial", "two_stream_temporal"} <= set(fused_inputs):
        spatial, temporal = fused_inputs["two_stream_spatial"], fused_inputs["two_stream_temporal"]
        if not torch.equal(spatial.labels, temporal.labels):
            raise RuntimeError("the spatial and temporal test sets list different videos")
        fused = (spatial.video_scores + temporal.video_scores) / 2
        top1 = float((fused.argmax(1) == spatial.labels).float().mean())
        rows["two_stream (fused)"] = {
            "title": "Two-stream, softmax scores averaged (Simonyan & Zisserman 2014)",
            "modality": "rgb+flow", "top1": top1,
            "params": rows["two_stream_spatial"]["params"] + rows["two_stream_temporal"]["params"],
            "gmacs": (rows["two_stream_spatial"]["gmacs"] or 0) + (rows["two_stream_temporal"]["gmacs"] or 0),
            "train_seconds": rows["two_stream_spatial"]["train_seconds"] + rows["two_stream_temporal"]["train_seconds"],
            "input": "rgb + flow",
        }
    classes = list(build_dataset(demo_recipe(DemoModel("c3d", "", {}, 1), settings, data_root, out / "_classes"),
                                 train=False).classes)
    results = {"chance": 1.0 / len(classes), "classes": classes, "epochs": epochs, "models": rows,
               "machine": machine_report(), "total_seconds": round(time.perf_counter() - started, 1),
               "dataset": {"preset": settings.preset, "num_train": settings.num_train, "num_test": settings.num_test,
                           "clip": [settings.num_frames, *settings.size]}}
    (out / "talk.json").write_text(json.dumps(results, indent=2) + "\n")
    table = _table(results)
    (out / "talk.md").write_text(table + "\n")
    _plot(results, out / "talk.png")
    log("")
    log(table)
    return results


def _training_seconds(work_dir: Path, measured: float) -> float:
    """Training time from the run's epoch log (so a resumed, already finished run reports its real time)."""
    import csv

    log = work_dir / "epochs.csv"
    if not log.is_file():
        return measured
    with log.open() as handle:
        return sum(float(row["epoch_time_s"]) for row in csv.DictReader(handle) if row.get("epoch_time_s"))


def _table(results: dict[str, Any]) -> str:
    data = results["dataset"]
    lines = [
        f"Built-in motion benchmark `{data['preset']}`: {len(results['classes'])} classes, {data['num_train']} training / "
        f"{data['num_test']} held-out clips of {data['clip'][0]}x{data['clip'][1]}x{data['clip'][2]}; "
        f"{results['epochs']} epochs from scratch, CPU-sized variants; chance {100 * results['chance']:.1f}%.",
        "",
        "| model | input | held-out top-1 | parameters | GMACs/clip | training time |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for name, row in results["models"].items():
        shape = row["input"] if isinstance(row["input"], str) else "x".join(str(d) for d in row["input"])
        gmacs = "-" if row["gmacs"] is None else f"{row['gmacs']:.3f}"
        lines.append(f"| {row['title']} (`{name}`) | {shape} | {100 * row['top1']:.1f}% | {row['params']:,} | {gmacs} "
                     f"| {row['train_seconds']:.0f} s |")
    machine = results["machine"]
    # The fused two-stream row adds its streams' times; counting it again would double them.
    training = sum(row["train_seconds"] for name, row in results["models"].items() if name != "two_stream (fused)")
    lines += ["", f"Machine: {machine['cpu']}, {machine['threads']} threads, torch {machine['torch']}; "
              f"training time of the networks together {training:.0f} s ({training / 60:.0f} min); this "
              f"invocation took {results['total_seconds']:.0f} s (runs finished earlier are reused, not re-run)."]
    return "\n".join(lines)


def _plot(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(results["models"])
    values = [100 * results["models"][n]["top1"] for n in names]
    figure, axis = plt.subplots(figsize=(9, 0.45 * len(names) + 1.5))
    axis.barh(names[::-1], values[::-1], color="#4477aa")
    axis.axvline(100 * results["chance"], color="grey", linestyle="--", label="chance")
    axis.set(xlabel="held-out top-1 (%)", xlim=(0, 100), title="The talk's architectures on the built-in motion benchmark")
    axis.legend(loc="lower right")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


