"""The model registry: registration, lookup, create, and the zoo-test fields of ModelInfo."""

from __future__ import annotations

import math
from collections.abc import Iterator

import pytest
import torch
from torch import nn

from vidlearn.models import create, get_model_info, list_models, register_model
from vidlearn.models import registry as registry_module
from vidlearn.models.flops import count_flops
from vidlearn.models.layers import (
    Conv3dSame,
    MaxPool3d,
    MaxPool3dSame,
    same_padding,
)


class _Toy(nn.Module):
    def __init__(self, *, num_classes: int, width: int = 4) -> None:
        super().__init__()
        self.fc = nn.Linear(width, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x.mean(dim=(2, 3, 4))[:, :1].expand(-1, self.fc.in_features))


@pytest.fixture
def toy_names() -> Iterator[list[str]]:
    """Names registered by a test, removed afterwards so the zoo stays as the wings define it."""
    names: list[str] = []
    yield names
    for name in names:
        registry_module._REGISTRY.pop(name, None)


def test_register_and_create_with_zoo_fields(toy_names: list[str]) -> None:
    toy_names.append("toy_clip_model")

    @register_model("toy_clip_model", wing="recognition", paper="Nobody 2099", input_shape=(3, 8, 16, 16),
                    default_num_classes=9, small_input_shape=[3, 2, 4, 4], reference_num_params=45,
                    test_kwargs={"width": 2}, test_exemptions={"export": "reason given here"})
    def toy(*, num_classes: int, width: int = 4) -> _Toy:
        """A toy model for the registry tests."""
        return _Toy(num_classes=num_classes, width=width)

    info = get_model_info("toy_clip_model")
    assert info.description == "A toy model for the registry tests."
    assert info.family == "toy_clip_model"
    assert info.small_input_shape == (3, 2, 4, 4) and info.num_inputs == 1
    assert info.reference_num_params == 45 and dict(info.test_kwargs) == {"width": 2}
    assert info.test_exemptions["export"] == "reason given here"
    assert "toy_clip_model" in list_models("recognition")
    model = create("toy_clip_model")
    assert model.fc.out_features == 9 and model.vidlearn_name == "toy_clip_model"
    assert sum(p.numel() for p in model.parameters()) == info.reference_num_params
    assert create("toy_clip_model", num_classes=2, width=3).fc.weight.shape == (2, 3)


def test_multi_input_models_give_one_shape_per_tensor(toy_names: list[str]) -> None:
    toy_names.append("toy_two_input")
    register_model("toy_two_input", wing="recognition", paper="p", input_shape=[(3, 8, 8, 8), (2, 8, 8, 8)],
                   default_num_classes=2)(lambda *, num_classes: _Toy(num_classes=num_classes))
    info = get_model_info("toy_two_input")
    assert info.input_shape == ((3, 8, 8, 8), (2, 8, 8, 8)) and info.num_inputs == 2


def test_registration_errors(toy_names: list[str]) -> None:
    with pytest.raises(ValueError, match=r"unknown test_exemptions key\(s\) \['exprot'\]"):
        register_model("toy_bad", wing="recognition", paper="p", input_shape=(3, 1, 1, 1),
                       default_num_classes=1, test_exemptions={"exprot": "typo"})
    toy_names.append("toy_once")
    register_model("toy_once", wing="recognition", paper="p", input_shape=(3, 1, 1, 1),
                   default_num_classes=1)(lambda *, num_classes: _Toy(num_classes=num_classes))
    with pytest.raises(ValueError, match="'toy_once' is already registered"):
        register_model("toy_once", wing="recognition", paper="p", input_shape=(3, 1, 1, 1),
                       default_num_classes=1)(lambda *, num_classes: _Toy(num_classes=num_classes))


def test_unknown_names_are_explained() -> None:
    with pytest.raises(KeyError, match="did you mean i3d"):
        get_model_info("i3dd")
    with pytest.raises(ValueError, match="unknown wing 'recogniton'"):
        list_models("recogniton")


def test_published_models_are_registered_with_their_papers() -> None:
    assert get_model_info("c3d").paper.startswith("Tran et al. 2015")
    assert get_model_info("i3d").paper.startswith("Carreira & Zisserman 2017")
    assert get_model_info("i3d_two_stream").num_inputs == 2
    spec = get_model_info("c3d").weights["sports1m"]
    assert (spec.filename, spec.layout, spec.preprocessing.channel_order) == ("c3d.pickle", "c3d-pickle", "BGR")
    assert spec.preprocessing.mean == (90.25, 97.66, 101.41)
    assert get_model_info("r3d_18").weights["kinetics400"].metrics["top1"] == 63.2


# --- flops -------------------------------------------------------------------------------------------

