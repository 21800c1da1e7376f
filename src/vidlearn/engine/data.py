"""Seeded, resumable data loading (single process and DDP).

The order of an epoch is a pure function of ``(seed, epoch)``: :class:`ResumableSampler` draws a
permutation from a generator seeded with both, gives rank ``r`` of ``W`` the items ``r, r+W, ...``
(as ``torch.utils.data.DistributedSampler`` does) and can start part-way into an epoch, so a resumed
run sees exactly the batches the interrupted run had left.

Random augmentations in DataLoader workers are made reproducible per *batch*: the batch sampler
tags each batch with a seed derived from ``(seed, epoch, batch index, rank)`` and the worker reseeds
``random``, NumPy and torch from it before loading the batch. The data a batch gets therefore does
not depend on which worker loads it, on the number of workers or on where a run was resumed. With
``num_workers=0`` the main process's RNG is used and restored from the checkpoint instead.

    loader = build_train_loader(dataset, batch_size=8, seed=0, num_workers=4)
    loader.batch_sampler.set_epoch(epoch, start_batch=0)
    for batch in loader: ...
"""

from __future__ import annotations

import random
import signal
from collections.abc import Callable, Iterator, Sized
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, IterableDataset, Sampler, get_worker_info

from vidlearn.engine.distributed import get_rank, get_world_size

__all__ = [
    "ResumableBatchSampler",
    "ResumableSampler",
    "SeededBatch",
    "ShardSampler",
    "build_eval_loader",
    "build_train_loader",
    "seed_worker",
]

_MASK64 = (1 << 63) - 1


def _mix(*values: int) -> int:
    """A 63-bit seed from integers (SplitMix64 steps); stable across processes and Python runs."""
    state = 0x9E3779B97F4A7C15
    for value in values:
        state = (state ^ (value & 0xFFFFFFFFFFFFFFFF)) * 0xBF58476D1CE4E5B9 & 0xFFFFFFFFFFFFFFFF
        state = (state ^ (state >> 31)) * 0x94D049BB133111EB & 0xFFFFFFFFFFFFFFFF
    return state & _MASK64


