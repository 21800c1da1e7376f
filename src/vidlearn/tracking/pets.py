"""PETS 2009 ground truth in the CVML XML format (boxes by A. Milan), e.g. ``PETS2009-S2L1.xml``.

::

    <dataset><frame number="0"><objectlist>
      <object id="9"><box h="75.17" w="31.03" xc="514.7" yc="195.3"/></object> ...

Frames are numbered from 0 and boxes are centre / width / height in pixels. S2L1 is the sequence MOT15
ships as PETS09-S2L1 (795 frames). :func:`read_pets_xml` returns MOTChallenge rows: frame + 1, the file's
ids, 1-based ``x, y, w, h`` (the box's top-left corner ``xc - w/2`` is a 0-based pixel position), consider
flag 1, class 1 (pedestrian). No PETS 2017 ground truth is public.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import numpy as np

from .boxes import xyxy_to_mot
from .formats import MotFormatError, MotRows

__all__ = ["read_pets_xml"]


def read_pets_xml(path: str | os.PathLike) -> MotRows:
    """Read a CVML ground-truth file; a malformed element raises :class:`MotFormatError` naming it."""
    path = Path(path)
    try:
        root = ElementTree.parse(path).getroot()
    except ElementTree.ParseError as error:
        line, column = error.position
        raise MotFormatError(f"{path}:{line}: XML error at column {column}: {error}") from error
    except OSError as error:
        raise MotFormatError(f"{path}: cannot read: {error}") from error
    frames, ids, values = [], [], []
    for frame in root.iter("frame"):
        number = frame.get("number")
        for obj in frame.iter("object"):
            box = obj.find("box")
            try:
                if box is None:
                    raise ValueError("no <box>")
                frames.append(int(number))  # type: ignore[arg-type]
                ids.append(int(obj.get("id")))  # type: ignore[arg-type]
                values.append([float(box.get(key)) for key in ("xc", "yc", "w", "h")])  # type: ignore[arg-type]
            except (TypeError, ValueError) as error:
                raise MotFormatError(
                    f"{path}: frame {number!r}, object {obj.get('id')!r}: bad or missing number "
                    f"({error}): {ElementTree.tostring(obj, encoding='unicode').strip()!r}"
                ) from None
    centre_size = np.array(values, dtype=np.float64).reshape(-1, 4)
    if (centre_size[:, 2:] < 0).any():
        i = int(np.argmax((centre_size[:, 2:] < 0).any(axis=1)))
        raise MotFormatError(f"{path}: frame {frames[i]}, object {ids[i]}: negative width or height")
    half = centre_size[:, 2:] / 2.0
    xyxy = np.concatenate([centre_size[:, :2] - half, centre_size[:, :2] + half], axis=1)
    count = len(frames)
    return MotRows(
        frames=np.asarray(frames, dtype=np.int64) + 1, ids=np.asarray(ids, dtype=np.int64),
        boxes=xyxy_to_mot(xyxy), scores=np.ones(count), classes=np.ones(count, dtype=np.int64),
        visibility=np.ones(count),
    )
