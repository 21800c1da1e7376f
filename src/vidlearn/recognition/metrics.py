"""Classification metrics for recognition: top-k accuracy, mean class accuracy, confusion matrix.

Scores are ``float (N, K)`` (logits or probabilities: only their order matters) and labels
``int (N,)``. The functions accept tensors or arrays and return Python floats / NumPy arrays so that
results serialise to JSON directly.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

__all__ = [
    "classification_report",
    "confusion_matrix",
    "mean_class_accuracy",
    "plot_confusion_matrix",
    "topk_accuracy",
    "write_per_class_csv",
]


def _as_numpy(values: torch.Tensor | np.ndarray | Sequence) -> np.ndarray:
    if isinstance(values, torch.Tensor):
        return values.detach().float().cpu().numpy() if values.is_floating_point() else values.cpu().numpy()
    return np.asarray(values)


def topk_accuracy(scores, labels, ks: Sequence[int] = (1, 5)) -> dict[str, float]:
    """Fraction of samples whose label is among the ``k`` highest scores, for each ``k``.

    Returns ``{"top1": ..., "top5": ...}``; a ``k`` larger than the number of classes counts every
    sample as correct (as MMAction2 does).
    """
    scores_np, labels_np = _as_numpy(scores), _as_numpy(labels).astype(np.int64)
    if scores_np.ndim != 2 or scores_np.shape[0] != labels_np.shape[0]:
        raise ValueError(f"scores must be (N, K) and labels (N,), got {scores_np.shape} and {labels_np.shape}")
    order = np.argsort(-scores_np, axis=1, kind="stable")
    results = {}
    for k in ks:
        hit = (order[:, :k] == labels_np[:, None]).any(axis=1)
        results[f"top{k}"] = float(hit.mean()) if len(hit) else 0.0
    return results


def confusion_matrix(scores, labels, num_classes: int | None = None) -> np.ndarray:
    """``int64 (K, K)`` counts: row = true class, column = predicted (arg-max) class."""
    scores_np, labels_np = _as_numpy(scores), _as_numpy(labels).astype(np.int64)
    k = num_classes or scores_np.shape[1]
    predicted = scores_np.argmax(axis=1)
    matrix = np.zeros((k, k), dtype=np.int64)
    np.add.at(matrix, (labels_np, predicted), 1)
    return matrix


def mean_class_accuracy(scores, labels, num_classes: int | None = None) -> float:
    """Mean over classes present in ``labels`` of per-class recall (HMDB51/UCF-101 "mean class accuracy")."""
    matrix = confusion_matrix(scores, labels, num_classes)
    support = matrix.sum(axis=1)
    present = support > 0
    return float((np.diag(matrix)[present] / support[present]).mean()) if present.any() else 0.0


def classification_report(scores, labels, num_classes: int | None = None) -> dict[str, float]:
    """Top-1, top-5 and mean class accuracy in one dict (values in [0, 1])."""
    report = topk_accuracy(scores, labels, (1, 5))
    report["mean_class_accuracy"] = mean_class_accuracy(scores, labels, num_classes)
    return report


def write_per_class_csv(path: str | Path, matrix: np.ndarray, classes: Sequence[str]) -> Path:
    """Write ``class, support, correct, accuracy`` per class from a confusion matrix."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["class", "support", "correct", "accuracy"])
        for index, name in enumerate(classes):
            support = int(matrix[index].sum())
            correct = int(matrix[index, index])
            writer.writerow([name, support, correct, f"{correct / support:.4f}" if support else ""])
    return path


def plot_confusion_matrix(
    matrix: np.ndarray, classes: Sequence[str], path: str | Path, *, title: str = "Confusion matrix"
) -> Path:
    """Save a row-normalised confusion matrix as a PNG (matplotlib, no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = matrix.sum(axis=1, keepdims=True).clip(min=1)
    normalised = matrix / rows
    size = max(4.0, 0.35 * len(classes) + 2.0)
    figure, axis = plt.subplots(figsize=(size + 1, size))
    image = axis.imshow(normalised, cmap="Blues", vmin=0.0, vmax=1.0)
    axis.set_xticks(range(len(classes)), labels=list(classes), rotation=90, fontsize=7)
    axis.set_yticks(range(len(classes)), labels=list(classes), fontsize=7)
    axis.set_xlabel("predicted")
    axis.set_ylabel("true")
    axis.set_title(title)
    if len(classes) <= 20:
        for i in range(len(classes)):
            for j in range(len(classes)):
                if matrix[i, j]:
                    axis.text(j, i, str(matrix[i, j]), ha="center", va="center", fontsize=6,
                              color="white" if normalised[i, j] > 0.5 else "black")
    figure.colorbar(image, ax=axis, fraction=0.046)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path
