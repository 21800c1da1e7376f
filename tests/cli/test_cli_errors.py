"""Bad input to the command line: one clear line on stderr, exit code 2, no traceback."""

from pathlib import Path

import pytest

from vidlearn.cli.main import main
from vidlearn.models import create, save_weights

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
RECIPE = CONFIGS / "c3d_sports1m-pretrained_16x1x1_ucf101-split1.yaml"


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
