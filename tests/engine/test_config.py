"""Recipes: YAML + _base_ + overrides -> validated dataclasses, and the errors users see."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pytest

from vidlearn.engine.config import (
    ConfigError,
    OptimConfig,
    ScheduleConfig,
    TrainerConfig,
    apply_overrides,
    config_from_dict,
    config_to_dict,
    load_config,
    save_config,
)


@dataclass
class ModelSection:
    name: str
    num_classes: int = 101
    dropout: float | None = None
    kwargs: dict[str, object] = field(default_factory=dict)


@dataclass
class DataSection:
    batch_size: int = 8
    clip: tuple[int, int, int] = (16, 112, 112)
    splits: list[str] = field(default_factory=lambda: ["train"])
    mode: Literal["rgb", "flow"] = "rgb"


@dataclass
class Recipe:
    model: ModelSection
    data: DataSection = field(default_factory=DataSection)
    optim: OptimConfig = field(default_factory=OptimConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    train: TrainerConfig = field(default_factory=TrainerConfig)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_overrides_are_parsed_as_yaml_scalars_and_lists(tmp_path: Path) -> None:
    recipe = write(tmp_path / "r.yaml", "model: {name: c3d}\n")
    cfg = load_config(
        recipe,
        Recipe,
        [
            "optim.lr=1e-3",
            "model.name=i3d",
            "data.batch_size=4",
            "data.clip=[8,56,56]",
            "schedule.milestones=[30, 40]",
            "train.clip_grad_norm=null",
            "train.tensorboard=true",
            "model.kwargs.depth=18",
            "model.dropout=0.5",
        ],
    )
    assert cfg.optim.lr == 0.001
    assert cfg.model.name == "i3d"
    assert cfg.data.batch_size == 4
    assert cfg.data.clip == (8, 56, 56)
    assert cfg.schedule.milestones == [30, 40]
    assert cfg.train.clip_grad_norm is None
    assert cfg.train.tensorboard is True
    assert cfg.model.kwargs == {"depth": 18}
    assert cfg.model.dropout == 0.5


def test_base_files_merge_recursively_relative_to_the_recipe(tmp_path: Path) -> None:
    write(
        tmp_path / "base" / "default.yaml",
        "optim: {name: sgd, lr: 0.1, momentum: 0.8}\ntrain: {max_epochs: 5}\n",
    )
    write(tmp_path / "base" / "model.yaml", "model: {name: c3d, kwargs: {depth: 8, width: 64}}\n")
    recipe = write(
        tmp_path / "recipes" / "r.yaml",
        "_base_: [../base/default.yaml, ../base/model.yaml]\n"
        "optim: {lr: 0.01}\n"
        "model: {kwargs: {_delete_: true, depth: 3}}\n",
    )
    cfg = load_config(recipe, Recipe)
    assert (cfg.optim.name, cfg.optim.lr, cfg.optim.momentum) == ("sgd", 0.01, 0.8)
    assert cfg.train.max_epochs == 5
    assert cfg.model.name == "c3d"
    assert cfg.model.kwargs == {"depth": 3}  # _delete_ replaced the inherited mapping


def test_base_cycle_and_missing_base_name_the_files(tmp_path: Path) -> None:
    a = write(tmp_path / "a.yaml", "_base_: b.yaml\n")
    write(tmp_path / "b.yaml", "_base_: a.yaml\n")
    with pytest.raises(ConfigError, match="_base_ cycle"):
        load_config(a, Recipe)
    c = write(tmp_path / "c.yaml", "_base_: nowhere.yaml\n")
    with pytest.raises(
        ConfigError, match=r"config file not found: .*nowhere\.yaml \(named as _base_ in .*c\.yaml\)"
    ):
        load_config(c, Recipe)


def test_misspelt_key_names_the_key_the_file_and_the_fix(tmp_path: Path) -> None:
    recipe = write(tmp_path / "r.yaml", "model: {name: c3d}\noptim: {lrr: 0.1}\n")
    with pytest.raises(ConfigError) as info:
        load_config(recipe, Recipe)
    assert str(info.value) == f"{recipe}: unknown key 'optim.lrr'; did you mean 'lr'?"


def test_wrong_type_names_the_key_the_value_and_the_expected_type(tmp_path: Path) -> None:
    recipe = write(tmp_path / "r.yaml", "model: {name: c3d}\ntrain: {max_epochs: ten}\n")
    with pytest.raises(ConfigError) as info:
        load_config(recipe, Recipe)
    assert str(info.value) == f"{recipe}: train.max_epochs: expected int, got 'ten' (str)"
    with pytest.raises(ConfigError, match=r"train\.amp: expected one of 'none', 'bf16', 'fp16', got 'fp8'"):
        config_from_dict({"model": {"name": "x"}, "train": {"amp": "fp8"}}, Recipe)
    with pytest.raises(
        ConfigError, match=r"data\.clip: expected .*, got \[16, 112\] \(list\); expected 3 items"
    ):
        config_from_dict({"model": {"name": "x"}, "data": {"clip": [16, 112]}}, Recipe)
    with pytest.raises(ConfigError, match=r"train\.deterministic: expected bool, got 1 \(int\)"):
        config_from_dict({"model": {"name": "x"}, "train": {"deterministic": 1}}, Recipe)


def test_missing_required_key_is_named() -> None:
    with pytest.raises(ConfigError, match=r"^recipe\.yaml: missing required key 'model\.name'$"):
        config_from_dict({"model": {"num_classes": 3}}, Recipe, source="recipe.yaml")
    with pytest.raises(ConfigError, match=r"missing required key 'model'$"):
        config_from_dict({}, Recipe)


def test_unknown_override_key_suggests_the_right_one(tmp_path: Path) -> None:
    recipe = write(tmp_path / "r.yaml", "model: {name: c3d}\n")
    with pytest.raises(ConfigError) as info:
        load_config(recipe, Recipe, ["trian.lr=0.1"])
    assert (
        str(info.value)
        == "override 'trian.lr=0.1': unknown key 'trian' in the top level; did you mean 'train'?"
    )
    with pytest.raises(ConfigError, match=r"override 'optim\.lr\.x=1': optim\.lr is a value, not a section"):
        load_config(recipe, Recipe, ["optim.lr.x=1"])
    with pytest.raises(ConfigError, match="expected key=value"):
        apply_overrides({}, ["optim.lr"])


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    recipe = write(tmp_path / "r.yaml", "model: {name: c3d, kwargs: {depth: 3}}\n")
    cfg = load_config(recipe, Recipe, ["data.clip=[8,32,32]", "schedule.milestones=[3]"])
    saved = save_config(cfg, tmp_path / "out" / "config.yaml")
    assert load_config(saved, Recipe) == cfg
    assert config_to_dict(cfg)["data"]["clip"] == [8, 32, 32]
    assert [p.name for p in saved.parent.iterdir()] == ["config.yaml"]  # no temporary left behind
