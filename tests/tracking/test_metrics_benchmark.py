"""Folders of MOTChallenge files paired by name; TrackEval's tables and the JSON layout."""

import numpy as np
import pytest

from vidlearn.tracking.formats import write_mot
from vidlearn.tracking.metrics import evaluate_mot
from vidlearn.tracking.metrics.benchmark import (
    BenchmarkError,
    find_sequences,
    format_tables,
    load_sequences,
    read_seqmap,
    results_to_json,
    select_families,
)

from ._mot_cases import perturb, rows


def _gt():
    return rows([(f, i, 10 + 5 * f + 100 * i, 30, 40, 80, 1, 1, 1) for f in range(1, 9) for i in (1, 2, 3)], "gt")


def test_trackeval_layout_seqmap_and_lengths(tmp_path):
    gt = _gt()
    for name in ("S1", "S2"):
        write_mot(tmp_path / "gt" / name / "gt" / "gt.txt", gt, kind="gt")
        write_mot(tmp_path / "trackers" / "T" / "data" / f"{name}.txt", perturb(gt, 3, fp_rate=0.0))
    (tmp_path / "gt" / "S2" / "seqinfo.ini").write_text("[Sequence]\nname=S2\nseqLength=12\n")
    files = find_sequences(tmp_path / "gt", tmp_path / "trackers" / "T")  # data/ found inside
    assert [f.name for f in files] == ["S1", "S2"] and files[0].seqinfo is None
    assert files[1].result == tmp_path / "trackers" / "T" / "data" / "S2.txt"
    lengths = {name: length for name, (_, _, length) in load_sequences(files).items()}
    assert lengths == {"S1": 8, "S2": 12}  # the last frame in the files, or seqLength
    (tmp_path / "map.txt").write_text("name\nS2\n\nS1\n")
    assert read_seqmap(tmp_path / "map.txt") == ["S2", "S1"]
    with pytest.raises(BenchmarkError, match="no sequences given"):
        find_sequences(tmp_path / "gt", tmp_path / "trackers" / "T", [])
    with pytest.raises(BenchmarkError, match=r"no sequences in .*: expected .*/SEQ/gt/gt\.txt"):
        find_sequences(tmp_path / "trackers", tmp_path / "trackers" / "T")


def test_tables_and_json_hold_trackeval_fields_in_percent():
    gt = _gt()
    results = evaluate_mot({"B": (gt, perturb(gt, 1), 8), "A": (gt, gt, 8)})
    table = format_tables(results, ["Identity", "HOTA"], tracker="T")
    lines = table.splitlines()
    # TrackEval's order whatever the order asked; rows sorted by name, COMBINED last.
    assert lines[1].startswith("HOTA: T-pedestrian") and lines[6].startswith("Identity: T-pedestrian")
    assert [line.split()[0] for line in lines[2:5]] == ["A", "B", "COMBINED"]
    assert lines[2] == "A".ljust(35) + "".join("100".ljust(10) for _ in range(12))
    numbers = results_to_json(results, ["CLEAR"])
    assert list(numbers) == ["A", "B", "COMBINED"]
    assert numbers["A"]["MOTA"] == 100.0 and numbers["A"]["CLR_TP"] == 24
    assert numbers["COMBINED"]["MOTA"] == pytest.approx(100 * float(results["COMBINED"]["MOTA"]))
    assert isinstance(numbers["B"]["IDSW"], int)
    assert np.isclose(numbers["COMBINED"]["CLR_FN"], numbers["A"]["CLR_FN"] + numbers["B"]["CLR_FN"])
    with pytest.raises(BenchmarkError, match="unknown metric family 'IDF1'; known: HOTA, CLEAR, Identity"):
        select_families(["IDF1"])
