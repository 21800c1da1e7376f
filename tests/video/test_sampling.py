"""Frame-index samplers: exact indices against independently written reference formulas."""

from __future__ import annotations

import numpy as np
import pytest

from vidlearn.video.sampling import (
    CenterClipSampler,
    ClipTooShortError,
    DenseSampler,
    RandomClipSampler,
    SegmentSampler,
    UniformClipSampler,
    make_sampler,
)


def mmaction2_test_indices(num_frames: int, clip_len: int, interval: int, num_clips: int) -> list[list[int]]:
    """MMAction2 ``SampleFrames(test_mode=True)`` for 3D models, written out with plain Python."""
    span = (clip_len - 1) * interval + 1
    max_offset = max(num_frames - span, 0)
    if num_clips == 1:
        starts = [max_offset // 2]
    else:
        # Python's round() rounds half to even, like numpy's.
        starts = [round(i * max_offset / (num_clips - 1)) for i in range(num_clips)]
    return [[(s + j * interval) % num_frames for j in range(clip_len)] for s in starts]


def mmaction2_dense_test_indices(
    num_frames: int, clip_len: int, interval: int, num_clips: int, sample_range: int, positions: int
) -> list[list[int]]:
    sample_position = max(1, 1 + num_frames - sample_range)
    gap = sample_range // num_clips
    rows = []
    for p in range(positions):
        # linspace(0, sample_position - 1, positions) truncated towards zero
        start = 0 if positions == 1 else int(p * (sample_position - 1) / (positions - 1))
        for c in range(num_clips):
            offset = (start + c * gap) % num_frames
            rows.append([(offset + j * interval) % num_frames for j in range(clip_len)])
    return rows


@pytest.mark.parametrize(
    ("num_frames", "clip_len", "interval", "num_clips"),
    [(300, 16, 1, 10), (100, 8, 8, 3), (37, 4, 2, 4), (64, 32, 2, 1), (20, 4, 2, 3), (33, 16, 2, 2)],
)
def test_uniform_matches_mmaction2_test_mode(num_frames, clip_len, interval, num_clips):
    sampler = UniformClipSampler(clip_len, num_clips, interval)
    indices = sampler(num_frames)
    assert indices.dtype == np.int64
    assert indices.shape == (num_clips, clip_len)
    assert indices.tolist() == mmaction2_test_indices(num_frames, clip_len, interval, num_clips)


def test_uniform_rounds_half_to_even_like_mmaction2():
    # max_offset = 20 - 7 = 13, offsets 0, 6.5, 13 -> 0, 6, 13
    assert UniformClipSampler(4, 3, 2)(20)[:, 0].tolist() == [0, 6, 13]


@pytest.mark.parametrize(("num_frames", "expected_start"), [(16, 0), (17, 0), (18, 1), (100, 42)])
def test_center_clip(num_frames, expected_start):
    indices = CenterClipSampler(16)(num_frames)
    assert indices.tolist() == [list(range(expected_start, expected_start + 16))]


def test_required_frames():
    assert RandomClipSampler(16, 4).required_frames == 61
    assert UniformClipSampler(8, 10, 8).required_frames == 57
    assert DenseSampler(8, 8, 1).required_frames == 57
    assert DenseSampler(4, 1, 4, sample_range=64).required_frames == 3 * 16 + 4


def test_random_is_deterministic_under_seed_and_covers_all_starts():
    sampler = RandomClipSampler(4, 2)
    a = sampler(20, rng=np.random.default_rng(7))
    b = sampler(20, rng=np.random.default_rng(7))
    np.testing.assert_array_equal(a, b)
    starts = {int(sampler(20, rng=seed)[0, 0]) for seed in range(400)}
    # span 7, so starts 0..13 are valid; the last one too.
    assert starts == set(range(14))
    clip = sampler(20, rng=3)[0]
    assert np.all(np.diff(clip) == 2)


def test_too_short_raises_by_default_with_numbers():
    with pytest.raises(ClipTooShortError, match=r"num_frames=10 .*requires 16 frames"):
        CenterClipSampler(16)(10)
    with pytest.raises(ClipTooShortError, match=r"requires 61"):
        RandomClipSampler(16, 4)(60, rng=0)
    with pytest.raises(ClipTooShortError, match=r"num_frames=0"):
        CenterClipSampler(4, pad="loop")(0)
    assert issubclass(ClipTooShortError, ValueError)


def test_loop_and_repeat_last_padding_match_mmaction2():
    # 6 frames, clip 0,2,4,6,8: loop -> 0,2,4,0,2; repeat_last -> 0,2,4,4,4
    assert CenterClipSampler(5, 2, pad="loop")(6).tolist() == [[0, 2, 4, 0, 2]]
    assert CenterClipSampler(5, 2, pad="repeat_last")(6).tolist() == [[0, 2, 4, 4, 4]]
    assert UniformClipSampler(4, 2, pad="loop")(3).tolist() == [[0, 1, 2, 0], [0, 1, 2, 0]]


def test_target_fps_changes_the_stride():
    sampler = CenterClipSampler(4, 2, target_fps=15)
    # 60 fps video: stride = 60 / 15 * 2 = 8, span 25, max_offset 75, start 37
    assert sampler(100, fps=60.0).tolist() == [[37, 45, 53, 61]]
    # 29.97 fps: stride round(3.996) = 4
    assert np.all(np.diff(sampler(100, fps=29.97)[0]) == 4)
    assert sampler.stride(10.0) == 1  # never below one frame
    with pytest.raises(ValueError, match="needs the video's fps"):
        sampler(100)


@pytest.mark.parametrize(
    ("num_frames", "clip_len", "interval", "num_clips", "sample_range", "positions"),
    [(300, 8, 8, 1, 64, 10), (100, 4, 1, 4, 64, 10), (40, 2, 1, 2, 16, 3), (64, 8, 8, 1, 64, 10)],
)
def test_dense_test_mode_matches_mmaction2(
    num_frames, clip_len, interval, num_clips, sample_range, positions
):
    sampler = DenseSampler(
        clip_len, interval, num_clips, sample_range=sample_range, num_sample_positions=positions
    )
    indices = sampler(num_frames)
    expected = mmaction2_dense_test_indices(
        num_frames, clip_len, interval, num_clips, sample_range, positions
    )
    assert indices.shape == (positions * num_clips, clip_len)
    assert indices.tolist() == expected


def test_dense_train_draws_one_view_inside_range():
    sampler = DenseSampler(4, 2, 2, sample_range=16, train=True)
    starts = {int(sampler(40, rng=seed)[0, 0]) for seed in range(300)}
    assert starts == set(range(40 - 16 + 1))
    rows = sampler(40, rng=1)
    assert rows.shape == (2, 4)
    assert rows[1, 0] - rows[0, 0] == 8


def tsn_test_offsets(num_frames: int, new_length: int, num_segments: int) -> list[int]:
    tick = (num_frames - new_length + 1) / float(num_segments)
    return [int(tick / 2.0 + tick * x) for x in range(num_segments)]


@pytest.mark.parametrize(
    ("num_frames", "new_length", "segments"), [(100, 1, 3), (91, 5, 25), (7, 1, 8), (30, 5, 3)]
)
def test_segment_test_mode_matches_tsn(num_frames, new_length, segments):
    indices = SegmentSampler(segments, new_length, train=False)(num_frames)
    assert indices.shape == (segments, new_length)
    assert indices[:, 0].tolist() == tsn_test_offsets(num_frames, new_length, segments)
    assert np.all(np.diff(indices, axis=1) == 1)


def test_segment_train_one_draw_per_segment():
    sampler = SegmentSampler(3, train=True)
    seen = [set(), set(), set()]
    for seed in range(200):
        for k, start in enumerate(sampler(30, rng=seed)[:, 0]):
            seen[k].add(int(start))
    assert seen == [set(range(0, 10)), set(range(10, 20)), set(range(20, 30))]
    # fewer frames than segments: sorted draws, still in range
    few = sampler(2, rng=0)[:, 0]
    assert np.all(np.diff(few) >= 0) and few.max() <= 1


def test_make_sampler_and_errors():
    sampler = make_sampler("uniform", clip_len=8, num_clips=2)
    assert isinstance(sampler, UniformClipSampler) and sampler.num_clips == 2
    assert isinstance(make_sampler("SegmentSampler", num_segments=3, train=False), SegmentSampler)
    with pytest.raises(ValueError, match=r"unknown sampler 'unifrom'.*did you mean 'uniform'"):
        make_sampler("unifrom", clip_len=8)
    with pytest.raises(ValueError, match="pad must be one of"):
        RandomClipSampler(8, pad="zeros")
    with pytest.raises(ValueError, match="clip_len must be a positive integer, got 0"):
        CenterClipSampler(0)
    with pytest.raises(TypeError, match="num_frames must be an int"):
        CenterClipSampler(4)(10.0)


def test_fresh_generator_without_rng():
    sampler = RandomClipSampler(2)
    draws = {int(sampler(1000)[0, 0]) for _ in range(20)}
    assert len(draws) > 1
