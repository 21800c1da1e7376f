"""Stanford Drone Dataset annotations (Robicquet et al., "Learning Social Etiquette", ECCV 2016).

One ``annotations.txt`` per video, space-separated, one box per line::

    track_id xmin ymin xmax ymax frame lost occluded generated "label"

Frames are numbered from 0; boxes are pixel corners (the library's ``x1, y1, x2, y2``); ``lost`` marks a box
outside the view (its coordinates are stale), ``occluded`` an occluded object, ``generated`` a box
interpolated by the annotation tool; labels are ``Pedestrian``, ``Biker``, ``Skater``, ``Cart``, ``Car`` and
``Bus``. :func:`read_sdd` reads a file; :meth:`SddAnnotations.to_mot_rows` gives MOTChallenge rows (frames
from 1, ids from 1, lost boxes dropped, class numbers from :data:`SDD_CLASSES`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .boxes import xyxy_to_mot
from .formats import MotFormatError, MotRows

__all__ = ["SDD_CLASSES", "SddAnnotations", "read_sdd"]

#: Class numbers used for SDD labels in MOT rows (1-based, in the dataset's usual order).
SDD_CLASSES = {"Pedestrian": 1, "Biker": 2, "Skater": 3, "Cart": 4, "Car": 5, "Bus": 6}


@dataclass
class SddAnnotations:
    """One video's annotations as columns (``R`` rows, file order).

    ``track_ids int64 (R,)``, ``boxes float64 (R, 4)`` xyxy, ``frames int64 (R,)`` (0-based), ``lost``,
    ``occluded``, ``generated`` ``bool (R,)``, ``labels`` ``str (R,)``.
    """

    track_ids: np.ndarray
    boxes: np.ndarray
    frames: np.ndarray
    lost: np.ndarray
    occluded: np.ndarray
    generated: np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.frames)

    def to_mot_rows(self, keep_lost: bool = False, labels: tuple[str, ...] | None = None) -> MotRows:
        """MOTChallenge rows: frame + 1, id + 1, 1-based ``x, y, w, h``; class from :data:`SDD_CLASSES`;
        visibility 0 for occluded boxes, 1 otherwise. Lost boxes are dropped unless ``keep_lost``; ``labels``
        keeps only those classes."""
        keep = np.ones(len(self), dtype=bool) if keep_lost else ~self.lost
        if labels is not None:
            keep &= np.isin(self.labels, list(labels))
        classes = np.array([SDD_CLASSES.get(label, -1) for label in self.labels[keep]], dtype=np.int64)
        count = int(keep.sum())
        return MotRows(
            frames=self.frames[keep] + 1, ids=self.track_ids[keep] + 1, boxes=xyxy_to_mot(self.boxes[keep]),
            scores=np.ones(count), classes=classes, visibility=np.where(self.occluded[keep], 0.0, 1.0),
        )


def read_sdd(path: str | os.PathLike) -> SddAnnotations:
    """Read one SDD ``annotations.txt``; a malformed line raises :class:`MotFormatError` naming file and line."""
    path = Path(path)
    try:
        lines = path.read_text().splitlines()
    except OSError as error:
        raise MotFormatError(f"{path}: cannot read: {error}") from error
    numbers = [i + 1 for i, line in enumerate(lines) if line.strip()]
    rows = [lines[n - 1].split() for n in numbers]
    for row, number in zip(rows, numbers):
        if len(row) != 10:
            raise MotFormatError(f"{path}:{number}: {len(row)} fields, expected 10 "
                                 f"(track_id xmin ymin xmax ymax frame lost occluded generated label): "
                                 f"{lines[number - 1].strip()!r}")
    try:
        values = np.array([row[:9] for row in rows], dtype=np.float64).reshape(-1, 9)
    except ValueError:
        for row, number in zip(rows, numbers):
            try:
                [float(v) for v in row[:9]]
            except ValueError:
                raise MotFormatError(f"{path}:{number}: not a number: {lines[number - 1].strip()!r}") from None
        raise
    flags = values[:, 6:9]
    bad = ((flags != 0) & (flags != 1)).any(axis=1) | (values[:, 5] < 0) | (values[:, 3] < values[:, 1]) | (
        values[:, 4] < values[:, 2]
    )
    if bad.any():
        number = numbers[int(np.argmax(bad))]
        raise MotFormatError(f"{path}:{number}: flags must be 0/1, frame >= 0 and xmax >= xmin, ymax >= ymin: "
                             f"{lines[number - 1].strip()!r}")
    return SddAnnotations(
        track_ids=values[:, 0].astype(np.int64), boxes=values[:, 1:5].copy(), frames=values[:, 5].astype(np.int64),
        lost=flags[:, 0] == 1, occluded=flags[:, 1] == 1, generated=flags[:, 2] == 1,
        labels=np.array([row[9].strip('"') for row in rows], dtype=str),
    )
