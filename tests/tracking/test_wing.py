"""The re-ID recipe through the task registry: vidlearn train / evaluate on configs/tracking/deepsort."""

import json
from pathlib import Path

import pytest

from vidlearn.cli.main import main
from vidlearn.engine.config import ConfigError
from vidlearn.tasks import get_task, task_of

REPO = Path(__file__).resolve().parents[2]
RECIPE = REPO / "configs" / "tracking" / "deepsort" / "reid_synthetic-lookalike_64x32.yaml"
SMALL = ["data.synthetic.train_scenes=2", "data.synthetic.test_scenes=1", "data.synthetic.frames_per_scene=6",
         "data.synthetic.objects_per_scene=4", "data.synthetic.frame_size=[96,128]", "train.max_epochs=1",
         "data.batch_size=16", "model.width=8", "train.device=cpu"]


def test_recipes_load_as_tracking_recipes():
    wing = get_task(task_of(RECIPE))
    cfg = wing.load_recipe(RECIPE)
    assert (cfg.task, cfg.model.width, tuple(cfg.model.input_size), cfg.optim.name, cfg.schedule.name) == (
        "tracking", 16, (64, 32), "adam", "constant")
    assert cfg.name == "reid_synthetic-lookalike_64x32" and cfg.data.synthetic.keep_aspect is False
    mot = wing.load_recipe(RECIPE.parent / "reid_mot17-train_128x64.yaml")
    assert mot.data.source == "mot" and len(mot.data.mot.train) == 5 and tuple(mot.model.input_size) == (128, 64)
    with pytest.raises(ConfigError, match=r"data\.synthetic\.train_scene"):
        wing.load_recipe(RECIPE, ["data.synthetic.train_scene=3"])
    with pytest.raises(ConfigError, match=r"data\.mot\.train names no sequence folder"):
        wing.load_recipe(RECIPE, ["data.source=mot"])


@pytest.mark.slow
def test_train_then_evaluate_from_the_command_line(tmp_path, capsys):
    work = tmp_path / "run"
    assert main(["train", str(RECIPE), *SMALL, "--work-dir", str(work)]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["work_dir"] == str(work) and 0.0 <= printed["rank1"] <= 1.0 and printed["queries"] > 0
    assert (work / "deepsort_reid.pt").is_file() and (work / "metrics.json").is_file()
    assert main(["evaluate", str(RECIPE), *SMALL, "--checkpoint", str(work / "deepsort_reid.pt")]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith("result: ")
    scored = json.loads(line[len("result: "):])
    assert scored == pytest.approx({k: printed[k] for k in ("rank1", "mAP", "queries")})


def test_mot_source_needs_existing_sequence_folders(tmp_path, capsys):
    code = main(["train", str(RECIPE.parent / "reid_mot17-train_128x64.yaml"), "--work-dir", str(tmp_path)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.endswith("sequence folder not found: data/MOT17/train/MOT17-02-FRCNN"), err
