"""Run the ``trackeval`` package (the reference implementation) on MOTChallenge folders, for tests."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import numpy as np
import pytest

from vidlearn.tracking.formats import MotRows, SeqInfo, read_mot, write_mot, write_seqinfo

#: Fields of TrackEval's always-on ``Count`` metric (not a metric family of ours).
COUNT_FIELDS = ("Dets", "GT_Dets", "IDs", "GT_IDs", "Frames")


def import_trackeval():
    """Import trackeval or skip the test, saying why."""
    with contextlib.redirect_stdout(io.StringIO()):
        return pytest.importorskip("trackeval", reason="the trackeval package (reference metrics) is not installed")


def write_benchmark(
    root: Path, sequences: dict[str, tuple[MotRows, MotRows, int]]
) -> dict[str, tuple[MotRows, MotRows, int]]:
    """Lay out ``root/gt/SEQ/{gt/gt.txt,seqinfo.ini}``, ``root/trackers/T/data/SEQ.txt`` and a seqmap.

    Returns the sequences as read back from the files (boxes rounded as written), for a like-for-like test.
    """
    written = {}
    for name, (gt, tracker, length) in sequences.items():
        gt_path = root / "gt" / name / "gt" / "gt.txt"
        tracker_path = root / "trackers" / "T" / "data" / f"{name}.txt"
        write_mot(gt_path, gt, kind="gt")
        write_seqinfo(root / "gt" / name / "seqinfo.ini", SeqInfo(name=name, seq_length=length))
        write_mot(tracker_path, tracker, kind="result")
        written[name] = (read_mot(gt_path, "gt", length), read_mot(tracker_path, "result", length), length)
    (root / "seqmap.txt").write_text("name\n" + "".join(f"{name}\n" for name in sequences))
    return written


def run_trackeval(gt_folder: Path, trackers_folder: Path, seqmap: Path, tracker: str, benchmark: str = "MOT17") -> dict:
    """TrackEval's per-sequence and ``COMBINED_SEQ`` results (HOTA, CLEAR, Identity), single process."""
    trackeval = import_trackeval()
    eval_config = {
        "USE_PARALLEL": False, "PRINT_RESULTS": False, "PRINT_CONFIG": False, "TIME_PROGRESS": False,
        "OUTPUT_SUMMARY": False, "OUTPUT_DETAILED": False, "PLOT_CURVES": False, "DISPLAY_LESS_PROGRESS": True,
        "OUTPUT_EMPTY_CLASSES": False, "PRINT_ONLY_COMBINED": True,
    }
    dataset_config = {
        "GT_FOLDER": str(gt_folder), "TRACKERS_FOLDER": str(trackers_folder), "BENCHMARK": benchmark,
        "SPLIT_TO_EVAL": "train", "SKIP_SPLIT_FOL": True, "SEQMAP_FILE": str(seqmap),
        "TRACKERS_TO_EVAL": [tracker], "TRACKER_SUB_FOLDER": "data", "PRINT_CONFIG": False,
    }
    metrics_config = {"METRICS": ["HOTA", "CLEAR", "Identity"], "THRESHOLD": 0.5, "PRINT_CONFIG": False}
    with contextlib.redirect_stdout(io.StringIO()):
        evaluator = trackeval.Evaluator(eval_config)
        dataset = trackeval.datasets.MotChallenge2DBox(dataset_config)
        metrics = [trackeval.metrics.HOTA(metrics_config), trackeval.metrics.CLEAR(metrics_config),
                   trackeval.metrics.Identity(metrics_config)]
        results, _messages = evaluator.evaluate([dataset], metrics)
    output = results["MotChallenge2DBox"][tracker]
    flat = {}
    for sequence, by_class in output.items():
        merged = {}
        for family in by_class["pedestrian"].values():
            merged.update(family)
        flat[sequence] = merged
    return flat


def assert_same_results(ours: dict, reference: dict, atol: float = 1e-9) -> None:
    """Every field TrackEval reports equals ours: counts exactly, scores to ``atol``."""
    for key, expected in reference.items():
        if key in COUNT_FIELDS:
            continue
        actual = ours[key]
        if isinstance(expected, (int, np.integer)) or (
            isinstance(expected, np.ndarray) and key in ("HOTA_TP", "HOTA_FN", "HOTA_FP")
        ):
            np.testing.assert_array_equal(np.asarray(actual), np.asarray(expected), err_msg=key)
        else:
            np.testing.assert_allclose(np.asarray(actual, dtype=float), np.asarray(expected, dtype=float),
                                       rtol=0, atol=atol, err_msg=key)
