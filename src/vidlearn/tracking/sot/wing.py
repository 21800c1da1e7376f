"""What ``vidlearn train`` and ``vidlearn evaluate`` call for a ``task: sot`` recipe (GOTURN, ROLO).

The task registry (:mod:`vidlearn.tasks`) imports this module for ``task: sot``. A recipe has ``model``
(a registered ``goturn*`` or ``rolo`` model and its builder keywords), ``data`` (synthetic sequences, OTB-style
folders to train on and to evaluate on, the paper's example generation), and the engine's ``optim``,
``schedule`` and ``train`` sections. Training ends by writing ``work_dir/model.safetensors`` (weights and the
model's description, :mod:`.checkpoints`), the file ``vidlearn sot track --checkpoint`` takes, and, unless
``final_eval`` is off, ``work_dir/results.json``: OTB success AUC and precision@20 on the evaluation sets.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F

from vidlearn.engine.config import (
    ConfigError,
    OptimConfig,
    ScheduleConfig,
    TrainerConfig,
    apply_overrides,
    config_from_dict,
    load_yaml_recipe,
)
from vidlearn.engine.trainer import Trainer
from vidlearn.models import create, get_model_info
from vidlearn.tracking.sot.checkpoints import load_sot_model, save_sot_model
from vidlearn.tracking.sot.data import (
    BoxSequence,
    GoturnExamples,
    RoloWindows,
    mot_tracks,
    simulated_detections,
    synthetic_sequences,
    xyxy_to_fractions,
)
from vidlearn.tracking.sot.evaluation import load_otb_sequences, run_trackers
from vidlearn.tracking.sot.rolo import FrameFeatures, detection_vector, rolo_loss
from vidlearn.tracking.sot.trackers import GoturnTracker, RoloTracker

__all__ = [
    "SotConfig",
    "TrainResult",
    "average_splits",
    "build_model",
    "eval_sets",
    "evaluate",
    "load_recipe",
    "rolo_detector",
    "rolo_features",
    "tracker_factories",
    "train",
    "train_sequences",
]


@dataclass
class SotModelSection:
    """``name``: ``goturn`` (CaffeNet towers), ``goturn_alexnet``, ``goturn_nanotrack`` or ``rolo``; ``kwargs`` go
    to its builder.
    ``backbone_weights``: a torchvision AlexNet state dict for ``goturn_alexnet``'s towers (ImageNet), or
    NanoTrack-v2's ``nanotrack_backbone_sim.onnx`` for ``goturn_nanotrack``'s."""

    name: str = "goturn"
    kwargs: dict[str, Any] = field(default_factory=dict)
    backbone_weights: str | None = None


@dataclass
class SyntheticSection:
    """Built-in sequences (:func:`vidlearn.tracking.sot.data.synthetic_sequence`); held-out seeds follow the
    training ones (``seed + num_train ...``)."""

    num_train: int = 64
    num_val: int = 16
    num_frames: int = 24
    size: tuple[int, int] = (128, 128)
    distractors: int = 2
    seed: int = 0


@dataclass
class MotTrainSection:
    """Pedestrians of a MOTChallenge ground truth as GOTURN training sequences (:func:`~.data.mot_tracks`):
    ``frames`` a video or ``img1`` folder, ``gt`` its ``gt.txt``, ``frame_numbers`` the ground-truth frame of
    each of its frames (empty: 1, 2, ...), frames scaled to ``short_side`` pixels (``null``: as stored), each
    sequence counted ``repeat`` times (weight against the synthetic ones)."""

    frames: str = ""
    gt: str = ""
    frame_numbers: list[int] = field(default_factory=list)
    short_side: int | None = None
    repeat: int = 1


@dataclass
class SotDataSection:
    """Training and evaluation data. ``otb_train`` / ``otb_eval``: OTB-style roots (a sequence folder or a
    folder of them). GOTURN: ``shifts_per_pair`` moved copies per frame pair and per still image,
    ``photometric`` colour changes (:class:`~.data.GoturnExamples`); ``mot_train`` MOTChallenge ground truths
    whose pedestrians are training sequences too (:class:`MotTrainSection`). ROLO:
    ``sequence_length`` frames per window, frame ``features`` (``grid`` or ``resnet18`` with
    ``feature_weights``), the simulated detector's ``detector_noise`` (box sizes) and ``detector_miss_rate``."""

    synthetic: SyntheticSection = field(default_factory=SyntheticSection)
    otb_train: list[str] = field(default_factory=list)
    otb_eval: list[str] = field(default_factory=list)
    batch_size: int = 50
    num_workers: int = 0
    shifts_per_pair: int = 10
    still_images: bool = True
    photometric: bool = False
    mot_train: list[MotTrainSection] = field(default_factory=list)
    sequence_length: int = 3
    features: Literal["grid", "resnet18"] = "grid"
    grid: int = 8
    feature_weights: str | None = None
    detector_noise: float = 0.1
    detector_miss_rate: float = 0.1


