"""Load a model that ``vidlearn train`` saved: ``model.safetensors`` or an engine checkpoint of the run.

``model.safetensors`` carries metadata (written by :func:`vidlearn.recognition.training.train`) that
names the registered model and its options, the class names and the preprocessing, so the file alone
rebuilds the network. An engine checkpoint (``checkpoints/epochNNNN_stepNNNNNNNN.pt``) carries the
run's recipe; its metadata comes from the run's ``model.json`` (written when training starts) or, for
a run without one, from the recipe (the class names then from the recipe's dataset).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from torch import nn

from vidlearn.models import create, load_weights

__all__ = ["load_trained_model", "trained_model_metadata"]


def _safetensors_metadata(path: Path) -> dict[str, Any]:
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as handle:
            header = handle.metadata() or {}
    except Exception as error:
        raise ValueError(f"{path}: not a vidlearn safetensors checkpoint ({error})") from error
    if "metadata" not in header:
        raise ValueError(f"{path}: has no vidlearn metadata; use --model NAME --weights {path}")
    return json.loads(header["metadata"])


def _engine_checkpoint_metadata(path: Path) -> dict[str, Any]:
    from vidlearn.engine.checkpoint import load_checkpoint
    from vidlearn.engine.config import config_from_dict
    from vidlearn.recognition.recipe import RecognitionConfig

    try:
        state = load_checkpoint(path)
    except ValueError as error:
        raise ValueError(f"{error}; give model.safetensors or checkpoints/epochNNNN_stepNNNNNNNN.pt of a "
                         "vidlearn train run") from None
    for work_dir in (path.parent.parent, path.parent):
        sidecar = work_dir / "model.json"
        if sidecar.is_file():
            return json.loads(sidecar.read_text(encoding="utf-8"))
    run = (state.get("config") or {}).get("run")
    if not isinstance(run, dict) or run.get("task", "recognition") != "recognition":
        raise ValueError(f"{path}: an engine checkpoint without a recognition recipe; cannot rebuild its model")
    from vidlearn.recognition.builders import build_dataset
    from vidlearn.recognition.training import model_metadata

    cfg = config_from_dict(run, RecognitionConfig, source=f"{path} (saved recipe)")
    try:
        classes = list(build_dataset(cfg, train=False).classes)
    except Exception as error:
        raise ValueError(f"{path}: no model.json in its work dir and the class names of its recipe's dataset "
                         f"cannot be read ({error})") from error
    return model_metadata(cfg, classes)


def trained_model_metadata(path: str | Path) -> dict[str, Any]:
    """The metadata of a trained model file: model name and options, classes, preprocessing."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    if path.suffix.lower() == ".safetensors":
        return _safetensors_metadata(path)
    return _engine_checkpoint_metadata(path)


def load_trained_model(path: str | Path) -> tuple[nn.Module, dict[str, Any]]:
    """A model trained by :func:`~vidlearn.recognition.training.train`, in eval mode, and its metadata.

    ``path`` is the run's ``model.safetensors`` or one of its engine checkpoints (``checkpoints/*.pt``).
    """
    meta = trained_model_metadata(path)
    model = create(meta["model"], num_classes=meta["num_classes"], **meta.get("kwargs", {}))
    load_weights(model, path)
    model.eval()
    return model, meta
