"""Tests of the Karpathy et al. 2014 fusion networks (single frame, early, late, slow, multires)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch
from torch import nn

from vidlearn.models import create, get_model_info
from vidlearn.recognition.models.fusion import FusionNet, KarpathyColumn


@pytest.fixture(autouse=True, scope="module")
def single_thread() -> Iterator[None]:
    # These models run tiny tensors; on a busy 2-core machine the OpenMP barrier between two threads
    # costs more than the work itself (measured 100x slower per conv), so the module runs on one.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


SMALL = {"width_multiplier": 0.25, "fc_dim": 32, "crop_size": 32, "dropout": 0.0}


def conv_params(c_in: int, c_out: int, *kernel: int) -> int:
    size = c_out * c_in
    for k in kernel:
        size *= k
    return size + c_out


def linear_params(n_in: int, n_out: int) -> int:
    return n_in * n_out + n_out


def column_params(c_in: int, t1: int = 1, t2: int = 1, t3: int = 1) -> int:
    """The paper's column C(96,11,3)-C(256,5,1)-C(384,3,1)-C(384,3,1)-C(256,3,1) with temporal extents."""
    return (conv_params(c_in, 96, t1, 11, 11) + conv_params(96, 256, t2, 5, 5) + conv_params(256, 384, t3, 3, 3)
            + conv_params(384, 384, 3, 3) + conv_params(384, 256, 3, 3))


def num_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def build_meta(name: str, **kwargs: object) -> nn.Module:
    # the paper-size networks hold 74M-129M parameters; counting them needs no memory on the meta device
    with torch.device("meta"):
        return create(name, **kwargs)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        # 170 crop -> 7x7x256 = 12544 at FC6 (the size the paper states), FC 4096-4096, 487 Sports-1M classes
        ("single_frame", column_params(3) + linear_params(12544, 4096) + linear_params(4096, 4096)
         + linear_params(4096, 487)),
        ("early_fusion", column_params(3, t1=10) + linear_params(12544, 4096) + linear_params(4096, 4096)
         + linear_params(4096, 487)),
        ("late_fusion", column_params(3) + linear_params(2 * 12544, 4096) + linear_params(4096, 4096)
         + linear_params(4096, 487)),
        ("slow_fusion", column_params(3, t1=4, t2=2, t3=2) + linear_params(12544, 4096)
         + linear_params(4096, 4096) + linear_params(4096, 487)),
        # two separate 89x89 streams, each ending in 7x7x256 without its last pooling
        ("single_frame_multires", 2 * column_params(3) + linear_params(2 * 12544, 4096)
         + linear_params(4096, 4096) + linear_params(4096, 487)),
    ],
)
def test_paper_parameter_counts(name: str, expected: int) -> None:
    assert num_params(build_meta(name)) == expected


def test_column_output_sizes_match_the_paper() -> None:
    column = KarpathyColumn(3)
    assert column.output_size(1, 170) == (1, 7)
    multires_stream = KarpathyColumn(3, last_pool=False)
    assert multires_stream.output_size(1, 89) == (1, 7)
    slow = KarpathyColumn(3, temporal_kernels=(4, 2, 2, 1, 1), temporal_strides=(2, 2, 2, 1, 1))
    assert slow.min_frames == 10
    with pytest.raises(ValueError, match="at least 10 frames, got 9"):
        slow.output_size(9, 170)


def test_slow_fusion_temporal_responses() -> None:
    model = create("slow_fusion", num_classes=3, **SMALL).eval()
    frames = []
    convs = [m for m in model.modules() if isinstance(m, nn.Conv3d)]
    hooks = [c.register_forward_hook(lambda _m, _i, out: frames.append(out.shape[2])) for c in convs]
    model(torch.randn(1, 3, 10, 32, 32))
    for hook in hooks:
        hook.remove()
    assert frames == [4, 2, 1, 1, 1]  # "4 responses in time", then 2, then all 10 frames in one


def test_single_frame_cannot_see_motion() -> None:
    torch.manual_seed(0)
    model = create("single_frame", num_classes=4, **SMALL).eval()
    clip = torch.randn(2, 3, 6, 32, 32)
    shuffled = clip[:, :, torch.tensor([3, 0, 5, 1, 4, 2])]
    with torch.no_grad():
        assert torch.allclose(model(clip), model(shuffled), atol=1e-5)
        per_step = model(clip, return_per_step=True)
        alone = torch.stack([model(clip[:, :, t:t + 1]) for t in range(6)], dim=1)
    assert per_step.shape == (2, 6, 4)
    assert torch.allclose(per_step, alone, atol=1e-5)
    assert torch.allclose(model(clip), per_step.mean(1), atol=1e-5)


