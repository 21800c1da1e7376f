"""The generation wing's entry module: recipes, ``train`` through the engine, ``evaluate``, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from vidlearn.engine.config import ConfigError
from vidlearn.engine.resume import ResumeError
from vidlearn.generation import wing
from vidlearn.generation.data import CenterSquare, build_real_clips
from vidlearn.generation.recipe import GenerationConfig, ScorerConfig
from vidlearn.generation.training import NonFiniteLossError, load_generator
from vidlearn.tasks import get_task, task_of

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "generation" / "dvdgan"
CPU_RECIPE = CONFIGS / "dvdgan-cpu_8x16_motion4.yaml"


def tiny_recipe(work_dir: Path, **changes: object) -> GenerationConfig:
    """The CPU recipe shrunk to a few clips and steps (ch 2, 4 frames, tiny z)."""
    cfg = wing.load_recipe(CPU_RECIPE, [
        "model.kwargs={resolution: 16, ch: 2, k: 2, z_dim: 8, embed_dim: 8}", "data.clip_len=4",
        "data.motion.num_train=8", "data.motion.num_test=8", "data.batch_size=4", "train.max_steps=2",
        "train.checkpoint_every_steps=1", f"train.work_dir={work_dir}", "evaluate.num_samples=8",
        "evaluate.batch_size=8", "evaluate.fvd.kwargs={width_multiplier: 0.125, dropout: 0.0}",
    ])
    for key, value in changes.items():
        section, _, name = key.partition("__")
        setattr(getattr(cfg, section), name, value)
    return cfg


def test_every_recipe_loads_with_the_papers_optimiser_settings() -> None:
    recipes = sorted(CONFIGS.glob("*.yaml"))
    assert len(recipes) == 8
    for path in recipes:
        assert task_of(path) == "generation"
        cfg = get_task("generation").load_recipe(path)
        # the claim's CPU recipes (batch 16) double G's rate; the paper's (batch 512) elsewhere
        rates = (2e-4, 4e-4) if "motion4-solid" in path.name else (1e-4, 5e-4)
        assert (cfg.gan.g_lr, cfg.gan.d_lr, cfg.gan.betas) == (*rates, (0.0, 0.999)), path.name
    claim = wing.load_recipe(CONFIGS / "dvdgan-cpu-no-dt_8x16_motion4-solid.yaml")
    assert (claim.data.motion.preset, claim.model.kwargs["ch"], claim.gan.ema_decay) == ("motion4-solid", 8, 0.99)
    assert claim.model.temporal_discriminator is False and claim.train.max_steps == 3000
    ablation = wing.load_recipe(CONFIGS / "dvdgan-cpu-no-dt_8x16_motion4.yaml")
    assert ablation.model.temporal_discriminator is False and ablation.data.resolution == 16
    ucf = wing.load_recipe(CONFIGS / "dvdgan_16x128_ucf101-split1.yaml")
    assert (ucf.model.name, ucf.data.resolution, ucf.data.clip_len, ucf.data.format) == ("dvdgan_128", 128, 16, "ucf101")
    assert ucf.evaluate.inception.enabled and ucf.evaluate.inception.center_crop == 112
    fp = wing.load_recipe(CONFIGS / "dvdgan-fp-cpu_8x16_motion4.yaml")
    assert fp.model.kwargs["context_frames"] == 2 and fp.data.clip_len == 8 and not fp.evaluate.accuracy.enabled
    kinetics = wing.load_recipe(CONFIGS / "dvdgan-fp_16x64_kinetics600.yaml")
    assert (kinetics.model.name, kinetics.model.kwargs["context_frames"], kinetics.data.clip_len) == ("dvdgan_fp_64", 5, 16)
    assert (kinetics.data.format, kinetics.data.resolution, kinetics.evaluate.real_split) == ("kinetics", 64, "test")


def test_a_misspelt_key_names_the_closest_one() -> None:
    with pytest.raises(ConfigError, match="did you mean 'd_lr'"):
        wing.load_recipe(CPU_RECIPE, ["gan.dlr=0.1"])


def test_center_square_and_motion_clips() -> None:
    frames = torch.arange(2 * 4 * 6 * 3, dtype=torch.uint8).view(2, 4, 6, 3)
    square = CenterSquare()(frames)
    assert square.shape == (2, 4, 4, 3) and torch.equal(square, frames[:, :, 1:5])
    cfg = tiny_recipe(Path("unused"))
    clips = build_real_clips(cfg.data, train=False)
    clip, label, _ = clips[3]
    assert clip.shape == (3, 4, 16, 16) and label.item() == 3 and clips.classes[3] == "move_down"


def test_train_evaluate_and_refusals(tmp_path: Path) -> None:
    cfg = tiny_recipe(tmp_path / "run")
    result = wing.train(cfg, resume=None)
    assert not result.interrupted and result.last_checkpoint is not None
    assert (tmp_path / "run" / "samples.gif").is_file()
    assert set(result.metrics) == {"fvd"} and result.metrics["fvd"] >= 0
    written = json.loads((tmp_path / "run" / "metrics.json").read_text())
    protocol = written["fvd"]["protocol"]
    assert protocol["clip_length"] == 4 and protocol["num_samples"] == 8 and protocol["resize"] is None
    assert protocol["weights"].startswith("none (random") and protocol["real_split"].startswith("motion:motion4 test")
    checkpoint = result.last_checkpoint
    assert load_generator(checkpoint).classes == ["move_right", "move_left", "move_up", "move_down"]

    # The same random I3D (seed 0) and latents: evaluating again gives the same number.
    again = wing.evaluate(cfg, checkpoint, progress=False)
    assert again["fvd"]["value"] == pytest.approx(result.metrics["fvd"], rel=1e-9)

    # A checkpoint of another resolution or length than the recipe's data is refused, naming both.
    with pytest.raises(ValueError, match=r"makes 16x16 clips, the recipe's data.resolution is 32"):
        wing.evaluate(tiny_recipe(tmp_path / "run", data__resolution=32), checkpoint, progress=False)
    with pytest.raises(ValueError, match=r"makes 4-frame clips, the recipe's data.clip_len is 8"):
        wing.evaluate(tiny_recipe(tmp_path / "run", data__clip_len=8), checkpoint, progress=False)

    # Resuming under a changed optimiser is refused naming the key; a longer run is allowed.
    changed = tiny_recipe(tmp_path / "run")
    changed.gan.d_lr = 1e-3
    changed.train.max_steps = 3
    with pytest.raises(ResumeError, match="d_lr"):
        wing.train(changed, resume="auto", final_eval=False)
    longer = tiny_recipe(tmp_path / "run")
    longer.train.max_steps = 3
    assert wing.train(longer, resume="auto", final_eval=False).last_checkpoint.name.endswith("step00000003.pt")


class _PoisonAfter(torch.utils.data.Dataset):
    """Motion clips whose items turn NaN after ``good`` reads (a divergence the loss check must catch)."""

    def __init__(self, clips: torch.utils.data.Dataset, good: int) -> None:
        self.clips, self.good, self.reads, self.classes = clips, good, 0, clips.classes

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, index: int):
        clip, label, info = self.clips[index]
        self.reads += 1
        return (clip if self.reads <= self.good else torch.full_like(clip, float("nan"))), label, info


def test_a_non_finite_loss_stops_the_run_and_keeps_the_last_good_checkpoint(tmp_path: Path) -> None:
    cfg = tiny_recipe(tmp_path / "run")
    cfg.train.max_steps = 4
    # train() reads item 0 twice to check its shape, then one good batch of 4 goes through.
    real = _PoisonAfter(build_real_clips(cfg.data, train=True), good=2 + 4)
    with pytest.raises(NonFiniteLossError, match=r"discriminator loss is nan at batch 1 of the epoch.*"
                       r"the last good checkpoint is .*step00000001\.pt"):
        wing.train(cfg, resume=None, real_clips=real)
    checkpoints = sorted((tmp_path / "run" / "checkpoints").glob("*.pt"))
    assert [p.name[-15:] for p in checkpoints] == ["step00000001.pt"]
    generator = load_generator(checkpoints[0])
    assert all(torch.isfinite(p).all() for p in generator.parameters())
    assert isinstance(NonFiniteLossError("x"), ValueError)  # the command line reports it in one line


def test_average_splits() -> None:
    runs = [{"fvd": {"value": 2.0}, "checkpoint": "a"}, {"fvd": {"value": 4.0}, "checkpoint": "b"}]
    assert wing.average_splits(runs) == {"fvd": 3.0}


def test_scorer_defaults_follow_the_published_protocols() -> None:
    cfg = GenerationConfig()
    assert cfg.evaluate.fvd == ScorerConfig()  # I3D, 224x224, [-1, 1], logits
    assert (cfg.evaluate.fvd.resize, cfg.evaluate.fvd.value_range) == ((224, 224), (-1.0, 1.0))
    inception = cfg.evaluate.inception
    assert (inception.name, inception.num_classes, inception.resize, inception.center_crop, inception.channel_order) \
        == ("c3d", 101, (128, 171), 112, "BGR")
