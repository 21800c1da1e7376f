"""TFRecord files and the protobuf messages YouTube-8M stores in them, without TensorFlow.

A TFRecord file is a sequence of records, each framed as ``length (uint64) | masked CRC32C of the
length | data | masked CRC32C of the data``. YouTube-8M's records are ``tf.train.Example`` (video
level) and ``tf.train.SequenceExample`` (frame level) protocol buffers. This module reads and writes
the framing (CRC-checked; random access through an offset index) and decodes and encodes those two
messages with a minimal protobuf wire-format codec, so no TensorFlow or protobuf package is needed.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from vidlearn.utils.protobuf import LENGTH_DELIMITED as _LENGTH_DELIMITED
from vidlearn.utils.protobuf import VARINT as _VARINT
from vidlearn.utils.protobuf import ProtobufDecodeError
from vidlearn.utils.protobuf import fields as _iter_fields
from vidlearn.utils.protobuf import varint as _read_varint

__all__ = [
    "FeatureValue",
    "ProtobufDecodeError",
    "TFRecordError",
    "crc32c",
    "encode_example",
    "encode_sequence_example",
    "index_tfrecord",
    "index_tfrecord_prefix",
    "iter_tfrecord",
    "masked_crc32c",
    "parse_example",
    "parse_sequence_example",
    "read_tfrecord_record",
    "write_tfrecord",
]

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


def index_tfrecord_prefix(path: str | os.PathLike[str]) -> list[tuple[int, int]]:
    """``(offset, length)`` of the records before the first unreadable one (a bad length CRC or a
    record cut by the end of the file): what can still be read from a damaged file."""
    size = os.path.getsize(path)
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

# The wire format itself (varints, fields, ProtobufDecodeError) is vidlearn.utils.protobuf's.


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
