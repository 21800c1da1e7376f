"""The recognition recipe: the YAML schema behind ``vidlearn train`` / ``evaluate`` / ``predict``.

A recipe names its wing (``task: recognition``; a recipe without ``task`` is a recognition recipe)
and has the sections ``model``, ``data`` (with its ``preprocessing`` subsection), ``optim``,
``schedule``, ``train`` and ``evaluate``; ``optim``, ``schedule`` and ``train`` are the engine's
(:mod:`vidlearn.engine.config`). Recipes live in ``configs/recognition/<family>/`` and are named as
MMAction2 names its configs::

    <model>_<pretraining>_<clip_len>x<frame_interval>x<num_clips>_<dataset>-<split>.yaml

and any key can be overridden on the command line: ``vidlearn train RECIPE optim.lr=0.01``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

from vidlearn.engine.config import (
    ConfigError,
    OptimConfig,
    ScheduleConfig,
    TrainerConfig,
    apply_overrides,
    config_from_dict,
    load_yaml_recipe,
)

__all__ = [
    "DEFAULT_PIXELS",
    "DataConfig",
    "EvaluateConfig",
    "ModelConfig",
    "PreprocessingConfig",
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
    ``preprocessing`` names a weights spec of the model whose pixel values (mean, std, channel
    order, value range) the data pipeline uses wherever ``data.preprocessing`` leaves them unset
    (see :class:`PreprocessingConfig`).
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


#: The pixel values a recipe gets when neither it nor a weights spec (``model.preprocessing``) sets them.
DEFAULT_PIXELS: dict[str, Any] = {
    "mean": (0.485, 0.456, 0.406),
    "std": (0.229, 0.224, 0.225),
    "channel_order": "RGB",
    "value_range": (0.0, 1.0),
}


@dataclass
class PreprocessingConfig:
    """How decoded frames become the model's input: geometry, augmentation and pixel values.

    Geometry: frames are resized to ``resize_short_side`` (None: no resize), then cut to
    ``crop_size`` squares (random crops in training, TSN multi-scale crops with
    ``multi_scale_crop``; centre, three or ten crops at test time); ``flip`` mirrors training clips
    at random (off for classes that a mirror image changes, such as "move left").

    Pixel values, as in :class:`vidlearn.models.Preprocessing`: scale to ``value_range``, then
    ``(x - mean) / std`` per channel in ``channel_order``. Each of these four keys left unset (null)
    takes its value from the weights spec named by ``model.preprocessing`` when there is one, else
    from :data:`DEFAULT_PIXELS` (ImageNet mean and std, RGB, [0, 1]). A key set in the recipe always
    wins over the spec.
    """

    resize_short_side: int | None = 128
    crop_size: int = 112
    flip: bool = True
    multi_scale_crop: bool = False
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    channel_order: Literal["RGB", "BGR"] | None = None
    value_range: tuple[float, float] | None = None


@dataclass
class DataConfig:
    """Where the videos are and how clips are cut from them.

    ``format``: ``ucf101`` / ``hmdb51`` (``annotations`` = the split-file folder, ``split`` 1-3),
    ``kinetics`` (``annotations`` = the CSV folder or file), ``sports1m`` (the JSON file), ``list``
    (MMAction2 list files ``train_list`` / ``val_list``, relative to ``root``), ``folder`` (a folder per
    class under ``root/train`` and ``root/val``) or ``synthetic`` (the built-in motion dataset).
    ``pad``: what to do with a video shorter than one clip (``clip_len x frame_interval`` frames):
    ``error`` (the default: it is reported, or skipped with ``on_error: skip``), ``loop`` (its frames
    repeated from the start) or ``repeat_last`` (its last frame repeated), in training and testing.
    ``split``: the official split (1-3) of UCF-101 / HMDB51; for Kinetics the held-out part, ``val``
    (the default) or ``test``.
    ``probe``: read every video's frame count (and its frame table) once, through the metadata index
    kept in the dataset's folder (``.vidlearn_index.json``), and hand it to the reader, which then opens
    a file without demuxing it again; unreadable and too-short videos are set aside before training.
    ``decode_size`` asks the decoder for smaller frames (an int for the short side);
    ``preprocessing`` turns them into model input (:class:`PreprocessingConfig`).
    """

    format: Literal["ucf101", "hmdb51", "kinetics", "sports1m", "list", "folder", "synthetic"] = "list"
    root: str = ""
    annotations: str = ""
    split: int | Literal["train", "val", "test"] = 1
    train_list: str = "train.txt"
    val_list: str = "test.txt"
    classes: str | None = None
    modality: Literal["rgb", "flow"] = "rgb"
    flow_root: str | None = None
    clip_len: int = 16
    frame_interval: int = 1
    pad: Literal["error", "loop", "repeat_last"] = "error"
    decode_size: int | None = None
    preprocessing: PreprocessingConfig = field(default_factory=PreprocessingConfig)
    batch_size: int = 8
    num_workers: int = 2
    on_error: Literal["raise", "skip"] = "raise"
    probe: bool = False
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

    task: Literal["recognition"] = "recognition"
    name: str = ""
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    train: TrainerConfig = field(default_factory=TrainerConfig)
    evaluate: EvaluateConfig = field(default_factory=EvaluateConfig)


#: Keys that moved from ``data`` into ``data.preprocessing``.
MOVED_DATA_KEYS = tuple(f.name for f in fields(PreprocessingConfig))


def _check_moved_keys(data: dict[str, Any], overrides: list[str], path: str | Path) -> None:
    """A recipe or override using a pixel key at its old place ``data.KEY`` fails naming the new one."""
    section = data.get("data")
    if isinstance(section, dict):
        for key in MOVED_DATA_KEYS:
            if key in section:
                raise ConfigError(f"{path}: data.{key} moved to data.preprocessing.{key}")
    for text in overrides:
        key = text.partition("=")[0].strip()
        if key.startswith("data.") and key.split(".")[1] in MOVED_DATA_KEYS:
            raise ConfigError(f"override {text!r}: data.{key.split('.')[1]} moved to "
                              f"data.preprocessing.{key.split('.')[1]}")


def _field_type(keys: list[str]) -> Any:
    """The declared type of a dotted recipe key, or None when it names no field."""
    import typing

    schema: Any = RecognitionConfig
    hint: Any = None
    for key in keys:
        if not (isinstance(schema, type) and hasattr(schema, "__dataclass_fields__")):
            return None
        hint = typing.get_type_hints(schema).get(key)
        if hint is None:
            return None
        schema = hint
    return hint


def _empty_strings(overrides: list[str]) -> list[str]:
    """``key=`` for a text key is the empty string (YAML would read it as null, which a text key refuses)."""
    result = []
    for text in overrides:
        key, equals, value = text.partition("=")
        if equals and not value.strip() and _field_type(key.strip().split(".")) is str:
            text = f"{key}=''"
        result.append(text)
    return result


def load_recipe(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> RecognitionConfig:
    """Load and validate a recognition recipe with ``key=value`` overrides.

    Raises :class:`vidlearn.engine.config.ConfigError` naming the key, the file and, for a misspelt
    key, the closest valid one; a pixel key at its old place (``data.mean``) names its new place
    (``data.preprocessing.mean``). ``name`` defaults to the file's stem.
    """
    overrides = _empty_strings(list(overrides))
    data = load_yaml_recipe(path)
    _check_moved_keys(data, overrides, path)
    source = str(path)
    if overrides:
        data = apply_overrides(data, overrides, RecognitionConfig)
        source = f"{path} (with overrides {' '.join(overrides)})"
    cfg = config_from_dict(data, RecognitionConfig, source=source)
    if not cfg.name:
        cfg.name = Path(path).stem
    return cfg
