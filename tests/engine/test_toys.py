"""The engine trains a GAN-shaped and a sequence-shaped task: exact resume, SIGTERM, DDP, the parts.

The toys (``_toys.py``): two models with two optimisers and alternating updates, gradient
accumulation on one optimiser and clipping on the other, an EMA copy; and ``(B, T, C, H, W)``
sequences with two losses.
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
from torch import nn

from vidlearn.engine import Callback, OptimConfig, Trainer, TrainerConfig
from vidlearn.engine.checkpoint import find_latest_checkpoint, load_checkpoint
from vidlearn.engine.ema import ExponentialMovingAverage

from ._procs import SCRIPT, child_env, free_port, start_blocking_child
from ._toys import TOYS, RealAndLatent, all_weights, build_gan_trainer, make_gan


@pytest.fixture
def one_thread():
    """The child processes compute on one thread; bit-identical results need the same here."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def assert_same_weights(got: dict[str, torch.Tensor], expected: dict[str, torch.Tensor]) -> None:
    assert got.keys() == expected.keys()
    different = [k for k in expected if not torch.equal(got[k], expected[k])]
    assert not different, f"not bit-identical: {different}"


@pytest.mark.slow
@pytest.mark.parametrize("toy", ["gan", "sequence"])
def test_toy_killed_with_sigkill_resumes_bit_identically(tmp_path: Path, toy: str, one_thread: None) -> None:
    # Step 5 of 16: the GAN's generator is half-way through a 2-batch accumulation there.
    child = start_blocking_child(tmp_path / "run", step=5, toy=toy)
    child.send_signal(signal.SIGKILL)
    child.communicate(timeout=30)
    assert child.returncode == -signal.SIGKILL
    checkpoint = load_checkpoint(find_latest_checkpoint(tmp_path / "run"))
    assert (checkpoint["epoch"], checkpoint["batches_done"], checkpoint["global_step"]) == (0, 5, 5)
    if toy == "gan":
        assert set(checkpoint["pending_grads"]) == {"g"} and set(checkpoint["ema"]) == {"g"}

    resumed = TOYS[toy](str(tmp_path / "run"))
    resumed.fit(resume="auto")
    reference = TOYS[toy](str(tmp_path / "reference"))
    reference.fit()
    assert_same_weights(all_weights(resumed), all_weights(reference))
    for name, optimizer in reference.optimizers.items():
        saved, again = optimizer.state_dict()["state"], resumed.optimizers[name].state_dict()["state"]
        assert all(torch.equal(saved[i]["exp_avg"], again[i]["exp_avg"]) for i in saved)


class _TerminateAt(Callback):
    def __init__(self, step: int) -> None:
        self.step = step

    def on_step_end(self, trainer: Trainer, metrics) -> None:
        if trainer.global_step == self.step:
            os.kill(os.getpid(), signal.SIGTERM)


@pytest.mark.parametrize("toy", ["gan", "sequence"])
def test_toy_sigterm_saves_and_the_resumed_run_equals_an_uninterrupted_one(tmp_path: Path, toy: str) -> None:
    stopped = TOYS[toy](str(tmp_path / "run"), num_workers=0, checkpoint_every_steps=0)
    stopped.callbacks.append(_TerminateAt(11))  # epoch 2, batch 3
    history = stopped.fit()
    assert history.interrupted and history.global_step == 11
    checkpoint = load_checkpoint(find_latest_checkpoint(tmp_path / "run"))
    assert (checkpoint["epoch"], checkpoint["batches_done"]) == (1, 3)

    resumed = TOYS[toy](str(tmp_path / "run"), num_workers=0, checkpoint_every_steps=0)
    resumed.fit(resume="auto")
    reference = TOYS[toy](str(tmp_path / "reference"), num_workers=0, checkpoint_every_steps=0)
    reference.fit()
    assert_same_weights(all_weights(resumed), all_weights(reference))
    keys = [k for k in reference.history.epochs[0] if k.startswith(("train_", "val_"))]
    assert keys and [{k: e[k] for k in keys} for e in resumed.history.epochs] == [
        {k: e[k] for k in keys} for e in reference.history.epochs
    ]


