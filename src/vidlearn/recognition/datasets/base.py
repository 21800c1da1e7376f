"""The recognition clip dataset: :class:`vidlearn.data.ClipDataset` plus classes and labels.

An item is ``(clip, label, info)``: ``clip`` and ``info`` as in :mod:`vidlearn.data.clips` (seeded
by ``(seed, epoch, index, attempt)``, bad videos skipped or raised, multi-view decoded once, the
epoch set through shared memory); ``label`` is an int, or a multi-hot ``float32 (num_classes,)``
for multi-label data (Sports-1M). The standard pipeline is
``vidlearn.recognition.preprocessing.build_clip_transform``; for flow pass ``input_layout="TCHW"`` since flow
clips are already ``(T, 2, H, W)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from vidlearn.data.annotations import VideoSample
from vidlearn.data.clips import ClipDataset, count_skipped, skipped_videos

__all__ = ["VideoClipDataset", "count_skipped", "skipped_videos"]


class VideoClipDataset(ClipDataset):
    """Clips of videos with labels: the base of UCF-101, HMDB51, Kinetics, Sports-1M and list datasets.

    ``samples`` are :class:`VideoSample` (path, label, key); ``classes`` the class names (index =
    label); ``multi_label=True`` returns multi-hot targets. Every other keyword argument is
    :class:`~vidlearn.data.ClipDataset`'s (sampler, transform, modality, size, on_error, probe, ...).
    """

    def __init__(
        self, samples: Sequence[VideoSample], classes: Sequence[str], *, multi_label: bool = False, **kwargs: Any
    ) -> None:
        self.classes = list(classes)
        self.multi_label = multi_label
        super().__init__(samples, **kwargs)

    @property
    def num_classes(self) -> int:
        """Number of classes (``len(classes)``)."""
        return len(self.classes)

    @property
    def labels(self) -> list[int | tuple[int, ...]]:
        """The label of every sample, in order (for class-balanced samplers and statistics)."""
        return [sample.label for sample in self.samples]

    def _label(self, sample: VideoSample) -> int | torch.Tensor:
        if not self.multi_label:
            return int(sample.label)
        target = torch.zeros(self.num_classes, dtype=torch.float32)
        labels = sample.label if isinstance(sample.label, tuple) else (sample.label,)
        target[list(labels)] = 1.0
        return target

    def make_item(self, sample: VideoSample, clip: Any, info: dict[str, Any]) -> tuple[Any, Any, dict[str, Any]]:
        """``(clip, label, info)``."""
        return clip, self._label(sample), info

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({len(self)} videos, {self.num_classes} classes, modality={self.modality!r}, "
            f"sampler={self.sampler!r}, missing={len(self.missing)}, unreadable={len(self.unreadable)}, "
            f"too_short={len(self.too_short)})"
        )
