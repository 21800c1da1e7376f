"""The model registry: ``register_model``, ``create``, ``list_models`` and typed weights specs.

A wing registers a builder with :func:`register_model`; the registry stores a :class:`ModelInfo`
(paper, input spec, weights specs) beside it. The wing is the package the builder lives in
(``vidlearn.recognition.models.c3d`` -> ``recognition``), as timm takes a model's module from its
entrypoint. A model may have classes (a classifier: ``default_num_classes``) or not (a
super-resolution network, a tracker's feature extractor). Weights always come from local files: a
spec names the published file and says how to preprocess for it, it never downloads anything.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.machinery
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch import nn

from vidlearn.models.weights import load_weights

__all__ = [
    "WINGS",
    "WING_MODEL_MODULES",
    "ModelInfo",
    "Preprocessing",
    "WeightsSpec",
    "create",
    "get_model_info",
    "list_models",
    "register_model",
    "unregister_model",
]

# The wings of the house (DESIGN.md), each registering its models in ``vidlearn.<wing>.models``.
WINGS: tuple[str, ...] = ("recognition", "tracking", "superres", "generation")


def _module_exists(dotted: str) -> bool:
    """Whether the module ``dotted`` exists, found without importing it or the packages above it.

    ``importlib.util.find_spec("vidlearn.tracking.models")`` would import ``vidlearn.tracking``; the
    path finder looks in each package's folder instead, so the registry still imports no wing.
    """
    top, *rest = dotted.split(".")
    package = sys.modules.get(top) or importlib.import_module(top)
    locations = list(getattr(package, "__path__", []))
    for index, part in enumerate(rest):
        spec = importlib.machinery.PathFinder.find_spec(part, locations)
        if spec is None:
            return False
        if index < len(rest) - 1:
            if spec.submodule_search_locations is None:
                return False
            locations = list(spec.submodule_search_locations)
    return True


# The model packages of the wings that have one. Imported lazily, by name, so that the registry
# itself imports no wing (DESIGN.md: arrows run cli -> wings -> models). A wing gains its entry by
# creating ``vidlearn/<wing>/models/``.
WING_MODEL_MODULES: dict[str, str] = {
    wing: f"vidlearn.{wing}.models" for wing in WINGS if _module_exists(f"vidlearn.{wing}.models")
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
    ``metrics`` maps a metric name to its value, measured under ``protocol``. ``meta`` holds what only
    the model's task knows: a recognition spec has ``meta["num_classes"]`` (0 for a backbone without a
    head) and ``meta["classes"]`` (the label set); a super-resolution spec might hold its scale factor.
    """

    name: str
    filename: str
    source: str
    license: str
    layout: str
    preprocessing: Preprocessing
    metrics: Mapping[str, float] = field(default_factory=dict)
    protocol: str = ""
    sha256: str | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        bad = [key for key in self.meta if not isinstance(key, str)]
        if bad:
            raise TypeError(f"weights spec {self.name!r}: meta keys must be str, got {bad!r}")
        object.__setattr__(self, "meta", dict(self.meta))  # a copy: the caller's dict may change later


@dataclass(frozen=True)
class ModelInfo:
    """What the registry knows of one model name.

    ``default_num_classes`` is ``None`` for a model without classes. ``small_input_shape`` and
    ``small_kwargs`` describe a CPU-sized variant of the same architecture (narrower layers, a small
    input), which demos, benchmarks and the zoo tests build with ``create(name, **small_kwargs)``.
    """

    name: str
    wing: str
    builder: Callable[..., nn.Module]
    paper: str
    input_shape: tuple[int, ...] | tuple[tuple[int, ...], ...]
    default_num_classes: int | None = None
    weights: Mapping[str, WeightsSpec] = field(default_factory=dict)
    small_input_shape: tuple[int, ...] | tuple[tuple[int, ...], ...] | None = None
    small_kwargs: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""
    family: str = ""

    @property
    def has_classes(self) -> bool:
        """Whether the model is a classifier (its builder takes ``num_classes``)."""
        return self.default_num_classes is not None

    @property
    def num_inputs(self) -> int:
        """How many tensors ``forward`` takes (2 for a model fed ``(rgb, flow)``)."""
        shape = self.small_input_shape or self.input_shape
        return len(shape) if shape and isinstance(shape[0], tuple) else 1


_REGISTRY: dict[str, ModelInfo] = {}
_LOADED_WINGS: set[str] = set()


