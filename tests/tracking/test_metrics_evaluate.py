"""Our metrics against the ``trackeval`` package itself (the reference), field by field."""

import numpy as np
import pytest

from vidlearn.tracking.formats import MotRows, read_mot, read_seqinfo
from vidlearn.tracking.metrics import evaluate_mot, summary

from ._mot_cases import perturb, rows
from ._trackeval import assert_same_results, import_trackeval, run_trackeval, write_benchmark


def _synthetic_gt(seed: int, num_objects: int = 12, num_frames: int = 40) -> MotRows:
    """Random walkers with MOT17 classes (pedestrians, distractors, cars) and some zero-marked boxes."""
    rng = np.random.default_rng(seed)
    table = []
    classes = rng.choice([1, 1, 1, 1, 2, 3, 7, 8, 12], size=num_objects)
    start = rng.uniform(0, 800, size=(num_objects, 2))
    velocity = rng.uniform(-6, 6, size=(num_objects, 2))
    first = rng.integers(1, num_frames // 2, size=num_objects)
    last = rng.integers(num_frames // 2, num_frames + 1, size=num_objects)
    for i in range(num_objects):
        for f in range(first[i], last[i] + 1):
            x, y = start[i] + f * velocity[i]
            consider = 0 if rng.random() < 0.05 else 1
            table.append((f, i + 1, x, y, 40, 90, consider, classes[i], rng.random()))
    return rows(table, kind="gt")


def test_summary_flattens_arrays_and_counts():
    gt = _synthetic_gt(0)
    result = evaluate_mot({"S": (gt, perturb(gt, 1), 40)})
    flat = summary(result["COMBINED"])
    assert flat["HOTA"] == pytest.approx(float(np.mean(result["COMBINED"]["HOTA"])))
    assert isinstance(flat["IDSW"], int) and "MOTP_sum" not in flat


def test_equal_to_trackeval_on_synthetic_sequences(tmp_path):
    import_trackeval()
    sequences = {}
    for seed in range(4):
        gt = _synthetic_gt(seed)
        sequences[f"SYN-{seed:02d}"] = (gt, perturb(gt, 100 + seed, drop=0.05 * seed, jitter=0.04 * (seed + 1)), 40)
    empty = sequences["SYN-00"][1].select(np.zeros(len(sequences["SYN-00"][1]), dtype=bool))
    sequences["SYN-EMPTY"] = (sequences["SYN-01"][0], empty, 40)
    # Ground truth only in frames 1-20, tracker output only in frames 21-40: no frame has both.
    gt = sequences["SYN-02"][0]
    tracker = perturb(gt, 7)
    sequences["SYN-DISJOINT"] = (gt.select(gt.frames <= 20), tracker.select(tracker.frames > 20), 40)
    sequences = write_benchmark(tmp_path, sequences)
    reference = run_trackeval(tmp_path / "gt", tmp_path / "trackers", tmp_path / "seqmap.txt", "T")
    ours = evaluate_mot(sequences)
    assert set(reference) == set(sequences) | {"COMBINED_SEQ"}
    for name, expected in reference.items():
        assert_same_results(ours["COMBINED" if name == "COMBINED_SEQ" else name], expected)


@pytest.mark.shared_data
def test_equal_to_trackeval_on_perturbed_mot17_ground_truth(shared_data, tmp_path):
    import_trackeval()
    root = shared_data / "tracking" / "mot" / "MOT17" / "train"
    sequences = {}
    for seed, name in enumerate(["MOT17-02-FRCNN", "MOT17-05-FRCNN", "MOT17-09-FRCNN"]):
        length = read_seqinfo(root / name / "seqinfo.ini").seq_length
        gt = read_mot(root / name / "gt" / "gt.txt", "gt", num_frames=length)
        sequences[name] = (gt, perturb(gt, seed), length)
    sequences = write_benchmark(tmp_path, sequences)
    reference = run_trackeval(tmp_path / "gt", tmp_path / "trackers", tmp_path / "seqmap.txt", "T")
    ours = evaluate_mot(sequences)
    assert ours["COMBINED"]["IDSW"] > 0 and ours["COMBINED"]["CLR_FP"] > 0  # the perturbation did something
    for name, expected in reference.items():
        assert_same_results(ours["COMBINED" if name == "COMBINED_SEQ" else name], expected)


@pytest.mark.slow
@pytest.mark.shared_data
def test_mpntrack_on_mot17_train_equals_trackeval(shared_data):
    """The 21 MOT17 train sequences with MPNTrack's results: every field of every sequence and COMBINED."""
    root = shared_data / "tracking" / "mot" / "MOT17"
    sequences = {}
    for folder in sorted((root / "train").iterdir()):
        length = read_seqinfo(folder / "seqinfo.ini").seq_length
        sequences[folder.name] = (
            read_mot(folder / "gt" / "gt.txt", "gt", num_frames=length),
            read_mot(root / "trackers" / "MPNTrack" / "data" / f"{folder.name}.txt", "result", num_frames=length),
            length,
        )
    assert len(sequences) == 21
    ours = evaluate_mot(sequences)
    combined = summary(ours["COMBINED"])
    # Published TrackEval figures for this material (../shared/data/README.md).
    assert round(100 * combined["HOTA"], 3) == 61.904
    assert round(100 * combined["MOTA"], 3) == 64.399
    assert round(100 * combined["IDF1"], 3) == 71.206
    nine = summary(ours["MOT17-09-FRCNN"])
    assert (nine["IDSW"], nine["CLR_FP"], nine["CLR_FN"]) == (9, 168, 1412)
    assert round(100 * nine["MOTA"], 2) == 70.16 and round(100 * nine["IDF1"], 2) == 72.70
    reference = run_trackeval(root / "train", root / "trackers", root / "seqmaps" / "MOT17-train.txt", "MPNTrack")
    for name, expected in reference.items():
        assert_same_results(ours["COMBINED" if name == "COMBINED_SEQ" else name], expected)
