"""Every recipe in configs/ loads, validates and names a model that builds with its options."""

from pathlib import Path

import pytest
import torch

from vidlearn.engine.config import ConfigError
from vidlearn.models import get_model_info
from vidlearn.recognition.recipe import load_recipe

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
RECIPES = sorted(p for p in CONFIGS.glob("*.yaml"))


def test_recipes_cover_every_dataset_for_the_talks_models():
    names = {p.name for p in RECIPES}
    for model in ("c3d", "i3d", "single_frame", "early_fusion", "late_fusion", "slow_fusion",
                  "two_stream_spatial", "two_stream_temporal", "lrcn", "t3d"):
        for dataset in ("ucf101-split1", "hmdb51-split1", "kinetics400"):
            assert any(n.startswith(f"{model}_") and n.endswith(f"_{dataset}.yaml") for n in names), (model, dataset)


@pytest.mark.parametrize("path", RECIPES, ids=[p.stem for p in RECIPES])
def test_recipe_loads_and_model_builds(path):
    cfg = load_recipe(path)
    assert cfg.name == path.stem
    clip_len, interval = path.stem.split("_")[-2].split("x")[:2]
    assert (cfg.data.clip_len, cfg.data.frame_interval) == (int(clip_len), int(interval)), "name and recipe disagree"
    info = get_model_info(cfg.model.name)
    with torch.device("meta"):
        model = info.builder(num_classes=cfg.model.num_classes or 10, **cfg.model.kwargs)
    assert sum(p.numel() for p in model.parameters()) > 0
    if cfg.model.preprocessing:
        assert cfg.model.preprocessing in info.weights
    assert len(cfg.data.mean) == len(cfg.data.std) == (2 if cfg.data.modality == "flow" else 3)


def test_misspelt_key_names_the_file_and_suggests(tmp_path):
    recipe = tmp_path / "bad.yaml"
    recipe.write_text("_base_: " + str(RECIPES[0]) + "\ndata:\n  bacth_size: 4\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml.*data\.bacth_size.*batch_size"):
        load_recipe(recipe)


def test_override_with_wrong_type_names_key_and_value():
    with pytest.raises(ConfigError, match=r"optim\.lr.*fast"):
        load_recipe(RECIPES[0], ["optim.lr=fast"])