def _infer_wing(builder: Callable[..., nn.Module], name: str, wing: str | None) -> str:
    """The wing of ``builder``: the package below ``vidlearn`` it is defined in, or ``wing`` if given."""
    parts = (getattr(builder, "__module__", None) or "").split(".")
    inferred = parts[1] if len(parts) > 2 and parts[0] == "vidlearn" and parts[1] in WINGS else None
    if wing is not None:
        if wing not in WINGS:
            raise ValueError(f"model {name!r}: unknown wing {wing!r}; known wings: {', '.join(WINGS)}")
        if inferred is not None and inferred != wing:
            raise ValueError(f"model {name!r} is defined in {builder.__module__} (wing {inferred!r}), "
                             f"not in wing {wing!r}")
        return wing
    if inferred is None:
        raise ValueError(
            f"model {name!r}: cannot infer its wing from module {builder.__module__!r}; define the builder "
            f"in vidlearn.<wing>.models ({', '.join(WINGS)}) or pass wing= (for a model defined elsewhere)"
        )
    return inferred


def register_model(
    name: str,
    *,
    paper: str,
    input_shape: Sequence[int] | Sequence[Sequence[int]],
    default_num_classes: int | None = None,
    weights: Sequence[WeightsSpec] = (),
    small_input_shape: Sequence[int] | Sequence[Sequence[int]] | None = None,
    small_kwargs: Mapping[str, Any] | None = None,
    description: str = "",
    family: str = "",
    wing: str | None = None,
) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Decorator registering a model builder under ``name``.

    ``input_shape`` is the paper's input without the batch dimension, ``(C, T, H, W)`` for clip
    models; a model whose ``forward`` takes several tensors (two-stream ``(rgb, flow)``) gives a tuple
    of shapes, one per tensor. ``default_num_classes`` is the paper's class count for a classifier,
    whose builder takes ``num_classes``; leave it ``None`` for a model without classes, whose builder
    is then never given ``num_classes``. ``small_kwargs`` are builder keywords of a CPU-sized variant
    run on ``small_input_shape`` (see :class:`ModelInfo`).

    The wing is inferred from the builder's module (``vidlearn.recognition.models.c3d`` ->
    ``"recognition"``); ``wing`` is for a builder defined outside vidlearn's wing packages.
    """
    if default_num_classes is not None and (isinstance(default_num_classes, bool)
                                            or not isinstance(default_num_classes, int) or default_num_classes < 1):
        raise ValueError(f"model {name!r}: default_num_classes must be a positive int or None, "
                         f"got {default_num_classes!r}")

    def decorate(builder: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if name in _REGISTRY and _REGISTRY[name].builder is not builder:
            raise ValueError(f"model name {name!r} is already registered")
        _REGISTRY[name] = ModelInfo(
            name=name,
            wing=_infer_wing(builder, name, wing),
            builder=builder,
            paper=paper,
            input_shape=_as_shape(input_shape),
            default_num_classes=default_num_classes,
            weights={spec.name: spec for spec in weights},
            small_input_shape=_as_shape(small_input_shape) if small_input_shape else None,
            small_kwargs=dict(small_kwargs or {}),
            description=description or _first_line(builder.__doc__),
            family=family or name,
        )
        return builder

    return decorate


def unregister_model(name: str) -> ModelInfo:
    """Remove ``name`` from the registry and return its info (tests register throwaway models)."""
    try:
        return _REGISTRY.pop(name)
    except KeyError:
        raise KeyError(f"model {name!r} is not registered") from None


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
    """Sorted names of the registered models, optionally of one wing only (``[]`` for a wing without models)."""
    if wing is not None and wing not in WINGS:
        raise ValueError(f"unknown wing {wing!r}; known wings: {', '.join(WINGS)}")
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
        num_classes: size of the classifier; defaults to the model's paper setting. Only for a model
            with classes: giving it to one without is an error.
        weights: path of a checkpoint file (vidlearn's safetensors or a published layout), loaded
            strictly by :func:`vidlearn.models.load_weights`. Nothing is downloaded.
        **kwargs: passed to the builder.
    """
    info = get_model_info(name)
    if info.has_classes:
        kwargs["num_classes"] = info.default_num_classes if num_classes is None else num_classes
    elif num_classes is not None:
        raise ValueError(f"model {name!r} ({info.wing}) has no classes; drop num_classes={num_classes!r}")
    model = info.builder(**kwargs)
    # The registry name goes into saved files; the family lets load_weights pick this family's layouts.
    model.vidlearn_name = name
    model.vidlearn_family = info.family
    if weights is not None:
        load_weights(model, weights)
    return model
