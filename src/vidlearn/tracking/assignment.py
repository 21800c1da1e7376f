"""Linear assignment with a cost threshold (the Hungarian step of every tracker and metric).

``scipy.optimize.linear_sum_assignment`` solves the rectangular problem exactly; the ``lap`` package
(Jonker-Volgenant, ``lap.lapjv``) is used instead when asked for and installed. Both return a minimum-cost
assignment; when the optimum is unique they return the same pairs. Pairs whose cost exceeds the threshold
are dropped afterwards, as SORT and DeepSORT do (the assignment itself is not changed by the threshold).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy.optimize import linear_sum_assignment

__all__ = ["Assignment", "lap_available", "linear_assignment"]


class Assignment(NamedTuple):
    """Result of :func:`linear_assignment`.

    ``matches`` is ``int64 (K, 2)`` (row, column) sorted by row; ``unmatched_rows`` and
    ``unmatched_cols`` are ``int64`` sorted index arrays.
    """

    matches: np.ndarray
    unmatched_rows: np.ndarray
    unmatched_cols: np.ndarray


def lap_available() -> bool:
    """Whether the optional ``lap`` package imports."""
    try:
        import lap  # noqa: F401
    except ImportError:
        return False
    return True


def _solve(cost: np.ndarray, backend: str) -> tuple[np.ndarray, np.ndarray]:
    if backend == "scipy":
        rows, cols = linear_sum_assignment(cost)
        return rows.astype(np.int64), cols.astype(np.int64)
    import lap

    _, row_to_col, _ = lap.lapjv(cost, extend_cost=True)
    rows = np.flatnonzero(row_to_col >= 0)
    return rows.astype(np.int64), row_to_col[rows].astype(np.int64)


def linear_assignment(
    cost: np.ndarray, max_cost: float = np.inf, *, backend: str = "scipy"
) -> Assignment:
    """Minimum-cost assignment of rows to columns, then drop pairs with ``cost > max_cost``.

    Args:
        cost: ``(N, M)`` finite cost matrix (use a large finite number, not ``inf``, for forbidden pairs).
        max_cost: pairs costing more than this are returned as unmatched.
        backend: ``"scipy"`` (default) or ``"lap"`` (needs the ``lap`` package).

    Returns:
        :class:`Assignment` with the kept pairs and the unmatched rows and columns.
    """
    if backend not in ("scipy", "lap"):
        raise ValueError(f"backend must be 'scipy' or 'lap', got {backend!r}")
    if backend == "lap" and not lap_available():
        raise ImportError("backend='lap' needs the lap package (pip install lap); 'scipy' needs nothing")
    cost = np.asarray(cost, dtype=np.float64)
    if cost.ndim != 2:
        raise ValueError(f"cost must be a 2-D matrix, got shape {cost.shape}")
    num_rows, num_cols = cost.shape
    if num_rows == 0 or num_cols == 0:
        return Assignment(
            np.zeros((0, 2), dtype=np.int64), np.arange(num_rows, dtype=np.int64), np.arange(num_cols, dtype=np.int64)
        )
    if np.isnan(cost).any():
        row, col = np.argwhere(np.isnan(cost))[0]
        raise ValueError(f"cost matrix has NaN at ({row}, {col})")
    rows, cols = _solve(cost, backend)
    order = np.argsort(rows, kind="stable")
    rows, cols = rows[order], cols[order]
    keep = cost[rows, cols] <= max_cost
    rows, cols = rows[keep], cols[keep]
    row_matched = np.zeros(num_rows, dtype=bool)
    row_matched[rows] = True
    col_matched = np.zeros(num_cols, dtype=bool)
    col_matched[cols] = True
    return Assignment(
        np.stack([rows, cols], axis=1), np.flatnonzero(~row_matched), np.flatnonzero(~col_matched)
    )
