"""The generation recipe: the YAML schema behind ``vidlearn train`` / ``evaluate`` for ``task: generation``.

A recipe has the sections ``model`` (a registered DVD-GAN and whether it has D_T), ``data`` (real
clips: the built-in motion data or any recognition dataset format), ``gan`` (the two Adam optimisers,
D steps per G step, EMA), ``train`` (the engine's) and ``evaluate`` (the metric protocols). Recipes
live in ``configs/generation/dvdgan/`` and are named::

    <model>[-<variant>]_<frames>x<resolution>_<dataset>.yaml

Any key can be overridden on the command line: ``vidlearn train RECIPE gan.d_lr=2e-4``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from vidlearn.engine.config import TrainerConfig, apply_overrides, config_from_dict, load_yaml_recipe

__all__ = [
    "GANConfig",
    "GenerationConfig",
    "GenerationDataConfig",
    "GenerationEvaluateConfig",
    "GenerationModelConfig",
    "MotionDataConfig",
    "ScorerConfig",
    "load_recipe",
]


@dataclass
class GenerationModelConfig:
    """Which registered DVD-GAN to build (``vidlearn models`` lists ``dvdgan_*``).

    ``num_classes`` defaults to the dataset's class count; ``kwargs`` go to the builder (``ch``,
    ``num_frames``, ``k``, ``resolution`` for ``dvdgan_cpu``...); ``temporal_discriminator: false``
    trains without D_T (the paper's ablation).
    """

    name: str = "dvdgan_cpu"
    num_classes: int | None = None
    kwargs: dict[str, Any] = field(default_factory=dict)
    temporal_discriminator: bool = True


@dataclass
class MotionDataConfig:
    """The built-in motion data (:class:`vidlearn.synthetic.SyntheticMotionDataset`), rendered in memory."""

    preset: str = "motion4"
    num_train: int = 1024
    num_test: int = 256
    seed: int = 0


@dataclass
class GenerationDataConfig:
    """The real clips G learns from and FVD compares with.

    ``format``: ``motion`` (the built-in motion data, no files) or any recognition format (``ucf101``,
    ``hmdb51``, ``kinetics``, ``sports1m``, ``list``, ``folder``; ``root``, ``annotations``, ``split``,
    ``train_list``, ``val_list`` and ``classes`` mean what they mean in a recognition recipe). A clip is
    ``clip_len`` frames ``frame_interval`` apart at a random place of the video; its frames are cut to
    the centre square and resized (bilinear, antialiased) to ``resolution`` (DVD-GAN's UCF-101 set-up:
    64), then mapped to [-1, 1].
    """

    format: Literal["motion", "ucf101", "hmdb51", "kinetics", "sports1m", "list", "folder"] = "motion"
    root: str = ""
    annotations: str = ""
    split: int | str = 1
    train_list: str = "train.txt"
    val_list: str = "test.txt"
    classes: str | None = None
    clip_len: int = 8
    frame_interval: int = 1
    resolution: int = 32
    pad: Literal["error", "loop", "repeat_last"] = "error"
    decode_size: int | None = None
    batch_size: int = 16
    num_workers: int = 0
    on_error: Literal["raise", "skip"] = "raise"
    motion: MotionDataConfig = field(default_factory=MotionDataConfig)


@dataclass
class GANConfig:
    """The adversarial optimisation (DVD-GAN, Section 4 / Appendix B: BigGAN's settings).

    Adam for G at ``g_lr`` and for D_S + D_T at ``d_lr``, both with ``betas``; ``d_steps`` D updates
    per G update (each on ``batch_size / d_steps`` real clips); ``ortho_reg`` BigGAN's orthogonal
    regularisation of G (0: off); G's EMA with ``ema_decay`` from ``ema_start_step``. The sample grid
    written after every epoch has ``samples_per_class`` clips per class at ``truncation``.
    """

    g_lr: float = 1e-4
    d_lr: float = 5e-4
    betas: tuple[float, float] = (0.0, 0.999)
    d_steps: int = 1
    ortho_reg: float = 0.0
    ema_decay: float = 0.9999
    ema_start_step: int = 0
    samples_per_class: int = 2
    truncation: float | None = None


@dataclass
class ScorerConfig:
    """A network that scores clips for a metric, and how clips are prepared for it.

    ``name`` is a registered model built with ``num_classes`` and ``kwargs``, loaded from ``weights``
    (a file: any layout :func:`vidlearn.models.load_weights` reads, or a ``model.safetensors`` that
    ``vidlearn train`` wrote, whose own model and options are then used). Clips in [-1, 1] are resized
    to ``resize``, centre-cropped to ``center_crop``, scaled to ``value_range``, reordered to
    ``channel_order`` and normalised by ``mean`` / ``std``, and each frame is shown ``repeat_frames``
    times (a C3D that needs 16 frames on 8-frame clips: 2); ``feature_layer`` (FVD only) is ``logits``
    or ``features``. ``enabled: false`` skips the metric.
    """

    enabled: bool = True
    name: str = "i3d"
    weights: str | None = None
    num_classes: int | None = None
    kwargs: dict[str, Any] = field(default_factory=dict)
    resize: tuple[int, int] | None = (224, 224)
    center_crop: int | None = None
    value_range: tuple[float, float] = (-1.0, 1.0)
    channel_order: Literal["RGB", "BGR"] = "RGB"
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)
    feature_layer: Literal["logits", "features"] = "logits"
    repeat_frames: int = 1


def _inception_default() -> ScorerConfig:
    # The TGAN / DVD-GAN UCF-101 protocol: C3D on 16 frames, 128x171 -> 112 crop, BGR [0, 255] - mean.
    return ScorerConfig(enabled=False, name="c3d", num_classes=101, resize=(128, 171), center_crop=112,
                        value_range=(0.0, 255.0), channel_order="BGR", mean=(90.25, 97.66, 101.41))


def _accuracy_default() -> ScorerConfig:
    return ScorerConfig(enabled=False, name="i3d", resize=None)


@dataclass
class GenerationEvaluateConfig:
    """The metric protocols of ``vidlearn evaluate`` (every choice is written next to every number).

    ``num_samples`` generated clips (and as many real ones from ``real_split`` for FVD), drawn with
    ``z`` from a normal truncated at ``truncation`` (None: untruncated) by a generator seeded with
    ``seed``, classes uniform; ``batch_size`` clips at a time. ``fvd`` (Unterthiner et al. 2018: I3D
    logits, 224x224, [-1, 1]), ``inception`` (the Inception Score with a C3D, Saito et al. 2017) and
    ``accuracy`` (the share of samples a held-out classifier of the same classes recognises as the class
    they were generated for) each have a :class:`ScorerConfig`; IS splits the samples in ``is_splits``.
    ``ema``: score G's EMA copy (the paper samples from it).
    """

    num_samples: int = 2048
    batch_size: int = 16
    truncation: float | None = None
    seed: int = 0
    real_split: Literal["train", "test"] = "train"
    is_splits: int = 10
    ema: bool = True
    fvd: ScorerConfig = field(default_factory=ScorerConfig)
    inception: ScorerConfig = field(default_factory=_inception_default)
    accuracy: ScorerConfig = field(default_factory=_accuracy_default)


@dataclass
class GenerationConfig:
    """A full generation recipe."""

    task: Literal["generation"] = "generation"
    name: str = ""
    model: GenerationModelConfig = field(default_factory=GenerationModelConfig)
    data: GenerationDataConfig = field(default_factory=GenerationDataConfig)
    gan: GANConfig = field(default_factory=GANConfig)
    train: TrainerConfig = field(default_factory=TrainerConfig)
    evaluate: GenerationEvaluateConfig = field(default_factory=GenerationEvaluateConfig)


def load_recipe(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> GenerationConfig:
    """Load and validate a generation recipe with ``key=value`` overrides.

    Raises :class:`vidlearn.engine.config.ConfigError` naming the key and the file (a misspelt key
    names the closest valid one). ``name`` defaults to the file's stem.
    """
    data = load_yaml_recipe(path)
    source = str(path)
    if overrides:
        data = apply_overrides(data, list(overrides), GenerationConfig)
        source = f"{path} (with overrides {' '.join(overrides)})"
    cfg = config_from_dict(data, GenerationConfig, source=source)
    if not cfg.name:
        cfg.name = Path(path).stem
    return cfg
