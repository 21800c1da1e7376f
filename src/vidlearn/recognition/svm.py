"""The C3D paper's transfer protocol: frozen network features + a linear SVM (Tran et al. 2015, Sec. 4).

Each video's descriptor is the mean of its clips' features (C3D: ``fc6`` activations), L2-normalised,
as the paper does; a linear SVM (scikit-learn ``LinearSVC``) is trained on the training split's
descriptors and scored on the test split's. ``features`` is any callable ``clips (V, C, T, H, W) ->
(V, D)``; for C3D use ``lambda x: model.forward_features(x, layer="fc6")``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import DataLoader

from vidlearn.recognition.evaluation import DecodedVideoDataset, iter_views

__all__ = ["SVMResult", "extract_video_features", "linear_svm_protocol"]


def _first(batch: list) -> object:
    return batch[0]


@torch.no_grad()
def extract_video_features(
    features: Callable[[torch.Tensor], torch.Tensor],
    videos: DecodedVideoDataset,
    transform: Callable[[torch.Tensor], torch.Tensor],
    *,
    chunk_size: int = 8,
    num_workers: int = 0,
    device: torch.device | str = "cpu",
) -> tuple[np.ndarray, np.ndarray]:
    """``(descriptors float32 (N, D), labels int64 (N,))``: the mean clip feature of each video, L2-normalised."""
    device = torch.device(device)
    descriptors, labels = [], []
    for video in DataLoader(videos, batch_size=1, num_workers=num_workers, collate_fn=_first):
        parts = [features(chunk.to(device)).float().cpu() for chunk in iter_views(video, transform, chunk_size)]
        mean = torch.cat(parts).flatten(1).mean(dim=0)
        descriptors.append(torch.nn.functional.normalize(mean, dim=0).numpy())
        labels.append(video.label)
    return np.stack(descriptors), np.asarray(labels, dtype=np.int64)


@dataclass
class SVMResult:
    """Accuracy (in [0, 1]) of the linear SVM on the test descriptors, and the fitted classifier."""

    top1: float
    mean_class_accuracy: float
    classifier: object


def linear_svm_protocol(
    train: tuple[np.ndarray, np.ndarray], test: tuple[np.ndarray, np.ndarray], *, C: float = 1.0, seed: int = 0
) -> SVMResult:
    """Fit ``LinearSVC(C)`` on ``train`` descriptors and score it on ``test``."""
    from sklearn.svm import LinearSVC

    from vidlearn.recognition.metrics import mean_class_accuracy

    (x_train, y_train), (x_test, y_test) = train, test
    if len(np.unique(y_train)) < 2:
        raise ValueError("the linear SVM protocol needs training videos of at least two classes")
    classifier = LinearSVC(C=C, random_state=seed, max_iter=10_000).fit(x_train, y_train)
    scores = classifier.decision_function(x_test)
    if scores.ndim == 1:  # binary: one margin, make it two columns
        scores = np.stack([-scores, scores], axis=1)
    predicted = classifier.classes_[scores.argmax(axis=1)]
    full = np.zeros((len(y_test), int(max(y_train.max(), y_test.max())) + 1))
    full[:, classifier.classes_] = scores
    return SVMResult(float((predicted == y_test).mean()), mean_class_accuracy(full, y_test), classifier)
