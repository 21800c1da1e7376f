"""Epoch hooks: the trainer tells the dataset the epoch, so clip offsets and augmentations change.

A clip dataset seeds each item's draws with ``(seed, epoch, index, attempt)``. Before the trainer
called ``set_epoch`` on datasets, every epoch drew the same temporal offset and the same
augmentation for a video (offsets 167, 167, 167 for one video over three epochs).
"""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from vidlearn.engine import Callback, Trainer, TrainerConfig
from vidlearn.recognition.datasets import VideoClipDataset, VideoSample
from vidlearn.video.sampling import RandomClipSampler

NUM_FRAMES = 200


class _CountingFrames:
    """A frame source whose frame ``i`` is filled with the value ``i``."""

    def __init__(self) -> None:
        self.num_frames, self.fps = NUM_FRAMES, 25.0

    def get(self, indices: list[int], size: Any = None) -> torch.Tensor:
        values = torch.tensor(indices, dtype=torch.uint8)
        return values.view(-1, 1, 1, 1).expand(-1, 2, 2, 3).clone()


class _FakeVideos(VideoClipDataset):
    def __init__(self, seed: int = 0) -> None:
        samples = [VideoSample(path=f"video{i}.mp4", label=i % 2) for i in range(4)]
        super().__init__(samples, ["a", "b"], sampler=RandomClipSampler(16, 1), transform=_jitter,
                         seed=seed, check_exists=False)

    def open(self, sample: VideoSample) -> _CountingFrames:
        return _CountingFrames()


def _jitter(clip: torch.Tensor) -> torch.Tensor:
    """An augmentation drawn from torch's generator: ``[first frame index, a random draw]``."""
    return torch.stack((clip[0, 0, 0, 0].float(), torch.rand(())))


class _Recorder:
    """A step object that records ``(epoch, video) -> (clip offset, augmentation draw)``."""

    def __init__(self) -> None:
        self.epoch = -1
        self.records: dict[tuple[int, int], tuple[float, float]] = {}

    def on_epoch_start(self, trainer: Trainer) -> None:
        self.epoch = trainer.epoch

    def training_step(self, model: nn.Module, batch: Any) -> torch.Tensor:
        features, labels, info = batch
        for video, (offset, draw) in zip(info["index"].tolist(), features.tolist()):
            self.records[(self.epoch, video)] = (offset, draw)
        return nn.functional.cross_entropy(model(features), labels)


class _StopAt(Callback):
    def __init__(self, step: int) -> None:
        self.step = step

    def on_step_end(self, trainer: Trainer, metrics: Any) -> None:
        if trainer.global_step == self.step:
            os.kill(os.getpid(), signal.SIGTERM)


def _run(work_dir: Path, *, workers: int = 0, seed: int = 0, stop_at: int | None = None,
         resume: bool = False) -> dict[tuple[int, int], tuple[float, float]]:
    recorder = _Recorder()
    torch.manual_seed(0)
    trainer = Trainer(
        nn.Linear(2, 2), _FakeVideos(seed), step_fn=recorder, batch_size=2, num_workers=workers,
        callbacks=[_StopAt(stop_at)] if stop_at else [],
        config=TrainerConfig(max_epochs=3, seed=seed, log_every_steps=1, work_dir=str(work_dir),
                             progress_bar=False, device="cpu"),
    )
    trainer.fit(resume="auto" if resume else None)
    return recorder.records


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[int, int], tuple[float, float]]:
    return _run(tmp_path_factory.mktemp("reference"))


def test_offsets_and_augmentations_change_between_epochs(reference: dict) -> None:
    assert len(reference) == 12  # 3 epochs x 4 videos
    for video in range(4):
        offsets = {reference[(epoch, video)][0] for epoch in range(3)}
        draws = {reference[(epoch, video)][1] for epoch in range(3)}
        assert len(offsets) == 3 and len(draws) == 3, (video, offsets, draws)
        assert all(0 <= offset <= NUM_FRAMES - 16 for offset in offsets)


def test_the_same_seed_and_epoch_give_the_same_draws(tmp_path: Path, reference: dict) -> None:
    assert _run(tmp_path / "again") == reference
    other = _run(tmp_path / "other", seed=1)
    assert other.keys() == reference.keys() and other != reference


@pytest.mark.slow
def test_draws_do_not_depend_on_the_number_of_workers(tmp_path: Path, reference: dict) -> None:
    assert _run(tmp_path / "workers", workers=2) == reference


def test_a_resumed_run_draws_what_the_uninterrupted_one_drew(tmp_path: Path, reference: dict) -> None:
    first = _run(tmp_path / "run", stop_at=3)  # epoch 2, after its first batch
    assert len(first) == 6 and {epoch for epoch, _ in first} == {0, 1}
    rest = _run(tmp_path / "run", resume=True)
    assert {**first, **rest} == reference
    assert len(first) + len(rest) == 12
