"""Frames per second of the single-object trackers on one sequence: GOTURN (fp32 and the CPU fast path),
OpenCV's CSRT, KCF and MIL, NanoTrack-v2, and ROLO's LSTM step apart from its detector.

GOTURN runs at the paper's size (CaffeNet towers, 227x227 crops, three 4096-wide layers; Held et al. 2016
report 100 frames/s on a GTX Titan X GPU), at the CPU size of the small from-scratch recipe (small tower, 64x64
crops) and on NanoTrack-v2's tower (127x127 crops, three 1024-wide layers: the demo's GOTURN); the
fast path is channels-last memory and bf16 autocast (DESIGN.md). The weights are random: speed does not depend
on them. Every tracker runs on the same frames (OTB-100 Crossing, 360x240, from the shared data folder, else a
synthetic sequence), timing ``update`` only (frames decoded beforehand); rates are medians over rounds, and
frames per CPU-second of the process are given too (they move less when the machine is shared). ROLO's cost
is the LSTM over its 3-frame window at the paper's size (4096 + 6 inputs, as many hidden units), per frame,
with the detector's features given; the detector (YOLO in the paper) comes on top.

    python benchmarks/tracking/sot/bench_sot.py [--frames N] [--rounds R] [--threads T] [--shared-data PATH]
                                                [--device cuda]

Writes ``benchmarks/tracking/sot/results.json`` and the table between the markers of this folder's README.
With ``--device cuda`` only GOTURN and ROLO's LSTM run (on the GPU; the fast path is bf16 autocast there),
and the results go to ``results_cuda.json`` and the table is printed, not written into the README.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from vidlearn.models import create
from vidlearn.tracking.sot.data import synthetic_sequence
from vidlearn.tracking.sot.evaluation import load_otb_sequences
from vidlearn.tracking.sot.trackers import GoturnTracker, OpenCVTracker
from vidlearn.utils import machine_info

HERE = Path(__file__).resolve().parent
START, END = "<!-- results:start -->", "<!-- results:end -->"


def time_tracker(make, frames: np.ndarray, box: np.ndarray, rounds: int) -> tuple[float, float]:
    """Median frames/s (wall) and frames per CPU-second of ``update`` over ``rounds`` runs."""
    walls, cpus = [], []
    for _ in range(rounds):
        tracker = make()
        tracker.init(frames[0], box)
        tracker.update(frames[1])  # warm-up (first-call allocations, OpenCV's lazy set-up)
        wall, cpu = time.perf_counter(), time.process_time()
        for frame in frames[2:]:
            tracker.update(frame)
        walls.append((len(frames) - 2) / (time.perf_counter() - wall))
        cpus.append((len(frames) - 2) / max(time.process_time() - cpu, 1e-9))
    return statistics.median(walls), statistics.median(cpus)


def rolo_step(rounds: int, steps: int = 20, device: str = "cpu") -> tuple[float, float]:
    """Milliseconds per frame of the paper-sized ROLO LSTM over a 3-frame window (wall, CPU)."""
    model = create("rolo").eval().to(device)
    features, detections = torch.rand(1, 3, 4096, device=device), torch.rand(1, 3, 6, device=device)
    walls, cpus = [], []
    with torch.no_grad():
        model(features, detections)
        for _ in range(rounds):
            wall, cpu = time.perf_counter(), time.process_time()
            for _ in range(steps):
                model(features, detections)[:, -1].cpu()  # the box is read back each frame, as the tracker does
            walls.append(1000 * (time.perf_counter() - wall) / steps)
            cpus.append(1000 * (time.process_time() - cpu) / steps)
    return statistics.median(walls), statistics.median(cpus)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=40, help="frames per run (default 40)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="torch and OpenCV threads (default 1)")
    parser.add_argument("--shared-data", type=Path,
                        default=Path(os.environ.get("VIDLEARN_SHARED_DATA", HERE.parents[2].parent / "shared" / "data")))
    parser.add_argument("--device", default="cpu", help="cpu, or cuda for GOTURN and ROLO on the GPU")
    args = parser.parse_args()
    gpu = args.device != "cpu"
    import cv2

    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    crossing = args.shared_data / "tracking" / "otb_crossing"
    if crossing.is_dir():
        sequence = load_otb_sequences(crossing)[0]
    else:
        sequence = synthetic_sequence(0, num_frames=args.frames, size=(240, 360))
    frames = sequence.frames.numpy()[: args.frames]
    box = sequence.boxes[0]
    torch.manual_seed(0)
    paper = create("goturn").eval()
    small = create("goturn", backbone="small", input_size=64, fc_dim=256, width=8).eval()
    nano_goturn = create("goturn_nanotrack", fc_dim=1024).eval()  # the recipe's size, 127x127 crops
    nanotrack = args.shared_data / "weights" / "nanotrack_v2_onnx"
    device = args.device
    trackers = {
        "GOTURN paper size, fp32": lambda: GoturnTracker(paper, device=device),
        "GOTURN paper size, channels-last + bf16": lambda: GoturnTracker(paper, device=device, fast=True),
        "GOTURN small tower (scratch recipe), fp32": lambda: GoturnTracker(small, device=device),
        "GOTURN small tower (scratch recipe), channels-last + bf16": lambda: GoturnTracker(small, device=device, fast=True),
        "GOTURN NanoTrack tower, fc 1024 (the demo's), fp32": lambda: GoturnTracker(nano_goturn, device=device),
        "GOTURN NanoTrack tower, fc 1024 (the demo's), channels-last + bf16": lambda: GoturnTracker(nano_goturn, device=device,
                                                                                        fast=True),
    }
    if not gpu:
        trackers.update({"OpenCV CSRT": lambda: OpenCVTracker("csrt"), "OpenCV KCF": lambda: OpenCVTracker("kcf"),
                         "OpenCV MIL": lambda: OpenCVTracker("mil")})
    if nanotrack.is_dir() and not gpu:
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
        trackers["NanoTrack-v2 (OpenCV TrackerNano, ONNX)"] = lambda: OpenCVTracker("nanotrack", weights_dir=nanotrack)
    rows = {}
    for name, make in trackers.items():
        rows[name] = time_tracker(make, frames, box, args.rounds)
        print(f"{name}: {rows[name][0]:.1f} frames/s, {rows[name][1]:.1f} frames per CPU-second", flush=True)
    rolo_ms = rolo_step(args.rounds, device=device)
    print(f"ROLO LSTM step (paper size, 3-frame window): {rolo_ms[0]:.2f} ms wall, {rolo_ms[1]:.2f} ms CPU")
    machine = machine_info()
    load = os.getloadavg()
    base = rows["GOTURN paper size, fp32"][0]
    lines = [f"Sequence: {sequence.name} ({frames.shape[2]}x{frames.shape[1]}, {len(frames)} frames), "
             f"{args.threads} torch/OpenCV thread(s), device {device}, median of {args.rounds} rounds; load average "
             f"{load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} while measuring.", "",
             f"Machine: {machine}" + (f", {torch.cuda.get_device_name(device)}" if gpu else ""), "",
             "| tracker | frames/s | frames per CPU-second | vs GOTURN paper fp32 |", "| --- | ---: | ---: | ---: |"]
    for name, (fps, per_cpu) in rows.items():
        lines.append(f"| {name} | {fps:.1f} | {per_cpu:.1f} | {fps / base:.2f}x |")
    lines += ["", f"ROLO's LSTM (4102 inputs and hidden units, 3-frame window), per frame, detector excluded: "
              f"{rolo_ms[0]:.2f} ms wall ({1000 / rolo_ms[0]:.1f} frames/s), {rolo_ms[1]:.2f} ms CPU.",
              "", "The paper: GOTURN runs at 100 frames/s on a GPU (Held et al. 2016)."]
    table = "\n".join(lines)
    results = {"trackers": {k: {"frames_per_second": v[0], "frames_per_cpu_second": v[1]} for k, v in rows.items()},
               "rolo_lstm_ms": {"wall": rolo_ms[0], "cpu": rolo_ms[1]}, "machine": machine.as_dict(),
               "load_average": load, "threads": args.threads, "frames": len(frames), "sequence": sequence.name,
               "device": device}
    if gpu:
        results["gpu"] = torch.cuda.get_device_name(device)
        (HERE / "results_cuda.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
        print(table)
        return
    (HERE / "results.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    readme = HERE / "README.md"
    text = readme.read_text(encoding="utf-8")
    head, _, rest = text.partition(START)
    _, _, tail = rest.partition(END)
    readme.write_text(f"{head}{START}\n{table}\n{END}{tail}", encoding="utf-8")
    print(table)


if __name__ == "__main__":
    main()
