"""The zoo-wide test of the super-resolution wing: every registered model answers the same contract.

For each name in ``list_models("superres")``: the CPU-sized variant (``ModelInfo.small_kwargs``) maps
an LR clip ``(B, T, C, h, w)`` to ``(B, T, C, 4h, 4w)``; every parameter gets a gradient; a few
optimiser steps on a fixed clip lower the loss; ``torch.export`` reproduces the eager output; the
weights round-trip strictly through ``save_weights`` / ``load_weights``; and the paper-sized model
(built on the meta device) has exactly the parameter count of its ``ZOO`` entry. Every registered
model must have an entry.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from vidlearn.models import create, get_model_info, list_models, load_weights, save_weights

MODEL_NAMES = list_models("superres")
SCALE = 4

# Exact counts at x4 of this library's layers. FRVSR 10-128 is the paper's model ("5.1 M" in Sajjadi et
# al. 2018, Table 1, at one decimal); FRVSR 10-64 has the layers of TecoGAN-PyTorch's FRNet(nf=64,
# nb=10) ("about 2.5 M" as usually quoted); the rest are the paper's comparison systems at these sizes.
ZOO: dict[str, int] = {
    "frvsr_10_128": 5_054_693,
    "frvsr_10_64": 2_589_093,
    "frvsr_3_64": 2_072_101,
    "sisr_10_128": 3_253_891,
    "sisr_10_64": 815_939,
    "sisr_3_64": 298_947,
    "vsr_10_128": 5_006_309,
    "vsr_10_64": 2_564_901,
    "vsr_3_64": 2_047_909,
}


def test_every_superres_model_has_a_zoo_entry() -> None:
    assert sorted(MODEL_NAMES) == sorted(ZOO)
    assert all(not get_model_info(name).has_classes for name in MODEL_NAMES)


def small(name: str) -> tuple[torch.nn.Module, torch.Tensor]:
    info = get_model_info(name)
    torch.manual_seed(0)
    model = create(name, **info.small_kwargs)
    clip = torch.rand(2, *info.small_input_shape)
    return model, clip


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_paper_size_parameter_count(name: str) -> None:
    with torch.device("meta"):
        model = create(name)
    assert sum(p.numel() for p in model.parameters()) == ZOO[name]


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_shape_gradients_and_a_training_step(name: str) -> None:
    model, clip = small(name)
    batch, frames, channels, height, width = clip.shape
    target = torch.rand(batch, frames, channels, SCALE * height, SCALE * width)
    output = model(clip)
    assert output.shape == target.shape
    loss = torch.nn.functional.mse_loss(output, target)
    loss.backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not missing, f"no gradient reaches {missing}"
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    losses = []
    for _ in range(5):
        optimizer.zero_grad()
        step_loss = torch.nn.functional.mse_loss(model(clip), target)
        step_loss.backward()
        optimizer.step()
        losses.append(step_loss.item())
    assert losses[-1] < losses[0]


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_export_and_strict_weights_round_trip(name: str, tmp_path: Path) -> None:
    model, clip = small(name)
    model.eval()
    with torch.no_grad():
        eager = model(clip)
        exported = torch.export.export(model, (clip,)).module()(clip)
    torch.testing.assert_close(exported, eager, atol=1e-5, rtol=1e-5)
    save_weights(model, tmp_path / "model.safetensors")
    again, _ = small(name)
    for parameter in again.parameters():
        parameter.data.zero_()
    load_weights(again, tmp_path / "model.safetensors")
    with torch.no_grad():
        torch.testing.assert_close(again.eval()(clip), eager)
