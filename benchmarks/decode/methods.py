"""The ways of turning a video file into one training clip that the benchmark compares.

Every method does the same work per call: open the file, take ``clip_len`` frames ``interval`` apart
from a random start, resize the short side to 128, crop 112x112 at random and return a contiguous
``float32 (C, T, 112, 112)`` tensor with values in [0, 1]. A call opens the file afresh, as a
dataset item does.

- ``naive``: PyAV decoding from the first frame up to the last wanted one, ``to_ndarray("rgb24")``
  for every decoded frame, ``cv2.resize`` of the wanted ones: the loop most people write first.
- ``pytorchvideo``: PyTorchVideo 0.1.5's ``LabeledVideoDataset`` with its PyAV decoder and its
  transforms (``UniformTemporalSubsample``, ``ShortSideScale``, random crop, ``Div255``).
- ``vidlearn-<backend>``: ``VideoReader(path, backend).get_frames(indices, size=128)`` (decode-time
  resize) and vidlearn's clip transforms.
- ``vidlearn-pyav-1thread``: the same with the PyAV backend decoding on one thread instead of its
  default slice threads (what it does in DataLoader workers; set here through the backend's
  stream). Naive PyAV and PyTorchVideo keep PyAV's default, which is also slice threads.
- ``vidlearn-pyav-known``: as ``vidlearn-pyav`` with the metadata a dataset's index keeps
  (``VideoReader(path, backend="pyav", metadata=probe_video(path))``, probed once beforehand): the
  file opens without the packet pass when its timestamps are evenly spaced.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import av
import cv2
import numpy as np
import torch
import torchvision

from vidlearn.video import VideoReader, available_backends
from vidlearn.video.transforms import Compose, Normalize, RandomCrop, ToCTHW, ToTCHW

SHORT_SIDE = 128
CROP = 112

# (path, first frame index) -> clip; the benchmark draws the starts so that every method that takes
# a start decodes the same clips.
ClipLoader = Callable[[Path, int], torch.Tensor]


def _random_crop_offsets(height: int, width: int, rng: np.random.Generator) -> tuple[int, int]:
    return int(rng.integers(0, height - CROP + 1)), int(rng.integers(0, width - CROP + 1))


def _short_side_size(height: int, width: int) -> tuple[int, int]:
    if height <= width:
        return SHORT_SIDE, round(width * SHORT_SIDE / height)
    return round(height * SHORT_SIDE / width), SHORT_SIDE


def naive_loader(clip_len: int, interval: int, seed: int = 0) -> ClipLoader:
    """Decode from the start, convert every frame to RGB, keep the wanted ones, resize with OpenCV."""
    rng = np.random.default_rng(seed)

    def load(path: Path, start: int) -> torch.Tensor:
        wanted = set(range(start, start + clip_len * interval, interval))
        last = start + (clip_len - 1) * interval
        kept = []
        with av.open(str(path)) as container:
            for index, frame in enumerate(container.decode(video=0)):
                rgb = frame.to_ndarray(format="rgb24")
                if index in wanted:
                    kept.append(rgb)
                if index == last:
                    break
        if len(kept) != clip_len:
            raise RuntimeError(f"{path}: got {len(kept)} of {clip_len} frames from {start}")
        height, width = _short_side_size(*kept[0].shape[:2])
        resized = [cv2.resize(rgb, (width, height), interpolation=cv2.INTER_LINEAR) for rgb in kept]
        top, left = _random_crop_offsets(height, width, rng)
        clip = np.stack(resized)[:, top : top + CROP, left : left + CROP]
        return torch.from_numpy(clip).permute(3, 0, 1, 2).float().div_(255).contiguous()

    return load


def vidlearn_transform() -> Compose:
    """uint8 ``(T, H, W, 3)`` at short side 128 -> float ``(C, T, 112, 112)`` in [0, 1]."""
    return Compose([ToTCHW(), RandomCrop(CROP), Normalize((0.0, 0.0, 0.0), (1.0, 1.0, 1.0)), ToCTHW()])


def vidlearn_loader(clip_len: int, interval: int, backend: str, known_of: dict | None = None) -> ClipLoader:
    """``VideoReader(..., backend).get_frames(indices, size=128)`` and vidlearn's transforms;
    with ``known_of`` (path -> ``VideoInfo``) the reader gets the file's metadata."""
    transform = vidlearn_transform()
    offsets = np.arange(clip_len) * interval
    known_of = known_of or {}

    def load(path: Path, start: int) -> torch.Tensor:
        with VideoReader(path, backend=backend, metadata=known_of.get(path)) as video:
            frames = video.get_frames(start + offsets, size=SHORT_SIDE)
        return transform(frames).contiguous()

    return load


