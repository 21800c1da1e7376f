"""The single-object trackers' networks answer the zoo's contract: GOTURN (goturn, goturn_alexnet,
goturn_nanotrack) and ROLO.

For each: the paper-sized model (on the meta device) has the parameter count worked out from the paper and
the authors' Caffe prototxt / TensorFlow code; the CPU-sized variant (``ModelInfo.small_kwargs``) maps its
inputs to boxes of the right shape; every trainable parameter gets a gradient; a few optimiser steps on fixed
inputs lower the loss; ``torch.export`` reproduces the eager output; the weights round-trip strictly.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from vidlearn.models import (
    CheckpointLoadError,
    create,
    get_model_info,
    list_models,
    load_weights,
    save_weights,
)
from vidlearn.tracking.sot.goturn import PAPER_PARAMETERS, Goturn

# CaffeNet's conv1-conv5 (grouped conv2, conv4, conv5) as GOTURN's tracker.prototxt has them, per tower:
CAFFENET_CONV = (96 * 3 * 11 * 11 + 96) + (256 * 48 * 5 * 5 + 256) + (384 * 256 * 3 * 3 + 384) + (
    384 * 192 * 3 * 3 + 384) + (256 * 192 * 3 * 3 + 256)
# torchvision AlexNet's features: 64-192-384-256-256, no groups.
ALEXNET_CONV = (64 * 3 * 11 * 11 + 64) + (192 * 64 * 5 * 5 + 192) + (384 * 192 * 9 + 384) + (256 * 384 * 9 + 256) + (
    256 * 256 * 9 + 256)
# fc6-new (2 x 256 x 6 x 6 -> 4096), fc7-new, fc7-newb (4096 -> 4096), fc8-shapes (4096 -> 4).
GOTURN_HEAD = (2 * 9216 * 4096 + 4096) + 2 * (4096 * 4096 + 4096) + (4096 * 4 + 4)
# NanoTrack-v2's backbone: the float weights of nanotrack_backbone_sim.onnx (batch norms folded into the
# convolutions' biases); its 127x127 crops give 48 x 8 x 8 features, so fc6 takes 2 x 3072.
NANOTRACK_BACKBONE = 188_208
GOTURN_NANOTRACK_HEAD = (2 * 3072 * 4096 + 4096) + 2 * (4096 * 4096 + 4096) + (4096 * 4 + 4)
# ROLO: one LSTM whose hidden size is its input size, 4096 YOLO features + 6 detection numbers. TensorFlow's
# LSTMCell: kernel (in + hidden) x 4 hidden + one bias of 4 hidden; PyTorch keeps a second bias.
ROLO_TF = (4102 + 4102) * 4 * 4102 + 4 * 4102
ZOO = {
    "goturn": CAFFENET_CONV + GOTURN_HEAD,
    "goturn_alexnet": ALEXNET_CONV + GOTURN_HEAD,
    "goturn_nanotrack": NANOTRACK_BACKBONE + GOTURN_NANOTRACK_HEAD,
    "rolo": ROLO_TF + 4 * 4102,
}
SOT_MODELS = sorted(ZOO)


def test_the_counts_are_the_papers() -> None:
    assert CAFFENET_CONV == 2_334_080 and GOTURN_HEAD == 109_080_580
    assert ZOO["goturn"] == PAPER_PARAMETERS == 111_414_660
    # The published Caffe model stores the (frozen, identical) tower twice: conv1..5 and conv1_p..5_p.
    assert ZOO["goturn"] + CAFFENET_CONV == 113_748_740
    assert ROLO_TF == 134_627_640
    assert set(SOT_MODELS) <= set(list_models("tracking"))


def small(name: str) -> tuple[torch.nn.Module, tuple[torch.Tensor, ...]]:
    info = get_model_info(name)
    torch.manual_seed(0)
    model = create(name, **info.small_kwargs)
    inputs = tuple(torch.rand(4, *shape) for shape in info.small_input_shape)
    return model, inputs


def targets_for(name: str, outputs: torch.Tensor) -> torch.Tensor:
    torch.manual_seed(1)
    return torch.rand_like(outputs) * (10 if name.startswith("goturn") else 1)


@pytest.mark.parametrize("name", SOT_MODELS)
def test_paper_size_parameter_count_and_output_shape(name: str) -> None:
    info = get_model_info(name)
    with torch.device("meta"):
        model = create(name)
        inputs = tuple(torch.zeros(2, *shape) for shape in info.input_shape)
        outputs = model(*inputs)
    assert sum(p.numel() for p in model.parameters()) == ZOO[name]
    assert outputs.shape == ((2, 4) if name.startswith("goturn") else (2, 3, 4))


@pytest.mark.parametrize("name", SOT_MODELS)
def test_shape_gradients_and_a_training_step(name: str) -> None:
    model, inputs = small(name)
    outputs = model(*inputs)
    assert outputs.shape == ((4, 4) if name.startswith("goturn") else (4, 3, 4))
    target = targets_for(name, outputs)
    torch.nn.functional.l1_loss(outputs, target).backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not missing, f"no gradient reaches {missing}"
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3 if name.startswith("goturn") else 1e-2)
    losses = []
    for _ in range(8):
        optimizer.zero_grad()
        loss = torch.nn.functional.l1_loss(model(*inputs), target)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.8 * losses[0]


@pytest.mark.parametrize("name", SOT_MODELS)
def test_export_and_strict_weights_round_trip(name: str, tmp_path: Path) -> None:
    model, inputs = small(name)
    model.eval()
    with torch.no_grad():
        eager = model(*inputs)
        exported = torch.export.export(model, inputs).module()(*inputs)
    torch.testing.assert_close(exported, eager, atol=1e-5, rtol=1e-5)
    save_weights(model, tmp_path / "model.safetensors")
    again, _ = small(name)
    for parameter in again.parameters():
        parameter.data.zero_()
    load_weights(again, tmp_path / "model.safetensors")
    with torch.no_grad():
        torch.testing.assert_close(again.eval()(*inputs), eager)
    other = create(name, **{**get_model_info(name).small_kwargs, **(
        {"fc_dim": 32} if name.startswith("goturn") else {"feature_dim": 20})})
    with pytest.raises(CheckpointLoadError, match=r"model\.safetensors"):
        load_weights(other, tmp_path / "model.safetensors")


def test_alexnet_backbone_loads_a_torchvision_state_dict_strictly(tmp_path: Path) -> None:
    torchvision = pytest.importorskip("torchvision")
    reference = torchvision.models.alexnet()
    path = tmp_path / "alexnet.pth"
    torch.save(reference.state_dict(), path)
    model = Goturn(backbone="alexnet", fc_dim=8)
    model.load_backbone(path)
    torch.testing.assert_close(model.tower[3].weight, reference.features[3].weight)
    image = torch.rand(1, 3, 227, 227)
    with torch.no_grad():
        torch.testing.assert_close(model.tower(image), reference.features(image))
    state = reference.state_dict()
    del state["features.8.bias"]
    state["features.13.weight"] = torch.zeros(1)
    torch.save(state, path)
    with pytest.raises(CheckpointLoadError, match=r"missing \['features.8.bias'\], unexpected \['features.13.weight'\]"):
        Goturn(backbone="alexnet", fc_dim=8).load_backbone(path)


def test_frozen_backbone_gets_no_gradient() -> None:
    model = Goturn(backbone="small", input_size=64, fc_dim=16, width=4, freeze_backbone=True)
    crops = torch.rand(2, 3, 64, 64)
    model(crops, crops).sum().backward()
    assert all(p.grad is None for p in model.tower.parameters())
    assert all(p.grad is not None for p in model.head.parameters())


def nanotrack_file(shared_data: Path, name: str = "nanotrack_backbone_sim.onnx") -> Path:
    path = shared_data / "weights" / "nanotrack_v2_onnx" / name
    if not path.is_file():
        pytest.skip(f"{path} is not there")
    return path


@pytest.mark.shared_data
def test_nanotrack_backbone_loads_the_published_onnx_file_and_computes_as_onnxruntime(shared_data: Path) -> None:
    ort = pytest.importorskip("onnxruntime", reason="the reference needs onnxruntime (the onnx extra)")
    path = nanotrack_file(shared_data)
    model = Goturn(backbone="nanotrack", input_size=127, fc_dim=8)
    model.load_backbone(path)
    assert sum(p.numel() for p in model.tower.parameters()) == NANOTRACK_BACKBONE
    generator = torch.Generator().manual_seed(0)
    image = torch.rand(1, 3, 255, 255, generator=generator) * 255  # the file's input: BGR pixels, 0-255
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (reference,) = session.run(None, {"input": image.numpy()})
    with torch.no_grad():
        ours = model.tower.eval()(image)
    assert tuple(ours.shape) == (1, 48, 16, 16)
    torch.testing.assert_close(ours, torch.from_numpy(reference), atol=1e-4, rtol=1e-4)
    # GOTURN feeds the tower RGB crops in [0, 1]: normalise() turns them into the file's BGR 0-255.
    rgb = torch.rand(2, 3, 127, 127, generator=generator)
    torch.testing.assert_close(model.normalise(rgb), rgb.flip(1) * 255)


@pytest.mark.shared_data
def test_nanotrack_backbone_refuses_another_file_naming_it(shared_data: Path, tmp_path: Path) -> None:
    head = nanotrack_file(shared_data, "nanotrack_head_sim.onnx")
    with pytest.raises(CheckpointLoadError, match=r"nanotrack_head_sim\.onnx: convolution .* has no place"):
        Goturn(backbone="nanotrack", input_size=127, fc_dim=8).load_backbone(head)
    cut = tmp_path / "cut.onnx"
    cut.write_bytes(nanotrack_file(shared_data).read_bytes()[:5000])
    with pytest.raises(CheckpointLoadError, match=r"cut\.onnx: not a readable ONNX model"):
        Goturn(backbone="nanotrack", input_size=127, fc_dim=8).load_backbone(cut)
    with pytest.raises(ValueError, match="this GOTURN has the small tower"):
        Goturn(backbone="small", input_size=64, fc_dim=8).load_backbone(head)
