"""MOTChallenge files: ground truth, detections and tracker results (MOT15/16/17/20), and ``seqinfo.ini``.

Rows are comma-separated (whitespace also accepted), one box per line, frames numbered from 1, boxes as
1-based ``x, y, w, h`` (kept as in the file; :func:`~vidlearn.tracking.boxes.mot_to_xyxy` converts):

* ``gt.txt`` (MOT16/17/20): ``frame, id, x, y, w, h, consider, class, visibility``; MOT15's ground truth has
  ``frame, id, x, y, w, h, 1, -1, -1, -1`` (no class).
* ``det.txt``: ``frame, -1, x, y, w, h, score, -1, -1, -1``.
* result files: ``frame, id, x, y, w, h, score, -1, -1, -1``.

:func:`read_mot` reads any of them into a :class:`MotRows` of column arrays and raises
:class:`MotFormatError` naming the file, the line number and the line for a missing column, a non-number,
a negative width or height, a frame number below 1 or past the sequence length, or (ground truth and
results) an id repeated within a frame. :func:`write_mot` writes atomically (temporary file, then rename).
"""

from __future__ import annotations

import configparser
import io
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .boxes import mot_to_xyxy, xyxy_to_mot

__all__ = [
    "MotFormatError",
    "MotRows",
    "SeqInfo",
    "read_mot",
    "read_seqinfo",
    "tracks_to_rows",
    "write_mot",
    "write_seqinfo",
    "write_text_atomically",
]

KINDS = ("gt", "det", "result")


class MotFormatError(ValueError):
    """A malformed MOTChallenge file; the message names the file, the line number and the line."""


@dataclass
class MotRows:
    """The rows of one MOTChallenge file as columns (``R`` rows, in file order).

    ``frames int64 (R,)`` (1-based), ``ids int64 (R,)``, ``boxes float64 (R, 4)`` 1-based ``x, y, w, h``,
    ``scores float64 (R,)`` (column 7: the consider flag of ground truth, the score otherwise),
    ``classes int64 (R,)`` and ``visibility float64 (R,)`` (columns 8 and 9; -1 where the file has none).
    """

    frames: np.ndarray
    ids: np.ndarray
    boxes: np.ndarray
    scores: np.ndarray
    classes: np.ndarray
    visibility: np.ndarray

    def __len__(self) -> int:
        return len(self.frames)

    @property
    def boxes_xyxy(self) -> np.ndarray:
        """``(R, 4)`` boxes as the library's 0-based ``x1, y1, x2, y2``."""
        return mot_to_xyxy(self.boxes)

    @property
    def num_frames(self) -> int:
        """Largest frame number in the file (0 when empty)."""
        return int(self.frames.max()) if len(self.frames) else 0

    def select(self, mask: np.ndarray) -> MotRows:
        """The rows where ``mask (R,)`` is true (or at the given indices)."""
        return MotRows(*(getattr(self, name)[mask] for name in _COLUMN_NAMES))

    def frame_bounds(self, num_frames: int) -> tuple[MotRows, np.ndarray]:
        """Rows sorted by frame (stable) and ``int64 (num_frames + 1,)`` offsets: frame ``f`` is
        ``offsets[f - 1]:offsets[f]`` of the sorted rows."""
        order = np.argsort(self.frames, kind="stable")
        ordered = self.select(order)
        offsets = np.searchsorted(ordered.frames, np.arange(1, num_frames + 2), side="left")
        return ordered, offsets


_COLUMN_NAMES = ("frames", "ids", "boxes", "scores", "classes", "visibility")


def _fail(path: Path, number: int, line: str, why: str) -> MotFormatError:
    return MotFormatError(f"{path}:{number}: {why}: {line.strip()!r}")


def _parse_slowly(path: Path, lines: list[str], numbers: list[int], separator: str | None) -> np.ndarray:
    """Parse line by line to name the first bad line (ragged rows, non-numbers, trailing separators)."""
    fields = [line.split(separator) for line in lines]
    for row in fields:
        while row and not row[-1].strip():  # a trailing separator is not a column
            row.pop()
    lengths = np.fromiter(map(len, fields), dtype=np.int64, count=len(fields))
    if lengths.min() < 6:
        i = int(np.argmax(lengths < 6))
        raise _fail(path, numbers[i], lines[i], f"{lengths[i]} columns, need at least 6 (frame, id, x, y, w, h)")
    width = int(min(lengths.min(), 10))
    rows = []
    for i, row in enumerate(fields):
        try:
            parsed = [float(v) for v in row[:width]]
        except ValueError:
            raise _fail(path, numbers[i], lines[i], "not a number") from None
        if not np.isfinite(parsed).all():
            raise _fail(path, numbers[i], lines[i], "not a finite number")
        rows.append(parsed)
    return np.array(rows, dtype=np.float64)


