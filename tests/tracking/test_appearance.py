"""Appearance features: deepsort_reid checkpoints, the OSNet ONNX model, torchvision backbones; one
roi_align call per batch of boxes."""

import numpy as np
import pytest
import torch

import vidlearn.tracking.appearance as appearance
from vidlearn.models import create
from vidlearn.tracking.appearance import (
    OnnxEmbedder,
    ReIDEmbedder,
    TorchvisionEmbedder,
    create_embedder,
    load_reid_model,
)
from vidlearn.tracking.models.reid import crop_boxes

FRAMES = torch.randint(0, 256, (3, 96, 128, 3), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
BOXES = np.array([[10, 10, 30, 50], [60, 20, 90, 80], [5, 40, 25, 90], [70, 10, 100, 70.0]])
FRAME_INDEX = np.array([0, 0, 1, 2])


def _small_reid(tmp_path):
    torch.manual_seed(0)
    model = create("deepsort_reid", num_classes=10, width=8, feature_dim=32, input_size=(32, 16)).eval()
    torch.save(model.state_dict(), tmp_path / "reid.pt")
    return model


def test_reid_embedder_cuts_all_boxes_in_one_call_and_equals_the_model(tmp_path, monkeypatch):
    model = _small_reid(tmp_path)
    calls = []

    def counting(*args, **kwargs):
        calls.append(len(args[1]))
        return crop_boxes(*args, **kwargs)

    monkeypatch.setattr(appearance, "crop_boxes", counting)
    embedder = ReIDEmbedder(tmp_path / "reid.pt")
    features = embedder(FRAMES, BOXES, FRAME_INDEX)
    assert calls == [4] and features.shape == (4, 32)
    np.testing.assert_allclose(np.linalg.norm(features, axis=1), 1.0, atol=1e-5)
    with torch.no_grad():
        expected = model.embed(crop_boxes(FRAMES, torch.as_tensor(BOXES), torch.as_tensor(FRAME_INDEX), size=(32, 16)))
    np.testing.assert_allclose(features, expected.numpy(), atol=1e-5)
    assert embedder(FRAMES, np.zeros((0, 4)), np.zeros(0)).shape == (0, 32)


def test_load_reid_model_reads_the_architecture_off_the_shapes(tmp_path):
    model = _small_reid(tmp_path)
    loaded = load_reid_model(tmp_path / "reid.pt")
    assert loaded.input_size == (32, 16) and loaded.classifier.weight.shape == (10, 32)
    assert sum(p.numel() for p in loaded.parameters()) == sum(p.numel() for p in model.parameters())
    torch.save({"fc.weight": torch.zeros(3, 3)}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match=r"other\.pt: not a deepsort_reid checkpoint"):
        load_reid_model(tmp_path / "other.pt")
    assert isinstance(create_embedder(tmp_path / "reid.pt"), ReIDEmbedder)


def test_torchvision_backbone_features(tmp_path):
    import torchvision

    torch.manual_seed(0)
    torch.save(torchvision.models.resnet18(weights=None).state_dict(), tmp_path / "resnet18.pth")
    embedder = create_embedder(f"resnet18:{tmp_path / 'resnet18.pth'}")
    assert isinstance(embedder, TorchvisionEmbedder)
    embedder.crop_size = (64, 32)  # small crops keep the test fast
    features = embedder(FRAMES, BOXES, FRAME_INDEX)
    assert features.shape == (4, 512)
    np.testing.assert_allclose(np.linalg.norm(features, axis=1), 1.0, atol=1e-5)
    with pytest.raises(ValueError, match=r"resnet18.pth: not resnet34 weights"):
        TorchvisionEmbedder("resnet34", tmp_path / "resnet18.pth")
    with pytest.raises(ValueError, match="'resnet7' is not a torchvision classification model"):
        TorchvisionEmbedder("resnet7", tmp_path / "resnet18.pth")


@pytest.mark.shared_data
def test_osnet_onnx_tells_the_crossing_pedestrian_from_the_background(shared_data):
    """OSNet-x0.25 (MSMT17) on OTB Crossing: the walking person's crops are closer to each other than to
    background crops of the same size (the provenance file: 0.685 against 0.552 with OpenCV's DNN)."""
    pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (pip install 'vidlearn[onnx]')")
    from torchvision.io import ImageReadMode, decode_image

    folder = shared_data / "tracking" / "otb_crossing"
    rects = np.loadtxt(folder / "groundtruth_rect.txt", delimiter=",")[:40:4]
    frames = torch.stack([decode_image(str(folder / "img" / f"{i + 1:04d}.jpg"), mode=ImageReadMode.RGB).permute(1, 2, 0)
                          for i in range(0, 40, 4)])
    person = np.concatenate([rects[:, :2], rects[:, :2] + rects[:, 2:]], 1)
    background = person + np.array([60.0, -60, 60, -60])
    embedder = OnnxEmbedder(shared_data / "weights" / "osnet_x0_25_msmt17_onnx" / "osnet_x0_25_msmt17.onnx")
    # The person box is 17x50 pixels; the background box the same size, up and to the right.
    assert embedder.crop_size == (256, 128) and embedder.fixed_batch == 1
    index = np.arange(len(rects))
    features = embedder(frames, np.concatenate([person, background]), np.concatenate([index, index]))
    assert features.shape == (20, 512)
    np.testing.assert_allclose(np.linalg.norm(features, axis=1), 1.0, atol=1e-5)
    people, places = features[:10], features[10:]
    same = (people @ people.T)[np.triu_indices(10, 1)].mean()
    other = (people @ places.T).mean()
    assert same > other + 0.1, (same, other)
    # One crop alone gives the same feature as within the batch (the graph runs crop by crop).
    np.testing.assert_allclose(embedder(frames, person[:1], index[:1]), features[:1], atol=1e-5)
    onnx_file = shared_data / "weights" / "osnet_x0_25_msmt17_onnx" / "osnet_x0_25_msmt17.onnx"
    assert isinstance(create_embedder(onnx_file), OnnxEmbedder)


def test_onnx_errors_name_the_file(tmp_path):
    pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (pip install 'vidlearn[onnx]')")
    with pytest.raises(FileNotFoundError, match=r"none\.onnx does not exist"):
        OnnxEmbedder(tmp_path / "none.onnx")
    (tmp_path / "bad.onnx").write_bytes(b"not a graph")
    with pytest.raises(ValueError, match=r"bad\.onnx: cannot load the ONNX model"):
        OnnxEmbedder(tmp_path / "bad.onnx")
