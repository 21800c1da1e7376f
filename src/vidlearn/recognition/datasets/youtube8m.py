"""YouTube-8M features read straight from their TFRecord files, without TensorFlow.

YouTube-8M (Abu-El-Haija et al., "YouTube-8M: A Large-Scale Video Classification Benchmark", 2016)
ships precomputed features, not videos, as TFRecord files of protocol buffers:

- video level, one ``tf.train.Example`` per video: ``id`` (bytes), ``labels`` (int64 list),
  ``mean_rgb`` (1024 floats), ``mean_audio`` (128 floats);
- frame level, one ``tf.train.SequenceExample`` per video: context ``id`` and ``labels``, feature lists
  ``rgb`` and ``audio`` with one bytes entry per second holding 1024 / 128 uint8-quantised values,
  dequantised as in the official starter code: ``x * (max - min) / 255 + (max - min) / 512 + min``
  with ``max = 2`` and ``min = -2``.

The TFRecord reader and writer and the protobuf codec live in
:mod:`vidlearn.recognition.datasets.tfrecord` (re-exported here); this module holds
:func:`dequantize` and :class:`YouTube8MDataset`, which indexes record offsets once and then reads any
record by random access.
"""

from __future__ import annotations

import glob
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from vidlearn.recognition.datasets.tfrecord import (
    FeatureValue,
    ProtobufDecodeError,
    TFRecordError,
    crc32c,
    encode_example,
    encode_sequence_example,
    index_tfrecord,
    index_tfrecord_prefix,
    iter_tfrecord,
    masked_crc32c,
    parse_example,
    parse_sequence_example,
    read_tfrecord_record,
    write_tfrecord,
)

__all__ = [
    "FeatureValue",
    "ProtobufDecodeError",
    "TFRecordError",
    "YouTube8MDataset",
    "crc32c",
    "dequantize",
    "encode_example",
    "encode_sequence_example",
    "index_tfrecord",
    "iter_tfrecord",
    "masked_crc32c",
    "parse_example",
    "parse_sequence_example",
    "read_tfrecord_record",
    "write_tfrecord",
]

logger = logging.getLogger(__name__)


def dequantize(
    values: np.ndarray, max_quantized_value: float = 2.0, min_quantized_value: float = -2.0
) -> np.ndarray:
    """uint8 codes -> float32, the official starter code's ``Dequantize``:
    ``x * (max - min) / 255 + (max - min) / 512 + min``."""
    if not max_quantized_value > min_quantized_value:
        raise ValueError(f"max_quantized_value {max_quantized_value} must exceed {min_quantized_value}")
    quantized_range = max_quantized_value - min_quantized_value
    scalar = quantized_range / 255.0
    bias = quantized_range / 512.0 + min_quantized_value
    return (values.astype(np.float32) * np.float32(scalar) + np.float32(bias)).astype(np.float32)


# ---------------------------------------------------------------------------------------------------
# The dataset
# ---------------------------------------------------------------------------------------------------

#: Feature name -> (video-level key, frame-level key, dimension) in the released files.
YOUTUBE8M_FEATURES: dict[str, tuple[str, str, int]] = {
    "rgb": ("mean_rgb", "rgb", 1024),
    "audio": ("mean_audio", "audio", 128),
}


def _resolve_files(files: str | os.PathLike[str] | Sequence[str | os.PathLike[str]]) -> list[Path]:
    """Expand a file, a directory (its ``*.tfrecord``) or a glob pattern into a sorted file list."""
    items = [files] if isinstance(files, (str, os.PathLike)) else list(files)
    paths: list[Path] = []
    for item in items:
        text = os.fspath(item)
        if Path(text).is_dir():
            found = sorted(Path(text).glob("*.tfrecord"))
            if not found:
                raise FileNotFoundError(f"no *.tfrecord files in directory {text}")
            paths.extend(found)
        elif glob.has_magic(text):
            found = sorted(Path(p) for p in glob.glob(text))
            if not found:
                raise FileNotFoundError(f"no files match {text}")
            paths.extend(found)
        elif Path(text).is_file():
            paths.append(Path(text))
        else:
            raise FileNotFoundError(f"YouTube-8M file not found: {text}")
    if not paths:
        raise ValueError("YouTube8MDataset needs at least one TFRecord file")
    return paths


