"""``vidlearn data check`` and ``vidlearn data reencode``, run in-process."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

import vidlearn.video as video_api
from vidlearn.cli.main import main
from vidlearn.video.errors import VideoDecodeError


def write_video(path: Path, num_frames: int, size: int = 16) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    frames = np.zeros((num_frames, size, size, 3), np.uint8)
    return video_api.write_video(path, frames, 25, codec="mpeg4")


@pytest.fixture()
def ucf_like(tmp_path):
    """Two classes; train: good, corrupt, short, missing; test: good."""
    splits = tmp_path / "splits"
    splits.mkdir()
    (splits / "classInd.txt").write_text("1 Archery\n2 Biking\n")
    (splits / "trainlist01.txt").write_text(
        "Archery/v_Archery_g01_c01.avi 1\n"
        "Archery/v_Archery_g01_c02.avi 1\n"
        "Biking/v_Biking_g01_c01.avi 2\n"
        "Biking/v_Biking_g01_c02.avi 2\n"
    )
    (splits / "testlist01.txt").write_text("Biking/v_Biking_g02_c01.avi\n")
    root = tmp_path / "videos"
    write_video(root / "Archery" / "v_Archery_g01_c01.avi", 8)
    corrupt = root / "Archery" / "v_Archery_g01_c02.avi"
    corrupt.write_bytes(b"RIFF" + bytes(range(256)) * 4)
    write_video(root / "Biking" / "v_Biking_g01_c01.avi", 2)
    write_video(root / "Biking" / "v_Biking_g02_c01.avi", 8)
    return SimpleNamespace(root=root, splits=splits)


def test_check_reports_missing_corrupt_and_short_by_name(ucf_like, capsys):
    argv = [
        "data",
        "check",
        str(ucf_like.root),
        "--format",
        "ucf101",
        "--annotations",
        str(ucf_like.splits),
        "--clip-len",
        "4",
    ]
    assert main(argv) == 1
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0] == "ucf101 split 1 train: 4 videos listed, 1 usable, 2 classes"
    assert lines[1] == "ucf101 split 1 test: 1 videos listed, 1 usable, 2 classes"
    root = ucf_like.root
    assert lines[lines.index("missing (1):") + 1] == f"  {root / 'Biking' / 'v_Biking_g01_c02.avi'}"
    assert lines[lines.index("unreadable (1):") + 1].startswith(
        f"  {root / 'Archery' / 'v_Archery_g01_c02.avi'}: "
    )
    assert lines[lines.index("too short for 4-frame clips (1):") + 1] == (
        f"  {root / 'Biking' / 'v_Biking_g01_c01.avi'}: 2 frames"
    )
    assert lines[-1] == "3 problem(s)"
    # a second check reads the cached index and reports the same
    assert main(argv) == 1
    assert capsys.readouterr().out == out
    assert (root / ".vidlearn_index.json").is_file()


def test_check_clean_dataset_exits_zero(ucf_like, capsys, tmp_path):
    (ucf_like.splits / "trainlist01.txt").write_text("Archery/v_Archery_g01_c01.avi 1\n")
    index = tmp_path / "elsewhere.json"
    argv = [
        "data",
        "check",
        str(ucf_like.root),
        "--format",
        "ucf101",
        "--annotations",
        str(ucf_like.splits),
        "--clip-len",
        "8",
        "--index",
        str(index),
    ]
    assert main(argv) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "no problems"
    assert index.is_file()
    assert main([*argv[:-4], "--clip-len", "9", "--index", str(index)]) == 1  # 8 frames < 9


def test_check_folder_format(ucf_like, capsys):
    # ROOT/<class>/<video> is checked as one part only when asked: '.,.' (data.annotations=.,. in a recipe)
    argv = ["data", "check", str(ucf_like.root), "--format", "folder", "--clip-len", "4", "--annotations", ".,."]
    assert main(argv) == 1
    out = capsys.readouterr().out
    assert out.startswith(f"folder {ucf_like.root}: 4 videos listed, 2 usable, 2 classes")
    assert "too short for 4-frame clips (1):" in out and "missing" not in out


def test_check_bad_annotation_is_one_line_exit_2(ucf_like, capsys):
    (ucf_like.splits / "testlist01.txt").write_text(
        "Biking/v_Biking_g02_c01.avi\nRowing/v_Rowing_g01_c01.avi\n"
    )
    argv = ["data", "check", str(ucf_like.root), "--format", "ucf101", "--annotations", str(ucf_like.splits)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err == (
        f"vidlearn: error: {ucf_like.splits / 'testlist01.txt'}:2: unknown class 'Rowing' (not in classInd.txt): "
        "'Rowing/v_Rowing_g01_c01.avi'\n"
    )
    assert main(["data", "check", str(ucf_like.root), "--format", "ucf101"]) == 2
    assert "--annotations is required" in capsys.readouterr().err
    assert main([*argv, "--split", "4"]) == 2
    assert "--split must be 1, 2 or 3" in capsys.readouterr().err


def test_reencode_tree_for_real_then_resume(tmp_path, capsys):
    src = tmp_path / "src"
    write_video(src / "a" / "one.avi", 6, size=32)
    write_video(src / "two.mp4", 6, size=32)
    (src / "notes.txt").write_text("not a video")
    (src / "broken.avi").write_bytes(b"RIFF garbage")
    argv = [
        "data",
        "reencode",
        str(src),
        str(tmp_path / "dst"),
        "--gop",
        "2",
        "--short-side",
        "16",
        "--quiet",
    ]
    assert main(argv) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "re-encoded 2, skipped 0 (already done), failed 1"
    assert lines[1].startswith(f"  {src / 'broken.avi'}: ")
    info = video_api.probe_video(tmp_path / "dst" / "a" / "one.avi")
    assert (info.height, info.width, info.num_frames) == (16, 16, 6)
    assert not (tmp_path / "dst" / "notes.txt").exists()
    (src / "broken.avi").unlink()
    assert main(argv) == 0
    assert capsys.readouterr().out.splitlines() == ["re-encoded 0, skipped 2 (already done), failed 0"]


def test_reencode_shard_and_extensions_select_files(tmp_path, capsys):
    src = tmp_path / "src"
    for name in ("a.avi", "b.avi", "c.avi", "d.mp4"):
        write_video(src / name, 2)
    base = ["data", "reencode", str(src), str(tmp_path / "dst"), "--extensions", "AVI", "--quiet"]
    assert main([*base, "--shard", "1/2"]) == 0
    assert capsys.readouterr().out.startswith("re-encoded 1,")
    assert sorted(p.name for p in (tmp_path / "dst").iterdir()) == ["b.avi"]


def test_reencode_bad_shard_is_a_user_error(tmp_path, capsys):
    (tmp_path / "src").mkdir()
    assert main(["data", "reencode", str(tmp_path / "src"), str(tmp_path / "dst"), "--shard", "3/3"]) == 2
    assert capsys.readouterr().err.startswith("vidlearn: error: --shard: shard '3/3': need 0 <= i < n")
    assert not (tmp_path / "dst").exists()


def test_check_decode_lists_videos_that_fail_to_decode(ucf_like, capsys, monkeypatch):
    (ucf_like.splits / "trainlist01.txt").write_text("Archery/v_Archery_g01_c01.avi 1\n")
    broken = ucf_like.root / "Biking" / "v_Biking_g02_c01.avi"
    opened = []

    class Reader:  # decodes the good video, fails on the last frame of the other
        def __init__(self, path, backend="auto"):
            self.path, self.num_frames = str(path), 8
            opened.append(self.path)

        def get_frames(self, indices, size=None):
            if self.path == str(broken):
                raise VideoDecodeError(self.path, "truncated at frame 5")
            return np.zeros((len(indices), 16, 16, 3), np.uint8)

    monkeypatch.setattr(video_api, "VideoReader", Reader, raising=False)
    argv = [
        "data",
        "check",
        str(ucf_like.root),
        "--format",
        "ucf101",
        "--annotations",
        str(ucf_like.splits),
        "--clip-len",
        "4",
        "--decode",
    ]
    assert main(argv) == 1
    out = capsys.readouterr().out
    assert "ucf101 split 1 test: 1 videos listed, 0 usable, 2 classes" in out
    assert f"unreadable (1):\n  {broken}: truncated at frame 5\n" in out
    assert sorted(opened) == sorted([str(broken), str(ucf_like.root / "Archery" / "v_Archery_g01_c01.avi")])


def test_data_without_subcommand_shows_help(capsys):
    assert main(["data"]) == 2
    assert "check" in capsys.readouterr().out


def test_check_formats_come_from_the_registry(ucf_like, capsys):
    assert main(["data", "check", str(ucf_like.root), "--format", "ava"]) == 2
    err = capsys.readouterr().err
    assert "--format: unknown data.format 'ava'; known: ucf101, hmdb51, kinetics, sports1m, folder, list, synthetic" in err
    assert main(["data", "check", str(ucf_like.root), "--format", "hmdb51"]) == 2
    assert "--annotations is required for --format hmdb51: the testTrainMulti_7030_splits folder" in capsys.readouterr().err
    list_file = ucf_like.root / "list.txt"
    list_file.write_text("Biking/v_Biking_g02_c01.avi 0\nArchery/v_Archery_g01_c01.avi 1\n")
    argv = ["data", "check", str(ucf_like.root), "--format", "list", "--annotations", str(list_file), "--clip-len", "4"]
    assert main(argv) == 0
    assert capsys.readouterr().out.splitlines()[0] == f"list {list_file}: 2 videos listed, 2 usable, 2 classes"


def test_check_folder_means_what_training_reads(ucf_like, capsys, tmp_path):
    """``--format folder`` reads ROOT/train and ROOT/val, as ``data.format=folder`` does in a recipe."""
    from vidlearn.recognition.builders import build_dataset
    from vidlearn.recognition.recipe import RecognitionConfig

    assert main(["data", "check", str(ucf_like.root), "--format", "folder", "--clip-len", "4"]) == 2
    line = capsys.readouterr().err.strip()
    assert line.startswith(f"vidlearn: error: {ucf_like.root}: no train and val subfolder; --format folder")
    assert "--annotations .,." in line
    cfg = RecognitionConfig()
    cfg.data.format, cfg.data.root = "folder", str(ucf_like.root)
    with pytest.raises(FileNotFoundError, match="train"):
        build_dataset(cfg, train=True)  # training rejects the same layout

    root = tmp_path / "split"
    for part in ("train", "val"):
        write_video(root / part / "Archery" / "a.avi", 8)
        write_video(root / part / "Biking" / "b.avi", 8)
    assert main(["data", "check", str(root), "--format", "folder", "--clip-len", "4"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[:2] == [f"folder {root / 'train'}: 2 videos listed, 2 usable, 2 classes",
                         f"folder {root / 'val'}: 2 videos listed, 2 usable, 2 classes"]
    assert len(build_dataset(cfg.__class__(data=type(cfg.data)(format="folder", root=str(root))), train=True)) == 2
    (root / "val").rename(root / "test")
    assert main(["data", "check", str(root), "--format", "folder"]) == 2
    assert "no val subfolder" in capsys.readouterr().err
    assert main(["data", "check", str(root), "--format", "folder", "--annotations", "train,test", "--clip-len", "4"]) == 0


def test_check_of_a_missing_dataset_summarises_unless_verbose(tmp_path, capsys):
    splits = tmp_path / "splits"
    splits.mkdir()
    (splits / "classInd.txt").write_text("1 Archery\n2 Biking\n")
    (splits / "trainlist01.txt").write_text("".join(f"Archery/v_{i:03d}.avi 1\n" for i in range(30)))
    (splits / "testlist01.txt").write_text("".join(f"Biking/v_{i:03d}.avi\n" for i in range(5)))
    root = tmp_path / "empty"
    root.mkdir()
    argv = ["data", "check", str(root), "--format", "ucf101", "--annotations", str(splits)]
    assert main(argv) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[2] == "missing (35):"
    assert len([line for line in lines if line.startswith("  ") and line.endswith(".avi")]) == 10
    assert "  ... and 25 more (--verbose lists them all)" in lines
    assert f"  (none of the listed videos is under {root}: is it the dataset root?)" in lines
    assert lines[-1] == "35 problem(s)"
    assert main([*argv, "--verbose"]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert len([line for line in lines if line.startswith("  ") and line.endswith(".avi")]) == 35