@pytest.mark.slow
@pytest.mark.parametrize("toy", ["gan", "sequence"])
def test_toy_ddp_on_two_ranks_equals_one_process_with_the_global_batch(tmp_path: Path, toy: str) -> None:
    command = [
        sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
        "--master-addr", "127.0.0.1", "--master-port", str(free_port()),
        str(SCRIPT), "ddp-toy", str(tmp_path), toy,
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, env=child_env(), timeout=240)
    assert result.returncode == 0, result.stderr[-3000:]
    ddp_weights = torch.load(tmp_path / "weights.pt", weights_only=True)
    ddp_history = json.loads((tmp_path / "history.json").read_text())

    single = TOYS[toy](str(tmp_path / "single"), batch_size=4, noise=0.0, dropout=0.0, num_workers=0,
                       checkpoint_every_steps=0, log_every_steps=4)
    history = single.fit()
    weights = all_weights(single)
    assert ddp_weights.keys() == weights.keys()
    for key, value in weights.items():
        torch.testing.assert_close(ddp_weights[key], value, atol=1e-5, rtol=1e-5, msg=key)
    losses = [k for k in history.epochs[0] if k.endswith("loss")]
    assert len(losses) >= 2
    for ddp_epoch, epoch in zip(ddp_history, history.epochs, strict=True):
        for key in losses:
            assert ddp_epoch[key] == pytest.approx(epoch[key], abs=1e-5), key


def test_gan_parts_each_optimiser_updates_its_own_model(tmp_path: Path) -> None:
    trainer = build_gan_trainer(str(tmp_path), num_workers=0, checkpoint_every_steps=0)
    before = all_weights(trainer)
    history = trainer.fit()
    # 16 batches: D steps on each, G (accumulating 2 batches) on every second one.
    assert trainer.parts.steps == {"d": 16, "g": 8}
    assert {"train_d_loss", "train_g_loss", "lr_g", "lr_d", "val_ema_radius"} <= set(history.epochs[-1])
    after = all_weights(trainer)
    assert not torch.equal(before["g.0.weight"], after["g.0.weight"])
    assert not torch.equal(after["g.0.weight"], after["g_ema.0.weight"])  # the average lags behind
    checkpoint = load_checkpoint(find_latest_checkpoint(tmp_path))
    assert set(checkpoint["models"]) == set(checkpoint["optimizers"]) == {"g", "d"}
    assert torch.equal(checkpoint["model"]["0.weight"], checkpoint["models"]["g"]["0.weight"])


def test_backward_reaches_only_the_named_optimisers_parameters(tmp_path: Path) -> None:
    seen: dict[str, list[bool]] = {}

    class Probe:
        manual_optimization = True

        def training_step(self, ctx, batch):
            _real, z = batch
            loss = ctx.models["d"](ctx.models["g"](z)).mean()
            ctx.backward(loss, "d")
            seen["g_grads"] = [p.grad is not None for p in ctx.models["g"].parameters()]
            seen["d_grads"] = [p.grad is not None for p in ctx.models["d"].parameters()]
            ctx.step("d")
            with pytest.raises(KeyError, match=r"no optimiser named 'x' \(optimisers: \['g', 'd'\]\)"):
                ctx.step("x")
            return {}

    Trainer(make_gan(), RealAndLatent(), step_fn=Probe(), batch_size=32,
            config=TrainerConfig(max_epochs=1, work_dir=str(tmp_path), progress_bar=False, device="cpu")).fit()
    assert seen == {"g_grads": [False] * 4, "d_grads": [True] * 4}


