"""Sports-1M: about a million YouTube videos with 487 sports labels, several per video.

Karpathy et al., "Large-scale Video Classification with Convolutional Neural Networks", CVPR 2014.
Two annotation forms are read:

- the JSON of the project page (``sports1m_train.json``, ``sports1m_test.json``): a list of entries
  with ``id`` (YouTube id), ``url`` and ``label487`` (a list of class indices 0..486);
- the text partitions of github.com/gtoderici/sports-1m-dataset (``train_partition.txt``): lines
  ``<url> <comma-separated label indices>``.

Labels are multi-hot ``float32 (487,)``. Videos are files named by YouTube id (``<id>.mp4`` or any
video extension) anywhere under ``root`` (the folder is scanned once). Class names come from the
project's ``labels.txt`` when given (``class_file``), else they are ``"0" .. "486"``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

from vidlearn.recognition.datasets.annotations import (
    AnnotationError,
    VideoSample,
    read_class_names,
    read_lines,
)
from vidlearn.recognition.datasets.base import VideoClipDataset
from vidlearn.recognition.datasets.kinetics import VIDEO_EXTENSIONS, scan_videos

__all__ = ["NUM_SPORTS1M_CLASSES", "Sports1M", "youtube_id_from_url"]

NUM_SPORTS1M_CLASSES = 487


def youtube_id_from_url(url: str) -> str | None:
    """The video id of a YouTube URL (``watch?v=ID`` or ``youtu.be/ID``); ``None`` when absent."""
    parsed = urlparse(url)
    if parsed.netloc.endswith("youtu.be"):
        return parsed.path.strip("/") or None
    values = parse_qs(parsed.query).get("v")
    return values[0] if values else None


def _labels(values: Any, where: str, num_classes: int) -> tuple[int, ...] | str:
    """Label indices, or an error text."""
    if isinstance(values, int) and not isinstance(values, bool):
        values = [values]
    if not isinstance(values, list) or not values:
        return "label487 must be a non-empty list of class indices"
    for value in values:
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < num_classes:
            return f"unknown class {value!r} (classes are 0..{num_classes - 1})"
    return tuple(sorted(set(values)))


class Sports1M(VideoClipDataset):
    """Sports-1M videos of one annotation file (multi-label, 487 classes).

    ``annotation_json`` is a JSON or partition file, or a folder holding ``sports1m_<split>.json``
    (``split`` = ``"train"`` or ``"test"``). Bad entries fail with the file and the entry (JSON:
    the 1-based entry number in place of a line number). Other keyword arguments go to
    :class:`VideoClipDataset`; ``multi_label`` is always on.
    """

    def __init__(
        self,
        root: str | Path,
        annotation_json: str | Path,
        split: str = "train",
        *,
        class_file: str | Path | None = None,
        extensions: tuple[str, ...] = VIDEO_EXTENSIONS,
        **kwargs: Any,
    ) -> None:
        annotation = Path(annotation_json)
        if annotation.is_dir():
            annotation = annotation / f"sports1m_{split}.json"
        if not annotation.is_file():
            raise FileNotFoundError(f"Sports-1M annotation file not found: {annotation}")
        classes = (
            read_class_names(class_file)
            if class_file is not None
            else [str(index) for index in range(NUM_SPORTS1M_CLASSES)]
        )
        if len(classes) != NUM_SPORTS1M_CLASSES:
            raise AnnotationError(class_file or "", 0, "", f"{len(classes)} class names, Sports-1M has 487")
        self.split = split
        self.annotation_file = annotation
        on_disk = scan_videos(root, extensions) if Path(root).is_dir() else {}
        entries = (
            self._read_json(annotation) if annotation.suffix == ".json" else self._read_partition(annotation)
        )
        samples = []
        for youtube_id, labels, source in entries:
            path = on_disk.get(youtube_id) or os.path.join(root, f"{youtube_id}.mp4")
            samples.append(
                VideoSample(path=path, label=labels, key=os.path.relpath(path, root), source=source)
            )
        kwargs["multi_label"] = True
        super().__init__(samples, classes, root=root, **kwargs)

    @staticmethod
    def _read_json(file: Path) -> list[tuple[str, tuple[int, ...], str]]:
        try:
            with open(file, encoding="utf-8") as handle:
                data = json.load(handle)
        except json.JSONDecodeError as error:
            raise AnnotationError(file, error.lineno, "", f"invalid JSON: {error.msg}") from None
        if isinstance(data, dict):  # {"<id>": {...}} form: the key is the id
            data = [{"id": key, **value} if isinstance(value, dict) else value for key, value in data.items()]
        if not isinstance(data, list):
            raise AnnotationError(file, 0, "", "expected a JSON list of entries")
        entries = []
        for number, entry in enumerate(data, 1):
            text = json.dumps(entry)[:200]
            if not isinstance(entry, dict):
                raise AnnotationError(file, number, text, "malformed entry (expected an object)")
            youtube_id = entry.get("id") or youtube_id_from_url(str(entry.get("url", "")))
            if not youtube_id:
                raise AnnotationError(file, number, text, "malformed entry: no 'id' and no YouTube 'url'")
            if "label487" not in entry:
                raise AnnotationError(file, number, text, "malformed entry: no 'label487'")
            labels = _labels(entry["label487"], text, NUM_SPORTS1M_CLASSES)
            if isinstance(labels, str):
                raise AnnotationError(file, number, text, labels)
            entries.append((str(youtube_id), labels, f"{file} entry {number}: {text!r}"))
        return entries

    @staticmethod
    def _read_partition(file: Path) -> list[tuple[str, tuple[int, ...], str]]:
        entries = []
        for line in read_lines(file):
            if len(line.fields) != 2:
                raise line.error("malformed line (expected '<url> <label>[,<label>...]')")
            youtube_id = youtube_id_from_url(line.fields[0])
            if not youtube_id:
                raise line.error("malformed line: not a YouTube URL")
            try:
                values = [int(text) for text in line.fields[1].split(",")]
            except ValueError:
                raise line.error("malformed labels (expected comma-separated integers)") from None
            labels = _labels(values, line.text, NUM_SPORTS1M_CLASSES)
            if isinstance(labels, str):
                raise line.error(labels)
            entries.append((youtube_id, labels, f"{line.file}:{line.number}: {line.text!r}"))
        return entries
