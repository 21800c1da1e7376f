"""Atomic writes, rotation, the latest pointer and RNG round trips."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
import torch

from vidlearn.engine.checkpoint import (
    atomic_write,
    capture_rng_state,
    find_latest_checkpoint,
    list_checkpoints,
    load_checkpoint,
    restore_rng_state,
    save_checkpoint,
)


def test_a_failure_mid_write_leaves_the_old_file_and_no_partial_one(tmp_path: Path) -> None:
    target = tmp_path / "state.pt"
    atomic_write(target, lambda handle: handle.write(b"old content"))

    def crash(handle) -> None:
        handle.write(b"half of the new")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(target, crash)
    assert target.read_bytes() == b"old content"
    assert [p.name for p in tmp_path.iterdir()] == ["state.pt"]


def test_keep_last_k_and_latest_pointer(tmp_path: Path) -> None:
    for step in (2, 4, 6, 8):
        save_checkpoint({"global_step": step}, tmp_path, epoch=1, global_step=step, keep=2)
    names = [p.name for p in list_checkpoints(tmp_path)]
    assert names == ["epoch0001_step00000006.pt", "epoch0001_step00000008.pt"]
    latest = find_latest_checkpoint(tmp_path)
    assert latest is not None and latest.name == "epoch0001_step00000008.pt"
    assert load_checkpoint(latest)["global_step"] == 8
    assert find_latest_checkpoint(tmp_path / "empty") is None


def test_rng_state_round_trip_through_a_weights_only_file(tmp_path: Path) -> None:
    random.seed(1)
    np.random.seed(2)
    torch.manual_seed(3)
    save_checkpoint({"rng": capture_rng_state()}, tmp_path, epoch=0, global_step=0)
    expected = (random.random(), np.random.rand(), torch.rand(3))
    random.seed(9)
    np.random.seed(9)
    torch.manual_seed(9)
    restore_rng_state(load_checkpoint(find_latest_checkpoint(tmp_path))["rng"])
    got = (random.random(), np.random.rand(), torch.rand(3))
    assert got[0] == expected[0] and got[1] == expected[1] and torch.equal(got[2], expected[2])


def test_foreign_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "weights.pt"
    torch.save({"weight": torch.zeros(1)}, path)
    with pytest.raises(ValueError, match=r"weights\.pt: not a vidlearn training checkpoint"):
        load_checkpoint(path)
    with pytest.raises(FileNotFoundError, match="checkpoint not found"):
        load_checkpoint(tmp_path / "missing.pt")
