"""Evaluation protocols for recognition: clip-level and video-level multi-view testing.

A video-level protocol ``num_clips x num_crops`` (1x1, 10x1, 10x3, and 25x10 for 2D networks) scores
``num_clips * num_crops`` views of each video and averages them. Each video is decoded **once**: the
union of the frame indices of all its clips is read with one ``get_frames`` call, and the views are
cut from those frames chunk by chunk (``chunk_size`` views at a time go through the transform and
the model), so memory holds one video's decoded frames plus one chunk of views, whatever
``num_clips`` is (open-mmlab/mmaction2#257 is the out-of-memory this avoids).

Clip-level accuracy counts every view as its own sample (the protocol behind "clip accuracy"
figures); video-level accuracy averages the views of a video first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset

from vidlearn.engine.evaluation import evaluation_loop
from vidlearn.recognition.metrics import classification_report, confusion_matrix

__all__ = [
    "DecodedVideo",
    "DecodedVideoDataset",
    "EvaluationResult",
    "evaluate_videos",
    "score_views",
]


@dataclass
class DecodedVideo:
    """One video decoded once for all its views.

    ``frames``: ``uint8 (U, H, W, 3)``, the union of the frames the views need, in index order;
    ``view_indices``: ``int64 (num_clips, clip_len)`` positions into ``frames``.
    """

    frames: torch.Tensor
    view_indices: torch.Tensor
    label: int
    path: str


class DecodedVideoDataset(Dataset):
    """Decodes each video of a clip dataset once for a multi-clip protocol; items are :class:`DecodedVideo`.

    ``videos``: a :class:`vidlearn.recognition.datasets.VideoClipDataset` (its samples, frame sources
    (video files, frame folders or flow JPEGs) and decode-time ``size`` are used; its own sampler and
    transform are not). ``sampler``: a :class:`vidlearn.video.sampling.ClipSampler` giving
    ``(num_clips, clip_len)`` frame indices.
    """

    def __init__(self, videos: Any, sampler: Callable[..., np.ndarray], *, seed: int = 0) -> None:
        self.videos = videos
        self.sampler = sampler
        self.seed = seed

    def __len__(self) -> int:
        return len(self.videos.samples)

    def __getitem__(self, index: int) -> DecodedVideo:
        sample = self.videos.samples[index]
        source = self.videos.open(sample)
        rng = np.random.default_rng([self.seed, index])
        fps = getattr(source, "fps", None)
        indices = self.sampler(source.num_frames, fps=fps if fps and fps == fps else None, rng=rng)
        unique, inverse = np.unique(indices, return_inverse=True)
        frames = source.get(unique.tolist(), size=self.videos.size)
        close = getattr(source, "close", None)
        if close is not None:
            close()
        return DecodedVideo(frames, torch.from_numpy(inverse.reshape(indices.shape)), int(sample.label), str(sample.path))


def _first(batch: list[DecodedVideo]) -> DecodedVideo:
    return batch[0]


def iter_views(
    video: DecodedVideo,
    transform: Callable[[torch.Tensor], torch.Tensor],
    chunk_size: int,
) -> Iterator[torch.Tensor]:
    """Yield the video's views in chunks, ``float (<=chunk_size, C, T, H, W)``.

    ``transform`` maps one clip ``uint8 (T, H, W, 3)`` to ``(C, T, H, W)`` or, for multi-crop,
    ``(V, C, T, H, W)``. Clips are transformed one at a time and grouped, so at most one chunk of
    float views is alive at once (plus one clip's crops).
    """
    pending: list[torch.Tensor] = []
    count = 0
    for clip_positions in video.view_indices:
        views = transform(video.frames[clip_positions])
        if views.dim() == 4:
            views = views.unsqueeze(0)
        for view in views:
            pending.append(view)
            count += 1
            if count == chunk_size:
                yield torch.stack(pending)
                pending, count = [], 0
    if pending:
        yield torch.stack(pending)


@torch.no_grad()
def score_views(
    model: nn.Module,
    video: DecodedVideo,
    transform: Callable[[torch.Tensor], torch.Tensor],
    *,
    chunk_size: int = 8,
    device: torch.device | str = "cpu",
    autocast_dtype: torch.dtype | None = None,
) -> torch.Tensor:
    """Logits of every view of ``video``: ``float (num_clips * num_crops, num_classes)``, clip-major."""
    device = torch.device(device)
    outputs = []
    for chunk in iter_views(video, transform, chunk_size):
        chunk = chunk.to(device, non_blocking=True)
        with torch.autocast(device.type, dtype=autocast_dtype, enabled=autocast_dtype is not None):
            outputs.append(model(chunk).float().cpu())
    return torch.cat(outputs)


@dataclass
class EvaluationResult:
    """Scores and metrics of one evaluation run (accuracies in [0, 1])."""

    video_scores: torch.Tensor  # (N, K) averaged per video
    labels: torch.Tensor  # (N,)
    clip_scores: torch.Tensor  # (N * V, K)
    clip_labels: torch.Tensor  # (N * V,)
    paths: list[str]
    metrics: dict[str, float] = field(default_factory=dict)

    def confusion(self, num_classes: int) -> np.ndarray:
        return confusion_matrix(self.video_scores, self.labels, num_classes)


def protocol_metrics(result: EvaluationResult, num_classes: int) -> dict[str, float]:
    """Video- and clip-level top-1 / top-5 (and video mean class accuracy) of ``result``'s scores."""
    video = classification_report(result.video_scores, result.labels, num_classes)
    clip = classification_report(result.clip_scores, result.clip_labels, num_classes)
    return {
        "video_top1": video["top1"],
        "video_top5": video["top5"],
        "video_mean_class_accuracy": video["mean_class_accuracy"],
        "clip_top1": clip["top1"],
        "clip_top5": clip["top5"],
        "num_videos": float(len(result.paths)),
        "num_views": float(len(result.clip_labels)),
    }


def evaluate_videos(
    model: nn.Module,
    dataset: DecodedVideoDataset,
    transform: Callable[[torch.Tensor], torch.Tensor],
    *,
    num_classes: int,
    average: str = "prob",
    chunk_size: int = 8,
    num_workers: int = 0,
    device: torch.device | str = "cpu",
    autocast_dtype: torch.dtype | None = None,
    progress: bool = False,
) -> EvaluationResult:
    """Run the multi-view protocol over ``dataset`` and compute clip- and video-level metrics.

    ``average="prob"`` averages softmax probabilities over views (MMAction2's ``average_clips='prob'``);
    ``"score"`` averages logits. Returns metrics ``video_top1``, ``video_top5``,
    ``video_mean_class_accuracy``, ``clip_top1``, ``clip_top5``.
    """
    if average not in ("prob", "score"):
        raise ValueError(f"average must be 'prob' or 'score', got {average!r}")
    model.eval()

    def score(video: DecodedVideo) -> list[tuple[torch.Tensor, int, str]]:
        logits = score_views(model, video, transform, chunk_size=chunk_size, device=device,
                             autocast_dtype=autocast_dtype)
        return [(logits, video.label, video.path)]

    # Each DDP rank scores its share of the videos; every rank gets all of them back, in order.
    scored = evaluation_loop(score, dataset, batch_size=1, collate_fn=_first, num_workers=num_workers,
                             progress=progress, desc="evaluate")
    video_scores, labels, clip_scores, clip_labels, paths = [], [], [], [], []
    for logits, label, path in scored:
        per_view = logits.softmax(dim=1) if average == "prob" else logits
        video_scores.append(per_view.mean(dim=0))
        labels.append(label)
        clip_scores.append(logits)
        clip_labels.extend([label] * len(logits))
        paths.append(path)
    result = EvaluationResult(
        video_scores=torch.stack(video_scores) if video_scores else torch.zeros(0, num_classes),
        labels=torch.tensor(labels, dtype=torch.long),
        clip_scores=torch.cat(clip_scores) if clip_scores else torch.zeros(0, num_classes),
        clip_labels=torch.tensor(clip_labels, dtype=torch.long),
        paths=paths,
    )
    if paths:
        result.metrics = protocol_metrics(result, num_classes)
    return result
