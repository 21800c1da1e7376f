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
    register_reader,
    save_weights,
)

# Registers the Keras HDF5 reader (.h5, .hdf5, .keras); h5py itself is imported only to read one.
from vidlearn.models import keras as _keras  # noqa: F401  isort: skip

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
    "register_reader",
    "save_weights",
    "unregister_model",
]
