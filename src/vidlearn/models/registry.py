"""The model registry: ``register_model``, ``create``, ``list_models`` and typed weights specs.

A wing registers a builder with :func:`register_model`; the registry stores a :class:`ModelInfo`
(paper, input spec, weights specs) beside it. Weights always come from local files: a spec names the
published file and says how to preprocess for it, it never downloads anything.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch import nn

__all__ = [
    "ModelInfo",
    "Preprocessing",
    "WeightsSpec",
    "create",
    "get_model_info",
    "list_models",
    "register_model",
]

# Wing packages that register models when imported. They are imported lazily, by name, so that the
# registry itself imports no wing (DESIGN.md: arrows run cli -> wings -> models).
WING_MODEL_MODULES: dict[str, str] = {
    "recognition": "vidlearn.recognition.models",
}


@dataclass(frozen=True)
class Preprocessing:
    """How to turn decoded frames into the input a set of weights expects.

    Frames are first scaled to ``value_range`` (``(0, 255)`` keeps raw pixel values, ``(0, 1)``
    divides by 255, ``(-1, 1)`` maps to ``x / 127.5 - 1``), then ``(x - mean) / std`` per channel in
    ``channel_order``.
    """

    mean: tuple[float, ...] = (0.0, 0.0, 0.0)
    std: tuple[float, ...] = (1.0, 1.0, 1.0)
    channel_order: str = "RGB"
    value_range: tuple[float, float] = (0.0, 1.0)
    clip_length: int = 16
    frame_interval: int = 1
    resize_short_side: int | None = None
    crop_size: int = 112
    modality: str = "rgb"
    notes: str = ""


@dataclass(frozen=True)
class WeightsSpec:
    """A published checkpoint: where it comes from, how to feed it, and what it scored.

    ``filename`` is the file as its authors publish it; users place it locally and pass its path.
    ``layout`` names the checkpoint layout (see :func:`vidlearn.models.register_layout`).
    ``metrics`` maps a metric name to its value, measured under ``protocol``.
    """

    name: str
    filename: str
    source: str
    license: str
    layout: str
    num_classes: int
    preprocessing: Preprocessing
    classes: str = ""
    metrics: Mapping[str, float] = field(default_factory=dict)
    protocol: str = ""
    sha256: str | None = None


@dataclass(frozen=True)
class ModelInfo:
    """What the registry knows of one model name."""

    name: str
    wing: str
    builder: Callable[..., nn.Module]
    paper: str
    input_shape: tuple[int, ...]
    default_num_classes: int
    weights: Mapping[str, WeightsSpec] = field(default_factory=dict)
    small_input_shape: tuple[int, ...] | None = None
    description: str = ""
    family: str = ""


_REGISTRY: dict[str, ModelInfo] = {}
_LOADED_WINGS: set[str] = set()


def register_model(
    name: str,
    *,
    wing: str,
    paper: str,
    input_shape: Sequence[int],
    default_num_classes: int,
    weights: Sequence[WeightsSpec] = (),
    small_input_shape: Sequence[int] | None = None,
    description: str = "",
    family: str = "",
) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Decorator registering a model builder under ``name``.

    ``input_shape`` is the paper's input without the batch dimension, ``(C, T, H, W)`` for clip
    models; ``small_input_shape`` a tiny input for tests. The builder takes ``num_classes`` and
    keyword arguments and returns an ``nn.Module``.
    """

    def decorate(builder: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if name in _REGISTRY and _REGISTRY[name].builder is not builder:
            raise ValueError(f"model name {name!r} is already registered")
        _REGISTRY[name] = ModelInfo(
            name=name,
            wing=wing,
            builder=builder,
            paper=paper,
            input_shape=tuple(input_shape),
            default_num_classes=default_num_classes,
            weights={spec.name: spec for spec in weights},
            small_input_shape=tuple(small_input_shape) if small_input_shape else None,
            description=description or _first_line(builder.__doc__),
            family=family or name,
        )
        return builder

    return decorate


def _first_line(text: str | None) -> str:
    lines = (text or "").strip().splitlines()
    return lines[0] if lines else ""


def _load_wings(wing: str | None = None) -> None:
    for name, module in WING_MODEL_MODULES.items():
        if (wing is None or wing == name) and name not in _LOADED_WINGS:
            importlib.import_module(module)
            _LOADED_WINGS.add(name)


def list_models(wing: str | None = None) -> list[str]:
    """Sorted names of the registered models, optionally of one wing only."""
    if wing is not None and wing not in WING_MODEL_MODULES:
        raise ValueError(f"unknown wing {wing!r}; known wings: {', '.join(sorted(WING_MODEL_MODULES))}")
    _load_wings(wing)
    return sorted(n for n, info in _REGISTRY.items() if wing is None or info.wing == wing)


def get_model_info(name: str) -> ModelInfo:
    """The :class:`ModelInfo` of ``name``; an unknown name raises ``KeyError`` with suggestions."""
    _load_wings()
    try:
        return _REGISTRY[name]
    except KeyError:
        close = difflib.get_close_matches(name, list(_REGISTRY), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise KeyError(f"unknown model {name!r}{hint} (see `vidlearn models`)") from None


def create(
    name: str,
    *,
    num_classes: int | None = None,
    weights: str | Path | None = None,
    **kwargs: Any,
) -> nn.Module:
    """Build the registered model ``name``.

    Args:
        name: a name from :func:`list_models`.
        num_classes: size of the classifier; defaults to the model's paper setting.
        weights: path of a checkpoint file (vidlearn's safetensors or a published layout), loaded
            strictly by :func:`vidlearn.models.load_weights`. Nothing is downloaded.
        **kwargs: passed to the builder.
    """
    info = get_model_info(name)
    model = info.builder(num_classes=info.default_num_classes if num_classes is None else num_classes, **kwargs)
    model.vidlearn_name = name  # lets load_weights pick the layouts of this family
    if weights is not None:
        from vidlearn.models.weights import load_weights

        load_weights(model, weights)
    return model
