"""The clip dataset core every wing builds on: samples -> frames -> transform, seeded, skipping bad files.

An item of :class:`ClipDataset` is ``(clip, info)``; a subclass adds its targets between the two by
overriding :meth:`ClipDataset.make_item` (recognition returns ``(clip, label, info)``). By
convention ``info`` is always the last element, which :func:`count_skipped` and
:func:`skipped_videos` rely on.

- ``clip``: without a transform, ``uint8 (T, H, W, 3)`` RGB for one view and ``(V, T, H, W, 3)``
  for ``V`` views (a sampler with ``num_clips > 1``, e.g. the 10-clip test protocol); for
  ``modality="flow"``, ``float32 (T, 2, H, W)`` pixels (``(V, T, 2, H, W)``). With a transform, the
  transform is applied to each view and the results are stacked: ``(V, *view)``; when each view is
  itself multi-crop (``(K, C, T, H, W)``) the views are flattened clip-major to ``(V*K, C, T, H, W)``.
  A single view is returned as the transform gives it. A super-resolution wing passes a transform
  to ``(T, C, H, W)`` float.
- ``info``: ``index`` (of the item returned), ``path``, ``frame_indices`` ``int64 (V, L)``,
  ``num_frames``, ``fps`` (NaN when unknown), ``skipped`` (how many videos were replaced to produce
  this item) and ``skipped_videos`` (their ``"path: reason"`` joined by newlines). All of it goes
  through ``torch.utils.data.default_collate``; :func:`count_skipped` sums a batch's skips.

Randomness (random clip offsets, replacement of a failing video) comes from a generator seeded by
``(seed, epoch, index, attempt)``: an item is the same in any DataLoader worker and after a resume.
A failing video is replaced by the next of a seeded permutation of the dataset (distinct videos, up
to ``max_attempts``). Random transforms draw from torch's generator, seeded from the same
``(seed, epoch, index, attempt)`` for the transform's call (and restored after), so augmentations too
are the same with 0 or many workers. :meth:`ClipDataset.set_epoch` changes the epoch through shared
memory, so persistent workers see it too; the engine's Trainer calls it before every epoch.

Multi-view items decode the video once: one ``get`` call on the union of the views' indices, then
split. With ``probe=True`` the metadata index (:class:`~vidlearn.data.index.VideoIndex`) is read at
construction and what it knows of each file is handed to the reader, which then opens the file
without demuxing it again (see :class:`~vidlearn.data.frames.VideoFileFrames`).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from vidlearn.data.annotations import VideoSample, resolve_missing
from vidlearn.data.frames import FlowFrames, FrameSource, Size, VideoFileFrames
from vidlearn.data.index import VideoIndex, VideoMeta
from vidlearn.video.errors import VideoDecodeError
from vidlearn.video.sampling import ClipTooShortError

__all__ = ["MODALITIES", "ON_ERROR", "ClipDataset", "count_skipped", "skipped_videos"]

logger = logging.getLogger(__name__)

MODALITIES = ("rgb", "flow")
ON_ERROR = ("raise", "skip")


class ClipDataset(Dataset):
    """Clips of videos or frame folders, with no assumption about what a task learns from them.

    ``samples`` are :class:`VideoSample` (path, key, optional label). ``sampler`` (a
    :class:`vidlearn.video.sampling.ClipSampler`) turns a frame count into clip indices ``(V, L)``;
    without one every frame is returned. ``transform`` maps one view (see the module docstring for
    shapes). ``modality="flow"`` reads MMAction2 flow JPEGs from
    ``flow_root/<key without extension>/flow_{x,y}_00001.jpg``. ``size`` resizes at decode time (an
    int: the short side; a pair: ``(height, width)``). ``on_error="skip"`` replaces a missing, corrupt
    or too-short video by another item (logged, counted in ``info["skipped"]``); ``"raise"`` raises a
    :class:`~vidlearn.video.VideoDecodeError` naming the file. ``probe=True`` reads frame counts from
    the cached metadata index (:class:`VideoIndex`, ``index_file``) at construction, sets aside
    unreadable (``self.unreadable``) and too-short (``self.too_short``) videos and keeps the metadata
    (``self.metadata``) so that opening a video for a clip does not demux it again; missing files are
    listed in ``self.missing``.

    Subclasses choose the frame source (:meth:`open`) and the item (:meth:`make_item`).
    """

    def __init__(
        self,
        samples: Sequence[VideoSample],
        *,
        sampler: Callable[..., np.ndarray] | None = None,
        transform: Callable[[torch.Tensor], Any] | None = None,
        modality: str = "rgb",
        flow_root: str | Path | None = None,
        flow_template: str = "flow_{axis}_{index:05d}.jpg",
        flow_bound: float = 20.0,
        size: Size = None,
        backend: str = "auto",
        on_error: str = "raise",
        seed: int = 0,
        root: str | Path | None = None,
        probe: bool = False,
        index_file: str | Path | bool | None = None,
        probe_workers: int | None = None,
        check_exists: bool = True,
        max_attempts: int = 10,
    ) -> None:
        if modality not in MODALITIES:
            raise ValueError(f"modality must be one of {MODALITIES}, got {modality!r}")
        if on_error not in ON_ERROR:
            raise ValueError(f"on_error must be one of {ON_ERROR}, got {on_error!r}")
        if modality == "flow" and flow_root is None and not self._frames_are_folders():
            raise ValueError("modality='flow' needs flow_root (the folder of flow_x/flow_y JPEGs)")
        self.sampler = sampler
        self.transform = transform
        self.modality = modality
        self.flow_root = Path(flow_root) if flow_root is not None else None
        self.flow_template = flow_template
        self.flow_bound = flow_bound
        self.size = size
        self.backend = backend
        self.on_error = on_error
        self.seed = int(seed)
        self.root = Path(root) if root is not None else None
        self.max_attempts = max_attempts
        # Shared memory: set_epoch in the main process reaches persistent DataLoader workers.
        self._epoch = torch.zeros(1, dtype=torch.int64).share_memory_()
        self.unreadable: list[tuple[str, str]] = []
        self.too_short: list[tuple[str, int]] = []
        self.metadata: dict[str, VideoMeta] = {}  # path -> what the index knows (probe=True)
        samples = list(samples)
        for sample in samples:
            sample.path = self.data_path(sample)
        self.samples, self.missing = resolve_missing(samples, on_error=on_error, check_exists=check_exists)
        if probe:
            self._probe(index_file, probe_workers)

    # -- construction helpers ------------------------------------------------------------------

    def _frames_are_folders(self) -> bool:
        """True for datasets whose samples are frame folders (their flow needs no ``flow_root``)."""
        return False

    def data_path(self, sample: VideoSample) -> str:
        """Where the frames of ``sample`` are read from for this modality."""
        if self.modality == "flow" and self.flow_root is not None:
            key = sample.key or Path(sample.path).name
            return str(self.flow_root / Path(key).with_suffix(""))
        return sample.path

    def _probe(self, index_file: str | Path | bool | None, workers: int | None) -> None:
        """Fill frame counts from the metadata index; set aside unreadable and too-short videos."""
        if self.modality == "flow" or self._frames_are_folders():
            return  # frame folders: counts come from the list or the folder, nothing to probe
        if not self.samples:
            return
        root = self.root if self.root is not None else Path(self.samples[0].path).parent
        index = VideoIndex(root, index_file, workers=workers)
        metas = index.lookup([sample.path for sample in self.samples])
        kept = []
        for sample in self.samples:
            meta = metas.get(sample.path)
            if meta is None:  # vanished between the existence check and the probe
                self._reject(sample, "file disappeared", self.unreadable, (sample.path, "file disappeared"))
                continue
            if not meta.ok:
                self._reject(sample, str(meta.error), self.unreadable, (sample.path, str(meta.error)))
                continue
            sample.num_frames = meta.num_frames
            sample.fps = meta.fps or None
            if self.sampler is not None:
                try:
                    self.sampler(meta.num_frames, fps=sample.fps, rng=0)
                except ClipTooShortError as error:
                    self._reject(sample, str(error), self.too_short, (sample.path, meta.num_frames))
                    continue
                except ValueError as error:  # e.g. target_fps with no frame rate in the file
                    reason = f"cannot sample a clip: {error}"
                    self._reject(sample, reason, self.unreadable, (sample.path, reason))
                    continue
            self.metadata[sample.path] = meta
            kept.append(sample)
        self.samples = kept
        rejected = len(self.unreadable) + len(self.too_short)
        if rejected:
            logger.warning(
                "set aside %d unreadable and %d too-short videos of %d",
                len(self.unreadable),
                len(self.too_short),
                len(kept) + rejected,
            )

    def _reject(self, sample: VideoSample, reason: str, bucket: list, entry: Any) -> None:
        if self.on_error == "raise":
            raise VideoDecodeError(sample.path, reason)
        bucket.append(entry)

    # -- public API --------------------------------------------------------------------------

    @property
    def epoch(self) -> int:
        """The epoch that seeds per-item randomness."""
        return int(self._epoch.item())

    def set_epoch(self, epoch: int) -> None:
        """Change the epoch that seeds per-item randomness (call before each epoch).

        The value lives in shared memory, so DataLoader workers (persistent ones too) see it.
        """
        self._epoch.fill_(int(epoch))

    def __len__(self) -> int:
        return len(self.samples)

    def open(self, sample: VideoSample) -> FrameSource:
        """The frame source of ``sample`` (a video reader, or a flow folder)."""
        if self.modality == "flow":
            return FlowFrames(sample.path, None, self.flow_template, self.flow_bound)
        return VideoFileFrames(sample.path, backend=self.backend, metadata=self.metadata.get(sample.path))

    def load_clip(
        self, sample: VideoSample, rng: np.random.Generator
    ) -> tuple[torch.Tensor, np.ndarray, FrameSource]:
        """Decode the views of one item: frames ``(V, T, ...)`` and indices ``int64 (V, L)``."""
        source = self.open(sample)
        try:
            return self._load_views(sample, source, rng)
        finally:
            close = getattr(source, "close", None)
            if close is not None:
                close()

    def _load_views(
        self, sample: VideoSample, source: FrameSource, rng: np.random.Generator
    ) -> tuple[torch.Tensor, np.ndarray, FrameSource]:
        if self.sampler is None:
            indices = np.arange(source.num_frames, dtype=np.int64)[None, :]
            if source.num_frames < 1:
                raise VideoDecodeError(sample.path, "no frames")
        else:
            try:
                indices = np.asarray(self.sampler(source.num_frames, fps=source.fps, rng=rng), dtype=np.int64)
            except ClipTooShortError as error:
                raise VideoDecodeError(sample.path, f"too short for the clip: {error}") from error
            except ValueError as error:  # e.g. target_fps with no frame rate in the file
                raise VideoDecodeError(sample.path, f"cannot sample a clip: {error}") from error
        # One decode for every view: the union of indices, then each view gathers its frames.
        unique, inverse = np.unique(indices, return_inverse=True)
        try:
            frames = source.get(unique.tolist(), size=self.size)
        except OSError as error:
            raise VideoDecodeError(sample.path, f"cannot read frames: {error}") from error
        if frames.shape[0] != len(unique):
            raise VideoDecodeError(sample.path, f"asked for {len(unique)} frames, got {frames.shape[0]}")
        gathered = frames[torch.from_numpy(inverse.reshape(-1))]
        return gathered.reshape(*indices.shape, *frames.shape[1:]), indices, source

    def _apply_transform(self, views: torch.Tensor) -> Any:
        if self.transform is None:
            return views[0] if views.shape[0] == 1 else views
        if views.shape[0] == 1:
            return self.transform(views[0])
        outputs = torch.stack([self.transform(view) for view in views])
        if outputs.dim() == 6:  # each view multi-crop (K, C, T, H, W): clip-major flatten
            outputs = outputs.flatten(0, 1)
        return outputs

    def make_item(self, sample: VideoSample, clip: Any, info: dict[str, Any]) -> tuple[Any, ...]:
        """The item returned for ``sample``: ``(clip, info)``; subclasses insert their targets."""
        return clip, info

    def __getitem__(self, index: int) -> tuple[Any, ...]:
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} out of range for a dataset of {len(self)} items")
        index = index % len(self)
        epoch = self.epoch
        skipped: list[str] = []
        current = index
        replacements: list[int] = []
        for attempt in range(min(self.max_attempts, len(self))):
            rng = np.random.default_rng([self.seed, epoch, index, attempt])
            sample = self.samples[current]
            try:
                views, indices, source = self.load_clip(sample, rng)
            except VideoDecodeError as error:
                if self.on_error == "raise":
                    raise
                logger.warning("skipping %s: %s", error.path, error.reason)
                skipped.append(f"{error.path}: {error.reason}")
                if not replacements:
                    # A seeded permutation: replacements are distinct videos, the same in every worker.
                    order = np.random.default_rng([self.seed, epoch, index]).permutation(len(self))
                    replacements = [int(i) for i in order if i != index][::-1]
                if not replacements:
                    break
                current = replacements.pop()
                continue
            info = {
                "index": current,
                "path": sample.path,
                "frame_indices": torch.from_numpy(indices),
                "num_frames": int(source.num_frames),
                "fps": float(source.fps) if source.fps else math.nan,
                "skipped": len(skipped),
                "skipped_videos": "\n".join(skipped),
            }
            # The transform's random draws (crop, flip, jitter) come from torch's generator, seeded
            # here for this item and epoch and restored after: an item is the same whichever process
            # loads it (main process or any worker) and after a resume, and the caller's RNG (the
            # model's dropout) is left alone.
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(int(rng.integers(2**63)))
                clip = self._apply_transform(views)
            return self.make_item(sample, clip, info)
        raise RuntimeError(
            f"item {index}: {len(skipped)} videos in a row failed to load (on_error='skip'); "
            f"last: {skipped[-1]}"
        )

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({len(self)} videos, modality={self.modality!r}, "
            f"sampler={self.sampler!r}, missing={len(self.missing)}, unreadable={len(self.unreadable)}, "
            f"too_short={len(self.too_short)})"
        )


def _info_of(batch: Any) -> Any:
    """The ``info`` of an item or collated batch: a dict itself, or the last element of a tuple."""
    return batch[-1] if isinstance(batch, (tuple, list)) else batch


def count_skipped(batch: Any) -> int:
    """Videos replaced while loading ``batch`` (a collated item tuple ending in ``info``, or ``info``)."""
    skipped = _info_of(batch)["skipped"]
    return int(skipped.sum()) if isinstance(skipped, torch.Tensor) else int(np.sum(skipped))


def skipped_videos(batch: Any) -> list[str]:
    """``"path: reason"`` of every video skipped while loading ``batch`` (collated or one item)."""
    entries = _info_of(batch)["skipped_videos"]
    if isinstance(entries, str):
        entries = [entries]
    return [line for text in entries for line in text.split("\n") if line]
