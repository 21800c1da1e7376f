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
    small_input_shape: tuple[int, ...] | tuple[tuple[int, ...], ...] | None = None
    description: str = ""
    family: str = ""
    reference_num_params: int | None = None
    test_kwargs: Mapping[str, Any] = field(default_factory=dict)
    test_exemptions: Mapping[str, str] = field(default_factory=dict)

    @property
    def num_inputs(self) -> int:
        """How many tensors ``forward`` takes (2 for a model fed ``(rgb, flow)``)."""
        shape = self.small_input_shape or self.input_shape
        return len(shape) if shape and isinstance(shape[0], tuple) else 1


ZOO_TEST_CHECKS = frozenset({"forward", "backward", "train_step", "export", "torchscript"})

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
    small_input_shape: Sequence[int] | Sequence[Sequence[int]] | None = None,
    description: str = "",
    family: str = "",
    reference_num_params: int | None = None,
    test_kwargs: Mapping[str, Any] | None = None,
    test_exemptions: Mapping[str, str] | None = None,
) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Decorator registering a model builder under ``name``.

    ``input_shape`` is the paper's input without the batch dimension, ``(C, T, H, W)`` for clip
    models; ``small_input_shape`` a tiny input for tests. A model whose ``forward`` takes several
    tensors (two-stream ``(rgb, flow)``) gives a tuple of shapes, one per tensor, for both. The
    builder takes ``num_classes`` and keyword arguments and returns an ``nn.Module``.

    ``reference_num_params`` is the exact parameter count of ``create(name)`` (default classes,
    builder defaults), as published; the zoo test checks it. ``test_kwargs`` are builder keywords
    (``num_classes`` included if wanted) for a small CPU-sized variant run by the zoo test on
    ``small_input_shape``. ``test_exemptions`` maps a zoo-test check (``"forward"``, ``"backward"``,
    ``"train_step"``, ``"export"``, ``"torchscript"``) to the reason the model skips it.
    """
    unknown_checks = set(test_exemptions or {}) - ZOO_TEST_CHECKS
    if unknown_checks:
        raise ValueError(
            f"model {name!r}: unknown test_exemptions key(s) {sorted(unknown_checks)}; "
            f"known: {sorted(ZOO_TEST_CHECKS)}"
        )

    def decorate(builder: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if name in _REGISTRY and _REGISTRY[name].builder is not builder:
            raise ValueError(f"model name {name!r} is already registered")
        _REGISTRY[name] = ModelInfo(
            name=name,
            wing=wing,
            builder=builder,
            paper=paper,
            input_shape=_as_shape(input_shape),
            default_num_classes=default_num_classes,
            weights={spec.name: spec for spec in weights},
            small_input_shape=_as_shape(small_input_shape) if small_input_shape else None,
            description=description or _first_line(builder.__doc__),
            family=family or name,
            reference_num_params=reference_num_params,
            test_kwargs=dict(test_kwargs or {}),
            test_exemptions=dict(test_exemptions or {}),
        )
        return builder

    return decorate


def _as_shape(shape: Sequence[int] | Sequence[Sequence[int]]) -> tuple[int, ...] | tuple[tuple[int, ...], ...]:
    """A shape as a tuple of ints, or several shapes as a tuple of such tuples."""
    items = tuple(shape)
    if items and not isinstance(items[0], int):
        return tuple(tuple(int(d) for d in part) for part in items)  # type: ignore[union-attr]
    return tuple(int(d) for d in items)  # type: ignore[arg-type]


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
