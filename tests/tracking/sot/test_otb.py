"""OTB files and the one-pass evaluation, checked against a reference written here from Wu et al. 2013.

The reference follows the paper's definitions directly, frame by frame in plain Python: the overlap score
``S = |r_t n r_a| / |r_t u r_a|`` of the boxes as ``x, y, w, h`` rectangles, a frame counted successful when
``S > t`` for ``t`` in ``0, 0.05, ..., 1`` and the AUC the mean of those rates; the centre location error
the Euclidean distance of the rectangle centres, precision the share of frames within 20 pixels.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from vidlearn.tracking.sot.otb import (
    OtbMetric,
    SotFormatError,
    evaluate_results,
    plot_curves,
    read_boxes,
    read_sequence,
    write_boxes,
)


def reference_scores(predicted_xywh: list[list[float]], truth_xywh: list[list[float]]) -> tuple[float, float]:
    """Success AUC and precision@20 of one sequence, from the paper's definitions (x, y, w, h rectangles)."""
    overlaps, errors = [], []
    for (px, py, pw, ph), (tx, ty, tw, th) in zip(predicted_xywh, truth_xywh):
        ix = max(0.0, min(px + pw, tx + tw) - max(px, tx))
        iy = max(0.0, min(py + ph, ty + th) - max(py, ty))
        inter = ix * iy
        overlaps.append(inter / (pw * ph + tw * th - inter))
        errors.append(math.hypot(px + pw / 2 - (tx + tw / 2), py + ph / 2 - (ty + th / 2)))
    thresholds = [i / 20 for i in range(21)]
    rates = [sum(o > t for o in overlaps) / len(overlaps) for t in thresholds]
    return sum(rates) / len(rates), sum(e <= 20 for e in errors) / len(errors)


def crossing(shared_data: Path) -> Path:
    return shared_data / "tracking" / "otb_crossing"


@pytest.mark.shared_data
def test_success_and_precision_equal_the_reference_on_otb_crossing(shared_data: Path) -> None:
    folder = crossing(shared_data)
    truth = read_sequence(folder).boxes
    assert truth.shape == (120, 4)
    raw = [[float(v) for v in line.split(",")] for line in (folder / "groundtruth_rect.txt").read_text().split()]
    # A fixed box sequence: the truth drifting right by 0.7 px per frame, growing 0.5 %, and frozen after 80.
    rng = np.random.default_rng(0)
    predicted = []
    for t, (x, y, w, h) in enumerate(raw):
        k = min(t, 80)
        predicted.append([x + 0.7 * k + rng.normal(0, 2), y + rng.normal(0, 2), w * 1.005**k, h * 1.005**k])
    expected_auc, expected_precision = reference_scores(predicted, raw)
    xyxy = np.array([[x - 1, y - 1, x - 1 + w, y - 1 + h] for x, y, w, h in predicted])
    table, curves = evaluate_results({"Crossing": xyxy}, {"Crossing": truth})
    assert table["Crossing"]["success_auc"] == pytest.approx(expected_auc, abs=1e-12)
    assert table["Crossing"]["precision_20"] == pytest.approx(expected_precision, abs=1e-12)
    assert table["OVERALL"]["success_auc"] == pytest.approx(expected_auc, abs=1e-12)
    assert 0.05 < expected_auc < 0.9 and 0.05 < expected_precision < 0.95  # a sequence that tests the curve
    assert curves["success_curve"].shape == (21,) and curves["precision_curve"].shape == (51,)
    # The ground truth scored against itself: every overlap is 1, above every threshold but the last.
    perfect, _ = evaluate_results({"Crossing": truth}, {"Crossing": truth})
    assert perfect["Crossing"]["success_auc"] == pytest.approx(20 / 21)
    assert perfect["Crossing"]["precision_20"] == 1.0


def test_overall_is_the_mean_of_per_sequence_curves() -> None:
    truth = {"a": np.array([[0, 0, 10, 10.]] * 4), "b": np.array([[0, 0, 10, 10.]] * 2)}
    results = {"a": np.array([[0, 0, 10, 10.]] * 4), "b": np.array([[50, 50, 60, 60.]] * 2)}
    table, _ = evaluate_results(results, truth)
    assert table["a"]["success_auc"] == pytest.approx(20 / 21)
    assert table["b"]["success_auc"] == 0.0
    assert table["OVERALL"]["success_auc"] == pytest.approx(10 / 21)  # each sequence weighs the same
    assert table["OVERALL"]["precision_20"] == pytest.approx(0.5)


def test_frames_without_a_target_are_left_out() -> None:
    truth = np.array([[0, 0, 10, 10.], [np.nan] * 4, [5, 5, 5, 9.]])  # absent, then zero width
    score = OtbMetric().eval_sequence(np.array([[0, 0, 10, 10.]] * 3), truth)
    assert score.frames == 1


@pytest.mark.parametrize("separator", [",", "\t", " ", ", "])
def test_read_boxes_takes_commas_tabs_and_spaces(tmp_path: Path, separator: str) -> None:
    path = tmp_path / "groundtruth_rect.txt"
    path.write_text(f"205{separator}151{separator}17{separator}50\n1{separator}2{separator}3{separator}4\n")
    np.testing.assert_allclose(read_boxes(path), [[204, 150, 221, 200], [0, 1, 3, 5]])


def test_write_and_read_round_trip(tmp_path: Path) -> None:
    boxes = np.array([[10.25, 20.5, 30.75, 60.0], [0.0, 0.0, 5.0, 5.0]])
    np.testing.assert_allclose(read_boxes(write_boxes(tmp_path / "r.txt", boxes)), boxes, atol=0.006)
    assert (tmp_path / "r.txt").read_text().splitlines()[0] == "11.25,21.50,20.50,39.50"


def test_a_malformed_line_names_the_file_the_line_and_the_text(tmp_path: Path) -> None:
    path = tmp_path / "groundtruth_rect.txt"
    path.write_text("1,2,3,4\n5,6,seven,8\n")
    with pytest.raises(SotFormatError, match=r"groundtruth_rect\.txt:2: .*'5,6,seven,8'"):
        read_boxes(path)
    path.write_text("1,2,3,4\n1,2,3\n")
    with pytest.raises(SotFormatError, match=r":2: expected 4 numbers"):
        read_boxes(path)


def test_a_sequence_folder_without_frames_is_named(tmp_path: Path) -> None:
    folder = tmp_path / "Empty"
    (folder / "img").mkdir(parents=True)
    (folder / "groundtruth_rect.txt").write_text("1,2,3,4\n")
    with pytest.raises(SotFormatError, match=r"Empty: no frames"):
        read_sequence(folder)
    with pytest.raises(SotFormatError, match=r"no ground truth"):
        read_sequence(tmp_path)


def test_plots_are_written(tmp_path: Path) -> None:
    truth = {"a": np.array([[0, 0, 10, 10.]] * 3)}
    _, curves = evaluate_results({"a": truth["a"] + 2}, truth)
    paths = plot_curves({"x": curves, "y": curves}, tmp_path)
    assert [p.name for p in paths] == ["success_plot.png", "precision_plot.png"]
    assert all(p.stat().st_size > 5000 for p in paths)
    json.dumps({k: v.tolist() for k, v in curves.items()})