def _parse_quickly(text: str) -> np.ndarray | None:
    """``(R, C)`` values when every line of ``text`` is a row of the same >= 6 finite numbers (one C call,
    no per-line Python work), else ``None`` (blank lines, ragged rows, trailing separators, non-numbers,
    an empty file): the caller then takes the line-by-line path that names the bad line."""
    head = text[:text.find("\n")] if "\n" in text else text
    if not head.strip():
        return None
    separator = "," if "," in head else None
    try:
        values = np.loadtxt(io.StringIO(text), delimiter=separator, ndmin=2, dtype=np.float64, comments=None)
    except ValueError:
        return None
    num_lines = text.count("\n") + (not text.endswith("\n"))
    if values.shape[0] != num_lines or values.shape[1] < 6 or not np.isfinite(values).all():
        return None
    return values


class _LineNumbers:
    """Line number of row ``i`` when every line is a row."""

    def __getitem__(self, i: int) -> int:
        return i + 1


class _LazyLines:
    """Line ``i`` of ``text`` (0-based), split on first use: only an error message needs one."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __getitem__(self, i: int) -> str:
        return self.text.splitlines()[i]


def read_mot(path: str | os.PathLike, kind: str = "result", num_frames: int | None = None) -> MotRows:
    """Read a MOTChallenge ``gt.txt`` (``kind="gt"``), ``det.txt`` (``"det"``) or result file (``"result"``).

    Args:
        path: the text file.
        kind: which of the three; ids must be unique within a frame for ``"gt"`` and ``"result"``.
        num_frames: sequence length; a row with a frame past it is an error (``None``: not checked).
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as error:
        raise MotFormatError(f"{path}: cannot read: {error}") from error
    values = _parse_quickly(text)
    if values is not None:
        # Every line held a row: row i is line i + 1; the lines are split only to name a bad one.
        numbers: _LineNumbers | list[int] = _LineNumbers()
        lines: _LazyLines | list[str] = _LazyLines(text)
    else:
        all_lines = text.splitlines()
        numbers = [i + 1 for i, line in enumerate(all_lines) if line.strip()]
        lines = [all_lines[n - 1] for n in numbers]
        if not lines:
            empty = np.zeros(0)
            return MotRows(empty.astype(np.int64), empty.astype(np.int64), np.zeros((0, 4)), empty,
                           empty.astype(np.int64), empty)
        separator = "," if "," in lines[0] else None
        try:
            values = np.loadtxt(lines, delimiter=separator, ndmin=2, dtype=np.float64, comments=None)
        except ValueError:
            values = None
        if values is None or values.shape[1] < 6 or not np.isfinite(values).all():
            values = _parse_slowly(path, lines, numbers, separator)
    values = values[:, :10]
    frames_float = values[:, 0]
    checks = [
        (frames_float != np.round(frames_float), "frame number is not an integer"),
        (frames_float < 1, "frame numbers start at 1"),
        ((values[:, 4] < 0) | (values[:, 5] < 0), "negative width or height"),
    ]
    if num_frames is not None:
        checks.append((frames_float > num_frames, f"frame past the sequence length {num_frames}"))
    for bad, why in checks:
        if bad.any():
            i = int(np.argmax(bad))
            raise _fail(path, numbers[i], lines[i], why)
    frames = frames_float.astype(np.int64)
    ids = values[:, 1].astype(np.int64)
    if kind != "det" and len(frames):
        keys = frames * (ids.max() - ids.min() + 1) + (ids - ids.min())
        order = np.argsort(keys, kind="stable")
        repeated = np.flatnonzero(keys[order][1:] == keys[order][:-1])
        if len(repeated):
            i = int(order[repeated[0] + 1])
            raise _fail(path, numbers[i], lines[i], f"id {ids[i]} appears twice in frame {frames[i]}")
    width = values.shape[1]
    column = lambda j, fill: values[:, j] if width > j else np.full(len(values), fill)  # noqa: E731
    return MotRows(
        frames=frames,
        ids=ids,
        boxes=values[:, 2:6].copy(),
        scores=column(6, 1.0).copy(),
        classes=column(7, -1.0).astype(np.int64),
        visibility=column(8, -1.0).copy(),
    )


