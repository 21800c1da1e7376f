"""Atomic training checkpoints, keep-last-k rotation, the ``latest`` pointer and RNG states.

Layout of a work directory::

    work_dir/checkpoints/epoch0002_step00000120.pt   one file per save (the last k kept)
    work_dir/checkpoints/latest                      text: the name of the newest file

Every file is written to a temporary file in the same directory and moved into place with
``os.replace``, so a crash never leaves a partial checkpoint under its final name. A checkpoint is
a dict that ``torch.load(..., weights_only=True)`` reads: tensors, numbers, strings, lists and dicts
only (NumPy's RNG state is stored as a list). Its ``model`` entry is the model's state dict, so
``vidlearn.models.load_weights(model, path)`` also reads it.
"""

from __future__ import annotations

import os
import random
import re
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import torch

__all__ = [
    "CHECKPOINT_FORMAT",
    "atomic_write",
    "capture_rng_state",
    "checkpoint_name",
    "find_latest_checkpoint",
    "list_checkpoints",
    "load_checkpoint",
    "restore_rng_state",
    "save_checkpoint",
]

CHECKPOINT_FORMAT = "vidlearn.engine.checkpoint/2"
# Format 1 held one model and one optimiser flat ("model", "optimizer", ...); the trainer upgrades it.
READABLE_FORMATS = ("vidlearn.engine.checkpoint/1", CHECKPOINT_FORMAT)
CHECKPOINT_DIR = "checkpoints"
LATEST = "latest"
_NAME = re.compile(r"^epoch(\d+)_step(\d+)\.pt$")


def atomic_write(path: str | os.PathLike[str], write: Callable[[BinaryIO], None]) -> Path:
    """Call ``write(handle)`` on a temporary file next to ``path``, fsync, then rename onto ``path``.

    If ``write`` raises (or the process dies) the temporary file is removed (or left under a
    hidden ``.tmp`` name) and ``path`` keeps its previous content.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def capture_rng_state() -> dict[str, Any]:
    """The state of Python's, NumPy's, torch's CPU and (if present) every CUDA device's RNG."""
    version, state, gauss = random.getstate()
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    return {
        "python": [version, list(state), gauss],
        "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), int(pos), int(has_gauss), float(cached)],
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def restore_rng_state(state: Mapping[str, Any]) -> None:
    """Restore what :func:`capture_rng_state` returned."""
    version, values, gauss = state["python"]
    random.setstate((version, tuple(values), gauss))
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if state.get("cuda") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def checkpoint_name(epoch: int, global_step: int) -> str:
    """File name of a checkpoint; ``epoch`` is the epoch in progress (or the next one at its start)."""
    return f"epoch{epoch:04d}_step{global_step:08d}.pt"


def list_checkpoints(work_dir: str | os.PathLike[str]) -> list[Path]:
    """Checkpoint files in ``work_dir/checkpoints``, oldest first (by global step)."""
    folder = Path(work_dir) / CHECKPOINT_DIR
    if not folder.is_dir():
        return []
    found = [(int(m.group(2)), p) for p in folder.iterdir() if (m := _NAME.match(p.name))]
    return [p for _, p in sorted(found)]


def find_latest_checkpoint(work_dir: str | os.PathLike[str]) -> Path | None:
    """The newest checkpoint of a work directory (the ``latest`` pointer, else the highest step)."""
    folder = Path(work_dir) / CHECKPOINT_DIR
    pointer = folder / LATEST
    if pointer.is_file():
        candidate = folder / pointer.read_text(encoding="utf-8").strip()
        if candidate.is_file():
            return candidate
    files = list_checkpoints(work_dir)
    return files[-1] if files else None


def save_checkpoint(
    state: Mapping[str, Any], work_dir: str | os.PathLike[str], *, epoch: int, global_step: int, keep: int = 0
) -> Path:
    """Write ``state`` atomically as ``work_dir/checkpoints/<name>``, point ``latest`` to it and
    delete all but the newest ``keep`` files (``keep`` 0 keeps all). Returns the file's path."""
    folder = Path(work_dir) / CHECKPOINT_DIR
    path = folder / checkpoint_name(epoch, global_step)
    payload = {"format": CHECKPOINT_FORMAT, **state}
    atomic_write(path, lambda handle: torch.save(payload, handle))
    atomic_write(folder / LATEST, lambda handle: handle.write(path.name.encode("utf-8")))
    if keep > 0:
        for old in list_checkpoints(work_dir)[:-keep]:
            if old != path:
                old.unlink(missing_ok=True)
    return path


def load_checkpoint(path: str | os.PathLike[str], map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a training checkpoint (``weights_only=True``); a missing or foreign file is a clear error."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        data = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:
        raise ValueError(f"{path}: not a readable checkpoint: {error}") from None
    if not isinstance(data, dict) or data.get("format") not in READABLE_FORMATS:
        raise ValueError(f"{path}: not a vidlearn training checkpoint (no format {CHECKPOINT_FORMAT!r})")
    return data
