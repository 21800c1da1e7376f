"""An exponential moving average of a model's weights (as BigGAN's ``ema`` and timm's ``ModelEmaV3``).

After every optimiser step that updates the model, each floating parameter of the copy moves towards
the model's: ``ema = decay * ema + (1 - decay) * param``; buffers (BatchNorm statistics) are copied.
Before ``start_step`` updates the copy just takes the model's weights, as BigGAN starts its EMA late
so that the average does not remember the random initialisation. The copy is what a GAN samples
from; a checkpoint holds it beside the model.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

__all__ = ["ExponentialMovingAverage"]


class ExponentialMovingAverage(nn.Module):
    """A frozen copy of ``model`` updated by :meth:`update`; ``module`` is the averaged network."""

    def __init__(self, model: nn.Module, decay: float = 0.999, *, start_step: int = 0) -> None:
        super().__init__()
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"EMA decay must be in [0, 1), got {decay}")
        if start_step < 0:
            raise ValueError(f"EMA start_step must be >= 0, got {start_step}")
        self.decay = float(decay)
        self.start_step = int(start_step)
        self.num_updates = 0
        self.module = copy.deepcopy(model).eval().requires_grad_(False)

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """Move the average one step towards ``model`` (same architecture as at construction)."""
        decay = self.decay if self.num_updates >= self.start_step else 0.0
        averaged = dict(self.module.named_parameters())
        for name, param in model.named_parameters():
            target = averaged[name]
            if target.is_floating_point():
                target.lerp_(param.detach().to(target.dtype), 1.0 - decay)
            else:
                target.copy_(param.detach())
        buffers = dict(self.module.named_buffers())
        for name, buffer in model.named_buffers():
            buffers[name].copy_(buffer.detach())
        self.num_updates += 1

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return self.module(*args, **kwargs)

    def state_dict(self, *args: Any, **kwargs: Any) -> dict[str, Any]:  # type: ignore[override]
        """The averaged network's state dict plus ``num_updates`` (for an exact resume)."""
        state = dict(self.module.state_dict())
        state["__num_updates__"] = torch.tensor(self.num_updates, dtype=torch.int64)
        return state

    def load_state_dict(self, state: Mapping[str, Any], strict: bool = True, assign: bool = False) -> Any:  # type: ignore[override]
        state = dict(state)
        updates = state.pop("__num_updates__", None)
        if updates is not None:
            self.num_updates = int(updates)
        return self.module.load_state_dict(state, strict=strict, assign=assign)
