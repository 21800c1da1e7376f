"""A small reader of the protobuf wire format, for weight files read without their framework.

Caffe's ``.caffemodel`` and ONNX's ``.onnx`` are single protobuf messages whose weights sit in a few known
fields; walking the wire format (varints, fixed 32/64-bit values, length-delimited fields) reads them with
no generated classes and no protobuf package. See https://protobuf.dev/programming-guides/encoding/.
"""

from __future__ import annotations

from collections.abc import Iterator

__all__ = ["fields", "packed_ints", "varint"]


def varint(data: memoryview, position: int) -> tuple[int, int]:
    """The base-128 varint at ``position`` -> ``(value, position after it)``."""
    result = shift = 0
    while True:
        byte = data[position]
        position += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, position
        shift += 7


def fields(data: memoryview) -> Iterator[tuple[int, int, object]]:
    """``(field number, wire type, value)`` of one message: ints for varints, memoryviews for the rest."""
    position, end = 0, len(data)
    while position < end:
        key, position = varint(data, position)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, position = varint(data, position)
        elif wire == 1:
            value, position = data[position:position + 8], position + 8
        elif wire == 2:
            length, position = varint(data, position)
            value, position = data[position:position + length], position + length
        elif wire == 5:
            value, position = data[position:position + 4], position + 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire} (field {number}) at byte {position}")
        if position > end:
            raise ValueError(f"field {number} runs past the end of its message ({end} bytes)")
        yield number, wire, value


def packed_ints(value: object, wire: int) -> list[int]:
    """A repeated integer field's value: one varint (``wire`` 0) or a packed run of them (``wire`` 2)."""
    if wire == 0:
        return [int(value)]  # type: ignore[arg-type]
    view, out, position = value, [], 0  # type: ignore[assignment]
    while position < len(view):  # type: ignore[arg-type]
        number, position = varint(view, position)  # type: ignore[arg-type]
        out.append(number)
    return out
