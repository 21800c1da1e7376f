"""Model registry, weights specs and checkpoint loading shared by every wing.

Wings register their models with :func:`register_model`; users call :func:`create`,
:func:`list_models` and :func:`load_weights`.
"""

from vidlearn.models.registry import (
    ModelInfo,
    Preprocessing,
    WeightsSpec,
    create,
    get_model_info,
    list_models,
    register_model,
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
    "CheckpointLayout",
    "CheckpointLoadError",
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
]
