"""The recognition training step the engine's :class:`~vidlearn.engine.Trainer` calls on every batch."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["ClassificationStep"]


@dataclass
class ClassificationStep:
    """The training step: cross-entropy on single-label batches, BCE-with-logits on multi-label ones.

    Takes a batch ``(clips (B, C, T, H, W), labels (B,) or multi-hot (B, K), info)``. Returns the loss
    and the batch's accuracy (float, averaged by the engine); the engine counts the skipped videos
    from ``info`` itself. With ``channels_last`` the clips are laid out ``channels_last_3d``, to match
    a model the trainer converted (``train.channels_last``, the CPU fast path).
    """

    multi_label: bool = False
    channels_last: bool = False

    def __call__(self, model: nn.Module, batch: Any) -> tuple[torch.Tensor, dict[str, Any]]:
        clips, labels, _info = batch
        if self.channels_last and clips.dim() == 5:
            clips = clips.contiguous(memory_format=torch.channels_last_3d)
        logits = model(clips)
        if self.multi_label:
            loss = F.binary_cross_entropy_with_logits(logits.float(), labels.float())
            accuracy = (labels.gather(1, logits.argmax(1, keepdim=True)) > 0).float().mean()
        else:
            loss = F.cross_entropy(logits.float(), labels)
            accuracy = (logits.argmax(1) == labels).float().mean()
        return loss, {"acc": accuracy.detach()}
