"""HMDB51 with its three official 70/30 splits.

Kuehne, Jhuang, Garrote, Poggio and Serre, "HMDB: A Large Video Database for Human Motion
Recognition", ICCV 2011. The split archive ``testTrainMulti_7030_splits`` holds one file per class
and split, ``<class>_test_split<N>.txt``, with lines ``<video>.avi <flag>``: 1 train, 2 test,
0 unused (70 train and 30 test videos per class). Videos are at ``root/<class>/<video>.avi``.

Class order: HMDB51 ships no class index. The default is Python's ``sorted`` of the class names,
the order of MMAction2's ``label_map.txt`` and its checkpoints (``kick`` before ``kick_ball``).
TSN's ``class_list.txt`` differs in three places (``kick_ball`` before ``kick``, ``sword_exercise``
before ``sword``, ``climb`` before ``climb_stairs``); to match a TSN checkpoint pass
``classes=read_class_names("class_list.txt")``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vidlearn.recognition.datasets.annotations import AnnotationError, VideoSample, read_lines
from vidlearn.recognition.datasets.base import VideoClipDataset

__all__ = ["HMDB51", "hmdb51_split_files"]


def hmdb51_split_files(annotation_dir: str | Path, split: int) -> dict[str, Path]:
    """``{class name: split file}`` for split ``split`` of ``annotation_dir``.

    ``annotation_dir`` is the ``testTrainMulti_7030_splits`` folder or a folder containing it.
    """
    annotation_dir = Path(annotation_dir)
    if (annotation_dir / "testTrainMulti_7030_splits").is_dir():
        annotation_dir = annotation_dir / "testTrainMulti_7030_splits"
    if not annotation_dir.is_dir():
        raise FileNotFoundError(f"HMDB51 split folder not found: {annotation_dir}")
    suffix = f"_test_split{split}.txt"
    files = {path.name[: -len(suffix)]: path for path in sorted(annotation_dir.glob(f"*{suffix}"))}
    if not files:
        raise FileNotFoundError(f"no HMDB51 split files '*{suffix}' in {annotation_dir}")
    return files


class HMDB51(VideoClipDataset):
    """HMDB51 split ``split`` (1, 2 or 3), train (flag 1) or test (flag 2) videos.

    ``classes`` overrides the alphabetical class order (a list of names; each split file's class
    must be in it and every name must have a split file). Other keyword arguments go to
    :class:`VideoClipDataset`.
    """

    def __init__(
        self,
        root: str | Path,
        annotation_dir: str | Path,
        split: int = 1,
        train: bool = True,
        *,
        classes: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        if split not in (1, 2, 3):
            raise ValueError(f"HMDB51 split must be 1, 2 or 3, got {split!r}")
        files = hmdb51_split_files(annotation_dir, split)
        if classes is None:
            classes = sorted(files)
        else:
            for name, file in files.items():
                if name not in classes:
                    raise AnnotationError(file, 0, "", f"unknown class {name!r} (not in the given classes)")
            absent = [name for name in classes if name not in files]
            if absent:
                raise FileNotFoundError(f"no split-{split} file for classes {absent} in {annotation_dir}")
        self.split = split
        self.train = train
        wanted = "1" if train else "2"
        samples = []
        for label, name in enumerate(classes):
            for line in read_lines(files[name]):
                if len(line.fields) != 2 or line.fields[1] not in ("0", "1", "2"):
                    raise line.error("malformed line (expected '<video>.avi <0|1|2>')")
                if line.fields[1] == wanted:
                    samples.append(
                        VideoSample(
                            path=str(Path(root) / name / line.fields[0]),
                            label=label,
                            key=f"{name}/{line.fields[0]}",
                            source=f"{line.file}:{line.number}: {line.text!r}",
                        )
                    )
        super().__init__(samples, classes, root=root, **kwargs)
