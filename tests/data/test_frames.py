"""Frame sources (vidlearn.data.frames): video files, frame folders (rawframes, MOTChallenge img1), flow."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from vidlearn.data.frames import FlowFrames, JpegFrames, VideoFileFrames, resized_shape
from vidlearn.video import probe_video, write_video
from vidlearn.video.backends.pyav import PyAVBackend
from vidlearn.video.errors import VideoDecodeError


@pytest.mark.parametrize(
    ("height", "width", "size", "expected"),
    [(240, 320, None, (240, 320)), (240, 320, 128, (128, 171)), (320, 240, 128, (171, 128)), (9, 7, (4, 5), (4, 5))],
)
def test_resized_shape(height, width, size, expected):
    assert resized_shape(height, width, size) == expected


def test_mot_style_frame_folder_reads_one_based_six_digit_names(tmp_path):
    img1 = tmp_path / "MOT17-02" / "img1"
    img1.mkdir(parents=True)
    for number in range(1, 6):  # MOTChallenge: 000001.jpg is frame 1
        cv2.imwrite(str(img1 / f"{number:06d}.jpg"), np.full((12, 20, 3), number * 40, np.uint8))
    (img1 / "notes.txt").write_text("not a frame")
    frames = JpegFrames(str(img1), num_frames=None, filename_tmpl="{:06d}.jpg", start_index=1)
    assert frames.num_frames == 5 and frames.fps is None  # counted: the five .jpg files
    clip = frames.get([4, 0], size=6)
    assert clip.shape == (2, 6, 10, 3) and clip.dtype == torch.uint8
    assert abs(int(clip[0, 3, 5, 0]) - 200) <= 3 and abs(int(clip[1, 3, 5, 0]) - 40) <= 3
    with pytest.raises(VideoDecodeError, match=r"000007\.jpg: frame image missing or unreadable \(frame index 6\)"):
        frames.get([6])
    with pytest.raises(VideoDecodeError, match="frame folder not found"):
        JpegFrames(str(tmp_path / "nowhere"), 3)


def test_flow_folder_counts_fields_and_scales_vectors_with_the_image(tmp_path):
    from vidlearn.video.flow.storage import write_flow_frames

    flow = torch.zeros(4, 2, 8, 8)
    flow[:, 0] = 4.0
    write_flow_frames(flow, tmp_path / "v")
    source = FlowFrames(str(tmp_path / "v"))
    assert source.num_frames == 4 and source.fps is None
    resized = source.get([0, 3], size=(4, 4))
    assert resized.shape == (2, 2, 4, 4)
    assert torch.allclose(resized[:, 0], torch.full((2, 4, 4), 2.0), atol=0.1)  # half the size, half the motion


def test_video_file_with_index_metadata_opens_without_the_packet_pass(tmp_path, monkeypatch):
    frames = np.stack([np.full((16, 16, 3), 20 * i, np.uint8) for i in range(12)])
    path = write_video(tmp_path / "v.mp4", frames, 25, codec="mpeg4", gop=4)
    info = probe_video(path)
    assert info.frame_table is not None and info.frame_table.num_frames == 12
    passes = []
    original = PyAVBackend._build_index
    monkeypatch.setattr(PyAVBackend, "_build_index", lambda self, deadline: passes.append(1) or original(self, deadline))
    known = VideoFileFrames(str(path), backend="pyav", metadata=info)
    assert passes == [] and (known.num_frames, known.fps) == (12, 25.0)
    plain = VideoFileFrames(str(path), backend="pyav")
    assert passes == [1]
    assert torch.equal(known.get([11, 3, 4, 0], size=8), plain.get([11, 3, 4, 0], size=8))
    known.close()
    plain.close()
