"""The tracking demo part and its identity timeline."""

import json

import numpy as np
import pytest

from vidlearn.tracking.demo import demo_part, identity_timeline
from vidlearn.tracking.formats import MotRows


def _rows(frames, ids, x):
    count = len(frames)
    return MotRows(np.array(frames), np.array(ids), np.stack([np.array(x, float), np.full(count, 10.0),
                                                              np.full(count, 20.0), np.full(count, 40.0)], 1),
                   np.ones(count), np.ones(count, dtype=np.int64), np.ones(count))


def test_identity_timeline_follows_the_matched_ids():
    gt = _rows([1, 1, 2, 2, 3, 3], [1, 2, 1, 2, 1, 2], [0, 100, 5, 100, 10, 100])
    # Object 1 keeps track 4 then switches to track 9 in frame 3; object 2 is missed in frame 2.
    result = _rows([1, 1, 2, 3, 3], [4, 5, 4, 9, 5], [0, 101, 6, 10, 99])
    assert identity_timeline(gt, result, 3).tolist() == [[4, 4, 9], [5, 0, 5]]
    far = _rows([1], [7], [50])  # IoU below 0.5 with everything: not matched
    assert identity_timeline(gt, far, 3).tolist() == [[0, 0, 0], [0, 0, 0]]


@pytest.mark.slow
def test_quick_demo_writes_its_files(tmp_path):
    results = demo_part(tmp_path, quick=True, log=lambda line: None)
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved == results and set(saved) == {"sort", "deepsort", "deepsort_boxes_only", "single_object"}
    single = saved.pop("single_object")  # GOTURN, ROLO and the baselines on synthetic sequences and OTB Crossing
    assert {"goturn", "rolo", "stay"} <= set(single["sets"]["synthetic"])
    # With the shared test material, GOTURN is the NanoTrack-tower one trained on MOT17-04's pedestrians too.
    from vidlearn.tracking.sot.demo import MOT17_04_VIDEO, NANOTRACK_BACKBONE, find_shared

    goturn = single["training"]["goturn"]
    if find_shared(NANOTRACK_BACKBONE) is not None and find_shared(MOT17_04_VIDEO) is not None:
        assert goturn["model"] == "goturn_nanotrack" and goturn["pedestrian_sequences"] == 3 * 27
    else:
        assert goturn["model"] == "goturn" and goturn["pedestrian_sequences"] == 0
    assert (tmp_path / "single_object" / "results.md").is_file()
    for row in saved.values():
        assert set(row) == {"MOTA", "IDF1", "HOTA", "IDSW"} and isinstance(row["IDSW"], int)
        assert -100 <= row["MOTA"] <= 100 and 0 <= row["IDF1"] <= 100 and 0 <= row["HOTA"] <= 100
    for name in ("results.md", "overlay.mp4", "identities.png", "reid/deepsort_reid.pt",
                 "data/SYN-0100/gt/gt.txt", "data/SYN-0100/det/det.txt", "results/sort/SYN-0100.txt"):
        assert (tmp_path / name).is_file(), name
    assert "| sort |" in (tmp_path / "results.md").read_text()
    # a second run in the same folder replaces the first (as `make demo` run twice does)
    again = demo_part(tmp_path, quick=True, log=lambda line: None)
    assert set(again) == set(results) and again["sort"] == results["sort"]
