"""``vidlearn mot eval``: TrackEval's tables and numbers from plain folders, one-line errors."""

import contextlib
import io
import json
from pathlib import Path

import numpy as np
import pytest
from _cli import error_line as _error_line
from _cli import run as _run

from vidlearn.tracking.formats import MotRows, read_mot, read_seqinfo, write_mot
from vidlearn.tracking.metrics import evaluate_mot
from vidlearn.tracking.metrics.benchmark import SUMMARY_FIELDS

SEQUENCES = ["MOT17-02-FRCNN", "MOT17-05-FRCNN", "MOT17-09-FRCNN"]




def _gt(num_frames: int = 5) -> MotRows:
    """Two pedestrians walking right over ``num_frames`` frames (MOT17 ground-truth columns)."""
    frames = np.repeat(np.arange(1, num_frames + 1), 2)
    ids = np.tile([1, 2], num_frames)
    boxes = np.stack([10.0 * frames + 200 * (ids - 1), np.full(len(frames), 50.0), np.full(len(frames), 40.0),
                      np.full(len(frames), 90.0)], axis=1)
    count = len(frames)
    return MotRows(frames, ids, boxes, np.ones(count), np.ones(count, dtype=np.int64), np.ones(count))


def _tiny_benchmark(root: Path) -> tuple[Path, Path]:
    """GT for A and B (no seqinfo.ini); results: A perfect, B with object 2 renamed halfway (one switch)."""
    gt = _gt()
    for name in ("A", "B"):
        write_mot(root / "gt" / name / "gt" / "gt.txt", gt, kind="gt")
    write_mot(root / "res" / "A.txt", gt)
    switched = MotRows(gt.frames, np.where((gt.ids == 2) & (gt.frames > 2), 7, gt.ids), gt.boxes, gt.scores,
                       np.full(len(gt), -1), np.full(len(gt), -1.0))
    write_mot(root / "res" / "B.txt", switched)
    return root / "gt", root / "res"


def test_tiny_folders_without_seqinfo(tmp_path, capsys):
    gt_root, results = _tiny_benchmark(tmp_path)
    code, out, _ = _run(capsys, "mot", "eval", gt_root, results, "--json", tmp_path / "m.json")
    assert code == 0
    numbers = json.loads((tmp_path / "m.json").read_text())
    assert list(numbers) == ["A", "B", "COMBINED"]
    assert numbers["A"]["MOTA"] == 100.0 and numbers["A"]["IDSW"] == 0 and numbers["A"]["IDF1"] == 100.0
    assert numbers["B"]["IDSW"] == 1 and numbers["B"]["MOTA"] == 90.0  # 1 - 1/10
    assert numbers["COMBINED"]["CLR_TP"] == 20 and numbers["COMBINED"]["MOTA"] == 95.0
    assert numbers["B"]["IDTP"] == 8  # object 1: 5 frames; object 2 is best matched to id 7 (frames 3-5)
    header = next(line for line in out.splitlines() if line.startswith("CLEAR:"))
    assert header.startswith("CLEAR: res-pedestrian".ljust(35) + "MOTA".ljust(10))


def test_metrics_and_sequences_select(tmp_path, capsys):
    gt_root, results = _tiny_benchmark(tmp_path)
    code, out, _ = _run(capsys, "mot", "eval", gt_root, results, "--metrics", "Identity", "--sequences", "B",
                        "--json", tmp_path / "m.json", "--tracker", "T")
    assert code == 0
    assert [line.split()[0] for line in out.strip().splitlines()[:3]] == ["Identity:", "B", "COMBINED"]
    numbers = json.loads((tmp_path / "m.json").read_text())
    assert list(numbers) == ["B", "COMBINED"] and list(numbers["B"]) == list(SUMMARY_FIELDS["Identity"])


def test_errors_are_one_line(tmp_path, capsys):
    gt_root, results = _tiny_benchmark(tmp_path)
    line = _error_line(capsys, "mot", "eval", gt_root, results, "--sequences", "A,C,D")
    assert "no ground truth for 2 sequence(s)" in line and "C, D" in line
    (results / "B.txt").unlink()
    line = _error_line(capsys, "mot", "eval", gt_root, results)
    assert "no results for 1 sequence(s)" in line and line.endswith(f"B (expected {results}/SEQ.txt)")
    (results / "B.txt").write_text("1,1,10,50,40,90,1,-1,-1,-1\n2,1,x,50,40,90,1,-1,-1,-1\n")
    line = _error_line(capsys, "mot", "eval", gt_root, results)
    assert f"{results / 'B.txt'}:2: not a number" in line
    line = _error_line(capsys, "mot", "eval", gt_root, results, "--metrics", "HOTA,MOTA")
    assert "unknown metric family 'MOTA'" in line
    line = _error_line(capsys, "mot", "eval", tmp_path / "nowhere", results)
    assert "ground-truth folder" in line and "nowhere" in line
    (gt_root / "A" / "seqinfo.ini").write_text("[Sequence]\nname=A\nseqLength=3\n")
    line = _error_line(capsys, "mot", "eval", gt_root, results, "--sequences", "A")
    assert "gt.txt:7: frame past the sequence length 3" in line


