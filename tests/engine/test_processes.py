"""Real processes: a run killed with SIGKILL resumes exactly; SIGTERM exits cleanly (sent to the main
process or to its whole process group); DDP on 2 ranks.

Each test starts Python processes (about 3 s each for the torch import), so there are only four.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from vidlearn.engine import OptimConfig, ScheduleConfig, Trainer, TrainerConfig
from vidlearn.engine.checkpoint import find_latest_checkpoint, load_checkpoint

from ._procs import SCRIPT, child_env, free_port, start_blocking_child
from ._tiny import NoisyPoints, build_resume_trainer, flat_weights, make_model, step_fn

pytestmark = pytest.mark.slow


def test_sigkill_mid_epoch_then_resume_ends_with_equal_weights(tmp_path: Path) -> None:
    child = start_blocking_child(tmp_path / "run", step=6)  # epoch 1 of 2, batch 6 of 8
    child.send_signal(signal.SIGKILL)
    child.communicate(timeout=30)
    assert child.returncode == -signal.SIGKILL
    checkpoint = load_checkpoint(find_latest_checkpoint(tmp_path / "run"))
    assert (checkpoint["epoch"], checkpoint["batches_done"], checkpoint["global_step"]) == (0, 6, 6)

    resumed = build_resume_trainer(str(tmp_path / "run"))
    resumed.fit(resume="auto")
    reference = build_resume_trainer(str(tmp_path / "reference"))
    reference.fit()
    expected, got = flat_weights(reference.model), flat_weights(resumed.model)
    assert all(torch.equal(got[k], expected[k]) for k in expected)
    # The logs read as one run: the killed run's rows after step 6 are gone, none is repeated.
    rows = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert [r["global_step"] for r in rows if r["kind"] == "step"] == list(range(1, 17))


def test_sigterm_saves_a_loadable_checkpoint_and_exits_cleanly(tmp_path: Path) -> None:
    child = start_blocking_child(tmp_path / "run", step=4)
    child.send_signal(signal.SIGTERM)
    out, err = child.communicate(timeout=60)
    assert child.returncode == 0, err
    assert json.loads(out.strip().splitlines()[-1]) == {"interrupted": True, "step": 5}
    assert "SIGTERM received: saved checkpoint" in err and "step 5; stopping" in err
    checkpoint = load_checkpoint(find_latest_checkpoint(tmp_path / "run"))
    assert checkpoint["global_step"] == 5
    model = make_model()
    model.load_state_dict(checkpoint["model"])


def test_sigterm_to_the_whole_process_group_still_saves_and_exits_cleanly(tmp_path: Path) -> None:
    # timeout(1), SLURM and container stops signal every process of the job: the data-loader worker too.
    child = start_blocking_child(tmp_path / "run", step=4, own_group=True)
    os.killpg(child.pid, signal.SIGTERM)
    out, err = child.communicate(timeout=60)
    assert child.returncode == 0, err
    assert json.loads(out.strip().splitlines()[-1]) == {"interrupted": True, "step": 5}
    assert "SIGTERM received: saved checkpoint" in err and "DataLoader worker" not in err
    assert load_checkpoint(find_latest_checkpoint(tmp_path / "run"))["global_step"] == 5


def test_ddp_on_two_ranks_matches_one_process_with_the_global_batch(tmp_path: Path) -> None:
    command = [
        sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
        "--master-addr", "127.0.0.1", "--master-port", str(free_port()),
        str(SCRIPT), "ddp", str(tmp_path),
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, env=child_env(), timeout=240)
    assert result.returncode == 0, result.stderr[-3000:]
    assert not (tmp_path / "rank1").exists()  # only rank 0 writes
    assert (tmp_path / "rank0" / "log.jsonl").is_file()
    ddp_history = json.loads((tmp_path / "history.json").read_text())
    ddp_weights = load_checkpoint(find_latest_checkpoint(tmp_path / "rank0"))["model"]

    # One process with batch 8 (= 2 ranks x 2 micro-batches x 2), same seed: the same updates.
    dataset = NoisyPoints(noise=0.0)
    model = make_model(dropout=0.0)
    trainer = Trainer(
        model,
        dataset,
        step_fn=step_fn,
        batch_size=8,
        eval_fn=lambda m: {"loss": torch.nn.functional.cross_entropy(m(dataset.features), dataset.labels).item()},
        optim=OptimConfig(lr=0.1),
        schedule=ScheduleConfig(warmup_epochs=0.5),
        config=TrainerConfig(
            max_epochs=2, seed=3, deterministic=True, work_dir=str(tmp_path / "single"), progress_bar=False,
            device="cpu",
        ),
    )  # fmt: skip
    history = trainer.fit()
    for key, value in model.state_dict().items():
        torch.testing.assert_close(ddp_weights[key], value, atol=1e-6, rtol=0)
    for ddp_epoch, epoch in zip(ddp_history, history.epochs, strict=True):
        assert ddp_epoch["train_seen"] == epoch["train_seen"] == 32
        assert ddp_epoch["val_count"] == 32  # gathered from both ranks' shards, each sample once
        assert ddp_epoch["train_loss"] == pytest.approx(epoch["train_loss"], abs=1e-6)
        assert ddp_epoch["val_loss"] == pytest.approx(epoch["val_loss"], abs=1e-6)
