"""What ``vidlearn train`` and ``vidlearn evaluate`` call for a ``task: tracking`` recipe: DeepSORT's re-ID.

The task registry (:mod:`vidlearn.tasks`) imports this module for recipes in ``configs/tracking/``. A recipe
trains ``deepsort_reid`` (Wojke et al. 2017; cosine softmax of Wojke & Bewley 2018) on identity crops and
scores it by retrieval (rank-1 and mAP, :func:`~vidlearn.tracking.reid.evaluate_retrieval`: query from the
first half of each held-out scene or sequence, gallery from the second half)::

    task: tracking
    model: {name: deepsort_reid, width: 16, feature_dim: 128, input_size: [64, 32]}
    data:
      source: synthetic          # synthetic | mot | market1501
      synthetic: {scene: look_alike, train_scenes: 24, test_scenes: 10, ...}
      mot: {train: [MOT17-02-FRCNN folder, ...], test: [...], min_visibility: 0.5, frame_step: 5}
      market1501: {train: .../bounding_box_train, test: .../bounding_box_test}
      batch_size: 64
    optim: {name: adam, lr: 0.001}    # cosine_metric_learning's
    schedule: {name: constant}
    train: {max_epochs: 15, work_dir: runs/reid}

The interface is the one every wing's entry module has: :func:`load_recipe`, :func:`train`,
:func:`evaluate` and :func:`average_splits`. After training, ``work_dir/deepsort_reid.pt`` holds the
network's weights, which ``vidlearn track --reid`` reads.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
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

__all__ = ["ReIDRecipe", "TrainResult", "average_splits", "evaluate", "load_recipe", "train"]


@dataclass
class ReIDModelConfig:
    """``deepsort_reid``'s size: stem ``width`` (32 in the paper), embedding size, crop ``(height, width)``."""

    name: Literal["deepsort_reid"] = "deepsort_reid"
    width: int = 32
    feature_dim: int = 128
    input_size: tuple[int, int] = (128, 64)


@dataclass
class SyntheticCropsConfig:
    """Identity crops of rendered scenes (:class:`~vidlearn.tracking.reid.SyntheticReIDCrops`); training and
    test scenes have different seeds, so test identities are never trained on. ``keep_aspect: false`` stretches
    each (square) object's box to the crop; track with ``vidlearn track --reid-crop stretch`` then."""

    scene: Literal["look_alike", "tracking"] = "look_alike"
    train_scenes: int = 24
    test_scenes: int = 10
    objects_per_scene: int = 8
    frames_per_scene: int = 16
    frame_size: tuple[int, int] = (144, 192)
    min_visibility: float = 0.5
    keep_aspect: bool = False
    seed: int = 5000
    test_seed: int = 9000


@dataclass
class MotCropsConfig:
    """Identity crops of MOTChallenge sequence folders with frames (:class:`~vidlearn.tracking.reid.MotSequenceCrops`)."""

    train: list[str] = field(default_factory=list)
    test: list[str] = field(default_factory=list)
    min_visibility: float = 0.5
    frame_step: int = 5


@dataclass
class MarketConfig:
    """Market-1501 folders (``bounding_box_train``, and a test folder scored as the other sources are)."""

    train: str = ""
    test: str = ""


@dataclass
class ReIDDataConfig:
    """Where the identity crops come from (``source``) and how they are batched."""

    source: Literal["synthetic", "mot", "market1501"] = "synthetic"
    synthetic: SyntheticCropsConfig = field(default_factory=SyntheticCropsConfig)
    mot: MotCropsConfig = field(default_factory=MotCropsConfig)
    market1501: MarketConfig = field(default_factory=MarketConfig)
    batch_size: int = 64
    num_workers: int = 0


@dataclass
class ReIDRecipe:
    """A re-ID training recipe (``task: tracking``)."""

    task: Literal["tracking"] = "tracking"
    name: str = ""
    model: ReIDModelConfig = field(default_factory=ReIDModelConfig)
    data: ReIDDataConfig = field(default_factory=ReIDDataConfig)
    optim: OptimConfig = field(default_factory=lambda: OptimConfig(name="adam", lr=1e-3))
    schedule: ScheduleConfig = field(default_factory=lambda: ScheduleConfig(name="constant"))
    train: TrainerConfig = field(default_factory=TrainerConfig)


@dataclass
class TrainResult:
    """What :func:`train` returns (the fields ``vidlearn train`` reads)."""

    work_dir: Path
    metrics: dict[str, float]
    interrupted: bool = False
    seconds: float = 0.0


#: Keys that may differ when a run resumes (more epochs).
RESUME_CHANGEABLE_KEYS = ("train.max_epochs", "train.max_steps", "train.progress_bar", "train.log_every_steps")


