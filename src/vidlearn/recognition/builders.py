"""Build a recipe's data and model: the dataset of a split and the registered network.

``build_dataset(cfg, train=...)`` gives the training or test split named by ``cfg.data`` with its clip
sampler and the recipe's transform (:mod:`vidlearn.recognition.preprocessing`); ``build_model``
creates the recipe's registered model, with initial weights when ``model.weights`` is set.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from vidlearn.models import create, load_weights
from vidlearn.recognition.datasets import VideoClipDataset
from vidlearn.recognition.preprocessing import clip_transform_of
from vidlearn.recognition.recipe import RecognitionConfig
from vidlearn.video.sampling import CenterClipSampler, RandomClipSampler

__all__ = ["build_dataset", "build_model", "check_model_kwargs"]


def build_dataset(cfg: RecognitionConfig, *, train: bool, sampler: Any = None, transform: Any = None) -> VideoClipDataset:
    """The training (``train=True``) or test split named by ``cfg.data``, with a sampler and transform.

    By default training clips are random ``clip_len x frame_interval`` windows with the training
    transform; the test split gets one centre clip with the centre-crop transform.
    """
    from vidlearn.recognition.datasets.formats import build_format_dataset

    data = cfg.data
    if sampler is None:
        sampler = (RandomClipSampler if train else CenterClipSampler)(data.clip_len, data.frame_interval, pad=data.pad)
    if transform is None:
        transform = clip_transform_of(cfg, train=train)
    return build_format_dataset(
        data,
        train=train,
        num_classes=cfg.model.num_classes,
        sampler=sampler,
        transform=transform,
        modality=data.modality,
        flow_root=data.flow_root,
        size=data.decode_size,
        on_error=data.on_error,
        seed=cfg.train.seed,
        probe=data.probe,
    )


def check_model_kwargs(name: str, kwargs: dict[str, Any]) -> None:
    """Raise :class:`~vidlearn.engine.config.ConfigError` for a ``model.kwargs`` key the builder does not
    take, naming the closest one it takes (a builder with ``**kwargs`` is not checked)."""
    import difflib
    import inspect

    from vidlearn.engine.config import ConfigError
    from vidlearn.models import get_model_info

    parameters = inspect.signature(get_model_info(name).builder).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return
    valid = [key for key in parameters if key != "num_classes"]
    for key in kwargs:
        if key not in parameters:
            close = difflib.get_close_matches(key, valid, n=1)
            hint = f"; did you mean {close[0]}?" if close else ""
            raise ConfigError(f"model.kwargs.{key}: model {name!r} takes no option {key!r}{hint} "
                              f"(its options: {', '.join(valid) or 'none'})")


def build_model(cfg: RecognitionConfig, num_classes: int) -> nn.Module:
    """``vidlearn.models.create`` from the recipe, with initial weights when ``model.weights`` is set."""
    check_model_kwargs(cfg.model.name, cfg.model.kwargs)
    model = create(cfg.model.name, num_classes=cfg.model.num_classes or num_classes, **cfg.model.kwargs)
    if cfg.model.weights:
        load_weights(model, cfg.model.weights, allow_missing=tuple(cfg.model.allow_missing))
    return model