class YouTube8MDataset(Dataset):
    """YouTube-8M video- or frame-level features with multi-hot labels, random access by index.

    ``files``: TFRecord paths, a directory or a glob (``"train*.tfrecord"``). Construction reads every
    record header once (checking length CRCs) to build an offset index; items are decoded on demand.

    Item ``i`` is ``(features, labels, info)``:

    - ``level="video"``: ``features`` float32 ``(D,)``, the chosen features concatenated
      (``mean_rgb`` then ``mean_audio``: ``D = 1152``);
    - ``level="frame"``: float32 ``(max_frames, D)``, dequantised per-second features truncated to
      ``max_frames`` and zero-padded up to it (``pad_frames=False`` keeps ``(num_frames, D)``);
    - ``labels``: float32 multi-hot ``(num_classes,)`` (all zeros for the unlabelled test split);
    - ``info``: ``{"id": str, "num_frames": int (frame level), "file": str, "record": int,
      "skipped": int}``.

    ``on_error="skip"`` logs a corrupt record and replaces it by the next good one (``info["skipped"]``
    counts the records passed over for this item; ``num_skipped`` counts them in this process), and
    keeps the records before a truncated or corrupt file tail; ``"raise"`` stops with the file and
    byte offset.
    """

    def __init__(
        self,
        files: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
        level: str = "video",
        num_classes: int = 3862,
        max_frames: int = 300,
        *,
        features: Sequence[str] = ("rgb", "audio"),
        pad_frames: bool = True,
        verify_crc: bool = True,
        on_error: str = "raise",
        max_quantized_value: float = 2.0,
        min_quantized_value: float = -2.0,
    ) -> None:
        if level not in ("video", "frame"):
            raise ValueError(f"level must be 'video' or 'frame', got {level!r}")
        if on_error not in ("raise", "skip"):
            raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
        unknown = [f for f in features if f not in YOUTUBE8M_FEATURES]
        if unknown or not features:
            raise ValueError(f"features must be chosen from {sorted(YOUTUBE8M_FEATURES)}, got {features!r}")
        if num_classes < 1 or max_frames < 1:
            raise ValueError(f"num_classes and max_frames must be positive, got {num_classes}, {max_frames}")
        self.level = level
        self.num_classes = int(num_classes)
        self.max_frames = int(max_frames)
        self.features = tuple(features)
        self.pad_frames = pad_frames
        self.verify_crc = verify_crc
        self.on_error = on_error
        self.quantized_range = (float(max_quantized_value), float(min_quantized_value))
        self.feature_dim = sum(YOUTUBE8M_FEATURES[f][2] for f in self.features)
        self.num_skipped = 0
        self.files = _resolve_files(files)
        file_ids, offsets, lengths = [], [], []
        for file_id, path in enumerate(self.files):
            try:
                entries = index_tfrecord(path)
            except TFRecordError as error:
                if on_error == "raise":
                    raise
                entries = index_tfrecord_prefix(path)
                logger.warning("skipping the unreadable tail of %s: %s", path, error)
                self.num_skipped += 1
            file_ids += [file_id] * len(entries)
            offsets += [e[0] for e in entries]
            lengths += [e[1] for e in entries]
        self._file_ids = np.asarray(file_ids, dtype=np.int32)
        self._offsets = np.asarray(offsets, dtype=np.int64)
        self._lengths = np.asarray(lengths, dtype=np.int64)

    def __len__(self) -> int:
        return len(self._offsets)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor, dict[str, Any]]:
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} records")
        index %= len(self)
        attempts = 1 if self.on_error == "raise" else min(len(self), 16)
        for step in range(attempts):
            current = (index + step) % len(self)
            try:
                features, labels, info = self._load(current)
                info["skipped"] = step
                return features, labels, info
            except (TFRecordError, ProtobufDecodeError, ValueError) as error:
                if self.on_error == "raise":
                    raise
                logger.warning("skipping record %d: %s", current, error)
                self.num_skipped += 1
        raise RuntimeError(f"{attempts} consecutive YouTube-8M records from index {index} failed to load")

    def location(self, index: int) -> tuple[Path, int]:
        """The file and byte offset of record ``index``."""
        return self.files[self._file_ids[index]], int(self._offsets[index])

    def _load(self, index: int) -> tuple[torch.Tensor, torch.Tensor, dict[str, Any]]:
        path, offset = self.location(index)
        data = read_tfrecord_record(path, offset, int(self._lengths[index]), verify=self.verify_crc)
        where = f"{path}: record {index} at byte offset {offset}"
        try:
            if self.level == "video":
                context = parse_example(data)
                features, extra = self._video_features(context), {}
            else:
                context, lists = parse_sequence_example(data)
                features, extra = self._frame_features(lists)
            labels = self._multi_hot(context.get("labels", np.zeros(0, dtype=np.int64)))
        except ValueError as error:
            raise type(error)(f"{where}: {error}") from error
        raw_id = context.get("id", [])
        video_id = raw_id[0].decode("utf-8", "replace") if isinstance(raw_id, list) and raw_id else ""
        info = {"id": video_id, **extra, "file": str(path), "record": index}
        return torch.from_numpy(features), torch.from_numpy(labels), info

    def _video_features(self, example: dict[str, FeatureValue]) -> np.ndarray:
        parts = []
        for name in self.features:
            key, _, dim = YOUTUBE8M_FEATURES[name]
            value = example.get(key)
            if not isinstance(value, np.ndarray) or value.dtype != np.float32 or value.shape != (dim,):
                found = "missing" if value is None else f"{getattr(value, 'shape', len(value))}"
                raise ProtobufDecodeError(
                    f"video-level feature {key!r} should be {dim} floats, got {found}; "
                    f"record has {sorted(example)} (is it a frame-level file? use level='frame')"
                )
            parts.append(value)
        return np.concatenate(parts)

    def _frame_features(self, lists: dict[str, list[FeatureValue]]) -> tuple[np.ndarray, dict[str, Any]]:
        matrices = []
        for name in self.features:
            _, key, dim = YOUTUBE8M_FEATURES[name]
            steps = lists.get(key)
            if steps is None:
                raise ProtobufDecodeError(
                    f"frame-level feature list {key!r} is missing; record has {sorted(lists)} "
                    "(is it a video-level file? use level='video')"
                )
            codes = b"".join(step[0] for step in steps[: self.max_frames] if isinstance(step, list) and step)
            if len(codes) != dim * min(len(steps), self.max_frames):
                raise ProtobufDecodeError(
                    f"frame-level feature {key!r} entries are not one {dim}-byte string each"
                )
            matrices.append(np.frombuffer(codes, dtype=np.uint8).reshape(-1, dim))
        num_frames = min(m.shape[0] for m in matrices)
        stacked = np.concatenate([m[:num_frames] for m in matrices], axis=1)
        features = dequantize(stacked, *self.quantized_range)
        if self.pad_frames and num_frames < self.max_frames:
            padded = np.zeros((self.max_frames, self.feature_dim), dtype=np.float32)
            padded[:num_frames] = features
            features = padded
        return features, {"num_frames": num_frames}

    def _multi_hot(self, labels: FeatureValue) -> np.ndarray:
        labels = np.asarray(labels, dtype=np.int64)
        bad = labels[(labels < 0) | (labels >= self.num_classes)]
        if bad.size:
            raise ValueError(f"label {int(bad[0])} is outside [0, num_classes={self.num_classes})")
        target = np.zeros(self.num_classes, dtype=np.float32)
        target[labels] = 1.0
        return target
