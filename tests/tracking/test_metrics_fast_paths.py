"""The all-frames-at-once code of the metrics and the one-call reader against the frame-by-frame /
line-by-line code they replace, on random cases built to have ties, continuing tracks and distractors."""

import numpy as np
import pytest

from vidlearn.tracking import formats
from vidlearn.tracking.formats import MotFormatError, MotRows, read_mot
from vidlearn.tracking.metrics import clear as clear_module
from vidlearn.tracking.metrics.clear import CLEAR
from vidlearn.tracking.metrics.data import SequenceData, prepare_mot_sequence
from vidlearn.tracking.metrics.hota import HOTA
from vidlearn.tracking.metrics.identity import Identity

from ._metrics_reference import ReferenceHOTA, clear_counts, prepare

EPS = np.finfo(np.float64).eps


def random_sequence(seed: int, num_frames: int = 80, tie_step: float | None = 0.05) -> SequenceData:
    """Objects followed by tracks that switch now and then, with false positives and stray overlaps; IoU
    values on a grid of ``tie_step`` (many exact ties, values exactly at the thresholds) or continuous."""
    rng = np.random.default_rng(seed)
    track_of = np.arange(10)
    gt_ids, tracker_ids, similarities = [], [], []
    for _ in range(num_frames):
        if rng.random() < 0.1:
            track_of[rng.integers(10)] = rng.integers(10, 30)  # an identity switch
        gt = rng.choice(10, rng.integers(0, 7), replace=False)
        followed = gt[rng.random(len(gt)) < 0.8]
        tracks = np.unique(np.concatenate([track_of[followed], rng.integers(30, 40, rng.integers(0, 3))]))
        tracks = rng.permutation(tracks)[:rng.integers(0, 8)] if rng.random() < 0.9 else tracks[:0]
        similarity = np.where(rng.random((len(gt), len(tracks))) < 0.3, rng.uniform(0, 0.8, (len(gt), len(tracks))), 0)
        for i, g in enumerate(gt):
            for j, k in enumerate(tracks):
                if track_of[g] == k:
                    similarity[i, j] = rng.uniform(0.35, 1.0)
        if tie_step:
            similarity = np.round(similarity / tie_step) * tie_step
            similarity[similarity == 0.5] = rng.choice([0.5, 0.5 - EPS / 2])  # on the threshold, both sides
        gt_ids.append(gt)
        tracker_ids.append(tracks)
        similarities.append(np.clip(similarity, 0, 1))
    data = SequenceData(name="random", num_timesteps=num_frames, similarity_scores=similarities)
    for ids, what in ((gt_ids, "gt"), (tracker_ids, "tracker")):
        flat = np.concatenate([np.zeros(0, dtype=np.int64), *ids])
        unique, inverse = np.unique(flat, return_inverse=True)
        bounds = np.cumsum([0] + [len(i) for i in ids])
        setattr(data, f"{what}_ids", [inverse[bounds[t]:bounds[t + 1]].astype(np.int64) for t in range(num_frames)])
        setattr(data, f"num_{what}_ids", len(unique))
        setattr(data, f"num_{what}_dets", len(flat))
    return data


CASES = [(seed, step) for seed in range(12) for step in (0.05, 0.25, None)]


@pytest.mark.parametrize(("seed", "step"), CASES)
@pytest.mark.parametrize("threshold", [0.5, 0.3, 0.0, 1.0])
def test_clear_equals_one_hungarian_call_per_frame(seed, step, threshold):
    data = random_sequence(seed, tie_step=step)
    got = CLEAR(threshold).eval_sequence(data)
    expected = clear_counts(data, threshold)
    for key, value in expected.items():
        assert got[key] == value, key  # MOTP_sum too: the same additions in the same order


def test_clear_solves_only_the_frames_where_the_assignment_is_not_forced(monkeypatch):
    data = random_sequence(3, num_frames=200)
    calls = []

    def counting(cost):
        calls.append(cost.shape)
        return linear_sum_assignment(cost)

    linear_sum_assignment = clear_module.linear_sum_assignment
    monkeypatch.setattr(clear_module, "linear_sum_assignment", counting)
    got = CLEAR().eval_sequence(data)
    scored = sum(1 for g, k in zip(data.gt_ids, data.tracker_ids) if len(g) and len(k))
    contested = sum(1 for s in data.similarity_scores
                    if ((s >= 0.5 - EPS).sum(0) > 1).any() or ((s >= 0.5 - EPS).sum(1) > 1).any())
    assert 0 < len(calls) == contested < scored  # every other scored frame was read off without a call
    assert got["CLR_TP"] == clear_counts(data)["CLR_TP"]


@pytest.mark.parametrize(("seed", "step"), CASES)
def test_hota_equals_the_per_frame_loops_bit_for_bit(seed, step):
    data = random_sequence(seed, tie_step=step)
    got, expected = HOTA().eval_sequence(data), ReferenceHOTA().eval_sequence(data)
    for key, value in expected.items():
        np.testing.assert_array_equal(got[key], value, err_msg=key)


@pytest.mark.parametrize("seed", range(6))
def test_identity_counts_equal_a_per_frame_count(seed):
    data = random_sequence(seed)
    res = Identity().eval_sequence(data)
    potential = np.zeros((data.num_gt_ids, data.num_tracker_ids))
    for g, k, s in zip(data.gt_ids, data.tracker_ids, data.similarity_scores):
        rows, cols = np.nonzero(s >= 0.5)
        np.add.at(potential, (g[rows], k[cols]), 1)
    assert res["IDTP"] <= potential.sum() and res["IDTP"] + res["IDFN"] == data.num_gt_dets
    # The identity TP is the matched pairs' co-occurrences: at least the best single pair's.
    assert res["IDTP"] >= potential.max()


