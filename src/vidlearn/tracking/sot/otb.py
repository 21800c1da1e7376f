"""Single-object tracking data in the OTB layout, and the OTB one-pass evaluation.

Wu, Lim & Yang, "Online Object Tracking: A Benchmark", CVPR 2013 (OTB-50; OTB-100 is TPAMI 2015).

Files: a sequence folder ``SEQ/`` holds ``groundtruth_rect.txt`` (OTB; ``groundtruth.txt`` as GOT-10k and
LaSOT name it) with one box ``x, y, w, h`` per frame, separated by commas, tabs or spaces, 1-based
(MATLAB's) pixel coordinates; and its frames, ``SEQ/img/*.jpg`` (OTB, LaSOT) or ``SEQ/*.jpg`` (GOT-10k).
A results file ``SEQ.txt`` has the same rows. Inside the library boxes are 0-based ``x1, y1, x2, y2``;
:func:`read_boxes` and :func:`write_boxes` convert at the file boundary.

Metrics (one-pass evaluation, OPE: start from the first frame's ground truth, never re-initialise):

- success: the share of frames whose IoU with the ground truth *exceeds* each threshold of
  ``0, 0.05, ..., 1`` (21 thresholds); the score is the area under that curve, the mean of the 21 rates;
- precision: the share of frames whose centre error (Euclidean, pixels) is *at most* each threshold of
  ``0, 1, ..., 50``; the score is the rate at 20 pixels.

Every frame counts, the first one too, as the OTB toolkit and ``got10k`` count them; frames whose ground
truth is not a box (``w <= 0``, ``h <= 0`` or not finite: the target is absent) are left out.
:meth:`OtbMetric.eval_sequence` returns per-sequence counts; :meth:`OtbMetric.combine_sequences` averages
the per-sequence curves (the OTB protocol's overall score is a mean over sequences, each weighted equally).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vidlearn.tracking.boxes import xywh_to_xyxy, xyxy_to_xywh
from vidlearn.video.files import IMAGE_SUFFIXES, image_files

__all__ = [
    "FRAME_SUFFIXES",
    "GROUNDTRUTH_NAMES",
    "OVERLAP_THRESHOLDS",
    "PRECISION_THRESHOLD",
    "PRECISION_THRESHOLDS",
    "OtbMetric",
    "OtbSequence",
    "SequenceScore",
    "SotFormatError",
    "centre_errors",
    "evaluate_results",
    "find_sequences",
    "format_table",
    "overlaps",
    "plot_curves",
    "read_boxes",
    "read_sequence",
    "write_boxes",
    "write_json",
]

#: Thresholds of the success curve (OTB: ``0:0.05:1``).
OVERLAP_THRESHOLDS = np.linspace(0.0, 1.0, 21)
#: Thresholds of the precision curve in pixels (OTB: ``0:50``).
PRECISION_THRESHOLDS = np.arange(0, 51, dtype=np.float64)
#: The precision score's threshold (20 pixels).
PRECISION_THRESHOLD = 20
GROUNDTRUTH_NAMES = ("groundtruth_rect.txt", "groundtruth.txt")
FRAME_SUFFIXES = IMAGE_SUFFIXES  # the frame images a sequence folder may hold


class SotFormatError(ValueError):
    """A single-object tracking file or folder that cannot be read; the message names the file (and line)."""


_SEPARATORS = re.compile(r"[,\t ]+")


def read_boxes(path: str | Path, *, one_based: bool = True) -> np.ndarray:
    """Read one ``x, y, w, h`` box per line (commas, tabs or spaces) -> ``float64 (T, 4)`` 0-based xyxy.

    Blank lines are an error too (a frame without a box would shift every later one); ``NaN`` is allowed
    (absent target). ``one_based``: the file counts pixels from 1 (OTB, GOT-10k results), as MATLAB does.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SotFormatError(f"{path}: no such box file") from None
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        fields = [f for f in _SEPARATORS.split(line.strip()) if f]
        try:
            if len(fields) != 4:
                raise ValueError
            rows.append([float(f) for f in fields])
        except ValueError:
            raise SotFormatError(f"{path}:{number}: expected 4 numbers x,y,w,h separated by commas, tabs or "
                                 f"spaces, got {line!r}") from None
    if not rows:
        raise SotFormatError(f"{path}: no boxes in the file")
    boxes = xywh_to_xyxy(np.asarray(rows, dtype=np.float64))
    return boxes - 1.0 if one_based else boxes


