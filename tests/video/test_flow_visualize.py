"""Flow colour coding (Middlebury wheel) and its PNG / MP4 output."""

from __future__ import annotations

import av
import cv2
import numpy as np
import pytest
import torch
from torchvision.utils import flow_to_image

from vidlearn.video.flow import flow_to_color, write_flow_image, write_flow_video
from vidlearn.video.flow.visualize import color_wheel


def rightward(height: int = 8, width: int = 10, speed: float = 2.0) -> torch.Tensor:
    flow = torch.zeros(2, height, width)
    flow[0] = speed
    return flow


def test_zero_is_white_and_shapes() -> None:
    flow = torch.zeros(3, 2, 8, 10)
    flow[1] = rightward()
    color = flow_to_color(flow)
    assert color.shape == (3, 8, 10, 3) and color.dtype == torch.uint8
    assert (color[0] == 255).all()  # no motion anywhere in frame 0
    assert flow_to_color(flow[1]).shape == (8, 10, 3)


def test_direction_colours_match_torchvision() -> None:
    flow = torch.zeros(2, 4, 4)
    flow[0, :2], flow[1, 2:] = 3.0, -3.0  # top half right, bottom half up
    color = flow_to_color(flow)
    torch.testing.assert_close(color, flow_to_image(flow).permute(1, 2, 0))
    assert not torch.equal(color[0, 0], color[3, 3])  # two directions, two hues


def test_one_scale_for_a_clip() -> None:
    # frame 1 moves half as fast: on a shared scale it is paler, not identical to frame 0
    clip = torch.stack([rightward(speed=4.0), rightward(speed=2.0)])
    color = flow_to_color(clip).int()
    assert (255 - color[1]).sum() < (255 - color[0]).sum()
    separate = flow_to_color(clip[1]).int()
    torch.testing.assert_close(separate, color[0])  # alone, its own maximum saturates


def test_max_flow_fixes_the_scale_and_clips() -> None:
    slow = flow_to_color(rightward(speed=1.0), max_flow=2.0)
    fast = flow_to_color(rightward(speed=2.0), max_flow=4.0)
    torch.testing.assert_close(slow, fast)  # same fraction of max_flow, same colour
    assert (255 - slow.int()).sum() < (255 - flow_to_color(rightward(speed=1.0)).int()).sum()
    clipped = flow_to_color(rightward(speed=50.0), max_flow=2.0)
    torch.testing.assert_close(clipped, flow_to_color(rightward(speed=2.0), max_flow=2.0))
    with pytest.raises(ValueError, match="max_flow"):
        flow_to_color(rightward(), max_flow=0.0)
    with pytest.raises(ValueError, match=r"\(2, H, W\)"):
        flow_to_color(torch.zeros(3, 4, 4))


def test_png_is_rgb_on_disk(tmp_path) -> None:
    flow = rightward()
    path = write_flow_image(flow, tmp_path / "flow.png")
    on_disk = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
    np.testing.assert_array_equal(on_disk, flow_to_color(flow).numpy())
    with pytest.raises(ValueError, match="one flow field"):
        write_flow_image(torch.zeros(2, 2, 4, 4), tmp_path / "two.png")


def test_mp4_has_one_frame_per_field(tmp_path) -> None:
    clip = torch.stack([rightward(32, 48, speed) for speed in (1.0, 2.0, 3.0, 4.0)])
    path = write_flow_video(clip, tmp_path / "flow.mp4", fps=5)
    with av.open(str(path)) as container:
        frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]
    assert len(frames) == 4 and frames[0].shape == (32, 48, 3)
    # the fastest field is the most saturated after lossy encoding too
    assert frames[3].astype(int).sum() < frames[0].astype(int).sum()


def test_color_wheel_is_the_key_of_flow_to_color() -> None:
    wheel = color_wheel(33)
    assert wheel.shape == (33, 33, 3) and wheel.dtype == torch.uint8
    full = 16.0  # the rim: a vector of the full scale
    for (row, col), vector in {(16, 32): (full, 0.0), (16, 0): (-full, 0.0), (32, 16): (0.0, full),
                               (0, 16): (0.0, -full), (16, 24): (full / 2, 0.0)}.items():
        expected = flow_to_color(torch.tensor(vector).view(2, 1, 1), max_flow=full)[0, 0]
        assert torch.equal(wheel[row, col], expected), (row, col)
    assert wheel[16, 16].tolist() == [255, 255, 255] and wheel[0, 0].tolist() == [255, 255, 255]


def test_png_with_key_shows_the_field_and_the_wheel(tmp_path) -> None:
    flow = rightward(32, 48, 2.0)
    path = write_flow_image(flow, tmp_path / "flow.png", key=True)
    on_disk = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
    assert on_disk.shape == (80, 48 + 8 + 64, 3)  # the key: 64 px wheel + its label under it
    np.testing.assert_array_equal(on_disk[:32, :48], flow_to_color(flow).numpy())
    np.testing.assert_array_equal(on_disk[:64, 56:], color_wheel(64).numpy())
    assert (on_disk[64:, 56:] < 128).any()  # the scale label
