"""The seeded, resumable, rank-aware samplers and loaders."""

from __future__ import annotations

import torch
from torch.utils.data import Dataset

from vidlearn.engine.data import ResumableSampler, ShardSampler, build_train_loader


def test_epoch_order_depends_on_seed_and_epoch_only() -> None:
    sampler = ResumableSampler(20, seed=5)
    first = sampler.epoch_indices(0)
    assert sorted(first) == list(range(20))
    assert ResumableSampler(20, seed=5).epoch_indices(0) == first
    assert sampler.epoch_indices(1) != first
    assert ResumableSampler(20, seed=6).epoch_indices(0) != first
    sampler.set_epoch(0, start=7)
    assert list(sampler) == first[7:] and len(sampler) == 13


def test_ranks_split_the_epoch_and_cover_it() -> None:
    ranks = [ResumableSampler(10, seed=1, rank=r, world_size=3) for r in range(3)]
    shares = [s.epoch_indices(0) for s in ranks]
    assert [len(s) for s in shares] == [4, 4, 4]  # padded to 12 by wrapping around
    assert set().union(*shares) == set(range(10))
    order = ResumableSampler(10, seed=1).epoch_indices(0)
    assert shares[1] == (order + order[:2])[1::3]
    assert [list(ShardSampler(10, r, 3)) for r in range(3)] == [[0, 3, 6, 9], [1, 4, 7], [2, 5, 8]]


class RandomItems(Dataset):
    """Each item is fresh randomness: what a random augmentation draws."""

    def __len__(self) -> int:
        return 12

    def __getitem__(self, index: int) -> torch.Tensor:
        return torch.rand(2) + index


def batches(loader, epoch: int, start: int = 0) -> list[torch.Tensor]:
    loader.batch_sampler.set_epoch(epoch, start)
    return list(loader)


def test_worker_randomness_is_per_batch_whatever_the_workers_or_resume_point() -> None:
    one = build_train_loader(RandomItems(), batch_size=3, seed=4, num_workers=1, persistent_workers=False)
    two = build_train_loader(RandomItems(), batch_size=3, seed=4, num_workers=2, persistent_workers=False)
    full = batches(one, epoch=1)
    assert len(full) == 4
    again = batches(two, epoch=1)
    assert all(torch.equal(a, b) for a, b in zip(full, again))
    resumed = batches(two, epoch=1, start=2)
    assert all(torch.equal(a, b) for a, b in zip(full[2:], resumed)) and len(resumed) == 2
    assert not torch.equal(batches(one, epoch=2)[0], full[0])
