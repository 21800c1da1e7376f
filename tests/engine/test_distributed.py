"""The distributed helpers without a process group (one process): they return the local values.

The 2-rank behaviour is tested under torchrun in test_processes.py.
"""

from __future__ import annotations

import pytest
import torch

from vidlearn.engine import distributed as dist_utils


def test_single_process_helpers_are_identities(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)
    info = dist_utils.init_distributed("cpu")
    assert (info.rank, info.world_size, info.local_rank, info.device) == (0, 1, 0, torch.device("cpu"))
    assert not dist_utils.is_distributed() and dist_utils.is_main_process()
    assert dist_utils.all_reduce_sum(3) == 3.0
    assert dist_utils.all_reduce_mean(torch.tensor([2.0, 4.0])).tolist() == [2.0, 4.0]
    assert dist_utils.reduce_metrics({"loss": 6.0, "skipped": 2}, {"loss": 3}) == {
        "loss": 2.0,
        "skipped": 2.0,
    }
    assert dist_utils.all_gather_object({"a": 1}) == [{"a": 1}]
    values = torch.arange(5)
    assert dist_utils.gather_tensors(values) is values
    dist_utils.barrier()
    dist_utils.shutdown_distributed()


def test_bad_launcher_environment_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORLD_SIZE", "two")
    with pytest.raises(ValueError, match=r"environment variable WORLD_SIZE='two' is not an integer"):
        dist_utils.init_distributed("cpu")
