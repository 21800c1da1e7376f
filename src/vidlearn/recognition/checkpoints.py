"""Load a model that ``vidlearn train`` saved: ``model.safetensors`` with its metadata.

The metadata (written by :func:`vidlearn.recognition.training.train`) names the registered model and
its options, the class names and the preprocessing, so the file alone rebuilds the network.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from torch import nn

from vidlearn.models import create, load_weights

__all__ = ["load_trained_model"]


def load_trained_model(path: str | Path) -> tuple[nn.Module, dict[str, Any]]:
    """A model saved by :func:`~vidlearn.recognition.training.train` (``model.safetensors``), in eval mode, and its metadata."""
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        with safe_open(str(path), framework="pt") as handle:
            header = handle.metadata() or {}
    except Exception as error:
        raise ValueError(f"{path}: not a vidlearn safetensors checkpoint ({error})") from error
    if "metadata" not in header:
        raise ValueError(f"{path}: has no vidlearn metadata; use --model NAME --weights {path}")
    meta = json.loads(header["metadata"])
    model = create(meta["model"], num_classes=meta["num_classes"], **meta.get("kwargs", {}))
    load_weights(model, path)
    model.eval()
    return model, meta
