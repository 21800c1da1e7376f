"""GOTURN's Caffe weights: the .caffemodel reader (protobuf wire format, no Caffe) and the goturn-caffe layout.

The test writes Caffe ``NetParameter`` files with a protobuf encoder of its own (field numbers from
``caffe.proto``), in the current layout (``layer = 100``, ``BlobShape``) and the legacy one (``layers = 2``,
``num/channels/height/width``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from vidlearn.models import CheckpointLoadError, create, load_weights
from vidlearn.tracking.sot.caffe import CAFFE_NAMES, read_caffemodel


def varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def field(number: int, payload: bytes) -> bytes:
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def blob(array: np.ndarray, legacy: bool = False) -> bytes:
    data = field(5, np.ascontiguousarray(array, dtype="<f4").tobytes())
    if legacy:
        dims = [1] * (4 - array.ndim) + list(array.shape)
        return b"".join(varint(n << 3) + varint(d) for n, d in zip((1, 2, 3, 4), dims)) + data
    return field(7, field(1, b"".join(varint(d) for d in array.shape))) + data


def layer(name: str, arrays: list[np.ndarray], legacy: bool = False) -> bytes:
    if legacy:  # V1LayerParameter: name = 4, blobs = 6, inside NetParameter.layers = 2
        return field(2, field(4, name.encode()) + b"".join(field(6, blob(a, legacy=True)) for a in arrays))
    return field(100, field(1, name.encode()) + field(2, b"Convolution") + b"".join(field(7, blob(a)) for a in arrays))


def goturn_caffemodel(path: Path, model: torch.nn.Module, *, twin_offset: float = 0.0, legacy: bool = False) -> Path:
    state = {k: v.numpy() for k, v in model.state_dict().items()}
    parts = [field(1, b"GOTURN")]
    for prefix, name in CAFFE_NAMES.items():
        arrays = [state[f"{prefix}.weight"], state[f"{prefix}.bias"]]
        parts.append(layer(name, arrays, legacy))
        if name.startswith("conv"):
            parts.append(layer(f"{name}_p", [arrays[0] + twin_offset, arrays[1]], legacy))
    path.write_bytes(b"".join(parts))
    return path


@pytest.fixture(scope="module")
def source() -> torch.nn.Module:
    torch.manual_seed(0)
    return create("goturn", fc_dim=8)


@pytest.mark.parametrize("legacy", [False, True])
def test_goturn_caffemodel_loads_strictly(source: torch.nn.Module, tmp_path: Path, legacy: bool) -> None:
    path = goturn_caffemodel(tmp_path / "tracker.caffemodel", source, legacy=legacy)
    blobs = read_caffemodel(path)
    assert blobs["conv2.0"].shape == (256, 48, 5, 5) and blobs["fc8-shapes.0"].numel() == 8 * 4
    target = create("goturn", fc_dim=8)
    assert load_weights(target, path) == "goturn-caffe"
    for key, value in source.state_dict().items():
        torch.testing.assert_close(target.state_dict()[key], value, rtol=0, atol=0)


def test_a_different_image_tower_is_an_error(source: torch.nn.Module, tmp_path: Path) -> None:
    path = goturn_caffemodel(tmp_path / "tracker.caffemodel", source, twin_offset=0.5)
    with pytest.raises(CheckpointLoadError, match="conv1_p differs from conv1"):
        load_weights(create("goturn", fc_dim=8), path)


def test_a_missing_layer_is_named_by_its_caffe_name(source: torch.nn.Module, tmp_path: Path) -> None:
    state = {k: v.numpy() for k, v in source.state_dict().items()}
    parts = [layer(name, [state[f"{prefix}.weight"], state[f"{prefix}.bias"]])
             for prefix, name in CAFFE_NAMES.items() if name != "fc7-newb"]
    path = tmp_path / "partial.caffemodel"
    path.write_bytes(b"".join(parts))
    with pytest.raises(CheckpointLoadError, match="fc7-newb"):
        load_weights(create("goturn", fc_dim=8), path)
    (tmp_path / "empty.caffemodel").write_bytes(field(1, b"net"))
    with pytest.raises(CheckpointLoadError, match="no layer with weights"):
        read_caffemodel(tmp_path / "empty.caffemodel")