def load_recipe(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> ReIDRecipe:
    """Load and validate a re-ID recipe with ``key=value`` overrides (errors name the key and the file)."""
    data = load_yaml_recipe(path)
    source = str(path)
    if overrides:
        data = apply_overrides(data, list(overrides), ReIDRecipe)
        source = f"{path} (with overrides {' '.join(overrides)})"
    cfg = config_from_dict(data, ReIDRecipe, source=source)
    if not cfg.name:
        cfg.name = Path(path).stem
    if cfg.data.source == "mot" and not cfg.data.mot.train:
        raise ConfigError(f"{source}: data.mot.train names no sequence folder")
    if cfg.data.source == "market1501" and not cfg.data.market1501.train:
        raise ConfigError(f"{source}: data.market1501.train is empty")
    return cfg


def build_datasets(cfg: ReIDRecipe, *, train: bool = True, test: bool = True) -> tuple[Any, Any]:
    """``(training crops, test crops)`` of the recipe's source (``None`` for a part not asked for)."""
    from .reid import Market1501Crops, MotSequenceCrops, SyntheticReIDCrops

    data, size = cfg.data, cfg.model.input_size
    if data.source == "synthetic":
        s = data.synthetic

        def make(scenes: int, seed: int):
            return SyntheticReIDCrops(scenes, objects_per_scene=s.objects_per_scene, frames_per_scene=s.frames_per_scene,
                                      size=size, frame_size=s.frame_size, min_visibility=s.min_visibility, seed=seed,
                                      scene=s.scene, keep_aspect=s.keep_aspect)

        return (make(s.train_scenes, s.seed) if train else None,
                make(s.test_scenes, s.test_seed) if test and s.test_scenes else None)
    if data.source == "mot":
        m = data.mot

        def make_mot(folders: list[str]):
            for folder in folders:
                if not Path(folder).is_dir():
                    raise FileNotFoundError(f"sequence folder not found: {folder}")
            return MotSequenceCrops(folders, size=size, min_visibility=m.min_visibility, frame_step=m.frame_step)

        return make_mot(m.train) if train else None, make_mot(m.test) if test and m.test else None
    market = data.market1501
    return (Market1501Crops(market.train, size=size) if train else None,
            _MarketEval(Market1501Crops(market.test, size=size)) if test and market.test else None)


class _MarketEval:
    """Market-1501 test crops held in memory for :func:`evaluate_retrieval` (frame order = file order)."""

    def __init__(self, folder) -> None:
        import torch

        self.crops = torch.stack([folder[i][0] for i in range(len(folder))])
        self.labels = torch.as_tensor(folder.labels)
        self.scene_frames = torch.arange(len(folder))
        self.num_classes = folder.num_classes


def _model(cfg: ReIDRecipe, num_classes: int):
    from vidlearn.models import create

    return create(cfg.model.name, num_classes=num_classes, width=cfg.model.width, feature_dim=cfg.model.feature_dim,
                  input_size=tuple(cfg.model.input_size))


def train(cfg: ReIDRecipe, *, resume: str | Path | None = "auto", final_eval: bool = True,
          allow_changed_recipe: bool = False) -> TrainResult:
    """Train the recipe's network with the engine (exact resume), then score it on the test crops."""
    import torch

    from vidlearn.engine import Trainer
    from vidlearn.engine.seeding import seed_everything

    from .formats import write_text_atomically
    from .reid import evaluate_retrieval, reid_step

    train_set, test_set = build_datasets(cfg, test=final_eval)
    seed_everything(cfg.train.seed)
    model = _model(cfg, train_set.num_classes)
    work_dir = Path(cfg.train.work_dir)
    trainer = Trainer(model, train_set, step_fn=reid_step, optim=cfg.optim, schedule=cfg.schedule, config=cfg.train,
                      batch_size=cfg.data.batch_size, num_workers=cfg.data.num_workers,
                      drop_last=len(train_set) > cfg.data.batch_size, run_config=cfg,
                      resume_changeable_keys=RESUME_CHANGEABLE_KEYS)
    started = time.perf_counter()
    history = trainer.fit(resume=resume, allow_changed_config=allow_changed_recipe)
    seconds = time.perf_counter() - started
    metrics: dict[str, float] = {}
    if not history.interrupted:
        torch.save(model.state_dict(), work_dir / "deepsort_reid.pt")
        if test_set is not None:
            metrics = evaluate_retrieval(model, test_set)
            write_text_atomically(work_dir / "metrics.json", json.dumps(metrics, indent=1) + "\n")
    return TrainResult(work_dir, metrics, history.interrupted, seconds)


def evaluate(cfg: ReIDRecipe, checkpoint: str | Path, *, out_dir: str | Path | None = None,
             progress: bool = True, **options: Any) -> dict[str, float]:
    """Rank-1 and mAP of a checkpoint (an engine checkpoint or ``deepsort_reid.pt``) on the recipe's test crops."""
    from .appearance import load_reid_model
    from .formats import write_text_atomically
    from .reid import evaluate_retrieval

    if options:
        raise ValueError(f"re-ID evaluation has no option {', '.join(sorted(options))}")
    _, test_set = build_datasets(cfg, train=False)
    if test_set is None:
        raise ConfigError(f"{cfg.name}: the recipe names no test data")
    metrics = evaluate_retrieval(load_reid_model(checkpoint), test_set)
    if out_dir is not None:
        write_text_atomically(Path(out_dir) / "metrics.json", json.dumps(metrics, indent=1) + "\n")
    return metrics


def average_splits(results: list[dict[str, float]]) -> dict[str, float]:
    """The mean of each metric over several evaluations."""
    keys = results[0].keys() if results else []
    return {key: sum(r[key] for r in results) / len(results) for key in keys}
