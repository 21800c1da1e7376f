"""UCF-101 with its three official train/test splits.

Soomro, Zamir and Shah, "UCF101: A Dataset of 101 Human Actions Classes From Videos in The Wild",
CRCV-TR-12-01, 2012. The split files (``ucfTrainTestlist``) are::

    classInd.txt      "1 ApplyEyeMakeup" ... "101 YoYo"            (1-based ids)
    trainlist01.txt   "ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1"
    testlist01.txt    "ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi"  (no label: the folder names it)

Labels are 0-based in ``classInd.txt`` order (``ApplyEyeMakeup`` = 0, ``YoYo`` = 100), as in
MMAction2's ``label_map.txt``; videos are at ``root/<Class>/v_<Class>_gXX_cYY.avi``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vidlearn.recognition.datasets.annotations import AnnotationError, VideoSample, read_lines
from vidlearn.recognition.datasets.base import VideoClipDataset

__all__ = ["UCF101", "read_ucf101_classes", "read_ucf101_split"]


def read_ucf101_classes(class_file: str | Path) -> list[str]:
    """Class names of ``classInd.txt`` in id order; ids must be 1..N in sequence."""
    names: list[str] = []
    for line in read_lines(class_file):
        if len(line.fields) != 2 or not line.fields[0].isdigit():
            raise line.error("malformed line (expected '<id> <ClassName>')")
        if int(line.fields[0]) != len(names) + 1:
            raise line.error(f"class id {line.fields[0]} out of sequence (expected {len(names) + 1})")
        if line.fields[1] in names:
            raise line.error(f"duplicate class {line.fields[1]!r}")
        names.append(line.fields[1])
    if not names:
        raise AnnotationError(class_file, 0, "", "no classes")
    return names


def read_ucf101_split(
    list_file: str | Path, root: str | Path, classes: list[str], class_file: str | Path = "classInd.txt"
) -> list[VideoSample]:
    """Samples of a ``trainlistNN.txt`` or ``testlistNN.txt`` against ``classes`` (from classInd).

    The class is the folder of the path; a train line's 1-based label must agree with it.
    """
    class_ids = {name: label for label, name in enumerate(classes)}
    class_name = Path(class_file).name
    samples = []
    for line in read_lines(list_file):
        if len(line.fields) not in (1, 2):
            raise line.error("malformed line (expected '<Class>/<video>.avi [<id>]')")
        relative = line.fields[0]
        folder = relative.split("/")[0] if "/" in relative else ""
        if not folder:
            raise line.error("malformed line: the path has no class folder ('<Class>/<video>.avi')")
        if folder not in class_ids:
            raise line.error(f"unknown class {folder!r} (not in {class_name})")
        label = class_ids[folder]
        if len(line.fields) == 2:
            text_id = line.fields[1]
            if not text_id.isdigit() or not 1 <= int(text_id) <= len(classes):
                raise line.error(f"unknown class id {text_id!r} (not in {class_name}: 1..{len(classes)})")
            if int(text_id) - 1 != label:
                raise line.error(
                    f"class id {text_id} ({classes[int(text_id) - 1]}) disagrees with the folder {folder!r}"
                )
        samples.append(
            VideoSample(
                path=str(Path(root) / relative),
                label=label,
                key=relative,
                source=f"{line.file}:{line.number}: {line.text!r}",
            )
        )
    return samples


class UCF101(VideoClipDataset):
    """UCF-101 split ``split`` (1, 2 or 3), train or test part.

    ``annotation_dir`` holds ``classInd.txt``, ``trainlist0N.txt`` and ``testlist0N.txt``. Other
    keyword arguments go to :class:`VideoClipDataset` (sampler, transform, modality, on_error, ...).
    """

    def __init__(
        self,
        root: str | Path,
        annotation_dir: str | Path,
        split: int = 1,
        train: bool = True,
        **kwargs: Any,
    ) -> None:
        if split not in (1, 2, 3):
            raise ValueError(f"UCF-101 split must be 1, 2 or 3, got {split!r}")
        annotation_dir = Path(annotation_dir)
        class_file = annotation_dir / "classInd.txt"
        classes = read_ucf101_classes(class_file)
        self.split = split
        self.train = train
        self.list_file = annotation_dir / f"{'trainlist' if train else 'testlist'}{split:02d}.txt"
        samples = read_ucf101_split(self.list_file, root, classes, class_file)
        super().__init__(samples, classes, root=root, **kwargs)
