"""Evaluate MOTChallenge sequences with CLEAR, identity and HOTA metrics; combine them exactly.

:func:`evaluate_sequence` prepares one sequence (TrackEval's MOTChallenge preprocessing, :mod:`.data`) and
returns every metric's statistics in one dict; :func:`combine_sequences` sums statistics over sequences
(so ``COMBINED`` is computed from totals, as TrackEval's ``COMBINED_SEQ``); :func:`summary` turns either
into the flat numbers TrackEval prints (HOTA family averaged over the 19 alphas).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..formats import MotRows
from .clear import CLEAR
from .data import prepare_mot_sequence
from .hota import HOTA
from .identity import Identity

__all__ = ["METRICS", "combine_sequences", "evaluate_mot", "evaluate_sequence", "summary"]

#: The metric families, in the order TrackEval reports them.
METRICS = (HOTA(), CLEAR(), Identity())


def evaluate_sequence(
    gt: MotRows, tracker: MotRows, num_frames: int, *, benchmark: str = "MOT17", name: str = ""
) -> dict[str, Any]:
    """Statistics and scores of every metric for one sequence (field names as TrackEval's)."""
    data = prepare_mot_sequence(gt, tracker, num_frames, benchmark=benchmark, name=name)
    result: dict[str, Any] = {}
    for metric in METRICS:
        result.update(metric.eval_sequence(data))
    return result


def combine_sequences(results: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Combine per-sequence results (from :func:`evaluate_sequence`) into exact totals."""
    combined: dict[str, Any] = {}
    for metric in METRICS:
        combined.update(metric.combine_sequences(results))
    return combined


def summary(result: Mapping[str, Any]) -> dict[str, float]:
    """Flat numbers: arrays over alphas -> their mean; counts -> int; ratios as fractions (not percent)."""
    flat: dict[str, float] = {}
    for key, value in result.items():
        if key == "MOTP_sum":
            continue
        if isinstance(value, np.ndarray):
            flat[key] = float(np.mean(value))
        elif isinstance(value, (int, np.integer)):
            flat[key] = int(value)
        else:
            flat[key] = float(value)
    return flat


def evaluate_mot(
    sequences: Mapping[str, tuple[MotRows, MotRows, int]], *, benchmark: str = "MOT17"
) -> dict[str, dict[str, Any]]:
    """Evaluate ``{name: (gt, tracker, num_frames)}``; returns per-sequence results and ``"COMBINED"``."""
    results = {
        name: evaluate_sequence(gt, tracker, length, benchmark=benchmark, name=name)
        for name, (gt, tracker, length) in sequences.items()
    }
    results["COMBINED"] = combine_sequences(results)
    return results
