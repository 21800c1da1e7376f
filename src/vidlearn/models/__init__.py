"""Model registry, weights specs and checkpoint loading shared by every wing.

Wings register their models with :func:`register_model`; users call :func:`create`,
:func:`list_models` and :func:`load_weights`. Classification models answer one small interface,
:class:`ClassifierMixin` (``forward_features``, ``get_classifier``, ``reset_classifier``).
"""

from vidlearn.models.classifier import Classifier, ClassifierMixin
from vidlearn.models.registry import (
    WINGS,
    ModelInfo,
    Preprocessing,
    WeightsSpec,
    create,
    get_model_info,
    list_models,
    register_model,
    unregister_model,
)
from vidlearn.models.weights import (
    CheckpointLayout,
    CheckpointLoadError,
    load_weights,
    read_checkpoint,
    register_layout,
    save_weights,
)

__all__ = [
    "WINGS",
    "CheckpointLayout",
    "CheckpointLoadError",
    "Classifier",
    "ClassifierMixin",
    "ModelInfo",
    "Preprocessing",
    "WeightsSpec",
    "create",
    "get_model_info",
    "list_models",
    "load_weights",
    "read_checkpoint",
    "register_layout",
    "register_model",
    "save_weights",
    "unregister_model",
]