def test_count_flops_is_multiply_adds_of_a_conv() -> None:
    conv = nn.Conv3d(3, 8, kernel_size=(3, 5, 5), stride=(1, 2, 2), padding=(1, 2, 2))
    # Output (8, 6, 10, 12) from input (3, 6, 20, 24); each output value costs 3*3*5*5 multiply-adds.
    expected = 8 * 6 * 10 * 12 * (3 * 3 * 5 * 5) / 1e9
    assert count_flops(conv, (3, 6, 20, 24)) == pytest.approx(expected, rel=1e-12)
    linear = nn.Sequential(nn.Flatten(), nn.Linear(3 * 2 * 2 * 2, 5))
    assert count_flops(linear, (3, 2, 2, 2)) == pytest.approx(24 * 5 / 1e9, rel=1e-12)
    assert conv.training  # the mode is given back


def test_count_flops_takes_several_inputs_and_rejects_bad_shapes() -> None:
    class Pair(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a, self.b = nn.Conv3d(3, 4, 1), nn.Conv3d(2, 4, 1)

        def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            return self.a(x) + self.b(y)

    assert count_flops(Pair(), [(3, 2, 4, 4), (2, 2, 4, 4)]) == pytest.approx((12 + 8) * 32 / 1e9, rel=1e-12)
    with pytest.raises(ValueError, match="positive ints"):
        count_flops(nn.Conv3d(3, 4, 1), (3, 0, 4, 4))


# --- TF "SAME" layers --------------------------------------------------------------------------------

def _piergiaj_pad(size: int, kernel: int, stride: int) -> tuple[int, int]:
    # pytorch-i3d's compute_pad, an independent statement of TF's rule.
    total = max(kernel - stride, 0) if size % stride == 0 else max(kernel - size % stride, 0)
    return total // 2, total - total // 2


@pytest.mark.parametrize("size", [1, 2, 7, 8, 15, 112, 113, 224])
@pytest.mark.parametrize(("kernel", "stride"), [(1, 1), (3, 1), (3, 2), (7, 2), (2, 2), (1, 2)])
def test_same_padding_matches_tensorflow(size: int, kernel: int, stride: int) -> None:
    assert same_padding(size, kernel, stride) == _piergiaj_pad(size, kernel, stride)


def test_same_conv_and_pool_shapes() -> None:
    x = torch.randn(1, 2, 9, 15, 16)
    conv = Conv3dSame(2, 3, (3, 7, 7), stride=2)
    assert conv(x).shape == (1, 3, math.ceil(9 / 2), math.ceil(15 / 2), 8)
    # Max-pool padding is -inf: on all-negative input no padded zero may win.
    pooled = MaxPool3dSame((1, 3, 3), stride=(1, 2, 2))(-(x.abs() + 1))
    assert pooled.shape == (1, 2, 9, 8, 8) and (pooled < 0).all()
    with pytest.raises(ValueError, match="temporal_padding must be one of"):
        Conv3dSame(2, 3, 3, temporal_padding="reflect")


# --- max pooling on the bf16 fast path ---------------------------------------------------------------

@pytest.mark.parametrize(
    "pool",
    [
        MaxPool3d((1, 2, 2), stride=(1, 2, 2)),
        MaxPool3d(2, stride=2, padding=(0, 1, 1)),  # C3D's pool5
        MaxPool3d((1, 2, 2), stride=(1, 2, 2), ceil_mode=True),
        MaxPool3dSame((1, 3, 3), stride=(1, 2, 2)),
    ],
    ids=["c3d-pool1", "c3d-pool5", "ceil", "same"],
)
def test_max_pool_keeps_bfloat16_under_cpu_autocast_with_the_float32_values(pool) -> None:
    x = torch.randn(2, 3, 4, 9, 10).to(torch.bfloat16)
    expected = pool(x.float())  # autocast off: float32 pooling of the same bf16 values
    with torch.autocast("cpu", dtype=torch.bfloat16):
        pooled = pool(x)
        plain = torch.nn.functional.max_pool3d(x, 2)
    # CPU autocast runs the plain op in float32; the layer keeps bfloat16, with identical values.
    assert plain.dtype == torch.float32
    assert pooled.dtype == torch.bfloat16
    assert torch.equal(pooled.float(), expected)
    assert pool(x.float()).dtype == torch.float32  # outside autocast: nothing changes


def test_count_flops_of_a_meta_device_model_equals_the_real_count() -> None:
    with torch.device("meta"):
        meta = nn.Sequential(nn.Conv3d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv3d(8, 4, 1))
    real = nn.Sequential(nn.Conv3d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv3d(8, 4, 1))
    expected = (8 * 3 * 27 + 4 * 8) * 4 * 6 * 6 / 1e9
    assert count_flops(meta, (3, 4, 6, 6)) == pytest.approx(expected, rel=1e-12)
    assert count_flops(real, (3, 4, 6, 6)) == pytest.approx(expected, rel=1e-12)
