"""The interface every classification model answers: features, the head, and a fresh head.

timm's models share one small interface (``forward_features``, ``get_classifier``,
``reset_classifier``); vidlearn's classifiers do too, through :class:`ClassifierMixin`. A model names
its head (``classifier_name``, a dotted submodule path such as ``"fc8"`` or ``"classifier.1"``; a
mapping for a model with several heads, e.g. a two-stream network) and, if it has any, its named
feature layers; the mixin answers ``get_classifier`` and ``reset_classifier`` from that, so no model
writes its own copy. Models without classes (super-resolution, tracking) do not use it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar, Protocol, runtime_checkable

import torch
from torch import nn

__all__ = ["Classifier", "ClassifierMixin"]


@runtime_checkable
class Classifier(Protocol):
    """What a caller may rely on for any classification model (type hints, ``isinstance`` checks)."""

    feature_layers: tuple[str, ...]

    def forward_features(self, *inputs: torch.Tensor, layer: str | None = None) -> torch.Tensor: ...

    def get_classifier(self) -> nn.Module: ...

    def reset_classifier(self, num_classes: int) -> None: ...


def _fresh_head(old: nn.Module, num_classes: int, owner: str) -> nn.Module:
    """A new, freshly initialised head like ``old`` (same type, inputs, kernel, bias, device, dtype)."""
    weight = getattr(old, "weight", None)
    factory = {"device": weight.device, "dtype": weight.dtype} if isinstance(weight, torch.Tensor) else {}
    if isinstance(old, nn.Linear):
        return nn.Linear(old.in_features, num_classes, bias=old.bias is not None, **factory)
    if isinstance(old, (nn.Conv1d, nn.Conv2d, nn.Conv3d)):
        return type(old)(old.in_channels, num_classes, old.kernel_size, stride=old.stride, padding=old.padding,
                         dilation=old.dilation, bias=old.bias is not None, **factory)
    raise TypeError(f"{owner}: cannot rebuild a classifier of type {type(old).__name__} "
                    "(only Linear and ConvNd heads); override reset_classifier")


class ClassifierMixin:
    """``get_classifier`` / ``reset_classifier`` and feature-layer checking for an ``nn.Module``.

    Mix in before ``nn.Module`` (``class C3D(ClassifierMixin, nn.Module)``) and set:

    * ``classifier_name``: the dotted path of the head (``"fc8"``, ``"classifier.1"``), or a mapping
      ``{key: path}`` for several heads (``get_classifier`` then returns an ``nn.ModuleDict`` by key).
    * ``feature_layers``: the names ``forward_features(x, layer=...)`` accepts (C3D: ``fc6``,
      ``fc7``); empty for a model with one feature output. ``layer=None`` always means the default.

    The model implements ``forward_features(x, *, layer=None) -> (B, D)`` (two-input models take
    ``(rgb, flow, *, layer=None)``) and calls :meth:`_feature_layer` to validate ``layer``. A model
    whose new head needs its own initialisation overrides :meth:`_init_classifier`.
    """

    classifier_name: ClassVar[str | Mapping[str, str]] = "classifier"
    feature_layers: ClassVar[tuple[str, ...]] = ()

    def _classifier_paths(self) -> dict[str, str]:
        name = self.classifier_name
        return {name: name} if isinstance(name, str) else dict(name)

    def get_classifier(self) -> nn.Module:
        """The classification head (an ``nn.ModuleDict`` by key for a model with several heads)."""
        module: nn.Module = self  # type: ignore[assignment]
        if isinstance(self.classifier_name, str):
            return module.get_submodule(self.classifier_name)
        return nn.ModuleDict({key: module.get_submodule(path) for key, path in self._classifier_paths().items()})

    def reset_classifier(self, num_classes: int) -> None:
        """Replace every head by a freshly initialised one with ``num_classes`` outputs.

        The new head has the old one's type, inputs, kernel, bias, device and dtype; only its output
        size changes (fine-tuning on another label set).
        """
        owner = type(self).__name__
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
            raise ValueError(f"{owner}.reset_classifier: num_classes must be a positive int, got {num_classes!r}")
        module: nn.Module = self  # type: ignore[assignment]
        for path in self._classifier_paths().values():
            parent_path, _, attr = path.rpartition(".")
            parent = module.get_submodule(parent_path) if parent_path else module
            head = _fresh_head(module.get_submodule(path), num_classes, owner)
            self._init_classifier(head)
            setattr(parent, attr, head)  # nn.Sequential keeps numbered children under their str index

    def _init_classifier(self, head: nn.Module) -> None:
        """Initialise a new head; PyTorch's default initialisation unless a model overrides it."""

    def _feature_layer(self, layer: str | None, default: str | None = None) -> str | None:
        """``layer`` checked against ``feature_layers`` (``None`` gives ``default``)."""
        if layer is None:
            return default
        if layer not in self.feature_layers:
            known = (f"known: {', '.join(self.feature_layers)}" if self.feature_layers
                     else "it has no named feature layers; pass layer=None")
            raise ValueError(f"{type(self).__name__}.forward_features: unknown layer {layer!r}; {known}")
        return layer
