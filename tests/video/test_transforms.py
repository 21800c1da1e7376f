"""Clip transforms: exact pixels on small arange clips, one draw per clip, torchvision agreement."""

from __future__ import annotations

import pytest
import torch
import torchvision.transforms.functional as TF

from vidlearn.video.transforms import (
    CenterCrop,
    MultiScaleCrop,
    Normalize,
    RandomCrop,
    RandomHorizontalFlip,
    Resize,
    ResizeShortSide,
    TenCrop,
    ThreeCrop,
    ToCTHW,
    ToTCHW,
)


def arange_clip(t: int = 2, c: int = 3, h: int = 6, w: int = 8, dtype=torch.float32) -> torch.Tensor:
    return torch.arange(t * c * h * w).reshape(t, c, h, w).to(dtype)


def frame_coded_clip(t: int = 3, h: int = 12, w: int = 16) -> torch.Tensor:
    """Frame k = the same image + 1000 * k, so a shared crop shows as a constant frame difference."""
    base = torch.arange(3 * h * w, dtype=torch.float32).reshape(1, 3, h, w) % 251
    return base + 1000.0 * torch.arange(t, dtype=torch.float32).view(t, 1, 1, 1)


def test_layout_permutes():
    thwc = torch.arange(2 * 4 * 5 * 3, dtype=torch.uint8).reshape(2, 4, 5, 3)
    tchw = ToTCHW()(thwc)
    assert tchw.shape == (2, 3, 4, 5)
    assert tchw[1, 2, 3, 4] == thwc[1, 3, 4, 2]
    cthw = ToCTHW()(tchw)
    assert cthw.shape == (3, 2, 4, 5)
    assert cthw[2, 1, 3, 4] == thwc[1, 3, 4, 2]
    assert ToCTHW()(torch.zeros(10, 2, 3, 4, 5)).shape == (10, 3, 2, 4, 5)
    with pytest.raises(ValueError, match=r"ToTCHW: expected a clip .*got shape \(4, 5, 3\)"):
        ToTCHW()(thwc[0])


def test_center_crop_exact_pixels():
    clip = arange_clip(h=7, w=8)
    out = CenterCrop((4, 4))(clip)
    # top = round(3 / 2) = 2 (half to even), left = round(4 / 2) = 2
    torch.testing.assert_close(out, clip[:, :, 2:6, 2:6], rtol=0, atol=0)
    assert CenterCrop(3)(clip).shape == (2, 3, 3, 3)


def test_random_crop_same_window_every_frame_and_seeded():
    clip = frame_coded_clip()
    out = RandomCrop((5, 7), generator=3)(clip)
    assert out.shape == (3, 3, 5, 7)
    for k in range(3):
        torch.testing.assert_close(out[k] - out[0], torch.full_like(out[0], 1000.0 * k))
    again = RandomCrop((5, 7), generator=3)(clip)
    torch.testing.assert_close(out, again, rtol=0, atol=0)
    # the output is a window of the input: find it from its first pixel of an arange clip
    ar = arange_clip(h=6, w=8)
    seen = set()
    for seed in range(200):
        crop = RandomCrop((4, 5))(ar, generator=seed)
        first = int(crop[0, 0, 0, 0])
        top, left = divmod(first, 8)
        torch.testing.assert_close(crop, ar[:, :, top : top + 4, left : left + 5], rtol=0, atol=0)
        seen.add((top, left))
    assert seen == {(t, left) for t in range(3) for left in range(4)}


def test_flip_exact_and_flow_negates_x():
    clip = arange_clip()
    torch.testing.assert_close(RandomHorizontalFlip(p=1.0)(clip), clip.flip(-1), rtol=0, atol=0)
    assert RandomHorizontalFlip(p=0.0)(clip) is clip
    flow = torch.randn(4, 2, 5, 6, generator=torch.Generator().manual_seed(0))
    flipped = RandomHorizontalFlip(p=1.0, flow=True)(flow)
    torch.testing.assert_close(flipped[:, 0], -flow[:, 0].flip(-1), rtol=0, atol=0)
    torch.testing.assert_close(flipped[:, 1], flow[:, 1].flip(-1), rtol=0, atol=0)
    # one decision per clip: either every frame is mirrored or none is
    coded = frame_coded_clip()
    for seed in range(10):
        out = RandomHorizontalFlip(generator=seed)(coded)
        mirrored = [torch.equal(out[k], coded[k].flip(-1)) for k in range(3)]
        assert all(mirrored) or not any(mirrored)
    with pytest.raises(ValueError, match="flow=True expects signed flow"):
        RandomHorizontalFlip(p=1.0, flow=True)(torch.zeros(2, 3, 4, 4, dtype=torch.uint8))


