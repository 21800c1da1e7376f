"""The super-resolution recipe: the YAML schema behind ``vidlearn train`` / ``evaluate`` for ``task: superres``.

Sections: ``model`` (a registered name such as ``frvsr_10_128``, ``sisr_3_64``, with builder keyword
arguments), ``data`` (HR sources, clip length, crop, flips, the degradation), ``loss``, ``ema`` (a moving
average of the weights), ``evaluate`` (test sequences and the metric protocol), and the engine's
``optim``, ``schedule`` and ``train``.
Recipes live in ``configs/superres/frvsr/`` and are named
``<model>_<training data>_<degradation>-x<scale>_<clip>x<crop>[_cpu].yaml``.

Sources are strings: ``synthetic`` (scenes rendered at the HR size, the embedded default), a video
file, a frame folder, or a root of sequences (Vid4, REDS, Vimeo-90K layouts; see
:mod:`vidlearn.superres.data`). A source named twice is drawn twice as often.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from vidlearn.engine.config import (
    OptimConfig,
    ScheduleConfig,
    TrainerConfig,
    apply_overrides,
    config_from_dict,
    load_yaml_recipe,
)
from vidlearn.superres.degrade import Degradation

__all__ = ["DataConfig", "DegradationConfig", "EmaConfig", "EvaluateConfig", "LossConfig", "ModelConfig",
           "SuperresConfig", "load_recipe"]


@dataclass
class ModelConfig:
    """A registered super-resolution model (``vidlearn models superres``) and its builder options.

    ``kwargs`` go to the builder (``scale`` comes from ``data.degradation.scale``), e.g.
    ``{num_filters: 32, lr_skip: bicubic}``; ``weights`` initialises from a checkpoint file; ``fnet_weights``
    initialises FRVSR's FNet alone from a state dict file (loaded strictly), such as the one
    ``vidlearn.superres.fnet_pretrain.pretrain_fnet`` (``vidlearn superres pretrain-fnet``) writes;
    ``srnet_weights`` initialises FRVSR's SRNet from a per-frame SISR checkpoint of the same size
    (:func:`vidlearn.superres.training.load_srnet_from_sisr`); ``freeze_fnet`` keeps FRVSR's FNet fixed (no
    gradient, not in the optimiser), as for an FNet pre-trained towards a classical flow: trained jointly on a
    short budget it drifts from its teacher (``configs/superres/frvsr/README.md``).
    """

    name: str = "frvsr_10_128"
    kwargs: dict[str, Any] = field(default_factory=dict)
    weights: str | None = None
    fnet_weights: str | None = None
    srnet_weights: str | None = None
    freeze_fnet: bool = False


@dataclass
class DegradationConfig:
    """How LR frames are made from HR ones (:class:`vidlearn.superres.degrade.Degradation`)."""

    kind: Literal["bd", "bi"] = "bd"
    scale: int = 4
    sigma: float = 1.5
    kernel_size: int | None = None
    offset: int = 0
    quantize: bool = True
    noise_sigma: float = 0.0
    jpeg_quality: int | None = None

    def build(self) -> Degradation:
        return Degradation(self.kind, self.scale, sigma=self.sigma, kernel_size=self.kernel_size, offset=self.offset,
                           quantize=self.quantize, noise_sigma=self.noise_sigma, jpeg_quality=self.jpeg_quality)


@dataclass
class DataConfig:
    """Training clips: ``samples_per_epoch`` random clips of ``clip_len`` HR frames, ``crop_size`` squares.

    The paper: clips of 10 frames, 256x256 HR crops, batch 4, flips. ``synthetic_max_speed`` bounds
    the synthetic camera and object speeds (views per frame). ``cache_frames`` keeps the decoded frames
    of every file source in memory (in each data worker) after their first use, so a clip costs a
    slice instead of a decode: for short clips and small models, whose training decoding bounds.
    """

    train_sources: list[str] = field(default_factory=lambda: ["synthetic"])
    clip_len: int = 10
    crop_size: int = 256
    flip: bool = True
    samples_per_epoch: int = 1000
    batch_size: int = 4
    num_workers: int = 2
    synthetic_max_speed: float = 0.02
    cache_frames: bool = False
    degradation: DegradationConfig = field(default_factory=DegradationConfig)


@dataclass
class LossConfig:
    """``L_sr + flow_weight * L_flow`` (the paper: weight 1)."""

    flow_weight: float = 1.0


@dataclass
class EmaConfig:
    """An exponential moving average of the weights, kept beside them while training (0: off).

    After each step ``ema = decay * ema + (1 - decay) * weights`` (from ``start_step``; before it the
    average just takes the weights). With it on, validation, the final scores and ``model.safetensors``
    use the average, and the training checkpoints hold it under ``"ema"``. At a constant learning rate
    the weights themselves wander from step to step (0.2 dB between checkpoints 25 steps apart, in
    ``configs/superres/frvsr/README.md``); the average does not, so two runs compare on their models
    rather than on where each one stopped.
    """

    decay: float = 0.0
    start_step: int = 0

    def __post_init__(self) -> None:
        if not 0.0 <= self.decay < 1.0:
            raise ValueError(f"decay must be in [0, 1) (0 keeps no average), got {self.decay}")
        if self.start_step < 0:
            raise ValueError(f"start_step must be >= 0, got {self.start_step}")


@dataclass
class EvaluateConfig:
    """The test protocol: whole sequences super-resolved frame by frame, scored under ``protocol``.

    ``sources``: sequence roots, files or folders, or ``synthetic`` (``synthetic_sequences`` held-out
    scenes of ``synthetic_frames`` frames at ``synthetic_size``, seeds never used in training);
    ``lr_root``: published LR frames in the same relative layout (Vid4's ``BDx4``), else the
    degradation makes them. ``max_frames`` caps each sequence; ``val_max_frames`` and
    ``val_sequences`` make the cheaper check run after each epoch. ``ema``: score a training
    checkpoint's moving average of the weights when it holds one (``model.safetensors`` holds one set).
    """

    sources: list[str] = field(default_factory=lambda: ["synthetic"])
    lr_root: str | None = None
    protocol: str = "vid4"
    max_frames: int | None = None
    synthetic_sequences: int = 4
    synthetic_frames: int = 20
    synthetic_size: tuple[int, int] = (128, 128)
    val_sequences: int = 2
    val_max_frames: int = 12
    temporal: bool = True
    ema: bool = True


@dataclass
class SuperresConfig:
    """A full super-resolution recipe."""

    task: Literal["superres"] = "superres"
    name: str = ""
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    ema: EmaConfig = field(default_factory=EmaConfig)
    optim: OptimConfig = field(default_factory=lambda: OptimConfig(name="adam", lr=1e-4, weight_decay=0.0))
    schedule: ScheduleConfig = field(default_factory=lambda: ScheduleConfig(name="constant"))
    train: TrainerConfig = field(default_factory=TrainerConfig)
    evaluate: EvaluateConfig = field(default_factory=EvaluateConfig)


def load_recipe(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> SuperresConfig:
    """Load and validate a super-resolution recipe with ``key=value`` overrides.

    Raises :class:`vidlearn.engine.config.ConfigError` naming the file and the key. ``name`` defaults
    to the file's stem.
    """
    data = load_yaml_recipe(path)
    source = str(path)
    if overrides:
        data = apply_overrides(data, list(overrides), SuperresConfig)
        source = f"{path} (with overrides {' '.join(overrides)})"
    cfg = config_from_dict(data, SuperresConfig, source=source)
    if not cfg.name:
        cfg.name = Path(path).stem
    cfg.data.degradation.build()  # a bad kind, scale or quality fails here, before any data is read
    return cfg