def test_late_fusion_sees_only_the_merged_frames() -> None:
    torch.manual_seed(0)
    model = create("late_fusion", num_classes=4, **SMALL).eval()
    clip = torch.randn(1, 3, 16, 32, 32)
    middle_changed = clip.clone()
    middle_changed[:, :, 1:15] = torch.randn(1, 3, 14, 32, 32)
    last_changed = clip.clone()
    last_changed[:, :, 15] += 1.0
    swapped = clip[:, :, torch.arange(15, -1, -1)]
    with torch.no_grad():
        base = model(clip)
        assert torch.allclose(base, model(middle_changed))
        assert not torch.allclose(base, model(last_changed))
        assert not torch.allclose(base, model(swapped))  # order matters: it can see motion
    gap = create("late_fusion", num_classes=4, late_fusion_frames=(0, 5), **SMALL).eval()
    with torch.no_grad(), pytest.raises(ValueError, match=r"late_fusion_frames \(0, 5\) out of range for 4"):
        gap(torch.randn(1, 3, 4, 32, 32))


def test_early_fusion_first_conv_spans_ten_frames_and_slides() -> None:
    model = create("early_fusion", num_classes=4, **SMALL).eval()
    first = next(m for m in model.modules() if isinstance(m, nn.Conv3d))
    assert tuple(first.weight.shape) == (24, 3, 10, 11, 11)
    with torch.no_grad():
        assert model(torch.randn(2, 3, 13, 32, 32), return_per_step=True).shape == (2, 4, 4)
    with pytest.raises(ValueError, match="at least 10 frames, got 8"):
        model(torch.randn(1, 3, 8, 32, 32))


def test_multires_streams_see_fovea_and_context() -> None:
    torch.manual_seed(0)
    model = create("single_frame_multires", num_classes=4, **{**SMALL, "crop_size": 64}).eval()
    clip = torch.randn(1, 3, 1, 64, 64)
    border_changed = clip.clone()
    border_changed[..., :4, :] += 1.0  # outside the centre 32x32: only the context stream sees it
    fovea_inputs = []
    hook = model.towers[0].register_forward_hook(lambda _m, inputs, _o: fovea_inputs.append(inputs[0]))
    with torch.no_grad():
        assert not torch.allclose(model(clip), model(border_changed))
    hook.remove()
    assert torch.equal(fovea_inputs[0], fovea_inputs[1])
    assert torch.equal(fovea_inputs[0], clip[..., 16:48, 16:48])


@pytest.mark.parametrize("name", ["single_frame", "late_fusion"])
@pytest.mark.parametrize("size", [32, 64])
def test_small_cpu_variant_trains(name: str, size: int) -> None:
    torch.manual_seed(0)
    model = create(name, num_classes=8, width_multiplier=0.25, fc_dim=256, crop_size=size)
    clips, labels = torch.randn(4, 3, 16, size, size), torch.tensor([0, 3, 5, 7])
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.eval()  # no dropout: the loss before and after the steps is measured on the same function
    with torch.no_grad():
        before = nn.functional.cross_entropy(model(clips), labels).item()
    model.train()
    for _ in range(5):
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(clips), labels).backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        after = nn.functional.cross_entropy(model(clips), labels).item()
    assert after < before


@pytest.mark.parametrize("fusion", ["single", "early", "late"])
def test_resnet18_backbone(fusion: str) -> None:
    model = FusionNet(fusion=fusion, num_classes=5, backbone="resnet18", early_frames=4).eval()
    with torch.no_grad():
        out = model(torch.randn(2, 3, 6, 32, 32), return_per_step=True)
    assert out.shape == (2, {"single": 6, "early": 3, "late": 1}[fusion], 5)
    head_in = model.head[0].in_features
    assert head_in == (1024 if fusion == "late" else 512)
    if fusion == "early":
        assert model.towers[0].backbone.conv1.in_channels == 12


def test_bad_input_is_named() -> None:
    model = create("single_frame", num_classes=4, **SMALL)
    with pytest.raises(ValueError, match="built for 32x32 crops, got 64x64; build it with crop_size=64"):
        model(torch.randn(1, 3, 2, 64, 64))
    with pytest.raises(ValueError, match=r"expected input \(B, 3, T, H, W\), got \(1, 2, 2, 32, 32\)"):
        model(torch.randn(1, 2, 2, 32, 32))
    with pytest.raises(ValueError, match="unknown fusion 'medium'"):
        FusionNet(fusion="medium", num_classes=3)
    with pytest.raises(ValueError, match="slow fusion is defined on the paper's 3D column only"):
        FusionNet(fusion="slow", num_classes=3, backbone="resnet18")
    with pytest.raises(ValueError, match="unknown torchvision backbone 'resnet7'"):
        FusionNet(fusion="single", num_classes=3, backbone="resnet7")


def test_classifier_interface_and_export() -> None:
    model = create("single_frame", num_classes=4, **SMALL).eval()
    assert model.forward_features(torch.randn(2, 3, 3, 32, 32)).shape == (2, 32)
    model.reset_classifier(11)
    assert model.get_classifier().out_features == 11
    clip = torch.randn(1, 3, 3, 32, 32)
    exported = torch.export.export(model, (clip,))
    assert torch.allclose(exported.module()(clip), model(clip), atol=1e-5)


def test_registry_entries() -> None:
    info = get_model_info("late_fusion")
    assert info.input_shape == (3, 16, 170, 170)
    assert info.default_num_classes == 487
    assert info.family == "fusion"
