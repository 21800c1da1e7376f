"""Tests of LRCN (Donahue et al. 2015): CaffeNet to fc6, LSTM over time, averaged predictions."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch
from torch import nn

from vidlearn.models import create
from vidlearn.recognition.models.lrcn import LRCN, CaffeNetFc6


@pytest.fixture(autouse=True, scope="module")
def single_thread() -> Iterator[None]:
    # These models run tiny tensors; on a busy 2-core machine the OpenMP barrier between two threads
    # costs more than the work itself (measured 100x slower per conv), so the module runs on one.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


SMALL = {"crop_size": 64, "width_multiplier": 0.25, "fc6_dim": 64, "hidden_size": 16, "dropout": 0.0}
CAFFENET_PARAMS = 60_965_224  # BVLC reference CaffeNet (AlexNet with its two-GPU groups), 1000 classes


def num_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def test_caffenet_stack_matches_the_published_count() -> None:
    with torch.device("meta"):
        conv_to_fc6 = CaffeNetFc6()
    fc7_fc8 = (4096 * 4096 + 4096) + (4096 * 1000 + 1000)
    assert num_params(conv_to_fc6) + fc7_fc8 == CAFFENET_PARAMS
    narrow = CaffeNetFc6(width_multiplier=0.125, fc6_dim=8)
    with torch.no_grad():
        assert narrow.features(torch.randn(1, 3, 227, 227)).shape == (1, 32, 6, 6)


def test_lrcn_parameter_count() -> None:
    with torch.device("meta"):
        model = create("lrcn")
    # fc6 -> LSTM(256): PyTorch keeps two bias vectors per gate; classifier over 101 UCF-101 classes
    lstm = 4 * 256 * (4096 + 256) + 2 * 4 * 256
    assert num_params(model) == (CAFFENET_PARAMS - (4096 * 4096 + 4096) - (4096 * 1000 + 1000)) + lstm + 256 * 101 + 101


def test_predictions_are_averaged_over_time_and_depend_on_order() -> None:
    torch.manual_seed(0)
    model = create("lrcn", num_classes=5, **SMALL).eval()
    clip = torch.randn(2, 3, 5, 64, 64)
    with torch.no_grad():
        per_step = model(clip, return_per_step=True)
        assert per_step.shape == (2, 5, 5)
        assert torch.allclose(model(clip), per_step.mean(1), atol=1e-6)
        # the LSTM carries state: a step's prediction depends on the frames before it
        assert not torch.allclose(per_step[:, 1:], model(clip[:, :, 1:], return_per_step=True), atol=1e-4)
        assert torch.allclose(per_step[:, :3], model(clip[:, :, :3], return_per_step=True), atol=1e-5)


def test_flow_input_gets_a_magnitude_channel() -> None:
    model = create("lrcn_flow", num_classes=5, **SMALL).eval()
    assert model.cnn.features.conv1.in_channels == 3
    inputs = []
    hook = model.cnn.register_forward_hook(lambda _m, args, _o: inputs.append(args[0]))
    flow = torch.randn(1, 2, 3, 64, 64)
    with torch.no_grad():
        assert model(flow).shape == (1, 5)
    hook.remove()
    assert torch.allclose(inputs[0][:, 2], flow[0].transpose(0, 1).norm(dim=1), atol=1e-6)
    bare = create("lrcn_flow", num_classes=5, flow_magnitude=False, **SMALL)
    assert bare.cnn.features.conv1.in_channels == 2
    with pytest.raises(ValueError, match=r"expected flow input \(B, 2, T, H, W\), got \(1, 3, 3, 64, 64\)"):
        model(torch.randn(1, 3, 3, 64, 64))


def test_trains() -> None:
    torch.manual_seed(0)
    model = create("lrcn", num_classes=4, **SMALL)
    clips, labels = torch.randn(4, 3, 2, 64, 64), torch.tensor([0, 1, 2, 3])
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    losses = []
    for _ in range(3):
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(clips), labels)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]


def test_resnet18_backbone() -> None:
    model = create("lrcn_resnet18", num_classes=4, hidden_size=16).eval()
    assert model.lstm.input_size == 512
    with torch.no_grad():
        assert model(torch.randn(1, 3, 2, 32, 32), return_per_step=True).shape == (1, 2, 4)


# nn.LSTM re-assigns its flat weight list in forward; PyTorch's non-strict export restores it and
# warns on purpose (pytorch/pytorch#163809), so the warning says nothing about this model.
@pytest.mark.filterwarnings("ignore:The tensor attributes self.lstm._flat_weights:UserWarning")
def test_interface_and_export() -> None:
    model = create("lrcn", num_classes=5, **SMALL).eval()
    clip = torch.randn(1, 3, 3, 64, 64)
    assert model.forward_features(clip).shape == (1, 16)
    exported = torch.export.export(model, (clip,))
    assert torch.allclose(exported.module()(clip), model(clip), atol=1e-5)
    model.reset_classifier(9)
    assert model.get_classifier().out_features == 9
    with pytest.raises(ValueError, match="built for 64x64 crops, got 32x32"):
        model(torch.randn(1, 3, 2, 32, 32))
    with pytest.raises(ValueError, match="too small for CaffeNet"):
        CaffeNetFc6(crop_size=40)
    with pytest.raises(ValueError, match="unknown modality 'depth'"):
        LRCN(num_classes=5, modality="depth")
