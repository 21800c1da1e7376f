import pytest

from vidlearn.tracking.metrics.data import prepare_mot_sequence
from vidlearn.tracking.metrics.identity import Identity

from ._hand_case import GT, NUM_FRAMES, TRACKER


def test_identity_on_the_hand_case():
    res = Identity().eval_sequence(prepare_mot_sequence(GT, TRACKER, NUM_FRAMES))
    # Object 1 is matched to id 1 (3 shared frames); the boxes of ids 2 and 7 are ID false positives; object
    # 1's other 3 frames and object 2's 6 are ID false negatives.
    assert (res["IDTP"], res["IDFN"], res["IDFP"]) == (3, 9, 3)
    assert res["IDF1"] == pytest.approx(3 / (3 + 0.5 * 3 + 0.5 * 9))
    assert res["IDP"] == pytest.approx(3 / 6) and res["IDR"] == pytest.approx(3 / 12)


def test_empty_tracker_output():
    res = Identity().eval_sequence(prepare_mot_sequence(GT, TRACKER.select(TRACKER.frames > 99), NUM_FRAMES))
    assert (res["IDTP"], res["IDFN"], res["IDFP"], res["IDF1"]) == (0, 12, 0, 0)
