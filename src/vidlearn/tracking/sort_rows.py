"""SORT's frame on Python floats, for frames with a handful of boxes (:class:`~vidlearn.tracking.sort.Sort`).

With a few boxes a SORT frame costs NumPy's per-call overhead (about a hundred small calls), not arithmetic.
For frames with at most ``Sort.scalar_pairs`` detection x track pairs, ``Sort`` runs the frame with these
functions on lists: every formula is the array path's (:class:`~vidlearn.tracking.kalman.SortCompactKalman`,
:func:`~vidlearn.tracking.boxes.iou_matrix`, :func:`~vidlearn.tracking.sort.associate`), operation for
operation and in the same order, so the IEEE results are the same to the last bit, including NumPy's inf and
NaN where Python would raise (``tests/tracking/test_sort.py`` runs both paths on random scenes). A state row
is the compact Kalman state's 24 numbers ``[x (4) | v (4) | P_pp (4) | P_pv (4) | P_vp (4) | P_vv (4)]``.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.optimize import linear_sum_assignment

from .boxes import iou_matrix

__all__ = ["associate_rows", "box_of", "fdiv", "iou_rows", "predict_row", "update_component", "update_row", "z_of"]

_EPS = float(np.finfo(np.float64).eps)


def fdiv(numerator: float, denominator: float) -> float:
    """``numerator / denominator`` with NumPy's result (inf or NaN) where Python raises on a zero divisor."""
    try:
        return numerator / denominator
    except ZeroDivisionError:
        if numerator != numerator or numerator == 0.0:
            return math.nan
        return math.copysign(math.inf, numerator) * math.copysign(1.0, denominator)


def z_of(box: list[float]) -> list[float]:
    """``[cx, cy, area, aspect]`` of one xyxy box (``Sort``'s measurement, abewley/sort's ``convert_bbox_to_z``)."""
    width, height = box[2] - box[0], box[3] - box[1]
    return [box[0] + width / 2.0, box[1] + height / 2.0, width * height, fdiv(width, height)]


def box_of(row: list[float]) -> list[float]:
    """The xyxy box of one state row (abewley/sort's ``convert_x_to_bbox``; NaN where the area is negative)."""
    product = row[2] * row[3]
    width = math.sqrt(product) if product >= 0.0 else math.nan
    half_w, half_h = width / 2.0, fdiv(row[2], width) / 2.0
    return [row[0] - half_w, row[1] - half_h, row[0] + half_w, row[1] + half_h]


def predict_row(row: list[float], q_position: list[float], q_velocity: list[float]) -> list[float]:
    """:meth:`SortCompactKalman.predict` (after SORT's area-velocity rule) of one ``state`` row."""
    x, v, pp, pv, vp, vv = row[0:4], row[4:8], row[8:12], row[12:16], row[16:20], row[20:24]
    if not v[2] + x[2] > 0:
        v[2] = v[2] * 0.0
    crossed_pv = [a + b for a, b in zip(pv, vv)]
    return ([a + b for a, b in zip(x, v)] + v
            + [a + b + c + q for a, b, c, q in zip(pp, vp, crossed_pv, q_position)]
            + crossed_pv + [a + b for a, b in zip(vp, vv)] + [a + q for a, q in zip(vv, q_velocity)])


def update_component(
    x: float, v: float, a: float, pv: float, vp: float, vv: float, r: float, z: float
) -> tuple[float, float, float, float, float, float]:
    """One component's ``(x, v, P_pp, P_pv, P_vp, P_vv)`` after :meth:`SortCompactKalman.update`."""
    inverse = 1.0 / (a + r)
    kp, kv = a * inverse, vp * inverse
    y = z - x
    i0, i1 = 1.0 - kp, -kv
    j00, j10 = i0 * a, i1 * a + vp
    kpr, kvr = kp * r, kv * r
    return (x + kp * y, v + kv * y, j00 * i0 + kpr * kp, j00 * i1 + i0 * pv + kpr * kv, j10 * i0 + kvr * kp,
            j10 * i1 + (i1 * pv + vv) + kvr * kv)


def update_row(row: list[float], z: list[float], r: list[float]) -> list[float]:
    """:meth:`SortCompactKalman.update` of one ``state`` row with measurement ``z``."""
    x, v, pp, pv, vp, vv = zip(*map(update_component, row[0:4], row[4:8], row[8:12], row[12:16], row[16:20],
                                    row[20:24], r, z))
    return [*x, *v, *pp, *pv, *vp, *vv]


def iou_rows(detections: list[list[float]], predicted: list[list[float]]) -> list[list[float]]:
    """:func:`~vidlearn.tracking.boxes.iou_matrix` for boxes of positive area (no degenerate fix-up)."""
    areas = [(b[2] - b[0]) * (b[3] - b[1]) for b in predicted]
    out = []
    for ax1, ay1, ax2, ay2 in detections:
        area_a = (ax2 - ax1) * (ay2 - ay1)
        row = []
        for (bx1, by1, bx2, by2), area_b in zip(predicted, areas):
            width = (ax2 if ax2 < bx2 else bx2) - (ax1 if ax1 > bx1 else bx1)
            height = (ay2 if ay2 < by2 else by2) - (ay1 if ay1 > by1 else by1)
            if width <= 0.0 or height <= 0.0:
                row.append(0.0)
            else:
                intersection = width * height
                row.append(intersection / (area_a + area_b - intersection))
        out.append(row)
    return out


def associate_rows(
    detections: list[list[float]], predicted: list[list[float]], iou_threshold: float
) -> tuple[list[tuple[int, int]], list[int]]:
    """:func:`~vidlearn.tracking.sort.associate` on lists: matched ``(det, track)`` pairs and the new-track order."""
    num_det, num_trk = len(detections), len(predicted)
    if num_det == 0 or num_trk == 0:
        return [], list(range(num_det))
    if any((b[2] - b[0]) * (b[3] - b[1]) <= _EPS for b in detections) or any(
            not (b[2] - b[0]) * (b[3] - b[1]) > _EPS or not math.isfinite(b[0] + b[1] + b[2] + b[3]) for b in predicted):
        # Degenerate or infinite boxes: the array function's fix-up rules.
        iou = iou_matrix(np.array(detections), np.array(predicted)).tolist()
    else:
        iou = iou_rows(detections, predicted)
    above = [[j for j, v in enumerate(row) if v > iou_threshold] for row in iou]
    per_row = [len(a) for a in above]
    columns = [j for a in above for j in a]
    if max(per_row) == 1 and len(set(columns)) == len(columns):
        pairs = [(i, a[0]) for i, a in enumerate(above) if a]
        matched = {i for i, _ in pairs}
        return pairs, [i for i in range(num_det) if i not in matched]
    rows, cols = linear_sum_assignment(-np.array(iou))
    rows, cols = rows.tolist(), cols.tolist()
    assigned = set(rows)
    never = [i for i in range(num_det) if i not in assigned]
    pairs = [(i, j) for i, j in zip(rows, cols) if not iou[i][j] < iou_threshold]
    return pairs, never + [i for i, j in zip(rows, cols) if iou[i][j] < iou_threshold]
