"""The batched filters against the reference code: filterpy (SORT's filter) and nwojke/deep_sort's
``kalman_filter.py`` (packaged on PyPI as ``deepsort``), both test-only dependencies."""

import numpy as np
import pytest

from vidlearn.tracking.kalman import CHI2_95, DeepSortKalmanFilter, SortKalmanFilter


def _measurements(rng, n, kind):
    cx, cy = rng.uniform(50, 500, n), rng.uniform(50, 400, n)
    w, h = rng.uniform(10, 60, n), rng.uniform(30, 150, n)
    return np.stack([cx, cy, w * h, w / h] if kind == "sr" else [cx, cy, w / h, h], axis=1)


def test_sort_filter_matrices_are_abewley_sorts():
    kf = SortKalmanFilter()
    np.testing.assert_array_equal(np.diag(kf.measurement_noise), [1, 1, 10, 10])
    np.testing.assert_array_equal(np.diag(kf.initial_covariance), [10, 10, 10, 10, 1e4, 1e4, 1e4])
    np.testing.assert_array_equal(np.diag(kf.process_noise), [1, 1, 1, 1, 1e-2, 1e-2, 1e-4])


def test_sort_filter_equals_filterpy_per_track():
    filterpy = pytest.importorskip("filterpy.kalman", reason="filterpy (reference Kalman filter) is not installed")
    rng = np.random.default_rng(1)
    n = 6
    z0 = _measurements(rng, n, "sr")
    ours = SortKalmanFilter()
    mean, cov = ours.initiate(z0)
    refs = []
    for i in range(n):
        kf = filterpy.KalmanFilter(dim_x=7, dim_z=4)
        kf.F, kf.H = ours.motion.copy(), ours.observation.copy()
        kf.R[2:, 2:] *= 10.0
        kf.P[4:, 4:] *= 1000.0
        kf.P *= 10.0
        kf.Q[-1, -1] *= 0.01
        kf.Q[4:, 4:] *= 0.01
        kf.x[:4] = z0[i][:, None]
        refs.append(kf)
    for step in range(5):
        mean, cov = ours.predict(mean, cov)
        z = z0 + rng.normal(scale=[2, 2, 50, 0.01], size=(n, 4)) * (step + 1)
        mean, cov = ours.update(mean, cov, z)
        for i, kf in enumerate(refs):
            kf.predict()
            kf.update(z[i][:, None])
            np.testing.assert_allclose(mean[i], kf.x[:, 0], rtol=1e-12, atol=1e-9)
            np.testing.assert_allclose(cov[i], kf.P, rtol=1e-12, atol=1e-9)


def test_deepsort_filter_equals_nwojke_per_track():
    reference = pytest.importorskip("deepsort.kalman_filter", reason="deepsort (nwojke/deep_sort code) not installed")
    rng = np.random.default_rng(2)
    n = 5
    z0 = _measurements(rng, n, "ah")
    ours, ref = DeepSortKalmanFilter(), reference.KalmanFilter()
    mean, cov = ours.initiate(z0)
    states = [ref.initiate(z) for z in z0]
    for i in range(n):
        np.testing.assert_allclose(cov[i], states[i][1], rtol=1e-12)
    probes = _measurements(rng, 7, "ah")
    for step in range(4):
        mean, cov = ours.predict(mean, cov)
        states = [ref.predict(m, c) for m, c in states]
        gating = ours.gating_distance(mean, cov, probes)
        gating_pos = ours.gating_distance(mean, cov, probes, only_position=True)
        for i, (m, c) in enumerate(states):
            np.testing.assert_allclose(mean[i], m, rtol=1e-12)
            np.testing.assert_allclose(cov[i], c, rtol=1e-10)
            np.testing.assert_allclose(gating[i], ref.gating_distance(m, c, probes), rtol=1e-9)
            np.testing.assert_allclose(gating_pos[i], ref.gating_distance(m, c, probes, True), rtol=1e-9)
        z = z0 + rng.normal(scale=[2, 2, 0.01, 2], size=(n, 4)) * (step + 1)
        mean, cov = ours.update(mean, cov, z)
        states = [ref.update(m, c, z[i]) for i, (m, c) in enumerate(states)]
        for i, (m, c) in enumerate(states):
            np.testing.assert_allclose(mean[i], m, rtol=1e-10)
            np.testing.assert_allclose(cov[i], c, rtol=1e-8, atol=1e-12)