@dataclass
class SotConfig:
    """A single-object tracking recipe."""

    task: Literal["sot"] = "sot"
    name: str = ""
    model: SotModelSection = field(default_factory=SotModelSection)
    data: SotDataSection = field(default_factory=SotDataSection)
    optim: OptimConfig = field(default_factory=OptimConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    train: TrainerConfig = field(default_factory=TrainerConfig)


@dataclass
class TrainResult:
    """What :func:`train` returns: ``metrics`` are fractions in [0, 1] keyed ``<set>/success_auc`` etc."""

    work_dir: Path
    metrics: dict[str, float]
    train_seconds: float = 0.0
    interrupted: bool = False
    checkpoint: Path | None = None


def load_recipe(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> SotConfig:
    """Load and validate a ``task: sot`` recipe with ``key=value`` overrides (errors name the key and file)."""
    data = load_yaml_recipe(path)
    source = str(path)
    if overrides:
        data = apply_overrides(data, list(overrides), SotConfig)
        source = f"{path} (with overrides {' '.join(overrides)})"
    cfg = config_from_dict(data, SotConfig, source=source)
    if not (cfg.model.name.startswith("goturn") or cfg.model.name == "rolo"):
        raise ConfigError(f"{source}: model.name {cfg.model.name!r} is not a single-object tracker (goturn*, rolo)")
    get_model_info(cfg.model.name)
    cfg.name = cfg.name or Path(path).stem
    return cfg


def _is_rolo(cfg: SotConfig) -> bool:
    return cfg.model.name == "rolo"


def train_sequences(cfg: SotConfig) -> list[BoxSequence]:
    """The training sequences: the synthetic ones, every ``otb_train`` root's, then every ``mot_train`` entry's."""
    s = cfg.data.synthetic
    sequences = synthetic_sequences(range(s.seed, s.seed + s.num_train), num_frames=s.num_frames,
                                    size=tuple(s.size), num_distractors=s.distractors)
    for root in cfg.data.otb_train:
        sequences += load_otb_sequences(root)
    for source in cfg.data.mot_train:
        if not source.frames or not source.gt:
            raise ConfigError(f"data.mot_train: each entry needs frames (a video or img1 folder) and gt, got {source}")
        tracks = mot_tracks(source.frames, source.gt, frame_numbers=source.frame_numbers or None,
                            short_side=source.short_side)
        sequences += tracks * source.repeat
    return sequences


def eval_sets(cfg: SotConfig) -> dict[str, list[BoxSequence]]:
    """The evaluation sets: ``synthetic`` (held-out seeds) and each ``otb_eval`` root by its folder name."""
    s = cfg.data.synthetic
    sets = {}
    if s.num_val:
        seeds = range(s.seed + s.num_train, s.seed + s.num_train + s.num_val)
        sets["synthetic"] = synthetic_sequences(seeds, num_frames=s.num_frames, size=tuple(s.size),
                                                num_distractors=s.distractors)
    for root in cfg.data.otb_eval:
        sets[Path(root).name] = load_otb_sequences(root)
    return sets


def rolo_features(cfg: SotConfig) -> FrameFeatures:
    """The frame features a ROLO recipe uses (the stand-in for YOLO's fc features)."""
    return FrameFeatures(cfg.data.features, grid=cfg.data.grid, weights=cfg.data.feature_weights)


def rolo_detector(features: FrameFeatures, sequence: BoxSequence, *, noise: float, miss_rate: float, seed: int):
    """ROLO's detector on ``sequence``: its frame features and the simulated detector's box per frame."""
    from vidlearn.tracking.sot.rolo import BoxDetections

    rng = np.random.default_rng([seed, len(sequence), int(sequence.boxes[0, 0] * 100)])
    return BoxDetections(features, simulated_detections(sequence.boxes, rng, noise=noise, miss_rate=miss_rate))


def _rolo_windows(cfg: SotConfig, sequences: list[BoxSequence], features: FrameFeatures) -> RoloWindows:
    all_features, all_detections, all_targets = [], [], []
    for index, sequence in enumerate(sequences):
        frames = sequence.frames.permute(0, 3, 1, 2).float().div_(255.0)
        size = tuple(sequence.frames.shape[1:3])
        rng = np.random.default_rng([cfg.train.seed, index])
        detected = simulated_detections(sequence.boxes, rng, noise=cfg.data.detector_noise,
                                        miss_rate=cfg.data.detector_miss_rate)
        all_features.append(features(frames))
        all_detections.append(detection_vector(detected, size))
        all_targets.append(xyxy_to_fractions(sequence.boxes, size))
    return RoloWindows(all_features, all_detections, all_targets, sequence_length=cfg.data.sequence_length)


def tracker_factories(cfg: SotConfig, model: torch.nn.Module, *, device: str = "cpu", fast: bool = False) -> dict:
    """``{"goturn" or "rolo": factory(sequence) -> tracker}`` for :func:`~.evaluation.run_trackers`."""
    if _is_rolo(cfg):
        features = rolo_features(cfg)
        return {"rolo": lambda seq: RoloTracker(
            model, rolo_detector(features, seq, noise=cfg.data.detector_noise,
                                 miss_rate=cfg.data.detector_miss_rate, seed=cfg.train.seed + 1),
            sequence_length=cfg.data.sequence_length, device=device)}
    return {"goturn": lambda seq: GoturnTracker(model, device=device, fast=fast)}


def _score(cfg: SotConfig, model: torch.nn.Module, sets: dict[str, list[BoxSequence]],
           out_dir: Path | None = None) -> dict[str, float]:
    metrics: dict[str, float] = {}
    was_training = model.training
    for set_name, sequences in sets.items():
        runs = run_trackers(tracker_factories(cfg, model), sequences,
                            results_dir=None if out_dir is None else out_dir / set_name)
        for run in runs.values():
            metrics[f"{set_name}/success_auc"] = run.table["OVERALL"]["success_auc"]
            metrics[f"{set_name}/precision_20"] = run.table["OVERALL"]["precision_20"]
    model.train(was_training)
    return metrics


def _goturn_step(model: torch.nn.Module, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
    previous, search, target = batch
    # GOTURN's L1 loss between the predicted and the true box corners (in [0, 10] region units).
    return F.l1_loss(model(previous, search), target)


def _rolo_step(model: torch.nn.Module, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
    features, detections, targets = batch
    # As ROLO's training code: the loss on the window's last frame.
    return rolo_loss(model(features, detections)[:, -1], targets[:, -1])


def build_model(cfg: SotConfig) -> torch.nn.Module:
    """The recipe's model, with ROLO's feature size set from the frame features and AlexNet weights loaded."""
    kwargs = dict(cfg.model.kwargs)
    if _is_rolo(cfg):
        kwargs.setdefault("feature_dim", rolo_features(cfg).dim)
    model = create(cfg.model.name, **kwargs)
    if cfg.model.backbone_weights:
        model.load_backbone(cfg.model.backbone_weights)
    model.sot_kwargs = kwargs
    return model


def train(cfg: SotConfig, *, resume: str | Path | None = "auto", final_eval: bool = True,
          allow_changed_recipe: bool = False, sequences: list[BoxSequence] | None = None) -> TrainResult:
    """Train the recipe's tracker with the engine's :class:`~vidlearn.engine.trainer.Trainer`, then write
    ``model.safetensors`` and (with ``final_eval``) ``results.json`` in ``cfg.train.work_dir``.

    ``sequences`` replaces :func:`train_sequences` (a caller that rendered them already)."""
    start = time.perf_counter()
    # The trainer seeds itself after the model exists: seed the initial weights too, so a run is repeatable.
    torch.manual_seed(cfg.train.seed)
    model = build_model(cfg)
    sequences = train_sequences(cfg) if sequences is None else sequences
    extras: dict[str, Any] = {}
    if _is_rolo(cfg):
        features = rolo_features(cfg)
        dataset = _rolo_windows(cfg, sequences, features)
        step = _rolo_step
        extras = {"features": {"kind": cfg.data.features, "grid": cfg.data.grid},
                  "sequence_length": cfg.data.sequence_length}
    else:
        dataset = GoturnExamples(sequences, input_size=model.input_size, shifts_per_pair=cfg.data.shifts_per_pair,
                                 still_images=cfg.data.still_images, photometric=cfg.data.photometric,
                                 seed=cfg.train.seed)
        step = _goturn_step
    trainer = Trainer(model, dataset, step_fn=step, optim=cfg.optim, schedule=cfg.schedule, config=cfg.train,
                      batch_size=cfg.data.batch_size, num_workers=cfg.data.num_workers, run_config=cfg,
                      resume_changeable_keys=("train.max_epochs", "train.max_steps", "data.otb_eval"))
    history = trainer.fit(resume=resume, allow_changed_config=allow_changed_recipe)
    work_dir = Path(cfg.train.work_dir)
    seconds = time.perf_counter() - start
    if history.interrupted:
        return TrainResult(work_dir=work_dir, metrics={}, train_seconds=seconds, interrupted=True)
    trained = model.cpu()  # the trainer trained it in place (on its device)
    checkpoint = save_sot_model(trained, work_dir / "model.safetensors", name=cfg.model.name,
                                kwargs=model.sot_kwargs, extras=extras)
    metrics: dict[str, float] = {"train_seconds": seconds}
    if final_eval:
        metrics.update(_score(cfg, trained.eval(), eval_sets(cfg), out_dir=work_dir / "results"))
        (work_dir / "results.json").write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    return TrainResult(work_dir=work_dir, metrics=metrics, train_seconds=seconds, checkpoint=checkpoint)


def evaluate(cfg: SotConfig, checkpoint: str | Path, *, out_dir: str | Path | None = None,
             progress: bool = True, **protocol_options: Any) -> dict[str, float]:
    """Score a trained tracker (``model.safetensors``) on the recipe's evaluation sets (OTB OPE); the OTB
    protocol is the only one (another ``protocol`` is a ``ValueError``)."""
    protocol = protocol_options.get("protocol", "otb")
    if protocol != "otb":
        raise ValueError(f"single-object tracking is scored with the OTB protocol only, not {protocol!r}")
    model, _ = load_sot_model(checkpoint, expected="rolo" if _is_rolo(cfg) else "goturn")
    return _score(cfg, model, eval_sets(cfg), out_dir=None if out_dir is None else Path(out_dir))


def average_splits(results: list[dict[str, float]]) -> dict[str, float]:
    """The mean of each metric over several runs (OTB has one split; kept for the task contract)."""
    if not results:
        raise ValueError("no results to average")
    return {key: float(np.mean([r[key] for r in results])) for key in results[0]}
