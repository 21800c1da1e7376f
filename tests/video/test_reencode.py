"""Dense re-encoding: keyframe interval, short side, frame count, tree walking, shards, resume."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from vidlearn.video import (
    VideoDecodeError,
    VideoReader,
    probe_video,
    reencode_tree,
    reencode_video,
    write_video,
)
from vidlearn.video.reencode import short_side_size


def gradient_frames(count: int, height: int = 60, width: int = 80) -> np.ndarray:
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    frames = np.empty((count, height, width, 3), dtype=np.uint8)
    for t in range(count):
        frames[t, ..., 0] = 40 + 150 * x / width
        frames[t, ..., 1] = 60 + 120 * y / height
        frames[t, ..., 2] = 128 + 80 * np.sin((x + 2 * t) / 7.0)
    return frames


def keyframe_positions(path: Path) -> list[int]:
    with av.open(str(path)) as container:
        packets = [packet for packet in container.demux(video=0) if packet.size]
    return [index for index, packet in enumerate(packets) if packet.is_keyframe]


@pytest.fixture(scope="module")
def long_gop_video(tmp_path_factory) -> Path:
    """A Kinetics-like file: H.264 with B-frames and one keyframe for the whole clip."""
    path = tmp_path_factory.mktemp("src") / "long_gop.mp4"
    return write_video(path, gradient_frames(30), 30, gop=250, bframes=3)


def test_short_side_size_rounds_to_even() -> None:
    assert short_side_size(240, 320, 128) == (128, 170)  # 170.67 -> 170
    assert short_side_size(256, 340, 128) == (128, 170)
    assert short_side_size(1080, 1920, 256) == (256, 456)  # 455.1 -> 456
    assert short_side_size(640, 360, 128) == (228, 128)  # portrait
    with pytest.raises(ValueError, match="short_side must be at least 2"):
        short_side_size(240, 320, 1)


def test_reencode_sets_keyframe_interval_and_short_side(tmp_path: Path, long_gop_video: Path) -> None:
    assert keyframe_positions(long_gop_video) == [0]
    out = reencode_video(long_gop_video, tmp_path / "dense.mp4", gop=6, short_side=30)
    assert keyframe_positions(out) == [0, 6, 12, 18, 24]
    info = probe_video(out)
    assert (info.num_frames, info.height, info.width) == (30, 30, 40)
    assert info.fps == pytest.approx(30.0)
    assert info.max_keyframe_interval == 6
    # Same pictures, scaled: compare with the source resized by the reader.
    source = VideoReader(long_gop_video).get_frames([0, 17, 29], size=(30, 40)).numpy().astype(np.float64)
    dense = VideoReader(out).get_frames([0, 17, 29]).numpy().astype(np.float64)
    mse = np.mean((source - dense) ** 2)
    assert 10 * np.log10(255**2 / mse) > 30


def test_reencode_keeps_size_without_short_side(tmp_path: Path, long_gop_video: Path) -> None:
    out = reencode_video(long_gop_video, tmp_path / "same.mkv", gop=10)
    info = probe_video(out)
    assert (info.num_frames, info.height, info.width, info.codec) == (30, 60, 80, "h264")
    assert keyframe_positions(out) == [0, 10, 20]


def test_reencode_to_mpeg4(tmp_path: Path, long_gop_video: Path) -> None:
    out = reencode_video(long_gop_video, tmp_path / "ucf_like.avi", gop=12, codec="mpeg4")
    assert probe_video(out).codec == "mpeg4"
    assert keyframe_positions(out) == [0, 12, 24]


@pytest.mark.shared_data
def test_reencode_real_clip(shared_data: Path, tmp_path: Path) -> None:
    source = shared_data / "clips" / "ucf101_c3d_keras" / "v_Punch_g03_c01.avi"
    if not source.is_file():
        pytest.skip(f"{source} is not in the shared test material")
    out = reencode_video(source, tmp_path / "punch.mp4", gop=12, short_side=64)
    info = probe_video(out)
    assert (info.num_frames, info.height, info.width) == (108, 64, 86)
    assert keyframe_positions(out) == list(range(0, 108, 12))


def test_reencode_of_a_broken_file_names_it_and_writes_nothing(tmp_path: Path) -> None:
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video at all" * 50)
    with pytest.raises(VideoDecodeError, match=r"broken\.mp4: not a readable video"):
        reencode_video(broken, tmp_path / "out" / "broken.mp4")
    assert not (tmp_path / "out" / "broken.mp4").exists()


@pytest.fixture
def video_tree(tmp_path: Path) -> Path:
    root = tmp_path / "videos"
    frames = gradient_frames(8, 24, 32)
    write_video(root / "a" / "one.mp4", frames, 25, gop=250)
    write_video(root / "a" / "two.avi", frames, 25, codec="mpeg4")
    write_video(root / "b" / "three.MKV", frames, 25)
    (root / "b" / "bad.mp4").write_bytes(b"garbage" * 10)
    (root / "b" / "notes.txt").write_text("not a video")
    return root


def test_reencode_tree_mirrors_counts_and_resumes(tmp_path: Path, video_tree: Path) -> None:
    out = tmp_path / "dense"
    summary = reencode_tree(video_tree, out, gop=4, short_side=16, progress=False)
    assert (summary["done"], summary["skipped"], summary["failed"]) == (3, 0, 1)
    assert summary["failures"][0][0].endswith("bad.mp4")
    written = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert written == ["a/one.mp4", "a/two.avi", "b/three.MKV"]
    for relative in written:
        assert keyframe_positions(out / relative) == [0, 4]
        assert probe_video(out / relative).height == 16
    again = reencode_tree(video_tree, out, gop=4, short_side=16, progress=False)
    assert (again["done"], again["skipped"], again["failed"]) == (0, 3, 1)
    redo = reencode_tree(
        video_tree, out, gop=4, short_side=16, progress=False, resume=False, extensions=(".avi",)
    )
    assert (redo["done"], redo["skipped"], redo["failed"]) == (1, 0, 0)


def test_reencode_tree_shards_are_disjoint_and_cover_all(tmp_path: Path, video_tree: Path) -> None:
    outputs = []
    for index in range(2):
        out = tmp_path / f"shard{index}"
        summary = reencode_tree(video_tree, out, gop=4, shard=(index, 2), progress=False)
        outputs.append({str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()})
        assert summary["done"] + summary["failed"] == 2
    assert outputs[0].isdisjoint(outputs[1])
    assert outputs[0] | outputs[1] == {"a/one.mp4", "a/two.avi", "b/three.MKV"}


@pytest.mark.slow
def test_reencode_tree_with_worker_processes(tmp_path: Path, video_tree: Path) -> None:
    summary = reencode_tree(video_tree, tmp_path / "par", gop=4, workers=2, progress=False)
    assert (summary["done"], summary["failed"]) == (3, 1)
    assert keyframe_positions(tmp_path / "par" / "b" / "three.MKV") == [0, 4]


def test_reencode_tree_bad_arguments(tmp_path: Path, video_tree: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        reencode_tree(tmp_path / "missing", tmp_path / "out")
    with pytest.raises(ValueError, match=r"shard 2/2"):
        reencode_tree(video_tree, tmp_path / "out", shard=(2, 2))
    with pytest.raises(ValueError, match="workers must be at least 1"):
        reencode_tree(video_tree, tmp_path / "out", workers=0)
