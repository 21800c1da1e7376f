"""Recognition annotation helpers: class lists. The generic line reader lives in :mod:`vidlearn.data`.

:class:`AnnotationError`, :class:`AnnotationLine`, :class:`VideoSample`, :func:`read_lines` and
:func:`resolve_missing` are re-exported from :mod:`vidlearn.data.annotations`, so every recognition
format reports a bad line the same way::

    trainlist01.txt:17: unknown class 'Skydiving' (not in classInd.txt): 'Skydiving/v_x.avi 102'
"""

from __future__ import annotations

from pathlib import Path

from vidlearn.data.annotations import (
    AnnotationError,
    AnnotationLine,
    VideoSample,
    read_lines,
    resolve_missing,
)

__all__ = [
    "AnnotationError",
    "AnnotationLine",
    "VideoSample",
    "read_class_names",
    "read_lines",
    "resolve_missing",
]


def read_class_names(file: str | Path) -> list[str]:
    """Class names, one per line (index = label), as in MMAction2's ``label_map_*.txt``.

    Trailing spaces are stripped; blank lines are an error (they would shift every later label).
    """
    file = Path(file)
    if not file.is_file():
        raise FileNotFoundError(f"class list not found: {file}")
    with open(file, encoding="utf-8-sig", newline=None) as handle:
        lines = handle.read().splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    names = []
    for number, line in enumerate(lines, 1):
        name = line.strip()
        if not name:
            raise AnnotationError(file, number, line, "blank line in a class list")
        names.append(name)
    duplicates = {name for name in names if names.count(name) > 1} if len(set(names)) != len(names) else set()
    if duplicates:
        raise AnnotationError(file, 0, "", f"duplicate class names {sorted(duplicates)}")
    return names
