"""Constant-velocity Kalman filters for box tracking, batched over tracks.

Two parametrisations, each exactly as its paper's reference code sets it up:

* :class:`SortKalmanFilter`: state ``[cx, cy, s, r, vx, vy, vs]`` (``s`` area, ``r`` aspect ratio held
  constant), measurement ``[cx, cy, s, r]``; Bewley et al., "Simple Online and Realtime Tracking", ICIP 2016,
  with abewley/sort's matrices: ``R = diag(1, 1, 10, 10)``, ``P0 = diag(10, 10, 10, 10, 1e4, 1e4, 1e4)``,
  ``Q = diag(1, 1, 1, 1, 1e-2, 1e-2, 1e-4)``, and filterpy's Joseph-form update.
* :class:`DeepSortKalmanFilter`: state ``[cx, cy, a, h, vx, vy, va, vh]``, measurement ``[cx, cy, a, h]``;
  Wojke et al., "Simple Online and Realtime Tracking with a Deep Association Metric", ICIP 2017, with
  nwojke/deep_sort's noise proportional to the box height (position weight 1/20, velocity weight 1/160)
  and :meth:`~DeepSortKalmanFilter.gating_distance`, the squared Mahalanobis distance compared with the
  chi-square 0.95 quantile (:data:`CHI2_95`, 9.4877 for 4 degrees of freedom).

Shapes: ``mean (N, D)``, ``covariance (N, D, D)``, measurements ``(N, 4)``; every method works on all
``N`` tracks in one array operation.
"""

from __future__ import annotations

import numpy as np

__all__ = ["CHI2_95", "DeepSortKalmanFilter", "SortCompactKalman", "SortKalmanFilter"]

#: 0.95 quantile of the chi-square distribution by degrees of freedom (nwojke/deep_sort's ``chi2inv95``).
CHI2_95 = {1: 3.8415, 2: 5.9915, 3: 7.8147, 4: 9.4877, 5: 11.070, 6: 12.592, 7: 14.067, 8: 15.507, 9: 16.919}


def _check_batch(mean: np.ndarray, covariance: np.ndarray, dim: int) -> tuple[np.ndarray, np.ndarray]:
    mean = np.asarray(mean, dtype=np.float64)
    covariance = np.asarray(covariance, dtype=np.float64)
    if mean.ndim != 2 or mean.shape[1] != dim:
        raise ValueError(f"mean must have shape (N, {dim}), got {mean.shape}")
    if covariance.shape != (mean.shape[0], dim, dim):
        raise ValueError(f"covariance must have shape ({mean.shape[0]}, {dim}, {dim}), got {covariance.shape}")
    return mean, covariance


def _check_measurements(measurements: np.ndarray, count: int | None = None) -> np.ndarray:
    measurements = np.asarray(measurements, dtype=np.float64)
    if measurements.ndim != 2 or measurements.shape[1] != 4:
        raise ValueError(f"measurements must have shape (N, 4), got {measurements.shape}")
    if count is not None and measurements.shape[0] != count:
        raise ValueError(f"{measurements.shape[0]} measurements for {count} tracks")
    return measurements


def _transpose(matrices: np.ndarray) -> np.ndarray:
    return np.swapaxes(matrices, -1, -2)


