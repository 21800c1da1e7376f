"""What ``vidlearn train`` and ``vidlearn evaluate`` call for a ``task: superres`` recipe.

The task registry (:mod:`vidlearn.tasks`) imports this module when a recipe names the task; it
exposes the interface every wing's entry module has: :func:`load_recipe`, :func:`train`,
:func:`evaluate` and :func:`average_splits`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from vidlearn.superres.evaluation import evaluate_model, mean_metrics, test_sequences
from vidlearn.superres.inference import load_sr_model
from vidlearn.superres.recipe import SuperresConfig, load_recipe
from vidlearn.superres.training import TrainResult, train

__all__ = ["TrainResult", "average_splits", "evaluate", "load_recipe", "train"]


def evaluate(cfg: SuperresConfig, checkpoint: str | Path, *, out_dir: str | Path | None = None,
             progress: bool = True, **protocol_options: Any) -> dict[str, Any]:
    """A checkpoint (``model.safetensors`` or an engine checkpoint of a run) on the recipe's test sequences.

    Returns the mean metrics (and ``bicubic_*`` on the same LR frames) under ``evaluate.protocol``;
    with ``out_dir``, ``metrics.json`` there holds every sequence.
    """
    if protocol_options:
        raise ValueError(f"superres evaluation takes no protocol options, got {sorted(protocol_options)}; "
                         f"set evaluate.protocol in the recipe")
    degradation = cfg.data.degradation.build()
    model, meta = load_sr_model(checkpoint, scale=degradation.scale, ema=cfg.evaluate.ema)
    ev = cfg.evaluate
    sequences = test_sequences(ev.sources, degradation, lr_root=ev.lr_root, max_frames=ev.max_frames,
                               synthetic_sequences=ev.synthetic_sequences, synthetic_frames=ev.synthetic_frames,
                               synthetic_size=ev.synthetic_size)
    result = evaluate_model(model, sequences, scale=degradation.scale, protocol=ev.protocol, temporal=ev.temporal)
    result["degradation"] = degradation.protocol
    result["model"] = meta["model"]
    if out_dir is not None:
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        (Path(out_dir) / "metrics.json").write_text(json.dumps(result, indent=1))
    mean = {k: v for k, v in result["mean"].items() if isinstance(v, float)}
    mean.update({f"bicubic_{k}": v for k, v in result["bicubic"]["mean"].items() if isinstance(v, float)})
    return mean


def average_splits(results: list[dict[str, Any]]) -> dict[str, Any]:
    """The mean of each metric over several evaluations (super-resolution test sets have no splits)."""
    return mean_metrics({str(i): r for i, r in enumerate(results)})
