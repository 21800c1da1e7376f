"""Helpers of the training loop: moving batches to the device and the epoch's running metrics.

Metric convention (what a task's ``step_fn`` returns besides the loss): floats and floating
tensors are averaged over the epoch's batches; ints and integer tensors are counters and summed
(e.g. the number of videos skipped by a dataset with ``on_error="skip"``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from vidlearn.engine import distributed as dist_utils

__all__ = ["EpochMeter", "batch_length", "move_to_device", "plain_number"]


def move_to_device(batch: Any, device: torch.device, channels_last: bool = False) -> Any:
    """``batch`` with every tensor (in nested tuples, lists and dicts) on ``device``.

    With ``channels_last`` 5-D float tensors ``(B, C, T, H, W)`` are laid out ``channels_last_3d``,
    matching a model converted to that memory format.
    """
    if isinstance(batch, torch.Tensor):
        batch = batch.to(device, non_blocking=True)
        if channels_last and batch.ndim == 5 and batch.is_floating_point():
            batch = batch.contiguous(memory_format=torch.channels_last_3d)
        return batch
    if isinstance(batch, Mapping):
        return {k: move_to_device(v, device, channels_last) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)) and not hasattr(batch, "_fields"):
        return type(batch)(move_to_device(v, device, channels_last) for v in batch)
    return batch


def plain_number(value: Any) -> Any:
    """A one-element tensor as a Python number; anything else unchanged."""
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        return value.item()
    return value


def batch_length(batch: Any) -> int | None:
    """The first dimension of the first tensor found in ``batch`` (its number of samples), or None."""
    if isinstance(batch, torch.Tensor):
        return int(batch.shape[0]) if batch.ndim else None
    items = (
        batch.values() if isinstance(batch, Mapping) else batch if isinstance(batch, (list, tuple)) else ()
    )
    for item in items:
        if (n := batch_length(item)) is not None:
            return n
    return None


class EpochMeter:
    """Running sums of an epoch: losses and float metrics (means) and int counters (sums)."""

    def __init__(self) -> None:
        self.sums: dict[str, float] = {}
        self.counts: dict[str, float] = {}
        self.counters: dict[str, float] = {}
        self.samples = 0

    def add(self, values: Mapping[str, Any]) -> None:
        """Add one batch's metrics; tensors stay on their device (no GPU sync per batch)."""
        for key, value in values.items():
            if isinstance(value, bool):
                continue
            if isinstance(value, torch.Tensor):
                value = value.detach()
                is_counter = not value.is_floating_point()
                value = value.sum() if is_counter else value.float().mean()
            elif isinstance(value, (int, float)):
                is_counter = isinstance(value, int)
            else:
                continue  # strings and other notes are not aggregated
            if is_counter:
                self.counters[key] = self.counters.get(key, 0) + value
            else:
                self.sums[key] = self.sums.get(key, 0.0) + value
                self.counts[key] = self.counts.get(key, 0) + 1

    def state_dict(self) -> dict[str, Any]:
        """Plain numbers, for a checkpoint (a resumed epoch reports the whole epoch)."""
        return {
            "sums": {k: float(v) for k, v in self.sums.items()},
            "counts": dict(self.counts),
            "counters": {k: int(v) for k, v in self.counters.items()},
            "samples": self.samples,
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""
        self.sums, self.counts = dict(state["sums"]), dict(state["counts"])
        self.counters, self.samples = dict(state["counters"]), int(state["samples"])

    def reduce(self) -> dict[str, float]:
        """Means (weighted by each rank's batch count) and counter totals over all ranks."""
        keys = sorted(set(self.sums) | set(self.counters))
        keys = dist_utils.all_gather_object(keys)[0]  # rank 0's key order everywhere
        sums = {f"m:{k}": self.sums.get(k, 0.0) for k in keys if k not in self.counters}
        counts = {f"m:{k}": self.counts.get(k, 0) for k in keys if k not in self.counters}
        sums.update({f"c:{k}": self.counters.get(k, 0) for k in keys if k in self.counters})
        reduced = dist_utils.reduce_metrics(sums, counts)
        result = {}
        for name, value in reduced.items():
            kind, key = name.split(":", 1)
            result[f"train_{key}"] = int(value) if kind == "c" else value
        return result
