"""What ``vidlearn train`` and ``vidlearn evaluate`` call for a ``task: recognition`` recipe.

The task registry (:mod:`vidlearn.tasks`) imports this module when a recipe names the task; it
exposes the interface every wing's entry module has: :func:`load_recipe`, :func:`train`,
:func:`evaluate` and :func:`average_splits`.
"""

from __future__ import annotations

from pathlib import Path

from vidlearn.recognition.protocols import average_splits, evaluate_svm
from vidlearn.recognition.protocols import evaluate as evaluate_softmax
from vidlearn.recognition.recipe import RecognitionConfig, load_recipe
from vidlearn.recognition.training import TrainResult, train

__all__ = ["TrainResult", "average_splits", "evaluate", "load_recipe", "train"]


def evaluate(
    cfg: RecognitionConfig,
    checkpoint: str | Path,
    *,
    out_dir: str | Path | None = None,
    progress: bool = True,
    protocol: str = "softmax",
    layer: str | None = None,
    C: float = 1.0,
) -> dict[str, float]:
    """A checkpoint scored with the recipe's test protocol.

    ``protocol="softmax"``: ``evaluate.num_clips x num_crops`` views per video, softmax scores averaged
    (:func:`vidlearn.recognition.protocols.evaluate`; evaluation files go to ``out_dir``).
    ``protocol="svm"``: frozen ``layer`` features and a linear SVM with ``C`` fitted on the training
    split (Tran et al. 2015; :func:`vidlearn.recognition.protocols.evaluate_svm`).
    """
    if protocol == "softmax":
        return evaluate_softmax(cfg, checkpoint, out_dir=out_dir, progress=progress)
    if protocol == "svm":
        return evaluate_svm(cfg, checkpoint, layer=layer, C=C)
    raise ValueError(f"unknown recognition protocol {protocol!r}; choose softmax or svm")
