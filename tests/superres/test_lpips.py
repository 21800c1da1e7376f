"""LPIPS-AlexNet equals the lpips package layer for layer, loads its weight files strictly; tLP."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from vidlearn.models import CheckpointLoadError
from vidlearn.superres.lpips import LPIPS, load_lpips, tlp


@pytest.fixture(scope="module")
def reference() -> torch.nn.Module:
    lpips = pytest.importorskip("lpips", reason="the lpips package is the test reference (requirements-reference.txt)")
    torch.manual_seed(0)
    # Random AlexNet (nothing downloaded) and the published linear layers shipped inside the package.
    with pytest.warns(UserWarning):
        model = lpips.LPIPS(net="alex", version="0.1", pretrained=True, pnet_rand=True, verbose=False)
    return model.eval()


def test_one_file_layout_loads_strictly_and_equals_the_package(reference: torch.nn.Module, tmp_path: Path) -> None:
    path = tmp_path / "lpips_alex.pth"
    torch.save(reference.state_dict(), path)
    ours = load_lpips(path)
    torch.manual_seed(1)
    a, b = torch.rand(3, 3, 64, 80) * 2 - 1, torch.rand(3, 3, 64, 80) * 2 - 1
    with torch.no_grad():
        expected = reference(a, b).flatten()
        assert torch.allclose(ours(a, b), expected, rtol=1e-5, atol=1e-6)
    assert expected.min() > 0


def test_torchvision_alexnet_plus_linear_file_layout(reference: torch.nn.Module, tmp_path: Path) -> None:
    torchvision = pytest.importorskip("torchvision")
    import lpips

    alexnet = torchvision.models.alexnet(weights=None)
    torch.save(alexnet.state_dict(), tmp_path / "alexnet-owt-7be5be79.pth")
    linear = Path(lpips.__file__).parent / "weights" / "v0.1" / "alex.pth"
    ours = load_lpips(tmp_path / "alexnet-owt-7be5be79.pth", linear=linear)
    for feature, slice_index in ((0, 1), (3, 2), (6, 3), (8, 4), (10, 5)):
        conv = getattr(getattr(ours.net, f"slice{slice_index}"), str(feature))
        assert torch.equal(conv.weight, alexnet.features[feature].weight)
    assert torch.equal(ours.lin2.model[1].weight, reference.lin2.model[1].weight)


def test_a_missing_or_foreign_key_is_named(reference: torch.nn.Module, tmp_path: Path) -> None:
    state = dict(reference.state_dict())
    del state["lin3.model.1.weight"], state["lins.3.model.1.weight"]
    state["net.slice6.0.weight"] = torch.zeros(1)
    torch.save(state, tmp_path / "bad.pth")
    with pytest.raises(CheckpointLoadError, match=r"missing keys lin3\.model\.1\.weight.*unexpected keys.*slice6"):
        load_lpips(tmp_path / "bad.pth")


def test_tlp_is_zero_for_the_ground_truth_and_grows_with_flicker(reference: torch.nn.Module, tmp_path: Path) -> None:
    torch.save(reference.state_dict(), tmp_path / "lpips_alex.pth")
    model = load_lpips(tmp_path / "lpips_alex.pth")
    torch.manual_seed(2)
    truth = torch.rand(1, 3, 48, 48).repeat(4, 1, 1, 1)  # a still scene
    flicker = (truth + 0.1 * torch.randn(4, 3, 48, 48)).clamp(0, 1)
    assert torch.equal(tlp(truth, truth, model), torch.zeros(3, dtype=torch.float64))
    assert tlp(flicker, truth, model).min() > 0


def test_no_weights_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VIDLEARN_LPIPS_WEIGHTS", raising=False)
    with pytest.raises(FileNotFoundError, match="nothing is downloaded"):
        load_lpips()
    assert sum(p.numel() for p in LPIPS().parameters()) == 2_469_696 + 1_152  # AlexNet convs + 5 linear layers


@pytest.mark.skipif(not os.environ.get("VIDLEARN_LPIPS_WEIGHTS"), reason="set VIDLEARN_LPIPS_WEIGHTS to the "
                    "published LPIPS-AlexNet weights (one-file layout) to run")
def test_published_weights_rank_a_blurred_image_as_more_distant() -> None:
    model = load_lpips()
    torch.manual_seed(3)
    image = torch.rand(1, 3, 64, 64) * 2 - 1
    blurred = torch.nn.functional.avg_pool2d(image, 3, 1, 1)
    assert model(image, blurred) > model(image, image + 0.001)
