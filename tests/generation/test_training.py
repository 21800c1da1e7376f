"""DVD-GAN training on the engine: losses, the data adapter, the step, checkpoints, sample grids, resume."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image

from vidlearn.engine import load_checkpoint
from vidlearn.generation.models import build_dvdgan
from vidlearn.generation.training import (
    DVDGANStep,
    GenerationClips,
    hinge_discriminator_loss,
    hinge_generator_loss,
    load_generator,
    orthogonal_regularization,
    synthetic_motion_clips,
    train,
)

TINY = {"ch": 2, "num_frames": 4, "k": 2, "z_dim": 8, "embed_dim": 8}


def test_hinge_losses() -> None:
    real = torch.tensor([2.0, 0.5, -1.0])
    fake = torch.tensor([-2.0, 0.0, 1.5])
    # relu(1 - real) = [0, 0.5, 2]; relu(1 + fake) = [0, 1, 2.5]
    assert hinge_discriminator_loss(real, fake).item() == pytest.approx(2.5 / 3 + 3.5 / 3)
    assert hinge_generator_loss(fake).item() == pytest.approx(0.5 / 3)  # -mean(fake)


def test_orthogonal_regularization_is_zero_for_orthonormal_rows_and_matches_the_formula() -> None:
    layer = torch.nn.Linear(6, 3, bias=True)
    torch.nn.init.orthogonal_(layer.weight)
    assert orthogonal_regularization(layer, 1.0).item() == pytest.approx(0.0, abs=1e-10)
    torch.nn.init.normal_(layer.weight)
    w = layer.weight.detach()
    gram = w @ w.T
    expected = 1e-4 * (gram * (1 - torch.eye(3))).square().sum()
    assert orthogonal_regularization(layer, 1e-4).item() == pytest.approx(expected.item(), rel=1e-6)


def test_generation_clips_maps_frames_to_minus_one_one() -> None:
    frames = torch.zeros(5, 6, 6, 3, dtype=torch.uint8)
    frames[:, :, :, 0] = 255
    clip, label, info = GenerationClips([(frames, 2, {"skipped": 1})])[0]
    assert info == {"index": 0, "skipped": 1}
    assert clip.shape == (3, 5, 6, 6) and clip.dtype == torch.float32 and label.item() == 2
    assert clip[0].unique().tolist() == [1.0] and clip[1].unique().tolist() == [-1.0]
    resized, _, info = GenerationClips([(frames, 0)], size=4, num_frames=3)[0]
    assert info == {"index": 0, "skipped": 0}
    assert resized.shape == (3, 3, 4, 4)
    floats, _, _ = GenerationClips([(torch.full((3, 2, 4, 4), 0.25), 1)], float_range=(0.0, 0.5))[0]
    torch.testing.assert_close(floats, torch.zeros(3, 2, 4, 4))
    with pytest.raises(ValueError, match="item 0: clip has 5 frames, need 8"):
        GenerationClips([(frames, 0)], num_frames=8)[0]
    with pytest.raises(ValueError, match="item 0: DVD-GAN needs one class index per clip"):
        GenerationClips([(frames, torch.tensor([0.0, 1.0]))])[0]
    with pytest.raises(ValueError, match=r"item 0: expected uint8 frames \(T, H, W, 3\)"):
        GenerationClips([(torch.zeros(5, 6, 6, 3, dtype=torch.int32), 0)])[0]


def test_synthetic_motion_clips_are_generator_items() -> None:
    data = synthetic_motion_clips(4, num_frames=4, size=16)
    clip, label, _ = data[1]
    assert clip.shape == (3, 4, 16, 16) and clip.min() >= -1 and clip.max() <= 1 and label.item() == 1
    assert data.classes == ["move_right", "move_left", "move_up", "move_down"]


class _Context:
    """The engine's StepContext reduced to what the step uses, recording the updates."""

    def __init__(self, models: dict) -> None:
        self.models = models
        self.parts = SimpleNamespace(accum={"g": 1, "d": 1})
        self.batch_index = 3
        self.calls: list[tuple[str, str]] = []

    def backward(self, loss: torch.Tensor, name: str) -> None:
        self.calls.append(("backward", name))

    def step(self, name: str) -> None:
        self.calls.append(("step", name))


