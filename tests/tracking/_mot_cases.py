"""Hand-made and perturbed MOTChallenge rows for the metric tests."""

from __future__ import annotations

import numpy as np

from vidlearn.tracking.formats import MotRows


def rows(table: list[tuple], kind: str = "result") -> MotRows:
    """``(frame, id, x, y, w, h[, consider, class, visibility])`` tuples -> :class:`MotRows`."""
    array = np.array(table, dtype=np.float64).reshape(-1, len(table[0]) if table else 9)
    count = len(array)
    column = lambda j, fill: array[:, j] if array.shape[1] > j else np.full(count, fill)  # noqa: E731
    return MotRows(array[:, 0].astype(np.int64), array[:, 1].astype(np.int64), array[:, 2:6].copy(),
                   column(6, 1.0), column(7, 1.0 if kind == "gt" else -1.0).astype(np.int64), column(8, -1.0))


def perturb(gt: MotRows, seed: int, drop: float = 0.1, jitter: float = 0.08, fp_rate: float = 0.05) -> MotRows:
    """A tracker output made from ground truth: dropped rows, jittered boxes, id switches, false positives."""
    rng = np.random.default_rng(seed)
    kept = gt.select(rng.random(len(gt)) >= drop)
    boxes = kept.boxes.copy()
    size = boxes[:, 2:4].copy()
    boxes[:, :2] += rng.normal(scale=jitter, size=size.shape) * size
    boxes[:, 2:4] = size * np.exp(rng.normal(scale=jitter, size=size.shape))
    middle = (kept.frames.min() + kept.frames.max()) // 2 if len(kept) else 0
    # Every fifth object changes id halfway (identity switches); another set swaps to a shared new id later.
    ids = np.where((kept.ids % 5 == 0) & (kept.frames > middle), kept.ids + 10000, kept.ids)
    num_fp = int(fp_rate * len(kept))
    fp_frames = rng.integers(1, max(2, kept.frames.max() if len(kept) else 2), size=num_fp)
    fp_boxes = np.concatenate([rng.uniform(0, 1500, size=(num_fp, 2)), rng.uniform(20, 150, size=(num_fp, 2))], 1)
    count = len(kept) + num_fp
    return MotRows(
        np.concatenate([kept.frames, fp_frames]), np.concatenate([ids, 20000 + np.arange(num_fp)]),
        np.concatenate([boxes, fp_boxes]), rng.uniform(0.3, 1.0, size=count), np.full(count, -1, dtype=np.int64),
        np.full(count, -1.0),
    )
