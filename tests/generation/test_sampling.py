"""Sampling helpers: class names to indices, seeded samples, the video grid; frame repetition in the protocols."""

from __future__ import annotations

import pytest
import torch

from vidlearn.generation.judge import judge_scorer
from vidlearn.generation.metrics import FVDProtocol, prepare_clips
from vidlearn.generation.models import build_dvdgan
from vidlearn.generation.sampling import class_indices, sample_clips, video_grid

CLASSES = ["move_right", "move_left", "move_up", "move_down"]


def test_class_indices_takes_names_and_indices_and_names_the_known_classes() -> None:
    assert class_indices(["move_up", "0", 3], CLASSES, 4) == [2, 0, 3]
    with pytest.raises(ValueError, match=r"^unknown class 'jump'; the generator knows: move_right, move_left, "
                                         r"move_up, move_down \(or an index 0-3\)$"):
        class_indices(["jump"], CLASSES, 4)
    with pytest.raises(ValueError, match="unknown class '4'"):
        class_indices(["4"], CLASSES, 4)
    with pytest.raises(ValueError, match="the generator has no class names; give an index 0-2"):
        class_indices(["cat"], [], 3)


def test_video_grid_places_each_clip_in_its_tile() -> None:
    clips = torch.full((3, 3, 2, 2, 2), -1.0)
    clips[1] = 1.0  # the second clip white, the others black
    grid = video_grid(clips, ncol=2, scale=2, padding=1)
    # 2 rows x 2 columns of 4-px tiles with 1-px gaps: 2 * 5 + 1 = 11 on each side
    assert grid.shape == (2, 11, 11, 3) and grid.dtype == torch.uint8
    assert grid[:, 1:5, 1:5].unique().tolist() == [0]  # clip 0, row 0, column 0
    assert grid[:, 1:5, 6:10].unique().tolist() == [255]  # clip 1, row 0, column 1
    assert grid[:, 6:10, 1:5].unique().tolist() == [0]  # clip 2, row 1, column 0
    assert grid[:, 6:10, 6:10].unique().tolist() == [255]  # the empty tile stays background
    with pytest.raises(ValueError, match=r"clips must be \(N, 3, T, H, W\)"):
        video_grid(torch.zeros(3, 2, 4, 4))


def test_sample_clips_is_seeded_and_class_major() -> None:
    torch.manual_seed(0)
    g = build_dvdgan(num_classes=4, resolution=16, num_frames=2, ch=1, k=2, z_dim=4, embed_dim=4).generator
    clips, labels = sample_clips(g, [2, 0], num=2, seed=5, truncation=1.0)
    again, _ = sample_clips(g, [2, 0], num=2, seed=5, truncation=1.0)
    assert clips.shape == (4, 3, 2, 16, 16) and labels.tolist() == [2, 2, 0, 0]
    torch.testing.assert_close(clips, again)
    other, _ = sample_clips(g, [2, 0], num=2, seed=6, truncation=1.0)
    assert not torch.allclose(clips, other)


def test_repeat_frames_slows_the_clip_for_a_16_frame_network() -> None:
    clips = torch.linspace(-1, 1, 4).view(1, 1, 4, 1, 1).expand(2, 3, 4, 2, 2).contiguous()
    prepared = prepare_clips(clips, FVDProtocol(resize=None, clip_length=4, repeat_frames=2))
    assert prepared.shape == (2, 3, 8, 2, 2)
    torch.testing.assert_close(prepared[0, 0, :, 0, 0], clips[0, 0, :, 0, 0].repeat_interleave(2))
    assert FVDProtocol(repeat_frames=2).as_dict()["repeat_frames"] == 2
    with pytest.raises(ValueError, match="repeat_frames must be >= 1"):
        prepare_clips(clips, FVDProtocol(resize=None, clip_length=4, repeat_frames=0))
    assert judge_scorer(8).repeat_frames == 2 and judge_scorer(16).repeat_frames == 1
    assert judge_scorer(8, resolution=16).resize == (32, 32) and judge_scorer(8, resolution=64).resize is None
    with pytest.raises(ValueError, match="clips of 6 frames cannot be repeated"):
        judge_scorer(6)
