"""NanoTrack-v2's backbone in PyTorch, its published ONNX weights read without onnx or onnxruntime.

NanoTrack (HonglinChu/SiamTrackers, Apache-2.0) is a Siamese tracker whose backbone is the first nine
blocks of MobileNetV3-small (Howard et al., "Searching for MobileNetV3", ICCV 2019) trained for tracking
(on GOT-10k, LaSOT, COCO and others). Its ``nanotrack_backbone_sim.onnx`` is that backbone with batch norm
folded into the convolutions, ``(B, 3, H, W)`` BGR pixels 0-255 -> ``(B, 48, H / 16, W / 16)``; the ONNX
graph keeps the PyTorch module names (``/features/features.1/conv/conv.0/Conv``), so
:class:`NanoTrackBackbone` mirrors that layout (d-li14's ``mobilenetv3.pytorch``, with ``nn.Identity``
where a batch norm was folded away) and :func:`read_nanotrack_backbone` maps the file's tensors onto it
by those names, strictly. GOTURN uses it as a pretrained tower (``goturn_nanotrack``), in place of the
paper's ImageNet CaffeNet, whose weights cannot be obtained without a download.

Blocks (kernel, expanded channels, output channels, squeeze-excite, hard-swish, stride), after a 3x3/2
convolution to 16 channels with hard-swish: ``3 16 16 SE ReLU /2``, ``3 72 24 ReLU /2``, ``3 88 24 ReLU``,
``5 96 40 SE HS /2``, ``5 240 40 SE HS`` (twice), ``5 120 48 SE HS``, ``5 144 48 SE HS``; a block whose input and
output shapes agree adds its input. 188,208 parameters.

ONNX is read through the protobuf wire format (:mod:`vidlearn.utils.protobuf`): ``ModelProto.graph = 7``;
``GraphProto.node = 1, initializer = 5``; ``NodeProto.input = 1, output = 2, op_type = 4, attribute = 5``;
``AttributeProto.name = 1, i = 3, ints = 8``; ``TensorProto.dims = 1, data_type = 2, float_data = 4,
name = 8, raw_data = 9`` (https://github.com/onnx/onnx/blob/main/onnx/onnx.proto).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from vidlearn.models import CheckpointLoadError
from vidlearn.utils.protobuf import fields, packed_ints

__all__ = [
    "NANOTRACK_V2_BLOCKS",
    "NanoTrackBackbone",
    "OnnxNode",
    "read_nanotrack_backbone",
    "read_onnx",
]

#: ``(kernel, expanded channels, output channels, squeeze-excite, hard-swish, stride)`` per block after the stem.
NANOTRACK_V2_BLOCKS = (
    (3, 16, 16, True, False, 2),
    (3, 72, 24, False, False, 2),
    (3, 88, 24, False, False, 1),
    (5, 96, 40, True, True, 2),
    (5, 240, 40, True, True, 1),
    (5, 240, 40, True, True, 1),
    (5, 120, 48, True, True, 1),
    (5, 144, 48, True, True, 1),
)
_FLOAT, _INT64 = 1, 7


def _divisible(value: float, divisor: int = 8) -> int:
    """MobileNet's channel rounding: the nearest multiple of ``divisor``, never below 90 % of ``value``."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


