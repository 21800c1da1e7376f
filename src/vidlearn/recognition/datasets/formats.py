"""One registry of the dataset formats a recipe's ``data.format`` names, for training, evaluation and
``vidlearn data check``.

An entry (:class:`DatasetFormat`) builds the training (``train=True``) or held-out part of a dataset
from a data section (a recipe's ``data``, or :class:`DataPaths` for callers without a recipe) and the
keyword arguments every :class:`~vidlearn.recognition.datasets.VideoClipDataset` takes (sampler,
transform, modality, size, on_error, seed, probe, ...). It also says what ``annotations`` and
``split`` mean for it, so a missing or wrong value is reported in the format's own terms::

    dataset = build_format_dataset(cfg.data, train=True, sampler=..., transform=...)

Formats: ``ucf101``, ``hmdb51``, ``kinetics``, ``sports1m``, ``folder``, ``list`` and ``synthetic``
(the built-in motion dataset, written to ``root`` first when it is absent). A new format is one
:func:`register_format` call.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from vidlearn.recognition.datasets.base import VideoClipDataset

__all__ = [
    "DataPaths",
    "DataSection",
    "DatasetFormat",
    "build_format_dataset",
    "format_names",
    "get_format",
    "register_format",
]


class DataSection(Protocol):
    """The attributes of a data section that the builders read (``DataConfig`` has them all)."""

    format: str
    root: str
    annotations: str
    split: int | str
    train_list: str
    val_list: str
    classes: str | None


@dataclass
class DataPaths:
    """A data section for callers without a recipe (``vidlearn data check``); fields as in ``DataConfig``."""

    format: str
    root: str
    annotations: str = ""
    split: int | str = 1
    train_list: str = "train.txt"
    val_list: str = "test.txt"
    classes: str | None = None


Builder = Callable[..., VideoClipDataset]


@dataclass(frozen=True)
class DatasetFormat:
    """One ``data.format``: how to build its parts and what its settings mean.

    ``builder(data, *, train, num_classes, **common)`` returns the part; ``annotations`` says what
    ``data.annotations`` names (empty when the format does not read it), ``split`` what
    ``data.split`` means (empty when unused), ``split_choices`` the accepted splits (as text) with
    ``default_split`` the one used when none is given, ``part_names`` the names of the training and
    the held-out part (titles, reports). Kinetics reads a named split (``"val"`` or ``"test"``) as
    the held-out part and ignores a number (a recipe's default ``split: 1``). ``checked_parts(data)``
    says which parts ``vidlearn data check`` reads (``[True, False]``: both), ``part_path(data,
    train)`` names the folder or file a part reads when that names it better than the part's name. ``prepare(data)`` (optional) makes the data before a build
    (the synthetic dataset writes its videos).
    """

    name: str
    builder: Builder
    annotations: str
    description: str
    split: str = ""
    split_choices: tuple[str, ...] = ()
    default_split: str = ""
    part_names: tuple[str, str] = ("train", "test")
    prepare: Callable[[Any], None] | None = None
    checked_parts: Callable[[DataSection], list[bool]] | None = None
    part_path: Callable[[DataSection, bool], str] | None = None

    @property
    def needs_annotations(self) -> bool:
        """Whether ``data.annotations`` must be set."""
        return bool(self.annotations) and not self.annotations.startswith("optional")

    def part_name(self, data: DataSection, train: bool) -> str:
        """The name of the part ``train`` selects (``"train"``, ``"test"``, ``"val"``)."""
        if train:
            return self.part_names[0]
        if self.split_choices and str(data.split) in self.split_choices and not str(data.split).isdigit():
            return str(data.split)
        return self.part_names[1]

    def parts_to_check(self, data: DataSection) -> list[bool]:
        """The ``train`` flags of the parts a dataset check reads."""
        return self.checked_parts(data) if self.checked_parts is not None else [True, False]

    def title(self, data: DataSection, train: bool) -> str:
        """A one-line name of a part: ``ucf101 split 1 train``, ``folder /data/videos/val``."""
        if self.split_choices and self.split_choices[0].isdigit():
            return f"{self.name} split {data.split} {self.part_name(data, train)}"
        if self.part_path is not None:
            return f"{self.name} {self.part_path(data, train)}"
        return f"{self.name} {self.part_name(data, train)}"

    def build(
        self, data: DataSection, *, train: bool, num_classes: int | None = None, prepare: bool = True, **common: Any
    ) -> VideoClipDataset:
        """The training or held-out part of ``data``; ``common`` goes to the dataset class.

        Checks ``data.root`` (and writes the data first when the format prepares it and ``prepare``
        is true) and ``data.annotations``; the dataset class checks the files themselves.
        """
        if not data.root:
            raise ValueError("data.root is not set: name the dataset folder (data.root=PATH)")
        if prepare and self.prepare is not None:
            self.prepare(data)
        root = Path(data.root)
        if not root.is_dir():
            raise FileNotFoundError(f"dataset root not found: {root} (data.root)")
        if self.needs_annotations and not data.annotations:
            raise ValueError(f"data.annotations is not set: data.format={self.name} needs {self.annotations}")
        numbered = bool(self.split_choices) and self.split_choices[0].isdigit()
        if numbered and str(data.split) not in self.split_choices:
            choices = ", ".join(self.split_choices)
            raise ValueError(f"data.split={data.split!r} is not a {self.name} split ({self.split}: {choices})")
        return self.builder(data, train=train, num_classes=num_classes, **common)


_FORMATS: dict[str, DatasetFormat] = {}


def register_format(entry: DatasetFormat) -> DatasetFormat:
    """Add ``entry`` to the registry (a name may be registered once)."""
    if entry.name in _FORMATS:
        raise ValueError(f"dataset format {entry.name!r} is already registered")
    _FORMATS[entry.name] = entry
    return entry


def get_format(name: str) -> DatasetFormat:
    """The entry of ``name``; an unknown name is an error listing the known ones."""
    try:
        return _FORMATS[name]
    except KeyError:
        raise ValueError(f"unknown data.format {name!r}; known: {', '.join(format_names())}") from None


def format_names() -> list[str]:
    """Registered format names, in registration order."""
    return list(_FORMATS)


def build_format_dataset(
    data: DataSection, *, train: bool, num_classes: int | None = None, **common: Any
) -> VideoClipDataset:
    """Build the part of ``data`` that ``train`` selects with the builder of ``data.format``."""
    return get_format(data.format).build(data, train=train, num_classes=num_classes, **common)


# -- the formats ----------------------------------------------------------------------------------


def _ucf101(data: DataSection, *, train: bool, num_classes: int | None, **common: Any) -> VideoClipDataset:
    from vidlearn.recognition.datasets.ucf101 import UCF101

    return UCF101(data.root, data.annotations, split=int(data.split), train=train, **common)


def _hmdb51(data: DataSection, *, train: bool, num_classes: int | None, **common: Any) -> VideoClipDataset:
    from vidlearn.recognition.datasets.hmdb51 import HMDB51

    return HMDB51(data.root, data.annotations, split=int(data.split), train=train, **common)


def _kinetics(data: DataSection, *, train: bool, num_classes: int | None, **common: Any) -> VideoClipDataset:
    from vidlearn.recognition.datasets.kinetics import Kinetics

    split = KINETICS.part_name(data, train)
    return Kinetics(data.root, data.annotations, split=split, num_classes=num_classes or 400, **common)


def _sports1m(data: DataSection, *, train: bool, num_classes: int | None, **common: Any) -> VideoClipDataset:
    from vidlearn.recognition.datasets.sports1m import Sports1M

    return Sports1M(data.root, data.annotations, split="train" if train else "test", **common)


def _folder_path(data: DataSection, train: bool) -> str:
    names = [name.strip() for name in (data.annotations or "train,val").split(",")]
    if len(names) != 2 or not all(names):
        raise ValueError(
            f"data.annotations={data.annotations!r}: for data.format=folder it is "
            "'<train subfolder>,<held-out subfolder>' (default 'train,val'; '.' is the root itself)"
        )
    name = names[0 if train else 1]
    return str(Path(data.root)) if name == "." else str(Path(data.root) / name)


def _folder_parts(data: DataSection) -> list[bool]:
    """Both parts, as training reads them (both subfolders may be the root itself: then one part)."""
    paths = {train: _folder_path(data, train) for train in (True, False)}
    if paths[True] == paths[False]:
        return [False]
    return [True, False]


def _folder(data: DataSection, *, train: bool, num_classes: int | None, **common: Any) -> VideoClipDataset:
    from vidlearn.recognition.datasets.lists import VideoFolder

    return VideoFolder(_folder_path(data, train), **common)


def _list_path(data: DataSection, train: bool) -> str:
    return str(Path(data.root) / (data.train_list if train else data.val_list))


def _list_parts(data: DataSection) -> list[bool]:
    return [False] if data.train_list == data.val_list else [True, False]


def _list(data: DataSection, *, train: bool, num_classes: int | None, **common: Any) -> VideoClipDataset:
    from vidlearn.recognition.datasets.lists import VideoListDataset

    root = Path(data.root)
    list_file = _list_path(data, train)
    classes = data.classes or (str(root / "classes.txt") if (root / "classes.txt").is_file() else None)
    return VideoListDataset(list_file, root, classes=classes, **common)


def _write_synthetic(data: Any) -> None:
    """Write the built-in motion dataset to ``data.root`` unless it is there (needs a full ``DataConfig``)."""
    from vidlearn.synthetic import write_motion_dataset

    settings = data.synthetic
    write_motion_dataset(
        data.root,
        preset=settings.preset,
        num_train=settings.num_train,
        num_test=settings.num_test,
        num_frames=settings.num_frames,
        size=tuple(settings.size),
        fps=settings.fps,
        seed=settings.seed,
        workers=max(1, data.num_workers),
    )


_SPLIT_NUMBER = "the official split"

register_format(DatasetFormat(
    "ucf101", _ucf101, "the folder of classInd.txt, trainlistNN.txt and testlistNN.txt (ucfTrainTestlist)",
    "UCF-101, root/<Class>/v_<Class>_gXX_cYY.avi", _SPLIT_NUMBER, ("1", "2", "3"), "1",
))
register_format(DatasetFormat(
    "hmdb51", _hmdb51, "the testTrainMulti_7030_splits folder (or the folder holding it)",
    "HMDB51, root/<class>/<video>.avi", _SPLIT_NUMBER, ("1", "2", "3"), "1",
))
KINETICS = register_format(DatasetFormat(
    "kinetics", _kinetics, "the annotation CSV of the part (label,youtube_id,time_start,time_end,split)",
    "Kinetics-400/600/700 clips under root/<split>/", "the held-out part", ("train", "val", "test"), "val",
    part_names=("train", "val"), checked_parts=lambda data: [str(data.split) == "train"],
))
register_format(DatasetFormat(
    "sports1m", _sports1m, "the JSON or partition file, or the folder of sports1m_{train,test}.json",
    "Sports-1M, multi-label, videos named by YouTube id under root",
))
register_format(DatasetFormat(
    "folder", _folder, "optional: '<train subfolder>,<held-out subfolder>' of root (default 'train,val'; '.' = root)",
    "a folder per class: root/train/<class>/<video> and root/val/<class>/<video>", part_names=("train", "val"),
    checked_parts=_folder_parts, part_path=_folder_path,
))
register_format(DatasetFormat(
    "list", _list, "", "MMAction2 list files '<path> <label>' (data.train_list, data.val_list) under root",
    checked_parts=_list_parts, part_path=_list_path,
))
register_format(DatasetFormat(
    "synthetic", _list, "", "the built-in motion dataset (vidlearn.synthetic), written to root when absent",
    prepare=_write_synthetic, checked_parts=_list_parts, part_path=_list_path,
))
