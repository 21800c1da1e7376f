"""Flow extraction of videos and folders: streaming chunks, formats, resume, shards, workers, failures."""

from __future__ import annotations

import json
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
import torch

from vidlearn.video.errors import VideoDecodeError
from vidlearn.video.flow import (
    compute_flow,
    extract_dataset_flow,
    extract_video_flow,
    find_videos,
    is_flow_complete,
    iter_video_frames,
    read_flow_frames,
    read_flow_npz,
)
from vidlearn.video.flow import extract as extract_module
from vidlearn.video.flow.extract import DONE_FILE, NPZ_FILE


def write_test_video(path: Path, num_frames: int = 5, height: int = 48, width: int = 64, seed: int = 0) -> Path:
    """A small MPEG-4 video of a smooth texture panning right by 1 px per frame."""
    noise = np.random.default_rng(seed).standard_normal((height, width + num_frames, 3)).astype(np.float32)
    texture = cv2.GaussianBlur(noise, (0, 0), 2.0)
    texture = np.round((texture - texture.min()) / (texture.max() - texture.min()) * 255).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"qscale": "2"}
        for index in range(num_frames):
            frame = np.ascontiguousarray(texture[:, num_frames - index : num_frames - index + width])
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())
    return path


@pytest.fixture()
def video(tmp_path: Path) -> Path:
    return write_test_video(tmp_path / "in" / "clip.mp4")


@pytest.fixture()
def dataset(tmp_path: Path) -> Path:
    root = tmp_path / "videos"
    write_test_video(root / "class_a" / "one.mp4", seed=1)
    write_test_video(root / "class_a" / "two.avi", num_frames=4, seed=2)
    write_test_video(root / "class_b" / "three.mp4", num_frames=3, seed=3)
    (root / "class_b" / "notes.txt").write_text("not a video")
    return root


def test_iter_video_frames_and_resize(video: Path) -> None:
    frames = list(iter_video_frames(video))
    assert len(frames) == 5 and frames[0].shape == (48, 64, 3) and frames[0].dtype == np.uint8
    small = list(iter_video_frames(video, size=24))
    assert small[0].shape == (24, 32, 3)
    assert next(iter_video_frames(video, size=(20, 30))).shape == (20, 30, 3)
    with pytest.raises(VideoDecodeError, match=r"missing\.mp4"):
        list(iter_video_frames(video.parent / "missing.mp4"))


