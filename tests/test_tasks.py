"""The task registry: a recipe's task key (inherited through _base_, defaulting to recognition)
picks the wing's entry module, imported only when asked for."""

import re
import subprocess
import sys

import pytest

from vidlearn.engine.config import ConfigError
from vidlearn.tasks import TASKS, get_task, task_of

KNOWN = re.escape(", ".join(sorted(TASKS)))


def test_recipe_without_task_is_recognition(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("model: {name: c3d}\n")
    assert task_of(recipe) == "recognition"


def test_task_is_inherited_from_base_and_overridable(tmp_path):
    (tmp_path / "base.yaml").write_text("task: recognition\n")
    recipe = tmp_path / "r.yaml"
    recipe.write_text("_base_: base.yaml\n")
    assert task_of(recipe) == "recognition"
    with pytest.raises(ConfigError, match=rf"r\.yaml: unknown task 'nope'; known tasks: {KNOWN}$"):
        task_of(recipe, ["optim.lr=0.1", "task=nope"])


def test_unknown_or_malformed_task_lists_the_known_ones(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("task: [recognition]\n")
    with pytest.raises(ConfigError, match=rf"unknown task \['recognition'\]; known tasks: {KNOWN}$"):
        task_of(recipe)
    with pytest.raises(ConfigError, match=f"known tasks: {KNOWN}$"):
        get_task("nope")


def test_every_registered_wing_exposes_the_entry_interface():
    for name in TASKS:
        wing = get_task(name)
        for attribute in ("load_recipe", "train", "evaluate", "average_splits"):
            assert callable(getattr(wing, attribute)), (name, attribute)


def test_reading_the_task_imports_no_wing(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("task: recognition\n")
    code = ("import sys; from vidlearn.tasks import task_of; "
            f"assert task_of({str(recipe)!r}) == 'recognition'; "
            "print(sorted(m for m in sys.modules if m.startswith('vidlearn.recognition')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_every_demo_part_module_has_a_demo_part_function() -> None:
    import inspect

    from vidlearn.tasks import DEMO_PARTS, demo_part_module

    assert next(iter(DEMO_PARTS)) == "recognition"
    for name in DEMO_PARTS:
        params = inspect.signature(demo_part_module(name).demo_part).parameters
        assert {"out_dir", "quick", "workers", "log"} <= set(params), name


def test_demo_rejects_an_unknown_part_naming_it(capsys) -> None:
    from vidlearn.cli.main import main
    from vidlearn.tasks import DEMO_PARTS

    assert main(["demo", "recognition", "trackin"]) == 2
    assert f"unknown demo part 'trackin'; the parts are: {', '.join(DEMO_PARTS)}" in capsys.readouterr().err
