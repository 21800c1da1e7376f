"""The loop in one process: accumulation, clipping, AMP, logs, exact resume after SIGTERM."""

from __future__ import annotations

import csv
import json
import os
import signal
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader

from vidlearn.engine import (
    Callback,
    OptimConfig,
    ScheduleConfig,
    Trainer,
    TrainerConfig,
    find_latest_checkpoint,
)
from vidlearn.engine.checkpoint import load_checkpoint

from ._tiny import NoisyPoints, build_resume_trainer, flat_weights, make_model, step_fn


def quiet(work_dir: Path, **overrides) -> TrainerConfig:
    values = {"max_epochs": 1, "progress_bar": False, "work_dir": str(work_dir), "device": "cpu", "seed": 1}
    values.update(overrides)
    return TrainerConfig(**values)


def train(work_dir: Path, batch_size: int, **overrides) -> nn.Module:
    model = make_model(dropout=0.0)
    Trainer(
        model,
        NoisyPoints(noise=0.0),
        step_fn=step_fn,
        batch_size=batch_size,
        optim=OptimConfig(lr=0.1, momentum=0.9, weight_decay=1e-3),
        schedule=ScheduleConfig(name="constant"),
        config=quiet(work_dir, **overrides),
    ).fit()
    return model


def test_gradient_accumulation_equals_the_larger_batch(tmp_path: Path) -> None:
    big = flat_weights(train(tmp_path / "big", batch_size=8, max_epochs=2))
    accumulated = flat_weights(train(tmp_path / "acc", batch_size=4, grad_accum_steps=2, max_epochs=2))
    single = flat_weights(train(tmp_path / "one", batch_size=4, max_epochs=2))
    for key in big:
        torch.testing.assert_close(accumulated[key], big[key], atol=1e-6, rtol=1e-5)
    assert not all(torch.allclose(single[k], big[k], atol=1e-4) for k in big)


def test_gradient_clipping_bounds_the_update(tmp_path: Path) -> None:
    model = make_model(dropout=0.0)
    before = torch.cat([p.detach().flatten().clone() for p in model.parameters()])
    loader = DataLoader(NoisyPoints(noise=0.0), batch_size=32)  # one batch: one plain SGD step
    Trainer(
        model,
        loader,
        step_fn=step_fn,
        optim=OptimConfig(lr=1.0, momentum=0.0),
        schedule=ScheduleConfig(name="constant"),
        config=quiet(tmp_path, clip_grad_norm=0.01),
    ).fit()
    after = torch.cat([p.detach().flatten() for p in model.parameters()])
    assert (after - before).norm().item() == pytest.approx(0.01, rel=1e-4)


def test_bf16_autocast_on_cpu(tmp_path: Path) -> None:
    dtypes = []

    def recording_step(model, batch):
        loss, metrics = step_fn(model, batch)
        dtypes.append(model(batch[0]).dtype)
        return loss, metrics

    history = Trainer(
        make_model(),
        NoisyPoints(),
        step_fn=recording_step,
        batch_size=8,
        config=quiet(tmp_path, amp="bf16"),
    ).fit()
    assert set(dtypes) == {torch.bfloat16}
    assert torch.isfinite(torch.tensor(history.epochs[0]["train_loss"]))
    with pytest.raises(ValueError, match="amp=fp16 needs a CUDA device"):
        Trainer(
            make_model(), NoisyPoints(), step_fn=step_fn, batch_size=8, config=quiet(tmp_path, amp="fp16")
        )


@pytest.mark.parametrize("has_bf16", [False, True, None])
def test_bf16_on_a_cpu_without_bf16_instructions_warns(tmp_path: Path, monkeypatch, caplog, has_bf16) -> None:
    monkeypatch.setattr("vidlearn.engine.trainer.cpu_has_bf16", lambda: has_bf16)
    with caplog.at_level("WARNING", logger="vidlearn.engine"):
        Trainer(make_model(), NoisyPoints(), step_fn=step_fn, batch_size=8, config=quiet(tmp_path, amp="bf16"))
    warned = [r.getMessage() for r in caplog.records if "without bf16 instructions" in r.getMessage()]
    assert warned == (["train.amp=bf16 on a CPU without bf16 instructions: autocast emulates bf16 there and "
                       "trains several times slower than float32 (train.amp=none)"] if has_bf16 is False else [])


