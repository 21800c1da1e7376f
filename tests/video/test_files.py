"""One list of video and frame-image suffixes serves every reader of folders (tracking, OTB, super-resolution, flow)."""

from __future__ import annotations

from pathlib import Path

from vidlearn.superres.data import FrameFolder
from vidlearn.tracking.sot.otb import read_sequence
from vidlearn.video import image_files, is_video_file


def _touch(folder: Path, *names: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_bytes(b"")


def test_image_files_lists_frame_images_of_any_case_by_name_and_nothing_else(tmp_path: Path) -> None:
    _touch(tmp_path, "0002.JPG", "0001.png", "0003.tif", "notes.txt", "clip.mp4", "0000.webp")
    (tmp_path / "sub.jpg").mkdir()  # a folder named like an image is not a frame
    assert [p.name for p in image_files(tmp_path)] == ["0000.webp", "0001.png", "0002.JPG", "0003.tif"]


def test_is_video_file_goes_by_suffix_in_any_case() -> None:
    assert [is_video_file(n) for n in ("a.MP4", "b.avi", "c.y4m", "d.flv", "e.jpg", "f", "g.mp4.txt")] == [
        True, True, True, True, False, False, False,
    ]


def test_otb_and_super_resolution_folders_see_the_same_frames(tmp_path: Path) -> None:
    import cv2
    import numpy as np

    folder = tmp_path / "seq"
    folder.mkdir()
    for i, suffix in enumerate((".jpg", ".PNG", ".bmp")):
        cv2.imwrite(str(folder / f"{i:04d}{suffix}"), np.full((8, 8, 3), 40 * i, np.uint8))
    (folder / "groundtruth_rect.txt").write_text("1,1,4,4\n" * 3)
    otb = read_sequence(folder)
    assert [p.name for p in otb.frames] == [p.name for p in FrameFolder(folder).files] == ["0000.jpg", "0001.PNG", "0002.bmp"]
