"""The ``sot`` task: recipes load through the task registry, train briefly, write a usable model file."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from vidlearn.engine.config import ConfigError
from vidlearn.tasks import get_task, task_of
from vidlearn.tracking.sot.checkpoints import load_sot_model
from vidlearn.tracking.sot.goturn import Goturn
from vidlearn.tracking.sot.rolo import Rolo

CONFIGS = Path(__file__).resolve().parents[3] / "configs" / "tracking"
TINY = ["data.synthetic.num_train=2", "data.synthetic.num_val=1", "data.synthetic.num_frames=4",
        "data.synthetic.size=[48,48]", "data.synthetic.distractors=1", "train.max_steps=2", "data.batch_size=4",
        "train.progress_bar=false", "train.device=cpu"]


@pytest.mark.parametrize("recipe", sorted([*CONFIGS.glob("goturn/*.yaml"), *CONFIGS.glob("rolo/*.yaml")]),
                         ids=lambda p: p.name)
def test_every_recipe_loads_as_a_sot_task(recipe: Path) -> None:
    assert task_of(recipe) == "sot"
    cfg = get_task("sot").load_recipe(recipe)
    assert cfg.model.name in ("goturn", "goturn_alexnet", "rolo")
    assert cfg.name == recipe.stem


def test_a_misspelt_key_and_a_foreign_model_are_named(tmp_path: Path) -> None:
    wing = get_task("sot")
    with pytest.raises(ConfigError, match="shifts_per_pai"):
        wing.load_recipe(CONFIGS / "goturn" / "goturn-small_scratch_synthetic.yaml", ["data.shifts_per_pai=3"])
    with pytest.raises(ConfigError, match="'c3d' is not a single-object tracker"):
        wing.load_recipe(CONFIGS / "goturn" / "goturn-small_scratch_synthetic.yaml", ["model.name=c3d"])


@pytest.mark.parametrize(("recipe", "cls"), [("goturn/goturn-small_scratch_synthetic.yaml", Goturn),
                                             ("rolo/rolo-grid_scratch_synthetic.yaml", Rolo)])
def test_tiny_training_writes_a_model_file_and_results(recipe: str, cls: type, tmp_path: Path) -> None:
    wing = get_task("sot")
    cfg = wing.load_recipe(CONFIGS / recipe, [*TINY, f"train.work_dir={tmp_path / 'run'}"])
    result = wing.train(cfg, resume=None)
    assert not result.interrupted
    model, extras = load_sot_model(result.checkpoint)
    assert isinstance(model, cls)
    metrics = json.loads((tmp_path / "run" / "results.json").read_text())
    assert 0.0 <= metrics["synthetic/success_auc"] <= 1.0 and 0.0 <= metrics["synthetic/precision_20"] <= 1.0
    assert (tmp_path / "run" / "results" / "synthetic").is_dir()
    if cls is Rolo:
        assert extras == {"features": {"kind": "grid", "grid": 2}, "sequence_length": 3}
    again = wing.evaluate(cfg, result.checkpoint)
    assert again["synthetic/success_auc"] == pytest.approx(metrics["synthetic/success_auc"])
    assert np.isfinite(list(again.values())).all()


def test_a_run_repeats_exactly(tmp_path: Path) -> None:
    import torch

    wing = get_task("sot")
    weights = []
    for name in ("a", "b"):
        torch.manual_seed(len(name) * 7 + ord(name))  # whatever ran before must not matter
        cfg = wing.load_recipe(CONFIGS / "goturn" / "goturn-small_scratch_synthetic.yaml",
                               [*TINY, f"train.work_dir={tmp_path / name}"])
        model, _ = load_sot_model(wing.train(cfg, resume=None, final_eval=False).checkpoint)
        weights.append(model.state_dict())
    for key, value in weights[0].items():
        torch.testing.assert_close(weights[1][key], value, rtol=0, atol=0)
