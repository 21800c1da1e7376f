"""The model registry: registration, wing inference, lookup, create, models with and without classes."""

from __future__ import annotations

import ast
import math
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from torch import nn

import vidlearn.models.weights as weights_module
from vidlearn.models import (
    WINGS,
    CheckpointLoadError,
    create,
    get_model_info,
    list_models,
    load_weights,
    register_model,
    save_weights,
    unregister_model,
)
from vidlearn.models import registry as registry_module
from vidlearn.models.flops import count_flops
from vidlearn.models.layers import (
    Conv3dSame,
    MaxPool3d,
    MaxPool3dSame,
    same_padding,
)

TESTS = Path(__file__).resolve().parents[1]


class _Toy(nn.Module):
    def __init__(self, *, num_classes: int, width: int = 4) -> None:
        super().__init__()
        self.fc = nn.Linear(width, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x.mean(dim=(2, 3, 4))[:, :1].expand(-1, self.fc.in_features))


class _ToyUpscaler(nn.Module):
    """A classless model (as a super-resolution network): ``(B, T, C, h, w) -> (B, T, C, 2h, 2w)``."""

    def __init__(self, *, channels: int = 3, scale: int = 2) -> None:
        super().__init__()
        self.body = nn.Conv2d(channels, channels * scale * scale, 3, padding=1)
        self.shuffle = nn.PixelShuffle(scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        frames = x.flatten(0, 1)
        return self.shuffle(self.body(frames)).unflatten(0, x.shape[:2])


@pytest.fixture
def toy_names() -> Iterator[list[str]]:
    """Names registered by a test, removed afterwards so the zoo stays as the wings define it."""
    names: list[str] = []
    yield names
    for name in names:
        if name in registry_module._REGISTRY:
            unregister_model(name)


def test_register_and_create_a_classifier(toy_names: list[str]) -> None:
    toy_names.append("toy_clip_model")

    @register_model("toy_clip_model", wing="recognition", paper="Nobody 2099", input_shape=(3, 8, 16, 16),
                    default_num_classes=9, small_input_shape=[3, 2, 4, 4], small_kwargs={"width": 2})
    def toy(*, num_classes: int, width: int = 4) -> _Toy:
        """A toy model for the registry tests."""
        return _Toy(num_classes=num_classes, width=width)

    info = get_model_info("toy_clip_model")
    assert info.description == "A toy model for the registry tests."
    assert info.family == "toy_clip_model" and info.wing == "recognition" and info.has_classes
    assert info.small_input_shape == (3, 2, 4, 4) and info.num_inputs == 1
    assert dict(info.small_kwargs) == {"width": 2}
    assert "toy_clip_model" in list_models("recognition")
    model = create("toy_clip_model")
    assert model.fc.out_features == 9 and model.vidlearn_name == "toy_clip_model"
    assert model.vidlearn_family == "toy_clip_model"
    assert sum(p.numel() for p in model.parameters()) == 4 * 9 + 9
    assert create("toy_clip_model", num_classes=2, width=3).fc.weight.shape == (2, 3)
    assert create("toy_clip_model", **info.small_kwargs).fc.weight.shape == (9, 2)


def test_multi_input_models_give_one_shape_per_tensor(toy_names: list[str]) -> None:
    toy_names.append("toy_two_input")
    register_model("toy_two_input", wing="recognition", paper="p", input_shape=[(3, 8, 8, 8), (2, 8, 8, 8)],
                   default_num_classes=2)(lambda *, num_classes: _Toy(num_classes=num_classes))
    info = get_model_info("toy_two_input")
    assert info.input_shape == ((3, 8, 8, 8), (2, 8, 8, 8)) and info.num_inputs == 2


def test_registration_errors(toy_names: list[str]) -> None:
    toy_names.append("toy_once")
    register_model("toy_once", wing="recognition", paper="p", input_shape=(3, 1, 1, 1),
                   default_num_classes=1)(lambda *, num_classes: _Toy(num_classes=num_classes))
    with pytest.raises(ValueError, match="'toy_once' is already registered"):
        register_model("toy_once", wing="recognition", paper="p", input_shape=(3, 1, 1, 1),
                       default_num_classes=1)(lambda *, num_classes: _Toy(num_classes=num_classes))
    with pytest.raises(ValueError, match=r"model 'toy_bad': default_num_classes must be a positive int or None, got 0"):
        register_model("toy_bad", wing="recognition", paper="p", input_shape=(3, 1, 1, 1), default_num_classes=0)
    with pytest.raises(ValueError, match="model 'toy_bad': unknown wing 'tracker'"):
        register_model("toy_bad", wing="tracker", paper="p", input_shape=(3, 1, 1, 1))(_ToyUpscaler)
    assert "toy_bad" not in registry_module._REGISTRY
    with pytest.raises(KeyError, match="'toy_never' is not registered"):
        unregister_model("toy_never")


# --- the wing: inferred from the builder's module ---------------------------------------------------

def _builder_in(module: str) -> type[nn.Module]:
    return type("Builder", (_ToyUpscaler,), {"__module__": module})


def test_wing_is_inferred_from_the_module_that_registers_the_model(toy_names: list[str]) -> None:
    toy_names.extend(["toy_tracker_net", "toy_generator"])
    register_model("toy_tracker_net", paper="p", input_shape=(3, 8, 8))(_builder_in("vidlearn.tracking.models.toy"))
    register_model("toy_generator", paper="p", input_shape=(3, 8, 8))(_builder_in("vidlearn.generation.models"))
    assert get_model_info("toy_tracker_net").wing == "tracking"
    assert get_model_info("toy_generator").wing == "generation"
    assert "toy_tracker_net" in list_models("tracking")  # beside the wing's own models (deepsort_reid)
    # the zoo's own models, e.g. vidlearn.recognition.models.c3d
    assert get_model_info("c3d").builder.__module__ == "vidlearn.recognition.models.c3d"
    assert get_model_info("c3d").wing == "recognition"


def test_wing_that_cannot_be_inferred_or_contradicts_the_module_is_an_error(toy_names: list[str]) -> None:
    with pytest.raises(ValueError, match=r"model 'toy_x': cannot infer its wing from module 'tests\.elsewhere'"):
        register_model("toy_x", paper="p", input_shape=(3, 8, 8))(_builder_in("tests.elsewhere"))
    with pytest.raises(ValueError, match=r"'toy_x' is defined in vidlearn\.superres\.models\.x \(wing 'superres'\), "
                                         r"not in wing 'recognition'"):
        register_model("toy_x", wing="recognition", paper="p", input_shape=(3, 8, 8))(
            _builder_in("vidlearn.superres.models.x"))
    assert "toy_x" not in registry_module._REGISTRY


def test_wing_model_modules_lists_only_the_wings_that_have_a_models_package() -> None:
    assert set(WINGS) == {"recognition", "tracking", "superres", "generation"}
    src = Path(registry_module.__file__).resolve().parents[1]
    expected = {wing for wing in WINGS if (src / wing / "models").is_dir() or (src / wing / "models.py").is_file()}
    assert "recognition" in expected
    assert set(registry_module.WING_MODEL_MODULES) == expected
    assert registry_module._module_exists("vidlearn.recognition.models.c3d")
    assert not registry_module._module_exists("vidlearn.tracking.no_such_module")
    assert not registry_module._module_exists("vidlearn.models.registry.nothing_below_a_module")


def test_importing_the_registry_imports_no_wing() -> None:
    code = ("import sys, vidlearn.models; "
            "print(sorted(m for m in sys.modules if m.split('.')[:2] in "
            "[['vidlearn', w] for w in vidlearn.models.WINGS]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_weights_module_does_not_import_the_registry() -> None:
    # registry -> weights only: create() loads weights; load_weights finds the family on the model.
    tree = ast.parse(Path(weights_module.__file__).read_text())
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    assert not any(name and name.startswith("vidlearn.models") for name in imported), imported


def test_every_wing_with_models_has_a_zoo_test() -> None:
    # A wing's first model must come with its zoo test (tests/<wing>/test_zoo.py, table keyed by name).
    for wing in {get_model_info(name).wing for name in list_models()}:
        assert (TESTS / wing / "test_zoo.py").is_file(), f"wing {wing!r} has models but no tests/{wing}/test_zoo.py"


# --- a model without classes -------------------------------------------------------------------------

@pytest.fixture
def classless(toy_names: list[str]) -> str:
    toy_names.append("toy_upscaler")
    register_model("toy_upscaler", paper="Nobody 2099", input_shape=(4, 3, 8, 8), family="toy_sr",
                   small_kwargs={"scale": 2})(_builder_in("vidlearn.superres.models.toy"))
    return "toy_upscaler"


def test_a_classless_model_registers_and_builds(classless: str) -> None:
    info = get_model_info(classless)
    assert info.wing == "superres" and info.default_num_classes is None and not info.has_classes
    assert classless in list_models("superres")
    model = create(classless, scale=3)  # no num_classes reaches the builder (it takes none)
    assert model(torch.zeros(1, 2, 3, 5, 4)).shape == (1, 2, 3, 15, 12)
    assert model.vidlearn_name == classless and model.vidlearn_family == "toy_sr"
    with pytest.raises(ValueError, match=r"model 'toy_upscaler' \(superres\) has no classes; drop num_classes=10"):
        create(classless, num_classes=10)


def test_a_classless_model_loads_weights_strictly(classless: str, tmp_path: Path) -> None:
    torch.manual_seed(0)
    source = create(classless)
    path = save_weights(source, tmp_path / "upscaler.safetensors")
    target = create(classless, weights=path)  # through create, layout "vidlearn"
    for key, value in source.state_dict().items():
        assert torch.equal(target.state_dict()[key], value), key
    assert load_weights(create(classless), path) == "vidlearn"

    import safetensors.torch

    state = safetensors.torch.load_file(str(path))
    extra = {**state, "head.weight": torch.zeros(2)}
    safetensors.torch.save_file(extra, str(tmp_path / "extra.safetensors"))
    with pytest.raises(CheckpointLoadError, match=r"unexpected keys \(1\): head\.weight"):
        load_weights(create(classless), tmp_path / "extra.safetensors")
    partial = {key: value for key, value in state.items() if key != "body.bias"}
    safetensors.torch.save_file(partial, str(tmp_path / "partial.safetensors"))
    with pytest.raises(CheckpointLoadError, match=r"missing keys \(1\): body\.bias"):
        load_weights(create(classless), tmp_path / "partial.safetensors")


def test_unknown_names_are_explained() -> None:
    with pytest.raises(KeyError, match="did you mean i3d"):
        get_model_info("i3dd")
    with pytest.raises(ValueError, match="unknown wing 'recogniton'; known wings: recognition, tracking, superres"):
        list_models("recogniton")


def test_published_models_are_registered_with_their_papers() -> None:
    assert get_model_info("c3d").paper.startswith("Tran et al. 2015")
    assert get_model_info("i3d").paper.startswith("Carreira & Zisserman 2017")
    assert get_model_info("i3d_two_stream").num_inputs == 2
    spec = get_model_info("c3d").weights["sports1m"]
    assert (spec.filename, spec.layout, spec.preprocessing.channel_order) == ("c3d.pickle", "c3d-pickle", "BGR")
    assert spec.preprocessing.mean == (90.25, 97.66, 101.41)
    assert spec.meta["num_classes"] == 487 and spec.meta["classes"] == "Sports-1M (487 classes)"
    assert get_model_info("c3d").weights["sports1m-mmaction2"].meta["num_classes"] == 0  # backbone only
    assert get_model_info("r3d_18").weights["kinetics400"].metrics["top1"] == 63.2


def test_weights_spec_keeps_task_metadata_in_meta() -> None:
    from dataclasses import asdict

    from vidlearn.models import Preprocessing, WeightsSpec

    meta = {"scale": 4}
    spec = WeightsSpec(name="vimeo", filename="frvsr.pth", source="s", license="l", layout="vidlearn",
                       preprocessing=Preprocessing(value_range=(0.0, 1.0)), meta=meta)
    meta["scale"] = 2  # the spec holds its own copy
    assert spec.meta == {"scale": 4}
    assert asdict(spec)["meta"] == {"scale": 4}  # plain data: specs serialise as JSON does
    plain = WeightsSpec(name="n", filename="f", source="s", license="l", layout="vidlearn",
                        preprocessing=Preprocessing())
    assert plain.meta == {} and plain.metrics == {}
    with pytest.raises(TypeError, match=r"weights spec 'n': meta keys must be str, got \[1\]"):
        WeightsSpec(name="n", filename="f", source="s", license="l", layout="vidlearn",
                    preprocessing=Preprocessing(), meta={1: "one"})


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


def test_a_training_checkpoint_gives_its_weights_or_their_moving_average(tmp_path: Path) -> None:
    from torch.utils.data import TensorDataset

    from vidlearn.engine import Trainer
    from vidlearn.engine.config import OptimConfig, TrainerConfig
    from vidlearn.models import read_checkpoint

    torch.manual_seed(0)
    data = TensorDataset(torch.randn(8, 3), torch.randn(8, 2))
    config = TrainerConfig(max_epochs=1, work_dir=str(tmp_path / "run"), progress_bar=False, eval_every_epochs=0)
    model = nn.Linear(3, 2)
    start = {key: value.clone() for key, value in model.state_dict().items()}

    def step(m: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        return nn.functional.mse_loss(m(batch[0]), batch[1])

    trainer = Trainer(model, data, step_fn=step, batch_size=4, config=config, optim=OptimConfig(name="sgd", lr=0.5),
                      ema={"model": 0.75})
    trainer.fit()
    path = trainer.history.last_checkpoint
    weights, averaged = read_checkpoint(path), read_checkpoint(path, ema=True)
    assert set(averaged) == set(weights) == {"weight", "bias"}
    for key, value in weights.items():
        assert torch.equal(value, model.state_dict()[key])
        assert torch.equal(averaged[key], trainer.ema["model"].module.state_dict()[key])
        # Two steps from `start` at decay 0.75, the average is neither the start nor the weights.
        assert not torch.allclose(averaged[key], value) and not torch.allclose(averaged[key], start[key])
    assert read_checkpoint(path, ema="auto").keys() == averaged.keys()
    assert all(torch.equal(read_checkpoint(path, ema="auto")[k], v) for k, v in averaged.items())
    target = nn.Linear(3, 2)
    load_weights(target, path, ema=True)
    assert torch.equal(target.weight, averaged["weight"])
    # Without an average: "auto" reads the weights, True is an error naming the file.
    saved = save_weights(model, tmp_path / "plain.safetensors")
    assert torch.equal(read_checkpoint(saved, ema="auto")["weight"], model.weight.detach())
    with pytest.raises(CheckpointLoadError, match=r"plain\.safetensors: holds no EMA copy of the weights"):
        read_checkpoint(saved, ema=True)
    torch.save({"model": model.state_dict(), "ema": {"g": {"weight": model.weight}, "d": {"weight": model.weight}}},
               tmp_path / "gan.pt")
    with pytest.raises(CheckpointLoadError, match=r"gan\.pt: holds EMA copies of several models \(g, d\)"):
        read_checkpoint(tmp_path / "gan.pt", ema=True)
