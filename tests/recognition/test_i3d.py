"""I3D: architecture, TF-"SAME" shapes, per-step logits, two-stream averaging, and 2D->3D inflation."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models import googlenet

from vidlearn.models import create
from vidlearn.models.inflate import InflationError, inflate_conv_weight
from vidlearn.recognition.models.i3d import googlenet_to_i3d_key, inflate_from_googlenet


def test_stage_shapes_follow_tensorflow_same_padding() -> None:
    # Odd sizes make SAME (ceil) differ from floor-based padding: T 10 -> 5 -> 3 -> 2, H 65 -> 33 -> 17 -> 9 -> 5 -> 3.
    model = create("i3d", num_classes=4).eval()
    shapes: dict[str, tuple[int, ...]] = {}
    for name in ("conv1a", "pool2a", "pool3a", "mixed3c", "pool4a", "mixed4f", "pool5a", "mixed5c"):
        getattr(model, name).register_forward_hook(lambda m, i, o, name=name: shapes.__setitem__(name, tuple(o.shape)))
    with torch.no_grad():
        per_step = model.forward_per_step(torch.randn(1, 3, 10, 65, 65))
    assert shapes["conv1a"] == (1, 64, 5, 33, 33)
    assert shapes["pool2a"] == (1, 64, 5, 17, 17)
    assert shapes["pool3a"] == (1, 192, 5, 9, 9)
    assert shapes["mixed3c"] == (1, 480, 5, 9, 9)
    assert shapes["pool4a"] == (1, 480, 3, 5, 5)
    assert shapes["mixed4f"] == (1, 832, 3, 5, 5)
    assert shapes["pool5a"] == (1, 832, 2, 3, 3)
    assert shapes["mixed5c"] == (1, 1024, 2, 3, 3)
    assert per_step.shape == (1, 4, 1)  # 2-frame window, stride 1, over 2 steps


def test_batch_norm_matches_deepmind() -> None:
    norms = [m for m in create("i3d", num_classes=4).modules() if isinstance(m, nn.BatchNorm3d)]
    assert len(norms) == 3 + 9 * 6
    assert all(m.eps == 1e-3 for m in norms)
    convs = [m for m in create("i3d", num_classes=4).modules() if isinstance(m, nn.Conv3d)]
    assert sum(m.bias is not None for m in convs) == 1  # only the logits layer has a bias


def test_per_step_logits_average_to_the_clip_logits() -> None:
    torch.manual_seed(0)
    model = create("i3d", num_classes=6).eval()
    clip = torch.randn(2, 3, 24, 32, 32)
    with torch.no_grad():
        per_step = model.forward_per_step(clip)
        logits = model(clip)
    assert per_step.shape == (2, 6, 2)  # T 24 -> 12 -> 6 -> 3 -> pool 2, stride 1 -> 2 steps
    torch.testing.assert_close(per_step.mean(dim=2), logits)
    model.return_per_step = True
    with torch.no_grad():
        torch.testing.assert_close(model(clip), per_step)


def test_two_stream_averages_the_stream_logits() -> None:
    torch.manual_seed(0)
    model = create("i3d_two_stream", num_classes=5).eval()
    rgb, flow = torch.randn(1, 3, 8, 32, 32), torch.randn(1, 2, 8, 32, 32)
    with torch.no_grad():
        expected = (model.rgb(rgb) + model.flow(flow)) / 2
        torch.testing.assert_close(model(rgb, flow), expected)
        assert model.forward_features(rgb, flow).shape == (1, 2048)
    with pytest.raises(ValueError, match=r"I3D expects input \(B, 2, T, H, W\)"):
        model(rgb, rgb)


def test_inflate_conv_weight_repeats_and_rescales() -> None:
    weight = torch.randn(4, 3, 5, 5)
    inflated = inflate_conv_weight(weight, 7)
    assert inflated.shape == (4, 3, 7, 5, 5)
    torch.testing.assert_close(inflated.sum(dim=2), weight)
    torch.testing.assert_close(inflated[:, :, 3], weight / 7)
    center = inflate_conv_weight(weight, 3, method="center")
    assert torch.equal(center[:, :, 1], weight) and not center[:, :, 0].any()
    with pytest.raises(InflationError, match="method must be"):
        inflate_conv_weight(weight, 3, method="spread")


def test_googlenet_key_map() -> None:
    assert googlenet_to_i3d_key("conv1.conv.weight") == "conv1a.conv.weight"
    assert googlenet_to_i3d_key("conv3.bn.running_var") == "conv2c.norm.running_var"
    assert googlenet_to_i3d_key("inception3a.branch2.1.bn.weight") == "mixed3b.branch1b.norm.weight"
    assert googlenet_to_i3d_key("inception5b.branch4.1.conv.weight") == "mixed5c.branch3b.conv.weight"
    assert googlenet_to_i3d_key("fc.bias") == "logits.bias"
    assert googlenet_to_i3d_key("aux1.fc1.weight") is None


def _random_googlenet() -> nn.Module:
    """A 2D Inception-v1 with weights that keep the signal's scale (kaiming) and non-trivial BN, so
    the logits depend on every layer (torchvision's 0.01-std init makes them almost constant)."""
    torch.manual_seed(0)
    net = googlenet(weights=None, aux_logits=False, init_weights=True)
    for module in net.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
        elif isinstance(module, nn.BatchNorm2d):
            module.weight.data.uniform_(0.5, 1.5)
            module.bias.data.normal_(0.0, 0.1)
            module.running_mean.normal_(0.0, 0.1)
            module.running_var.uniform_(0.5, 1.5)
    nn.init.normal_(net.fc.weight, std=0.05)
    nn.init.zeros_(net.fc.bias)
    return net.eval()


def _tf_same(size: int, kernel: int, stride: int) -> tuple[int, int]:
    total = max((math.ceil(size / stride) - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class _SameConv2d(nn.Module):
    def __init__(self, conv: nn.Conv2d) -> None:
        super().__init__()
        self.conv = conv

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        (kh, kw), (sh, sw) = self.conv.kernel_size, self.conv.stride
        x = F.pad(x, (*_tf_same(x.shape[3], kw, sw), *_tf_same(x.shape[2], kh, sh)))
        return F.conv2d(x, self.conv.weight, self.conv.bias, (sh, sw))


class _SameMaxPool2d(nn.Module):
    def __init__(self, pool: nn.MaxPool2d) -> None:
        super().__init__()
        self.kernel, self.stride = int(pool.kernel_size), int(pool.stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pad = (*_tf_same(x.shape[3], self.kernel, self.stride), *_tf_same(x.shape[2], self.kernel, self.stride))
        return F.max_pool2d(F.pad(x, pad, value=float("-inf")), self.kernel, self.stride)


def _with_tf_same_padding(net: nn.Module) -> nn.Module:
    """The same 2D network (same weights, same torchvision forward) with TensorFlow "SAME" padding in
    every conv and max-pool, which is the Inception-v1 that I3D inflates."""
    for module in list(net.modules()):
        for child_name, child in list(module.named_children()):
            if isinstance(child, nn.Conv2d):
                setattr(module, child_name, _SameConv2d(child))
            elif isinstance(child, nn.MaxPool2d):
                setattr(module, child_name, _SameMaxPool2d(child))
    return net


def _relative_error(got: torch.Tensor, expected: torch.Tensor) -> float:
    return ((got - expected).norm() / expected.norm()).item()


def test_inflated_i3d_reproduces_2d_network_on_a_static_clip() -> None:
    """The "boring video" check of Carreira & Zisserman (Section 2.4).

    Padding choice: torchvision's GoogLeNet pads symmetrically with ceil-mode pools, I3D pads as
    TensorFlow ("SAME"). The 2D reference is therefore the same torchvision GoogLeNet (its weights and
    forward) with every conv and max-pool switched to TF "SAME" padding. In time, zero padding makes
    boundary frames differ from the static image, so the I3D is built with
    ``temporal_padding="replicate"``: the clip then stays static through every layer and each frame's
    activations equal the 2D ones. The second half shows the check can fail: with the default zero
    temporal padding the same weights give clearly different logits.
    """
    net_2d = _random_googlenet()
    state_2d = net_2d.state_dict()  # taken before the padding wrappers rename the convs
    reference = _with_tf_same_padding(net_2d)
    image = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    clip = image.unsqueeze(2).expand(-1, -1, 8, -1, -1).contiguous()
    with torch.no_grad():
        expected = reference(image)
    assert expected.std() > 1.0  # logits that depend on the input, not a constant

    inflated = inflate_from_googlenet(create("i3d", num_classes=1000, temporal_padding="replicate"), state_2d).eval()
    with torch.no_grad():
        error = _relative_error(inflated(clip), expected)
    assert error < 1e-4, f"inflated I3D differs from the 2D network: relative error {error:.2e}"

    zero_padded = inflate_from_googlenet(create("i3d", num_classes=1000), state_2d).eval()
    with torch.no_grad():
        assert _relative_error(zero_padded(clip), expected) > 1e-2


def test_inflation_without_classifier_keeps_the_new_head() -> None:
    state_2d = googlenet(weights=None, aux_logits=True, init_weights=True).state_dict()
    model = create("i3d", num_classes=7)
    head = model.logits.weight.detach().clone()
    inflate_from_googlenet(model, state_2d, include_classifier=False)  # aux1/aux2 are dropped
    assert torch.equal(model.logits.weight, head)
    torch.testing.assert_close(model.conv1a.conv.weight.sum(dim=2), state_2d["conv1.conv.weight"])
    assert torch.equal(model.mixed4d.branch2b.norm.running_var, state_2d["inception4c.branch3.1.bn.running_var"])


def test_inflation_names_unplaced_and_missing_keys() -> None:
    state_2d = googlenet(weights=None, aux_logits=False, init_weights=False).state_dict()
    state_2d["inception6a.branch1.conv.weight"] = torch.zeros(1)
    del state_2d["inception4b.branch1.bn.bias"]
    with pytest.raises(InflationError) as error:
        inflate_from_googlenet(create("i3d", num_classes=1000), state_2d)
    assert "inception6a.branch1.conv.weight" in str(error.value)
    assert "mixed4c.branch0.norm.bias" in str(error.value)
    with pytest.raises(InflationError, match=r"fc\.weight: 2D tensor \(1000, 1024\)"):
        state_2d = googlenet(weights=None, aux_logits=False, init_weights=False).state_dict()
        inflate_from_googlenet(create("i3d", num_classes=10), state_2d)


def test_flow_stream_inflates_from_rgb_by_averaging_input_channels() -> None:
    state_2d = googlenet(weights=None, aux_logits=False, init_weights=False).state_dict()
    model = inflate_from_googlenet(create("i3d_flow", num_classes=1000), state_2d)
    expected = state_2d["conv1.conv.weight"].mean(dim=1, keepdim=True).expand(-1, 2, -1, -1)
    torch.testing.assert_close(model.conv1a.conv.weight.sum(dim=2), expected)
