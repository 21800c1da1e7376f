"""Kinetics-400, -600 and -700 from the official CSV annotations.

Kay et al., "The Kinetics Human Action Video Dataset", arXiv:1705.06950, 2017; Carreira et al.,
"A Short Note about Kinetics-600" (2018) and "... Kinetics-700" (2019).

The CSV columns are ``label,youtube_id,time_start,time_end,split[,is_cc]`` (some test CSVs have no
``label``: those items get label -1). A clip is the file ``<youtube_id>_<start:06d>_<end:06d>.<ext>``
found anywhere under ``root/<split>/`` (or ``root/`` when there is no split folder), which covers the
usual layouts: ``root/<split>/<label>/<clip>.mp4`` (with or without underscores in the label folder)
and the flat ``root/<split>/<clip>.mp4``. The folder is scanned once, so lookups cost nothing per row.

Class lists (index = label, alphabetical, as DeepMind I3D and MMAction2 checkpoints use) ship in
``labels/label_map_k{400,600,700}.txt`` (Apache-2.0, see its README); :func:`kinetics_classes`.
"""

from __future__ import annotations

import csv
import os
from importlib import resources
from pathlib import Path
from typing import Any

from vidlearn.recognition.datasets.annotations import AnnotationError, VideoSample
from vidlearn.recognition.datasets.base import VideoClipDataset

__all__ = ["VIDEO_EXTENSIONS", "Kinetics", "kinetics_classes", "scan_videos"]

VIDEO_EXTENSIONS = (".mp4", ".mkv", ".webm", ".avi", ".mov", ".m4v", ".flv", ".mpg", ".mpeg")
_SPLIT_NAMES = {"train": ("train",), "val": ("val", "validate", "valid"), "test": ("test",)}


def kinetics_classes(num_classes: int = 400) -> list[str]:
    """The Kinetics-``num_classes`` class names (400, 600 or 700), index = label."""
    if num_classes not in (400, 600, 700):
        raise ValueError(f"Kinetics num_classes must be 400, 600 or 700, got {num_classes!r}")
    text = (
        resources.files("vidlearn.recognition.datasets")
        .joinpath(f"labels/label_map_k{num_classes}.txt")
        .read_text(encoding="utf-8")
    )
    return [line.strip() for line in text.splitlines() if line.strip()]


def scan_videos(folder: str | Path, extensions: tuple[str, ...] = VIDEO_EXTENSIONS) -> dict[str, str]:
    """``{file stem: path}`` of every video under ``folder`` (recursive; the first one wins a clash)."""
    found: dict[str, str] = {}
    for directory, subdirs, files in os.walk(folder):
        subdirs.sort()
        for name in sorted(files):
            stem, ext = os.path.splitext(name)
            if ext.lower() in extensions and stem not in found:
                found[stem] = os.path.join(directory, name)
    return found


def _time(text: str, line: str, file: Path, number: int, column: str) -> int:
    try:
        return int(float(text))
    except ValueError:
        raise AnnotationError(file, number, line, f"malformed {column} {text!r} (expected seconds)") from None


class Kinetics(VideoClipDataset):
    """Kinetics clips of ``split`` (``"train"``, ``"val"`` or ``"test"``) listed in ``annotation_csv``.

    ``num_classes`` picks the shipped class list (400, 600, 700); ``classes`` overrides it. A label
    not in the list fails with the CSV line. A clip listed but not found under ``root`` is missing:
    an error (``on_error="raise"``) or listed in ``self.missing`` (``"skip"``); Kinetics downloads
    routinely miss a few percent of clips, so ``"skip"`` is the usual choice. Other keyword
    arguments go to :class:`VideoClipDataset`.
    """

    def __init__(
        self,
        root: str | Path,
        annotation_csv: str | Path,
        split: str = "train",
        num_classes: int = 400,
        *,
        classes: list[str] | None = None,
        extensions: tuple[str, ...] = VIDEO_EXTENSIONS,
        **kwargs: Any,
    ) -> None:
        if split not in _SPLIT_NAMES:
            raise ValueError(f"Kinetics split must be one of {sorted(_SPLIT_NAMES)}, got {split!r}")
        classes = list(classes) if classes is not None else kinetics_classes(num_classes)
        self.split = split
        self.annotation_csv = Path(annotation_csv)
        root = Path(root)
        video_dir = next((root / name for name in _SPLIT_NAMES[split] if (root / name).is_dir()), root)
        on_disk = scan_videos(video_dir, extensions) if video_dir.is_dir() else {}
        samples = self._read_csv(root, video_dir, on_disk, classes)
        super().__init__(samples, classes, root=root, **kwargs)

    def _read_csv(
        self, root: Path, video_dir: Path, on_disk: dict[str, str], classes: list[str]
    ) -> list[VideoSample]:
        file = self.annotation_csv
        if not file.is_file():
            raise FileNotFoundError(f"Kinetics annotation file not found: {file}")
        class_ids = {name: label for label, name in enumerate(classes)}
        samples = []
        with open(file, encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            if header is None:
                raise AnnotationError(file, 1, "", "empty file (expected a header row)")
            columns = {name.strip(): position for position, name in enumerate(header)}
            for required in ("youtube_id", "time_start", "time_end"):
                if required not in columns:
                    raise AnnotationError(
                        file,
                        1,
                        ",".join(header),
                        f"header has no {required!r} column (expected label,youtube_id,time_start,time_end,split)",
                    )
            for row in reader:
                number = reader.line_num
                line = ",".join(row)
                if not line.strip():
                    continue
                if len(row) < len(header):
                    raise AnnotationError(
                        file, number, line, f"malformed line: {len(row)} fields, header has {len(header)}"
                    )
                if "split" in columns and row[columns["split"]].strip() not in _SPLIT_NAMES[self.split]:
                    continue
                if "label" in columns:
                    name = row[columns["label"]].strip()
                    if name not in class_ids:
                        raise AnnotationError(
                            file, number, line, f"unknown class {name!r} (not in the {len(classes)} classes)"
                        )
                    label = class_ids[name]
                else:
                    label = -1
                youtube_id = row[columns["youtube_id"]].strip()
                start = _time(row[columns["time_start"]], line, file, number, "time_start")
                end = _time(row[columns["time_end"]], line, file, number, "time_end")
                stem = f"{youtube_id}_{start:06d}_{end:06d}"
                path = on_disk.get(stem)
                if path is None:  # reported as missing, where a label folder would put it
                    folder = video_dir / (classes[label] if label >= 0 else "")
                    path = str(folder / f"{stem}.mp4")
                samples.append(
                    VideoSample(
                        path=path,
                        label=label,
                        key=os.path.relpath(path, root),
                        source=f"{file}:{number}: {line!r}",
                    )
                )
        return samples