class _SqueezeExcite(nn.Module):
    """Channel attention: global average -> fc (C/4, ReLU) -> fc (C, hard sigmoid) -> scale the input."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        hidden = _divisible(channels // 4)
        self.fc = nn.Sequential(nn.Linear(channels, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, channels),
                                nn.Hardsigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.fc(x.mean(dim=(2, 3)))[:, :, None, None]


class _InvertedResidual(nn.Module):
    """MobileNetV3's block, batch norms folded into the convolutions (``nn.Identity`` keeps their indices)."""

    def __init__(self, inp: int, hidden: int, out: int, kernel: int, stride: int, se: bool, hs: bool) -> None:
        super().__init__()
        act = nn.Hardswish if hs else nn.ReLU
        depthwise = nn.Conv2d(hidden, hidden, kernel, stride, (kernel - 1) // 2, groups=hidden)
        excite = _SqueezeExcite(hidden) if se else nn.Identity()
        if inp == hidden:  # no expansion: dw, BN, act, SE, pw, BN
            self.conv = nn.Sequential(depthwise, nn.Identity(), act(), excite, nn.Conv2d(hidden, out, 1), nn.Identity())
        else:  # pw, BN, act, dw, BN, SE, act, pw, BN
            self.conv = nn.Sequential(nn.Conv2d(inp, hidden, 1), nn.Identity(), act(), depthwise, nn.Identity(),
                                      excite, act(), nn.Conv2d(hidden, out, 1), nn.Identity())
        self.residual = stride == 1 and inp == out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x) if self.residual else self.conv(x)


class NanoTrackBackbone(nn.Module):
    """NanoTrack-v2's backbone: ``(B, 3, H, W)`` BGR 0-255 -> ``(B, 48, ceil(H / 16), ceil(W / 16))``
    (``255 -> 16``, ``127 -> 8``). Weights: :func:`read_nanotrack_backbone`."""

    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Sequential(nn.Conv2d(3, 16, 3, 2, 1), nn.Identity(), nn.Hardswish())]
        channels = 16
        for kernel, hidden, out, se, hs, stride in NANOTRACK_V2_BLOCKS:
            layers.append(_InvertedResidual(channels, hidden, out, kernel, stride, se, hs))
            channels = out
        self.features = nn.Sequential(*layers)
        self.out_channels = channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)


@dataclass
class OnnxNode:
    """One ONNX graph node: operator, input and output tensor names, integer attributes."""

    op_type: str
    inputs: list[str]
    outputs: list[str]
    attributes: dict[str, list[int]] = field(default_factory=dict)


def _tensor(data: memoryview) -> tuple[str, torch.Tensor | None]:
    name, dims, dtype, raw, floats = "", [], _FLOAT, None, []
    for number, wire, value in fields(data):
        if number == 1:
            dims += packed_ints(value, wire)
        elif number == 2:
            dtype = int(value)  # type: ignore[arg-type]
        elif number == 4:
            floats.append(np.frombuffer(value, dtype="<f4"))
        elif number == 8:
            name = bytes(value).decode("utf-8")  # type: ignore[arg-type]
        elif number == 9:
            raw = bytes(value)  # type: ignore[arg-type]
    if dtype != _FLOAT:  # shape constants (int64) and the like: not weights
        return name, None
    array = np.frombuffer(raw, dtype="<f4") if raw is not None else (
        np.concatenate(floats) if floats else np.zeros(0, np.float32))
    if array.size != int(np.prod(dims)):
        raise ValueError(f"tensor {name!r} of shape {dims} holds {array.size} numbers")
    return name, torch.from_numpy(array.copy()).reshape(dims)


def _node(data: memoryview) -> OnnxNode:
    node = OnnxNode("", [], [])
    for number, _, value in fields(data):
        if number in (1, 2):
            (node.inputs if number == 1 else node.outputs).append(bytes(value).decode("utf-8"))  # type: ignore[arg-type]
        elif number == 4:
            node.op_type = bytes(value).decode("utf-8")  # type: ignore[arg-type]
        elif number == 5:
            name, ints = "", []
            for inner, inner_wire, inner_value in fields(value):  # type: ignore[arg-type]
                if inner == 1:
                    name = bytes(inner_value).decode("utf-8")  # type: ignore[arg-type]
                elif inner in (3, 8):
                    ints += packed_ints(inner_value, inner_wire)
            node.attributes[name] = ints
    return node


