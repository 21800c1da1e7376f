"""Tests of the two-stream networks (Simonyan & Zisserman 2014), score fusion and cross-modality init."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
import torch
from torch import nn

from vidlearn.models import create
from vidlearn.recognition.models.two_stream import (
    CNNM2048,
    ScoreFusion,
    cross_modality_weight,
    init_temporal_from_spatial,
    stack_flow,
)


@pytest.fixture(autouse=True, scope="module")
def single_thread() -> Iterator[None]:
    # These models run tiny tensors; on a busy 2-core machine the OpenMP barrier between two threads
    # costs more than the work itself (measured 100x slower per conv), so the module runs on one.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


SMALL = {"crop_size": 64, "width_multiplier": 0.25, "fc_dims": (64, 32), "dropout": 0.0}


def conv(c_in: int, c_out: int, k: int) -> int:
    return c_in * c_out * k * k + c_out


def linear(n_in: int, n_out: int) -> int:
    return n_in * n_out + n_out


def cnn_m_2048(c_in: int, classes: int) -> int:
    """CNN-M-2048 at 224: conv5 ends in 13x13, pooled to 6x6x512 = 18432 inputs to full6."""
    return (conv(c_in, 96, 7) + conv(96, 256, 5) + conv(256, 512, 3) + 2 * conv(512, 512, 3)
            + linear(512 * 6 * 6, 4096) + linear(4096, 2048) + linear(2048, classes))


def num_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize(("name", "expected"), [
    ("two_stream_spatial", cnn_m_2048(3, 101)),
    ("two_stream_temporal", cnn_m_2048(20, 101)),  # 2L = 20 input channels
    ("two_stream", cnn_m_2048(3, 101) + cnn_m_2048(20, 101)),
])
def test_paper_parameter_counts(name: str, expected: int) -> None:
    with torch.device("meta"):
        model = create(name)
    assert num_params(model) == expected


def test_temporal_stream_has_no_conv2_normalisation() -> None:
    with torch.device("meta"):
        spatial, temporal = CNNM2048(3), CNNM2048(20, conv2_norm=False)
    assert [name for name, m in spatial.features.named_children() if isinstance(m, nn.LocalResponseNorm)] == [
        "norm1", "norm2"]
    assert [name for name, m in temporal.features.named_children() if isinstance(m, nn.LocalResponseNorm)] == [
        "norm1"]
    narrow = CNNM2048(3, width_multiplier=0.125, fc_dims=(8,))
    with torch.no_grad():
        assert narrow.features(torch.randn(1, 3, 224, 224)).shape == (1, 64, 6, 6)


def test_flow_is_interleaved_per_frame() -> None:
    flow = torch.arange(2 * 3 * 4 * 5, dtype=torch.float32).reshape(1, 2, 3, 4, 5)  # (B, 2, L=3, H, W)
    stacked = stack_flow(flow)
    assert stacked.shape == (1, 6, 4, 5)
    for k in range(3):
        assert torch.equal(stacked[0, 2 * k], flow[0, 0, k])
        assert torch.equal(stacked[0, 2 * k + 1], flow[0, 1, k])
    assert stack_flow(stacked) is stacked
    with pytest.raises(ValueError, match="expected 10 flow fields \\(20 channels\\), got 6 channels"):
        stack_flow(stacked, 10)


def test_temporal_stream_accepts_both_layouts_and_removes_mean_flow() -> None:
    torch.manual_seed(0)
    model = create("two_stream_temporal", num_classes=5, num_flow_frames=4, **SMALL).eval()
    flow = torch.randn(2, 2, 4, 64, 64)
    with torch.no_grad():
        out = model(flow)
        assert out.shape == (2, 5)
        assert torch.allclose(out, model(stack_flow(flow)))
        camera_pan = flow + torch.tensor([3.0, -2.0]).view(1, 2, 1, 1, 1)
        assert torch.allclose(out, model(camera_pan), atol=1e-4)


def test_spatial_stream_averages_frames() -> None:
    torch.manual_seed(0)
    model = create("two_stream_spatial", num_classes=5, **SMALL).eval()
    clip = torch.randn(2, 3, 3, 64, 64)
    with torch.no_grad():
        per_frame = torch.stack([model(clip[:, :, t]) for t in range(3)], dim=1)
        assert torch.allclose(model(clip, return_per_step=True), per_frame, atol=1e-5)
        assert torch.allclose(model(clip), per_frame.mean(1), atol=1e-5)


def test_cross_modality_weight_is_the_rgb_mean_repeated() -> None:
    rgb = torch.randn(8, 3, 7, 7)
    flow = cross_modality_weight(rgb, 20)
    assert flow.shape == (8, 20, 7, 7)
    expected = (rgb[:, 0] + rgb[:, 1] + rgb[:, 2]) / 3
    for channel in range(20):
        assert torch.allclose(flow[:, channel], expected, atol=1e-6)
    with pytest.raises(ValueError, match=r"expected RGB conv weights \(O, 3, ...\), got \(8, 2, 7, 7\)"):
        cross_modality_weight(torch.randn(8, 2, 7, 7), 20)


@pytest.mark.parametrize("backbone_kwargs", [SMALL, {"backbone": "resnet18"}])
def test_init_temporal_from_spatial(backbone_kwargs: dict) -> None:
    kwargs = {"num_classes": 5, **backbone_kwargs}
    spatial = create("two_stream_spatial", **kwargs)
    temporal = create("two_stream_temporal", num_flow_frames=4, **kwargs)
    init_temporal_from_spatial(temporal, spatial)
    s_state, t_state = spatial.state_dict(), temporal.state_dict()
    first = next(k for k, v in t_state.items() if v.dim() == 4)
    assert t_state[first].shape[1] == 8
    assert torch.allclose(t_state[first], s_state[first].mean(1, keepdim=True).expand_as(t_state[first]))
    for key, value in t_state.items():
        if key != first:
            assert torch.equal(value, s_state[key]), key


def test_fused_network_averages_softmax_scores() -> None:
    torch.manual_seed(0)
    model = create("two_stream", num_classes=5, num_flow_frames=4, **SMALL).eval()
    rgb, flow = torch.randn(2, 3, 2, 64, 64), torch.randn(2, 2, 4, 64, 64)
    with torch.no_grad():
        fused = model(rgb, flow)
        p_rgb, p_flow = model.spatial(rgb).softmax(-1), model.temporal(flow).softmax(-1)
    assert torch.allclose(fused.exp(), (p_rgb + p_flow) / 2, atol=1e-6)
    weighted = create("two_stream", num_classes=5, num_flow_frames=4, fusion="weighted", fusion_weights=(1.0, 3.0), **SMALL)
    weighted.load_state_dict(model.state_dict())
    with torch.no_grad():
        assert torch.allclose(weighted.eval()(rgb, flow).exp(), 0.25 * p_rgb + 0.75 * p_flow, atol=1e-6)
    assert model.forward_features(rgb, flow).shape == (2, 64)


def test_fused_network_trains_and_exports() -> None:
    torch.manual_seed(0)
    model = create("two_stream", num_classes=5, num_flow_frames=4, **SMALL)
    rgb, flow, labels = torch.randn(4, 3, 2, 64, 64), torch.randn(4, 2, 4, 64, 64), torch.tensor([0, 1, 2, 3])
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    losses = []
    for _ in range(3):
        optimizer.zero_grad()
        loss = nn.functional.nll_loss(model(rgb, flow), labels)  # the output is a log-probability
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]
    model.eval()
    exported = torch.export.export(model, (rgb[:1], flow[:1]))
    assert torch.allclose(exported.module()(rgb[:1], flow[:1]), model(rgb[:1], flow[:1]), atol=1e-5)


def test_svm_fusion_learns_what_averaging_cannot() -> None:
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(4), 25)
    onehot = np.eye(4)[labels]
    # stream A is right half of the time; stream B always points at a fixed wrong class (label + 1)
    reliable = rng.random(100) < 0.5
    stream_a = np.where(reliable[:, None], onehot, rng.random((100, 4))) * 4 + rng.normal(0, 0.1, (100, 4))
    stream_b = np.eye(4)[(labels + 1) % 4] * 6 + rng.normal(0, 0.1, (100, 4))
    average = ScoreFusion("average").fit([stream_a, stream_b], labels)
    svm = ScoreFusion("svm", C=10.0).fit([stream_a, stream_b], labels)
    assert (average.predict([stream_a, stream_b]) == labels).mean() < 0.5
    assert (svm.predict([stream_a, stream_b]) == labels).mean() == 1.0
    weighted = ScoreFusion("weighted", weights=[1.0, 0.0])
    assert np.array_equal(weighted.predict([stream_a, stream_b]), stream_a.argmax(1))
    with pytest.raises(RuntimeError, match="must be fit"):
        ScoreFusion("svm").predict([stream_a, stream_b])
    with pytest.raises(ValueError, match="labels must be \\(100,\\), got \\(99,\\)"):
        ScoreFusion("svm").fit([stream_a, stream_b], labels[:99])


def test_bad_input_is_named() -> None:
    model = create("two_stream_spatial", num_classes=5, **SMALL)
    with pytest.raises(ValueError, match="built for 64x64 crops, got 32x32"):
        model(torch.randn(1, 3, 1, 32, 32))
    with pytest.raises(ValueError, match="too small for CNN-M-2048"):
        CNNM2048(3, crop_size=32)
    with pytest.raises(ValueError, match="unknown fusion 'max'"):
        create("two_stream", fusion="max", **SMALL)
