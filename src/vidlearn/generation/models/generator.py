"""DVD-GAN's generator (Clark, Donahue & Simonyan 2019, Appendix B.1 and Figure 6).

Data flow for ``B`` clips of ``T`` frames, ``cond = [z; e(y)]`` (``z_dim + embed_dim``, 120 + 120 in
the paper)::

    cond (B, 240) -> SN-linear -> (B, ch_0, 4, 4), the same grid for every frame -> (B, T, ch_0, 4, 4)
    per group g (one per resolution 4, 8, ..., R/2):
        ConvGRU(ch_g -> ch_g), unrolled over T             (B, T, ch_g, s, s)
        fold T into the batch                               (B*T, ch_g, s, s)
        GBlock(ch_g -> ch_g, CBN(cond))                     no upsampling (the paper skips it in the first)
        GBlock(ch_g -> ch_g+1, CBN(cond), up x2)            (B*T, ch_g+1, 2s, 2s)
    BN -> ReLU -> SN-conv3x3 (-> 3) -> tanh                 (B*T, 3, R, R) -> (B, 3, T, R, R) in [-1, 1]

Widths are ``ch * multipliers[g]`` (see :mod:`vidlearn.generation.models.dvdgan` for the tables).

DVD-GAN-FP (the paper's future-prediction variant, ``context_frames = n > 0``): the first ``n`` frames
of a real clip are given and G makes the other ``T - n``. A :class:`ContextEncoder` E turns the ``n``
frames into one feature map per group resolution, which is concatenated to that group's ConvGRU input
at every step (the paper feeds the encoded conditioning frames to G's recurrent units; the encoder's
layout below is our choice)::

    context (B, 3, n, R, R) -> frames stacked on channels (B, 3n, R, R)
        -> DBlock (down x2) -> ... -> features at R/2, R/4, ..., 4   (B, ch_g, s_g, s_g), one per group
    group g: ConvGRU([x_t; E_g(context)])                            unrolled over the T - n new frames
    output: [context; generated] along time                          (B, 3, T, R, R)
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from vidlearn.generation.models.layers import (
    ConvGRU,
    DBlock,
    GBlock,
    is_tracing,
    sn_conv2d,
    sn_linear,
    spectral_normed,
)

__all__ = ["ContextEncoder", "DVDGANGenerator", "truncated_normal"]


def truncated_normal(shape: Sequence[int], truncation: float | None = None, *,
                     generator: torch.Generator | None = None, device: torch.device | str | None = None,
                     dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Standard normal samples, restricted to ``[-truncation, truncation]`` when ``truncation`` is set.

    The truncation trick (Brock et al. 2019, Section 3.1): sampling ``z`` from a truncated normal
    trades variety for fidelity. Drawn exactly, without rejection loops, by the inverse CDF on
    ``U[Φ(-t), Φ(t)]``. ``truncation=None`` is the plain normal.
    """
    if truncation is None:
        return torch.randn(*shape, generator=generator, device=device, dtype=dtype)
    if not truncation > 0 or math.isinf(truncation):
        raise ValueError(f"truncation must be a positive finite number or None, got {truncation!r}")
    low = 0.5 * math.erfc(truncation / math.sqrt(2.0))  # Φ(-t)
    uniform = torch.rand(*shape, generator=generator, device=device, dtype=torch.float64)
    samples = torch.special.ndtri(low + (1.0 - 2.0 * low) * uniform)
    return samples.clamp_(-truncation, truncation).to(dtype)


class ContextEncoder(nn.Module):
    """DVD-GAN-FP's encoder E: ``context (B, 3, n, R, R)`` -> one feature map per generator group.

    The ``n`` frames are stacked along channels (their order, and so their motion, is kept) and go
    through a 2D ResNet of BigGAN discriminator blocks, each halving the size; block ``i`` gives the
    features of the group at ``R / 2^(i+1)``, with that group's width. Returns the list ordered as G's
    groups: ``[(B, widths[0], 4, 4), (B, widths[1], 8, 8), ..., (B, widths[-1], R/2, R/2)]``.
    """

    def __init__(self, *, context_frames: int, widths: Sequence[int], in_channels: int = 3, sn: bool = True) -> None:
        super().__init__()
        if context_frames < 1:
            raise ValueError(f"context_frames must be >= 1, got {context_frames}")
        self.context_frames, self.in_channels = context_frames, in_channels
        blocks = []
        channels = in_channels * context_frames
        for index, width in enumerate(reversed(list(widths))):  # full resolution first: the last group's width
            blocks.append(DBlock(channels, width, downsample=True, preactivation=index > 0, dims=2, sn=sn))
            channels = width
        self.blocks = nn.ModuleList(blocks)

    def forward(self, context: torch.Tensor) -> list[torch.Tensor]:
        batch = context.shape[0]
        h = context.transpose(1, 2).reshape(batch, -1, *context.shape[-2:])  # (B, n*C, R, R), frame-major
        features = []
        for block in self.blocks:
            h = block(h)
            features.append(h)
        return features[::-1]  # coarsest (4x4) first, as G's groups