def write_boxes(path: str | Path, boxes: np.ndarray, *, one_based: bool = True) -> Path:
    """Write 0-based xyxy boxes ``(T, 4)`` as OTB rows ``x,y,w,h`` (1-based by default), 2 decimals."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    xywh = xyxy_to_xywh(np.asarray(boxes, dtype=np.float64).reshape(-1, 4))
    if one_based:
        xywh[:, :2] += 1.0
    path.write_text("".join(",".join(f"{v:.2f}" for v in row) + "\n" for row in xywh), encoding="utf-8")
    return path


@dataclass(frozen=True)
class OtbSequence:
    """A sequence folder: its ``name``, frame files in order and ground truth ``float64 (T, 4)`` 0-based xyxy."""

    name: str
    frames: tuple[Path, ...]
    boxes: np.ndarray

    def __len__(self) -> int:
        return len(self.frames)


def read_sequence(folder: str | Path, *, need_frames: bool = True) -> OtbSequence:
    """Read an OTB / GOT-10k / LaSOT sequence folder (ground truth plus ``img/`` or in-folder frames).

    A folder without a ground-truth file, or (with ``need_frames``) without frames, is a
    :class:`SotFormatError` naming it. More frames than boxes is an error; OTB's few sequences with more
    boxes than frames keep the first ``len(frames)`` boxes (their frame range starts later).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise SotFormatError(f"{folder}: not a sequence folder")
    gt = next((folder / n for n in GROUNDTRUTH_NAMES if (folder / n).is_file()), None)
    if gt is None:
        raise SotFormatError(f"{folder}: no ground truth ({' or '.join(GROUNDTRUTH_NAMES)})")
    boxes = read_boxes(gt)
    frames: list[Path] = []
    if need_frames:
        frames = image_files(folder / "img") if (folder / "img").is_dir() else image_files(folder)
        if not frames:
            raise SotFormatError(f"{folder}: no frames ({', '.join(FRAME_SUFFIXES)}) in {folder / 'img'} or {folder}")
        if len(frames) > len(boxes):
            raise SotFormatError(f"{gt}: {len(boxes)} boxes for {len(frames)} frames")
        boxes = boxes[: len(frames)]
    return OtbSequence(name=folder.name, frames=tuple(frames), boxes=boxes)


def find_sequences(root: str | Path) -> list[Path]:
    """The sequence folders under ``root`` (those holding a ground-truth file), sorted; ``root`` itself if it is one."""
    root = Path(root)
    if any((root / n).is_file() for n in GROUNDTRUTH_NAMES):
        return [root]
    if not root.is_dir():
        raise SotFormatError(f"{root}: no such folder")
    found = sorted(p for p in root.iterdir() if p.is_dir() and any((p / n).is_file() for n in GROUNDTRUTH_NAMES))
    if not found:
        raise SotFormatError(f"{root}: no sequence folders (SEQ/{GROUNDTRUTH_NAMES[0]})")
    return found


