"""Resume guards: a checkpoint saved under another config, or of a finished run, is refused by name."""

from pathlib import Path

import pytest

from vidlearn.engine import (
    OptimConfig,
    ResumeError,
    ScheduleConfig,
    Trainer,
    TrainerConfig,
    config_differences,
)

from ._tiny import NoisyPoints, make_model, step_fn


def _trainer(work_dir: Path, *, max_epochs: int = 1, lr: float = 0.1, changeable=("train.max_epochs",)) -> Trainer:
    config = TrainerConfig(max_epochs=max_epochs, seed=3, work_dir=str(work_dir), progress_bar=False,
                           device="cpu", log_every_steps=0)
    run = {"model": {"width": 4}, "optim": {"lr": lr}, "train": {"max_epochs": max_epochs}}
    return Trainer(make_model(), NoisyPoints(), step_fn=step_fn, batch_size=8, optim=OptimConfig(lr=lr),
                   schedule=ScheduleConfig(), config=config, run_config=run, resume_changeable_keys=changeable)


def test_config_differences_names_dotted_keys_and_skips_changeable_ones() -> None:
    old = {"optim": {"lr": 0.01}, "train": {"max_epochs": 30, "seed": 0}, "evaluate": {"num_clips": 10}}
    new = {"optim": {"lr": 0.5}, "train": {"max_epochs": 40, "seed": 0}, "evaluate": {"num_clips": 2}, "x": 1}
    assert config_differences(old, new) == ["evaluate.num_clips", "optim.lr", "train.max_epochs", "x"]
    assert config_differences(old, new, ["train.max_epochs", "evaluate.*"]) == ["optim.lr", "x"]


def test_resume_with_another_config_is_refused_naming_the_keys(tmp_path: Path) -> None:
    _trainer(tmp_path, max_epochs=1).fit()
    with pytest.raises(ResumeError, match=r"optim\.lr: 0\.1 -> 0\.5") as error:
        _trainer(tmp_path, max_epochs=2, lr=0.5).fit(resume="auto")
    assert "train.max_epochs" in str(error.value)  # named as the key that may change
    resumed = _trainer(tmp_path, max_epochs=2, lr=0.5)
    resumed.fit(resume="auto", allow_changed_config=True)  # explicitly allowed
    assert resumed.epoch == 2 and resumed.resumed_from is not None
    assert resumed.resumed_from.name.startswith("epoch0001")


def test_a_larger_max_epochs_continues_and_a_finished_run_is_refused(tmp_path: Path) -> None:
    _trainer(tmp_path, max_epochs=1).fit()
    with pytest.raises(ResumeError, match=r"already finished epoch 1 and train\.max_epochs is 1.*raise train\.max_epochs"):
        _trainer(tmp_path, max_epochs=1).fit(resume="auto")
    longer = _trainer(tmp_path, max_epochs=2)
    history = longer.fit(resume="auto")
    assert [row["epoch"] for row in history.epochs] == [1, 2]
    with pytest.raises(ResumeError, match=r"already finished epoch 2 and train\.max_epochs is 1"):
        _trainer(tmp_path, max_epochs=1, changeable=("train.*",)).fit(resume="auto")


def test_a_key_added_to_the_schema_since_the_checkpoint_is_not_a_change(tmp_path: Path) -> None:
    from dataclasses import dataclass, field

    @dataclass
    class Section:
        lr: float = 0.1
        pad: str = "error"  # a key a newer release added, with the behaviour of the older code

    @dataclass
    class Recipe:
        optim: Section = field(default_factory=Section)

    config = TrainerConfig(max_epochs=1, seed=3, work_dir=str(tmp_path), progress_bar=False, device="cpu",
                           log_every_steps=0)
    first = Trainer(make_model(), NoisyPoints(), step_fn=step_fn, batch_size=8, config=config,
                    run_config={"optim": {"lr": 0.1}}, resume_changeable_keys=("train.max_epochs",))
    first.fit()
    config.max_epochs = 2
    again = Trainer(make_model(), NoisyPoints(), step_fn=step_fn, batch_size=8, config=config,
                    run_config=Recipe(), resume_changeable_keys=("train.max_epochs",))
    assert again.fit(resume="auto").epochs[-1]["epoch"] == 2
    changed = Trainer(make_model(), NoisyPoints(), step_fn=step_fn, batch_size=8, config=config,
                      run_config=Recipe(Section(pad="loop")), resume_changeable_keys=("train.max_epochs",))
    with pytest.raises(ResumeError, match=r"optim\.pad: 'error' -> 'loop'"):
        changed.fit(resume="auto")