def _tiny_models(temporal: bool = True) -> dict:
    torch.manual_seed(0)
    gan = build_dvdgan(num_classes=3, resolution=32, temporal_discriminator=temporal, **TINY)
    models = {"g": gan.generator, "d_spatial": gan.spatial_discriminator}
    if temporal:
        models["d_temporal"] = gan.temporal_discriminator
    return models


def test_step_alternates_d_steps_then_g_and_stops_on_a_non_finite_loss() -> None:
    models = _tiny_models()
    batch = (torch.rand(4, 3, 4, 32, 32) * 2 - 1, torch.tensor([0, 1, 2, 0]))
    ctx = _Context(models)
    metrics = DVDGANStep(num_classes=3, z_dim=8, d_steps=2).training_step(ctx, batch)
    assert ctx.calls == [("backward", "d"), ("step", "d")] * 2 + [("backward", "g"), ("step", "g")]
    assert {"d_loss", "g_loss", "d_spatial_loss", "d_temporal_loss"} <= set(metrics)
    assert all(torch.isfinite(v) for v in metrics.values())
    with torch.no_grad():
        next(models["d_spatial"].head.linear.parameters()).fill_(float("nan"))
    ctx = _Context(models)
    with pytest.raises(FloatingPointError, match="the discriminator loss is nan at batch 3 of the epoch"):
        DVDGANStep(num_classes=3, z_dim=8).training_step(ctx, batch)
    assert ctx.calls == []  # nothing was updated


