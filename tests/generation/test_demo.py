"""The generation demo part at a smoke size: its files, its results.json layout and its protocols."""

from __future__ import annotations

import json
from pathlib import Path

from vidlearn.generation.demo import GenerationDemoSettings, demo_recipe, run_demo
from vidlearn.tasks import DEMO_PARTS, demo_part_module, get_task

REPO = Path(__file__).resolve().parents[2]


def test_the_part_is_registered_and_its_recipe_is_the_cpu_recipe_at_demo_size(tmp_path: Path) -> None:
    assert DEMO_PARTS["generation"] == "vidlearn.generation.demo"
    assert callable(demo_part_module("generation").demo_part)
    with_dt = demo_recipe(GenerationDemoSettings(), temporal=True, work_dir=tmp_path)
    without = demo_recipe(GenerationDemoSettings(), temporal=False, work_dir=tmp_path)
    assert with_dt.model.temporal_discriminator and not without.model.temporal_discriminator
    # the claim's recipe (configs/generation/dvdgan/dvdgan-cpu_8x16_motion4-solid.yaml) at the demo's size
    recipe = get_task("generation").load_recipe(REPO / "configs/generation/dvdgan/dvdgan-cpu_8x16_motion4-solid.yaml")
    for section in ("gan", "model"):
        assert getattr(with_dt, section) == getattr(recipe, section), section
    assert (with_dt.data.motion.preset, with_dt.data.frame_interval) == (recipe.data.motion.preset, 1)
    # other settings reach the recipe
    tuned = demo_recipe(GenerationDemoSettings(preset="motion4", frame_interval=2, g_lr=1e-4, d_lr=5e-4,
                                               ema_decay=0.999, ch=4), temporal=True, work_dir=tmp_path)
    assert (tuned.data.motion.preset, tuned.data.frame_interval, tuned.model.kwargs["ch"]) == ("motion4", 2, 4)
    assert (tuned.gan.g_lr, tuned.gan.d_lr, tuned.gan.ema_decay) == (1e-4, 5e-4, 0.999)


def test_a_smoke_run_writes_every_file(tmp_path: Path) -> None:
    settings = GenerationDemoSettings(num_train=8, num_test=8, judge_epochs=1, steps=1, batch_size=4, ch=1,
                                      per_class=1, fvd_samples=4)
    lines: list[str] = []
    results = run_demo(tmp_path, settings=settings, log=lines.append)
    for name in ("results.json", "results.md", "comparison.png", "real.gif", "samples_dvdgan.gif",
                 "samples_dvdgan_no_dt.mp4", "judge/judge.safetensors"):
        assert (tmp_path / name).is_file(), name
    written = json.loads((tmp_path / "results.json").read_text())
    assert written["chance"] == 25.0 and written["classes"][0] == "move_right"
    for name in ("dvdgan", "dvdgan_no_dt"):
        row = written[name]
        assert row["sample_accuracy"] in (0.0, 25.0, 50.0, 75.0, 100.0)  # 1 sample of each of 4 classes
        assert row["steps"] == 1 and len(row["per_class"]) == 4 and row["fvd"] >= 0
    assert written["dvdgan"]["temporal_discriminator"] and not written["dvdgan_no_dt"]["temporal_discriminator"]
    accuracy = written["protocols"]["sample_accuracy"]
    assert accuracy["feature_network"] == "c3d" and accuracy["repeat_frames"] == 2 and accuracy["clip_length"] == 8
    assert accuracy["resize"] == [32, 32]  # 16x16 samples upsampled for the judge, as its real clips were
    assert written["protocols"]["fvd"]["weights"].startswith("none (random")
    assert "| dvdgan | D_S + D_T |" in (tmp_path / "results.md").read_text()
    assert results["judge"]["model"] == "c3d" and any("judge (C3D)" in line for line in lines)
