"""The zoo-wide test of the tracking wing: every registered model answers the same contract.

For each name in ``list_models("tracking")``: the CPU-sized variant (``ModelInfo.small_kwargs``) maps crops
``(B, 3, H, W)`` to classifier logits ``(B, num_classes)`` and unit-length embeddings; every parameter gets
a gradient; a few optimiser steps on fixed crops lower the loss; ``torch.export`` reproduces the eager
output; the weights round-trip strictly; and the paper-sized model (built on the meta device) has exactly
the parameter count of its ``ZOO`` entry. Every registered model must have an entry.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from vidlearn.models import create, get_model_info, list_models, load_weights, save_weights

# The re-ID classifiers; the classless single-object trackers (goturn*, rolo) are tested in sot/test_models.py.
MODEL_NAMES = [name for name in list_models("tracking") if get_model_info(name).has_classes]

# deepsort_reid with its default 1501-way classifier (cosine_metric_learning's MARS head): 2,800,864 up to
# fc1 (the number Wojke et al. 2017 give), + 128 offsets of the final batch norm, + 128 * 1501 mean vectors
# and the scale of the cosine softmax.
ZOO: dict[str, int] = {
    "deepsort_reid": 2_800_864 + 128 + 128 * 1501 + 1,
}


def test_every_tracking_model_has_a_zoo_entry() -> None:
    assert sorted(MODEL_NAMES) == sorted(ZOO)
    assert all(get_model_info(name).has_classes for name in MODEL_NAMES)


def small(name: str) -> tuple[torch.nn.Module, torch.Tensor]:
    info = get_model_info(name)
    torch.manual_seed(0)
    model = create(name, **info.small_kwargs)
    crops = torch.rand(4, *info.small_input_shape)
    return model, crops


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_paper_size_parameter_count(name: str) -> None:
    with torch.device("meta"):
        model = create(name)
    assert sum(p.numel() for p in model.parameters()) == ZOO[name]
    assert model(torch.zeros(2, *get_model_info(name).input_shape, device="meta")).shape == (
        2, get_model_info(name).default_num_classes)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_shape_gradients_and_a_training_step(name: str) -> None:
    model, crops = small(name)
    labels = torch.arange(len(crops))
    logits = model(crops)
    assert logits.shape == (len(crops), get_model_info(name).small_kwargs["num_classes"])
    torch.nn.functional.cross_entropy(logits, labels).backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not missing, f"no gradient reaches {missing}"
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    losses = []
    for _ in range(5):
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(crops), labels)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]
    model.eval()
    features = model.embed(crops)
    torch.testing.assert_close(features.norm(dim=1), torch.ones(len(crops)))


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_export_and_strict_weights_round_trip(name: str, tmp_path: Path) -> None:
    model, crops = small(name)
    model.eval()
    with torch.no_grad():
        eager = model(crops)
        exported = torch.export.export(model, (crops,)).module()(crops)
    torch.testing.assert_close(exported, eager, atol=1e-5, rtol=1e-5)
    save_weights(model, tmp_path / "model.safetensors")
    again, _ = small(name)
    for parameter in again.parameters():
        parameter.data.zero_()
    load_weights(again, tmp_path / "model.safetensors")
    with torch.no_grad():
        torch.testing.assert_close(again.eval()(crops), eager)
