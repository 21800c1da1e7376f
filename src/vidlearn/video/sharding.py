"""``--shard i/n``: split a list of work items across independent jobs (SLURM arrays, Ray, k8s)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

__all__ = ["parse_shard", "select_shard"]

T = TypeVar("T")


def parse_shard(text: str) -> tuple[int, int]:
    """Parse ``"i/n"`` (0-based ``i``, ``0 <= i < n``) into ``(i, n)``; a bad value raises ``ValueError``."""
    try:
        index_text, count_text = text.split("/")
        index, count = int(index_text), int(count_text)
    except ValueError:
        raise ValueError(f"shard {text!r} is not of the form i/n, e.g. 0/4") from None
    if count < 1 or not 0 <= index < count:
        raise ValueError(f"shard {text!r}: need 0 <= i < n and n >= 1")
    return index, count


def select_shard(items: Sequence[T], index: int, count: int) -> list[T]:
    """Items ``index, index + count, ...`` of ``items``: shards are disjoint and cover every item."""
    return list(items[index::count])
