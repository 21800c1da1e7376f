"""Build a recipe's data and model: the dataset of a split and the registered network.

``build_dataset(cfg, train=...)`` gives the training or test split named by ``cfg.data`` with its clip
sampler and the recipe's transform (:mod:`vidlearn.recognition.preprocessing`); ``build_model``
creates the recipe's registered model, with initial weights when ``model.weights`` is set.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch import nn

from vidlearn.models import create, load_weights
from vidlearn.recognition.datasets import VideoClipDataset
from vidlearn.recognition.preprocessing import clip_transform_of
from vidlearn.recognition.recipe import DataConfig, RecognitionConfig
from vidlearn.video.sampling import CenterClipSampler, RandomClipSampler

__all__ = ["build_dataset", "build_model"]


def _ensure_synthetic(data: DataConfig) -> None:
    from vidlearn.synthetic import write_motion_dataset

    syn = data.synthetic
    write_motion_dataset(
        data.root,
        preset=syn.preset,
        num_train=syn.num_train,
        num_test=syn.num_test,
        num_frames=syn.num_frames,
        size=tuple(syn.size),
        fps=syn.fps,
        seed=syn.seed,
        workers=max(1, data.num_workers),
    )


def build_dataset(cfg: RecognitionConfig, *, train: bool, sampler: Any = None, transform: Any = None) -> VideoClipDataset:
    """The training (``train=True``) or test split named by ``cfg.data``, with a sampler and transform.

    By default training clips are random ``clip_len x frame_interval`` windows with the training
    transform; the test split gets one centre clip with the centre-crop transform.
    """
    from vidlearn.recognition import datasets

    data = cfg.data
    root = Path(data.root)
    if not data.root:
        raise ValueError("data.root is not set: name the dataset folder (data.root=PATH)")
    if data.format == "synthetic":
        _ensure_synthetic(data)
    elif not root.is_dir():
        raise FileNotFoundError(f"dataset root not found: {root} (data.root)")
    if sampler is None:
        sampler = (RandomClipSampler if train else CenterClipSampler)(data.clip_len, data.frame_interval)
    if transform is None:
        transform = clip_transform_of(cfg, train=train)
    common: dict[str, Any] = dict(
        sampler=sampler,
        transform=transform,
        modality=data.modality,
        flow_root=data.flow_root,
        size=data.decode_size,
        on_error=data.on_error,
        seed=cfg.train.seed,
    )
    fmt = data.format
    if fmt == "ucf101":
        return datasets.UCF101(root, data.annotations, split=data.split, train=train, **common)
    if fmt == "hmdb51":
        return datasets.HMDB51(root, data.annotations, split=data.split, train=train, **common)
    if fmt == "kinetics":
        return datasets.Kinetics(root, data.annotations, split="train" if train else "val",
                                 num_classes=cfg.model.num_classes or 400, **common)
    if fmt == "sports1m":
        return datasets.Sports1M(root, data.annotations, split="train" if train else "test", **common)
    if fmt == "folder":
        return datasets.VideoFolder(root / ("train" if train else "val"), **common)
    list_file = root / (data.train_list if train else data.val_list)
    classes = data.classes or (str(root / "classes.txt") if (root / "classes.txt").is_file() else None)
    return datasets.VideoListDataset(list_file, root, classes=classes, **common)


def build_model(cfg: RecognitionConfig, num_classes: int) -> nn.Module:
    """``vidlearn.models.create`` from the recipe, with initial weights when ``model.weights`` is set."""
    model = create(cfg.model.name, num_classes=cfg.model.num_classes or num_classes, **cfg.model.kwargs)
    if cfg.model.weights:
        load_weights(model, cfg.model.weights, allow_missing=tuple(cfg.model.allow_missing))
    return model
