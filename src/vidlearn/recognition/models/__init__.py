"""The recognition model zoo. Importing this package registers every model with
:mod:`vidlearn.models` (``vidlearn.models.create("c3d", num_classes=101)``).

Every model takes ``float (B, C, T, H, W)`` and returns logits ``(B, num_classes)``; it also answers
:class:`vidlearn.models.ClassifierMixin`'s interface: ``forward_features(x, *, layer=None) -> (B, D)``,
``get_classifier()`` and ``reset_classifier(num_classes)``.
"""

import importlib

MODEL_MODULES = ("c3d", "c3d_keras", "i3d", "torchvision_video", "fusion", "two_stream", "lrcn", "t3d")

for _name in MODEL_MODULES:
    try:
        importlib.import_module(f"{__name__}.{_name}")
    except ModuleNotFoundError as _error:  # a family not written yet must not break the others
        if _error.name != f"{__name__}.{_name}":
            raise
