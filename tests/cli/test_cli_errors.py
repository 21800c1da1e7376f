"""Bad input to the command line: one clear line on stderr, exit code 2, no traceback."""

import re
from pathlib import Path

import pytest

from vidlearn.cli.main import main
from vidlearn.models import create, save_weights
from vidlearn.tasks import TASKS

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
RECIPE = CONFIGS / "recognition" / "c3d" / "c3d_sports1m-pretrained_16x1x1_ucf101-split1.yaml"
CLI = Path(__file__).resolve().parents[2] / "src" / "vidlearn" / "cli"


def _run(capsys, *argv):
    with pytest.raises(SystemExit) as exit_info:
        raise SystemExit(main(list(argv)))
    captured = capsys.readouterr()
    return exit_info.value.code, captured.err


def _one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def test_misspelt_recipe_key_suggests_the_right_one(capsys):
    code, err = _run(capsys, "train", str(RECIPE), "data.bacth_size=4")
    line = _one_line(err)
    assert code == 2
    assert "data.bacth_size" in line and "batch_size" in line


def test_unknown_model_suggests_a_name(capsys):
    code, err = _run(capsys, "train", str(RECIPE), "model.name=c3dd", "data.root=.")
    line = _one_line(err)
    assert code == 2
    assert "c3dd" in line


def test_missing_dataset_root_names_it(capsys, tmp_path):
    missing = tmp_path / "no_such_ucf101"
    code, err = _run(capsys, "train", str(RECIPE), f"data.root={missing}", "model.weights=null")
    line = _one_line(err)
    assert code == 2
    assert str(missing) in line


def test_checkpoint_of_another_model_names_the_file_and_keys(capsys, tmp_path):
    other = create("r3d_18", num_classes=4)
    path = save_weights(other, tmp_path / "r3d.safetensors")
    code, err = _run(capsys, "predict", "video.mp4", "--model", "c3d", "--weights", str(path))
    line = _one_line(err)
    assert code == 2
    assert str(path) in line and "unexpected keys" in line


def test_bad_argument_is_one_line(capsys):
    code, err = _run(capsys, "evaluate", str(RECIPE), "--num-crops", "7", "--checkpoint", "x")
    line = _one_line(err)
    assert code == 2 and "--num-crops" in line


def test_unknown_command_is_one_line(capsys):
    code, err = _run(capsys, "trian")
    assert code == 2 and "trian" in _one_line(err)


def test_models_lists_exact_parameter_counts(capsys):
    assert main(["models", "c3d", "r3d_18", "--json"]) == 0
    import json

    rows = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
    assert rows["c3d"]["params"] == 79_991_015
    assert rows["r3d_18"]["params"] == 33_371_472
    assert rows["c3d"]["gmacs"] == pytest.approx(38.5, abs=0.5)


def test_unknown_task_is_one_line_listing_the_known_tasks(capsys, tmp_path):
    recipe = tmp_path / "sr.yaml"
    recipe.write_text("task: superresolution\n")
    for command in (["train", str(recipe)], ["evaluate", str(recipe), "--checkpoint", "x"]):
        code, err = _run(capsys, *command)
        assert code == 2
        assert _one_line(err) == (
            f"vidlearn: error: {recipe}: unknown task 'superresolution'; known tasks: {', '.join(sorted(TASKS))}")


def test_recipe_without_task_runs_as_recognition(capsys, tmp_path):
    """Old recipes name no task: they load as recognition recipes and fail only on their data."""
    recipe = tmp_path / "old.yaml"
    missing = tmp_path / "no_such_videos"
    recipe.write_text(f"model: {{name: c3d}}\ndata: {{format: folder, root: {missing}}}\n")
    code, err = _run(capsys, "train", str(recipe))
    assert code == 2
    assert _one_line(err) == f"vidlearn: error: dataset root not found: {missing} (data.root)"


def test_old_flat_pixel_key_names_its_new_place(capsys):
    code, err = _run(capsys, "train", str(RECIPE), "data.crop_size=96")
    assert code == 2
    assert _one_line(err).endswith("data.crop_size moved to data.preprocessing.crop_size")


def test_task_override_picks_the_wing(capsys):
    code, err = _run(capsys, "train", str(RECIPE), "task=generation")
    assert code == 2 and "unknown task 'generation'; known tasks: recognition" in _one_line(err)


@pytest.mark.parametrize("module", sorted(p.name for p in CLI.glob("*.py")))
def test_command_modules_import_nothing_from_main(module):
    """Command modules take CLIError from cli.errors: cli.main imports them, never the reverse."""
    if module == "main.py":
        return
    imports = re.findall(r"^\s*(?:from|import) (vidlearn\.cli\.\w+)", (CLI / module).read_text(), re.M)
    assert "vidlearn.cli.main" not in imports, module


@pytest.mark.parametrize("module", ["train.py", "evaluate.py"])
def test_train_and_evaluate_import_no_wing(module):
    """train / evaluate dispatch through vidlearn.tasks; no wing is named in them."""
    source = (CLI / module).read_text()
    for wing in ("recognition", "tracking", "superres", "generation"):
        assert f"vidlearn.{wing}" not in source, (module, wing)


def test_misspelt_model_option_suggests_the_right_one(capsys):
    code, err = _run(capsys, "train", str(RECIPE), "model.kwargs.widht_multiplier=0.1", "data.root=.")
    line = _one_line(err)
    assert code == 2
    assert line.startswith("vidlearn: error: model.kwargs.widht_multiplier: model 'c3d' takes no option")
    assert "did you mean width_multiplier?" in line


def test_unknown_model_name_in_models_is_one_line(capsys):
    code, err = _run(capsys, "models", "c3dd")
    assert code == 2
    assert _one_line(err) == "vidlearn: error: unknown model 'c3dd'; did you mean c3d? (see `vidlearn models`)"


def test_a_file_that_is_not_a_checkpoint_says_so(capsys, tmp_path):
    path = tmp_path / "clip.pt"
    path.write_bytes(b"\x00\x00\x00\x1cftypisom" + bytes(200))  # the start of an MP4, not weights
    code, err = _run(capsys, "predict", "video.mp4", "--model", "c3d", "--weights", str(path))
    line = _one_line(err)
    assert code == 2
    assert line.startswith(f"vidlearn: error: {path}: not a checkpoint file (read as a torch.save file:")
    assert line.endswith("give a .safetensors, .pt/.pth or .npz file of model weights")


def test_checkpoint_of_another_model_names_a_few_keys_and_the_count(capsys, tmp_path):
    path = save_weights(create("r3d_18", num_classes=4), tmp_path / "r3d.safetensors")
    code, err = _run(capsys, "predict", "video.mp4", "--model", "c3d", "--weights", str(path))
    line = _one_line(err)
    assert code == 2
    missing = re.search(r"missing keys \((\d+)\): ((?:[\w.]+, ){4})\.\.\. and (\d+) more", line)
    assert missing, line
    assert int(missing.group(1)) == 4 + int(missing.group(3))
    assert missing.group(2).startswith("conv1a.")
    assert re.search(r"unexpected keys \((\d+)\): (?:[\w.]+, ){4}\.\.\. and \d+ more", line), line
    assert len(line) < 600


def test_an_empty_text_override_is_the_empty_string(capsys, tmp_path):
    code, err = _run(capsys, "train", str(RECIPE), "data.annotations=", f"data.root={tmp_path}")
    assert code == 2
    assert _one_line(err) == ("vidlearn: error: data.annotations is not set: data.format=ucf101 needs the folder of "
                              "classInd.txt, trainlistNN.txt and testlistNN.txt (ucfTrainTestlist)")
