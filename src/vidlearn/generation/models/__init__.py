"""DVD-GAN's networks, registered as ``dvdgan_64``, ``dvdgan_128``, ``dvdgan_cpu`` and ``dvdgan_fp_64`` (DVD-GAN-FP).

* :mod:`~vidlearn.generation.models.layers`: spectral-normed builders (one place), CBN, ConvGRU, blocks.
* :mod:`~vidlearn.generation.models.generator`: :class:`DVDGANGenerator`, :func:`truncated_normal`.
* :mod:`~vidlearn.generation.models.discriminators`: D_S and D_T.
* :mod:`~vidlearn.generation.models.dvdgan`: the :class:`DVDGAN` container, width tables, builders.
"""

from vidlearn.generation.models.discriminators import (
    SpatialDiscriminator,
    TemporalDiscriminator,
    sample_frames,
)
from vidlearn.generation.models.dvdgan import (
    D_ARCH,
    DVDGAN,
    G_MULTIPLIERS,
    build_dvdgan,
    dvdgan_64,
    dvdgan_128,
    dvdgan_cpu,
    dvdgan_fp_64,
)
from vidlearn.generation.models.generator import ContextEncoder, DVDGANGenerator, truncated_normal
from vidlearn.generation.models.layers import (
    ConditionalBatchNorm2d,
    ConvGRU,
    DBlock,
    GBlock,
    is_spectral_normed,
)

__all__ = [
    "DVDGAN",
    "D_ARCH",
    "G_MULTIPLIERS",
    "ConditionalBatchNorm2d",
    "ContextEncoder",
    "ConvGRU",
    "DBlock",
    "DVDGANGenerator",
    "GBlock",
    "SpatialDiscriminator",
    "TemporalDiscriminator",
    "build_dvdgan",
    "dvdgan_64",
    "dvdgan_128",
    "dvdgan_cpu",
    "dvdgan_fp_64",
    "is_spectral_normed",
    "sample_frames",
    "truncated_normal",
]
