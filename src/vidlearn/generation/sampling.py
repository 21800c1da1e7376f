"""Sampling a trained DVD-GAN: class names to indices, seeded (truncated) latents, grids as GIF / MP4.

* :func:`class_indices`: class names (or indices) -> class indices, refusing an unknown name with
  the list of known ones.
* :func:`sample_clips`: ``num`` clips per class from a generator, seeded, optionally truncated.
* :func:`real_contexts`: DVD-GAN-FP's given frames and classes, taken from real clips.
* :func:`video_grid`: clips ``(N, 3, T, H, W)`` in [-1, 1] -> one video ``uint8 (T, H', W', 3)``
  showing them side by side (``ncol`` per row), enlarged ``scale`` times with nearest neighbours.
* :func:`write_sample_video`: the grid written as ``.gif`` or ``.mp4`` (any suffix
  :func:`vidlearn.video.write_video` knows).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset

from vidlearn.generation.models import truncated_normal

__all__ = ["class_indices", "real_contexts", "sample_clips", "video_grid", "write_sample_video"]


def class_indices(names: Sequence[str | int], classes: Sequence[str], num_classes: int) -> list[int]:
    """The class index of every entry of ``names``: a class name of ``classes`` or an index below ``num_classes``.

    An unknown name raises ``ValueError`` listing the known ones (or, for a generator trained without
    class names, saying that only indices work).
    """
    indices = []
    for name in names:
        text = str(name)
        if text in classes:
            indices.append(list(classes).index(text))
        elif text.lstrip("-").isdigit() and 0 <= int(text) < num_classes:
            indices.append(int(text))
        elif classes:
            raise ValueError(f"unknown class {text!r}; the generator knows: {', '.join(classes)} "
                             f"(or an index 0-{num_classes - 1})")
        else:
            raise ValueError(f"unknown class {text!r}: the generator has no class names; give an index "
                             f"0-{num_classes - 1}")
    return indices


@torch.no_grad()
def sample_clips(generator: nn.Module, classes: Sequence[int], *, num: int = 1, truncation: float | None = None,
                 seed: int = 0, num_frames: int | None = None, batch_size: int = 16,
                 context: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """``num`` clips of every class of ``classes``, class-major: ``(len(classes) * num, 3, T, R, R)`` and the labels.

    ``z`` comes from a private ``torch.Generator`` seeded with ``seed`` (the same seed gives the same
    clips) and is truncated to ``[-truncation, truncation]`` when set (BigGAN's truncation trick).
    DVD-GAN-FP: ``context (len(classes) * num, 3, n, R, R)``, the given frames of each clip.
    """
    if num < 1 or not classes:
        raise ValueError(f"give at least one class and num >= 1, got {list(classes)} and num={num}")
    labels = torch.tensor(list(classes), dtype=torch.long).repeat_interleave(num)
    if context is not None and len(context) != len(labels):
        raise ValueError(f"context holds {len(context)} clips' frames for {len(labels)} samples")
    latents = truncated_normal((len(labels), generator.z_dim), truncation,  # type: ignore[attr-defined]
                               generator=torch.Generator().manual_seed(seed))
    device = next(generator.parameters()).device
    generator.eval()
    contexts = [None] * len(labels) if context is None else context.split(batch_size)
    clips = [generator(z.to(device), y.to(device), num_frames, None if c is None else c.to(device)).cpu()
             for z, y, c in zip(latents.split(batch_size), labels.split(batch_size), contexts)]
    return torch.cat(clips), labels


def real_contexts(real: Dataset, count: int, context_frames: int) -> tuple[torch.Tensor, torch.Tensor]:
    """DVD-GAN-FP's inputs from real items ``(clip (C, T, H, W), class, ...)``: the first ``context_frames``
    frames ``(count, C, n, H, W)`` and the classes ``(count,)`` of items ``0, 1, ...`` (cycling when
    ``real`` holds fewer than ``count``)."""
    size = len(real)  # type: ignore[arg-type]
    if not size:
        raise ValueError("DVD-GAN-FP continues real clips: the real data holds none")
    items = [real[i % size] for i in range(count)]
    context = torch.stack([torch.as_tensor(item[0])[:, :context_frames] for item in items])
    return context, torch.stack([torch.as_tensor(item[1]).long().reshape(()) for item in items])


def video_grid(clips: torch.Tensor, *, ncol: int | None = None, scale: int = 1, padding: int = 1) -> torch.Tensor:
    """``clips (N, 3, T, H, W)`` in [-1, 1] -> ``uint8 (T, rows * (s*H + p) + p, ncol * (s*W + p) + p, 3)``.

    Sample ``i`` sits at row ``i // ncol``, column ``i % ncol`` (``ncol`` defaults to ``ceil(sqrt(N))``),
    enlarged ``scale`` times (nearest neighbour: pixels stay visible), on a white background with
    ``padding`` pixels between tiles.
    """
    if clips.ndim != 5 or clips.shape[1] != 3:
        raise ValueError(f"clips must be (N, 3, T, H, W), got shape {tuple(clips.shape)}")
    count, _, frames, height, width = clips.shape
    ncol = ncol or math.ceil(math.sqrt(count))
    rows = math.ceil(count / ncol)
    x = clips.detach().float().cpu().clamp(-1, 1).add(1).mul(127.5).round().to(torch.uint8)
    if scale > 1:
        x = F.interpolate(x.transpose(1, 2).flatten(0, 1).float(), scale_factor=scale, mode="nearest")
        x = x.to(torch.uint8).view(count, frames, 3, height * scale, width * scale).transpose(1, 2)
    tile_h, tile_w = x.shape[-2:]
    grid = torch.full((frames, rows * (tile_h + padding) + padding, ncol * (tile_w + padding) + padding, 3), 255,
                      dtype=torch.uint8)
    for index in range(count):
        top = padding + (index // ncol) * (tile_h + padding)
        left = padding + (index % ncol) * (tile_w + padding)
        grid[:, top : top + tile_h, left : left + tile_w] = x[index].permute(1, 2, 3, 0)
    return grid


def write_sample_video(path: str | Path, clips: torch.Tensor, *, fps: float = 8.0, ncol: int | None = None,
                       scale: int = 1) -> Path:
    """Write :func:`video_grid` of ``clips`` to ``path`` (``.gif``, ``.mp4``...); returns the path.

    H.264 needs even sides: an ``.mp4`` grid is padded with white to even height and width.
    """
    grid = video_grid(clips, ncol=ncol, scale=scale)
    path = Path(path)
    if path.suffix.lower() != ".gif":
        pad_h, pad_w = grid.shape[1] % 2, grid.shape[2] % 2
        if pad_h or pad_w:
            grid = F.pad(grid.permute(0, 3, 1, 2), (0, pad_w, 0, pad_h), value=255).permute(0, 2, 3, 1).contiguous()
    from vidlearn.video import write_video

    path.parent.mkdir(parents=True, exist_ok=True)
    return write_video(path, grid, fps)
