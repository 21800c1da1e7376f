import numpy as np
import pytest

from vidlearn.tracking.metrics.data import prepare_mot_sequence
from vidlearn.tracking.metrics.hota import ALPHAS, HOTA

from ._hand_case import GT, NUM_FRAMES, TRACKER
from ._mot_cases import rows


def test_alphas_are_the_19_thresholds():
    assert len(ALPHAS) == 19
    np.testing.assert_allclose(ALPHAS[[0, -1]], [0.05, 0.95])


def test_hota_on_the_hand_case():
    res = HOTA().eval_sequence(prepare_mot_sequence(GT, TRACKER, NUM_FRAMES))
    # Boxes overlap exactly: the same counts at every alpha. TP 5, FN 7, FP 1.
    np.testing.assert_array_equal(res["HOTA_TP"], 5)
    np.testing.assert_array_equal(res["HOTA_FP"], 1)
    np.testing.assert_allclose(res["DetA"], 5 / 13)
    # Association: (object 1, id 1) shares 3 matches, A = 3 / (6 + 3 - 3); (object 1, id 2): 2 / (6 + 2 - 2).
    ass_a = (3 * 0.5 + 2 * (1 / 3)) / 5
    np.testing.assert_allclose(res["AssA"], ass_a)
    np.testing.assert_allclose(res["HOTA"], np.sqrt(5 / 13 * ass_a))
    np.testing.assert_allclose(res["LocA"], 1.0)
    np.testing.assert_allclose(res["AssRe"], (3 * 3 / 6 + 2 * 2 / 6) / 5)


def test_localisation_threshold_splits_the_alphas():
    gt = rows([(1, 1, 0, 0, 10, 10, 1, 1, 1.0)], kind="gt")
    tracker = rows([(1, 1, 0, 0, 10, 6)])  # IoU 0.6
    res = HOTA().eval_sequence(prepare_mot_sequence(gt, tracker, 1))
    np.testing.assert_array_equal(res["HOTA_TP"], (ALPHAS <= 0.6 + 1e-12).astype(float))
    assert res["HOTA"][ALPHAS < 0.59].tolist() == [1.0] * 11
    assert res["LocA"][0] == pytest.approx(0.6)
