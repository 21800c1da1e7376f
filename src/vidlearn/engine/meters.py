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

__all__ = ["EpochMeter", "batch_length", "count_skipped_items", "move_to_device", "plain_number"]


def move_to_device(batch: Any, device: torch.device) -> Any:
    """``batch`` with every tensor (in nested tuples, lists and dicts) on ``device``.

    Layouts are left alone: a ``(B, C, T, H, W)`` clip and a ``(B, T, C, H, W)`` sequence are both
    5-D, so choosing a memory format (``channels_last_3d``) is the step's or the model's business.
    """
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, Mapping):
        return {k: move_to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)) and not hasattr(batch, "_fields"):
        return type(batch)(move_to_device(v, device) for v in batch)
    return batch


def count_skipped_items(batch: Any) -> int | None:
    """Items a dataset replaced while loading ``batch``, from a ``skipped`` entry, or None.

    The convention of vidlearn's datasets (``on_error="skip"``): an item is a mapping, or a tuple
    whose elements include one, with an integer ``skipped`` entry; collated, it is a ``(B,)`` tensor.
    The engine sums it into the ``skipped`` counter of the epoch summary, so no step reports it.
    """
    mappings = [batch] if isinstance(batch, Mapping) else (
        [item for item in batch if isinstance(item, Mapping)] if isinstance(batch, (list, tuple)) else []
    )
    for mapping in mappings:
        skipped = mapping.get("skipped")
        if isinstance(skipped, torch.Tensor) and not skipped.is_floating_point():
            return int(skipped.sum())
        if isinstance(skipped, int) and not isinstance(skipped, bool):
            return skipped
    return None


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
