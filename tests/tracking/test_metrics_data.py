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
