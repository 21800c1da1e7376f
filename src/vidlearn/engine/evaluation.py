"""The engine's evaluation loop: every item once over all ranks, results gathered in dataset order.

Under DDP each rank takes its :class:`~vidlearn.engine.data.ShardSampler` share (items ``r, r+W, ...``,
no padding, so nothing is counted twice), runs the wing's function on its batches and the results of
all ranks are gathered and put back in dataset order, on every rank::

    def score(batch):                      # one batch -> one result per item
        clips, labels = batch
        return list(zip(model(clips).cpu(), labels.tolist()))

    results = evaluation_loop(score, dataset, batch_size=8, num_workers=2)   # len(dataset) results

A wing then computes its metrics from the ordered results, the same in one process and under DDP.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from torch.utils.data import Dataset

from vidlearn.engine import distributed as dist_utils
from vidlearn.engine.data import ShardSampler, build_eval_loader

__all__ = ["evaluation_loop"]


def evaluation_loop(
    fn: Callable[[Any], Sequence[Any]],
    dataset: Dataset,
    *,
    batch_size: int = 1,
    collate_fn: Callable[[list[Any]], Any] | None = None,
    num_workers: int = 0,
    pin_memory: bool = False,
    progress: bool = False,
    desc: str = "evaluate",
) -> list[Any]:
    """``fn`` over this rank's share of ``dataset``; every rank's results, in dataset order.

    ``fn(batch)`` returns one result per item of the batch (any picklable value). The caller runs it
    under ``torch.no_grad`` with the model in eval mode. Returns ``len(dataset)`` results.
    """
    loader = build_eval_loader(dataset, batch_size=batch_size, num_workers=num_workers,
                               collate_fn=collate_fn, pin_memory=pin_memory)
    sampler = loader.sampler
    indices = list(iter(sampler)) if isinstance(sampler, ShardSampler) else list(range(len(dataset)))  # type: ignore[arg-type]
    batches: Any = loader
    if progress and dist_utils.is_main_process():
        from tqdm.auto import tqdm

        batches = tqdm(loader, desc=desc, unit="batch", leave=False)
    results: list[Any] = []
    for batch in batches:
        outputs = list(fn(batch))
        results.extend(outputs)
    if len(results) != len(indices):
        raise ValueError(
            f"the evaluation function returned {len(results)} results for {len(indices)} items; "
            "it must return one result per item of each batch"
        )
    parts = dist_utils.all_gather_object(list(zip(indices, results)))
    ordered = sorted((pair for part in parts for pair in part), key=lambda pair: pair[0])
    return [result for _, result in ordered]
