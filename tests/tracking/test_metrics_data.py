import numpy as np
import pytest

from vidlearn.tracking.metrics.data import prepare_mot_sequence

from ._mot_cases import rows

GT = rows([
    (1, 5, 0, 0, 10, 10, 1, 1, 1.0),  # pedestrian
    (1, 9, 100, 0, 10, 10, 1, 7, 1.0),  # static person: a distractor
    (1, 3, 200, 0, 10, 10, 0, 1, 1.0),  # zero-marked pedestrian
    (2, 5, 1, 0, 10, 10, 1, 1, 1.0),
    (2, 4, 300, 0, 10, 10, 1, 3, 1.0),  # a car: not a distractor, not evaluated
], kind="gt")
TRACKER = rows([
    (1, 40, 0, 0, 10, 10), (1, 41, 101, 0, 10, 10), (1, 42, 200, 0, 10, 10),
    (2, 40, 1, 0, 10, 10), (2, 43, 300, 0, 10, 10),
])


def test_mot17_preprocessing_removes_distractor_matches_and_non_pedestrians():
    data = prepare_mot_sequence(GT, TRACKER, 3)
    # Tracker box 41 sits on the static person: removed. 42 (on a zero-marked box) and 43 (on a car) stay
    # as false positives. Only pedestrian 5 remains in the ground truth.
    assert [ids.tolist() for ids in data.gt_ids] == [[0], [0], []]
    assert [ids.tolist() for ids in data.tracker_ids] == [[0, 1], [0, 2], []]
    assert (data.num_gt_ids, data.num_tracker_ids, data.num_gt_dets, data.num_tracker_dets) == (1, 3, 2, 4)
    np.testing.assert_allclose(data.similarity_scores[1], [[1.0, 0.0]])
    assert data.similarity_scores[2].shape == (0, 0)


def test_mot15_has_no_classes():
    data = prepare_mot_sequence(GT, TRACKER, 3, benchmark="MOT15")
    assert data.num_gt_dets == 4 and data.num_tracker_dets == 5


def test_bad_sequences_are_named():
    with pytest.raises(ValueError, match="S1: tracker has frame 2 past the length 1"):
        prepare_mot_sequence(GT.select(GT.frames == 1), TRACKER, 1, name="S1")
    bad = rows([(1, 1, 0, 0, 10, 10, 1, 99, 1.0)], kind="gt")
    with pytest.raises(ValueError, match=r"unknown classes \[99\]"):
        prepare_mot_sequence(bad, TRACKER, 2)


def test_ious_by_frame_equal_iou_matrix_bit_for_bit():
    """The all-frames IoU (flat pairs, in chunks) gives every frame's iou_matrix exactly, empty frames and
    degenerate boxes included, whatever the chunk size."""
    from vidlearn.tracking.boxes import iou_matrix
    from vidlearn.tracking.metrics.data import ious_by_frame

    rng = np.random.default_rng(0)
    count_a, count_b = rng.integers(0, 6, 40), rng.integers(0, 6, 40)
    offsets_a, offsets_b = np.r_[0, np.cumsum(count_a)], np.r_[0, np.cumsum(count_b)]

    def boxes(n):
        corner, size = rng.uniform(0, 50, (n, 2)), rng.uniform(0, 30, (n, 2))
        size[::7] = 0.0  # zero-area boxes
        return np.concatenate([corner, corner + size], axis=1)

    a, b = boxes(offsets_a[-1]), boxes(offsets_b[-1])
    for chunk in (1, 7, 10**6):
        got = ious_by_frame(a, offsets_a, b, offsets_b, chunk)
        assert len(got) == 40
        for t in range(40):
            expected = iou_matrix(a[offsets_a[t]:offsets_a[t + 1]], b[offsets_b[t]:offsets_b[t + 1]])
            assert got[t].shape == expected.shape
            np.testing.assert_array_equal(got[t], expected)
