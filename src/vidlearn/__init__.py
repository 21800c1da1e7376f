"""vidlearn: deep learning for videos in PyTorch.

Wings: :mod:`vidlearn.recognition`, :mod:`vidlearn.tracking`, :mod:`vidlearn.superres`,
:mod:`vidlearn.generation`, on the shared foundation :mod:`vidlearn.video`, :mod:`vidlearn.engine`
and :mod:`vidlearn.models`.
"""

__version__ = "0.1.0.dev0"