class SortKalmanFilter:
    """SORT's 7-d filter (Bewley et al. 2016; abewley/sort's ``KalmanBoxTracker`` matrices)."""

    dim_x = 7
    dim_z = 4

    def __init__(self) -> None:
        self.motion = np.eye(7)
        self.motion[0, 4] = self.motion[1, 5] = self.motion[2, 6] = 1.0
        self.observation = np.eye(4, 7)
        self.measurement_noise = np.diag([1.0, 1.0, 10.0, 10.0])
        self.process_noise = np.diag([1.0, 1.0, 1.0, 1.0, 1e-2, 1e-2, 1e-4])
        self.initial_covariance = np.diag([10.0, 10.0, 10.0, 10.0, 1e4, 1e4, 1e4])

    def initiate(self, measurements: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """New tracks at ``measurements (N, 4)`` ``[cx, cy, s, r]`` with zero velocity."""
        measurements = _check_measurements(measurements)
        mean = np.zeros((len(measurements), 7))
        mean[:, :4] = measurements
        covariance = np.broadcast_to(self.initial_covariance, (len(measurements), 7, 7)).copy()
        return mean, covariance

    def predict(self, mean: np.ndarray, covariance: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One time step: ``x = F x``, ``P = F P F^T + Q``."""
        mean, covariance = _check_batch(mean, covariance, 7)
        mean = mean @ self.motion.T
        covariance = self.motion @ covariance @ self.motion.T + self.process_noise
        return mean, covariance

    def update(
        self, mean: np.ndarray, covariance: np.ndarray, measurements: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Correct with ``measurements (N, 4)``; Joseph-form covariance as filterpy computes it."""
        mean, covariance = _check_batch(mean, covariance, 7)
        measurements = _check_measurements(measurements, len(mean))
        observation, noise = self.observation, self.measurement_noise
        innovation = measurements - mean @ observation.T
        p_ht = covariance @ observation.T
        system = observation @ p_ht + noise
        gain = p_ht @ np.linalg.inv(system)
        mean = mean + np.einsum("nij,nj->ni", gain, innovation)
        i_kh = np.eye(7) - gain @ observation
        covariance = i_kh @ covariance @ _transpose(i_kh) + gain @ noise @ _transpose(gain)
        return mean, covariance


class SortCompactKalman:
    """SORT's filter on a compact state: the same numbers as :class:`SortKalmanFilter`, 24 floats per track.

    With SORT's diagonal ``P0``, ``Q`` and ``R`` and ``H = [I 0]``, the 7x7 covariance stays block diagonal
    for ever: one 2x2 block per (position, velocity) pair ``(cx, vx)``, ``(cy, vy)``, ``(s, vs)`` and a scalar
    for ``r``; the innovation covariance ``S`` is diagonal, so ``S^-1`` is ``1 / S_ii``. A row of ``state (N, 24)``
    holds ``[x (4) | v (4) | P_pp (4) | P_pv (4) | P_vp (4) | P_vv (4)]`` (``r`` has a velocity slot fixed at
    0). Each formula below is filterpy's matrix product written out with the zero terms dropped, in filterpy's
    order of operations, so the result equals filterpy's to the last bit or two (the tests check 1e-12) while
    a frame costs a few element-wise operations on ``(N, 4)`` slices instead of stacked 7x7 products.
    ``P_pv`` and ``P_vp`` are kept apart because filterpy's Joseph form leaves the covariance a hair
    asymmetric.
    """

    def __init__(self, kf: SortKalmanFilter | None = None) -> None:
        kf = kf or SortKalmanFilter()
        q, p0 = np.diag(kf.process_noise), np.diag(kf.initial_covariance)
        self.r = np.diag(kf.measurement_noise).copy()
        self.q_position = q[:4].copy()
        self.q_velocity = np.append(q[4:], 0.0)
        self.initial = np.concatenate([np.zeros(8), p0[:4], np.zeros(8), np.append(p0[4:], 0.0)])

    def initiate(self, measurements: np.ndarray) -> np.ndarray:
        """``(N, 24)`` states at ``measurements (N, 4)`` ``[cx, cy, s, r]`` with zero velocity."""
        state = np.tile(self.initial, (len(measurements), 1))
        state[:, :4] = measurements
        return state

    def predict(self, state: np.ndarray) -> None:
        """``x = F x``, ``P = F P F^T + Q`` on ``state (N, 24)`` in place."""
        state[:, :4] += state[:, 4:8]
        count = len(state)
        crossed = (state[:, 12:20].reshape(count, 2, 4) + state[:, np.newaxis, 20:24]).reshape(count, 8)  # P_pv, P_vp + P_vv
        # P_pp' = (P_pp + P_vp) + (P_pv + P_vv) + q: F P F^T's order of additions.
        pp = state[:, 8:12] + state[:, 16:20]
        pp += crossed[:, :4]
        pp += self.q_position
        state[:, 8:12] = pp
        state[:, 12:20] = crossed
        state[:, 20:24] += self.q_velocity

    def update(self, state: np.ndarray, measurements: np.ndarray) -> np.ndarray:
        """Filterpy's update (``K = P H^T S^-1``, Joseph form) of ``state (K, 24)``; returns the new ``(K, 24)``.

        Per component, with ``a = P_pp`` and gains ``k_p = a / (a + r)``, ``k_v = P_vp / (a + r)``::

            x' = x + k y                                  (k = [k_p, k_v], y the innovation)
            A  = (I - K H) P:  A[p] = (1 - k_p) P[p],  A[v] = -k_v P[p] + P[v]
            P' = A (I - K H)^T + (k r) k^T

        computed on ``(K, 2, 2, 4)`` stacks so the whole update is about fifteen array operations.
        """
        count = len(state)
        covariance = state[:, 8:].reshape(count, 2, 2, 4)  # [row p/v][column p/v][component]
        top = covariance[:, 0]  # P_pp, P_pv
        inverse = 1.0 / (top[:, 0] + self.r)
        gain = covariance[:, :, 0] * inverse[:, np.newaxis]  # (K, 2, 4): k_p, k_v
        innovation = measurements - state[:, :4]
        means = state[:, :8].reshape(count, 2, 4) + gain * innovation[:, np.newaxis]
        i_kh = np.empty((count, 2, 4))  # the non-zero entries of I - K H per component: 1 - k_p, -k_v
        np.subtract(1.0, gain[:, 0], out=i_kh[:, 0])
        np.negative(gain[:, 1], out=i_kh[:, 1])
        joseph = i_kh[:, :, np.newaxis] * top[:, np.newaxis]  # A = (I - K H) P
        joseph[:, 1] += covariance[:, 1]
        product = joseph[:, :, :1] * i_kh[:, np.newaxis]  # A (I - K H)^T
        product[:, :, 1] += joseph[:, :, 1]
        noise_gain = gain * self.r
        product += noise_gain[:, :, np.newaxis] * gain[:, np.newaxis]  # + K R K^T
        return np.concatenate([means.reshape(count, 8), product.reshape(count, 16)], axis=1)

    @staticmethod
    def expand(state: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Compact ``(N, 24)`` -> :class:`SortKalmanFilter`'s ``mean (N, 7)`` and ``covariance (N, 7, 7)``."""
        n = len(state)
        mean = np.concatenate([state[:, :4], state[:, 4:7]], axis=1)
        covariance = np.zeros((n, 7, 7))
        for k in range(4):
            covariance[:, k, k] = state[:, 8 + k]
            if k < 3:
                covariance[:, k, 4 + k] = state[:, 12 + k]
                covariance[:, 4 + k, k] = state[:, 16 + k]
                covariance[:, 4 + k, 4 + k] = state[:, 20 + k]
        return mean, covariance


class DeepSortKalmanFilter:
    """DeepSORT's 8-d filter with height-proportional noise (Wojke et al. 2017; nwojke/deep_sort)."""

    dim_x = 8
    dim_z = 4

    def __init__(self, std_weight_position: float = 1.0 / 20, std_weight_velocity: float = 1.0 / 160) -> None:
        self.motion = np.eye(8)
        self.motion[np.arange(4), np.arange(4) + 4] = 1.0
        self.observation = np.eye(4, 8)
        self.std_weight_position = std_weight_position
        self.std_weight_velocity = std_weight_velocity

    def _diag_of_squares(self, std: np.ndarray) -> np.ndarray:
        # (N, D) standard deviations -> (N, D, D) diagonal covariances.
        n, d = std.shape
        out = np.zeros((n, d, d))
        out[:, np.arange(d), np.arange(d)] = np.square(std)
        return out

    def _scaled(self, height: np.ndarray, weights: list[float], constants: list[float | None]) -> np.ndarray:
        # Columns are weight * height unless a constant replaces them (the aspect ratio's fixed noise).
        columns = [
            np.full_like(height, c) if c is not None else w * height for w, c in zip(weights, constants)
        ]
        return np.stack(columns, axis=1)

    def initiate(self, measurements: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """New tracks at ``measurements (N, 4)`` ``[cx, cy, a, h]`` with zero velocity."""
        measurements = _check_measurements(measurements)
        mean = np.concatenate([measurements, np.zeros_like(measurements)], axis=1)
        wp, wv = self.std_weight_position, self.std_weight_velocity
        std = self._scaled(
            measurements[:, 3], [2 * wp, 2 * wp, 0, 2 * wp, 10 * wv, 10 * wv, 0, 10 * wv],
            [None, None, 1e-2, None, None, None, 1e-5, None],
        )
        return mean, self._diag_of_squares(std)

    def predict(self, mean: np.ndarray, covariance: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One time step; the process noise scales with each track's current height."""
        mean, covariance = _check_batch(mean, covariance, 8)
        wp, wv = self.std_weight_position, self.std_weight_velocity
        std = self._scaled(
            mean[:, 3], [wp, wp, 0, wp, wv, wv, 0, wv], [None, None, 1e-2, None, None, None, 1e-5, None]
        )
        mean = mean @ self.motion.T
        covariance = self.motion @ covariance @ self.motion.T + self._diag_of_squares(std)
        return mean, covariance

    def project(self, mean: np.ndarray, covariance: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """State distribution -> measurement space: ``(N, 4)`` mean and ``(N, 4, 4)`` innovation covariance."""
        mean, covariance = _check_batch(mean, covariance, 8)
        wp = self.std_weight_position
        std = self._scaled(mean[:, 3], [wp, wp, 0, wp], [None, None, 1e-1, None])
        projected_mean = mean @ self.observation.T
        projected_cov = self.observation @ covariance @ self.observation.T + self._diag_of_squares(std)
        return projected_mean, projected_cov

    def update(
        self, mean: np.ndarray, covariance: np.ndarray, measurements: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Correct with ``measurements (N, 4)`` ``[cx, cy, a, h]``: ``K = P H^T S^-1``, ``P' = P - K S K^T``."""
        measurements = _check_measurements(measurements, len(mean))
        projected_mean, projected_cov = self.project(mean, covariance)
        # Solve S K^T = (P H^T)^T rather than inverting S (the Cholesky solve of nwojke/deep_sort).
        gain = _transpose(np.linalg.solve(projected_cov, _transpose(covariance @ self.observation.T)))
        innovation = measurements - projected_mean
        new_mean = mean + np.einsum("nij,nj->ni", gain, innovation)
        new_covariance = covariance - gain @ projected_cov @ _transpose(gain)
        return new_mean, new_covariance

    def gating_distance(
        self, mean: np.ndarray, covariance: np.ndarray, measurements: np.ndarray, only_position: bool = False
    ) -> np.ndarray:
        """Squared Mahalanobis distance of every measurement to every track: ``(N, M)``.

        Compare with ``CHI2_95[4]`` (or ``CHI2_95[2]`` with ``only_position``, which uses the centre only).
        """
        measurements = _check_measurements(measurements)
        projected_mean, projected_cov = self.project(mean, covariance)
        if only_position:
            projected_mean, projected_cov = projected_mean[:, :2], projected_cov[:, :2, :2]
            measurements = measurements[:, :2]
        if len(projected_mean) == 0 or len(measurements) == 0:
            return np.zeros((len(projected_mean), len(measurements)))
        cholesky = np.linalg.cholesky(projected_cov)
        offsets = measurements[np.newaxis, :, :] - projected_mean[:, np.newaxis, :]
        whitened = np.linalg.solve(cholesky, _transpose(offsets))
        return np.sum(whitened * whitened, axis=1)
