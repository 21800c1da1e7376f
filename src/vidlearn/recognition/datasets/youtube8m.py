"""YouTube-8M features read straight from their TFRecord files, without TensorFlow.

YouTube-8M (Abu-El-Haija et al., "YouTube-8M: A Large-Scale Video Classification Benchmark", 2016)
ships precomputed features, not videos, as TFRecord files of protocol buffers:

- video level, one ``tf.train.Example`` per video: ``id`` (bytes), ``labels`` (int64 list),
  ``mean_rgb`` (1024 floats), ``mean_audio`` (128 floats);
- frame level, one ``tf.train.SequenceExample`` per video: context ``id`` and ``labels``, feature lists
  ``rgb`` and ``audio`` with one bytes entry per second holding 1024 / 128 uint8-quantised values,
  dequantised as in the official starter code: ``x * (max - min) / 255 + (max - min) / 512 + min``
  with ``max = 2`` and ``min = -2``.

This module holds a TFRecord reader and writer (CRC32C-checked framing), a minimal protobuf
wire-format codec for ``Example`` and ``SequenceExample``, and :class:`YouTube8MDataset`, which indexes
record offsets once and then reads any record by random access.
"""

from __future__ import annotations

import glob
import logging
import os
import struct
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

__all__ = [
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

#: A decoded ``tf.train.Feature``: int64 array, float32 array, or a list of byte strings.
FeatureValue = np.ndarray | list[bytes]

# ---------------------------------------------------------------------------------------------------
# CRC32C (Castagnoli), as TFRecord framing uses it
# ---------------------------------------------------------------------------------------------------


def _make_crc32c_table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
        table.append(crc)
    return table


_CRC32C_TABLE = _make_crc32c_table()


def _crc32c_python(data: bytes | memoryview) -> int:
    """Table-driven CRC32C, one byte at a time: the fallback when no compiled package is present."""
    crc = 0xFFFFFFFF
    table = _CRC32C_TABLE
    for byte in bytes(data):
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


try:  # google-crc32c (hardware-accelerated C) when installed; the pure-Python loop is ~100x slower
    import google_crc32c as _google_crc32c

    def crc32c(data: bytes | memoryview) -> int:
        """CRC32C checksum of ``data``."""
        return _google_crc32c.value(bytes(data))

except ImportError:  # pragma: no cover - depends on the environment
    crc32c = _crc32c_python


def masked_crc32c(data: bytes | memoryview) -> int:
    """TFRecord's masked CRC: ``rotate_right(crc32c, 15) + 0xa282ead8`` modulo 2**32."""
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


# ---------------------------------------------------------------------------------------------------
# TFRecord framing: uint64 length, uint32 masked crc(length), data, uint32 masked crc(data)
# ---------------------------------------------------------------------------------------------------

_HEADER = struct.Struct("<QI")
_FOOTER = struct.Struct("<I")


class TFRecordError(ValueError):
    """A TFRecord file is truncated or fails its checksums; the message names file and offset."""


def write_tfrecord(path: str | os.PathLike[str], records: Iterable[bytes]) -> int:
    """Write ``records`` (serialised protos) to a TFRecord file at ``path``; returns their count."""
    count = 0
    with open(path, "wb") as fh:
        for record in records:
            length = struct.pack("<Q", len(record))
            fh.write(length + struct.pack("<I", masked_crc32c(length)))
            fh.write(record)
            fh.write(struct.pack("<I", masked_crc32c(record)))
            count += 1
    return count


def index_tfrecord(path: str | os.PathLike[str]) -> list[tuple[int, int]]:
    """``(offset, length)`` of every record in a TFRecord file, read from the headers alone.

    Checks each length's CRC and that every record fits in the file; raises :class:`TFRecordError`
    naming the file and the record's byte offset otherwise.
    """
    entries: list[tuple[int, int]] = []
    size = os.path.getsize(path)
    with open(path, "rb") as fh:
        offset = 0
        while offset < size:
            header = fh.read(_HEADER.size)
            if len(header) < _HEADER.size:
                raise TFRecordError(
                    f"{path}: truncated record header at byte offset {offset} "
                    f"({len(header)} of {_HEADER.size} bytes)"
                )
            length, length_crc = _HEADER.unpack(header)
            if masked_crc32c(header[:8]) != length_crc:
                raise TFRecordError(f"{path}: corrupt record at byte offset {offset}: length CRC mismatch")
            end = offset + _HEADER.size + length + _FOOTER.size
            if end > size:
                raise TFRecordError(
                    f"{path}: truncated record at byte offset {offset}: it needs {length} data bytes "
                    f"and a 4-byte CRC, only {size - offset - _HEADER.size} bytes follow its header"
                )
            entries.append((offset, length))
            offset = end
            fh.seek(offset)
    return entries


def read_tfrecord_record(
    path: str | os.PathLike[str], offset: int, length: int, *, verify: bool = True, fh: Any = None
) -> bytes:
    """The data of the record at byte ``offset`` (from :func:`index_tfrecord`), CRC-checked."""
    if fh is None:
        with open(path, "rb") as own:
            return read_tfrecord_record(path, offset, length, verify=verify, fh=own)
    fh.seek(offset + _HEADER.size)
    chunk = fh.read(length + _FOOTER.size)
    if len(chunk) < length + _FOOTER.size:
        raise TFRecordError(f"{path}: truncated record at byte offset {offset}")
    data = chunk[:length]
    if verify and masked_crc32c(data) != _FOOTER.unpack(chunk[length:])[0]:
        raise TFRecordError(f"{path}: corrupt record at byte offset {offset}: data CRC mismatch")
    return data


def iter_tfrecord(path: str | os.PathLike[str], *, verify: bool = True) -> Iterator[bytes]:
    """Every record of a TFRecord file, in order."""
    with open(path, "rb") as fh:
        for offset, length in index_tfrecord(path):
            yield read_tfrecord_record(path, offset, length, verify=verify, fh=fh)


# ---------------------------------------------------------------------------------------------------
# Protobuf wire format for tf.train.Example / SequenceExample (tensorflow/core/example/*.proto):
#   Example { Features features = 1; }           SequenceExample { Features context = 1;
#   Features { map<string, Feature> feature = 1; }                  FeatureLists feature_lists = 2; }
#   Feature { oneof { BytesList bytes_list = 1; FloatList float_list = 2; Int64List int64_list = 3; } }
#   FeatureLists { map<string, FeatureList> feature_list = 1; }  FeatureList { repeated Feature feature = 1; }
# A map entry is a message with key = 1, value = 2. Lists are "value = 1", packed or not.
# ---------------------------------------------------------------------------------------------------

_VARINT, _FIXED64, _LENGTH_DELIMITED, _FIXED32 = 0, 1, 2, 5


class ProtobufDecodeError(ValueError):
    """Bytes that are not a well-formed Example / SequenceExample."""


def _read_varint(buf: memoryview, pos: int) -> tuple[int, int]:
    result = shift = 0
    end = len(buf)
    while True:
        if pos >= end:
            raise ProtobufDecodeError(f"truncated varint at byte {pos}")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift >= 70:
            raise ProtobufDecodeError(f"varint longer than 10 bytes at byte {pos}")


def _iter_fields(buf: memoryview) -> Iterator[tuple[int, int, Any]]:
    """``(field_number, wire_type, value)``: an int for varints and fixed, a memoryview for bytes."""
    pos, end = 0, len(buf)
    while pos < end:
        key, pos = _read_varint(buf, pos)
        field, wire = key >> 3, key & 7
        if wire == _VARINT:
            value, pos = _read_varint(buf, pos)
        elif wire == _LENGTH_DELIMITED:
            size, pos = _read_varint(buf, pos)
            if pos + size > end:
                raise ProtobufDecodeError(f"field {field} needs {size} bytes, {end - pos} left")
            value, pos = buf[pos : pos + size], pos + size
        elif wire in (_FIXED32, _FIXED64):
            width = 4 if wire == _FIXED32 else 8
            if pos + width > end:
                raise ProtobufDecodeError(f"truncated fixed-width field {field}")
            value, pos = buf[pos : pos + width], pos + width
        else:
            raise ProtobufDecodeError(f"unsupported wire type {wire} for field {field}")
        yield field, wire, value


def _to_int64(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def _parse_feature(buf: memoryview) -> FeatureValue:
    """One ``Feature``: int64 array, float32 array or list of bytes (an empty Feature gives ``[]``)."""
    result: FeatureValue = []
    for field, _, kind in _iter_fields(buf):
        if field == 1:  # BytesList
            result = [bytes(v) for f, w, v in _iter_fields(kind) if f == 1 and w == _LENGTH_DELIMITED]
        elif field == 2:  # FloatList: packed little-endian float32, or one fixed32 per value
            chunks = [bytes(v) for f, w, v in _iter_fields(kind) if f == 1]
            result = np.frombuffer(b"".join(chunks), dtype="<f4").astype(np.float32)
        elif field == 3:  # Int64List: packed varints, or one varint per value
            values: list[int] = []
            for f, wire, v in _iter_fields(kind):
                if f != 1:
                    continue
                if wire == _VARINT:
                    values.append(_to_int64(v))
                else:
                    pos = 0
                    while pos < len(v):
                        item, pos = _read_varint(v, pos)
                        values.append(_to_int64(item))
            result = np.array(values, dtype=np.int64)
    return result


def _parse_map_entry(buf: memoryview) -> tuple[str, memoryview]:
    key, value = "", memoryview(b"")
    for field, _, v in _iter_fields(buf):
        if field == 1:
            key = bytes(v).decode("utf-8")
        elif field == 2:
            value = v
    return key, value


def _parse_features(buf: memoryview) -> dict[str, FeatureValue]:
    return {
        key: _parse_feature(value)
        for key, value in (_parse_map_entry(v) for f, _, v in _iter_fields(buf) if f == 1)
    }


def parse_example(data: bytes | memoryview) -> dict[str, FeatureValue]:
    """Decode a serialised ``tf.train.Example`` into ``{name: value}``."""
    features: dict[str, FeatureValue] = {}
    for field, _, value in _iter_fields(memoryview(data)):
        if field == 1:
            features.update(_parse_features(value))
    return features


def parse_sequence_example(
    data: bytes | memoryview,
) -> tuple[dict[str, FeatureValue], dict[str, list[FeatureValue]]]:
    """Decode a serialised ``tf.train.SequenceExample`` into ``(context, feature_lists)``."""
    context: dict[str, FeatureValue] = {}
    feature_lists: dict[str, list[FeatureValue]] = {}
    for field, _, value in _iter_fields(memoryview(data)):
        if field == 1:
            context.update(_parse_features(value))
        elif field == 2:
            for f, _, entry in _iter_fields(value):
                if f == 1:
                    key, items = _parse_map_entry(entry)
                    feature_lists[key] = [_parse_feature(v) for g, _, v in _iter_fields(items) if g == 1]
    return context, feature_lists


def _varint(value: int) -> bytes:
    value &= (1 << 64) - 1  # negative int64 -> two's complement, ten bytes
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | _LENGTH_DELIMITED) + _varint(len(payload)) + payload


def _encode_feature(name: str, value: Any) -> bytes:
    if isinstance(value, (bytes, str)):
        value = [value]
    if isinstance(value, list) and all(isinstance(v, (bytes, str)) for v in value) and value:
        items = b"".join(_field(1, v.encode() if isinstance(v, str) else v) for v in value)
        return _field(1, items)
    array = np.asarray(value)
    if array.dtype.kind == "f":
        return _field(2, _field(1, array.astype("<f4").ravel().tobytes()))
    if array.dtype.kind in "iub" or array.size == 0:
        packed = b"".join(_varint(int(v)) for v in array.ravel())
        return _field(3, _field(1, packed))
    raise TypeError(f"feature {name!r}: cannot encode values of dtype {array.dtype}")


def _encode_features(features: Mapping[str, Any]) -> bytes:
    return b"".join(
        _field(1, _field(1, key.encode()) + _field(2, _encode_feature(key, value)))
        for key, value in features.items()
    )


def encode_example(features: Mapping[str, Any]) -> bytes:
    """Serialise ``{name: value}`` as a ``tf.train.Example``.

    Floats become a FloatList, integers an Int64List, bytes or str (or lists of them) a BytesList.
    """
    return _field(1, _encode_features(features))


def encode_sequence_example(context: Mapping[str, Any], feature_lists: Mapping[str, Sequence[Any]]) -> bytes:
    """Serialise a ``tf.train.SequenceExample`` from a context and ``{name: [value per step]}``."""
    lists = b"".join(
        _field(
            1,
            _field(1, key.encode()) + _field(2, b"".join(_field(1, _encode_feature(key, v)) for v in steps)),
        )
        for key, steps in feature_lists.items()
    )
    return _field(1, _encode_features(context)) + _field(2, lists)


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
                entries = self._index_prefix(path)
                logger.warning("skipping the unreadable tail of %s: %s", path, error)
                self.num_skipped += 1
            file_ids += [file_id] * len(entries)
            offsets += [e[0] for e in entries]
            lengths += [e[1] for e in entries]
        self._file_ids = np.asarray(file_ids, dtype=np.int32)
        self._offsets = np.asarray(offsets, dtype=np.int64)
        self._lengths = np.asarray(lengths, dtype=np.int64)

    @staticmethod
    def _index_prefix(path: Path) -> list[tuple[int, int]]:
        """The records before the first unreadable one (``on_error="skip"``)."""
        size = path.stat().st_size
        entries: list[tuple[int, int]] = []
        with open(path, "rb") as fh:
            offset = 0
            while offset + _HEADER.size <= size:
                header = fh.read(_HEADER.size)
                length, length_crc = _HEADER.unpack(header)
                end = offset + _HEADER.size + length + _FOOTER.size
                if masked_crc32c(header[:8]) != length_crc or end > size:
                    break
                entries.append((offset, length))
                offset = end
                fh.seek(offset)
        return entries

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
