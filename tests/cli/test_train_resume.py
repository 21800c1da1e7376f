"""``vidlearn train`` into a work dir that holds a run, and what it prints while training.

One tiny run on the built-in data (one epoch, in-process); the tests then re-run ``vidlearn train``
into its work dir with changed recipes, and ``vidlearn predict`` on its engine checkpoint.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from vidlearn.cli.main import main
from vidlearn.recognition.builders import build_dataset
from vidlearn.recognition.recipe import load_recipe

RECIPE = """\
model:
  name: c3d
  kwargs: {{width_multiplier: 0.125, fc_dim: 32, clip_len: 16, crop_size: 16, dropout: 0.0}}
data:
  format: synthetic
  root: {root}
  clip_len: 16
  preprocessing: {{resize_short_side: null, crop_size: 16, flip: false, mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25]}}
  batch_size: 8
  num_workers: 0
  synthetic: {{num_train: 16, num_test: 8, num_frames: 16, size: [16, 16]}}
optim: {{name: sgd, lr: 0.05, momentum: 0.9}}
schedule: {{name: constant}}
train: {{max_epochs: 1, deterministic: true, device: cpu, progress_bar: false, log_every_steps: 1}}
evaluate: {{num_clips: 1, val_num_clips: 1, num_workers: 0}}
"""


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exit_info:  # a usage error, from argparse
        code = int(exit_info.code)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(scope="module")
def recipe(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("resume")
    path = root / "tiny.yaml"
    path.write_text(RECIPE.format(root=root / "data"))
    build_dataset(load_recipe(path), train=True)  # writes the videos once
    return path


@pytest.fixture(scope="module")
def finished_run(recipe) -> Path:
    """A finished one-epoch run; each test copies it before changing it."""
    work_dir = recipe.parent / "finished"
    assert main(["train", str(recipe), "--work-dir", str(work_dir)]) == 0
    return work_dir


@pytest.fixture()
def run_copy(finished_run, tmp_path) -> Path:
    work_dir = tmp_path / "run"
    shutil.copytree(finished_run, work_dir)
    return work_dir


def _one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def test_training_prints_one_line_per_epoch_with_loss_and_accuracy(recipe, tmp_path, capsys) -> None:
    code, out, err = _run(capsys, "train", str(recipe), "train.max_epochs=2", "--work-dir", str(tmp_path / "w"))
    assert code == 0
    epoch_lines = [line for line in err.splitlines() if line.startswith("epoch ")]
    assert [line.split()[1] for line in epoch_lines] == ["1/2", "2/2"]
    for line in epoch_lines:
        assert " loss " in line and " acc " in line and "%" in line and " val top1 " in line
    assert "resuming" not in err
    assert json.loads(out)["work_dir"] == str(tmp_path / "w")  # stdout stays the JSON result alone


def test_overrides_after_options_are_overrides(recipe, tmp_path, capsys) -> None:
    # README order: options first, then key=value (argparse alone rejected these as unrecognized)
    code, _, err = _run(capsys, "train", str(recipe), "--work-dir", str(tmp_path / "w"), "data.bacth_size=4")
    assert code == 2 and "did you mean 'batch_size'" in _one_line(err)
    code, _, err = _run(capsys, "evaluate", str(recipe), "--checkpoint", "x.pt", "--num-clips", "2", "optim.lrr=1")
    assert code == 2 and "optim.lrr" in _one_line(err) and "unrecognized" not in err
    code, _, err = _run(capsys, "models", "c3d", "--no-flops", "a=1")
    assert code == 2 and "unrecognized arguments: a=1" in _one_line(err)


def test_resume_prints_what_it_resumes_from(recipe, run_copy, capsys) -> None:
    code, _, err = _run(capsys, "train", str(recipe), "train.max_epochs=2", "--work-dir", str(run_copy))
    assert code == 0
    first = err.splitlines()[0]
    assert first.startswith(f"resuming from {run_copy / 'checkpoints'}/epoch0001_step") and "epoch 1 of 2 done" in first
    assert any(line.startswith("epoch 2/2") for line in err.splitlines())


def test_a_finished_run_is_refused_not_rewritten(recipe, run_copy, capsys) -> None:
    weights = run_copy / "model.safetensors"
    before = weights.read_bytes()
    for extra in ([], ["train.max_epochs=1"]):
        code, _, err = _run(capsys, "train", str(recipe), *extra, "--work-dir", str(run_copy))
        line = _one_line(err)
        assert code == 2
        assert "already finished epoch 1 and train.max_epochs is 1" in line
        assert "raise train.max_epochs above 1" in line and "another --work-dir" in line
    assert weights.read_bytes() == before
    assert "max_epochs: 1" in (run_copy / "config.yaml").read_text()


def test_a_changed_recipe_is_refused_naming_the_keys(recipe, run_copy, capsys) -> None:
    code, _, err = _run(capsys, "train", str(recipe), "optim.lr=0.5", "model.kwargs.fc_dim=16",
                        "train.max_epochs=2", "--work-dir", str(run_copy))
    line = _one_line(err)
    assert code == 2
    assert "model.kwargs.fc_dim: 32 -> 16" in line and "optim.lr: 0.05 -> 0.5" in line
    assert "train.max_epochs" in line.split("may change on resume:")[1]  # named as allowed, not as a difference
    assert "--allow-changed-recipe" in line
    code, _, err = _run(capsys, "train", str(recipe), "--work-dir", str(run_copy), "optim.lr=0.5",
                        "train.max_epochs=2", "--allow-changed-recipe")
    assert code == 0 and "resuming from" in err
    assert "lr: 0.5" in (run_copy / "config.yaml").read_text()
    code, _, err = _run(capsys, "train", str(recipe), "model.kwargs.fc_dim=16", "train.max_epochs=3",
                        "--work-dir", str(run_copy), "--allow-changed-recipe")  # allowed, but cannot fit
    line = _one_line(err)
    assert code == 2 and "cannot resume: the checkpoint does not fit" in line and "size mismatch for fc6" in line


def test_predict_takes_an_engine_checkpoint_like_evaluate(recipe, finished_run, capsys) -> None:
    video = next((recipe.parent / "data").rglob("*.mp4"))
    checkpoint = next((finished_run / "checkpoints").glob("epoch0001_step*.pt"))
    code, from_engine, err = _run(capsys, "predict", str(video), "--checkpoint", str(checkpoint), "--num-clips", "1")
    assert code == 0, err
    code, from_safetensors, _ = _run(capsys, "predict", str(video), "--checkpoint",
                                     str(finished_run / "model.safetensors"), "--num-clips", "1")
    assert code == 0 and from_engine == from_safetensors
    not_a_checkpoint = recipe.parent / "notes.pt"
    not_a_checkpoint.write_text("not weights\n")
    code, _, err = _run(capsys, "predict", str(video), "--checkpoint", str(not_a_checkpoint))
    assert code == 2 and "not a readable checkpoint" in _one_line(err)


def test_a_finished_run_is_read_back_without_training(recipe, finished_run) -> None:
    """What ``vidlearn bench talk`` reuses for a network trained earlier."""
    from vidlearn.recognition.training import finished_run_result

    cfg = load_recipe(recipe, [f"train.work_dir={finished_run}"])
    result = finished_run_result(cfg)
    assert result.metrics == json.loads((finished_run / "metrics.json").read_text())
    assert [int(row["epoch"]) for row in result.history] == [1]
    assert result.num_params > 0 and result.classes == list(build_dataset(cfg, train=False).classes)
    assert result.train_seconds == pytest.approx(float(result.history[0]["epoch_time_s"]))
