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
    assert cfg.model.name in ("goturn", "goturn_alexnet", "goturn_nanotrack", "rolo")
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


@pytest.mark.shared_data
def test_goturn_on_the_nanotrack_tower_trains_its_head_only_on_synthetic_and_mot17_sequences(
        shared_data: Path, tmp_path: Path) -> None:
    import torch

    from vidlearn.tracking.sot.nanotrack import read_nanotrack_backbone

    onnx = shared_data / "weights" / "nanotrack_v2_onnx" / "nanotrack_backbone_sim.onnx"
    clip = shared_data / "clips" / "mmtracking" / "demo_demo.mp4"
    gt = shared_data / "tracking" / "mot" / "MOT17" / "train" / "MOT17-04-FRCNN" / "gt" / "gt.txt"
    if not (onnx.is_file() and clip.is_file() and gt.is_file()):
        pytest.skip("NanoTrack-v2's ONNX backbone, MMTracking's demo video or MOT17-04's ground truth is not there")
    wing = get_task("sot")
    recipe = CONFIGS / "goturn" / "goturn-nanotrack_frozen_synthetic+mot17.yaml"
    overrides = [*TINY, f"train.work_dir={tmp_path / 'run'}", f"model.backbone_weights={onnx}", "data.otb_eval=[]",
                 "model.kwargs.fc_dim=16"]
    mot = "{{frames: {}, gt: {}, frame_numbers: [3, 4, 6, 7, 8, 10, 11, 12], short_side: 540, repeat: 3}}"
    overrides.append(f"data.mot_train=[{mot.format(clip, gt)}]")
    cfg = wing.load_recipe(recipe, overrides)
    sequences = wing.train_sequences(cfg)
    # 2 synthetic sequences, then MOT17-04's 27 pedestrians of the demo video's frames (202 boxes), 3 times.
    assert len(sequences) == 2 + 3 * 27 and sum(len(s) for s in sequences[2:]) == 3 * 202
    result = wing.train(cfg, resume=None, sequences=sequences)
    model, _ = load_sot_model(result.checkpoint)
    assert isinstance(model, Goturn) and model.backbone == "nanotrack"
    published = read_nanotrack_backbone(onnx)
    for key, value in model.tower.state_dict().items():
        torch.testing.assert_close(value, published[key], rtol=0, atol=0)
    torch.manual_seed(cfg.train.seed)
    untrained = wing.build_model(cfg)
    assert not torch.equal(untrained.head[0].weight, model.head[0].weight)
    with pytest.raises(ConfigError, match="each entry needs frames"):
        wing.train_sequences(wing.load_recipe(recipe, [*overrides, f"data.mot_train=[{{frames: {clip}}}]"]))
