"""The published GOTURN Caffe model (``tracker.caffemodel``) read without Caffe, into :class:`~.goturn.Goturn`.

A ``.caffemodel`` is one protobuf message, Caffe's ``NetParameter``; only a handful of its fields hold the
weights, so a small reader of the protobuf wire format (varints, length-delimited fields, packed floats)
reads them directly, with no Caffe, no generated ``caffe_pb2`` and no protobuf package:

- ``NetParameter``: ``layer = 100`` (``LayerParameter``) and the legacy ``layers = 2`` (``V1LayerParameter``);
- ``LayerParameter``: ``name = 1``, ``blobs = 7``; ``V1LayerParameter``: ``name = 4``, ``blobs = 6``;
- ``BlobProto``: ``shape = 7`` (``BlobShape.dim = 1``, packed int64), legacy ``num, channels, height,
  width = 1..4``, ``data = 5`` (packed float), ``double_data = 8``.

:func:`read_caffemodel` returns ``{"<layer>.<i>": tensor}`` (blob 0 the weights, blob 1 the bias); it is
registered as the reader of ``.caffemodel`` files, so ``vidlearn.models.load_weights(model, "tracker.caffemodel")``
loads GOTURN's file into ``create("goturn")`` (CaffeNet towers) through the ``goturn-caffe`` layout: ``conv1..conv5``
(the target's tower) -> ``tower``, ``fc6-new, fc7-new, fc7-newb, fc8-shapes`` -> ``head``. The image tower
``conv1_p..conv5_p`` must equal the target tower (GOTURN keeps both frozen at CaffeNet's values); a difference
is an error naming the layer, as this model has one shared tower. Feed it as GOTURN's ``tracker.prototxt`` expects:
BGR, 0-255, mean pixel ``104, 117, 123`` subtracted (the model's ``input_format="caffe"``, its default).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch
from torch import nn

from vidlearn.models import CheckpointLayout, CheckpointLoadError, register_layout, register_reader
from vidlearn.utils.protobuf import fields as _fields
from vidlearn.utils.protobuf import packed_ints as _packed_ints

__all__ = ["CAFFE_NAMES", "convert_goturn_caffe", "read_caffemodel"]

#: Goturn (CaffeNet towers) parameter prefix -> GOTURN's Caffe layer name.
CAFFE_NAMES = {
    "tower.0": "conv1", "tower.4": "conv2", "tower.8": "conv3", "tower.10": "conv4", "tower.12": "conv5",
    "head.0": "fc6-new", "head.3": "fc7-new", "head.6": "fc7-newb", "head.9": "fc8-shapes",
}


def _blob(data: memoryview) -> torch.Tensor:
    shape: list[int] = []
    legacy = {1: 1, 2: 1, 3: 1, 4: 1}
    floats: list[np.ndarray] = []
    for number, wire, value in _fields(data):
        if number == 7:  # BlobShape
            for inner, inner_wire, dims in _fields(value):  # type: ignore[arg-type]
                if inner == 1:
                    shape += _packed_ints(dims, inner_wire)
        elif number in legacy and wire == 0:
            legacy[number] = int(value)  # type: ignore[arg-type]
        elif number == 5:
            floats.append(np.frombuffer(value, dtype="<f4"))  # packed, or one unpacked float (wire 5)
        elif number == 8:
            floats.append(np.frombuffer(value, dtype="<f8").astype(np.float32))
    array = np.concatenate(floats) if floats else np.zeros(0, np.float32)
    shape = shape or [legacy[1], legacy[2], legacy[3], legacy[4]]
    if int(np.prod(shape)) != array.size:
        raise ValueError(f"a blob of shape {shape} holds {array.size} numbers")
    return torch.from_numpy(array.copy()).reshape(shape)


def read_caffemodel(path: str | Path) -> dict[str, torch.Tensor]:
    """Every layer's blobs of a ``.caffemodel`` -> ``{"<layer name>.<blob index>": float32 tensor}``."""
    path = Path(path)
    data = memoryview(path.read_bytes())
    state: dict[str, torch.Tensor] = {}
    for number, _, value in _fields(data):
        if number not in (100, 2):
            continue
        name_field, blob_field = (1, 7) if number == 100 else (4, 6)
        name, blobs = None, []
        for inner, _, inner_value in _fields(value):  # type: ignore[arg-type]
            if inner == name_field:
                name = bytes(inner_value).decode("utf-8")  # type: ignore[arg-type]
            elif inner == blob_field:
                try:
                    blobs.append(_blob(inner_value))  # type: ignore[arg-type]
                except ValueError as error:
                    raise CheckpointLoadError(f"{path}: layer {name}: {error}") from None
        for index, blob in enumerate(blobs):
            state[f"{name}.{index}"] = blob
    if not state:
        raise CheckpointLoadError(f"{path}: no layer with weights (not a Caffe NetParameter?)")
    return state


def convert_goturn_caffe(state: Mapping[str, torch.Tensor], model: nn.Module) -> dict[str, torch.Tensor]:
    """GOTURN's Caffe blobs -> :class:`~.goturn.Goturn` keys (CaffeNet tower; see the module docstring)."""
    state = dict(state)
    for index in range(1, 6):
        for blob in (0, 1):
            twin = state.pop(f"conv{index}_p.{blob}", None)
            if twin is not None and not torch.equal(twin, state.get(f"conv{index}.{blob}", twin)):
                raise CheckpointLoadError(f"layer conv{index}_p differs from conv{index}: this GOTURN shares one tower "
                                          f"between the two crops (the published model keeps both at CaffeNet's values)")
    converted = {}
    for prefix, name in CAFFE_NAMES.items():
        for blob, suffix in ((0, "weight"), (1, "bias")):
            key = f"{name}.{blob}"
            if key in state:
                tensor = state.pop(key)
                # Caffe stores InnerProduct biases as (1, 1, 1, out) in legacy files; keep the model's shape.
                converted[f"{prefix}.{suffix}"] = tensor.reshape(-1) if suffix == "bias" else tensor.reshape(
                    tensor.shape[-2:] if prefix.startswith("head") else tensor.shape)
    converted.update(state)  # anything left is reported as unexpected, under its Caffe name
    return converted


register_reader([".caffemodel"], read_caffemodel)
register_layout(CheckpointLayout(
    name="goturn-caffe",
    families=frozenset({"goturn"}),
    detect=lambda state: "fc8-shapes.0" in state,
    convert=convert_goturn_caffe,
    description="GOTURN's published tracker.caffemodel (davheld/GOTURN), read without Caffe",
    extensions=(".caffemodel",),
    foreign_name=lambda key: next((f"{CAFFE_NAMES[p]}.{0 if key.endswith('weight') else 1}"
                                   for p in CAFFE_NAMES if key.startswith(p + ".")), None),
))
