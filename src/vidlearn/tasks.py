"""The task registry: which wing trains and evaluates a recipe.

A recipe names its wing with a top-level ``task:`` key (``task: recognition``); a recipe without one
is a recognition recipe, as every recipe was before the other wings. ``vidlearn train`` and
``vidlearn evaluate`` read the key with :func:`task_of` and call the wing's entry module, imported
only then (:func:`get_task`), so the command line imports no wing it does not run.

A wing's entry module exposes:

- ``load_recipe(path, overrides) -> cfg``: the recipe as the wing's schema (a dataclass with the
  engine's ``train`` section), validated;
- ``train(cfg, *, resume, final_eval, allow_changed_recipe) -> result`` with ``result.work_dir``,
  ``result.metrics`` (a dict) and ``result.interrupted``; resuming refuses (a ``ValueError``, the
  engine's ``ResumeError``) a recipe changed in a key the wing does not declare changeable, unless
  ``allow_changed_recipe``, and a finished run;
- ``evaluate(cfg, checkpoint, *, out_dir, progress, **protocol_options) -> dict`` of metrics;
- ``average_splits(list of metric dicts) -> dict``: the mean over a dataset's official splits.

``vidlearn demo`` runs one part per wing, in the order of :data:`DEMO_PARTS`. A part's module exposes
``demo_part(out_dir, *, quick, workers, log) -> dict``: it writes its results under ``out_dir``
(``results.json`` among them) and returns that file's content; ``quick`` asks for a smoke-sized run.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Sequence
from types import ModuleType

from vidlearn.engine.config import ConfigError, load_yaml_recipe

__all__ = ["DEFAULT_TASK", "DEMO_PARTS", "TASKS", "demo_part_module", "get_task", "register_task", "task_of"]

#: Task name -> the wing's entry module (imported on first use).
TASKS: dict[str, str] = {
    "recognition": "vidlearn.recognition.wing",
    "sot": "vidlearn.tracking.sot.wing",
    "superres": "vidlearn.superres.wing",
    "generation": "vidlearn.generation.wing",
    "tracking": "vidlearn.tracking.wing",
}

#: ``vidlearn demo``'s parts, in the order they run: part name -> the module with ``demo_part``.
DEMO_PARTS: dict[str, str] = {
    "recognition": "vidlearn.recognition.demo",
    "tracking": "vidlearn.tracking.demo",
    "superres": "vidlearn.superres.demo",
    "generation": "vidlearn.generation.demo",
}

#: The task of a recipe that names none.
DEFAULT_TASK = "recognition"


def register_task(name: str, module: str) -> None:
    """Make ``task: name`` recipes run through the entry module ``module`` (a dotted path)."""
    if not name.isidentifier():
        raise ValueError(f"task name must be an identifier, got {name!r}")
    TASKS[name] = module


def _check_known(name: object, where: str) -> str:
    if not isinstance(name, str) or name not in TASKS:
        raise ConfigError(f"{where}: unknown task {name!r}; known tasks: {', '.join(sorted(TASKS))}")
    return name


def task_of(path: str | os.PathLike[str], overrides: Sequence[str] = ()) -> str:
    """The task a recipe names (its ``task:`` key after ``_base_`` merging, or a ``task=`` override).

    Raises :class:`~vidlearn.engine.config.ConfigError` naming the file for an unknown task.
    """
    name: object = load_yaml_recipe(path).get("task", DEFAULT_TASK)
    for text in overrides:
        key, _, value = text.partition("=")
        if key.strip() == "task":
            name = value.strip()
    return _check_known(name, str(path))


def get_task(name: str) -> ModuleType:
    """The entry module of the wing registered as ``name``."""
    return importlib.import_module(TASKS[_check_known(name, "task")])


def demo_part_module(name: str) -> ModuleType:
    """The module whose ``demo_part`` runs the demo part ``name`` (one of :data:`DEMO_PARTS`)."""
    if name not in DEMO_PARTS:
        raise ValueError(f"unknown demo part {name!r}; known parts: {', '.join(DEMO_PARTS)}")
    return importlib.import_module(DEMO_PARTS[name])
