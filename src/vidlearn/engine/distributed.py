"""``torch.distributed`` helpers: DDP under ``torchrun``, reductions and gathers.

Launch with ``torchrun --nproc-per-node N -m vidlearn ...`` (or any launcher that sets ``RANK``,
``WORLD_SIZE`` and ``LOCAL_RANK``). :func:`init_distributed` joins the process group (NCCL on CUDA,
gloo on CPU) and is a no-op for a single process, so the same code runs both ways::

    info = init_distributed()          # DistInfo(rank=0, world_size=1, local_rank=0, device=cpu)
    ...                                # Trainer wraps the model in DDP when info.world_size > 1
    accuracy = all_reduce_mean(correct / total)
    predictions = gather_tensors(local_logits)   # rank order, variable sizes allowed
    shutdown_distributed()

Every helper also works without an initialised process group (it returns the local value), so
single-process code needs no ``if``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist

__all__ = [
    "DistInfo",
    "all_gather_object",
    "all_reduce_mean",
    "all_reduce_mean_",
    "all_reduce_sum",
    "barrier",
    "gather_tensors",
    "get_rank",
    "get_world_size",
    "init_distributed",
    "is_distributed",
    "is_main_process",
    "reduce_metrics",
    "shutdown_distributed",
]


@dataclass(frozen=True)
class DistInfo:
    """Where this process stands: its global rank, the world size, its local rank and device."""

    rank: int
    world_size: int
    local_rank: int
    device: torch.device


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"environment variable {name}={value!r} is not an integer") from None


def init_distributed(device: str = "auto", timeout_s: float = 1800.0) -> DistInfo:
    """Join the process group when launched by ``torchrun`` (``WORLD_SIZE`` > 1); idempotent.

    ``device`` ``auto`` uses ``cuda:LOCAL_RANK`` when CUDA is available, else the CPU; the backend
    follows (NCCL for CUDA, gloo for CPU). A single process gets ``world_size=1`` and no group.
    """
    world_size = _env_int("WORLD_SIZE", 1)
    rank = _env_int("RANK", 0)
    local_rank = _env_int("LOCAL_RANK", 0)
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    target = torch.device(device)
    if target.type == "cuda" and target.index is None:
        target = torch.device("cuda", local_rank if world_size > 1 else torch.cuda.current_device())
    if target.type == "cuda":
        torch.cuda.set_device(target)
    if world_size > 1 and not is_distributed():
        backend = "nccl" if target.type == "cuda" else "gloo"
        dist.init_process_group(
            backend=backend, rank=rank, world_size=world_size, timeout=timedelta(seconds=timeout_s)
        )
    if is_distributed():
        rank, world_size = dist.get_rank(), dist.get_world_size()
    return DistInfo(rank=rank, world_size=world_size, local_rank=local_rank, device=target)


def shutdown_distributed() -> None:
    """Leave the process group (after a barrier so no rank exits while another still talks)."""
    if is_distributed():
        dist.barrier()
        dist.destroy_process_group()


def is_distributed() -> bool:
    """Whether a process group is initialised."""
    return dist.is_available() and dist.is_initialized()


def get_rank() -> int:
    """This process's global rank (0 without a process group)."""
    return dist.get_rank() if is_distributed() else 0


def get_world_size() -> int:
    """Number of processes (1 without a process group)."""
    return dist.get_world_size() if is_distributed() else 1


def is_main_process() -> bool:
    """Rank 0: the one process that logs, shows progress and writes files."""
    return get_rank() == 0


def barrier() -> None:
    """Wait for every rank (no-op for a single process)."""
    if is_distributed():
        dist.barrier()


def _reduce_device() -> torch.device:
    # NCCL reduces only CUDA tensors; gloo reduces CPU tensors.
    if is_distributed() and dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def all_reduce_sum(value: float | torch.Tensor) -> float | torch.Tensor:
    """Sum over ranks; a Python number gives a float, a tensor a tensor (on its own device)."""
    if not is_distributed():
        return value if isinstance(value, torch.Tensor) else float(value)
    if isinstance(value, torch.Tensor):
        reduced = value.detach().to(_reduce_device()).clone()
        if reduced.is_floating_point():
            reduced = reduced.double()  # sums of many float32 values lose digits
        dist.all_reduce(reduced, op=dist.ReduceOp.SUM)
        return reduced.to(value.device, value.dtype)
    tensor = torch.tensor(float(value), dtype=torch.float64, device=_reduce_device())
    dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return float(tensor.item())


def all_reduce_mean(value: float | torch.Tensor) -> float | torch.Tensor:
    """Mean over ranks (each rank weighs the same)."""
    total = all_reduce_sum(value)
    return total / get_world_size()


def all_reduce_mean_(tensor: torch.Tensor) -> torch.Tensor:
    """Average ``tensor`` over ranks in place, in its own dtype (as DDP averages gradients)."""
    if not is_distributed():
        return tensor
    device = _reduce_device()
    buffer = tensor if tensor.device == device else tensor.to(device)
    dist.all_reduce(buffer, op=dist.ReduceOp.SUM)
    buffer.div_(get_world_size())
    if buffer is not tensor:
        tensor.copy_(buffer)
    return tensor


def reduce_metrics(sums: Mapping[str, float], counts: Mapping[str, float] | None = None) -> dict[str, float]:
    """Sum every value over ranks in one collective; divided by the summed ``counts`` when given.

    ``reduce_metrics({"loss": loss_sum, "skipped": 3}, {"loss": n})`` gives the global mean loss
    (weighted by each rank's count) and the global number of skipped items. Every rank must pass
    the same keys.
    """
    keys = sorted(sums)
    counts = dict(counts or {})
    count_keys = sorted(counts)
    values = [float(sums[k]) for k in keys] + [float(counts[k]) for k in count_keys]
    if is_distributed() and values:
        tensor = torch.tensor(values, dtype=torch.float64, device=_reduce_device())
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
        values = tensor.tolist()
    totals = dict(zip(keys, values[: len(keys)]))
    summed_counts = dict(zip(count_keys, values[len(keys) :]))
    for key, count in summed_counts.items():
        if key in totals:
            totals[key] = totals[key] / count if count else float("nan")
    return totals


def all_gather_object(obj: Any) -> list[Any]:
    """Every rank's picklable ``obj``, in rank order (``[obj]`` for a single process)."""
    if not is_distributed():
        return [obj]
    gathered: list[Any] = [None] * get_world_size()
    dist.all_gather_object(gathered, obj)
    return gathered


def gather_tensors(tensor: torch.Tensor) -> torch.Tensor:
    """Concatenate along dim 0 every rank's ``tensor`` in rank order; first dims may differ.

    Used to collect predictions for evaluation: each rank pads to the longest, gathers, and the
    padding is cut off again. Trailing dimensions and dtype must match on every rank.
    """
    if not is_distributed():
        return tensor
    device = _reduce_device()
    local = tensor.detach().to(device).contiguous()
    size = torch.tensor([local.shape[0]], dtype=torch.int64, device=device)
    sizes = [torch.zeros_like(size) for _ in range(get_world_size())]
    dist.all_gather(sizes, size)
    lengths = [int(s.item()) for s in sizes]
    longest = max(lengths)
    if local.shape[0] < longest:
        pad = local.new_zeros((longest - local.shape[0], *local.shape[1:]))
        local = torch.cat([local, pad])
    buffers = [torch.empty_like(local) for _ in lengths]
    dist.all_gather(buffers, local)
    return torch.cat([b[:n] for b, n in zip(buffers, lengths)]).to(tensor.device)