def _trackeval_tables(gt_folder: Path, trackers: Path, seqmap: Path) -> str:
    """What TrackEval itself prints for the MPNTrack results (its tables only)."""
    with contextlib.redirect_stdout(io.StringIO()):
        trackeval = pytest.importorskip("trackeval", reason="trackeval (the reference) is not installed")
    evaluator = trackeval.Evaluator({"USE_PARALLEL": False, "PRINT_RESULTS": True, "PRINT_CONFIG": False,
                                     "TIME_PROGRESS": False, "OUTPUT_SUMMARY": False, "OUTPUT_DETAILED": False,
                                     "PLOT_CURVES": False, "PRINT_ONLY_COMBINED": False})
    dataset = trackeval.datasets.MotChallenge2DBox({
        "GT_FOLDER": str(gt_folder), "TRACKERS_FOLDER": str(trackers), "BENCHMARK": "MOT17",
        "SPLIT_TO_EVAL": "train", "SKIP_SPLIT_FOL": True, "SEQMAP_FILE": str(seqmap),
        "TRACKERS_TO_EVAL": ["MPNTrack"], "PRINT_CONFIG": False})
    config = {"THRESHOLD": 0.5, "PRINT_CONFIG": False}
    metrics = [trackeval.metrics.HOTA(config), trackeval.metrics.CLEAR(config), trackeval.metrics.Identity(config)]
    stream = io.StringIO()
    with contextlib.redirect_stdout(stream):
        evaluator.evaluate([dataset], metrics)
    tables, keep = [], False
    for line in stream.getvalue().splitlines():
        if line.split(":")[0] in SUMMARY_FIELDS:
            keep = True
        elif line.startswith("Count:"):
            keep = False
        if keep:
            tables.append(line)
    return "\n".join(tables).strip()


@pytest.mark.shared_data
def test_mot17_mpntrack_equals_evaluate_mot_and_trackeval(shared_data, tmp_path, capsys):
    root = shared_data / "tracking" / "mot" / "MOT17"
    code, out, _ = _run(capsys, "mot", "eval", root / "train", root / "trackers" / "MPNTrack",
                        "--sequences", ",".join(SEQUENCES), "--json", tmp_path / "m.json")
    assert code == 0
    numbers = json.loads((tmp_path / "m.json").read_text())
    sequences = {}
    for name in SEQUENCES:
        length = read_seqinfo(root / "train" / name / "seqinfo.ini").seq_length
        sequences[name] = (read_mot(root / "train" / name / "gt" / "gt.txt", "gt", length),
                           read_mot(root / "trackers" / "MPNTrack" / "data" / f"{name}.txt", "result", length), length)
    library = evaluate_mot(sequences)
    assert list(numbers) == [*SEQUENCES, "COMBINED"]
    for name, fields in numbers.items():
        for field, value in fields.items():
            assert value == pytest.approx(100 * np.mean(library[name][field]) if isinstance(value, float)
                                          else library[name][field], abs=1e-9), (name, field)
    # ../shared/data/README.md: MOT17-09-FRCNN with MPNTrack, as TrackEval and py-motmetrics report it.
    nine = numbers["MOT17-09-FRCNN"]
    assert (round(nine["MOTA"], 2), round(nine["IDF1"], 2), round(nine["HOTA"], 3)) == (70.16, 72.70, 61.439)
    assert (nine["IDSW"], nine["CLR_FP"], nine["CLR_FN"]) == (9, 168, 1412)
    seqmap = tmp_path / "seqmap.txt"
    seqmap.write_text("name\n" + "\n".join(SEQUENCES) + "\n")
    # Character for character what TrackEval prints (TrackEval is an optional reference: skipped without it).
    assert out.split("\nwrote")[0].strip() == _trackeval_tables(root / "train", root / "trackers", seqmap)


def test_a_result_row_past_the_sequence_length_names_the_result_file(tmp_path, capsys):
    gt_root, results = _tiny_benchmark(tmp_path)
    rows = (gt_root / "A" / "gt" / "gt.txt").read_text().splitlines()
    last_frame = max(int(line.split(",")[0]) for line in rows)
    (gt_root / "A" / "seqinfo.ini").write_text(f"[Sequence]\nname=A\nseqLength={last_frame}\n")
    with (results / "A.txt").open("a") as handle:
        handle.write(f"{last_frame + 1},1,10,50,40,90,1,-1,-1,-1\n")
    line = _error_line(capsys, "mot", "eval", gt_root, results, "--sequences", "A")
    count = len((results / "A.txt").read_text().splitlines())
    assert f"{results / 'A.txt'}:{count}: frame past the sequence length {last_frame}" in line
