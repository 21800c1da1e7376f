"""DVD-GAN's layers: spectral norm and orthogonal init in one place, CBN, ConvGRU, residual blocks."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from vidlearn.generation.models.layers import (
    ConditionalBatchNorm2d,
    ConvGRU,
    DBlock,
    GBlock,
    is_spectral_normed,
    sn_conv2d,
    sn_linear,
    spectral_normed,
)


def test_spectral_normed_layer_has_unit_spectral_norm_after_power_iterations() -> None:
    torch.manual_seed(0)
    conv = sn_conv2d(6, 10, 3)
    assert is_spectral_normed(conv)
    conv.train()
    for _ in range(20):  # each training forward runs one power iteration
        conv(torch.randn(1, 6, 5, 5))
    sigma = torch.linalg.matrix_norm(conv.weight.detach().flatten(1), ord=2)
    assert sigma.item() == pytest.approx(1.0, abs=1e-3)


def test_orthogonal_initialisation_before_spectral_norm() -> None:
    torch.manual_seed(0)
    linear = sn_linear(32, 8)  # 8 rows of 32: orthonormal rows
    original = linear.parametrizations.weight.original.detach()
    torch.testing.assert_close(original @ original.T, torch.eye(8), atol=1e-5, rtol=0)
    assert linear.bias.abs().max() == 0
    plain = spectral_normed(nn.Linear(4, 4), enabled=False)
    assert not is_spectral_normed(plain)
    torch.testing.assert_close(plain.weight @ plain.weight.T, torch.eye(4), atol=1e-5, rtol=0)


def test_meta_device_skips_init_and_spectral_norm_but_counts_the_same_parameters() -> None:
    real = sn_conv2d(4, 8, 3)
    with torch.device("meta"):
        meta = sn_conv2d(4, 8, 3)
    assert not is_spectral_normed(meta)
    assert sum(p.numel() for p in meta.parameters()) == sum(p.numel() for p in real.parameters()) == 4 * 8 * 9 + 8


def test_conditional_batch_norm_gains_and_biases_come_from_the_condition() -> None:
    torch.manual_seed(0)
    cbn = ConditionalBatchNorm2d(3, 5)
    x = torch.randn(4, 3, 6, 6)
    cond = torch.randn(4, 5)
    out = cbn(x, cond)
    plain = nn.functional.batch_norm(x, None, None, training=True, eps=1e-5)
    gain = 1 + cond @ cbn.gain.weight.T
    bias = cond @ cbn.bias.weight.T
    torch.testing.assert_close(out, plain * gain[:, :, None, None] + bias[:, :, None, None], atol=1e-5, rtol=1e-5)
    assert not torch.allclose(cbn(x, cond + 1), out)


def test_conv_gru_shapes_parameters_and_causality() -> None:
    torch.manual_seed(0)
    gru = ConvGRU(4, 6, 3)
    # gates: (4 + 6) -> 12 and candidate (4 + 6) -> 6, 3x3 kernels with biases
    assert sum(p.numel() for p in gru.parameters()) == (10 * 12 * 9 + 12) + (10 * 6 * 9 + 6)
    x = torch.randn(2, 5, 4, 7, 7)
    out = gru(x)
    assert out.shape == (2, 5, 6, 7, 7)
    changed = x.clone()
    changed[:, 2] += 1.0
    out2 = gru(changed)
    torch.testing.assert_close(out2[:, :2], out[:, :2])  # the past does not see the future
    assert (out2[:, 2:] - out[:, 2:]).abs().amax(dim=(0, 2, 3, 4)).min() > 0
    with pytest.raises(ValueError, match=r"ConvGRU expects \(B, T, C, H, W\)"):
        gru(torch.randn(2, 4, 7, 7))


def test_gblock_upsamples_and_dblock_downsamples_in_2d_and_3d() -> None:
    torch.manual_seed(0)
    block = GBlock(8, 4, cond_dim=6, upsample=True)
    assert block(torch.randn(3, 8, 4, 4), torch.randn(3, 6)).shape == (3, 4, 8, 8)
    same = GBlock(8, 8, cond_dim=6, upsample=False)
    assert same.shortcut is None and same(torch.randn(3, 8, 4, 4), torch.randn(3, 6)).shape == (3, 8, 4, 4)
    assert DBlock(3, 8, downsample=True, preactivation=False)(torch.randn(2, 3, 8, 8)).shape == (2, 8, 4, 4)
    block3d = DBlock(3, 8, downsample=True, preactivation=False, dims=3)
    assert block3d(torch.randn(2, 3, 6, 8, 8)).shape == (2, 8, 3, 4, 4)
    assert block3d(torch.randn(2, 3, 1, 8, 8)).shape == (2, 8, 1, 4, 4)  # one frame: no temporal pooling
    space_only = DBlock(3, 8, downsample=True, dims=3, temporal_downsample=False)
    assert space_only(torch.randn(2, 3, 6, 8, 8)).shape == (2, 8, 6, 4, 4)
    assert isinstance(block3d.conv1.parametrizations.weight.original, nn.Parameter)
    assert block3d.conv1.parametrizations.weight.original.shape == (8, 3, 3, 3, 3)
