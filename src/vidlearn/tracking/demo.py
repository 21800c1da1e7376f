"""``vidlearn demo tracking``: SORT against DeepSORT on synthetic scenes with occlusions and look-alikes.

The talk's point (Wojke et al. 2017): an appearance descriptor learned for re-identification lets DeepSORT
keep identities through occlusions and crossings where SORT (Bewley et al. 2016), which matches on box
overlap alone, switches them, at about the same MOTA. Steps:

1. render re-ID training scenes (look-alike objects, :mod:`vidlearn.synthetic.mot`) and train
   ``deepsort_reid`` on their identity crops (:func:`~vidlearn.tracking.reid.train_reid`);
2. render test sequences (other seeds: crossing paths, pillars in front, a swaying camera) with their
   ground truth and the noisy-oracle detections (misses, jitter, false positives), and write them as
   MOTChallenge folders under ``out_dir/data`` (``vidlearn track`` runs on them afterwards);
3. track each with SORT (abewley/sort's defaults) and DeepSORT (the paper's defaults, features from the
   trained network, its appearance gate ``max_cosine_distance`` chosen among 0.2-0.5 on a validation
   sequence), both on the same detections (scores >= 0.5, the detector's threshold), and DeepSORT on boxes
   alone (``deepsort_boxes_only``); score them with the MOTChallenge metrics;
4. write ``results.json`` (``{"sort": {...}, "deepsort": {...}}``: MOTA, IDF1, HOTA in percent, IDSW a
   count), ``results.md``, ``overlay.mp4`` (SORT left, DeepSORT right, ids with a colour each and trails)
   and ``identities.png`` (one row per object, coloured by the id each tracker gave it: every colour change
   is an identity switch).

The results dict is open: the single-object tracking part adds its own keys next to ``sort`` and
``deepsort`` (see :func:`demo_part`).
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

__all__ = ["DemoSettings", "demo_part", "identity_timeline", "run_multi_object"]


class DemoSettings:
    """Sizes of the demo's runs (full, or ``quick`` for a smoke test)."""

    def __init__(self, quick: bool) -> None:
        self.size = (144, 192)
        self.num_objects = 8
        self.test_seeds = [100] if quick else [100, 101, 102]
        self.num_frames = 40 if quick else 120
        self.train_scenes = 3 if quick else 16
        self.train_frames = 8 if quick else 16
        self.epochs = 1 if quick else 4
        self.score_threshold = 0.5
        self.validation_seed = 200
        self.gates = (0.2, 0.3, 0.4, 0.5)


def _metrics(sequences: dict[str, tuple[Any, Any, int]]) -> dict[str, float]:
    from .metrics import evaluate_mot, summary

    combined = summary(evaluate_mot(sequences, benchmark="MOT17")["COMBINED"])
    return {"MOTA": 100 * combined["MOTA"], "IDF1": 100 * combined["IDF1"], "HOTA": 100 * combined["HOTA"],
            "IDSW": int(combined["IDSW"])}


def identity_timeline(gt, result, num_frames: int) -> np.ndarray:
    """``int64 (objects, frames)``: the tracker id matched (IoU >= 0.5, Hungarian per frame) to each
    ground-truth object in each frame, ``0`` where none; rows in ascending ground-truth id."""
    from .assignment import linear_assignment
    from .boxes import iou_matrix

    objects = np.unique(gt.ids)
    timeline = np.zeros((len(objects), num_frames), dtype=np.int64)
    gt_sorted, gt_offsets = gt.frame_bounds(num_frames)
    tr_sorted, tr_offsets = result.frame_bounds(num_frames)
    row_of = {int(i): r for r, i in enumerate(objects)}
    for t in range(num_frames):
        g, k = slice(gt_offsets[t], gt_offsets[t + 1]), slice(tr_offsets[t], tr_offsets[t + 1])
        if gt_offsets[t] == gt_offsets[t + 1] or tr_offsets[t] == tr_offsets[t + 1]:
            continue
        iou = iou_matrix(gt_sorted.boxes_xyxy[g], tr_sorted.boxes_xyxy[k])
        pairs = linear_assignment(-iou).matches
        pairs = pairs[iou[pairs[:, 0], pairs[:, 1]] >= 0.5]
        for gi, ki in pairs:
            timeline[row_of[int(gt_sorted.ids[g][gi])], t] = tr_sorted.ids[k][ki]
    return timeline


