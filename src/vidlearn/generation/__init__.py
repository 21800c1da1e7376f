"""The generation wing: DVD-GAN (Clark, Donahue & Simonyan 2019), its training on the engine, and
FVD / IS metrics with explicit protocols.

* :mod:`~vidlearn.generation.models`: the generator, D_S and D_T, registered as ``dvdgan_64``,
  ``dvdgan_128`` and ``dvdgan_cpu``.
* :mod:`~vidlearn.generation.training`: :class:`DVDGANStep`, :class:`GenerationClips`, :func:`train`.
* :mod:`~vidlearn.generation.metrics`: Fréchet distance, FVD, Inception Score, sample accuracy.
"""

from vidlearn.generation.models import DVDGAN, DVDGANGenerator, build_dvdgan, truncated_normal

__all__ = ["DVDGAN", "DVDGANGenerator", "build_dvdgan", "truncated_normal"]
