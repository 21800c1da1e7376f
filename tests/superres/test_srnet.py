"""SRNet (vidlearn.superres.models.srnet)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from vidlearn.superres.models.srnet import SRNet


def count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize(
    ("blocks", "filters", "context", "expected"),
    [
        (10, 128, None, 3_309_187),  # FRVSR 10-128: input 3 + 48 channels
        (10, 64, None, 843_587),  # TecoGAN's FRVSR 10-64
        (3, 64, None, 326_595),
        (10, 128, 0, 3_253_891),  # SISR 10-128: input 3 channels
    ],
)
def test_parameter_counts(blocks: int, filters: int, context: int | None, expected: int) -> None:
    net = SRNet(scale=4, num_blocks=blocks, num_filters=filters, context_channels=context)
    assert count(net) == expected


@pytest.mark.parametrize("scale", [2, 4, 8])
def test_output_shape_for_each_power_of_two_scale(scale: int) -> None:
    net = SRNet(scale=scale, num_blocks=1, num_filters=8)
    out = net(torch.rand(2, 3, 5, 7), torch.rand(2, 3 * scale * scale, 5, 7))
    assert out.shape == (2, 3, 5 * scale, 7 * scale)


def test_rejects_a_scale_that_is_not_a_power_of_two() -> None:
    with pytest.raises(ValueError, match=r"power of 2 .* got 3"):
        SRNet(scale=3)


def test_rejects_a_missing_or_wrong_context() -> None:
    net = SRNet(scale=2, num_blocks=1, num_filters=8)
    with pytest.raises(ValueError, match=r"context of shape \(1, 12, 4, 4\), got None"):
        net(torch.rand(1, 3, 4, 4))
    sisr = SRNet(scale=2, num_blocks=1, num_filters=8, context_channels=0)
    with pytest.raises(ValueError, match="without context"):
        sisr(torch.rand(1, 3, 4, 4), torch.rand(1, 12, 4, 4))


@pytest.mark.parametrize("mode", ["bicubic", "bilinear"])
def test_lr_skip_adds_the_upsampled_frame(mode: str) -> None:
    net = SRNet(scale=4, num_blocks=1, num_filters=8, context_channels=0, lr_skip=mode)
    with torch.no_grad():
        net.conv_out.weight.zero_()
        net.conv_out.bias.zero_()
    lr = torch.rand(1, 3, 6, 5)
    expected = F.interpolate(lr, scale_factor=4, mode=mode, align_corners=False)
    torch.testing.assert_close(net(lr), expected)
    with pytest.raises(ValueError, match="lr_skip must be one of"):
        SRNet(lr_skip="nearest")


def test_torch_export() -> None:
    torch.manual_seed(0)
    net = SRNet(scale=4, num_blocks=2, num_filters=16).eval()
    lr, context = torch.rand(1, 3, 8, 8), torch.rand(1, 48, 8, 8)
    exported = torch.export.export(net, (lr, context))
    torch.testing.assert_close(exported.module()(lr, context), net(lr, context))
