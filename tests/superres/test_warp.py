"""Warping, flow upsampling and space-to-depth (vidlearn.superres.models.warp)."""

from __future__ import annotations

import pytest
import torch

from vidlearn.superres.models.warp import backward_warp, depth_to_space, space_to_depth, upsample_flow


def test_integer_flow_shifts_exactly_in_the_interior() -> None:
    torch.manual_seed(0)
    image = torch.rand(2, 3, 20, 24)
    flow = torch.zeros(2, 2, 20, 24)
    flow[:, 0] = 3.0  # x
    flow[:, 1] = -2.0  # y
    warped = backward_warp(image, flow)
    # warped[y, x] = image[y - 2, x + 3] wherever the source is inside the image
    torch.testing.assert_close(warped[:, :, 2:, :-3], image[:, :, :-2, 3:], rtol=0, atol=1e-6)
    # border padding repeats the edge outside the image
    torch.testing.assert_close(warped[:, :, 2:, -1], image[:, :, :-2, -1], rtol=0, atol=1e-6)


def test_zero_flow_is_identity_and_half_pixel_flow_averages() -> None:
    image = torch.arange(2 * 5 * 6, dtype=torch.float32).view(1, 2, 5, 6)
    zero = torch.zeros(1, 2, 5, 6)
    torch.testing.assert_close(backward_warp(image, zero), image, rtol=0, atol=1e-5)
    half = zero.clone()
    half[:, 0] = 0.5
    expected = (image[..., :-1] + image[..., 1:]) / 2
    torch.testing.assert_close(backward_warp(image, half)[..., :-1], expected, rtol=0, atol=1e-4)


def test_warp_rejects_a_mismatched_flow() -> None:
    with pytest.raises(ValueError, match=r"flow must be \(B, 2, H, W\)"):
        backward_warp(torch.rand(1, 3, 8, 8), torch.rand(1, 2, 8, 9))


def test_upsample_flow_scales_values_and_size() -> None:
    flow = torch.full((1, 2, 3, 5), 1.5)
    flow[:, 1] = -0.25
    up = upsample_flow(flow, 4)
    assert up.shape == (1, 2, 12, 20)
    torch.testing.assert_close(up[:, 0], torch.full((1, 12, 20), 6.0))
    torch.testing.assert_close(up[:, 1], torch.full((1, 12, 20), -1.0))


def test_space_to_depth_and_depth_to_space_are_inverse() -> None:
    torch.manual_seed(1)
    hr = torch.rand(2, 3, 16, 12)
    packed = space_to_depth(hr, 4)
    assert packed.shape == (2, 48, 4, 3)
    assert torch.equal(depth_to_space(packed, 4), hr)
    lr = torch.rand(2, 48, 4, 3)
    assert torch.equal(space_to_depth(depth_to_space(lr, 4), 4), lr)
    # channel-major order: channel c*16 + i*4 + j holds pixel (4y + i, 4x + j) of colour c
    assert torch.equal(packed[:, 1 * 16 + 2 * 4 + 3], hr[:, 1, 2::4, 3::4])


def test_space_to_depth_rejects_sizes_not_divisible_by_the_scale() -> None:
    with pytest.raises(ValueError, match="divisible by the scale 4"):
        space_to_depth(torch.rand(1, 3, 10, 12), 4)


def test_photometric_loss_through_the_warp_recovers_a_known_shift() -> None:
    # L_flow's premise: the warp's gradient leads a free flow to the true motion
    torch.manual_seed(0)
    texture = torch.nn.functional.interpolate(torch.rand(1, 3, 12, 12), size=(48, 48), mode="bicubic",
                                              align_corners=False)
    previous = texture[:, :, 8:40, 8:40]
    current = texture[:, :, 6:38, 9:41]  # current[y, x] = previous[y - 2, x + 1]: flow (1, -2)
    flow = torch.zeros(1, 2, 1, 1, requires_grad=True)
    optimiser = torch.optim.Adam([flow], lr=0.05)
    for _ in range(300):
        warped = backward_warp(previous, flow.expand(1, 2, 32, 32))
        loss = torch.nn.functional.mse_loss(warped[..., 4:-4, 4:-4], current[..., 4:-4, 4:-4])
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    torch.testing.assert_close(flow.detach().flatten(), torch.tensor([1.0, -2.0]), rtol=0, atol=1e-3)