@pytest.mark.parametrize(
    ("value_range", "expected"),
    [((0, 255), lambda x: x), ((0, 1), lambda x: x / 255.0), ((-1, 1), lambda x: x / 127.5 - 1.0)],
)
def test_normalize_value_ranges(value_range, expected):
    clip = torch.arange(256, dtype=torch.uint8).repeat(3, 1).reshape(1, 3, 16, 16)
    mean, std = (0.1, 0.2, 0.3), (0.5, 0.25, 2.0)
    out = Normalize(mean, std, value_range=value_range)(clip)
    assert out.dtype == torch.float32
    raw = clip.double()
    ref = (expected(raw) - torch.tensor(mean, dtype=torch.float64).view(3, 1, 1)) / torch.tensor(
        std, dtype=torch.float64
    ).view(3, 1, 1)
    torch.testing.assert_close(out.double(), ref, rtol=1e-6, atol=1e-5)


def test_normalize_bgr_reverses_channels_before_mean_std():
    clip = torch.stack([torch.full((2, 2), v) for v in (10.0, 20.0, 30.0)]).unsqueeze(0)  # R, G, B
    out = Normalize((1.0, 2.0, 3.0), (1.0, 2.0, 4.0), channel_order="BGR", value_range=(0, 255))(clip)
    # channel 0 is now blue: (30 - 1) / 1, green (20 - 2) / 2, red (10 - 3) / 4
    assert out[0, :, 0, 0].tolist() == [29.0, 9.0, 1.75]
    assert Normalize((0.0,) * 3, (1.0,) * 3, value_range=(0, 255))(clip.double()).dtype == torch.float64
    with pytest.raises(ValueError, match="clip has 3 channels but mean/std have 2 values"):
        Normalize((0.0, 0.0), (1.0, 1.0))(clip)
    with pytest.raises(ValueError, match=r"value_range must be one of .*got \(0.0, 2.0\)"):
        Normalize((0.0,) * 3, (1.0,) * 3, value_range=(0, 2))


def test_ten_crop_matches_torchvision_per_frame():
    clip = arange_clip(t=3, h=9, w=11)
    views = TenCrop((4, 5))(clip)
    assert views.shape == (10, 3, 3, 4, 5)
    for k in range(3):
        reference = TF.ten_crop(clip[k], [4, 5])
        for v in range(10):
            torch.testing.assert_close(views[v, k], reference[v], rtol=0, atol=0)
    flow = torch.randn(2, 2, 6, 6, generator=torch.Generator().manual_seed(1))
    flow_views = TenCrop(4, flow=True)(flow)
    torch.testing.assert_close(flow_views[5, :, 0], -TF.five_crop(flow.flip(-1), [4, 4])[0][:, 0])
    torch.testing.assert_close(flow_views[0], TF.five_crop(flow, [4, 4])[0], rtol=0, atol=0)


def test_three_crop_positions():
    wide = arange_clip(h=6, w=11)
    views = ThreeCrop(6)(wide)
    assert views.shape == (3, 2, 3, 6, 6)
    for v, left in enumerate([0, 2, 5]):  # centre: round(5 / 2) = 2, last flush right
        torch.testing.assert_close(views[v], wide[..., :, left : left + 6], rtol=0, atol=0)
    # the centre view is torchvision's centre crop
    torch.testing.assert_close(views[1], TF.five_crop(wide, [6, 6])[4], rtol=0, atol=0)
    tall = arange_clip(h=10, w=6)
    views = ThreeCrop(6)(tall)
    for v, top in enumerate([0, 2, 4]):
        torch.testing.assert_close(views[v], tall[..., top : top + 6, :], rtol=0, atol=0)


