"""Resume guards: what differs between the config a run was started with and the one it resumes with.

:class:`~vidlearn.engine.trainer.Trainer` compares the run config saved in a checkpoint with the
current one before loading anything (:func:`config_differences`) and raises :class:`ResumeError`
for a difference in a key the caller did not declare changeable, or for a finished run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from fnmatch import fnmatchcase
from typing import Any

from vidlearn.engine.config import config_to_dict

__all__ = ["ResumeError", "config_differences", "flatten_config"]


class ResumeError(ValueError):
    """A checkpoint that must not be resumed as asked: another config, or a finished run (``finished``)."""

    def __init__(self, message: str, *, finished: bool = False) -> None:
        super().__init__(message)
        self.finished = finished


def flatten_config(data: Any, prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` as ``{"a.b": 1}`` (an empty section stays a key of its own)."""
    if isinstance(data, Mapping):
        flat: dict[str, Any] = {}
        for key, value in data.items():
            flat.update(flatten_config(value, f"{prefix}{key}."))
        return flat if flat or not prefix else {prefix[:-1]: {}}
    return {prefix[:-1]: data}


def config_differences(saved: Any, current: Any, changeable: Sequence[str] = ()) -> list[str]:
    """The dotted keys whose values differ between two configs (dataclasses or mappings), sorted.

    Keys matching a pattern of ``changeable`` (``fnmatch`` syntax: ``train.max_epochs``,
    ``evaluate.*``) are left out; a key present in only one of the two counts as a difference.
    """
    old, new = flatten_config(config_to_dict(saved)), flatten_config(config_to_dict(current))
    return sorted(
        key for key in set(old) | set(new)
        if old.get(key, "<absent>") != new.get(key, "<absent>")
        and not any(fnmatchcase(key, pattern) for pattern in changeable)
    )