def test_extract_video_jpg_matches_compute_flow(video: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    count = extract_video_flow(video, out, "farneback", chunk_size=2)  # 4 pairs in chunks of 2
    assert count == 4
    assert sorted(p.name for p in out.glob("flow_x_*.jpg")) == [f"flow_x_0000{i}.jpg" for i in range(1, 5)]
    record = json.loads((out / DONE_FILE).read_text())
    assert record["num_fields"] == 4 and record["method"] == "farneback" and record["format"] == "jpg"
    assert is_flow_complete(out, method="farneback", format="jpg")
    assert not is_flow_complete(out, method="tvl1")
    expected = compute_flow(np.stack(list(iter_video_frames(video))), "farneback")
    stored = read_flow_frames(out, range(4))
    # chunk boundaries change nothing; only quantisation and JPEG remain
    assert (stored - expected.clamp(-20, 20)).abs().mean() < 0.1
    assert stored[:, 0, 12:-12, 12:-12].mean() == pytest.approx(1.0, abs=0.3)  # the pan: 1 px right


def test_extract_video_npz_and_resize(video: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert extract_video_flow(video, out, "dis", format="npz", size=24, chunk_size=3) == 4
    flow = read_flow_npz(out / NPZ_FILE)
    assert flow.shape == (4, 2, 24, 32)
    expected = compute_flow(np.stack(list(iter_video_frames(video, size=24))), "dis")
    torch.testing.assert_close(flow, expected, atol=0.02, rtol=0.01)  # float16 storage
    assert not list(out.glob("*.jpg"))


def test_re_extraction_removes_what_the_earlier_one_left(tmp_path: Path) -> None:
    out = tmp_path / "out"
    extract_video_flow(write_test_video(tmp_path / "long.mp4", num_frames=6), out, "farneback")
    assert len(list(out.glob("flow_x_*.jpg"))) == 5
    # A shorter video into the same folder: images 4 and 5 of the first run must go.
    assert extract_video_flow(write_test_video(tmp_path / "short.mp4", num_frames=3), out, "farneback") == 2
    assert sorted(p.name for p in out.glob("flow_*.jpg")) == [
        "flow_x_00001.jpg", "flow_x_00002.jpg", "flow_y_00001.jpg", "flow_y_00002.jpg"
    ]
    # Switching format removes the other format's files, and back.
    extract_video_flow(tmp_path / "short.mp4", out, "farneback", format="npz")
    assert not list(out.glob("*.jpg")) and (out / NPZ_FILE).exists()
    extract_video_flow(tmp_path / "short.mp4", out, "farneback")
    assert not (out / NPZ_FILE).exists() and len(list(out.glob("flow_y_*.jpg"))) == 2


def test_too_short_and_corrupt_videos_name_the_file(tmp_path: Path) -> None:
    short = write_test_video(tmp_path / "short.mp4", num_frames=1)
    with pytest.raises(VideoDecodeError, match=r"short\.mp4.*at least 2"):
        extract_video_flow(short, tmp_path / "out_short", "farneback")
    assert not (tmp_path / "out_short" / DONE_FILE).exists()
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(b"\x00\x01 not a video" * 50)
    with pytest.raises(VideoDecodeError, match=r"corrupt\.mp4"):
        extract_video_flow(corrupt, tmp_path / "out_corrupt", "farneback")
    with pytest.raises(ValueError, match="format"):
        extract_video_flow(short, tmp_path / "x", "farneback", format="png")


def test_dataset_mirrors_tree_and_resumes(dataset: Path, tmp_path: Path, monkeypatch) -> None:
    out = tmp_path / "flow"
    summary = extract_dataset_flow(dataset, out, method="farneback", progress=False)
    assert (summary.total, len(summary.done), len(summary.skipped), len(summary.failed)) == (3, 3, 0, 0)
    assert (out / "class_a" / "one" / "flow_x_00004.jpg").is_file()
    assert (out / "class_a" / "two" / "flow_y_00003.jpg").is_file()
    assert (out / "class_b" / "three" / DONE_FILE).is_file()
    modified = (out / "class_a" / "one" / "flow_x_00001.jpg").stat().st_mtime_ns

    def must_not_run(*args, **kwargs):
        raise AssertionError("a finished video was recomputed")

    monkeypatch.setattr(extract_module, "extract_video_flow", must_not_run)
    again = extract_dataset_flow(dataset, out, method="farneback", progress=False)
    assert (len(again.done), len(again.skipped), len(again.failed)) == (0, 3, 0)
    assert (out / "class_a" / "one" / "flow_x_00001.jpg").stat().st_mtime_ns == modified

    # an unfinished output (no done-file) and another method are recomputed
    (out / "class_b" / "three" / DONE_FILE).unlink()
    monkeypatch.undo()
    partial = extract_dataset_flow(dataset, out, method="farneback", progress=False)
    assert [p.name for p in partial.done] == ["three.mp4"] and len(partial.skipped) == 2
    other = extract_dataset_flow(dataset, out, method="dis", format="npz", progress=False, resume=True)
    assert len(other.done) == 3


def test_shards_are_disjoint_and_cover_everything(dataset: Path, tmp_path: Path) -> None:
    done: list[set[str]] = []
    for index in range(2):
        summary = extract_dataset_flow(dataset, tmp_path / "flow", method="farneback", shard=(index, 2), progress=False)
        done.append({path.name for path in summary.done})
    assert done[0].isdisjoint(done[1])
    assert done[0] | done[1] == {path.name for path in find_videos(dataset)} == {"one.mp4", "two.avi", "three.mp4"}


def test_videos_sharing_an_output_folder_are_refused(dataset: Path, tmp_path: Path) -> None:
    write_test_video(dataset / "class_a" / "one.avi", num_frames=2)
    with pytest.raises(ValueError, match=r"one\.avi and .*one\.mp4 would share"):
        extract_dataset_flow(dataset, tmp_path / "flow", method="farneback", shard=(1, 2), progress=False)
    assert not (tmp_path / "flow").exists()


def test_failures_are_counted_or_raised(dataset: Path, tmp_path: Path) -> None:
    (dataset / "class_b" / "broken.mp4").write_bytes(b"garbage" * 100)
    summary = extract_dataset_flow(dataset, tmp_path / "flow", method="farneback", progress=False)
    assert len(summary.done) == 3 and len(summary.failed) == 1
    path, message = summary.failed[0]
    assert path.name == "broken.mp4" and "VideoDecodeError" in message
    assert "1 failed" in str(summary)
    with pytest.raises(VideoDecodeError, match=r"broken\.mp4"):
        extract_dataset_flow(dataset, tmp_path / "flow", method="farneback", progress=False, on_error="raise")


@pytest.mark.slow  # worker processes each import torch and OpenCV
def test_list_of_files_and_worker_processes(dataset: Path, tmp_path: Path) -> None:
    videos = find_videos(dataset)
    (dataset / "class_b" / "broken.mp4").write_bytes(b"garbage" * 100)
    summary = extract_dataset_flow([*videos, dataset / "class_b" / "broken.mp4"], tmp_path / "flow",
                                   method="dis", workers=2, progress=False, size=24)  # fmt: skip
    assert len(summary.done) == 3 and [p.name for p, _ in summary.failed] == ["broken.mp4"]
    flow = read_flow_frames(tmp_path / "flow" / "class_a" / "one", range(4))
    assert flow.shape == (4, 2, 24, 32)  # the worker received the keyword options
