"""Quality metrics under named protocols (vidlearn.superres.metrics), checked against scikit-image."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from vidlearn.superres.degrade import bd_degrade, crop_to_multiple
from vidlearn.superres.metrics import (
    PROTOCOLS,
    MetricProtocol,
    evaluate_sequence,
    psnr,
    rgb_to_y,
    ssim,
    temporal_difference_error,
    tof,
)

skimage = pytest.importorskip("skimage")
from skimage.color import rgb2ycbcr  # noqa: E402
from skimage.metrics import peak_signal_noise_ratio, structural_similarity  # noqa: E402


@pytest.fixture(scope="module")
def real_pair(shared_data: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """Ground truth: 8 real UCF-101 frames; prediction: bicubic x4 from their BD x4 LR frames."""
    from vidlearn.video import VideoReader

    with VideoReader(shared_data / "clips" / "ucf101_c3d_keras" / "v_Biking_g05_c02.avi") as reader:
        frames = reader.get_frames(list(range(8)))
    truth = crop_to_multiple(frames.permute(0, 3, 1, 2).to(torch.float64) / 255.0, 4)
    lr = bd_degrade(truth, scale=4, sigma=1.5)
    pred = F.interpolate(lr, scale_factor=4, mode="bicubic", align_corners=False).clamp(0, 1)
    return pred, truth


def to_hwc_uint8(frame: torch.Tensor) -> np.ndarray:
    return (frame * 255).round().clamp(0, 255).to(torch.uint8).permute(1, 2, 0).numpy()


def test_bt601_luma_equals_scikit_image() -> None:
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (6, 7, 3), dtype=np.uint8)
    expected = rgb2ycbcr(rgb)[..., 0]
    ours = rgb_to_y(torch.from_numpy(rgb).permute(2, 0, 1).to(torch.float64))[0].numpy()
    np.testing.assert_allclose(ours, expected, rtol=0, atol=1e-9)
    assert ours.min() >= 16 and ours.max() <= 235


@pytest.mark.shared_data
def test_y_psnr_and_ssim_equal_scikit_image_on_real_frames(real_pair: tuple[torch.Tensor, torch.Tensor]) -> None:
    pred, truth = real_pair
    options = {"channel": "y", "crop_border": 8, "quantize": True}
    ours_psnr = psnr(pred, truth, **options)
    ours_ssim = ssim(pred, truth, **options)
    assert ours_psnr.shape == ours_ssim.shape == (8,)
    for t in range(8):
        y_pred = rgb2ycbcr(to_hwc_uint8(pred[t]))[8:-8, 8:-8, 0]
        y_true = rgb2ycbcr(to_hwc_uint8(truth[t]))[8:-8, 8:-8, 0]
        assert ours_psnr[t].item() == pytest.approx(peak_signal_noise_ratio(y_true, y_pred, data_range=255), abs=1e-6)
        reference = structural_similarity(y_true, y_pred, data_range=255, gaussian_weights=True, sigma=1.5,
                                          use_sample_covariance=False)
        assert ours_ssim[t].item() == pytest.approx(reference, abs=1e-6)
    # bicubic from BD x4 on real footage: a plausible, not a perfect, score
    assert 18 < ours_psnr.mean().item() < 40


@pytest.mark.shared_data
def test_rgb_ssim_is_the_channel_mean_as_scikit_image(real_pair: tuple[torch.Tensor, torch.Tensor]) -> None:
    pred, truth = real_pair
    ours = ssim(pred[:2], truth[:2], channel="rgb", crop_border=0, quantize=True)
    for t in range(2):
        a, b = to_hwc_uint8(truth[t]).astype(np.float64), to_hwc_uint8(pred[t]).astype(np.float64)
        reference = structural_similarity(a, b, data_range=255, gaussian_weights=True, sigma=1.5,
                                          use_sample_covariance=False, channel_axis=-1)
        assert ours[t].item() == pytest.approx(reference, abs=1e-6)


@pytest.mark.shared_data
def test_vid4_protocol_skips_two_frames_at_each_end_and_crops_8_px(
    real_pair: tuple[torch.Tensor, torch.Tensor],
) -> None:
    pred, truth = real_pair
    result = evaluate_sequence(pred, truth, "vid4")
    assert result["frames"] == 4
    expected = psnr(pred[2:6], truth[2:6], channel="y", crop_border=8, quantize=True).mean().item()
    assert result["psnr_y"] == pytest.approx(expected, abs=1e-12)
    assert result["protocol"] == {"name": "vid4", "channel": "y", "crop_border": 8, "skip_first": 2,
                                  "skip_last": 2, "quantize": True}
    assert set(result) == {"psnr_y", "ssim_y", "tof", "tdiff_y", "frames", "protocol"}
    assert result["tof"] > 0


def test_psnr_of_a_known_error() -> None:
    truth = torch.zeros(1, 3, 16, 16)
    pred = torch.full((1, 3, 16, 16), 10 / 255)
    value = psnr(pred, truth, channel="rgb", crop_border=0, quantize=True)
    assert value.item() == pytest.approx(20 * np.log10(255 / 10), abs=1e-9)
    assert torch.isinf(psnr(truth, truth, channel="rgb", crop_border=0, quantize=True)).all()


def test_temporal_metrics_see_flicker_but_not_a_steady_error() -> None:
    torch.manual_seed(0)
    base = F.interpolate(torch.rand(1, 3, 12, 12), size=(64, 64), mode="bicubic", align_corners=False)[0]
    truth = torch.stack([base.roll(t, dims=-1) for t in range(5)]).clamp(0.1, 0.9).double()
    steady = (truth + 0.05).clamp(0, 1)  # the same error in every frame
    signs = torch.tensor([1.0, -1.0, 1.0, -1.0, 1.0]).view(5, 1, 1, 1)
    noise = (torch.rand(1, 3, 64, 64, dtype=torch.float64) - 0.5) * 0.2
    flicker = (truth + signs * noise).clamp(0, 1)
    options = {"channel": "y", "crop_border": 4, "quantize": False}
    assert temporal_difference_error(steady, truth, **options).max().item() < 1e-9
    assert temporal_difference_error(flicker, truth, **options).min().item() > 3
    assert tof(truth, truth, crop_border=4).abs().max().item() == 0.0
    assert tof(flicker, truth, crop_border=4).mean() > tof(steady, truth, crop_border=4).mean()


def test_temporal_difference_error_known_value() -> None:
    truth = torch.stack([torch.full((3, 16, 16), 10.0 * t / 255) for t in range(3)])
    pred = torch.zeros_like(truth)
    value = temporal_difference_error(pred, truth, channel="y", crop_border=0, quantize=True)
    # a grey step of 10 levels moves BT.601 luma by 10 * 219 / 255
    torch.testing.assert_close(value, torch.full((2,), 10 * 219 / 255, dtype=torch.float64))


def test_bad_input_is_refused_with_the_reason() -> None:
    a = torch.rand(5, 3, 32, 32)
    with pytest.raises(ValueError, match="differ in shape"):
        psnr(a, a[:, :, :16], channel="y", crop_border=0, quantize=True)
    with pytest.raises(ValueError, match="crop_border 16 leaves nothing"):
        psnr(a, a, channel="y", crop_border=16, quantize=True)
    with pytest.raises(ValueError, match="skips 2 \\+ 2 frames of a 3-frame sequence"):
        evaluate_sequence(a[:3], a[:3], "vid4")
    with pytest.raises(ValueError, match="channel must be 'y' or 'rgb'"):
        MetricProtocol("bad", channel="ycbcr")
    assert PROTOCOLS["vid4"].crop_border == 8
