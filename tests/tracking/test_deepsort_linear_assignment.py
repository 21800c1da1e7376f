import numpy as np

from vidlearn.tracking.deepsort.linear_assignment import (
    INFTY_COST,
    gate_cost_matrix,
    iou_cost,
    matching_cascade,
    min_cost_matching,
)
from vidlearn.tracking.kalman import DeepSortKalmanFilter


def test_min_cost_matching_rejects_pairs_above_max_distance():
    cost = np.array([[0.1, 0.5], [0.6, 0.9]])
    matches, tracks, dets = min_cost_matching(lambda t, d: cost[np.ix_(t - 4, d)], 0.3, np.array([4, 5]), np.array([0, 1]))
    assert matches.tolist() == [[4, 0]]
    assert tracks.tolist() == [5] and dets.tolist() == [1]


def test_cascade_prefers_recently_updated_tracks():
    # Track rows 0 and 1 both want detection 0 equally; row 1 was seen 1 frame ago, row 0 three frames ago.
    cost = np.array([[0.05], [0.05]])
    time_since_update = np.array([3, 1])
    matches, unmatched_tracks, unmatched_dets = matching_cascade(
        lambda t, d: cost[np.ix_(t, d)], 0.2, 30, time_since_update, np.array([0, 1]), np.array([0])
    )
    assert matches.tolist() == [[1, 0]]
    assert unmatched_tracks.tolist() == [0] and unmatched_dets.tolist() == []
    # Even when the older track is a better fit, the recent one takes the detection first.
    cost = np.array([[0.01], [0.15]])
    matches, _, _ = matching_cascade(
        lambda t, d: cost[np.ix_(t, d)], 0.2, 30, time_since_update, np.array([0, 1]), np.array([0])
    )
    assert matches.tolist() == [[1, 0]]


def test_gating_and_iou_cost():
    kf = DeepSortKalmanFilter()
    mean, cov = kf.initiate(np.array([[100.0, 100.0, 0.5, 100.0]]))
    probes = np.array([[101.0, 100.0, 0.5, 100.0], [300.0, 100.0, 0.5, 100.0]])
    gated = gate_cost_matrix(kf, np.zeros((1, 2)), mean, cov, probes)
    assert gated.tolist() == [[0.0, INFTY_COST]]
    boxes = np.array([[75.0, 50.0, 125.0, 150.0], [75.0, 100.0, 125.0, 200.0]])
    cost = iou_cost(np.concatenate([mean, mean]), np.array([1, 2]), boxes)
    np.testing.assert_allclose(cost[0], [0.0, 1 - 1 / 3])
    assert cost[1].tolist() == [INFTY_COST, INFTY_COST]
