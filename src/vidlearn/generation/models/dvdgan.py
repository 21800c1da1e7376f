"""DVD-GAN (Clark, Donahue & Simonyan 2019, "Adversarial Video Generation on Complex Datasets").

A :class:`DVDGAN` holds the generator and the two discriminators (as BigGAN-PyTorch's ``G_D`` holds G
and D): ``model(z, y)`` generates, ``model.discriminate(clips, y)`` scores. Training splits it into its
parts (:mod:`vidlearn.generation.training`): G has one optimiser, D_S and D_T share the other.

What follows the paper:

* G: ``[z; e(y)]`` (120 + 120), an affine map to a 4x4 grid fed to a ConvGRU at every frame; per
  resolution a ConvGRU then two class-conditional-BN residual blocks (the first does not upsample)
  with frames folded into the batch; ``[z; e(y)]`` conditions every CBN; tanh output.
* D_S: BigGAN's D on ``k = 8`` frames sampled uniformly at full resolution, scores summed over them.
* D_T: the clip average-pooled 2x2 in space; the first two residual blocks 3D (3x3x3), then 2D.
* Spectral norm in G and D, orthogonal initialisation, projection discriminators, hinge loss,
  EMA of G, truncated sampling (all as BigGAN).

Where the paper leaves a detail open, this is what we chose:

* Widths: the paper gives none in its text; we take BigGAN-PyTorch's ``G_arch`` / ``D_arch``
  multiplier tables for the resolution (G 128: ``ch * (16, 16, 8, 4, 2, 1)``, 64: ``(16, 16, 8, 4, 2)``;
  D 128: ``(1, 2, 4, 8, 16, 16)``, 64: ``(1, 2, 4, 8, 16)``) with BigGAN's ``ch`` (96 at 128x128, 64 at
  64x64). A GBlock pair per resolution is one more block than BigGAN's G has.
* D_T uses the ``D_arch`` of half the resolution (it sees the x2-downsampled clip); its downsampling
  3D blocks also halve time (48 frames -> 12 steps at the 2D part).
* ConvGRU: 3x3 kernels, tanh candidate, zero initial state, hidden width = the group's width.
* CBN gains and biases: spectral-normed linear maps of ``[z; e(y)]`` without bias; the output layer
  has a plain BatchNorm (BigGAN-PyTorch's ``output_layer``); no self-attention (an option BigGAN has).
* Frames for D_S are drawn without replacement, independently for every clip.
* DVD-GAN-FP (``context_frames = n``, the paper's future prediction from the first frames): G encodes
  the ``n`` given frames with a :class:`~vidlearn.generation.models.generator.ContextEncoder` (the
  frames stacked on channels, a ResNet of D blocks mirroring G's widths) and concatenates its features
  to every ConvGRU input; G's output is ``[context; T - n generated frames]``; D_T judges that whole
  clip (does the continuation follow the context?), D_S draws its ``k`` frames from the generated
  part only. ``dvdgan_fp_64``: the paper's Kinetics-600 set-up, 5 given and 11 predicted frames at
  64x64, class-free (one class).

Parameter counts (``tests/generation/test_zoo.py``) are those of this architecture, not published
numbers: the paper gives none. D_S has BigGAN's D widths (without its attention block): 87.4M
parameters at 128x128 with 600 classes, 19.6M at 64x64 with 101. G is far larger than BigGAN's G
(477M at 128x128, ch 96; 213M at 64x64, ch 64) because of the 3x3 ConvGRU at every resolution: at
1536 channels one ConvGRU alone holds 127M parameters; pass a smaller ``ch`` for a lighter model.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from vidlearn.generation.models.discriminators import SpatialDiscriminator, TemporalDiscriminator
from vidlearn.generation.models.generator import DVDGANGenerator
from vidlearn.models.registry import register_model

__all__ = ["DVDGAN", "D_ARCH", "G_MULTIPLIERS", "build_dvdgan", "dvdgan_64", "dvdgan_128", "dvdgan_cpu", "dvdgan_fp_64"]

PAPER = "Clark, Donahue & Simonyan 2019, Adversarial Video Generation on Complex Datasets (arXiv:1907.06571)"

# BigGAN-PyTorch's G_arch: group g maps ch*m[g] -> ch*m[g+1] channels (4x4 -> R x R).
G_MULTIPLIERS: dict[int, tuple[int, ...]] = {
    128: (16, 16, 8, 4, 2, 1),
    64: (16, 16, 8, 4, 2),
    32: (4, 4, 4, 4),
    16: (4, 4, 4),
}
# BigGAN-PyTorch's D_arch: (output multipliers, downsample) per block; 16 and 8 are ours, for the CPU-sized
# models (D_T of 32x32 and 16x16 clips).
D_ARCH: dict[int, tuple[tuple[int, ...], tuple[bool, ...]]] = {
    128: ((1, 2, 4, 8, 16, 16), (True, True, True, True, True, False)),
    64: ((1, 2, 4, 8, 16), (True, True, True, True, False)),
    32: ((4, 4, 4, 4), (True, True, False, False)),
    16: ((4, 4, 4), (True, True, False)),
    8: ((4, 4), (True, False)),
}


class DVDGAN(nn.Module):
    """Generator and discriminators of DVD-GAN; ``forward(z, y)`` generates ``(B, 3, T, R, R)`` in [-1, 1].

    ``temporal_discriminator`` may be ``None`` (the ablation without D_T).
    """

    def __init__(self, generator: DVDGANGenerator, spatial_discriminator: SpatialDiscriminator,
                 temporal_discriminator: TemporalDiscriminator | None) -> None:
        super().__init__()
        self.generator = generator
        self.spatial_discriminator = spatial_discriminator
        self.temporal_discriminator = temporal_discriminator

    @property
    def num_classes(self) -> int:
        return self.generator.num_classes

    @property
    def z_dim(self) -> int:
        return self.generator.z_dim

    @property
    def context_frames(self) -> int:
        """DVD-GAN-FP's given frames (0: plain DVD-GAN)."""
        return self.generator.context_frames

    def forward(self, z: torch.Tensor, y: torch.Tensor, num_frames: int | None = None,
                context: torch.Tensor | None = None) -> torch.Tensor:
        return self.generator(z, y, num_frames, context)

    def discriminate(self, clips: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
        """Scores ``(B,)`` by name: ``"spatial"`` and, when present, ``"temporal"``."""
        scores = {"spatial": self.spatial_discriminator(clips, y)}
        if self.temporal_discriminator is not None:
            scores["temporal"] = self.temporal_discriminator(clips, y)
        return scores


def build_dvdgan(*, num_classes: int, resolution: int, num_frames: int, ch: int, d_ch: int | None = None,
                 k: int = 8, z_dim: int = 120, embed_dim: int = 120, blocks_per_group: int = 2,
                 temporal_discriminator: bool = True, num_3d_blocks: int = 2, temporal_downsample: bool = True,
                 sn: bool = True, context_frames: int = 0) -> DVDGAN:
    """A DVD-GAN for ``resolution`` x ``resolution`` clips of ``num_frames`` frames (widths from the tables above).

    ``context_frames = n > 0`` builds DVD-GAN-FP: the first ``n`` frames are given, G makes the rest.
    """
    if resolution not in G_MULTIPLIERS or resolution // 2 not in D_ARCH:
        raise ValueError(f"no width table for resolution {resolution}; known: {sorted(G_MULTIPLIERS)}")
    if k > num_frames - context_frames:
        raise ValueError(f"D_S samples k={k} frames per clip but clips have num_frames={num_frames}"
                         + (f" of which {context_frames} are given context" if context_frames else ""))
    d_ch = ch if d_ch is None else d_ch
    generator = DVDGANGenerator(num_classes=num_classes, resolution=resolution, num_frames=num_frames, ch=ch,
                                multipliers=G_MULTIPLIERS[resolution], z_dim=z_dim, embed_dim=embed_dim,
                                blocks_per_group=blocks_per_group, sn=sn, context_frames=context_frames)
    spatial_widths, spatial_down = D_ARCH[resolution]
    spatial = SpatialDiscriminator(num_classes=num_classes, resolution=resolution, ch=d_ch,
                                   multipliers=spatial_widths, downsample=spatial_down, k=k, sn=sn,
                                   skip_frames=context_frames)
    temporal = None
    if temporal_discriminator:
        temporal_widths, temporal_down = D_ARCH[resolution // 2]
        temporal = TemporalDiscriminator(num_classes=num_classes, resolution=resolution, ch=d_ch,
                                         multipliers=temporal_widths, downsample=temporal_down,
                                         num_3d_blocks=num_3d_blocks, temporal_downsample=temporal_downsample,
                                         sn=sn)
    return DVDGAN(generator, spatial, temporal)


_TINY = {"z_dim": 8, "embed_dim": 8, "num_frames": 4, "k": 2}


@register_model("dvdgan_64", paper=PAPER, input_shape=(3, 16, 64, 64), default_num_classes=101,
                small_input_shape=(3, 4, 64, 64), small_kwargs={"num_classes": 5, "ch": 2, **_TINY},
                family="dvdgan")
def dvdgan_64(*, num_classes: int = 101, ch: int = 64, num_frames: int = 16, **kwargs: Any) -> DVDGAN:
    """DVD-GAN at 64x64 x 16 frames (the UCF-101 set-up), BigGAN's 64x64 widths with ch = 64."""
    return build_dvdgan(num_classes=num_classes, resolution=64, num_frames=num_frames, ch=ch, **kwargs)


@register_model("dvdgan_128", paper=PAPER, input_shape=(3, 48, 128, 128), default_num_classes=600,
                small_input_shape=(3, 4, 128, 128), small_kwargs={"num_classes": 5, "ch": 1, **_TINY},
                family="dvdgan")
def dvdgan_128(*, num_classes: int = 600, ch: int = 96, num_frames: int = 48, **kwargs: Any) -> DVDGAN:
    """DVD-GAN at 128x128 x 48 frames (the paper's Kinetics-600 model), BigGAN's 128x128 widths, ch = 96."""
    return build_dvdgan(num_classes=num_classes, resolution=128, num_frames=num_frames, ch=ch, **kwargs)


@register_model("dvdgan_fp_64", paper=PAPER, input_shape=(3, 16, 64, 64), default_num_classes=1,
                small_input_shape=(3, 4, 64, 64), small_kwargs={"num_classes": 1, "ch": 2, **_TINY, "context_frames": 2},
                family="dvdgan")
def dvdgan_fp_64(*, num_classes: int = 1, ch: int = 64, num_frames: int = 16, context_frames: int = 5,
                 k: int = 8, **kwargs: Any) -> DVDGAN:
    """DVD-GAN-FP at 64x64: 5 given frames, 11 predicted (the paper's Kinetics-600 prediction set-up),
    BigGAN's 64x64 widths with ch = 64, class-free (one class) as that benchmark."""
    return build_dvdgan(num_classes=num_classes, resolution=64, num_frames=num_frames, ch=ch,
                        context_frames=context_frames, k=min(k, num_frames - context_frames), **kwargs)


@register_model("dvdgan_cpu", paper=PAPER, input_shape=(3, 8, 32, 32), default_num_classes=4,
                small_input_shape=(3, 4, 32, 32), small_kwargs={"num_classes": 3, "ch": 2, **_TINY},
                family="dvdgan")
def dvdgan_cpu(*, num_classes: int = 4, ch: int = 8, num_frames: int = 8, k: int = 4, z_dim: int = 32,
               embed_dim: int = 32, resolution: int = 32, **kwargs: Any) -> DVDGAN:
    """A CPU-sized DVD-GAN: 32x32 x 8 frames, ch = 8 (32 channels), D_S on k = 4 frames, 32-d z and e(y).

    ``resolution=16`` gives the demo's still smaller model (16x16 frames: a quarter of the work).
    """
    if resolution not in (16, 32):
        raise ValueError(f"dvdgan_cpu is built for 16x16 or 32x32 clips, got resolution={resolution}")
    return build_dvdgan(num_classes=num_classes, resolution=resolution, num_frames=num_frames, ch=ch, k=k,
                        z_dim=z_dim, embed_dim=embed_dim, **kwargs)
