"""The recognition preprocessing protocol: from a recipe or a weights spec to the clip pipeline.

A set of weights expects its input prepared one way (:class:`vidlearn.models.Preprocessing`: value
range, mean, std, channel order, clip size); :func:`build_clip_transform` turns that into the
standard train or test pipeline of :mod:`vidlearn.video.transforms`. :func:`preprocessing_of` reads
it from a recipe's ``data.preprocessing`` section, with the pixel values left unset there taken from
the weights spec named by ``model.preprocessing`` (see :class:`~vidlearn.recognition.recipe.PreprocessingConfig`).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from vidlearn.models import Preprocessing, get_model_info
from vidlearn.recognition.recipe import DEFAULT_PIXELS, RecognitionConfig
from vidlearn.video.transforms import (
    CenterCrop,
    Compose,
    MultiScaleCrop,
    Normalize,
    RandomCrop,
    RandomHorizontalFlip,
    ResizeShortSide,
    TenCrop,
    ThreeCrop,
    ToCTHW,
    ToTCHW,
)

__all__ = ["build_clip_transform", "clip_transform_of", "preprocessing_of"]


def build_clip_transform(
    preprocessing: Preprocessing,
    *,
    train: bool,
    num_crops: int = 1,
    multi_scale_crop: bool = False,
    flip: bool = True,
    input_layout: str = "THWC",
    antialias: bool = True,
) -> Compose:
    """The standard pipeline for a set of weights' :class:`~vidlearn.models.Preprocessing`.

    train: ``ResizeShortSide -> RandomCrop`` (or TSN ``MultiScaleCrop``) ``-> RandomHorizontalFlip ->
    Normalize -> ToCTHW``, giving ``float (C, T, crop, crop)``; ``flip=False`` leaves the flip out.
    test: ``ResizeShortSide -> CenterCrop | ThreeCrop | TenCrop`` (``num_crops`` 1, 3 or 10) ``->
    Normalize -> ToCTHW``, giving ``(C, T, crop, crop)`` or ``(num_crops, C, T, crop, crop)``.

    The resize is skipped when ``preprocessing.resize_short_side`` is None. Input is the reader's
    ``(T, H, W, C)`` (``input_layout="THWC"``) or ``(T, C, H, W)`` (``"TCHW"``). Flow weights
    (``modality="flow"``) flip with the x component negated and resize with displacements rescaled.
    """
    if input_layout not in ("THWC", "TCHW"):
        raise ValueError(f"input_layout must be 'THWC' or 'TCHW', got {input_layout!r}")
    if num_crops not in (1, 3, 10):
        raise ValueError(f"num_crops must be 1, 3 or 10, got {num_crops!r}")
    if train and num_crops != 1:
        raise ValueError(f"num_crops={num_crops} is a test-time protocol; training uses one crop")
    is_flow = preprocessing.modality == "flow"
    crop = preprocessing.crop_size
    steps: list[Callable[[torch.Tensor], torch.Tensor]] = []
    if input_layout == "THWC":
        steps.append(ToTCHW())
    if preprocessing.resize_short_side is not None:
        steps.append(ResizeShortSide(preprocessing.resize_short_side, antialias=antialias, flow=is_flow))
    if train:
        if multi_scale_crop:
            steps.append(MultiScaleCrop(crop, antialias=antialias, flow=is_flow))
        else:
            steps.append(RandomCrop(crop))
        if flip:
            steps.append(RandomHorizontalFlip(flow=is_flow))
    elif num_crops == 1:
        steps.append(CenterCrop(crop))
    elif num_crops == 3:
        steps.append(ThreeCrop(crop))
    else:
        steps.append(TenCrop(crop, flow=is_flow))
    steps.append(
        Normalize(
            preprocessing.mean,
            preprocessing.std,
            channel_order=preprocessing.channel_order,
            value_range=preprocessing.value_range,
        )
    )
    steps.append(ToCTHW())
    return Compose(steps)


def preprocessing_of(cfg: RecognitionConfig) -> Preprocessing:
    """The :class:`Preprocessing` a recipe describes.

    Geometry, clip length and modality come from ``cfg.data``. Each pixel value (``mean``, ``std``,
    ``channel_order``, ``value_range``) is, in order of precedence: the one set in
    ``data.preprocessing``; the weights spec's named by ``model.preprocessing``; the default
    (:data:`~vidlearn.recognition.recipe.DEFAULT_PIXELS`). An unknown spec name raises ``ValueError``
    listing the model's specs.
    """
    data, pre = cfg.data, cfg.data.preprocessing
    pixels = dict(DEFAULT_PIXELS)
    if cfg.model.preprocessing:
        info = get_model_info(cfg.model.name)
        if cfg.model.preprocessing not in info.weights:
            known = ", ".join(sorted(info.weights)) or "none"
            raise ValueError(f"model.preprocessing: {cfg.model.name} has no weights spec "
                             f"{cfg.model.preprocessing!r} (known: {known})")
        spec = info.weights[cfg.model.preprocessing].preprocessing
        pixels = {key: getattr(spec, key) for key in pixels}
    for key in pixels:
        if getattr(pre, key) is not None:
            pixels[key] = getattr(pre, key)
    return Preprocessing(
        mean=tuple(pixels["mean"]),
        std=tuple(pixels["std"]),
        channel_order=pixels["channel_order"],
        value_range=tuple(pixels["value_range"]),  # type: ignore[arg-type]
        clip_length=data.clip_len,
        frame_interval=data.frame_interval,
        resize_short_side=pre.resize_short_side,
        crop_size=pre.crop_size,
        modality=data.modality,
    )


def clip_transform_of(cfg: RecognitionConfig, *, train: bool, num_crops: int = 1) -> Compose:
    """The recipe's training (random crop, flip, multi-scale crop as set) or test pipeline."""
    pre = cfg.data.preprocessing
    return build_clip_transform(
        preprocessing_of(cfg),
        train=train,
        num_crops=num_crops,
        multi_scale_crop=pre.multi_scale_crop and train,
        flip=pre.flip,
        input_layout="TCHW" if cfg.data.modality == "flow" else "THWC",
    )
