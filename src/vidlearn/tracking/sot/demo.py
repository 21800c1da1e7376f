"""The single-object part of the tracking demo: GOTURN trained briefly on the CPU, scored with the OTB protocol.

:func:`sot_demo` trains GOTURN (Held et al. 2016) with the paper's example generation: on NanoTrack-v2's frozen
tower with built-in synthetic sequences and MOT17-04's pedestrians when the shared test material has them, else
a small tower from scratch on the synthetic sequences; and a CPU-sized ROLO (Ning et al. 2016) on synthetic
sequences. Then it runs them, the "box stays where it was" floor, OpenCV's CSRT and KCF and NanoTrack-v2 (when
its ONNX files are at hand) on held-out synthetic sequences and on OTB-100 Crossing (when the folder is at
hand). It writes ``results.json``,
``results.md``, the OTB success and precision plots per evaluation set and the result files (OTB rows).
ROLO's detector is simulated (the ground truth moved by 10 % of the box size, 10 % of frames missed), so its
row measures what the LSTM adds to such a detector, not a detector-free tracker.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from vidlearn.tracking.sot.evaluation import load_otb_sequences, run_trackers
from vidlearn.tracking.sot.otb import plot_curves
from vidlearn.tracking.sot.rolo import BoxDetections
from vidlearn.tracking.sot.trackers import OpenCVTracker, StayTracker
from vidlearn.tracking.sot.wing import (
    MotTrainSection,
    SotConfig,
    eval_sets,
    rolo_detector,
    rolo_features,
    tracker_factories,
    train,
    train_sequences,
)

__all__ = ["DEMO_NANOTRACK_STEPS", "demo_configs", "demo_part", "find_shared", "sot_demo"]


def find_shared(relative: str) -> Path | None:
    """``relative`` under the shared test material (``VIDLEARN_SHARED_DATA``, else ``../shared/data``), if there."""
    roots = [os.environ.get("VIDLEARN_SHARED_DATA"), "../shared/data", "shared/data"]
    for root in roots:
        if root and (Path(root) / relative).exists():
            return Path(root) / relative
    return None


#: MOT17-04's pedestrians for the NanoTrack GOTURN: the 8 frames of MMTracking's demo video (MOT17-04's frames
#: 3, 4, 6, 7, 8, 10, 11, 12) with MOT17's ground truth, as ``goturn-nanotrack_frozen_synthetic+mot17.yaml``.
MOT17_04_VIDEO = "clips/mmtracking/demo_demo.mp4"
MOT17_04_GT = "tracking/mot/MOT17/train/MOT17-04-FRCNN/gt/gt.txt"
MOT17_04_FRAMES = (3, 4, 6, 7, 8, 10, 11, 12)
NANOTRACK_BACKBONE = "weights/nanotrack_v2_onnx/nanotrack_backbone_sim.onnx"
#: Training steps of the demo's NanoTrack GOTURN (batches of 32).
DEMO_NANOTRACK_STEPS = 1500


def demo_configs(
    work_dir: Path, *, quick: bool = False, workers: int = 0, nanotrack_backbone: str | Path | None = None,
    mot_train: Sequence[MotTrainSection] = (),
) -> tuple[SotConfig, SotConfig]:
    """The demo's GOTURN and ROLO recipes. GOTURN: on NanoTrack-v2's frozen tower with the synthetic sequences
    and ``mot_train``'s pedestrians when ``nanotrack_backbone`` (its ONNX file) is given (as
    ``configs/tracking/goturn/goturn-nanotrack_frozen_synthetic+mot17.yaml``), else the small
    tower from scratch (``goturn-small_scratch_synthetic.yaml``). ROLO: ``rolo-grid_scratch_synthetic.yaml``."""
    goturn = SotConfig(name="goturn-small_scratch_synthetic")
    goturn.model.name = "goturn"
    goturn.model.kwargs = {"backbone": "small", "input_size": 64, "fc_dim": 256, "width": 8, "dropout": 0.0}
    synthetic = goturn.data.synthetic
    synthetic.num_train, synthetic.num_val, synthetic.num_frames = (4, 2, 12) if quick else (12, 6, 24)
    synthetic.size, synthetic.distractors = (128, 128), 2
    goturn.data.batch_size, goturn.data.shifts_per_pair, goturn.data.photometric = 32, 4, True
    goturn.data.num_workers = workers
    goturn.optim.name, goturn.optim.lr, goturn.optim.weight_decay = "adam", 1e-3, 0.0
    goturn.schedule.name = "constant"
    goturn.train.max_epochs, goturn.train.max_steps = 100, 20 if quick else 300
    if nanotrack_backbone is not None:
        goturn.name = "goturn-nanotrack_frozen_synthetic+mot17"
        goturn.model.name = "goturn_nanotrack"
        goturn.model.kwargs = {"input_size": 127, "fc_dim": 1024, "dropout": 0.0, "freeze_backbone": True}
        goturn.model.backbone_weights = str(nanotrack_backbone)
        goturn.data.mot_train = list(mot_train)
        if not quick:  # (ROLO keeps the 12 of its recipe, the first 12 of these)
            goturn.data.synthetic = dataclasses.replace(synthetic, num_train=24)
        goturn.optim.lr = 5e-4
        goturn.schedule.name = "cosine"  # over 6 epochs of 289 steps, as the recipe
        goturn.train.max_epochs = 100 if quick else 6
        goturn.train.max_steps = 10 if quick else DEMO_NANOTRACK_STEPS
    goturn.train.eval_every_epochs, goturn.train.progress_bar, goturn.train.log_every_steps = 0, False, 100
    goturn.train.device = "cpu"
    goturn.train.work_dir = str(work_dir / "goturn")
    rolo = SotConfig(name="rolo-grid_scratch_synthetic")
    rolo.model.name = "rolo"
    rolo.data.synthetic = synthetic
    # A 2x2 grid (12 numbers): with 8x8 pixels (192) the LSTM memorises the training scenes (held-out AUC 7 %).
    rolo.data.batch_size, rolo.data.sequence_length, rolo.data.features, rolo.data.grid = 16, 3, "grid", 2
    rolo.optim.name, rolo.optim.lr, rolo.optim.weight_decay = "adam", 1e-2, 0.0
    rolo.schedule.name = "constant"
    rolo.train.max_epochs = 2 if quick else 60
    rolo.train.eval_every_epochs, rolo.train.progress_bar, rolo.train.log_every_steps = 0, False, 1000
    rolo.train.device = "cpu"
    rolo.train.work_dir = str(work_dir / "rolo")
    return goturn, rolo


def sot_demo(
    out_dir: str | Path, *, quick: bool = False, log: Callable[[str], None] = print,
    otb_root: str | Path | None = None, nanotrack_dir: str | Path | None = None, workers: int = 0,
) -> dict[str, Any]:
    """Train GOTURN and ROLO briefly, compare every tracker on held-out synthetic sequences and OTB Crossing.

    ``otb_root`` / ``nanotrack_dir`` default to the shared test material's ``tracking/otb_crossing`` and
    ``weights/nanotrack_v2_onnx`` when found (else that set or tracker is left out, and the results say so).
    Returns the content of ``results.json``. Meant for about five minutes on two idle cores (``quick``: seconds).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    notes: list[str] = []
    otb_root = Path(otb_root) if otb_root else find_shared("tracking/otb_crossing")
    nanotrack_dir = Path(nanotrack_dir) if nanotrack_dir else find_shared("weights/nanotrack_v2_onnx")
    backbone = nanotrack_dir / Path(NANOTRACK_BACKBONE).name if nanotrack_dir is not None else None
    backbone = backbone if backbone is not None and backbone.is_file() else None
    video, gt = find_shared(MOT17_04_VIDEO), find_shared(MOT17_04_GT)
    mot = [MotTrainSection(frames=str(video), gt=str(gt), frame_numbers=list(MOT17_04_FRAMES), short_side=540,
                           repeat=3)] if video is not None and gt is not None else []
    goturn_cfg, rolo_cfg = demo_configs(out_dir / "runs", quick=quick, workers=workers, nanotrack_backbone=backbone,
                                        mot_train=mot)
    for cfg in (goturn_cfg, rolo_cfg):
        if (Path(cfg.train.work_dir) / "checkpoints").exists():  # a fresh run each time: the demo is a measurement
            import shutil

            shutil.rmtree(cfg.train.work_dir)

    tower = "NanoTrack-v2's tower, frozen" if backbone is not None else "small tower, from scratch"
    log(f"sot: training GOTURN ({tower}; {goturn_cfg.train.max_steps} steps of {goturn_cfg.data.batch_size}) on "
        f"{goturn_cfg.data.synthetic.num_train} synthetic sequences" + (
            " and MOT17-04's pedestrians" if backbone is not None and mot else ""))
    if backbone is None:
        notes.append("NanoTrack-v2's ONNX backbone not found: GOTURN has the small tower, trained from scratch")
    elif not mot:
        notes.append("MOT17-04's frames or ground truth not found: GOTURN trained on synthetic sequences only")
    sequences = train_sequences(goturn_cfg)
    pedestrian_count = len(sequences) - goturn_cfg.data.synthetic.num_train
    render_seconds = time.perf_counter() - start
    cpu_start = time.process_time()
    goturn_run = train(goturn_cfg, resume=None, final_eval=False, sequences=sequences)
    goturn_cpu = time.process_time() - cpu_start
    _stop_if_interrupted(goturn_run)
    log(f"sot: GOTURN trained in {goturn_run.train_seconds:.1f} s wall ({goturn_cpu:.1f} s CPU)")
    # ROLO learns from the demo's synthetic sequences (its recipe's; the pedestrians are GOTURN's).
    rolo_run = train(rolo_cfg, resume=None, final_eval=False, sequences=sequences[:rolo_cfg.data.synthetic.num_train])
    _stop_if_interrupted(rolo_run)
    log(f"sot: ROLO trained in {rolo_run.train_seconds:.1f} s wall")
    from vidlearn.tracking.sot.checkpoints import load_sot_model

    goturn_model, _ = load_sot_model(goturn_run.checkpoint)
    rolo_model, _ = load_sot_model(rolo_run.checkpoint)

    sets = eval_sets(goturn_cfg)
    if otb_root is not None:
        sets["otb_crossing"] = load_otb_sequences(otb_root)
    else:
        notes.append("OTB Crossing not found (set VIDLEARN_SHARED_DATA): evaluated on synthetic sequences only")
    features = rolo_features(rolo_cfg)

    def detector_only(sequence: Any) -> Any:
        # The simulated detector's own boxes, the same draws ROLO sees: what the LSTM has to improve on.
        detect = rolo_detector(features, sequence, noise=rolo_cfg.data.detector_noise,
                               miss_rate=rolo_cfg.data.detector_miss_rate, seed=rolo_cfg.train.seed + 1)
        return _DetectionsTracker(detect)

    factories: dict[str, Any] = {
        **tracker_factories(goturn_cfg, goturn_model),
        **tracker_factories(rolo_cfg, rolo_model),
        "detector (simulated)": detector_only,
        "stay": lambda s: StayTracker(),
        "csrt": lambda s: OpenCVTracker("csrt"),
        "kcf": lambda s: OpenCVTracker("kcf"),
    }
    if nanotrack_dir is not None:
        factories["nanotrack"] = lambda s: OpenCVTracker("nanotrack", weights_dir=nanotrack_dir)
    else:
        notes.append("NanoTrack ONNX files not found: left out")

    results: dict[str, Any] = {"sets": {}, "notes": notes}
    for set_name, sequences in sets.items():
        log(f"sot: {set_name} ({len(sequences)} sequences, {sum(len(s) for s in sequences)} frames)")
        runs = run_trackers(factories, sequences, results_dir=out_dir / "results" / set_name, log=log)
        plot_curves({name: run.curves for name, run in runs.items()}, out_dir / set_name, title=set_name)
        results["sets"][set_name] = {
            name: {**run.table["OVERALL"], "frames_per_second": run.frames_per_second} for name, run in runs.items()}
    results["training"] = {
        "goturn": {"wall_seconds": goturn_run.train_seconds, "cpu_seconds": goturn_cpu,
                   "steps": goturn_cfg.train.max_steps, "batch_size": goturn_cfg.data.batch_size,
                   "sequences": goturn_cfg.data.synthetic.num_train, "model": goturn_cfg.model.name,
                   "tower": tower, "pedestrian_sequences": pedestrian_count,
                   "parameters": sum(p.numel() for p in goturn_model.parameters())},
        "rolo": {"wall_seconds": rolo_run.train_seconds, "epochs": rolo_cfg.train.max_epochs,
                 "parameters": sum(p.numel() for p in rolo_model.parameters())},
        "render_seconds": render_seconds,
        "threads": torch.get_num_threads(),
    }
    results["wall_seconds"] = time.perf_counter() - start
    (out_dir / "results.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    (out_dir / "results.md").write_text(_report(results), encoding="utf-8")
    log(f"sot: done in {results['wall_seconds']:.0f} s; {out_dir / 'results.md'}")
    return results


def _stop_if_interrupted(run: Any) -> None:
    if run.interrupted:  # SIGTERM: the trainer saved a checkpoint; the demo does not go on half-trained
        raise KeyboardInterrupt(f"training interrupted; checkpoint in {run.work_dir}")


class _DetectionsTracker:
    """The simulated detector's box as the answer (the last box when it misses)."""

    def __init__(self, detect: BoxDetections) -> None:
        self.detect = detect

    def init(self, frame: Any, box: Any) -> None:
        self.index, self.box = 1, box

    def update(self, frame: Any) -> Any:
        box = self.detect.boxes[self.index]
        self.index += 1
        if torch.isfinite(torch.as_tensor(box)).all():
            self.box = box
        return self.box


def _report(results: dict[str, Any]) -> str:
    goturn = results["training"]["goturn"]
    lines = ["# Single-object tracking: GOTURN trained on the CPU, OTB one-pass evaluation", "",
             f"GOTURN ({goturn['tower']}, {goturn['parameters']:,} parameters) trained for {goturn['steps']} steps "
             f"of {goturn['batch_size']} examples on {goturn['sequences']} synthetic sequences"
             + (f" and {goturn['pedestrian_sequences']} pedestrian sequences of MOT17-04 (each person 3 times)"
                if goturn["pedestrian_sequences"] else "")
             + ": "
             f"{goturn['wall_seconds']:.0f} s wall, {goturn['cpu_seconds']:.0f} s CPU. ROLO's detector is simulated "
             "(ground truth moved by 10 % of the box size, 10 % of frames missed).", ""]
    for set_name, rows in results["sets"].items():
        lines += [f"## {set_name}", "", "| tracker | success AUC | precision@20px | frames/s |", "| --- | ---: | ---: | ---: |"]
        for name, row in sorted(rows.items(), key=lambda item: -item[1]["success_auc"]):
            lines.append(f"| {name} | {100 * row['success_auc']:.1f}% | {100 * row['precision_20']:.1f}% | "
                         f"{row['frames_per_second']:.0f} |")
        lines += ["", f"![success]({set_name}/success_plot.png) ![precision]({set_name}/precision_plot.png)", ""]
    lines += [f"- {note}" for note in results["notes"]]
    return "\n".join(lines) + "\n"


def demo_part(out_dir: str | Path, *, quick: bool = False, workers: int = 2, log: Any = print) -> dict[str, Any]:
    """The ``vidlearn demo`` part contract (:data:`vidlearn.tasks.DEMO_PARTS`): :func:`sot_demo`."""
    return sot_demo(out_dir, quick=quick, log=log)
