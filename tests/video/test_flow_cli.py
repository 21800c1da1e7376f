"""``vidlearn flow extract`` and ``vidlearn flow visualize``: outputs and exit codes."""

from __future__ import annotations

from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from vidlearn.cli.main import main
from vidlearn.video.flow import read_flow_frames, read_flow_npz
from vidlearn.video.flow.extract import DONE_FILE, NPZ_FILE


def write_test_video(path: Path, num_frames: int = 4, height: int = 32, width: int = 48) -> Path:
    """A small MPEG-4 video of a smooth texture panning right by 1 px per frame."""
    noise = np.random.default_rng(0).standard_normal((height, width + num_frames, 3)).astype(np.float32)
    texture = cv2.GaussianBlur(noise, (0, 0), 2.0)
    texture = np.round((texture - texture.min()) / (texture.max() - texture.min()) * 255).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for index in range(num_frames):
            frame = np.ascontiguousarray(texture[:, num_frames - index : num_frames - index + width])
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())
    return path


def test_extract_one_video(tmp_path: Path, capsys) -> None:
    video = write_test_video(tmp_path / "clip.mp4")
    assert main(["flow", "extract", str(video), str(tmp_path / "out"), "--method", "farneback"]) == 0
    assert read_flow_frames(tmp_path / "out", range(3)).shape == (3, 2, 32, 48)
    assert "3 flow fields" in capsys.readouterr().out


def test_extract_folder_with_shard_and_npz(tmp_path: Path, capsys) -> None:
    for name in ("a/one.mp4", "a/two.mp4", "b/three.mp4"):
        write_test_video(tmp_path / "videos" / name)
    args = ["flow", "extract", str(tmp_path / "videos"), str(tmp_path / "out"), "--method", "dis",
            "--format", "npz", "--size", "16", "--no-progress"]  # fmt: skip
    assert main([*args, "--shard", "1/2"]) == 0  # sorted: a/one, a/two, b/three -> shard 1 is a/two
    assert (tmp_path / "out" / "a" / "two" / DONE_FILE).is_file()
    assert not (tmp_path / "out" / "a" / "one").exists()
    assert read_flow_npz(tmp_path / "out" / "a" / "two" / NPZ_FILE).shape == (3, 2, 16, 24)
    assert main(args) == 0
    assert "1 already complete" in capsys.readouterr().out


def test_extract_reports_failures_with_exit_code_1(tmp_path: Path, capsys) -> None:
    write_test_video(tmp_path / "videos" / "good.mp4")
    (tmp_path / "videos" / "bad.avi").write_bytes(b"nonsense" * 64)
    code = main(["flow", "extract", str(tmp_path / "videos"), str(tmp_path / "out"), "--method", "farneback",
                 "--no-progress"])  # fmt: skip
    assert code == 1
    captured = capsys.readouterr()
    assert "1 failed" in captured.out and "bad.avi" in captured.err
    assert (tmp_path / "out" / "good" / DONE_FILE).is_file()
    assert not (tmp_path / "out" / "bad").exists()  # a failed video leaves no empty folder behind


def test_a_failed_video_leaves_no_folders_it_made(tmp_path: Path, capsys) -> None:
    (tmp_path / "videos" / "Class" / "Sub").mkdir(parents=True)
    (tmp_path / "videos" / "Class" / "Sub" / "bad.avi").write_bytes(b"nonsense" * 64)
    write_test_video(tmp_path / "videos" / "Other" / "good.mp4")
    (tmp_path / "out").mkdir()
    code = main(["flow", "extract", str(tmp_path / "videos"), str(tmp_path / "out"), "--method", "farneback",
                 "--no-progress"])  # fmt: skip
    assert code == 1
    assert sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*") if p.is_dir()) == [
        "Other", "Other/good"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--shard", "2/2"], "shard"),
        (["--method", "farneback", "--weights", "w.pth"], "RAFT only"),
        (["--method", "raft_small"], "raft_small_C_T_V2-01064c6d.pth"),
        (["--method", "raft", "--weights", "absent.pth"], "absent.pth"),
        (["--size", "0"], "--size"),
    ],
)
def test_extract_user_errors_exit_2(tmp_path: Path, capsys, extra: list[str], message: str) -> None:
    write_test_video(tmp_path / "videos" / "clip.mp4")
    assert main(["flow", "extract", str(tmp_path / "videos"), str(tmp_path / "out"), *extra]) == 2
    assert message in capsys.readouterr().err


def test_missing_input_and_empty_folder_exit_2(tmp_path: Path, capsys) -> None:
    assert main(["flow", "extract", str(tmp_path / "nothing"), str(tmp_path / "out")]) == 2
    assert "nothing: no such video or folder" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["flow", "extract", str(tmp_path / "empty"), str(tmp_path / "out"), "--no-progress"]) == 2
    assert "no videos found" in capsys.readouterr().err
    assert main(["flow"]) == 2


def test_visualize_folder_video_and_errors(tmp_path: Path, capsys) -> None:
    video = write_test_video(tmp_path / "clip.mp4")
    assert main(["flow", "extract", str(video), str(tmp_path / "flow"), "--method", "farneback"]) == 0
    assert main(["flow", "visualize", str(tmp_path / "flow"), str(tmp_path / "flow.png"), "--index", "2"]) == 0
    image = cv2.imread(str(tmp_path / "flow.png"))
    assert image.shape == (80, 48 + 8 + 64, 3)  # the field, then its colour-wheel key
    assert (image[:32, :48] < 250).any()  # the pan is coloured, not white
    assert main(["flow", "visualize", str(tmp_path / "flow"), str(tmp_path / "bare.png"), "--no-key"]) == 0
    assert cv2.imread(str(tmp_path / "bare.png")).shape == (32, 48, 3)
    assert main(["flow", "visualize", str(video), str(tmp_path / "flow.mp4"), "--method", "dis"]) == 0
    with av.open(str(tmp_path / "flow.mp4")) as container:
        assert sum(1 for _ in container.decode(video=0)) == 3
    capsys.readouterr()
    assert main(["flow", "visualize", str(tmp_path / "flow"), str(tmp_path / "flow.txt")]) == 2
    assert main(["flow", "visualize", str(tmp_path / "flow"), str(tmp_path / "x.png"), "--index", "3"]) == 2
    assert "out of range" in capsys.readouterr().err
    (tmp_path / "blank").mkdir()
    assert main(["flow", "visualize", str(tmp_path / "blank"), str(tmp_path / "y.png")]) == 2
    assert "flow_x_00001.jpg" in capsys.readouterr().err


def test_videos_sharing_an_output_folder_exit_2(tmp_path: Path, capsys) -> None:
    write_test_video(tmp_path / "videos" / "clip.mp4")
    write_test_video(tmp_path / "videos" / "clip.avi")
    assert main(["flow", "extract", str(tmp_path / "videos"), str(tmp_path / "out"), "--no-progress"]) == 2
    assert "would share the flow folder" in capsys.readouterr().err
