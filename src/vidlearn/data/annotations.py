"""Reading annotation files line by line, with errors that point at the file, the line and its text.

Every dataset format (recognition split files, MOTChallenge sequence lists, super-resolution frame
lists) parses its text files through :func:`read_lines` and reports a bad line with
:class:`AnnotationError`, so a user always sees *where* the problem is (DESIGN.md, "Bad input and
faults")::

    trainlist01.txt:17: unknown class 'Skydiving' (not in classInd.txt): 'Skydiving/v_x.avi 102'

:class:`VideoSample` is one item of any video dataset: a file or frame folder, where it was listed,
and an optional ``label`` whose meaning the task gives (a class index for recognition; ``None`` for
a super-resolution or tracking sequence).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "AnnotationError",
    "AnnotationLine",
    "VideoSample",
    "read_lines",
    "resolve_missing",
]

logger = logging.getLogger(__name__)


class AnnotationError(ValueError):
    """A split, list or annotation file that cannot be used as it is.

    ``file`` is the annotation file, ``line_number`` the 1-based line (0 when the problem is the file
    as a whole, or an entry index for JSON files), ``line`` the offending text and ``reason`` the
    cause. ``str(error)`` is ``"<file>:<line_number>: <reason>: '<line>'"``.
    """

    def __init__(self, file: str | Path, line_number: int, line: str, reason: str) -> None:
        self.file = str(file)
        self.line_number = line_number
        self.line = line
        self.reason = reason
        where = f"{self.file}:{line_number}" if line_number else self.file
        text = f"{where}: {reason}"
        if line:
            text += f": {line!r}"
        super().__init__(text)

    def __reduce__(self):  # picklable across worker processes
        return (type(self), (self.file, self.line_number, self.line, self.reason))


@dataclass(frozen=True)
class AnnotationLine:
    """One non-blank line of an annotation file: where it is and its whitespace-split fields."""

    file: Path
    number: int
    text: str
    fields: tuple[str, ...]

    def error(self, reason: str) -> AnnotationError:
        """An :class:`AnnotationError` for this line."""
        return AnnotationError(self.file, self.number, self.text, reason)


@dataclass
class VideoSample:
    """One item of a video dataset.

    ``path`` is the video file (or, for frame folders, the directory); ``key`` the path as written in
    the annotation (relative to the dataset root; it also names the flow folder of the video);
    ``label`` is the task's target for the item: for recognition an int, or a tuple of ints for
    multi-label data (-1: unlabelled); ``None`` where the task has none (super-resolution, tracking).
    ``num_frames`` and ``fps`` are filled from a metadata index or a frame list when known, else
    ``None``. ``source`` says where the sample came from (``"file:line"``) for error messages.
    """

    path: str
    label: Any = None
    key: str = ""
    num_frames: int | None = None
    fps: float | None = None
    source: str = ""


def read_lines(file: str | Path) -> Iterator[AnnotationLine]:
    """Yield the non-blank lines of a text annotation file, with 1-based line numbers.

    Handles CRLF line endings (the UCF-101 originals), a UTF-8 byte-order mark and trailing spaces
    (HMDB51's split files). A missing file raises ``FileNotFoundError`` naming it.
    """
    file = Path(file)
    if not file.is_file():
        raise FileNotFoundError(f"annotation file not found: {file}")
    with open(file, encoding="utf-8-sig", newline=None) as handle:
        for number, raw in enumerate(handle, 1):
            text = raw.strip()
            if text:
                yield AnnotationLine(file, number, text, tuple(text.split()))


def resolve_missing(
    samples: Sequence[VideoSample], *, on_error: str, check_exists: bool = True
) -> tuple[list[VideoSample], list[str]]:
    """Split ``samples`` into those whose file exists and the paths of those that do not.

    With ``on_error="raise"`` the first missing file raises ``FileNotFoundError`` naming the file and
    the annotation line it came from; with ``"skip"`` the missing ones are returned (and logged).
    """
    if not check_exists:
        return list(samples), []
    present: list[VideoSample] = []
    missing: list[str] = []
    for sample in samples:
        if os.path.exists(sample.path):
            present.append(sample)
        elif on_error == "raise":
            raise FileNotFoundError(f"video not found: {sample.path} (listed at {sample.source})")
        else:
            missing.append(sample.path)
    if missing:
        logger.warning(
            "%d of %d videos are missing (skipped), e.g. %s", len(missing), len(samples), missing[0]
        )
    return present, missing