class DVDGANGenerator(nn.Module):
    """Class-conditional video generator: ``z (B, z_dim), y (B,) -> clip (B, 3, T, R, R)`` in [-1, 1].

    Args:
        num_classes: size of the class embedding table.
        resolution: output side ``R`` (a power of two >= 8); there are ``log2(R / 4)`` groups.
        num_frames: ``T`` of :meth:`forward` by default (the recurrent G can unroll any length).
        ch: base width; group ``g`` has ``ch * multipliers[g]`` channels.
        multipliers: ``log2(R / 4) + 1`` widths: the input of each group, then the output width.
        z_dim, embed_dim: sizes of ``z`` and of the class embedding ``e(y)`` (120 each in the paper).
        blocks_per_group: residual blocks after each ConvGRU (2 in the paper, the last upsamples).
        out_channels: 3 for RGB.
        sn: spectral norm on every conv and linear layer (the paper: yes).
        context_frames: DVD-GAN-FP: ``n > 0`` given frames (``forward(..., context=...)``), ``T - n``
            generated after them; 0 is plain DVD-GAN.
    """

    def __init__(self, *, num_classes: int, resolution: int, num_frames: int, ch: int,
                 multipliers: Sequence[int], z_dim: int = 120, embed_dim: int = 120,
                 blocks_per_group: int = 2, out_channels: int = 3, sn: bool = True,
                 context_frames: int = 0) -> None:
        super().__init__()
        groups = round(math.log2(resolution / 4)) if resolution >= 8 else 0
        if groups < 1 or 4 * 2**groups != resolution:
            raise ValueError(f"resolution must be a power of two >= 8, got {resolution}")
        if len(multipliers) != groups + 1:
            raise ValueError(f"resolution {resolution} needs {groups + 1} multipliers (one per group and the "
                             f"output width), got {len(multipliers)}: {tuple(multipliers)}")
        if num_classes < 1 or num_frames < 1 or ch < 1 or blocks_per_group < 1:
            raise ValueError(f"num_classes, num_frames, ch and blocks_per_group must be positive, got "
                             f"{num_classes}, {num_frames}, {ch}, {blocks_per_group}")
        if not 0 <= context_frames < num_frames:
            raise ValueError(f"context_frames must be in [0, num_frames={num_frames}), got {context_frames}")
        self.num_classes, self.resolution, self.num_frames = num_classes, resolution, num_frames
        self.z_dim, self.embed_dim, self.context_frames = z_dim, embed_dim, context_frames
        widths = [ch * m for m in multipliers]
        cond_dim = z_dim + embed_dim
        self.embedding = spectral_normed(nn.Embedding(num_classes, embed_dim), enabled=False)  # plain, as BigGAN
        self.linear = sn_linear(cond_dim, 4 * 4 * widths[0], sn=sn)
        self.encoder = (ContextEncoder(context_frames=context_frames, widths=widths[:groups], in_channels=out_channels,
                                       sn=sn) if context_frames else None)
        extra = 2 if context_frames else 1  # with E, the ConvGRU input is [x_t; E_g(context)]
        self.grus = nn.ModuleList(ConvGRU(extra * widths[g], widths[g], 3, sn=sn) for g in range(groups))
        self.blocks = nn.ModuleList()
        for g in range(groups):
            group = [GBlock(widths[g], widths[g], cond_dim, upsample=False, sn=sn)
                     for _ in range(blocks_per_group - 1)]
            group.append(GBlock(widths[g], widths[g + 1], cond_dim, upsample=True, sn=sn))
            self.blocks.append(nn.ModuleList(group))
        self.output_bn = nn.BatchNorm2d(widths[-1])
        self.output_conv = sn_conv2d(widths[-1], out_channels, 3, sn=sn)

    def condition(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """``[z; e(y)]`` ``(B, z_dim + embed_dim)``, checking shapes and class range."""
        if z.ndim != 2 or z.shape[1] != self.z_dim:
            raise ValueError(f"z must be (B, {self.z_dim}), got shape {tuple(z.shape)}")
        if y.shape != (z.shape[0],):
            raise ValueError(f"y must be (B,) = ({z.shape[0]},) class indices, got shape {tuple(y.shape)}")
        if y.numel() and not is_tracing() and (int(y.min()) < 0 or int(y.max()) >= self.num_classes):
            raise ValueError(f"class indices must be in [0, {self.num_classes}), got {y.tolist()}")
        return torch.cat((z, self.embedding(y).to(z.dtype)), dim=1)

    def _check_context(self, context: torch.Tensor | None, batch: int, frames: int) -> torch.Tensor | None:
        n = self.context_frames
        if not n:
            if context is not None:
                raise ValueError("context frames were given to a generator built without context_frames "
                                 "(plain DVD-GAN); build it with context_frames=n for DVD-GAN-FP")
            return None
        expected = (batch, self.encoder.in_channels, n, self.resolution, self.resolution)  # type: ignore[union-attr]
        if context is None:
            raise ValueError(f"this DVD-GAN-FP generator predicts from {n} given frames: pass context of shape "
                             f"{expected} (B, C, n, R, R) in [-1, 1]")
        if tuple(context.shape) != expected:
            raise ValueError(f"context must be {expected} (B, C, n, R, R), got shape {tuple(context.shape)}")
        if frames <= n:
            raise ValueError(f"num_frames={frames} leaves nothing to predict after {n} context frames")
        return context

    def forward(self, z: torch.Tensor, y: torch.Tensor, num_frames: int | None = None,
                context: torch.Tensor | None = None) -> torch.Tensor:
        """``z (B, z_dim)``, ``y (B,)`` -> ``(B, 3, T, R, R)`` in [-1, 1] (``T = num_frames or self.num_frames``).

        DVD-GAN-FP (``context_frames = n``): ``context (B, 3, n, R, R)`` is required; the first ``n``
        output frames are the context itself, the other ``T - n`` are generated.
        """
        frames = self.num_frames if num_frames is None else int(num_frames)
        if frames < 1:
            raise ValueError(f"num_frames must be >= 1, got {frames}")
        cond = self.condition(z, y)
        batch = z.shape[0]
        context = self._check_context(context, batch, frames)
        encoded = self.encoder(context.to(cond.dtype)) if context is not None else None  # type: ignore[misc]
        frames -= self.context_frames  # the frames G makes
        x = self.linear(cond).view(batch, -1, 4, 4)
        x = x.unsqueeze(1).expand(batch, frames, *x.shape[1:])  # the RNN's input at every frame
        frame_cond = cond.repeat_interleave(frames, dim=0)  # (B*T, cond_dim), clip-major like x
        for index, (gru, group) in enumerate(zip(self.grus, self.blocks)):
            if encoded is not None:
                features = encoded[index].unsqueeze(1).expand(batch, frames, *encoded[index].shape[1:])
                x = torch.cat((x, features), dim=2)
            x = gru(x)
            h = x.reshape(batch * frames, *x.shape[2:])
            for block in group:
                h = block(h, frame_cond)
            x = h.view(batch, frames, *h.shape[1:])
        h = self.output_conv(F.relu(self.output_bn(x.reshape(batch * frames, *x.shape[2:]))))
        clip = torch.tanh(h).view(batch, frames, *h.shape[1:]).transpose(1, 2)  # (B, C, T, H, W)
        if context is not None:
            clip = torch.cat((context.to(clip.dtype), clip), dim=2)
        return clip

    @torch.no_grad()
    def sample(self, classes: torch.Tensor | Sequence[int], *, truncation: float | None = None,
               num_frames: int | None = None, generator: torch.Generator | None = None,
               context: torch.Tensor | None = None) -> torch.Tensor:
        """Clips for the class indices ``classes`` with ``z`` from a (truncated) normal: ``(B, 3, T, R, R)``
        (DVD-GAN-FP: continuing ``context (B, 3, n, R, R)``)."""
        device = next(self.parameters()).device
        y = torch.as_tensor(classes, dtype=torch.long).to(device)
        z = truncated_normal((len(y), self.z_dim), truncation, generator=generator).to(device)
        return self(z, y, num_frames, None if context is None else context.to(device))
