"""Generic layouts: a folder per class, and MMAction2's video and rawframe list files.

- :class:`VideoFolder`: ``root/<class>/<video>`` (classes sorted by name, as torchvision's
  ``ImageFolder``).
- :class:`VideoListDataset`: MMAction2's ``VideoDataset`` list, ``<path> <label>`` per line, or
  ``<path> <l1> <l2> ...`` with ``multi_label=True``.
- :class:`RawframeDataset`: MMAction2's ``RawframeDataset`` list, ``<frame dir> <num_frames> <label>``;
  RGB frames ``img_00001.jpg``... and flow ``flow_x_00001.jpg`` / ``flow_y_00001.jpg`` (1-based).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from vidlearn.data.frames import FlowFrames, FrameSource, JpegFrames
from vidlearn.recognition.datasets.annotations import (
    AnnotationLine,
    VideoSample,
    read_class_names,
    read_lines,
)
from vidlearn.recognition.datasets.base import VideoClipDataset
from vidlearn.recognition.datasets.kinetics import VIDEO_EXTENSIONS

__all__ = ["RawframeDataset", "VideoFolder", "VideoListDataset", "read_labelled_list"]


def _class_list(classes: Sequence[str] | str | Path | None, labels: list[int]) -> list[str]:
    if classes is None:
        return [str(index) for index in range(max(labels, default=-1) + 1)]
    if isinstance(classes, (str, Path)):
        return read_class_names(classes)
    return list(classes)


def read_labelled_list(
    list_file: str | Path,
    leading: Sequence[str],
    *,
    multi_label: bool = False,
    num_classes: int | None = None,
    classes: Sequence[str] | str | Path | None = None,
) -> tuple[list[tuple[AnnotationLine, int | tuple[int, ...]]], list[str]]:
    """Read an MMAction2 list file whose lines are ``<leading fields> <label>``.

    ``leading`` names the fields before the label (``("<path>",)`` for a video list,
    ``("<frame dir>", "<num_frames>")`` for a rawframe list); with ``multi_label`` a line ends in
    one or more labels, ``<l1> <l2> ...``. ``classes`` (names, or a file of names, one per line) or
    ``num_classes`` bounds the labels; without either, labels must be non-negative and the class
    names are ``"0"``, ``"1"``, ... up to the largest label.

    Returns each line with its label (an int; a tuple of ints with ``multi_label``) and the class
    names. A line with the wrong number of fields, a label that is not an integer or one outside
    the classes raises :class:`AnnotationError` naming the file, the line number and the line.
    """
    names = _class_list(classes, []) if classes is not None else None
    if names is not None:
        num_classes = len(names)
    if multi_label and num_classes is None:
        raise ValueError("multi_label=True needs num_classes or classes")
    form = " ".join([*leading, "<label>", *(["[<label> ...]"] if multi_label else [])])
    entries: list[tuple[AnnotationLine, int | tuple[int, ...]]] = []
    seen: list[int] = []
    for line in read_lines(list_file):
        label_fields = line.fields[len(leading) :]
        if not label_fields or (not multi_label and len(label_fields) != 1):
            raise line.error(f"malformed line (expected '{form}')")
        labels = []
        for text in label_fields:
            if not text.lstrip("-").isdigit():
                raise line.error(f"malformed label {text!r} (expected an integer)")
            value = int(text)
            if value < 0 or (num_classes is not None and value >= num_classes):
                limit = f"0..{num_classes - 1}" if num_classes is not None else ">= 0"
                raise line.error(f"unknown class {value} (labels are {limit})")
            labels.append(value)
        seen.extend(labels)
        entries.append((line, tuple(labels) if multi_label else labels[0]))
    if names is None:
        names = _class_list(None, seen) if num_classes is None else [str(i) for i in range(num_classes)]
    return entries, names


class VideoFolder(VideoClipDataset):
    """Videos in a folder per class: ``root/<class>/<video>.<ext>``; classes sorted by name."""

    def __init__(
        self, root: str | Path, *, extensions: tuple[str, ...] = VIDEO_EXTENSIONS, **kwargs: Any
    ) -> None:
        root = Path(root)
        if not root.is_dir():
            raise FileNotFoundError(f"video folder not found: {root}")
        classes = sorted(
            entry.name for entry in os.scandir(root) if entry.is_dir() and not entry.name.startswith(".")
        )
        if not classes:
            raise FileNotFoundError(f"no class folders in {root}")
        samples = []
        for label, name in enumerate(classes):
            for directory, subdirs, files in os.walk(root / name):
                subdirs.sort()
                for file in sorted(files):
                    if os.path.splitext(file)[1].lower() in extensions:
                        path = os.path.join(directory, file)
                        samples.append(VideoSample(path, label, os.path.relpath(path, root), source=path))
        super().__init__(samples, classes, root=root, **kwargs)


class VideoListDataset(VideoClipDataset):
    """Videos listed in an MMAction2 list file ``<path> <label>`` (paths relative to ``root``).

    ``multi_label=True`` reads ``<path> <l1> <l2> ...`` and returns multi-hot labels; it needs
    ``num_classes`` or ``classes``. ``classes`` (names, or a file of names) bounds the labels;
    without it labels must be non-negative and the names are ``"0"``, ``"1"``, ...
    """

    def __init__(
        self,
        list_file: str | Path,
        root: str | Path,
        *,
        multi_label: bool = False,
        num_classes: int | None = None,
        classes: Sequence[str] | str | Path | None = None,
        **kwargs: Any,
    ) -> None:
        self.list_file = Path(list_file)
        entries, names = read_labelled_list(
            list_file, ("<path>",), multi_label=multi_label, num_classes=num_classes, classes=classes
        )
        samples = [
            VideoSample(
                path=str(Path(root) / line.fields[0]),
                label=label,
                key=line.fields[0],
                source=f"{line.file}:{line.number}: {line.text!r}",
            )
            for line, label in entries
        ]
        super().__init__(samples, names, root=root, multi_label=multi_label, **kwargs)


class RawframeDataset(VideoClipDataset):
    """Frame folders listed in an MMAction2 rawframe list ``<dir> <num_frames> <label>``.

    RGB frames are ``root/<dir>/<filename_tmpl.format(i)>`` with ``i`` from ``start_index`` (MMAction2:
    ``img_{:05d}.jpg`` from 1). ``modality="flow"`` reads ``flow_template`` x/y images from the same
    folder (``num_frames`` is then the number of flow fields). Labels as in
    :class:`VideoListDataset` (``multi_label`` reads ``<dir> <n> <l1> <l2> ...``).
    """

    def __init__(
        self,
        list_file: str | Path,
        root: str | Path,
        filename_tmpl: str = "img_{:05d}.jpg",
        *,
        start_index: int = 1,
        multi_label: bool = False,
        num_classes: int | None = None,
        classes: Sequence[str] | str | Path | None = None,
        **kwargs: Any,
    ) -> None:
        self.list_file = Path(list_file)
        self.filename_tmpl = filename_tmpl
        self.start_index = start_index
        entries, names = read_labelled_list(
            list_file,
            ("<frame dir>", "<num_frames>"),
            multi_label=multi_label,
            num_classes=num_classes,
            classes=classes,
        )
        samples = []
        for line, label in entries:
            if not line.fields[1].isdigit():
                raise line.error(f"malformed frame count {line.fields[1]!r} (expected an integer)")
            samples.append(
                VideoSample(
                    path=str(Path(root) / line.fields[0]),
                    label=label,
                    key=line.fields[0],
                    num_frames=int(line.fields[1]),
                    source=f"{line.file}:{line.number}: {line.text!r}",
                )
            )
        if kwargs.get("flow_root") is not None:
            raise ValueError("RawframeDataset reads flow from the frame folders listed; drop flow_root")
        super().__init__(samples, names, root=root, multi_label=multi_label, **kwargs)

    def _frames_are_folders(self) -> bool:
        return True

    def open(self, sample: VideoSample) -> FrameSource:
        if self.modality == "flow":
            return FlowFrames(sample.path, sample.num_frames, self.flow_template, self.flow_bound)
        return JpegFrames(sample.path, sample.num_frames or 0, self.filename_tmpl, self.start_index)
