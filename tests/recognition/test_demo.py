"""The demo's settings reuse the recipe's SyntheticConfig; its results record the machine."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import torch

from vidlearn.recognition import demo
from vidlearn.recognition.demo import DEMO_MODELS, DemoSettings, _report, demo_recipe, machine_report
from vidlearn.recognition.recipe import SyntheticConfig


def test_settings_are_a_synthetic_config_with_the_demo_sizes() -> None:
    settings = DemoSettings()
    synthetic_fields = {spec.name for spec in dataclasses.fields(SyntheticConfig)}
    demo_fields = {spec.name for spec in dataclasses.fields(DemoSettings)}
    assert demo_fields == synthetic_fields | {"workers", "models"}
    assert settings.synthetic() == SyntheticConfig(
        preset="motion4", num_train=800, num_test=160, num_frames=16, size=(32, 32), fps=25, seed=0
    )
    assert (settings.workers, settings.models) == (2, DEMO_MODELS)


def test_recipe_carries_the_dataset_part_as_a_plain_synthetic_config(tmp_path: Path) -> None:
    settings = DemoSettings(workers=0, seed=3)
    settings.num_train, settings.num_test = 160, 48  # what `vidlearn demo --quick` sets
    cfg = demo_recipe(DEMO_MODELS[2], settings, tmp_path / "data", tmp_path / "c3d")
    assert type(cfg.data.synthetic) is SyntheticConfig  # no demo fields (models, workers) in the recipe
    assert cfg.data.synthetic == SyntheticConfig(preset="motion4", num_train=160, num_test=48, seed=3)
    assert (cfg.data.clip_len, cfg.data.preprocessing.crop_size, cfg.data.num_workers) == (16, 32, 0)
    assert (cfg.train.seed, cfg.train.max_epochs, cfg.model.name) == (3, 12, "c3d")


def test_machine_record_has_the_description_and_the_talk_table_keys() -> None:
    machine = machine_report()
    assert machine["torch"] == torch.__version__ and machine["threads"] == torch.get_num_threads()
    assert isinstance(machine["cpu"], str) and machine["cpu"]
    assert f"torch {torch.__version__}" in machine["description"]
    results = {
        "dataset": {"preset": "motion4", "classes": ["a", "b"], "num_train": 8, "num_test": 4, "clip": [16, 32, 32]},
        "models": {},
        "machine": machine,
        "total_seconds": 12.0,
    }
    assert f"Machine: {machine['description']}. Total time 12 s." in _report(results, "| table |")


def _results(num_classes: int) -> dict:
    row = {"title": "C3D", "top1": 0.5, "top5": 1.0, "chance": 1 / num_classes, "params": 1234, "gmacs": 0.01,
           "train_seconds": 12.0, "note": ""}
    return {"dataset": {"classes": [f"c{i}" for i in range(num_classes)]}, "models": {"c3d": row}}


def test_table_has_a_top5_column_only_with_more_than_five_classes() -> None:
    four = demo._table(_results(4)).splitlines()
    assert four[0] == "| model | held-out top-1 | chance | parameters | GMACs/clip | training time |"
    assert four[2] == "| c3d | 50.0% | 25.0% | 1,234 | 0.010 | 12 s |"
    assert len(four[1].split("|")) == len(four[0].split("|"))
    eight = demo._table(_results(8)).splitlines()
    assert eight[0] == "| model | held-out top-1 | top-5 | chance | parameters | GMACs/clip | training time |"
    assert eight[2] == "| c3d | 50.0% | 100.0% | 12.5% | 1,234 | 0.010 | 12 s |"


def test_curves_put_a_12_epoch_run_at_epochs_1_to_12(tmp_path: Path, monkeypatch) -> None:
    import matplotlib.axes

    plotted: list[list[int]] = []
    original = matplotlib.axes.Axes.plot

    def record(self, x, *args, **kwargs):
        plotted.append(list(x))
        return original(self, x, *args, **kwargs)

    monkeypatch.setattr(matplotlib.axes.Axes, "plot", record)
    history = [{"epoch": e, "train_loss": 1.0 / e, "val_top1": 0.1 * e} for e in range(1, 13)]  # as the engine counts
    demo._plot_curves({"c3d": history}, 0.25, tmp_path / "curves.png")
    assert plotted == [list(range(1, 13))] * 2
    assert (tmp_path / "curves.png").stat().st_size > 0


def test_talk_table_adds_the_training_times_without_counting_the_fused_row_twice() -> None:
    from vidlearn.recognition.architecture_comparison import _table

    def row(seconds: float) -> dict:
        return {"title": "t", "input": [3, 16, 32, 32], "top1": 0.5, "params": 1, "gmacs": None, "train_seconds": seconds}

    results = {"dataset": {"preset": "motion4", "num_train": 8, "num_test": 4, "clip": [16, 32, 32]},
               "classes": ["a", "b"], "epochs": 1, "chance": 0.5, "total_seconds": 7.0,
               "machine": {"cpu": "cpu", "threads": 2, "torch": "2"},
               "models": {"two_stream_spatial": row(100), "two_stream_temporal": row(20), "c3d": row(60),
                          "two_stream (fused)": row(120)}}
    last = _table(results).splitlines()[-1]
    assert last == ("Machine: cpu, 2 threads, torch 2; training time of the networks together 180 s (3 min); "
                    "this invocation took 7 s (runs finished earlier are reused, not re-run).")