class ResumableSampler(Sampler[int]):
    """Indices of one rank's share of a seeded epoch permutation, optionally starting part-way.

    ``num_samples`` items, shuffled with ``torch.randperm`` under a generator seeded by
    ``(seed, epoch)``. With ``world_size`` > 1 the list is padded by repeating its start (or, with
    ``drop_last``, cut) to a multiple of ``world_size`` and rank ``r`` takes every ``world_size``-th
    item from ``r``. :meth:`set_epoch` selects the epoch and the first item to yield.
    """

    def __init__(
        self,
        num_samples: int,
        *,
        shuffle: bool = True,
        seed: int = 0,
        rank: int | None = None,
        world_size: int | None = None,
        drop_last: bool = False,
    ) -> None:
        if num_samples <= 0:
            raise ValueError(f"ResumableSampler needs at least one sample, got num_samples={num_samples}")
        self.num_samples_total = num_samples
        self.shuffle = shuffle
        self.seed = seed
        self.rank = get_rank() if rank is None else rank
        self.world_size = get_world_size() if world_size is None else world_size
        if not 0 <= self.rank < self.world_size:
            raise ValueError(f"rank {self.rank} is outside world_size {self.world_size}")
        self.drop_last = drop_last
        self.epoch = 0
        self.start = 0
        if drop_last:
            self.per_rank = num_samples // self.world_size
        else:
            self.per_rank = -(-num_samples // self.world_size)
        if self.per_rank == 0:
            raise ValueError(f"{num_samples} samples cannot be split over {self.world_size} ranks")

    def set_epoch(self, epoch: int, start: int = 0) -> None:
        """Select the epoch (which permutation) and skip its first ``start`` items of this rank."""
        if not 0 <= start <= self.per_rank:
            raise ValueError(f"start {start} is outside this rank's {self.per_rank} samples")
        self.epoch = epoch
        self.start = start

    def epoch_indices(self, epoch: int) -> list[int]:
        """This rank's full index list for ``epoch`` (ignores ``start``)."""
        if self.shuffle:
            generator = torch.Generator().manual_seed(_mix(self.seed, epoch))
            order = torch.randperm(self.num_samples_total, generator=generator).tolist()
        else:
            order = list(range(self.num_samples_total))
        total = self.per_rank * self.world_size
        while len(order) < total:  # pad by wrapping around, as DistributedSampler does
            order += order[: total - len(order)]
        return order[:total][self.rank :: self.world_size]

    def __iter__(self) -> Iterator[int]:
        return iter(self.epoch_indices(self.epoch)[self.start :])

    def __len__(self) -> int:
        return self.per_rank - self.start

    def state_dict(self) -> dict[str, int]:
        """What a checkpoint needs to check that a resumed run draws the same order."""
        return {"seed": self.seed, "epoch": self.epoch, "start": self.start, "world_size": self.world_size}


class SeededBatch(list):
    """A list of dataset indices carrying the seed its worker uses to load it."""

    seed: int = 0

    def __reduce__(self) -> tuple[Any, ...]:
        # Keep the seed when the batch travels to a worker process.
        return (_make_seeded_batch, (list(self), self.seed))


def _make_seeded_batch(indices: list[int], seed: int) -> SeededBatch:
    batch = SeededBatch(indices)
    batch.seed = seed
    return batch


class ResumableBatchSampler(Sampler[list[int]]):
    """Batches of a :class:`ResumableSampler`, each tagged with a per-batch seed; resumable by batch.

    ``set_epoch(epoch, start_batch)`` skips the first ``start_batch`` batches of this rank's epoch.
    """

    def __init__(self, sampler: ResumableSampler, batch_size: int, drop_last: bool = False) -> None:
        if batch_size <= 0:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        self.sampler = sampler
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.start_batch = 0

    @property
    def batches_per_epoch(self) -> int:
        """Number of batches in a full epoch of this rank."""
        n = self.sampler.per_rank
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def set_epoch(self, epoch: int, start_batch: int = 0) -> None:
        """Select the epoch and the first batch to yield."""
        if not 0 <= start_batch <= self.batches_per_epoch:
            raise ValueError(f"start_batch {start_batch} is outside 0..{self.batches_per_epoch}")
        self.start_batch = start_batch
        self.sampler.set_epoch(epoch, min(start_batch * self.batch_size, self.sampler.per_rank))

    def __iter__(self) -> Iterator[list[int]]:
        epoch, rank = self.sampler.epoch, self.sampler.rank
        number = self.start_batch
        indices = list(self.sampler)
        for begin in range(0, len(indices), self.batch_size):
            chunk = indices[begin : begin + self.batch_size]
            if len(chunk) < self.batch_size and self.drop_last:
                return
            yield _make_seeded_batch(chunk, _mix(self.sampler.seed, epoch, number, rank, 1))
            number += 1

    def __len__(self) -> int:
        return self.batches_per_epoch - self.start_batch


def _seed_all(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


class _SeededDataset(Dataset):
    """Wraps a map-style dataset: in a worker, reseeds the RNGs from the batch's seed first."""

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, index: int) -> Any:
        return self.dataset[index]

    def __getitems__(self, indices: list[int]) -> list[Any]:
        # Only in workers: the main process's RNG belongs to the model (dropout) and is restored
        # from checkpoints instead.
        if isinstance(indices, SeededBatch) and get_worker_info() is not None:
            _seed_all(indices.seed)
        getitems = getattr(self.dataset, "__getitems__", None)
        if getitems is not None:
            return getitems(list(indices))
        return [self.dataset[i] for i in indices]

    def __getattr__(self, name: str) -> Any:
        if name == "dataset":  # not yet set (during unpickling)
            raise AttributeError(name)
        return getattr(self.dataset, name)


def seed_worker(worker_id: int) -> None:
    """``worker_init_fn``: seed ``random`` and NumPy from the worker's torch seed; leave SIGTERM to the
    main process.

    torch seeds each worker from the DataLoader's generator (``base_seed + worker_id``); Python and
    NumPy are not, so without this every worker would share their state. A SIGTERM sent to the whole
    process group (``timeout``, SLURM's preemption, a container stop) would kill the workers first, and
    the main process would die on the lost worker instead of saving its checkpoint at the next step;
    so workers ignore it. They still end with the main process (torch's worker watchdog).
    """
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    seed = torch.initial_seed()
    random.seed(seed)
    np.random.seed(seed % 2**32)


def _check_map_style(dataset: Any) -> None:
    if isinstance(dataset, IterableDataset) or not isinstance(dataset, Sized):
        raise TypeError(
            f"{type(dataset).__name__} is not a map-style dataset (needs __len__ and __getitem__); "
            "pass a ready DataLoader instead"
        )


def build_train_loader(
    dataset: Dataset,
    *,
    batch_size: int,
    seed: int = 0,
    shuffle: bool = True,
    drop_last: bool = False,
    num_workers: int = 0,
    collate_fn: Callable[[list[Any]], Any] | None = None,
    pin_memory: bool = False,
    persistent_workers: bool | None = None,
    prefetch_factor: int | None = None,
    rank: int | None = None,
    world_size: int | None = None,
) -> DataLoader:
    """A DataLoader over this rank's share of ``dataset`` with a :class:`ResumableBatchSampler`.

    ``batch_size`` is per rank. Persistent workers default to on when there are workers. Call
    ``loader.batch_sampler.set_epoch(epoch, start_batch)`` before each epoch.
    """
    _check_map_style(dataset)
    sampler = ResumableSampler(
        len(dataset), shuffle=shuffle, seed=seed, rank=rank, world_size=world_size, drop_last=drop_last
    )
    batch_sampler = ResumableBatchSampler(sampler, batch_size, drop_last=drop_last)
    if persistent_workers is None:
        persistent_workers = num_workers > 0
    extra: dict[str, Any] = {}
    if num_workers > 0:
        extra["persistent_workers"] = persistent_workers
        if prefetch_factor is not None:
            extra["prefetch_factor"] = prefetch_factor
    return DataLoader(
        _SeededDataset(dataset),
        batch_sampler=batch_sampler,
        num_workers=num_workers,
        collate_fn=collate_fn,
        pin_memory=pin_memory,
        worker_init_fn=seed_worker,
        # Its own generator: creating an iterator must not draw from the global RNG (exact resume).
        generator=torch.Generator().manual_seed(_mix(seed, get_rank() if rank is None else rank, 2)),
        **extra,
    )


class ShardSampler(Sampler[int]):
    """Rank ``r`` takes items ``r, r+W, ...`` in order, without padding: every item once overall.

    For evaluation, where padding would count some items twice; gather the per-rank results with
    :func:`vidlearn.engine.distributed.all_gather_object` or ``gather_tensors``.
    """

    def __init__(self, num_samples: int, rank: int | None = None, world_size: int | None = None) -> None:
        self.num_samples_total = num_samples
        self.rank = get_rank() if rank is None else rank
        self.world_size = get_world_size() if world_size is None else world_size

    def __iter__(self) -> Iterator[int]:
        return iter(range(self.rank, self.num_samples_total, self.world_size))

    def __len__(self) -> int:
        return len(range(self.rank, self.num_samples_total, self.world_size))


def build_eval_loader(
    dataset: Dataset,
    *,
    batch_size: int,
    num_workers: int = 0,
    collate_fn: Callable[[list[Any]], Any] | None = None,
    pin_memory: bool = False,
    shard: bool = True,
) -> DataLoader:
    """An ordered DataLoader for evaluation; under DDP each rank gets its :class:`ShardSampler` share."""
    _check_map_style(dataset)
    sampler = ShardSampler(len(dataset)) if shard else None
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        shuffle=False,
        num_workers=num_workers,
        collate_fn=collate_fn,
        pin_memory=pin_memory,
        worker_init_fn=seed_worker,
        generator=torch.Generator().manual_seed(0),
    )