def test_named_parts_are_validated(tmp_path: Path) -> None:
    config = TrainerConfig(work_dir=str(tmp_path), progress_bar=False, device="cpu")
    with pytest.raises(ValueError, match=r"optim must name the optimisers \['g', 'd'\]; unknown: \['x'\], missing: \['d'\]"):
        Trainer(make_gan(), RealAndLatent(), step_fn=lambda m, b: None, batch_size=4, config=config,
                optim={"g": OptimConfig(), "x": OptimConfig()})
    with pytest.raises(ValueError, match=r"optimiser 'gd' names unknown models \['e'\]"):
        Trainer(make_gan(), RealAndLatent(), step_fn=lambda m, b: None, batch_size=4, config=config,
                optimizer_models={"gd": ["g", "e"]})
    with pytest.raises(ValueError, match="ema names an unknown model 'f'"):
        Trainer(make_gan(), RealAndLatent(), step_fn=lambda m, b: None, batch_size=4, config=config, ema={"f": 0.9})


def test_one_optimiser_over_two_models_and_max_steps(tmp_path: Path) -> None:
    def joint_step(models, batch):
        real, z = batch
        return (models["d"](models["g"](z)).squeeze(1) - real[:, 0]).pow(2).mean()

    trainer = Trainer(
        make_gan(), RealAndLatent(), step_fn=joint_step, batch_size=4, optimizer_models={"joint": ["g", "d"]},
        config=TrainerConfig(max_epochs=5, max_steps=11, work_dir=str(tmp_path), progress_bar=False, device="cpu"),
    )
    history = trainer.fit()
    assert list(trainer.optimizers) == ["joint"] and trainer.parts.steps == {"joint": 11}
    assert history.global_step == 11 and [e["epoch"] for e in history.epochs] == [1, 2]
    assert load_checkpoint(find_latest_checkpoint(tmp_path))["global_step"] == 11


def test_exponential_moving_average_values() -> None:
    model = nn.Linear(1, 1, bias=False)
    ema = ExponentialMovingAverage(model, decay=0.5, start_step=1)
    with torch.no_grad():
        model.weight.fill_(4.0)
        ema.update(model)  # before start_step: a copy
        assert ema.module.weight.item() == 4.0
        model.weight.fill_(0.0)
        ema.update(model)
        assert ema.module.weight.item() == 2.0
        ema.update(model)
        assert ema.module.weight.item() == 1.0
    state = ema.state_dict()
    again = ExponentialMovingAverage(nn.Linear(1, 1, bias=False), decay=0.5)
    again.load_state_dict(state)
    assert again.num_updates == 3 and again.module.weight.item() == 1.0
    assert not any(p.requires_grad for p in again.parameters())
    with pytest.raises(ValueError, match=r"EMA decay must be in \[0, 1\), got 1.0"):
        ExponentialMovingAverage(model, decay=1.0)


class _SkippingData(torch.utils.data.Dataset):
    """Items ``(x, y, info)`` whose info says 1 item was replaced for every third index."""

    def __len__(self) -> int:
        return 12

    def __getitem__(self, index: int):
        return torch.full((2,), float(index)), index % 2, {"skipped": int(index % 3 == 0), "path": f"v{index}"}


def test_the_engine_counts_skipped_items_itself(tmp_path: Path) -> None:
    def step(model, batch):
        x, y, _info = batch
        return nn.functional.cross_entropy(model(x), y)

    history = Trainer(nn.Linear(2, 2), _SkippingData(), step_fn=step, batch_size=4,
                      config=TrainerConfig(max_epochs=2, work_dir=str(tmp_path), progress_bar=False,
                                           device="cpu")).fit()
    assert [e["train_skipped"] for e in history.epochs] == [4, 4]


def test_evaluation_loop_returns_one_result_per_item_in_dataset_order() -> None:
    from vidlearn.engine import evaluation_loop

    data = torch.utils.data.TensorDataset(torch.arange(11.0))
    assert evaluation_loop(lambda batch: (batch[0] * 2).tolist(), data, batch_size=4) == [2.0 * i for i in range(11)]
    with pytest.raises(ValueError, match="returned 3 results for 11 items"):
        evaluation_loop(lambda batch: [0], data, batch_size=4)
