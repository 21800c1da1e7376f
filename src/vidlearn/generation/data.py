"""Real clips for DVD-GAN from a recipe's ``data`` section: the built-in motion data or a recognition dataset.

``build_real_clips(cfg.data, train=True)`` gives :class:`~vidlearn.generation.training.GenerationClips`
items ``(float (3, T, R, R) in [-1, 1], class, info)``:

* ``format: motion``: :class:`vidlearn.synthetic.SyntheticMotionDataset` rendered in memory at ``R x R``
  (its classes live only in the motion);
* any recognition format (``ucf101``, ``kinetics``, ``list``...): the recognition wing's builder
  (:func:`vidlearn.recognition.datasets.formats.build_format_dataset`) with a random ``clip_len x
  frame_interval`` window per video (the centre window for the held-out part), each frame cut to its
  centre square and resized to ``R x R`` (DVD-GAN on UCF-101: 64x64).
"""

from __future__ import annotations

from typing import Any

import torch

from vidlearn.generation.recipe import GenerationDataConfig
from vidlearn.generation.training import GenerationClips
from vidlearn.synthetic import SyntheticMotionDataset

__all__ = ["CenterSquare", "build_real_clips"]


class CenterSquare:
    """``uint8 (T, H, W, 3) -> (T, S, S, 3)`` with ``S = min(H, W)``: the centre square of every frame."""

    def __call__(self, frames: Any) -> torch.Tensor:
        frames = torch.as_tensor(frames)
        height, width = frames.shape[1:3]
        side = min(height, width)
        top, left = (height - side) // 2, (width - side) // 2
        return frames[:, top : top + side, left : left + side].contiguous()


def build_real_clips(data: GenerationDataConfig, *, train: bool, seed: int = 0) -> GenerationClips:
    """The training (``train=True``) or held-out real clips of ``data`` as generator-range items."""
    if data.clip_len < 1 or data.resolution < 8:
        raise ValueError(f"data.clip_len must be >= 1 and data.resolution >= 8, got {data.clip_len}, "
                         f"{data.resolution}")
    if data.format == "motion":
        motion = data.motion
        count = motion.num_train if train else motion.num_test
        dataset = SyntheticMotionDataset(count, preset=motion.preset, num_frames=data.clip_len * data.frame_interval,
                                         size=(data.resolution, data.resolution), seed=motion.seed,
                                         split="train" if train else "test", cache=True)
        if data.frame_interval > 1:
            return GenerationClips(_Strided(dataset, data.frame_interval))
        return GenerationClips(dataset)
    from vidlearn.recognition.datasets.formats import build_format_dataset
    from vidlearn.video.sampling import CenterClipSampler, RandomClipSampler

    sampler = (RandomClipSampler if train else CenterClipSampler)(data.clip_len, data.frame_interval, pad=data.pad)
    videos = build_format_dataset(data, train=train, sampler=sampler, transform=CenterSquare(), size=data.decode_size,
                                  on_error=data.on_error, seed=seed)
    return GenerationClips(videos, size=data.resolution, num_frames=data.clip_len)


class _Strided(torch.utils.data.Dataset):
    """Every ``step``-th frame of each clip of a motion dataset (``frame_interval`` for rendered clips)."""

    def __init__(self, dataset: SyntheticMotionDataset, step: int) -> None:
        self.dataset, self.step, self.classes = dataset, step, dataset.classes

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> tuple[Any, int, dict[str, Any]]:
        clip, label, info = self.dataset[index]
        return clip[:: self.step], label, info