def test_deepsort_noise_follows_the_paper_weights():
    kf = DeepSortKalmanFilter()
    _, cov = kf.initiate(np.array([[100.0, 100.0, 0.5, 80.0]]))
    # std = 2 * h / 20 for positions, 10 * h / 160 for velocities, 1e-2 / 1e-5 for the aspect ratio.
    np.testing.assert_allclose(np.diag(cov[0]), np.square([8, 8, 1e-2, 8, 5, 5, 1e-5, 5]))


def test_gating_threshold_is_chi_square_95():
    assert CHI2_95[4] == 9.4877 and CHI2_95[2] == 5.9915
    kf = DeepSortKalmanFilter()
    mean, cov = kf.initiate(np.array([[100.0, 100.0, 0.5, 100.0]]))
    _, projected = kf.project(mean, cov)
    sigma_x = np.sqrt(projected[0, 0, 0])
    # A pure x offset of k standard deviations has squared distance k^2.
    probes = np.array([[100.0 + 3 * sigma_x, 100.0, 0.5, 100.0], [100.0 + 3.1 * sigma_x, 100.0, 0.5, 100.0]])
    distance = kf.gating_distance(mean, cov, probes)
    np.testing.assert_allclose(distance[0], [9.0, 9.61], rtol=1e-9)
    assert (distance[0] > CHI2_95[4]).tolist() == [False, True]


def test_shape_errors():
    kf = SortKalmanFilter()
    with pytest.raises(ValueError, match=r"measurements must have shape \(N, 4\)"):
        kf.initiate(np.zeros((2, 3)))
    mean, cov = kf.initiate(np.ones((2, 4)))
    with pytest.raises(ValueError, match="1 measurements for 2 tracks"):
        kf.update(mean, cov, np.ones((1, 4)))


def test_compact_sort_filter_equals_filterpy_bit_for_bit():
    """SORT's compact state (2x2 blocks per component) gives filterpy's numbers exactly, through predicts,
    updates and missed frames."""
    filterpy = pytest.importorskip("filterpy.kalman", reason="filterpy (reference Kalman filter) is not installed")
    from vidlearn.tracking.kalman import SortCompactKalman

    rng = np.random.default_rng(3)
    n = 6
    z0 = _measurements(rng, n, "sr")
    full, compact = SortKalmanFilter(), SortCompactKalman()
    state = compact.initiate(z0)
    refs = []
    for i in range(n):
        kf = filterpy.KalmanFilter(dim_x=7, dim_z=4)
        kf.F, kf.H = full.motion.copy(), full.observation.copy()
        kf.R, kf.P, kf.Q = full.measurement_noise.copy(), full.initial_covariance.copy(), full.process_noise.copy()
        kf.x[:4] = z0[i][:, None]
        refs.append(kf)
    for step in range(25):
        compact.predict(state)
        z = z0 + rng.normal(scale=[2, 2, 50, 0.01], size=(n, 4)) * (step + 1)
        seen = rng.random(n) < 0.7
        state[seen] = compact.update(state[seen], z[seen])
        mean, covariance = compact.expand(state)
        for i, kf in enumerate(refs):
            kf.predict()
            if seen[i]:
                kf.update(z[i][:, None])
            np.testing.assert_array_equal(mean[i], kf.x[:, 0])
            np.testing.assert_array_equal(covariance[i], kf.P)