def random_rows(seed: int, num_frames: int = 40) -> tuple[MotRows, MotRows]:
    """Ground truth of every class (distractors, zero-marked, cars) on a small grid, so boxes repeat and
    overlap exactly, and tracker boxes near them."""
    rng = np.random.default_rng(seed)
    gt, tracker = [], []
    for t in range(1, num_frames + 1):
        for i in rng.choice(25, rng.integers(0, 12), replace=False):
            box = np.r_[rng.integers(0, 6, 2) * 10.0, rng.integers(1, 4, 2) * 10.0]
            gt.append((t, i, *box, float(rng.random() < 0.85), rng.choice([1, 1, 1, 2, 7, 8, 12, 3, 9]), 1.0))
        for i in rng.choice(25, rng.integers(0, 12), replace=False):
            box = np.r_[rng.integers(0, 6, 2) * 10.0 + rng.choice([0, 0, 1.5], 2), rng.integers(1, 4, 2) * 10.0]
            tracker.append((t, 100 + i, *box, 1.0, -1, -1.0))
    g, k = np.array(gt), np.array(tracker)
    make = lambda a: MotRows(a[:, 0].astype(np.int64), a[:, 1].astype(np.int64), a[:, 2:6].copy(), a[:, 6].copy(),  # noqa: E731
                             a[:, 7].astype(np.int64), a[:, 8].copy())
    return make(g), make(k)


@pytest.mark.parametrize("seed", range(8))
def test_preprocessing_equals_the_per_frame_distractor_matching(seed):
    gt, tracker = random_rows(seed)
    got, expected = prepare_mot_sequence(gt, tracker, 40), prepare(gt, tracker, 40)
    assert (got.num_gt_ids, got.num_tracker_ids, got.num_gt_dets, got.num_tracker_dets) == (
        expected.num_gt_ids, expected.num_tracker_ids, expected.num_gt_dets, expected.num_tracker_dets)
    assert expected.num_tracker_dets < len(tracker)  # some tracker boxes were removed as distractors
    for t in range(40):
        np.testing.assert_array_equal(got.gt_ids[t], expected.gt_ids[t])
        np.testing.assert_array_equal(got.tracker_ids[t], expected.tracker_ids[t])
        assert got.similarity_scores[t].shape == expected.similarity_scores[t].shape
        np.testing.assert_array_equal(got.similarity_scores[t], expected.similarity_scores[t])


def _table(seed: int, columns: int, rows: int = 30) -> np.ndarray:
    rng = np.random.default_rng(seed)
    table = np.round(rng.uniform(0, 500, (rows, columns)), rng.integers(0, 4))
    table[:, 0] = np.repeat(np.arange(1, rows // 3 + 1), 3)[:rows]
    table[:, 1] = np.tile([1, 2, 3], rows)[:rows]
    table[:, 4:6] = np.abs(table[:, 4:6])
    if columns > 6:
        table[:, 6] = rng.choice([0, 1, 0.25], rows)
    if columns > 7:
        table[:, 7] = rng.choice([1, 2, 7, -1], rows)
    return table


@pytest.mark.parametrize("columns", [6, 9, 10])
@pytest.mark.parametrize("separator", [",", " ", "\t", ", ", "  "])
def test_one_call_reader_equals_the_line_by_line_reader(tmp_path, columns, separator):
    table = _table(columns, columns)
    lines = [separator.join(f"{v:g}" for v in row) for row in table]
    fast, slow = tmp_path / "fast.txt", tmp_path / "slow.txt"
    fast.write_text("\n".join(lines) + ("\n" if columns != 9 else ""))  # with and without a last newline
    slow.write_text("\n".join(lines[:10]) + "\n\n  \n" + "\n".join(lines[10:]) + "\n\n")  # blank lines
    assert formats._parse_quickly(fast.read_text()) is not None
    assert formats._parse_quickly(slow.read_text()) is None
    a, b = read_mot(fast, "gt"), read_mot(slow, "gt")
    for name in ("frames", "ids", "boxes", "scores", "classes", "visibility"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    np.testing.assert_array_equal(a.boxes, table[:, 2:6])


def test_trailing_separators_take_the_line_by_line_path(tmp_path):
    table = _table(0, 10)
    plain = "".join(",".join(f"{v:g}" for v in row) + "\n" for row in table)
    trailing = "".join(",".join(f"{v:g}" for v in row) + ",\n" for row in table)
    assert formats._parse_quickly(trailing) is None
    (tmp_path / "a.txt").write_text(plain)
    (tmp_path / "b.txt").write_text(trailing)
    np.testing.assert_array_equal(read_mot(tmp_path / "a.txt").boxes, read_mot(tmp_path / "b.txt").boxes)


@pytest.mark.parametrize(("bad", "why"), [
    ("4,1,10,20,-30,40,1", "negative width or height"),
    ("0,1,10,20,30,40,1", "frame numbers start at 1"),
    ("2,1,10,20,30,40,1", "id 1 appears twice in frame 2"),
    ("2.5,7,10,20,30,40,1", "frame number is not an integer"),
])
def test_one_call_reader_names_the_bad_line(tmp_path, bad, why):
    lines = [f"{t},1,10,20,30,40,1" for t in range(1, 7)]
    lines[3] = bad  # line 4
    path = tmp_path / "gt.txt"
    path.write_text("\n".join(lines) + "\n")
    assert formats._parse_quickly(path.read_text()) is not None
    with pytest.raises(MotFormatError) as error:
        read_mot(path, "gt")
    assert f"{path}:4: {why}: {bad!r}" in str(error.value)
