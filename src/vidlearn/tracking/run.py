"""Run a tracker over a detection file: MOTChallenge ``det.txt`` in, MOTChallenge result rows out.

Detection files (:func:`read_detections`):

* MOTChallenge ``det.txt``: ``frame, -1, x, y, w, h, score, -1, -1, -1`` (6 or more columns);
* the same with appearance features appended: columns 11 onwards are one feature vector per row, the layout
  of nwojke/deep_sort's ``generate_detections.py`` (``[10 MOT columns, 128 features]``);
* that layout as a NumPy ``.npy`` array ``(N, 10 + D)``, the file deep_sort writes and ``deep_sort_app`` reads.

:func:`track_detections` feeds each frame's boxes (and features, when there are some) to a tracker's
``update`` and collects the tracks it reports as result rows (score column 1, as abewley/sort and
deep_sort_app write it). Frames without detections are still run (tracks age and coast).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .deepsort import DeepSort
from .formats import MotFormatError, MotRows, read_mot, tracks_to_rows
from .sort import Sort

__all__ = ["TRACKERS", "Detections", "create_tracker", "read_detections", "track_detections"]

#: Tracker names for :func:`create_tracker` and ``vidlearn track --tracker``.
TRACKERS = {"sort": Sort, "deepsort": DeepSort}


@dataclass
class Detections:
    """A detection file's rows and, when it carries them, ``features float64 (R, D)`` (else ``None``)."""

    rows: MotRows
    features: np.ndarray | None = None


def create_tracker(name: str, **params: Any) -> Sort | DeepSort:
    """``Sort(**params)`` or ``DeepSort(**params)`` by name; parameters are checked by the tracker."""
    try:
        cls = TRACKERS[name]
    except KeyError:
        raise ValueError(f"unknown tracker {name!r}; known: {', '.join(TRACKERS)}") from None
    return cls(**params)


def _read_text_features(path: Path, num_rows: int) -> np.ndarray | None:
    lines = [(number, line) for number, line in enumerate(path.read_text().splitlines(), start=1) if line.strip()]
    separator = "," if lines and "," in lines[0][1] else None
    widths = [len([v for v in line.split(separator) if v.strip()]) for _, line in lines]
    if not widths or max(widths) <= 10:
        return None
    expected = widths[0]
    for (number, line), width in zip(lines, widths):
        if width != expected:
            raise MotFormatError(f"{path}:{number}: {width} columns, the first line has {expected} "
                                 f"(10 MOT columns then the features): {line.strip()!r}")
    if expected <= 10:
        return None
    values = np.loadtxt([line for _, line in lines], delimiter=separator, ndmin=2, dtype=np.float64, comments=None)
    if len(values) != num_rows:  # read_mot and this parse saw different lines: cannot happen for a valid file
        raise MotFormatError(f"{path}: {len(values)} feature rows for {num_rows} detections")
    return values[:, 10:]


def _read_npy(path: Path, num_frames: int | None) -> Detections:
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as error:
        raise MotFormatError(f"{path}: cannot read: {error}") from error
    if array.ndim != 2 or array.shape[1] < 10:
        raise MotFormatError(f"{path}: expected an array (N, 10 + D) as deep_sort writes, got shape {array.shape}")
    array = array.astype(np.float64)
    checks = [
        (~np.isfinite(array).all(axis=1), "not a finite number"),
        ((array[:, 0] != np.round(array[:, 0])) | (array[:, 0] < 1), "frame numbers are integers from 1"),
        ((array[:, 4] < 0) | (array[:, 5] < 0), "negative width or height"),
    ]
    if num_frames is not None:
        checks.append((array[:, 0] > num_frames, f"frame past the sequence length {num_frames}"))
    for bad, why in checks:
        if bad.any():
            i = int(np.argmax(bad))
            raise MotFormatError(f"{path}: row {i}: {why}: {array[i, :6].tolist()}")
    count = len(array)
    rows = MotRows(array[:, 0].astype(np.int64), array[:, 1].astype(np.int64), array[:, 2:6].copy(),
                   array[:, 6].copy(), np.full(count, -1, dtype=np.int64), np.full(count, -1.0))
    return Detections(rows, array[:, 10:].copy() if array.shape[1] > 10 else None)


def read_detections(path: str | os.PathLike, num_frames: int | None = None) -> Detections:
    """Read detections (``det.txt``, ``det.txt`` with feature columns, or deep_sort's ``.npy``).

    Args:
        path: the file; ``.npy`` is read as a NumPy array, anything else as text.
        num_frames: sequence length; a detection past it is an error naming the file and line.

    Raises:
        MotFormatError: malformed input, naming the file and the line (or row of an ``.npy``).
    """
    path = Path(path)
    if path.suffix == ".npy":
        return _read_npy(path, num_frames)
    rows = read_mot(path, "det", num_frames=num_frames)
    return Detections(rows, _read_text_features(path, len(rows)) if len(rows) else None)


def track_detections(
    tracker: Sort | DeepSort, detections: Detections, num_frames: int | None = None, *,
    use_features: bool = True,
) -> MotRows:
    """Run ``tracker`` over frames ``1..num_frames`` and return its tracks as result rows.

    Args:
        tracker: a fresh :class:`~vidlearn.tracking.Sort` or :class:`~vidlearn.tracking.DeepSort`.
        detections: from :func:`read_detections`.
        num_frames: sequence length (default: the last frame with a detection).
        use_features: pass the file's features to ``update`` (DeepSORT's appearance cost); without
            features DeepSORT matches on IoU in its cascade (see :mod:`vidlearn.tracking.deepsort.tracker`).
    """
    rows = detections.rows
    if num_frames is None:
        num_frames = rows.num_frames
    if len(rows) and rows.num_frames > num_frames:
        raise ValueError(f"detections reach frame {rows.num_frames}, past the sequence length {num_frames}")
    order = np.argsort(rows.frames, kind="stable")
    ordered, offsets = rows.frame_bounds(num_frames)
    boxes = ordered.boxes_xyxy
    features = detections.features[order] if use_features and detections.features is not None else None
    frames = [np.zeros(0, dtype=np.int64)]
    ids = [np.zeros(0, dtype=np.int64)]
    out_boxes = [np.zeros((0, 4))]
    for frame in range(1, num_frames + 1):
        start, stop = offsets[frame - 1], offsets[frame]
        tracks = tracker.update(boxes[start:stop], ordered.scores[start:stop],
                                None if features is None else features[start:stop], frame=frame)
        frames.append(np.full(len(tracks.ids), frame, dtype=np.int64))
        ids.append(tracks.ids)
        out_boxes.append(tracks.boxes.reshape(-1, 4))
    return tracks_to_rows(np.concatenate(frames), np.concatenate(ids), np.concatenate(out_boxes))
