"""BD and BI degradations (vidlearn.superres.degrade)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from vidlearn.superres.degrade import (
    DEGRADATIONS,
    Degradation,
    bd_degrade,
    bi_degrade,
    crop_to_multiple,
    jpeg_round_trip,
    matlab_bicubic_matrix,
    matlab_imresize,
)


def test_bd_equals_opencv_gaussian_blur_then_decimation() -> None:
    rng = np.random.default_rng(0)
    image = rng.random((40, 36))
    for sigma, size, offset in [(1.5, 9, 0), (1.6, 13, 0), (1.5, 9, 2)]:
        blurred = cv2.GaussianBlur(image, (size, size), sigmaX=sigma, sigmaY=sigma, borderType=cv2.BORDER_REFLECT_101)
        expected = blurred[offset::4, offset::4]
        ours = bd_degrade(torch.from_numpy(image)[None], scale=4, sigma=sigma, kernel_size=size, offset=offset)[0]
        np.testing.assert_allclose(ours.numpy(), expected, rtol=0, atol=1e-9)


def test_bd_default_kernel_size_is_tecogans_rule() -> None:
    assert DEGRADATIONS["bd_frvsr_x4"].protocol == "BD x4 gaussian sigma=1.5 kernel=9 offset=0 reflect"
    assert DEGRADATIONS["bd_duf_x4"].protocol == "BD x4 gaussian sigma=1.6 kernel=13 offset=0 reflect"
    frames = torch.rand(2, 3, 16, 16, dtype=torch.float64)
    torch.testing.assert_close(bd_degrade(frames, sigma=1.5), bd_degrade(frames, sigma=1.5, kernel_size=9))


def test_degradations_are_vectorised_over_leading_dimensions() -> None:
    torch.manual_seed(0)
    clip = torch.rand(2, 3, 3, 16, 24)
    for degradation in (DEGRADATIONS["bd_frvsr_x4"], DEGRADATIONS["bi_x4"]):
        batched = degradation(clip)
        assert batched.shape == (2, 3, 3, 4, 6)
        one = degradation(clip[1, 2])
        torch.testing.assert_close(batched[1, 2], one, rtol=0, atol=1e-6)


def test_sizes_not_divisible_by_the_scale_are_refused_with_the_fix() -> None:
    frames = torch.rand(3, 18, 16)
    with pytest.raises(ValueError, match=r"18x16 is not divisible by the scale 4; .*crop_to_multiple"):
        bd_degrade(frames, scale=4)
    assert crop_to_multiple(frames, 4).shape == (3, 16, 16)
    assert bi_degrade(crop_to_multiple(frames, 4), scale=4).shape == (3, 4, 4)


def test_bi_equals_basicsr_matlab_port_on_fixed_input() -> None:
    # BasicSR 1.4.2 basicsr/utils/matlab_functions.imresize(x, 0.25) (a port of MATLAB's imresize,
    # float32) on x[i, j] = ((7i + 3j) mod 11) / 10, 12x12.
    i = torch.arange(12, dtype=torch.float64)
    image = (((7 * i[:, None] + 3 * i[None, :]) % 11) / 10)[None]
    expected = torch.tensor([[0.5035911798, 0.5122929811, 0.4717440009],
                             [0.4947269261, 0.5022244453, 0.5236051679],
                             [0.4644381404, 0.5060391426, 0.4900878668]], dtype=torch.float64)
    torch.testing.assert_close(bi_degrade(image, scale=4)[0], expected, rtol=0, atol=1e-6)
    # upscaling x2 (no antialiasing), first row of the 5x5 corner
    expected_up = torch.tensor([-0.0937500000, -0.0141357407, 0.1450927854, 0.3303222656, 0.5415527225,
                                0.7479491830, 0.9495116472, 0.7751464248, 0.2248534858, -0.0502929613],
                               dtype=torch.float64)
    torch.testing.assert_close(matlab_imresize(image[:, :5, :5], 2)[0, 0], expected_up, rtol=0, atol=1e-6)


def test_bi_kernel_from_matlabs_definition() -> None:
    # shrinking by 4: output pixel 4 (1-based) samples u = 4 * 4 - 1.5 = 14.5 with taps
    # 0.25 * cubic(0.25 * d), d = 14.5 - j, over |d| < 8, normalised (far from the border: no mirroring)
    matrix = matlab_bicubic_matrix(32, 8, 0.25)
    torch.testing.assert_close(matrix.sum(dim=1), torch.ones(8, dtype=torch.float64))
    d = 14.5 - torch.arange(1, 33, dtype=torch.float64)
    ax = (0.25 * d).abs()
    cubic = torch.where(ax <= 1, 1.5 * ax**3 - 2.5 * ax**2 + 1,
                        torch.where(ax <= 2, -0.5 * ax**3 + 2.5 * ax**2 - 4 * ax + 2, torch.zeros_like(ax)))
    expected = cubic / cubic.sum()
    torch.testing.assert_close(matrix[3], expected)
    # mirroring at the border: output pixel 1 samples u = 2.5, taps at 0, -1, ... fold back onto 1, 2, ...
    assert matrix[0, 0] > matrix[0, 3] > 0


def test_bi_keeps_constants_and_linear_ramps_in_the_interior() -> None:
    constant = torch.full((1, 16, 16), 0.3, dtype=torch.float64)
    torch.testing.assert_close(bi_degrade(constant, scale=4), torch.full((1, 4, 4), 0.3, dtype=torch.float64))
    ramp = torch.arange(1, 33, dtype=torch.float64).expand(1, 32, 32)
    out = bi_degrade(ramp, scale=4)
    # the cubic kernel reproduces linear functions: value = sampled position u = 4x - 1.5
    torch.testing.assert_close(out[0, 0, 2:6], torch.tensor([10.5, 14.5, 18.5, 22.5], dtype=torch.float64))


def test_bi_differs_from_opencv_and_pytorch_bicubic() -> None:
    # the BI/BD pitfall's cousin: three "bicubic" downscalings, three different LR frames
    rng = np.random.default_rng(1)
    image = rng.random((32, 32))
    ours = bi_degrade(torch.from_numpy(image)[None], scale=4)[0].numpy()
    opencv = cv2.resize(image, (8, 8), interpolation=cv2.INTER_CUBIC)
    pytorch = F.interpolate(torch.from_numpy(image)[None, None], size=(8, 8), mode="bicubic",
                            align_corners=False)[0, 0].numpy()
    assert np.abs(ours - opencv).max() > 1 / 255
    assert np.abs(ours - pytorch).max() > 1 / 255


def test_degradation_spec_validates_and_quantizes() -> None:
    with pytest.raises(ValueError, match="unknown degradation kind 'blur'"):
        Degradation("blur")
    spec = Degradation("bi", 4, quantize=True)
    assert spec.protocol == "BI x4 matlab-bicubic antialias uint8"
    out = spec(torch.rand(3, 16, 16))
    torch.testing.assert_close(out * 255, (out * 255).round())
    with pytest.raises(ValueError, match="offset must lie in"):
        bd_degrade(torch.rand(3, 16, 16), scale=4, offset=4)


def test_noise_and_jpeg_options() -> None:
    torch.manual_seed(0)
    hr = F.interpolate(torch.rand(2, 3, 8, 8), size=(32, 32), mode="bilinear", align_corners=False)
    clean = Degradation("bd", 4)(hr)
    noisy_spec = Degradation("bd", 4, noise_sigma=0.05)
    noisy = noisy_spec(hr, generator=torch.Generator().manual_seed(1))
    again = noisy_spec(hr, generator=torch.Generator().manual_seed(1))
    assert torch.equal(noisy, again)
    assert (noisy - clean).std().item() == pytest.approx(0.05, rel=0.15)
    jpeg_spec = Degradation("bd", 4, jpeg_quality=10)
    compressed = jpeg_spec(hr)
    assert compressed.shape == clean.shape
    torch.testing.assert_close(compressed * 255, (compressed * 255).round())
    mild = Degradation("bd", 4, jpeg_quality=90)(hr)
    assert (compressed - clean).abs().mean() > (mild - clean).abs().mean() > 0
    # colours survive the RGB <-> BGR hand-over to OpenCV
    flat = torch.zeros(1, 3, 16, 16)
    flat[:, 0], flat[:, 1], flat[:, 2] = 0.8, 0.3, 0.1
    torch.testing.assert_close(jpeg_round_trip(flat, 95), flat, rtol=0, atol=3 / 255)
    assert jpeg_spec.protocol == "BD x4 gaussian sigma=1.5 kernel=9 offset=0 reflect jpeg=10"
    assert noisy_spec.protocol.endswith("noise=0.05")
    with pytest.raises(ValueError, match=r"jpeg_quality must lie in 1\.\.100"):
        Degradation("bi", jpeg_quality=0)
