"""The recognition recipe: the YAML schema behind ``vidlearn train`` / ``evaluate`` / ``predict``.

A recipe has the sections ``model``, ``data``, ``optim``, ``schedule``, ``train`` and ``evaluate``;
``optim``, ``schedule`` and ``train`` are the engine's (:mod:`vidlearn.engine.config`). Recipes in
``configs/`` are named as MMAction2 names its configs::

    <model>_<pretraining>_<clip_len>x<frame_interval>x<num_clips>_<dataset>-<split>.yaml

and any key can be overridden on the command line: ``vidlearn train RECIPE optim.lr=0.01``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from vidlearn.engine.config import OptimConfig, ScheduleConfig, TrainerConfig, load_config

__all__ = [
    "DataConfig",
    "EvaluateConfig",
    "ModelConfig",
    "RecognitionConfig",
    "SyntheticConfig",
    "load_recipe",
]


@dataclass
class ModelConfig:
    """Which registered model to build (``vidlearn models`` lists them).

    ``num_classes`` defaults to the dataset's class count. ``weights`` initialises from a checkpoint
    file (any layout :func:`vidlearn.models.load_weights` knows); ``allow_missing`` names modules
    left freshly initialised (e.g. ``[fc8]`` to fine-tune a Sports-1M C3D on UCF-101).
    ``preprocessing`` names a weights spec of the model whose preprocessing (mean, std, channel
    order, value range) the data pipeline then uses.
    """

    name: str = "c3d"
    num_classes: int | None = None
    kwargs: dict[str, Any] = field(default_factory=dict)
    weights: str | None = None
    allow_missing: list[str] = field(default_factory=list)
    preprocessing: str | None = None


@dataclass
class SyntheticConfig:
    """The built-in motion dataset (:mod:`vidlearn.synthetic`), written to ``data.root`` when absent."""

    preset: str = "motion8"
    num_train: int = 480
    num_test: int = 160
    num_frames: int = 16
    size: tuple[int, int] = (32, 32)
    fps: int = 25
    seed: int = 0


@dataclass
class DataConfig:
    """Where the videos are and how clips are cut from them.

    ``format``: ``ucf101`` / ``hmdb51`` (``annotations`` = the split-file folder, ``split`` 1-3),
    ``kinetics`` (``annotations`` = the CSV folder or file), ``sports1m`` (the JSON file), ``list``
    (MMAction2 list files ``train_list`` / ``val_list``, relative to ``root``), ``folder`` (a folder per
    class under ``root/train`` and ``root/val``) or ``synthetic`` (the built-in motion dataset).
    Pixels: ``value_range``, ``mean``, ``std`` and ``channel_order`` as in
    :class:`vidlearn.models.Preprocessing`.
    """

    format: Literal["ucf101", "hmdb51", "kinetics", "sports1m", "list", "folder", "synthetic"] = "list"
    root: str = ""
    annotations: str = ""
    split: int = 1
    train_list: str = "train.txt"
    val_list: str = "test.txt"
    classes: str | None = None
    modality: Literal["rgb", "flow"] = "rgb"
    flow_root: str | None = None
    clip_len: int = 16
    frame_interval: int = 1
    decode_size: int | None = None
    resize_short_side: int | None = 128
    crop_size: int = 112
    multi_scale_crop: bool = False
    flip: bool = True
    mean: tuple[float, ...] = (0.485, 0.456, 0.406)
    std: tuple[float, ...] = (0.229, 0.224, 0.225)
    channel_order: Literal["RGB", "BGR"] = "RGB"
    value_range: tuple[float, float] = (0.0, 1.0)
    batch_size: int = 8
    num_workers: int = 2
    on_error: Literal["raise", "skip"] = "raise"
    synthetic: SyntheticConfig = field(default_factory=SyntheticConfig)


@dataclass
class EvaluateConfig:
    """The test protocol: ``num_clips x num_crops`` views per video, scores averaged per video.

    ``val_num_clips`` is the cheaper protocol run after every training epoch. ``average``: ``prob``
    (softmax, MMAction2's default) or ``score`` (logits). ``chunk_size`` views go through the model at a
    time, which bounds memory whatever ``num_clips`` is.
    """

    num_clips: int = 10
    num_crops: int = 1
    val_num_clips: int = 1
    average: Literal["prob", "score"] = "prob"
    chunk_size: int = 8
    num_workers: int = 2


@dataclass
class RecognitionConfig:
    """A full recognition recipe."""

    name: str = ""
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    train: TrainerConfig = field(default_factory=TrainerConfig)
    evaluate: EvaluateConfig = field(default_factory=EvaluateConfig)


def load_recipe(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> RecognitionConfig:
    """Load and validate a recognition recipe with ``key=value`` overrides.

    Raises :class:`vidlearn.engine.config.ConfigError` naming the key, the file and, for a misspelt
    key, the closest valid one. ``name`` defaults to the file's stem.
    """
    cfg = load_config(path, RecognitionConfig, list(overrides))
    if not cfg.name:
        cfg.name = Path(path).stem
    return cfg
