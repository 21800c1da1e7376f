"""Trained single-object trackers as self-describing weights files.

A run of ``vidlearn train`` (task ``sot``) ends by writing ``model.safetensors``: the weights plus, in the
header, the registry name, the builder's keyword arguments and what the tracker needs at test time (ROLO's
frame features). :func:`load_sot_model` rebuilds the model from that header and loads the weights strictly.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from torch import nn

from vidlearn.models import CheckpointLoadError, create, load_weights, save_weights

__all__ = ["load_sot_model", "read_sot_header", "save_sot_model"]


def save_sot_model(model: nn.Module, path: str | Path, *, name: str, kwargs: Mapping[str, Any],
                   extras: Mapping[str, Any] | None = None) -> Path:
    """Write ``model``'s weights with ``{"model": name, "kwargs": ..., "extras": ...}`` in the header."""
    return save_weights(model, path, metadata={"sot_model": name, "kwargs": dict(kwargs), "extras": dict(extras or {})})


def read_sot_header(path: str | Path) -> dict[str, Any]:
    """The header :func:`save_sot_model` wrote (``sot_model``, ``kwargs``, ``extras``)."""
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise CheckpointLoadError(f"{path}: no such checkpoint file")
    try:
        with safe_open(str(path), framework="pt") as handle:
            header = handle.metadata() or {}
    except Exception as error:  # safetensors raises its own error types; name the file
        raise CheckpointLoadError(f"{path}: not a safetensors weights file ({error})") from None
    try:
        metadata = json.loads(header["metadata"])
        metadata["sot_model"]
    except (KeyError, ValueError, TypeError):
        raise CheckpointLoadError(f"{path}: not a single-object tracker written by vidlearn train "
                                  f"(no sot_model in its header)") from None
    return metadata


def load_sot_model(path: str | Path, *, expected: str | None = None) -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild and strictly load a trained tracker -> ``(model in eval mode, extras)``.

    ``expected`` (``"goturn"`` or ``"rolo"``) checks the family: a ROLO file given to GOTURN is an error.
    """
    header = read_sot_header(path)
    name = header["sot_model"]
    if expected is not None and not name.startswith(expected):
        raise CheckpointLoadError(f"{path}: holds a {name} model, not {expected}")
    model = create(name, **header.get("kwargs", {}))
    load_weights(model, path)
    return model.eval(), dict(header.get("extras", {}))
