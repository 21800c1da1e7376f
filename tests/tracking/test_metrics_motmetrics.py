"""A second reference for the metrics: py-motmetrics 1.4.0 (Heindl et al.), on MOT17-09-FRCNN with MPNTrack's
results, the example tracker TrackEval ships. Both libraries and vidlearn give MOTA 70.16 and IDF1 72.70."""

import numpy as np
import pytest

from vidlearn.tracking.metrics import evaluate_folders

SEQUENCE = "MOT17-09-FRCNN"
EXPECTED = {"MOTA": 70.16, "IDF1": 72.70, "IDSW": 9, "FP": 168, "FN": 1412}


@pytest.fixture
def mot17(shared_data):
    return shared_data / "tracking" / "mot" / "MOT17"


@pytest.mark.shared_data
def test_vidlearn_gives_the_published_mot17_09_numbers(mot17):
    result = evaluate_folders(mot17 / "train", mot17 / "trackers" / "MPNTrack", sequences=[SEQUENCE])[SEQUENCE]
    assert round(100 * result["MOTA"], 2) == EXPECTED["MOTA"]
    assert round(100 * result["IDF1"], 2) == EXPECTED["IDF1"]
    assert (result["IDSW"], result["CLR_FP"], result["CLR_FN"]) == (EXPECTED["IDSW"], EXPECTED["FP"], EXPECTED["FN"])


@pytest.mark.shared_data
@pytest.mark.filterwarnings("ignore:Operation with tuple is deprecated")  # pandas 3 on motmetrics' reader
def test_py_motmetrics_agrees_on_mot17_09(mot17, monkeypatch):
    # py-motmetrics 1.4.0 calls np.asfarray, which NumPy 2 removed: restore it for this test only.
    monkeypatch.setattr(np, "asfarray", lambda a, dtype=np.float64: np.asarray(a, dtype=dtype), raising=False)
    mm = pytest.importorskip("motmetrics", reason="py-motmetrics (second reference for the metrics) is not installed")
    gt = mm.io.loadtxt(mot17 / "train" / SEQUENCE / "gt" / "gt.txt", fmt="mot15-2D", min_confidence=1)
    hypotheses = mm.io.loadtxt(mot17 / "trackers" / "MPNTrack" / "data" / f"{SEQUENCE}.txt", fmt="mot15-2D")
    accumulator = mm.utils.compare_to_groundtruth(gt, hypotheses, "iou", distth=0.5)
    summary = mm.metrics.create().compute(
        accumulator, metrics=["mota", "idf1", "num_switches", "num_false_positives", "num_misses"], name=SEQUENCE)
    row = summary.loc[SEQUENCE]
    assert round(100 * row["mota"], 2) == EXPECTED["MOTA"]
    assert round(100 * row["idf1"], 2) == EXPECTED["IDF1"]
    assert (row["num_switches"], row["num_false_positives"], row["num_misses"]) == (
        EXPECTED["IDSW"], EXPECTED["FP"], EXPECTED["FN"])
