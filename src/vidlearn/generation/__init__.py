"""The generation wing: DVD-GAN (Clark, Donahue & Simonyan 2019), its training on the engine, and
FVD / IS metrics with explicit protocols.

* :mod:`~vidlearn.generation.models`: the generator, D_S and D_T, registered as ``dvdgan_64``,
  ``dvdgan_128`` and ``dvdgan_cpu``.
* :mod:`~vidlearn.generation.training`: :class:`DVDGANStep`, :class:`GenerationClips`, :func:`train`,
  :func:`load_generator`.
* :mod:`~vidlearn.generation.metrics`: Fréchet distance, FVD, Inception Score, sample accuracy.
"""

from vidlearn.generation.metrics import (
    FVDProtocol,
    ISProtocol,
    MetricResult,
    frechet_distance,
    frechet_video_distance,
    inception_score,
    inception_score_of_clips,
    sample_accuracy,
)
from vidlearn.generation.models import DVDGAN, DVDGANGenerator, build_dvdgan, truncated_normal
from vidlearn.generation.training import (
    DVDGANStep,
    GANRun,
    GenerationClips,
    load_generator,
    synthetic_motion_clips,
    train,
)

__all__ = [
    "DVDGAN",
    "DVDGANGenerator",
    "DVDGANStep",
    "FVDProtocol",
    "GANRun",
    "GenerationClips",
    "ISProtocol",
    "MetricResult",
    "build_dvdgan",
    "frechet_distance",
    "frechet_video_distance",
    "inception_score",
    "inception_score_of_clips",
    "load_generator",
    "sample_accuracy",
    "synthetic_motion_clips",
    "train",
    "truncated_normal",
]
