"""Run several single-object trackers over the same sequences and score them with the OTB protocol.

A tracker factory takes the :class:`~vidlearn.tracking.sot.data.BoxSequence` it is about to run on (ROLO's
simulated detector needs its ground truth; the others ignore it) and returns a fresh tracker.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vidlearn.tracking.sot.data import BoxSequence, load_frames
from vidlearn.tracking.sot.otb import evaluate_results, find_sequences, read_sequence, write_boxes
from vidlearn.tracking.sot.trackers import track_sequence

__all__ = ["TrackerRun", "load_otb_sequences", "run_trackers"]

TrackerFactory = Callable[[BoxSequence], object]


@dataclass
class TrackerRun:
    """One tracker's results: ``table`` (per sequence and ``OVERALL``, fractions), overall ``curves``,
    ``boxes`` per sequence ``(T, 4)`` xyxy, and ``frames_per_second`` (tracking only, frames after the first)."""

    table: dict[str, dict[str, float]]
    curves: dict[str, np.ndarray]
    boxes: dict[str, np.ndarray]
    frames_per_second: float


def load_otb_sequences(root: str | Path) -> list[BoxSequence]:
    """Every OTB-style sequence under ``root`` (or ``root`` itself) with its frames decoded."""
    sequences = []
    for folder in find_sequences(root):
        sequence = read_sequence(folder)
        sequences.append(BoxSequence(name=sequence.name, frames=load_frames(sequence.frames), boxes=sequence.boxes))
    return sequences


def run_trackers(
    factories: Mapping[str, TrackerFactory], sequences: Sequence[BoxSequence], *,
    results_dir: str | Path | None = None, log: Callable[[str], None] | None = None,
) -> dict[str, TrackerRun]:
    """Run each tracker over each sequence from its first ground-truth box; score with OTB's OPE.

    With ``results_dir`` the boxes go to ``results_dir/<tracker>/<SEQ>.txt`` (OTB rows, 1-based), the
    layout ``vidlearn sot eval`` reads.
    """
    runs: dict[str, TrackerRun] = {}
    truths = {s.name: s.boxes for s in sequences}
    for name, factory in factories.items():
        boxes: dict[str, np.ndarray] = {}
        seconds, frames = 0.0, 0
        for sequence in sequences:
            tracker = factory(sequence)
            start = time.perf_counter()
            boxes[sequence.name] = track_sequence(tracker, sequence.frames.numpy(), sequence.boxes[0])
            seconds += time.perf_counter() - start
            frames += len(sequence) - 1
            if results_dir is not None:
                write_boxes(Path(results_dir) / name / f"{sequence.name}.txt", boxes[sequence.name])
        table, curves = evaluate_results(boxes, truths)
        runs[name] = TrackerRun(table=table, curves=curves, boxes=boxes, frames_per_second=frames / max(seconds, 1e-9))
        if log is not None:
            overall = table["OVERALL"]
            log(f"  {name:>10}: success AUC {100 * overall['success_auc']:.1f}%, "
                f"precision@20 {100 * overall['precision_20']:.1f}%, {runs[name].frames_per_second:.0f} frames/s")
    return runs