def overlaps(predicted: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Per-frame IoU of two box sequences ``(T, 4)`` xyxy -> ``(T,)`` (the diagonal of the IoU matrix)."""
    predicted, truth = np.asarray(predicted, np.float64), np.asarray(truth, np.float64)
    if predicted.shape != truth.shape:
        raise ValueError(f"{len(predicted)} predicted boxes for {len(truth)} ground-truth boxes")
    # Only the diagonal of boxes.iou_matrix is needed: pairs side by side, O(T) rather than O(T^2).
    low = np.maximum(predicted[:, :2], truth[:, :2])
    high = np.minimum(predicted[:, 2:], truth[:, 2:])
    inter = np.prod(np.clip(high - low, 0.0, None), axis=1)
    area_p = np.prod(np.clip(predicted[:, 2:] - predicted[:, :2], 0.0, None), axis=1)
    area_t = np.prod(np.clip(truth[:, 2:] - truth[:, :2], 0.0, None), axis=1)
    union = area_p + area_t - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


def centre_errors(predicted: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Per-frame Euclidean distance of the box centres, pixels ``(T,)``."""
    predicted, truth = np.asarray(predicted, np.float64), np.asarray(truth, np.float64)
    centre_p = (predicted[:, :2] + predicted[:, 2:]) / 2
    centre_t = (truth[:, :2] + truth[:, 2:]) / 2
    return np.linalg.norm(centre_p - centre_t, axis=1)


@dataclass(frozen=True)
class SequenceScore:
    """Per-sequence sufficient statistics: ``frames`` evaluated, ``success_counts (21,)`` frames above each
    overlap threshold, ``precision_counts (51,)`` frames within each centre-error threshold."""

    frames: int
    success_counts: np.ndarray
    precision_counts: np.ndarray

    @property
    def success_curve(self) -> np.ndarray:
        return self.success_counts / max(self.frames, 1)

    @property
    def precision_curve(self) -> np.ndarray:
        return self.precision_counts / max(self.frames, 1)

    def as_dict(self) -> dict[str, float]:
        """``success_auc`` and ``precision_20`` as fractions in [0, 1], and the frame count."""
        return {"success_auc": float(self.success_curve.mean()),
                "precision_20": float(self.precision_curve[PRECISION_THRESHOLD]), "frames": self.frames}


class OtbMetric:
    """OTB success and precision (see the module docstring); ``eval_sequence`` then ``combine_sequences``."""

    def eval_sequence(self, predicted: np.ndarray, truth: np.ndarray) -> SequenceScore:
        """Boxes ``(T, 4)`` 0-based xyxy, predictions and ground truth of the same frames."""
        predicted, truth = np.asarray(predicted, np.float64), np.asarray(truth, np.float64)
        if predicted.shape != truth.shape:
            raise ValueError(f"{len(predicted)} predicted boxes for {len(truth)} ground-truth boxes")
        valid = np.isfinite(truth).all(1) & (truth[:, 2] > truth[:, 0]) & (truth[:, 3] > truth[:, 1])
        predicted = np.nan_to_num(predicted[valid], nan=-1e9)  # a missing prediction overlaps nothing
        truth = truth[valid]
        iou = overlaps(predicted, truth)
        error = centre_errors(predicted, truth)
        return SequenceScore(
            frames=int(valid.sum()),
            success_counts=(iou[:, None] > OVERLAP_THRESHOLDS[None, :]).sum(0),
            precision_counts=(error[:, None] <= PRECISION_THRESHOLDS[None, :]).sum(0),
        )

    def combine_sequences(self, scores: Mapping[str, SequenceScore]) -> dict[str, np.ndarray]:
        """Overall curves: the mean of the per-sequence curves (each sequence weighs the same, as OTB)."""
        if not scores:
            raise ValueError("no sequences to combine")
        return {"success_curve": np.mean([s.success_curve for s in scores.values()], axis=0),
                "precision_curve": np.mean([s.precision_curve for s in scores.values()], axis=0)}


def evaluate_results(
    results: Mapping[str, np.ndarray], truths: Mapping[str, np.ndarray]
) -> tuple[dict[str, dict[str, float]], dict[str, np.ndarray]]:
    """Score boxes per sequence against ground truth (both ``{name: (T, 4) xyxy}``).

    Returns the table ``{"<SEQ>": {"success_auc", "precision_20", "frames"}, "OVERALL": {...}}`` (fractions)
    and the overall curves. A sequence without results is an error naming it.
    """
    metric = OtbMetric()
    scores: dict[str, SequenceScore] = {}
    for name, truth in truths.items():
        if name not in results:
            raise SotFormatError(f"no results for sequence {name!r}")
        predicted = np.asarray(results[name], np.float64)
        if len(predicted) != len(truth):
            raise SotFormatError(f"sequence {name!r}: {len(predicted)} result boxes for {len(truth)} frames")
        scores[name] = metric.eval_sequence(predicted, truth)
    curves = metric.combine_sequences(scores)
    table = {name: score.as_dict() for name, score in scores.items()}
    table["OVERALL"] = {"success_auc": float(curves["success_curve"].mean()),
                        "precision_20": float(curves["precision_curve"][PRECISION_THRESHOLD]),
                        "frames": int(sum(s.frames for s in scores.values()))}
    return table, curves


def plot_curves(
    curves: Mapping[str, Mapping[str, np.ndarray]], out_dir: str | Path, *, title: str = "OPE",
) -> list[Path]:
    """Draw the OTB success and precision plots of several trackers (``{tracker: curves}``).

    Writes ``success_plot.png`` and ``precision_plot.png`` under ``out_dir``; the legend gives each
    tracker's AUC or precision@20 px, best first, as the OTB figures do.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for kind, x, xlabel, score_of in (
        ("success", OVERLAP_THRESHOLDS, "overlap threshold", lambda c: float(c["success_curve"].mean())),
        ("precision", PRECISION_THRESHOLDS, "location error threshold (pixels)",
         lambda c: float(c["precision_curve"][PRECISION_THRESHOLD])),
    ):
        figure, axes = plt.subplots(figsize=(5, 4))
        for name, c in sorted(curves.items(), key=lambda item: -score_of(item[1])):
            axes.plot(x, c[f"{kind}_curve"], label=f"{name} [{score_of(c):.3f}]")
        axes.set(xlabel=xlabel, ylabel=f"{kind} rate", ylim=(0, 1.02), xlim=(x[0], x[-1]),
                 title=f"{kind.capitalize()} plots of {title}")
        axes.grid(alpha=0.3)
        axes.legend(loc="lower left" if kind == "success" else "lower right", fontsize=8)
        figure.tight_layout()
        path = out_dir / f"{kind}_plot.png"
        figure.savefig(path, dpi=100)
        plt.close(figure)
        written.append(path)
    return written


def format_table(table: Mapping[str, Mapping[str, float]]) -> str:
    """A Markdown table of success AUC and precision@20 in percent (as OTB papers print them)."""
    lines = ["| sequence | frames | success AUC (%) | precision@20px (%) |", "| --- | ---: | ---: | ---: |"]
    for name, row in table.items():
        lines.append(f"| {name} | {row.get('frames', '')} | {100 * row['success_auc']:.1f} | "
                     f"{100 * row['precision_20']:.1f} |")
    return "\n".join(lines)


def write_json(table: Mapping[str, Mapping[str, float]], path: str | Path) -> Path:
    """Write the table as JSON (fractions in [0, 1])."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(table, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    return path
