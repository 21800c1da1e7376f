"""``vidlearn data check`` and ``vidlearn data reencode``, run in-process."""

from __future__ import annotations

import sys
import types
from pathlib import Path
from types import SimpleNamespace

import av
import numpy as np
import pytest

import vidlearn.video as video_api
from vidlearn.cli.main import main
from vidlearn.video.errors import VideoDecodeError


def write_video(path: Path, num_frames: int, size: int = 16) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=25)
        stream.width = stream.height = size
        stream.pix_fmt = "yuv420p"
        for index in range(num_frames):
            image = np.full((size, size, 3), index * 30, np.uint8)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        container.mux(stream.encode())
    return path


def stand_in_probe(path):
    """Counts decoded frames; used only while ``vidlearn.video.probe_video`` is absent."""
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            frames = sum(1 for _ in container.decode(stream))
            return SimpleNamespace(
                num_frames=frames,
                fps=float(stream.average_rate or 0),
                height=stream.height,
                width=stream.width,
            )
    except (av.FFmpegError, OSError, IndexError) as error:
        raise VideoDecodeError(path, f"cannot open: {error}") from error


@pytest.fixture(autouse=True)
def video_probe(monkeypatch):
    if not hasattr(video_api, "probe_video"):
        monkeypatch.setattr(video_api, "probe_video", stand_in_probe, raising=False)


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
    assert main(["data", "check", str(ucf_like.root), "--format", "folder", "--clip-len", "4"]) == 1
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


@pytest.fixture()
def fake_reencode(monkeypatch):
    """Records the call; the real ``reencode_tree`` is exercised by the video layer's tests."""
    calls = []

    def reencode_tree(src_root, dst_root, **kwargs):
        calls.append((src_root, dst_root, kwargs))
        return {"encoded": 2, "skipped": 1, "failed": []}

    module = types.ModuleType("vidlearn.video.reencode")
    module.reencode_tree = reencode_tree
    monkeypatch.setitem(sys.modules, "vidlearn.video.reencode", module)
    return calls


def test_reencode_passes_options_and_prints_summary(tmp_path, fake_reencode, capsys):
    src = tmp_path / "src"
    src.mkdir()
    code = main(
        [
            "data",
            "reencode",
            str(src),
            str(tmp_path / "dst"),
            "--gop",
            "8",
            "--short-side",
            "128",
            "--codec",
            "mpeg4",
            "--workers",
            "2",
            "--shard",
            "1/3",
            "--extensions",
            "avi,.MP4",
            "--quiet",
        ]
    )
    assert code == 0
    ((src_root, dst_root, kwargs),) = fake_reencode
    assert (src_root, dst_root) == (src, tmp_path / "dst")
    assert kwargs == {
        "extensions": (".avi", ".mp4"),
        "gop": 8,
        "short_side": 128,
        "codec": "mpeg4",
        "workers": 2,
        "shard": (1, 3),
        "resume": True,
        "progress": False,
    }
    assert capsys.readouterr().out.splitlines() == ["encoded: 2", "skipped: 1", "failed: 0"]


def test_reencode_bad_shard_is_a_user_error(tmp_path, fake_reencode, capsys):
    (tmp_path / "src").mkdir()
    assert main(["data", "reencode", str(tmp_path / "src"), str(tmp_path / "dst"), "--shard", "3/3"]) == 2
    assert capsys.readouterr().err.startswith("vidlearn: error: --shard: shard '3/3': need 0 <= i < n")
    assert fake_reencode == []


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
