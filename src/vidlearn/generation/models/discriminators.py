"""DVD-GAN's two discriminators (Clark, Donahue & Simonyan 2019, Section 3.1 and Appendix B.1).

Both are BigGAN discriminators (ResNets of :class:`~vidlearn.generation.models.layers.DBlock`, ReLU,
sum-pooling, a linear score and the class projection of Miyato & Koyama 2018) and return one score
per clip ``(B,)``:

* :class:`SpatialDiscriminator` (D_S) judges ``k`` frames drawn uniformly without replacement from each
  clip at full resolution, each on its own, and sums the ``k`` per-frame scores::

      clip (B, C, T, R, R) -> k frames (B*k, C, R, R) -> 2D DBlocks -> ReLU -> sum over H, W (B*k, D)
      -> linear(h) + <embed(y), h> (B*k,) -> sum over the k frames (B,)

* :class:`TemporalDiscriminator` (D_T) judges the whole clip, downsampled x2 in space by average
  pooling; its first two blocks are 3D (every convolution 3x3x3), the rest 2D on each remaining time
  step; the per-step scores are summed::

      clip (B, C, T, R, R) -> avg-pool 1x2x2 (B, C, T, R/2, R/2) -> 3D DBlocks (B, D, T', s, s)
      -> fold T' into the batch -> 2D DBlocks -> ReLU -> sum over H, W -> linear + projection
      -> (B, T') -> sum over T' (B,)

This split is the paper's reason for being: D_S sees full resolution but few frames, D_T every frame
at low resolution, so neither pays for a full-resolution 3D discriminator.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from vidlearn.generation.models.layers import DBlock, is_tracing, sn_embedding, sn_linear

__all__ = ["SpatialDiscriminator", "TemporalDiscriminator", "sample_frames"]


def sample_frames(clips: torch.Tensor, k: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
    """``k`` distinct frames per clip, drawn uniformly: ``(B, C, T, H, W) -> (B, k, C, H, W)``.

    Each clip gets its own draw (a random permutation per clip, its first ``k`` indices), vectorised.
    """
    batch, _, frames = clips.shape[:3]
    if k > frames:
        raise ValueError(f"D_S samples k={k} frames but the clips have only T={frames}")
    order = torch.rand(batch, frames, generator=generator, device=clips.device if generator is None else "cpu")
    indices = order.argsort(dim=1)[:, :k].to(clips.device)
    per_frame = clips.transpose(1, 2)  # (B, T, C, H, W), a view
    return per_frame[torch.arange(batch, device=clips.device)[:, None], indices]


class _ProjectionHead(nn.Module):
    """``h (N, D), y (N,) -> linear(h) + <embed(y), h>`` (N,): the projection discriminator's output."""

    def __init__(self, features: int, num_classes: int, sn: bool) -> None:
        super().__init__()
        self.linear = sn_linear(features, 1, sn=sn)
        self.embedding = sn_embedding(num_classes, features, sn=sn)

    def forward(self, h: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.linear(h).squeeze(1) + (self.embedding(y) * h).sum(dim=1)


def _check_input(name: str, clips: torch.Tensor, y: torch.Tensor, channels: int, resolution: int,
                 num_classes: int) -> None:
    if clips.ndim != 5 or clips.shape[1] != channels:
        raise ValueError(f"{name} expects clips (B, {channels}, T, H, W), got shape {tuple(clips.shape)}")
    if tuple(clips.shape[-2:]) != (resolution, resolution):
        raise ValueError(f"{name} was built for {resolution}x{resolution} clips, got "
                         f"{clips.shape[-2]}x{clips.shape[-1]}")
    if y.shape != (clips.shape[0],):
        raise ValueError(f"{name}: y must be (B,) = ({clips.shape[0]},) class indices, got {tuple(y.shape)}")
    if y.numel() and not is_tracing() and (int(y.min()) < 0 or int(y.max()) >= num_classes):
        raise ValueError(f"{name}: class indices must be in [0, {num_classes}), got {y.tolist()}")


def _blocks(widths: Sequence[int], downsample: Sequence[bool], in_channels: int, *, dims: Sequence[int],
            temporal_downsample: bool, sn: bool) -> nn.ModuleList:
    blocks = nn.ModuleList()
    channels = in_channels
    for index, (width, down) in enumerate(zip(widths, downsample)):
        blocks.append(DBlock(channels, width, downsample=down, preactivation=index > 0, dims=dims[index],
                             temporal_downsample=temporal_downsample, sn=sn))
        channels = width
    return blocks


class SpatialDiscriminator(nn.Module):
    """D_S: a 2D BigGAN discriminator on ``k`` sampled full-resolution frames; scores summed over them.

    Args:
        num_classes: size of the projection's class table.
        resolution: the frames' side ``R``.
        ch, multipliers, downsample: block ``i`` has ``ch * multipliers[i]`` channels and halves the
            size when ``downsample[i]`` (BigGAN's ``D_arch`` tables).
        k: frames judged per clip (8 in the paper).
        skip_frames: the leading frames never judged (DVD-GAN-FP: the given context frames, real in
            real and generated clips alike); the ``k`` frames are drawn from the others.
    """

    def __init__(self, *, num_classes: int, resolution: int, ch: int, multipliers: Sequence[int],
                 downsample: Sequence[bool], k: int = 8, in_channels: int = 3, sn: bool = True,
                 skip_frames: int = 0) -> None:
        super().__init__()
        if len(multipliers) != len(downsample) or not multipliers:
            raise ValueError(f"multipliers and downsample must have the same non-zero length, got "
                             f"{tuple(multipliers)} and {tuple(downsample)}")
        if k < 1 or skip_frames < 0:
            raise ValueError(f"k must be >= 1 and skip_frames >= 0, got {k} and {skip_frames}")
        self.num_classes, self.resolution, self.k, self.in_channels = num_classes, resolution, k, in_channels
        self.skip_frames = skip_frames
        widths = [ch * m for m in multipliers]
        self.blocks = _blocks(widths, downsample, in_channels, dims=[2] * len(widths),
                              temporal_downsample=False, sn=sn)
        self.head = _ProjectionHead(widths[-1], num_classes, sn)

    def score_frames(self, frames: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Per-frame scores: ``frames (N, C, R, R)``, ``y (N,)`` -> ``(N,)``."""
        h = frames
        for block in self.blocks:
            h = block(h)
        return self.head(F.relu(h).sum(dim=(2, 3)), y)

    def forward(self, clips: torch.Tensor, y: torch.Tensor, *,
                generator: torch.Generator | None = None) -> torch.Tensor:
        """``clips (B, C, T, R, R)``, ``y (B,)`` -> ``(B,)``: the sum of the scores of ``k`` random frames."""
        _check_input("D_S", clips, y, self.in_channels, self.resolution, self.num_classes)
        if self.skip_frames:
            if clips.shape[2] - self.skip_frames < self.k:
                raise ValueError(f"D_S samples k={self.k} frames after the {self.skip_frames} context frames but "
                                 f"the clips have only T={clips.shape[2]}")
            clips = clips[:, :, self.skip_frames:]
        frames = sample_frames(clips, self.k, generator=generator)  # (B, k, C, R, R)
        batch = clips.shape[0]
        scores = self.score_frames(frames.flatten(0, 1), y.repeat_interleave(self.k))
        return scores.view(batch, self.k).sum(dim=1)


class TemporalDiscriminator(nn.Module):
    """D_T: the clip at half resolution, first ``num_3d_blocks`` blocks 3D, then 2D; scores summed over time.

    Args:
        num_classes: size of the projection's class table.
        resolution: the side ``R`` of the clips given (D_T itself works at ``R / 2``).
        ch, multipliers, downsample: as :class:`SpatialDiscriminator`, for the ``R / 2`` input.
        num_3d_blocks: leading blocks with 3x3x3 convolutions (2 in the paper).
        temporal_downsample: the 3D blocks that downsample also halve the frames (our choice: the
            paper does not say; it keeps D_T's 2D part cheap on 48-frame clips).
    """

    def __init__(self, *, num_classes: int, resolution: int, ch: int, multipliers: Sequence[int],
                 downsample: Sequence[bool], num_3d_blocks: int = 2, temporal_downsample: bool = True,
                 in_channels: int = 3, sn: bool = True) -> None:
        super().__init__()
        if len(multipliers) != len(downsample) or not multipliers:
            raise ValueError(f"multipliers and downsample must have the same non-zero length, got "
                             f"{tuple(multipliers)} and {tuple(downsample)}")
        if not 0 <= num_3d_blocks <= len(multipliers):
            raise ValueError(f"num_3d_blocks must be in [0, {len(multipliers)}], got {num_3d_blocks}")
        if resolution % 2:
            raise ValueError(f"D_T downsamples x2: resolution must be even, got {resolution}")
        self.num_classes, self.resolution, self.in_channels = num_classes, resolution, in_channels
        self.num_3d_blocks = num_3d_blocks
        widths = [ch * m for m in multipliers]
        dims = [3] * num_3d_blocks + [2] * (len(widths) - num_3d_blocks)
        self.blocks = _blocks(widths, downsample, in_channels, dims=dims,
                              temporal_downsample=temporal_downsample, sn=sn)
        self.head = _ProjectionHead(widths[-1], num_classes, sn)

    def forward(self, clips: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """``clips (B, C, T, R, R)``, ``y (B,)`` -> ``(B,)``: per-step scores of the x2-downsampled clip, summed."""
        _check_input("D_T", clips, y, self.in_channels, self.resolution, self.num_classes)
        h = F.avg_pool3d(clips, (1, 2, 2))  # the paper's φ: 2x2 average pooling of every frame
        for block in self.blocks[: self.num_3d_blocks]:
            h = block(h)
        batch, channels, steps = h.shape[:3]
        h = h.transpose(1, 2).reshape(batch * steps, channels, *h.shape[3:])  # time folded into the batch
        for block in self.blocks[self.num_3d_blocks:]:
            h = block(h)
        scores = self.head(F.relu(h).sum(dim=(2, 3)), y.repeat_interleave(steps))
        return scores.view(batch, steps).sum(dim=1)