def tsn_crop_pairs(h: int, w: int, out: int, scales, max_distort: int) -> set[tuple[int, int]]:
    sizes = [int(min(h, w) * s) for s in scales]
    snapped = [out if abs(s - out) < 3 else s for s in sizes]
    return {
        (snapped[i], snapped[j])
        for i in range(len(sizes))
        for j in range(len(sizes))
        if abs(i - j) <= max_distort
    }


def test_multi_scale_crop_candidates_offsets_and_shared_draw():
    msc = MultiScaleCrop(224)
    pairs = msc.crop_candidates(256, 340)
    assert set(pairs) == tsn_crop_pairs(256, 340, 224, (1, 0.875, 0.75, 0.66), 1)
    assert len(pairs) == 10 and (224, 224) in pairs and (168, 192) in pairs
    offsets = msc.fixed_offsets(256, 340, 224, 224)  # h_step 8, w_step 29
    assert offsets[:5] == [(0, 0), (0, 116), (32, 0), (32, 116), (16, 58)]
    assert len(set(offsets)) == 13
    clip = frame_coded_clip(t=2, h=20, w=24)
    out = MultiScaleCrop(8, generator=0)(clip)
    assert out.shape == (2, 3, 8, 8)
    torch.testing.assert_close(out[1] - out[0], torch.full_like(out[0], 1000.0), atol=1e-2, rtol=0)
    torch.testing.assert_close(out, MultiScaleCrop(8, generator=0)(clip), rtol=0, atol=0)


def test_resize_is_batched_per_frame_equivalent_and_keeps_dtype():
    clip = torch.randint(
        0, 256, (3, 3, 12, 16), dtype=torch.uint8, generator=torch.Generator().manual_seed(0)
    )
    out = ResizeShortSide(6)(clip)
    assert out.shape == (3, 3, 6, 8) and out.dtype == torch.uint8
    as_float = ResizeShortSide(6)(clip.float())
    for k in range(3):
        # float: bit-identical to resizing each frame alone; uint8 takes a vectorised path that
        # rounds differently, within one grey level
        torch.testing.assert_close(
            as_float[k], TF.resize(clip[k].float(), [6], antialias=True), rtol=0, atol=0
        )
        torch.testing.assert_close(out[k], TF.resize(clip[k], [6], antialias=True), rtol=0, atol=1)
    assert Resize((5, 7))(clip.float()).shape == (3, 3, 5, 7)
    assert ResizeShortSide(4)(torch.zeros(2, 3, 10, 6)).shape == (2, 3, 6, 4)


def test_resize_flow_scales_displacements():
    flow = torch.ones(2, 2, 8, 8)
    flow[:, 1] = 3.0
    out = Resize((4, 16), flow=True)(flow)
    torch.testing.assert_close(out[:, 0], torch.full((2, 4, 16), 2.0))  # x doubled with the width
    torch.testing.assert_close(out[:, 1], torch.full((2, 4, 16), 1.5))  # y halved with the height


def test_crop_too_large_names_sizes():
    with pytest.raises(ValueError, match=r"RandomCrop: crop 8x8 \(HxW\) is larger than the frames 6x10"):
        RandomCrop(8)(torch.zeros(1, 3, 6, 10))
    with pytest.raises(ValueError, match=r"TenCrop: crop 7x7"):
        TenCrop(7)(torch.zeros(1, 3, 6, 10))


DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.uint8, torch.float64])
@pytest.mark.parametrize(
    "transform",
    [
        ResizeShortSide(4),
        Resize((3, 5)),
        RandomCrop(3, generator=0),
        CenterCrop(3),
        ThreeCrop(4),
        TenCrop(3),
        MultiScaleCrop(4, generator=0),
        RandomHorizontalFlip(p=1.0),
    ],
    ids=repr,
)
def test_dtype_and_device_preserved(transform, dtype, device):
    clip = torch.arange(2 * 3 * 6 * 8).reshape(2, 3, 6, 8).remainder(256).to(dtype=dtype, device=device)
    out = transform(clip)
    assert out.dtype == dtype and out.device == clip.device