def tracks_to_rows(
    frames: np.ndarray, ids: np.ndarray, boxes_xyxy: np.ndarray, scores: np.ndarray | None = None
) -> MotRows:
    """Tracker output (library ``x1, y1, x2, y2`` boxes) -> :class:`MotRows` for a result file."""
    frames = np.asarray(frames, dtype=np.int64).reshape(-1)
    count = len(frames)
    scores = np.ones(count) if scores is None else np.asarray(scores, dtype=np.float64).reshape(-1)
    return MotRows(frames, np.asarray(ids, dtype=np.int64).reshape(-1), xyxy_to_mot(boxes_xyxy).reshape(-1, 4),
                   scores, np.full(count, -1, dtype=np.int64), np.full(count, -1.0))


def write_text_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in its folder, then rename: never half-written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_mot(path: str | os.PathLike, rows: MotRows, kind: str = "result") -> None:
    """Write rows as a MOTChallenge file, atomically; sorted by frame then id.

    ``kind="gt"`` writes 9 columns (``frame, id, x, y, w, h, consider, class, visibility``), the others 10
    (``frame, id, x, y, w, h, score, -1, -1, -1``).
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    order = np.lexsort((rows.ids, rows.frames))
    rows = rows.select(order)
    boxes = rows.boxes
    columns = [rows.frames.astype(str), rows.ids.astype(str)]
    columns += [np.char.mod("%.3f", boxes[:, j]) for j in range(4)]
    if kind == "gt":
        columns += [np.char.mod("%.6g", rows.scores), rows.classes.astype(str), np.char.mod("%.6g", rows.visibility)]
    else:
        minus = np.full(len(rows), "-1")
        columns += [np.char.mod("%.6g", rows.scores), minus, minus, minus]
    text = "".join(",".join(parts) + "\n" for parts in zip(*columns)) if len(rows) else ""
    write_text_atomically(Path(path), text)


@dataclass
class SeqInfo:
    """The ``[Sequence]`` section of a MOTChallenge ``seqinfo.ini``."""

    name: str
    seq_length: int
    frame_rate: float = 30.0
    im_width: int = 0
    im_height: int = 0
    im_dir: str = "img1"
    im_ext: str = ".jpg"


_SEQINFO_KEYS = {
    "name": "name", "seqLength": "seq_length", "frameRate": "frame_rate", "imWidth": "im_width",
    "imHeight": "im_height", "imDir": "im_dir", "imExt": "im_ext",
}


def read_seqinfo(path: str | os.PathLike) -> SeqInfo:
    """Read ``seqinfo.ini``; ``name`` and ``seqLength`` are required."""
    path = Path(path)
    parser = configparser.ConfigParser()
    parser.optionxform = str  # keys are camelCase
    try:
        parser.read_string(path.read_text())
    except (OSError, configparser.Error) as error:
        raise MotFormatError(f"{path}: cannot read: {error}") from error
    if "Sequence" not in parser:
        raise MotFormatError(f"{path}: no [Sequence] section")
    section = parser["Sequence"]
    for required in ("name", "seqLength"):
        if required not in section:
            raise MotFormatError(f"{path}: [Sequence] has no {required}")
    values: dict[str, object] = {}
    for key, field in _SEQINFO_KEYS.items():
        if key not in section:
            continue
        raw = section[key]
        try:
            if field in ("seq_length", "im_width", "im_height"):
                values[field] = int(raw)
            elif field == "frame_rate":
                values[field] = float(raw)
            else:
                values[field] = raw
        except ValueError:
            raise MotFormatError(f"{path}: {key}={raw!r} is not a number") from None
    if values["seq_length"] < 1:  # type: ignore[operator]
        raise MotFormatError(f"{path}: seqLength={values['seq_length']} must be >= 1")
    return SeqInfo(**values)  # type: ignore[arg-type]


def write_seqinfo(path: str | os.PathLike, info: SeqInfo) -> None:
    """Write ``seqinfo.ini`` atomically."""
    lines = ["[Sequence]"]
    for key, field in _SEQINFO_KEYS.items():
        value = getattr(info, field)
        lines.append(f"{key}={value:g}" if isinstance(value, float) else f"{key}={value}")
    write_text_atomically(Path(path), "\n".join(lines) + "\n")
