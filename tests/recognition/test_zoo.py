"""The zoo-wide test: every registered recognition model answers the same contract.

For each name in ``list_models("recognition")``: build the CPU-sized variant (``ModelInfo.small_kwargs``),
run ``small_input_shape`` with batch 2, check the logits shape, the features and classifier interface
(``vidlearn.models.ClassifierMixin``), gradients on every trainable parameter, that one optimiser step
on a fixed batch lowers the loss, that ``reset_classifier`` changes the output size, that
``torch.export`` reproduces the eager output, and that the paper-sized model (built on the meta
device: no memory, no forward) has exactly the parameter count of its entry in ``ZOO``.

``ZOO`` is this test's own table, keyed by model name: every registered recognition model must have
an entry (a new model cannot skip the zoo test), which gives its exact published parameter count or
says why there is none, and exempts it from a check only with a reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pytest
import torch
from torch import nn

from vidlearn.models import Classifier, create, get_model_info, list_models

MODEL_NAMES = list_models("recognition")
BATCH = 2
CHECKS = frozenset({"forward", "backward", "train_step", "export"})


@dataclass(frozen=True)
class ZooEntry:
    """One model's zoo-test data.

    ``params``: the exact parameter count of ``create(name)`` (paper classes, builder defaults) as
    published, or a string saying why no count is checked. ``exempt``: check -> reason to skip it.
    """

    params: int | str
    exempt: Mapping[str, str] = field(default_factory=dict)


_NO_COUNT_KARPATHY = "Karpathy et al. 2014 publish no parameter count"
_NO_COUNT_SIMONYAN = "Simonyan & Zisserman 2014 publish no parameter count for CNN-M-2048"
_NO_COUNT_LRCN = "Donahue et al. 2015 publish no count; PyTorch's LSTM also has a second bias per gate"
_NO_COUNT_T3D = "Diba et al. 2017 publish no count and no code; the TTL widths are this library's choice"
_NO_COUNT_RESNET18 = "a ResNet-18 variant of this library, not a published network"

ZOO: dict[str, ZooEntry] = {
    "c3d": ZooEntry(79_991_015),  # Tran et al. 2015 / the released Sports-1M model
    "c3d_keras": ZooEntry(16_117_733),  # TianzhongSong/C3D-keras models.py (Keras count_params, 101 classes)
    "i3d": ZooEntry(12_697_264),  # DeepMind kinetics-i3d, RGB
    "i3d_flow": ZooEntry(12_675_312),  # DeepMind kinetics-i3d, flow
    "i3d_two_stream": ZooEntry(12_697_264 + 12_675_312),
    "r3d_18": ZooEntry(33_371_472),  # torchvision's documented counts
    "mc3_18": ZooEntry(11_695_440),
    "r2plus1d_18": ZooEntry(31_505_325),
    "s3d": ZooEntry(8_320_048),
    "single_frame": ZooEntry(_NO_COUNT_KARPATHY),
    "single_frame_multires": ZooEntry(_NO_COUNT_KARPATHY),
    "early_fusion": ZooEntry(_NO_COUNT_KARPATHY),
    "late_fusion": ZooEntry(_NO_COUNT_KARPATHY),
    "slow_fusion": ZooEntry(_NO_COUNT_KARPATHY),
    "two_stream": ZooEntry(_NO_COUNT_SIMONYAN),
    "two_stream_spatial": ZooEntry(_NO_COUNT_SIMONYAN),
    "two_stream_temporal": ZooEntry(_NO_COUNT_SIMONYAN),
    "two_stream_spatial_resnet18": ZooEntry(_NO_COUNT_RESNET18),
    "two_stream_temporal_resnet18": ZooEntry(_NO_COUNT_RESNET18),
    "lrcn": ZooEntry(_NO_COUNT_LRCN),
    "lrcn_flow": ZooEntry(_NO_COUNT_LRCN),
    "lrcn_resnet18": ZooEntry(_NO_COUNT_RESNET18),
    "t3d_121": ZooEntry(_NO_COUNT_T3D),
    "t3d_169": ZooEntry(_NO_COUNT_T3D),
    "densenet3d_121": ZooEntry(_NO_COUNT_T3D),
}


def test_every_recognition_model_has_a_zoo_entry() -> None:
    missing = sorted(set(MODEL_NAMES) - set(ZOO))
    stale = sorted(set(ZOO) - set(MODEL_NAMES))
    assert not missing, f"registered models without a ZOO entry (add one to this file): {missing}"
    assert not stale, f"ZOO entries for models that are not registered: {stale}"
    for name, entry in ZOO.items():
        unknown = set(entry.exempt) - CHECKS
        assert not unknown, f"{name}: unknown exempted check(s) {sorted(unknown)}; known: {sorted(CHECKS)}"
        assert all(entry.exempt.values()), f"{name}: an exemption without a reason"


def _exempt(name: str, check: str) -> None:
    reason = ZOO[name].exempt.get(check) if name in ZOO else None
    if reason:
        pytest.skip(f"{name} is exempt from {check}: {reason}")


def _shapes(name: str) -> list[tuple[int, ...]]:
    info = get_model_info(name)
    shape = info.small_input_shape or info.input_shape
    return list(shape) if info.num_inputs > 1 else [shape]  # type: ignore[list-item]


def _inputs(name: str, seed: int = 0) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return [torch.randn(BATCH, *shape, generator=generator) for shape in _shapes(name)]


def _small_model(name: str) -> tuple[nn.Module, int]:
    info = get_model_info(name)
    kwargs = dict(info.small_kwargs)
    num_classes = kwargs.pop("num_classes", info.default_num_classes)
    torch.manual_seed(0)
    return create(name, num_classes=num_classes, **kwargs), num_classes


def _out_size(head: nn.Module) -> int:
    return head.out_features if isinstance(head, nn.Linear) else head.out_channels


def test_zoo_is_populated() -> None:
    # The families whose builders live in this package; a failed import would silently shrink the zoo.
    for name in ("c3d", "i3d", "i3d_flow", "i3d_two_stream", "r3d_18", "mc3_18", "r2plus1d_18", "s3d"):
        assert name in MODEL_NAMES


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_registry_entry(name: str) -> None:
    info = get_model_info(name)
    assert info.wing == "recognition"
    assert info.builder.__module__.startswith("vidlearn.recognition.models.")
    assert info.paper, f"{name} cites no paper"
    assert info.has_classes and info.default_num_classes > 0
    for shape in _shapes(name):
        assert len(shape) in (4, 5), f"{name}: input shape {shape} is not (C, T, H, W)"
    for spec in info.weights.values():
        assert spec.filename and spec.source and spec.layout, f"{name}/{spec.name}: incomplete weights spec"
        # recognition's task metadata: the head size of the file (0: no head) and its label set
        assert isinstance(spec.meta["num_classes"], int) and spec.meta["num_classes"] >= 0, spec.name
        assert isinstance(spec.meta["classes"], str) and spec.meta["classes"], spec.name


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_forward_backward_and_one_step(name: str) -> None:
    _exempt(name, "forward")
    model, num_classes = _small_model(name)
    inputs = _inputs(name)
    model.train()

    # Forward: logits (B, num_classes); features (B, D); the classifier is the head of that width.
    torch.manual_seed(1)
    logits = model(*inputs)
    assert logits.shape == (BATCH, num_classes)
    assert torch.isfinite(logits).all()
    assert isinstance(model, Classifier)
    with torch.no_grad():
        features = model.forward_features(*inputs)
    assert features.ndim == 2 and features.shape[0] == BATCH
    head = model.get_classifier()
    heads = list(head.values()) if isinstance(head, nn.ModuleDict) else [head]
    assert heads and all(_out_size(h) == num_classes for h in heads)
    assert all(any(h is m for m in model.modules()) for h in heads), f"{name}: get_classifier is not the model's head"

    # Backward: every trainable parameter receives a finite gradient.
    _exempt(name, "backward")
    target = torch.arange(BATCH) % num_classes
    loss = nn.functional.cross_entropy(logits, target)
    loss.backward()
    trainable = {n: p for n, p in model.named_parameters() if p.requires_grad}
    assert trainable
    no_grad = [n for n, p in trainable.items() if p.grad is None]
    assert not no_grad, f"{name}: parameters without gradient: {no_grad}"
    assert all(torch.isfinite(p.grad).all() for p in trainable.values())
    assert sum(p.grad.abs().sum() for p in trainable.values()) > 0

    # One SGD step on a fixed batch lowers the loss. The loss is taken in eval mode, a deterministic
    # function of the parameters (no dropout masks; batch norm over 2 tiny clips in train mode makes
    # the loss surface too rough to test a step on). The gradient is a descent direction, so a small
    # enough step must help: try 1e-2, then smaller, undoing a step that did not.
    _exempt(name, "train_step")
    model.eval()
    model.zero_grad()
    loss = nn.functional.cross_entropy(model(*inputs), target)
    loss.backward()
    before = {n: p.detach().clone() for n, p in trainable.items()}
    losses = []
    for lr in (1e-2, 1e-3, 1e-4):
        torch.optim.SGD(trainable.values(), lr=lr).step()
        with torch.no_grad():
            losses.append(nn.functional.cross_entropy(model(*inputs), target).item())
            if losses[-1] < loss.item():
                break
            for n, p in trainable.items():
                p.copy_(before[n])
    assert losses[-1] < loss.item(), f"{name}: loss {loss.item():.6f} -> {losses} after steps of 1e-2, 1e-3, 1e-4"
    model.zero_grad()

    # A new head for another class count (same model: building twice costs more than the check).
    model.reset_classifier(3)
    with torch.no_grad():
        assert model(*inputs).shape == (BATCH, 3)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_forward_features_takes_layer_by_keyword(name: str) -> None:
    # Every model takes forward_features(..., layer=None); no caller needs to inspect its signature.
    _exempt(name, "forward")
    model, _ = _small_model(name)
    model.eval()
    inputs = _inputs(name, seed=3)
    with torch.no_grad():
        torch.testing.assert_close(model.forward_features(*inputs, layer=None), model.forward_features(*inputs))
        for layer in model.feature_layers:
            assert model.forward_features(*inputs, layer=layer).shape[0] == BATCH
    with pytest.raises(ValueError, match=r"unknown layer 'no_such_layer'"):
        model.forward_features(*inputs, layer="no_such_layer")


# nn.LSTM (LRCN) re-assigns its flat weight list in forward; PyTorch's non-strict export restores it
# and warns on purpose (pytorch/pytorch#163809).
@pytest.mark.filterwarnings("ignore:The tensor attributes self.lstm._flat_weights:UserWarning")
@pytest.mark.parametrize("name", MODEL_NAMES)
def test_export_matches_eager(name: str) -> None:
    _exempt(name, "export")
    model, _ = _small_model(name)
    model.eval()
    inputs = tuple(_inputs(name, seed=2))
    with torch.no_grad():
        expected = model(*inputs)
        exported = torch.export.export(model, inputs, strict=False)
        got = exported.module()(*inputs)
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)


COUNTED = [name for name, entry in ZOO.items() if isinstance(entry.params, int) and name in MODEL_NAMES]


@pytest.mark.parametrize("name", COUNTED)
def test_parameter_count_at_paper_size(name: str) -> None:
    with torch.device("meta"):  # shapes only: an 80M-parameter model costs nothing to build
        model = create(name)
    count = sum(p.numel() for p in model.parameters())
    assert count == ZOO[name].params, f"{name}: {count:,} != {ZOO[name].params:,}"