def _plot(path: Path, timelines: dict[str, np.ndarray], table: dict[str, dict[str, float]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap

    from .overlay import id_color

    names = list(timelines)
    figure, axes = plt.subplots(1, len(names) + 1, figsize=(4.2 * (len(names) + 1), 3.4),
                                gridspec_kw={"width_ratios": [1.4] * len(names) + [1]})
    for axis, name in zip(axes, names):
        timeline = timelines[name]
        top = int(timeline.max()) + 1
        colours = np.array([(0.93, 0.93, 0.93)] + [np.array(id_color(i)) / 255 * 0.85 for i in range(1, top)])
        axis.imshow(timeline, aspect="auto", interpolation="nearest", cmap=ListedColormap(colours),
                    vmin=0, vmax=max(top - 1, 1))
        switches = int(sum(len(np.unique(row[row > 0])) - 1 for row in timeline if (row > 0).any()))
        axis.set_title(f"{name.upper() if name == 'sort' else 'DeepSORT'}: ids given to each object\n"
                       f"({switches} id changes in this sequence)", fontsize=9)
        axis.set_xlabel("frame")
        axis.set_ylabel("object (ground truth)")
        axis.set_yticks(range(len(timeline)))
        axis.set_yticklabels(range(1, len(timeline) + 1), fontsize=7)
    bars = axes[-1]
    trackers = list(table)
    switches = [table[name]["IDSW"] for name in trackers]
    bars.bar(range(len(trackers)), switches, color=["#d62728", "#2ca02c", "#7f7f7f"][:len(trackers)])
    bars.set_xticks(range(len(trackers)))
    bars.set_xticklabels([f"{n}\nMOTA {table[n]['MOTA']:.1f}\nIDF1 {table[n]['IDF1']:.1f}" for n in trackers],
                         fontsize=8)
    bars.set_title("identity switches (all test sequences)", fontsize=9)
    for x, value in enumerate(switches):
        bars.text(x, value, str(value), ha="center", va="bottom", fontsize=9)
    figure.suptitle("one colour = one id: a colour change along a row is an identity switch", fontsize=10)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def _select_gate(embedder, config, oracle, settings: DemoSettings) -> float:
    """DeepSORT's ``max_cosine_distance`` for this network: the candidate with the fewest identity switches
    on a validation sequence (its own seed, neither a training scene nor a test sequence); the paper's 0.2
    was chosen for its MARS network. Ties go to the smaller gate."""
    from vidlearn.synthetic.mot import render_mot_sequence

    from . import DeepSort
    from .pipeline import Sequence, track_sequence
    from .run import Detections

    sequence = render_mot_sequence(settings.validation_seed, config)
    detections = oracle.detect(sequence.gt, image_size=config.size, seed=settings.validation_seed,
                               num_frames=config.num_frames)
    detections = detections.select(detections.scores >= settings.score_threshold)
    features = embedder(sequence.frames, detections.boxes_xyxy, detections.frames - 1).astype(np.float64)
    source = Sequence(sequence.name, config.num_frames, config.fps, *config.size)
    switches = {}
    for gate in settings.gates:
        tracker = DeepSort(min_confidence=settings.score_threshold, max_cosine_distance=gate)
        rows, _ = track_sequence(tracker, source, detections=Detections(detections, features))
        switches[gate] = _metrics({sequence.name: (sequence.gt, rows, config.num_frames)})["IDSW"]
    return min(settings.gates, key=lambda gate: (switches[gate], gate))


def run_multi_object(out_dir: str | Path, *, quick: bool = False, log: Callable[[str], None] = print,
                     progress: bool = False) -> dict[str, Any]:
    """The multi-object part (steps 1-4 of the module docstring); returns ``{"sort", "deepsort", ...}``."""
    from vidlearn.models import create
    from vidlearn.synthetic.mot import MotSceneConfig, render_mot_sequence, write_mot_sequence

    from . import DeepSort, Sort
    from .appearance import ReIDEmbedder
    from .detectors import NoisyOracle
    from .formats import write_mot
    from .overlay import TrackDrawer
    from .pipeline import Sequence, track_sequence
    from .reid import SyntheticReIDCrops, train_reid
    from .run import Detections

    out_dir = Path(out_dir)
    settings = DemoSettings(quick)
    started = time.perf_counter()
    torch.manual_seed(0)
    crops = SyntheticReIDCrops(settings.train_scenes, objects_per_scene=settings.num_objects,
                               frames_per_scene=settings.train_frames, size=(64, 32), frame_size=settings.size,
                               scene="look_alike", seed=5000, keep_aspect=False)
    model = create("deepsort_reid", num_classes=crops.num_classes, width=16, input_size=(64, 32))
    shutil.rmtree(out_dir / "reid", ignore_errors=True)  # a fresh measurement every time the demo runs
    train_reid(model, crops, epochs=settings.epochs, batch_size=64, work_dir=out_dir / "reid", device="cpu",
               resume=None, progress=progress)
    torch.save(model.state_dict(), out_dir / "reid" / "deepsort_reid.pt")
    config = MotSceneConfig(num_objects=settings.num_objects, num_frames=settings.num_frames, size=settings.size)
    oracle = NoisyOracle()
    embedder = ReIDEmbedder(model, keep_aspect=False)  # crops cut as in training: the box stretched
    gate = _select_gate(embedder, config, oracle, settings)
    log(f"tracking: re-ID network trained on {len(crops)} crops of {crops.num_classes} identities; appearance "
        f"gate {gate} chosen on a validation sequence ({time.perf_counter() - started:.0f} s)")
    runs: dict[str, dict[str, tuple]] = {"sort": {}, "deepsort": {}, "deepsort_boxes_only": {}}
    overlays: dict[str, list[np.ndarray]] = {"sort": [], "deepsort": []}
    for index, seed in enumerate(settings.test_seeds):
        sequence = render_mot_sequence(seed, config)
        detections = oracle.detect(sequence.gt, image_size=config.size, seed=seed, num_frames=config.num_frames)
        write_mot_sequence(out_dir / "data", sequence, detections=detections)
        confident = Detections(detections.select(detections.scores >= settings.score_threshold))
        source = Sequence(sequence.name, config.num_frames, config.fps, *config.size, frames=sequence.frames)
        trackers = {"sort": (Sort(), None),
                    "deepsort": (DeepSort(min_confidence=settings.score_threshold, max_cosine_distance=gate), embedder),
                    "deepsort_boxes_only": (DeepSort(min_confidence=settings.score_threshold), None)}
        for name, (tracker, features) in trackers.items():
            draw = None
            if index == 0 and name in overlays:  # the overlay shows the first sequence
                drawer, drawn = TrackDrawer(), overlays[name]

                def draw(frame_number, frame, tracks, drawer=drawer, drawn=drawn):
                    drawn.append(drawer(frame, tracks))

            rows, _ = track_sequence(tracker, source, detections=confident, embedder=features, on_frame=draw)
            write_mot(out_dir / "results" / name / f"{sequence.name}.txt", rows)
            runs[name][sequence.name] = (sequence.gt, rows, config.num_frames)
    table = {name: _metrics(sequences) for name, sequences in runs.items()}
    (out_dir / "reid" / "cosine_gate.txt").write_text(f"{gate}\n")

    from vidlearn.video.writer import write_video

    first = next(iter(runs["sort"]))
    left, right = np.stack(overlays["sort"]), np.stack(overlays["deepsort"])
    _label(left, "SORT")
    _label(right, "DeepSORT")
    write_video(out_dir / "overlay.mp4", np.concatenate([left, np.full_like(left[:, :, :4], 255), right], axis=2),
                config.fps)
    gt, _, length = runs["sort"][first]
    timelines = {name: identity_timeline(gt, runs[name][first][1], length) for name in ("sort", "deepsort")}
    _plot(out_dir / "identities.png", timelines, table)
    return table


def _label(frames: np.ndarray, text: str) -> None:
    """Write ``text`` in the bottom-left corner of every frame ``(T, H, W, 3)``, in place."""
    import cv2

    for frame in frames:
        cv2.putText(frame, text, (3, frame.shape[0] - 5), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1,
                    cv2.LINE_AA)


def _markdown(results: dict[str, dict[str, float]], seconds: float, gate: str) -> str:
    lines = ["# Tracking demo: SORT against DeepSORT", "",
             "Synthetic sequences with look-alike objects, crossing paths, pillars in front and a swaying camera;",
             "the same noisy-oracle detections for every tracker. MOTA, IDF1 and HOTA in percent; IDSW a count.", "",
             "| tracker | MOTA | IDF1 | HOTA | IDSW |", "| --- | ---: | ---: | ---: | ---: |"]
    for name, row in results.items():
        if isinstance(row, dict) and {"MOTA", "IDF1", "HOTA", "IDSW"} <= set(row):
            lines.append(f"| {name} | {row['MOTA']:.1f} | {row['IDF1']:.1f} | {row['HOTA']:.1f} | {row['IDSW']} |")
    sort, deep = results["sort"], results["deepsort"]
    fewer = 1 - deep["IDSW"] / max(sort["IDSW"], 1)
    lines += ["", f"DeepSORT switches identities {fewer:.0%} less often than SORT "
              f"(MOTA {deep['MOTA'] - sort['MOTA']:+.1f} points). `identities.png` shows it, `overlay.mp4` plays it.",
              "", f"DeepSORT's appearance gate (max_cosine_distance) {gate}, chosen among 0.2-0.5 by the fewest "
              "identity switches on a validation sequence (another seed)."]
    single = results.get("single_object")
    if single:
        lines += ["", "## Single-object tracking (OTB one-pass evaluation, success AUC)", "",
                  "| tracker | " + " | ".join(single["sets"]) + " |", "| --- |" + " ---: |" * len(single["sets"])]
        trackers = dict.fromkeys(name for rows in single["sets"].values() for name in rows)
        for name in trackers:
            cells = [f"{100 * rows[name]['success_auc']:.1f}%" if name in rows else "-" for rows in single["sets"].values()]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        lines += ["", "Plots and precision@20px: `single_object/results.md`."]
    lines += ["", f"{seconds:.0f} s."]
    return "\n".join(lines) + "\n"


def demo_part(out_dir: str | Path, *, quick: bool = False, workers: int = 2,
              log: Callable[[str], None] = print) -> dict[str, Any]:
    """Run the tracking demo into ``out_dir``; returns what ``results.json`` holds.

    ``results.json`` is ``{"sort": {"MOTA", "IDF1", "HOTA", "IDSW"}, "deepsort": {...}, ...,
    "single_object": {...}}``: the multi-object part, then GOTURN and ROLO against the single-object
    baselines (:func:`vidlearn.tracking.sot.demo.sot_demo`, written to ``out_dir/single_object``).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    threads = torch.get_num_threads()
    torch.set_num_threads(max(1, workers))
    try:
        results: dict[str, Any] = dict(run_multi_object(out_dir, quick=quick, log=log))
        from .sot.demo import sot_demo

        results["single_object"] = sot_demo(out_dir / "single_object", quick=quick, log=log)
    finally:
        torch.set_num_threads(threads)
    seconds = time.perf_counter() - started
    from .formats import write_text_atomically

    write_text_atomically(out_dir / "results.json", json.dumps(results, indent=1) + "\n")
    gate_file = out_dir / "reid" / "cosine_gate.txt"
    gate = gate_file.read_text().strip() if gate_file.is_file() else "-"
    write_text_atomically(out_dir / "results.md", _markdown(results, seconds, gate))
    sort, deep = results["sort"], results["deepsort"]
    log(f"tracking: SORT MOTA {sort['MOTA']:.1f} IDF1 {sort['IDF1']:.1f} HOTA {sort['HOTA']:.1f} IDSW {sort['IDSW']}"
        f" | DeepSORT MOTA {deep['MOTA']:.1f} IDF1 {deep['IDF1']:.1f} HOTA {deep['HOTA']:.1f} IDSW {deep['IDSW']}"
        f" ({seconds:.0f} s)")
    return results