@contextlib.contextmanager
def pyav_single_decoder_thread():
    """While active, vidlearn's PyAV backend opens its decoder with one thread (processes forked
    meanwhile, such as DataLoader workers, keep it)."""
    from vidlearn.video.backends.pyav import PyAVBackend

    original = PyAVBackend.__init__

    def init(self, *args, **kwargs) -> None:
        original(self, *args, **kwargs)
        self._stream.thread_type = "SLICE"  # the decoder opens at the first decode: still settable
        self._stream.codec_context.thread_count = 1

    PyAVBackend.__init__ = init
    try:
        yield
    finally:
        PyAVBackend.__init__ = original


def single_thread_loader(clip_len: int, interval: int) -> ClipLoader:
    load_default = vidlearn_loader(clip_len, interval, "pyav")

    def load(path: Path, start: int) -> torch.Tensor:
        with pyav_single_decoder_thread():
            return load_default(path, start)

    return load


def import_pytorchvideo():
    """Import PyTorchVideo 0.1.5, which imports a torchvision module removed in torchvision 0.17."""
    sys.modules.setdefault("torchvision.transforms.functional_tensor", torchvision.transforms.functional)
    import pytorchvideo.data
    import pytorchvideo.transforms

    return pytorchvideo


def pytorchvideo_transform(clip_len: int):
    ptv = import_pytorchvideo()
    from torchvision.transforms import Compose as TorchvisionCompose
    from torchvision.transforms import RandomCrop as TorchvisionRandomCrop

    return ptv.transforms.ApplyTransformToKey(
        "video",
        TorchvisionCompose(
            [
                ptv.transforms.UniformTemporalSubsample(clip_len),
                ptv.transforms.ShortSideScale(SHORT_SIDE),
                TorchvisionRandomCrop(CROP),
                ptv.transforms.Div255(),
            ]
        ),
    )


def pytorchvideo_dataset(paths: list[Path], fps: float, clip_len: int, interval: int, repeats: int = 1):
    """A ``LabeledVideoDataset`` over ``paths`` (each listed ``repeats`` times): one random clip of
    ``clip_len * interval`` frames' duration per listed video, subsampled to ``clip_len`` frames."""
    ptv = import_pytorchvideo()
    return ptv.data.LabeledVideoDataset(
        [(str(path), {"label": 0}) for path in paths] * repeats,
        clip_sampler=ptv.data.make_clip_sampler("random", clip_len * interval / fps),
        decoder="pyav",
        decode_audio=False,
        transform=pytorchvideo_transform(clip_len),
    )


def pytorchvideo_loader(clip_len: int, interval: int, fps_of: dict[Path, float]) -> ClipLoader:
    """One clip per call from a ``LabeledVideoDataset`` over that one file (its own random start:
    PyTorchVideo samples clip times itself); the file is opened and read for every clip."""
    iterators: dict[Path, Iterator[dict]] = {}

    def load(path: Path, start: int) -> torch.Tensor:
        del start  # PyTorchVideo's random clip sampler picks the start
        for _ in range(2):
            if path not in iterators:
                dataset = pytorchvideo_dataset([path], fps_of[path], clip_len, interval, repeats=10_000)
                iterators[path] = iter(dataset)
            try:
                return next(iterators[path])["video"].contiguous()
            except StopIteration:
                del iterators[path]
        raise RuntimeError(f"{path}: PyTorchVideo returned no clip")

    return load


def method_names() -> list[str]:
    """Every method that can run here, in table order."""
    names = ["naive", "pytorchvideo"]
    names += [f"vidlearn-{backend}" for backend in available_backends()]
    return [*names, "vidlearn-auto", "vidlearn-pyav-1thread", "vidlearn-pyav-known"]


def make_loader(
    name: str, clip_len: int, interval: int, fps_of: dict[Path, float], seed: int = 0, known_of: dict | None = None
) -> ClipLoader:
    if name == "naive":
        return naive_loader(clip_len, interval, seed)
    if name == "pytorchvideo":
        return pytorchvideo_loader(clip_len, interval, fps_of)
    if name == "vidlearn-pyav-1thread":
        return single_thread_loader(clip_len, interval)
    if name == "vidlearn-pyav-known":
        if not known_of:
            raise ValueError("vidlearn-pyav-known needs the probed metadata of the files (known_of)")
        return vidlearn_loader(clip_len, interval, "pyav", known_of)
    if name.startswith("vidlearn-"):
        return vidlearn_loader(clip_len, interval, name.removeprefix("vidlearn-"))
    raise ValueError(f"unknown method {name!r}")