def read_onnx(path: str | Path) -> tuple[list[OnnxNode], dict[str, torch.Tensor]]:
    """An ONNX model's graph nodes (in order) and float initializers ``{name: tensor}``."""
    path = Path(path)
    nodes: list[OnnxNode] = []
    tensors: dict[str, torch.Tensor] = {}
    try:
        for number, _, value in fields(memoryview(path.read_bytes())):
            if number != 7:
                continue
            for inner, _, inner_value in fields(value):  # type: ignore[arg-type]
                if inner == 1:
                    nodes.append(_node(inner_value))  # type: ignore[arg-type]
                elif inner == 5:
                    name, tensor = _tensor(inner_value)  # type: ignore[arg-type]
                    if tensor is not None:
                        tensors[name] = tensor
    except (ValueError, IndexError, UnicodeDecodeError) as error:
        raise CheckpointLoadError(f"{path}: not a readable ONNX model ({error})") from None
    if not nodes:
        raise CheckpointLoadError(f"{path}: no ONNX graph in the file")
    return nodes, tensors


def _module_key(output: str) -> str:
    """``/features/features.1/conv/conv.0/Conv_output_0`` -> ``features.1.conv.0`` (torch.onnx's scope names)."""
    parts, previous = [], ""
    for scope in output.strip("/").split("/")[:-1]:
        parts.append(scope[len(previous) + 1:] if previous and scope.startswith(previous + ".") else scope)
        previous = scope
    return ".".join(parts)


def read_nanotrack_backbone(path: str | Path, model: NanoTrackBackbone | None = None) -> dict[str, torch.Tensor]:
    """NanoTrack-v2's ``nanotrack_backbone_sim.onnx`` -> a state dict of :class:`NanoTrackBackbone`.

    Convolutions are matched by their node's scope name and checked against the module (kernel, stride,
    padding, groups, shape); squeeze-excite layers keep their names in the file. Strict: a tensor of the
    module the file lacks, or a weight of the file the module has no place for, is an error naming it.
    """
    path = Path(path)
    model = model or NanoTrackBackbone()
    modules = dict(model.named_modules())
    own = model.state_dict()
    nodes, tensors = read_onnx(path)
    state: dict[str, torch.Tensor] = {}
    used: set[str] = set()
    for node in nodes:
        if node.op_type != "Conv":
            continue
        key = _module_key(node.outputs[0])
        conv = modules.get(key)
        if not isinstance(conv, nn.Conv2d):
            raise CheckpointLoadError(f"{path}: convolution {node.outputs[0]} has no place in NanoTrack's backbone "
                                      f"(looked for {key!r})")
        expected = {"strides": list(conv.stride), "group": [conv.groups],
                    "pads": [conv.padding[0], conv.padding[1]] * 2}  # type: ignore[index]
        for name, value in expected.items():
            if node.attributes.get(name, value) != value:
                raise CheckpointLoadError(f"{path}: {key}: {name} {node.attributes[name]}, the backbone has {value}")
        for suffix, tensor_name in zip(("weight", "bias"), node.inputs[1:3]):
            if tensor_name not in tensors:
                raise CheckpointLoadError(f"{path}: {key}.{suffix}: tensor {tensor_name!r} is not in the file")
            state[f"{key}.{suffix}"] = tensors[tensor_name]
            used.add(tensor_name)
    for name, tensor in tensors.items():
        if name not in used:
            state[name] = tensor  # named weights (squeeze-excite); anything else is reported below
    unexpected = sorted(set(state) - set(own))
    missing = sorted(set(own) - set(state))
    if unexpected or missing:
        raise CheckpointLoadError(f"{path}: not NanoTrack-v2's backbone: missing {missing[:4]}, "
                                  f"unexpected {unexpected[:4]}")
    for key, value in own.items():
        if tuple(state[key].shape) != tuple(value.shape):
            raise CheckpointLoadError(f"{path}: {key} has shape {tuple(state[key].shape)}, expected {tuple(value.shape)}")
    return state