def _weights(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


@pytest.fixture(scope="module")
def motion() -> GenerationClips:
    return synthetic_motion_clips(8, num_frames=4, size=32)


def test_train_on_the_engine(tmp_path: Path, motion: GenerationClips) -> None:
    torch.manual_seed(0)
    gan = build_dvdgan(num_classes=4, resolution=32, **TINY)
    before = {name: _weights(part) for name, part in gan.named_children()}
    run = train(motion, work_dir=tmp_path, model=gan, batch_size=4, max_epochs=1, device="cpu",
                ema_decay=0.5, ortho_reg=1e-4, log_every_steps=1, samples_per_class=1)
    epoch = run.history.epochs[0]
    for key in ("train_d_loss", "train_g_loss", "train_d_spatial_loss", "train_d_temporal_loss", "train_ortho_reg"):
        assert np.isfinite(epoch[key]), key
    assert epoch["lr_g"] == 1e-4 and epoch["lr_d"] == 5e-4
    assert run.trainer.optimizers["g"].defaults["betas"] == (0.0, 0.999)
    for name, part in gan.named_children():
        after = _weights(part)
        changed = [k for k in after if after[k].is_floating_point() and not torch.equal(after[k], before[name][k])]
        assert changed, f"{name} did not change"
    ema = run.trainer.ema["g"].module.state_dict()
    assert any(not torch.equal(ema[k], v) for k, v in gan.generator.state_dict().items() if v.is_floating_point())
    # the checkpoint: G, D_S, D_T, both optimisers and the EMA of G
    state = load_checkpoint(run.trainer.history.last_checkpoint)
    assert set(state["models"]) == {"g", "d_spatial", "d_temporal"}
    assert state["config"]["run"]["model"] is None  # a ready module: load_generator cannot rebuild it
    with pytest.raises(ValueError, match="no registered model name in the checkpoint's run config"):
        load_generator(run.trainer.history.last_checkpoint)
    assert set(state["optimizers"]) == {"g", "d"} and set(state["ema"]) == {"g"}
    assert state["optimizer_steps"] == {"g": 2, "d": 2}
    # one PNG per epoch: a row of 4 frames per class (4 classes x 1 sample), 32 px and 1 px padding
    assert run.sample_grids == [tmp_path / "samples" / "epoch0001.png"]
    assert Image.open(run.sample_grids[0]).size == (4 * 33 + 1, 4 * 33 + 1)


def test_train_without_the_temporal_discriminator(tmp_path: Path, motion: GenerationClips) -> None:
    run = train(motion, work_dir=tmp_path, model_kwargs=TINY, batch_size=4, max_steps=1, device="cpu",
                temporal_discriminator=False, d_steps=2)
    assert set(run.trainer.models) == {"g", "d_spatial"} and run.model.temporal_discriminator is None
    assert run.trainer.parts.steps == {"g": 1, "d": 2}
    assert "train_d_temporal_loss" not in run.history.epochs[0]
    # the checkpoint rebuilds the registered model's generator: EMA copy by default, raw G on request
    generator = load_generator(run.trainer.history.last_checkpoint)
    assert generator.classes == ["move_right", "move_left", "move_up", "move_down"] and not generator.training
    z, y = torch.randn(2, 8), torch.tensor([0, 3])
    with torch.no_grad():
        torch.testing.assert_close(generator(z, y), run.trainer.ema["g"].module(z, y))
        raw = load_generator(run.trainer.history.last_checkpoint, ema=False)
        run.model.generator.eval()
        torch.testing.assert_close(raw(z, y), run.model.generator(z, y))


def test_train_rejects_data_of_another_shape(tmp_path: Path) -> None:
    data = synthetic_motion_clips(4, num_frames=4, size=16)
    with pytest.raises(ValueError, match=r"dataset item 0 is a clip of shape \(3, 4, 16, 16\); the model generates "
                                         r"\(3, 4, 32, 32\)"):
        train(data, work_dir=tmp_path, model_kwargs=TINY, device="cpu")


@pytest.mark.slow
def test_a_killed_run_resumes_to_identical_weights(tmp_path: Path, motion: GenerationClips) -> None:
    common = {"model_kwargs": TINY, "batch_size": 4, "device": "cpu", "deterministic": True, "ema_decay": 0.5,
              "max_epochs": 2}
    full = train(motion, work_dir=tmp_path / "full", max_steps=3, **common)
    train(motion, work_dir=tmp_path / "cut", max_steps=1, **common)  # stops (as if killed) after step 1
    resumed = train(motion, work_dir=tmp_path / "cut", max_steps=3, resume="auto", **common)
    for name in ("g", "d_spatial", "d_temporal"):
        a, b = full.trainer.models[name].state_dict(), resumed.trainer.models[name].state_dict()
        assert all(torch.equal(a[k], b[k]) for k in a), name
    ema_a, ema_b = full.trainer.ema["g"].state_dict(), resumed.trainer.ema["g"].state_dict()
    assert all(torch.equal(ema_a[k], ema_b[k]) for k in ema_a)


@pytest.mark.slow
def test_each_player_improves_its_own_loss_on_a_fixed_batch() -> None:
    # A tiny overfit check of the losses' signs and the gradient routing: a few Adam steps of D alone
    # lower L_D on fixed real and fake clips; then a few steps of G alone lower L_G against that D.
    models = _tiny_models()
    g, discriminators = models["g"], [models["d_spatial"], models["d_temporal"]]
    real, real_y = torch.rand(2, 3, 4, 32, 32) * 2 - 1, torch.tensor([0, 2])
    z, fake_y = torch.randn(2, 8), torch.tensor([1, 0])
    for d in discriminators:
        d.eval()  # fixed power-iteration vectors: a deterministic objective up to D_S's frame draws

    def d_loss() -> torch.Tensor:
        with torch.no_grad():
            fake = g(z, fake_y)
        return sum(hinge_discriminator_loss(d(real, real_y), d(fake, fake_y)) for d in discriminators)

    def g_loss() -> torch.Tensor:
        return sum(hinge_generator_loss(d(g(z, fake_y), fake_y)) for d in discriminators)

    d_params = [p for d in discriminators for p in d.parameters()]
    optimizer = torch.optim.Adam(d_params, lr=1e-3, betas=(0.0, 0.999))
    start = d_loss().item()
    for _ in range(3):
        optimizer.zero_grad()
        torch.autograd.backward(d_loss(), inputs=d_params)
        optimizer.step()
    assert d_loss().item() < start - 0.1
    optimizer = torch.optim.Adam(g.parameters(), lr=1e-3, betas=(0.0, 0.999))
    start = g_loss().item()
    for _ in range(3):
        optimizer.zero_grad()
        torch.autograd.backward(g_loss(), inputs=list(g.parameters()))
        optimizer.step()
    assert g_loss().item() < start - 0.1