class _ClipNet(nn.Module):
    """Conv3d with a 3-deep kernel on 2-frame clips: the depth whose CPU bf16 weight gradient is wrong."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv3d(16, 16, 3, padding=1)
        self.head = nn.Linear(16, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.conv(x).mean(dim=(2, 3, 4)))


class _Clips(torch.utils.data.Dataset):
    def __len__(self) -> int:
        return 16

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        generator = torch.Generator().manual_seed(index)
        return torch.randn(16, 2, 7, 7, generator=generator).relu(), index % 2


def _clip_step(model: nn.Module, batch) -> tuple[torch.Tensor, dict]:
    clips, labels = batch
    return nn.functional.cross_entropy(model(clips).float(), labels), {}


def test_bf16_training_on_cpu_matches_float32_on_short_clips(tmp_path: Path) -> None:
    # The trainer guards 3D convolutions against the CPU's bf16 weight-gradient fault (see
    # vidlearn.models.layers.guard_bf16_conv3d_weight_grad): the weights after one epoch stay finite
    # and close to a float32 run's.
    weights, models = {}, {}
    for amp in ("none", "bf16"):
        torch.manual_seed(0)
        models[amp] = model = _ClipNet()
        Trainer(model, _Clips(), step_fn=_clip_step, batch_size=4, optim=OptimConfig(lr=0.05, momentum=0.0),
                schedule=ScheduleConfig(name="constant"), config=quiet(tmp_path / amp, amp=amp)).fit()
        weights[amp] = model.conv.weight.detach().clone()
    assert torch.isfinite(weights["bf16"]).all()
    torch.testing.assert_close(weights["bf16"], weights["none"], atol=2e-3, rtol=0.05)
    assert "_conv_forward" in vars(models["bf16"].conv) and "_conv_forward" not in vars(models["none"].conv)


def test_jsonl_and_csv_rows(tmp_path: Path) -> None:
    evaluations = []
    Trainer(
        make_model(),
        NoisyPoints(),
        step_fn=step_fn,
        batch_size=4,
        eval_fn=lambda model: evaluations.append(model.training) or {"acc": 0.25},
        config=quiet(tmp_path, max_epochs=2, log_every_steps=3),
    ).fit()
    rows = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    steps = [r for r in rows if r["kind"] == "step"]
    epochs = [r for r in rows if r["kind"] == "epoch"]
    assert [r["global_step"] for r in steps] == [3, 6, 9, 12, 15]
    assert [r["epoch"] for r in steps] == [1, 1, 2, 2, 2]
    assert all(r["seen"] == 4 for r in steps)  # a counter: summed over the step's batches
    assert [(r["epoch"], r["global_step"], r["train_seen"], r["val_acc"]) for r in epochs] == [
        (1, 8, 32, 0.25),
        (2, 16, 32, 0.25),
    ]
    assert evaluations == [False, False]  # evaluated in eval mode
    with (tmp_path / "epochs.csv").open() as handle:
        table = list(csv.DictReader(handle))
    assert [(r["epoch"], r["train_seen"], r["val_acc"]) for r in table] == [
        ("1", "32", "0.25"),
        ("2", "32", "0.25"),
    ]
    assert float(table[0]["train_loss"]) == pytest.approx(epochs[0]["train_loss"])
    with (tmp_path / "steps.csv").open() as handle:
        assert [r["global_step"] for r in csv.DictReader(handle)] == ["3", "6", "9", "12", "15"]


def test_sigterm_saves_and_stops_then_resume_gives_the_same_weights(tmp_path: Path) -> None:
    reference = build_resume_trainer(str(tmp_path / "reference"), num_workers=0)
    reference.fit()

    class KillAtStep5(Callback):
        def on_step_end(self, trainer: Trainer, metrics) -> None:
            if trainer.global_step == 5:
                os.kill(os.getpid(), signal.SIGTERM)

    class TerminatedAtStep5(Trainer):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            self.callbacks.append(KillAtStep5())

    stopped = build_resume_trainer(str(tmp_path / "run"), TerminatedAtStep5, num_workers=0)
    history = stopped.fit()
    assert history.interrupted and history.global_step == 5
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # the handler is put back
    checkpoint = load_checkpoint(find_latest_checkpoint(tmp_path / "run"))
    assert (checkpoint["epoch"], checkpoint["batches_done"], checkpoint["global_step"]) == (0, 5, 5)

    resumed = build_resume_trainer(str(tmp_path / "run"), num_workers=0)
    resumed.fit(resume="auto")
    expected = flat_weights(reference.model)
    got = flat_weights(resumed.model)
    assert all(torch.equal(got[k], expected[k]) for k in expected)
    assert resumed.history.epochs == [
        {**e, "epoch_time_s": r["epoch_time_s"], "samples_per_s": r["samples_per_s"]}
        for e, r in zip(reference.history.epochs, resumed.history.epochs)
    ]
    with pytest.raises(FileExistsError, match="already holds checkpoints"):
        build_resume_trainer(str(tmp_path / "run"), num_workers=0).fit()


def test_tensorboard_progress_bar_and_channels_last(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = nn.Sequential(
        nn.Conv3d(3, 4, 3, padding=1), nn.AdaptiveAvgPool3d(1), nn.Flatten(), nn.Linear(4, 2)
    )
    clips = torch.randn(8, 3, 4, 6, 6)
    labels = torch.tensor([0, 1] * 4)
    formats = []

    def conv_step(model, batch):
        formats.append(batch[0].is_contiguous(memory_format=torch.channels_last_3d))
        return nn.functional.cross_entropy(model(batch[0]), batch[1])

    Trainer(
        model,
        torch.utils.data.TensorDataset(clips, labels),
        step_fn=conv_step,
        batch_size=4,
        config=quiet(tmp_path, log_every_steps=1, tensorboard=True, progress_bar=True, channels_last=True),
    ).fit()
    # The model is laid out channels_last_3d; the batch is left as the data gave it (a 5-D batch may
    # be a (B, T, C, H, W) sequence: its memory format is the step's or the model's choice).
    assert formats == [False, False]
    assert model[0].weight.is_contiguous(memory_format=torch.channels_last_3d)
    assert "samples_s=" in capsys.readouterr().err  # tqdm's postfix with the throughput

    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(tmp_path / "tensorboard"))
    events.Reload()
    assert {"train/loss", "train/lr", "epoch/train_loss"} <= set(events.Tags()["scalars"])
    assert [e.step for e in events.Scalars("train/loss")] == [1, 2]


def test_channels_last_lays_out_each_tensor_by_its_rank_so_2d_models_train(tmp_path: Path) -> None:
    # A 2-D model (super-resolution, GOTURN) and a mixed one: channels_last for 4-D weights,
    # channels_last_3d for 5-D ones; Module.to(memory_format=channels_last_3d) fails on the 2-D weight.
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 2))
    mixed = nn.Conv3d(3, 4, 3)
    with pytest.raises(RuntimeError, match="rank 5"):
        nn.Conv2d(3, 4, 3).to(memory_format=torch.channels_last_3d)
    images, labels = torch.randn(8, 3, 6, 6), torch.tensor([0, 1] * 4)
    Trainer(
        {"model": model, "mixed": mixed},
        torch.utils.data.TensorDataset(images, labels),
        step_fn=lambda models, batch: nn.functional.cross_entropy(models["model"](batch[0]), batch[1]),
        batch_size=4,
        config=quiet(tmp_path, channels_last=True),
    ).fit()
    conv = model[0].weight
    assert conv.is_contiguous(memory_format=torch.channels_last) and not conv.is_contiguous()
    assert mixed.weight.is_contiguous(memory_format=torch.channels_last_3d) and not mixed.weight.is_contiguous()
    assert model[3].weight.is_contiguous()  # 2-D tensors keep their layout


class TinyTask:
    """A task object: the trainer takes its training_step and evaluate."""

    def __init__(self) -> None:
        self.evaluated = 0

    def training_step(self, model, batch):
        return step_fn(model, batch)[0]

    def evaluate(self, model):
        self.evaluated += 1
        return {"score": torch.tensor(0.5)}


def test_task_object_and_argument_errors(tmp_path: Path) -> None:
    task = TinyTask()
    history = Trainer(make_model(), NoisyPoints(), step_fn=task, batch_size=16, config=quiet(tmp_path)).fit()
    assert task.evaluated == 1 and history.epochs[0]["val_score"] == 0.5
    assert history.epochs[0]["train_loss"] > 0 and not history.interrupted
    with pytest.raises(ValueError, match="batch_size is required"):
        Trainer(make_model(), NoisyPoints(), step_fn=task, config=quiet(tmp_path))
    with pytest.raises(ValueError, match="set them on the DataLoader passed instead"):
        Trainer(make_model(), DataLoader(NoisyPoints()), step_fn=task, batch_size=4, config=quiet(tmp_path))
    with pytest.raises(FileNotFoundError, match="resume checkpoint not found"):
        Trainer(make_model(), NoisyPoints(), step_fn=task, batch_size=4, config=quiet(tmp_path)).fit(
            resume=tmp_path / "nope.pt"
        )
