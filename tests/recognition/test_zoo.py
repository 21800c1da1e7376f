"""The zoo-wide test: every registered recognition model answers the same contract.

For each name in ``list_models("recognition")``: build the small variant (``ModelInfo.test_kwargs``),
run ``small_input_shape`` with batch 2, check the logits shape, the features and classifier interface,
gradients on every trainable parameter, that one optimiser step on a fixed batch lowers the loss,
that ``reset_classifier`` changes the output size,
that ``torch.export`` reproduces the eager output, and that the paper-sized model (built on the meta
device: no memory, no forward) has exactly ``reference_num_params`` parameters. A model opts out of a
check only through ``ModelInfo.test_exemptions`` with a reason.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from vidlearn.models import create, get_model_info, list_models

MODEL_NAMES = list_models("recognition")
BATCH = 2


def _exempt(name: str, check: str) -> None:
    reason = get_model_info(name).test_exemptions.get(check)
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
    kwargs = dict(info.test_kwargs)
    num_classes = kwargs.pop("num_classes", info.default_num_classes)
    torch.manual_seed(0)
    return create(name, num_classes=num_classes, **kwargs), num_classes


def test_zoo_is_populated() -> None:
    # The families whose builders live in this package; a failed import would silently shrink the zoo.
    for name in ("c3d", "i3d", "i3d_flow", "i3d_two_stream", "r3d_18", "mc3_18", "r2plus1d_18", "s3d"):
        assert name in MODEL_NAMES


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_registry_entry(name: str) -> None:
    info = get_model_info(name)
    assert info.wing == "recognition"
    assert info.paper, f"{name} cites no paper"
    assert info.default_num_classes > 0
    for shape in _shapes(name):
        assert len(shape) in (4, 5), f"{name}: input shape {shape} is not (C, T, H, W)"
    for spec in info.weights.values():
        assert spec.filename and spec.source and spec.layout, f"{name}/{spec.name}: incomplete weights spec"


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_forward_backward_and_one_step(name: str) -> None:
    _exempt(name, "forward")
    model, num_classes = _small_model(name)
    inputs = _inputs(name)
    model.train()

    # Forward: logits (B, num_classes); features (B, D); the classifier is a module.
    torch.manual_seed(1)
    logits = model(*inputs)
    assert logits.shape == (BATCH, num_classes)
    assert torch.isfinite(logits).all()
    with torch.no_grad():
        features = model.forward_features(*inputs)
    assert features.ndim == 2 and features.shape[0] == BATCH
    assert isinstance(model.get_classifier(), nn.Module)

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


REFERENCED = [n for n in MODEL_NAMES if get_model_info(n).reference_num_params is not None]


@pytest.mark.parametrize("name", REFERENCED)
def test_parameter_count_at_paper_size(name: str) -> None:
    info = get_model_info(name)
    with torch.device("meta"):  # shapes only: an 80M-parameter model costs nothing to build
        model = create(name)
    count = sum(p.numel() for p in model.parameters())
    assert count == info.reference_num_params, f"{name}: {count:,} != {info.reference_num_params:,}"


@pytest.mark.parametrize(
    ("name", "expected"),
    [("c3d", 79_991_015), ("i3d", 12_697_264), ("i3d_flow", 12_675_312), ("r3d_18", 33_371_472)],
)
def test_published_parameter_counts(name: str, expected: int) -> None:
    # Independent of the registry's reference_num_params: the numbers published for these models.
    with torch.device("meta"):
        model = create(name)
    assert sum(p.numel() for p in model.parameters()) == expected
