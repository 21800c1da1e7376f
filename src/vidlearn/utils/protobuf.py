"""A small reader of the protobuf wire format, for files read without their framework's generated classes.

TensorFlow's ``tf.train.Example`` records, Caffe's ``.caffemodel`` and ONNX's ``.onnx`` are protobuf messages
whose content sits in a few known fields; walking the wire format (varints, fixed 32/64-bit values,
length-delimited fields) reads them with no protobuf package. See
https://protobuf.dev/programming-guides/encoding/. Malformed bytes raise :class:`ProtobufDecodeError`
(a ``ValueError``) naming the byte offset.
"""

from __future__ import annotations

from collections.abc import Iterator

__all__ = ["FIXED32", "FIXED64", "LENGTH_DELIMITED", "VARINT", "ProtobufDecodeError", "fields", "packed_ints",
           "varint"]

VARINT, FIXED64, LENGTH_DELIMITED, FIXED32 = 0, 1, 2, 5


class ProtobufDecodeError(ValueError):
    """Bytes that are not a well-formed protobuf message."""


def varint(data: memoryview, position: int) -> tuple[int, int]:
    """The base-128 varint at ``position`` -> ``(value, position after it)``."""
    result = shift = 0
    end = len(data)
    while True:
        if position >= end:
            raise ProtobufDecodeError(f"truncated varint at byte {position}")
        byte = data[position]
        position += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, position
        shift += 7
        if shift >= 70:
            raise ProtobufDecodeError(f"varint longer than 10 bytes at byte {position}")


def fields(data: memoryview) -> Iterator[tuple[int, int, object]]:
    """``(field number, wire type, value)`` of one message: ints for varints, memoryviews for the rest."""
    position, end = 0, len(data)
    while position < end:
        key, position = varint(data, position)
        number, wire = key >> 3, key & 7
        if wire == VARINT:
            value, position = varint(data, position)
        elif wire == LENGTH_DELIMITED:
            size, position = varint(data, position)
            if position + size > end:
                raise ProtobufDecodeError(f"field {number} needs {size} bytes, {end - position} left")
            value, position = data[position:position + size], position + size
        elif wire in (FIXED32, FIXED64):
            width = 4 if wire == FIXED32 else 8
            if position + width > end:
                raise ProtobufDecodeError(f"truncated fixed-width field {number}")
            value, position = data[position:position + width], position + width
        else:
            raise ProtobufDecodeError(f"unsupported protobuf wire type {wire} (field {number}) at byte {position}")
        yield number, wire, value


def packed_ints(value: object, wire: int) -> list[int]:
    """A repeated integer field's value: one varint (``wire`` 0) or a packed run of them (``wire`` 2)."""
    if wire == VARINT:
        return [int(value)]  # type: ignore[arg-type]
    view, out, position = value, [], 0  # type: ignore[assignment]
    while position < len(view):  # type: ignore[arg-type]
        number, position = varint(view, position)  # type: ignore[arg-type]
        out.append(number)
    return out
