"""Every recipe in configs/recognition/ loads, validates, names its task and a model that builds with
its options; each family folder's README lists its recipes."""

import re
from pathlib import Path

import pytest
import torch
import yaml

from vidlearn.engine.config import ConfigError
from vidlearn.models import get_model_info
from vidlearn.recognition.preprocessing import preprocessing_of
from vidlearn.recognition.recipe import load_recipe

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "recognition"
FAMILIES = sorted(p for p in CONFIGS.iterdir() if p.is_dir() and p.name != "_base_")
RECIPES = sorted(p for family in FAMILIES for p in family.glob("*.yaml"))


def test_recipes_cover_every_dataset_for_the_talks_models():
    names = {p.name for p in RECIPES}
    for model in ("c3d", "i3d", "single_frame", "early_fusion", "late_fusion", "slow_fusion",
                  "two_stream_spatial", "two_stream_temporal", "lrcn", "t3d"):
        for dataset in ("ucf101-split1", "hmdb51-split1", "kinetics400"):
            assert any(n.startswith(f"{model}_") and n.endswith(f"_{dataset}.yaml") for n in names), (model, dataset)


@pytest.mark.parametrize("path", RECIPES, ids=[p.stem for p in RECIPES])
def test_recipe_loads_and_model_builds(path):
    assert yaml.safe_load(path.read_text())["task"] == "recognition", "a recipe names its task"
    cfg = load_recipe(path)
    assert cfg.name == path.stem and cfg.task == "recognition"
    clip_len, interval = path.stem.split("_")[-2].split("x")[:2]
    assert (cfg.data.clip_len, cfg.data.frame_interval) == (int(clip_len), int(interval)), "name and recipe disagree"
    info = get_model_info(cfg.model.name)
    with torch.device("meta"):
        model = info.builder(num_classes=cfg.model.num_classes or 10, **cfg.model.kwargs)
    assert sum(p.numel() for p in model.parameters()) > 0
    if cfg.model.preprocessing:
        assert cfg.model.preprocessing in info.weights
    pre = preprocessing_of(cfg)
    assert len(pre.mean) == len(pre.std) == (2 if cfg.data.modality == "flow" else 3)


def test_pretrained_recipes_feed_the_weights_their_own_pixel_values():
    """A recipe that names a weights spec gets exactly the spec's pixel values (the from-scratch base's
    values for I3D flow are nulled in the fine-tuning recipes)."""
    checked = 0
    for path in RECIPES:
        cfg = load_recipe(path)
        if not cfg.model.preprocessing:
            continue
        spec = get_model_info(cfg.model.name).weights[cfg.model.preprocessing].preprocessing
        pre = preprocessing_of(cfg)
        assert (pre.mean, pre.std, pre.channel_order, pre.value_range) == (
            spec.mean, spec.std, spec.channel_order, spec.value_range), path.name
        checked += 1
    assert checked == 6


@pytest.mark.parametrize("family", FAMILIES, ids=[p.name for p in FAMILIES])
def test_family_readme_tables_every_recipe(family):
    readme = (family / "README.md").read_text()
    header = next(line for line in readme.splitlines() if line.startswith("| model"))
    for column in ("dataset", "metric", "protocol", "recipe", "measured or published"):
        assert column in header, (family.name, column)
    listed = set(re.findall(r"\[`?([\w.-]+\.yaml)`?\]", readme))
    assert listed == {p.name for p in family.glob("*.yaml")}, family.name


def test_misspelt_key_names_the_file_and_suggests(tmp_path):
    recipe = tmp_path / "bad.yaml"
    recipe.write_text("_base_: " + str(RECIPES[0]) + "\ndata:\n  bacth_size: 4\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml.*data\.bacth_size.*batch_size"):
        load_recipe(recipe)


def test_override_with_wrong_type_names_key_and_value():
    with pytest.raises(ConfigError, match=r"optim\.lr.*fast"):
        load_recipe(RECIPES[0], ["optim.lr=fast"])


def test_a_recipe_of_another_task_is_refused(tmp_path):
    recipe = tmp_path / "other.yaml"
    recipe.write_text("task: tracking\n")
    with pytest.raises(ConfigError, match=r"other\.yaml: task: expected one of 'recognition', got 'tracking'"):
        load_recipe(recipe)
