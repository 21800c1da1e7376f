import numpy as np
import pytest

from vidlearn.tracking.deepsort.nn_matching import NearestNeighborDistanceMetric


def test_cosine_distance_is_nearest_neighbour_over_the_gallery():
    metric = NearestNeighborDistanceMetric("cosine", 0.2, budget=None)
    metric.partial_fit(np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]]), np.array([7, 7, 9]), np.array([7, 9]))
    cost = metric.distance(np.array([[0.0, 1.0], [3.0, 0.0]]), np.array([9, 7, 4]))
    expected_9 = 1 - 1 / np.sqrt(2)
    np.testing.assert_allclose(cost[:2], [[expected_9, expected_9], [0.0, 0.0]], atol=1e-12)
    assert np.isinf(cost[2]).all()  # no gallery for target 4


def test_gallery_budget_keeps_the_newest_features():
    metric = NearestNeighborDistanceMetric("cosine", 0.2, budget=2)
    for step in range(4):
        feature = np.zeros((1, 4))
        feature[0, step] = 1.0
        metric.partial_fit(np.concatenate([feature, feature]), np.array([1, 2]), np.array([1, 2]))
    assert metric.gallery_size(1) == 2 and metric.gallery_size(2) == 2
    cost = metric.distance(np.eye(4), np.array([1]))
    # Features 0 and 1 were dropped (oldest first); 2 and 3 remain.
    np.testing.assert_allclose(cost[0], [1.0, 1.0, 0.0, 0.0], atol=1e-12)
    metric.partial_fit(None, np.zeros(0), np.array([2]))  # target 1 is no longer active
    assert metric.gallery_size(1) == 0 and metric.gallery_size(2) == 2


def test_euclidean_and_bad_parameters():
    metric = NearestNeighborDistanceMetric("euclidean", 1.0)
    metric.partial_fit(np.array([[0.0, 0.0], [3.0, 4.0]]), np.array([1, 1]), np.array([1]))
    np.testing.assert_allclose(metric.distance(np.array([[3.0, 5.0]]), np.array([1])), [[1.0]])
    with pytest.raises(ValueError, match="metric must be"):
        NearestNeighborDistanceMetric("manhattan", 0.2)
    with pytest.raises(ValueError, match="budget must be a positive integer"):
        NearestNeighborDistanceMetric("cosine", 0.2, budget=0)
