"""DVD-GAN-FP: G continues given frames, D_S judges only the generated ones, training feeds real contexts."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PIL import Image

from vidlearn.generation.models import build_dvdgan
from vidlearn.generation.sampling import sample_clips
from vidlearn.generation.training import DVDGANStep, load_generator, synthetic_motion_clips, train
from vidlearn.models import create

TINY = {"ch": 2, "num_frames": 6, "k": 2, "z_dim": 8, "embed_dim": 8, "context_frames": 2}


@pytest.fixture
def gan():
    torch.manual_seed(0)
    return build_dvdgan(num_classes=3, resolution=16, **TINY).eval()


def _context(batch: int = 2, frames: int = 2, seed: int = 0) -> torch.Tensor:
    return torch.rand(batch, 3, frames, 16, 16, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def test_the_output_starts_with_the_context_and_the_prediction_depends_on_it(gan) -> None:
    z, y = torch.randn(2, 8), torch.tensor([0, 2])
    context = _context()
    with torch.no_grad():
        clips = gan(z, y, context=context)
        other = gan(z, y, context=_context(seed=1))
    assert clips.shape == (2, 3, 6, 16, 16)
    assert torch.equal(clips[:, :, :2], context)  # the given frames, untouched
    assert clips[:, :, 2:].abs().max() <= 1
    # same z and class, another context: every predicted frame changes
    assert all((clips[:, :, t] - other[:, :, t]).abs().amax() > 1e-3 for t in range(2, 6))
    # a longer unroll predicts more frames after the same context
    with torch.no_grad():
        longer = gan(z, y, num_frames=8, context=context)
    assert longer.shape == (2, 3, 8, 16, 16)
    torch.testing.assert_close(longer[:, :, :6], clips)


def test_backward_reaches_the_context_encoder(gan) -> None:
    gan.train()
    clips = gan(torch.randn(2, 8), torch.tensor([0, 1]), context=_context())
    sum(s.sum() for s in gan.discriminate(clips, torch.tensor([0, 1])).values()).backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in gan.generator.encoder.parameters())


def test_context_errors_name_the_problem(gan) -> None:
    z, y = torch.randn(2, 8), torch.tensor([0, 1])
    with pytest.raises(ValueError, match=r"predicts from 2 given frames: pass context of shape \(2, 3, 2, 16, 16\)"):
        gan(z, y)
    with pytest.raises(ValueError, match=r"context must be \(2, 3, 2, 16, 16\) \(B, C, n, R, R\), got shape "
                                         r"\(2, 3, 3, 16, 16\)"):
        gan(z, y, context=_context(frames=3))
    with pytest.raises(ValueError, match="num_frames=2 leaves nothing to predict after 2 context frames"):
        gan(z, y, num_frames=2, context=_context())
    plain = build_dvdgan(num_classes=3, resolution=16, **{**TINY, "context_frames": 0})
    with pytest.raises(ValueError, match="built without context_frames"):
        plain(z, y, context=_context())
    with pytest.raises(ValueError, match="k=5 frames per clip but clips have num_frames=6 of which 2 are given"):
        build_dvdgan(num_classes=3, resolution=16, **{**TINY, "k": 5})


def test_spatial_discriminator_never_draws_a_context_frame(gan) -> None:
    clips = torch.rand(4, 3, 6, 16, 16) * 2 - 1
    clips[:, :, :2] = float("nan")  # a context frame in D_S would make its score NaN
    d_s = gan.spatial_discriminator
    for seed in range(20):
        scores = d_s(clips, torch.tensor([0, 1, 2, 0]), generator=torch.Generator().manual_seed(seed))
        assert torch.isfinite(scores).all()
    # D_T sees the whole clip, context included
    assert torch.isnan(gan.temporal_discriminator(clips, torch.tensor([0, 1, 2, 0]))).all()


class _Recorder(torch.nn.Module):
    """Wraps a discriminator and keeps what it was shown."""

    def __init__(self, module: torch.nn.Module) -> None:
        super().__init__()
        self.module, self.seen = module, []

    def forward(self, clips: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        self.seen.append((clips.detach().clone(), y.clone()))
        return self.module(clips, y)


class _Context:
    def __init__(self, models: dict) -> None:
        self.models, self.batch_index = models, 0
        self.parts = type("Parts", (), {"accum": {"g": 1, "d": 1}})()

    def backward(self, loss: torch.Tensor, name: str) -> None:
        loss.backward()

    def step(self, name: str) -> None:
        pass


def test_the_step_makes_fakes_that_continue_the_real_clips_with_their_classes(gan) -> None:
    gan.train()
    recorder = _Recorder(gan.temporal_discriminator)
    models = {"g": gan.generator, "d_spatial": gan.spatial_discriminator, "d_temporal": recorder}
    real = torch.rand(4, 3, 6, 16, 16) * 2 - 1
    labels = torch.tensor([2, 0, 1, 2])
    DVDGANStep(num_classes=3, z_dim=8, d_steps=2, context_frames=2).training_step(_Context(models), (real, labels))
    # per D step: the real chunk then its fakes; then G's fakes
    (real0, _), (fake0, fy0), (real1, _), (fake1, fy1), (fake_g, fyg) = recorder.seen
    assert torch.equal(real0, real[:2]) and torch.equal(real1, real[2:])
    assert torch.equal(fake0[:, :, :2], real[:2, :, :2]) and torch.equal(fy0, labels[:2])
    assert torch.equal(fake1[:, :, :2], real[2:, :, :2]) and torch.equal(fy1, labels[2:])
    assert torch.equal(fake_g[:, :, :2], real[:2, :, :2]) and torch.equal(fyg, labels[:2])
    assert not torch.equal(fake0[:, :, 2:], real[:2, :, 2:])


def test_fp_trains_on_the_engine_and_samples_from_a_checkpoint(tmp_path: Path) -> None:
    motion = synthetic_motion_clips(8, num_frames=6, size=16)
    run = train(motion, work_dir=tmp_path, model="dvdgan_cpu",
                model_kwargs={"resolution": 16, **TINY}, batch_size=4, max_epochs=1, device="cpu",
                samples_per_class=1, log_every_steps=1)
    epoch = run.history.epochs[0]
    assert torch.isfinite(torch.tensor([epoch["train_d_loss"], epoch["train_g_loss"]])).all()
    # the grid continues the first 4 clips of the data: 4 rows of 6 frames of 16 px with 1 px padding
    assert Image.open(run.sample_grids[0]).size == (6 * 17 + 1, 4 * 17 + 1)
    generator = load_generator(run.trainer.history.last_checkpoint)
    assert generator.context_frames == 2
    context = torch.stack([motion[i][0][:, :2] for i in range(2)])
    clips, labels = sample_clips(generator, [1, 3], context=context)
    assert clips.shape == (2, 3, 6, 16, 16) and labels.tolist() == [1, 3]
    assert torch.equal(clips[:, :, :2], context)
    with pytest.raises(ValueError, match="predicts from 2 given frames"):
        sample_clips(generator, [1, 3])


def test_real_contexts_take_the_first_frames_and_classes_cycling() -> None:
    from vidlearn.generation.sampling import real_contexts

    motion = synthetic_motion_clips(3, num_frames=6, size=16)
    context, labels = real_contexts(motion, 5, 2)
    assert context.shape == (5, 3, 2, 16, 16) and labels.tolist() == [0, 1, 2, 0, 1]
    assert torch.equal(context[3], motion[0][0][:, :2]) and torch.equal(context[2], motion[2][0][:, :2])
    with pytest.raises(ValueError, match="the real data holds none"):
        real_contexts([], 2, 2)


def test_fp_generator_exports_and_matches_eager() -> None:
    torch.manual_seed(0)
    generator = create("dvdgan_fp_64", ch=1, num_frames=4, context_frames=2, k=2, z_dim=8, embed_dim=8).generator.eval()
    z, y = torch.randn(2, 8), torch.zeros(2, dtype=torch.long)
    context = torch.rand(2, 3, 2, 64, 64) * 2 - 1
    with torch.no_grad():
        exported = torch.export.export(generator, (z, y), {"context": context}, strict=False)
        torch.testing.assert_close(exported.module()(z, y, context=context), generator(z, y, context=context),
                                   rtol=1e-4, atol=1e-5)


def test_a_fp_recipe_trains_samples_and_measures_fvd_on_continued_held_out_clips(tmp_path: Path) -> None:
    from vidlearn.generation.recipe import GenerationConfig, MotionDataConfig
    from vidlearn.generation.wing import evaluate
    from vidlearn.generation.wing import train as train_recipe

    cfg = GenerationConfig(name="fp")
    cfg.model.name = "dvdgan_cpu"
    cfg.model.kwargs = {"resolution": 16, **{k: v for k, v in TINY.items() if k != "num_frames"}}
    cfg.data.clip_len, cfg.data.resolution, cfg.data.batch_size = 6, 16, 4
    cfg.data.motion = MotionDataConfig(num_train=8, num_test=8)
    cfg.train.max_steps, cfg.train.device, cfg.train.work_dir, cfg.train.progress_bar = 2, "cpu", str(tmp_path), False
    cfg.evaluate.num_samples, cfg.evaluate.batch_size, cfg.evaluate.real_split = 8, 4, "test"
    cfg.evaluate.fvd.kwargs, cfg.evaluate.fvd.resize = {"width_multiplier": 0.125, "dropout": 0.0}, None
    cfg.evaluate.fvd.feature_layer = "features"
    cfg.evaluate.inception.enabled = cfg.evaluate.accuracy.enabled = False
    result = train_recipe(cfg, resume=None)
    assert (tmp_path / "samples.gif").is_file()
    assert result.metrics["fvd"] >= 0
    metrics = evaluate(cfg, result.last_checkpoint, progress=False)
    # 8 predictions continuing the 8 held-out clips, against those clips
    assert metrics["fvd"]["num_fake"] == 8 and metrics["fvd"]["num_real"] == 8
    cfg.evaluate.accuracy.enabled = True
    with pytest.raises(ValueError, match="a DVD-GAN-FP generator continues real clips"):
        evaluate(cfg, result.last_checkpoint, progress=False)
