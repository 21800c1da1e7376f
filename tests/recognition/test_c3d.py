"""C3D (Tran et al. 2015): architecture, sizes, feature layers and cost."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from vidlearn.models import create
from vidlearn.models.flops import count_flops


def _paper_c3d() -> nn.Module:
    with torch.device("meta"):  # paper size without allocating 80M parameters
        return create("c3d")


def test_paper_architecture() -> None:
    model = _paper_c3d()
    convs = [m for m in model.modules() if isinstance(m, nn.Conv3d)]
    assert [c.out_channels for c in convs] == [64, 128, 256, 256, 512, 512, 512, 512]
    assert all(c.kernel_size == (3, 3, 3) and c.padding == (1, 1, 1) and c.stride == (1, 1, 1) for c in convs)
    pools = [m for m in model.modules() if isinstance(m, nn.MaxPool3d)]
    assert [p.kernel_size for p in pools] == [(1, 2, 2)] + [(2, 2, 2)] * 4
    assert [p.padding for p in pools] == [(0, 0, 0)] * 4 + [(0, 1, 1)]
    assert model.pool5_shape == (512, 1, 4, 4)
    assert (model.fc6.in_features, model.fc6.out_features, model.fc7.out_features) == (8192, 4096, 4096)
    assert model.fc8.out_features == 487 and model.dropout.p == 0.5
    assert sum(p.numel() for p in model.parameters()) == 79_991_015


@pytest.mark.parametrize(("crop_size", "pool5"), [(32, (16, 1, 2, 2)), (64, (16, 1, 3, 3)), (112, (16, 1, 4, 4))])
def test_cpu_variant_sizes_fc6_for_the_clip(crop_size: int, pool5: tuple[int, ...]) -> None:
    torch.manual_seed(0)
    model = create("c3d", num_classes=8, width_multiplier=0.03125, fc_dim=16, clip_len=16, crop_size=crop_size)
    assert [m.out_channels for m in model.modules() if isinstance(m, nn.Conv3d)] == [2, 4, 8, 8, 16, 16, 16, 16]
    assert model.pool5_shape == pool5
    model.eval()
    clip = torch.randn(2, 3, 16, crop_size, crop_size)
    with torch.no_grad():
        assert model(clip).shape == (2, 8)
        assert model.forward_features(clip, layer="fc6").shape == (2, 16)
        # fc7 features are the ReLU of fc7 applied to the fc6 features (no dropout in eval).
        fc6 = model.forward_features(clip, layer="fc6")
        torch.testing.assert_close(model.forward_features(clip), torch.relu(model.fc7(fc6)))
        torch.testing.assert_close(model(clip), model.fc8(model.forward_features(clip)))


def test_demo_variant_from_the_registry() -> None:
    model = create("c3d", num_classes=8, width_multiplier=0.25, fc_dim=256, clip_len=16, crop_size=32)
    assert [m.out_channels for m in model.modules() if isinstance(m, nn.Conv3d)] == [16, 32, 64, 64, 128, 128, 128, 128]
    assert model.fc6.in_features == 128 * 1 * 2 * 2


def test_bad_inputs_are_named() -> None:
    model = create("c3d", num_classes=3, width_multiplier=0.03125, fc_dim=8, crop_size=32).eval()
    with pytest.raises(ValueError, match=r"C3D\.forward_features: unknown layer 'fc8'; known: fc6, fc7"):
        model.forward_features(torch.randn(1, 3, 16, 32, 32), layer="fc8")
    with pytest.raises(ValueError, match=r"built for clips of 16x32x32"):
        model(torch.randn(1, 3, 16, 64, 64))
    with pytest.raises(ValueError, match=r"expects input \(B, C, T, H, W\)"):
        model(torch.randn(3, 16, 32, 32))
    with pytest.raises(ValueError, match="clip_len=8, crop_size=112 is too small"):
        create("c3d", clip_len=8, width_multiplier=0.03125, fc_dim=8)
    with pytest.raises(ValueError, match="width_multiplier must be positive"):
        create("c3d", width_multiplier=0)


def test_norm_and_activation_are_pluggable() -> None:
    model = create("c3d", num_classes=3, width_multiplier=0.03125, fc_dim=8, crop_size=32,
                   norm_layer=nn.BatchNorm3d, activation=nn.ELU)
    assert sum(isinstance(m, nn.BatchNorm3d) for m in model.modules()) == 8
    assert model.conv1a.conv.bias is None  # the norm's shift replaces the bias
    assert isinstance(model.conv4b.act, nn.ELU)


def test_reset_classifier() -> None:
    model = create("c3d", num_classes=3, width_multiplier=0.03125, fc_dim=8, crop_size=32)
    model.reset_classifier(11)
    assert model.get_classifier() is model.fc8 and model.fc8.out_features == 11
    # a new fc8 is initialised as the Caffe recipe's: Gaussian std 0.01, zero bias
    assert torch.count_nonzero(model.fc8.bias) == 0
    assert 0.005 < model.fc8.weight.std().item() < 0.02
    with torch.no_grad():
        assert model(torch.randn(2, 3, 16, 32, 32)).shape == (2, 11)


def test_flops_match_the_paper() -> None:
    # Tran et al. quote ~38.5 G multiply-adds per 16x112x112 clip; count them from the layer shapes:
    # conv MACs = C_out * C_in * 27 * T * H * W at each conv's (unpooled) resolution, plus the fcs.
    expected = (
        64 * 3 * 27 * 16 * 112 * 112 + 128 * 64 * 27 * 16 * 56 * 56
        + (256 * 128 + 256 * 256) * 27 * 8 * 28 * 28 + (512 * 256 + 512 * 512) * 27 * 4 * 14 * 14
        + (512 * 512 * 2) * 27 * 2 * 7 * 7 + 8192 * 4096 + 4096 * 4096 + 4096 * 487
    ) / 1e9
    model = create("c3d", num_classes=487)
    gmacs = count_flops(model, (3, 16, 112, 112))
    assert gmacs == pytest.approx(expected, rel=1e-9)
    assert gmacs == pytest.approx(38.5, abs=0.1)


def test_yaml_friendly_norm_and_fc_init_options():
    from torch import nn

    from vidlearn.models import create

    plain = create("c3d", num_classes=8, width_multiplier=0.25, fc_dim=256, crop_size=32)
    batch = create("c3d", num_classes=8, width_multiplier=0.25, fc_dim=256, crop_size=32, norm_layer="batch",
                   fc_init="kaiming")
    assert sum(isinstance(m, nn.BatchNorm3d) for m in batch.modules()) == 8
    assert not any(isinstance(m, nn.BatchNorm3d) for m in plain.modules())
    # Caffe's Gaussian (std 0.005) against nn.Linear's default bound 1/sqrt(fan_in) (std ~ 0.026 at 512 inputs).
    assert plain.fc6.weight.std() < 0.006
    assert batch.fc6.weight.std() > 0.02
    with pytest.raises(ValueError, match="'layer'"):
        create("c3d", norm_layer="layer")
    with pytest.raises(ValueError, match="'xavier'"):
        create("c3d", fc_init="xavier")
