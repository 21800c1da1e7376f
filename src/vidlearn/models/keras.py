"""Keras HDF5 weights: reading both file layouts and converting them exactly to PyTorch.

Two layouts exist (``h5py`` reads both; install it with ``pip install 'vidlearn[keras]'``):

* **Keras 2** ``model.save_weights("x.h5")`` (and the ``model_weights`` group of ``model.save``): the
  root attribute ``layer_names`` lists every layer in the model's order; each layer's group has an
  attribute ``weight_names`` and the arrays, e.g. ``conv3d_1/conv3d_1/kernel:0``, ``.../bias:0``.
  Keras 2 loads such a file *by order* (the n-th layer with weights into the n-th), and so does vidlearn.
* **Keras 3** ``model.save_weights("x.weights.h5")`` (also inside a ``.keras`` zip): arrays under
  ``layers/<class>[_i]/vars/<j>``, where ``<class>`` is the layer class in snake case and ``_i``
  counts layers of that class in the model's order (``layers/conv3d``, ``layers/conv3d_1``, ...), and
  ``vars/0`` is the kernel, ``vars/1`` the bias.

:func:`read_keras_weights` turns either file into a flat ``{file path: tensor}`` dict (Keras 2 keys in
the file's layer order). :func:`convert_keras_state` maps that dict onto a vidlearn model described
by a list of :class:`KerasLayer` (the model's layers with weights, in Keras order), converting:

* ``Conv3D`` kernels ``(k_a, k_b, k_c, in, out)``, where ``a, b, c`` are the Keras input's three
  non-channel axes in the Keras model's order (``axes``, e.g. ``"HWT"`` for an input
  ``(height, width, time, channels)``), to PyTorch's ``(out, in, kT, kH, kW)``. Keras convolutions are
  cross-correlations, as PyTorch's, so no kernel is flipped (weights trained with the Theano
  backend's flipped kernels must be converted in Keras first).
* ``Dense`` kernels ``(in, out)`` to ``(out, in)``; for the ``Dense`` after a ``Flatten`` the input
  rows are also permuted: Keras flattens its channels-last tensor in its own axis order (e.g.
  height, width, time, channels) while vidlearn flattens ``(C, T, H, W)``.

Every file array must be used and every model weight found at its exact shape; anything else is a
:class:`~vidlearn.models.weights.CheckpointLoadError` naming the Keras layer and the shapes.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from vidlearn.models.weights import CheckpointLayout, CheckpointLoadError, register_layout, register_reader

__all__ = [
    "KERAS2_LAYOUT",
    "KERAS3_LAYOUT",
    "KERAS_SUFFIXES",
    "KerasConvertible",
    "KerasLayer",
    "convert_keras_state",
    "is_keras2_state",
    "is_keras3_state",
    "read_keras_weights",
    "register_keras_family",
]

KERAS2_LAYOUT = "keras2-h5"
KERAS3_LAYOUT = "keras3-h5"
# ".keras" is Keras 3's zip (config + model.weights.h5); the others are HDF5 files.
KERAS_SUFFIXES = (".h5", ".hdf5", ".keras")

StateDict = dict[str, torch.Tensor]


@dataclass(frozen=True)
class KerasLayer:
    """One Keras layer with weights and the vidlearn module that holds them.

    ``module``: the module path in the vidlearn model (its ``weight`` and ``bias`` are loaded).
    ``kind``: ``"conv3d"`` or ``"dense"`` (also the Keras 3 group name's stem).
    ``flatten_from``: for a ``Dense`` that follows a ``Flatten``, the vidlearn shape ``(C, T, H, W)``
    of the tensor that was flattened; its input rows are then reordered from Keras's flatten order.
    """

    module: str
    kind: str
    flatten_from: tuple[int, int, int, int] | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("conv3d", "dense"):
            raise ValueError(f"KerasLayer {self.module!r}: kind must be 'conv3d' or 'dense', got {self.kind!r}")


def _h5py() -> Any:
    try:
        import h5py
    except ModuleNotFoundError as error:
        raise ModuleNotFoundError(
            "reading Keras HDF5 weights needs h5py, an optional dependency: pip install 'vidlearn[keras]'",
            name="h5py",
        ) from error
    return h5py


def _text(value: object) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _natural_key(name: str) -> list[object]:
    # layers/conv3d_10 after layers/conv3d_9, as Keras numbers them
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def _read_keras2(root: Any, path: Path) -> StateDict:
    state: StateDict = {}
    for layer in (_text(name) for name in root.attrs["layer_names"]):
        if layer not in root:
            raise CheckpointLoadError(f"{path}: layer_names lists {layer!r} but the file has no such group")
        group = root[layer]
        for weight in (_text(name) for name in group.attrs.get("weight_names", ())):
            if weight not in group:
                raise CheckpointLoadError(f"{path}: layer {layer!r} lists weight {weight!r} that the file lacks")
            state[f"{layer}/{weight}"] = torch.from_numpy(np.array(group[weight], dtype=np.float32))
    return state


def _read_keras3(root: Any) -> StateDict:
    h5py = _h5py()
    found: list[tuple[str, Any]] = []
    root.visititems(lambda name, item: found.append((name, item)) if isinstance(item, h5py.Dataset) else None)
    return {name: torch.from_numpy(np.array(item, dtype=np.float32))
            for name, item in sorted(found, key=lambda pair: _natural_key(pair[0]))}


def _read_open(handle: Any, path: Path) -> StateDict:
    if "layer_names" in handle.attrs:
        return _read_keras2(handle, path)
    if "model_weights" in handle and "layer_names" in handle["model_weights"].attrs:
        return _read_keras2(handle["model_weights"], path)  # Keras 2 model.save(): weights in a group
    if "layers" in handle:
        return _read_keras3(handle)
    raise CheckpointLoadError(
        f"{path}: not a Keras weights file (no 'layer_names' attribute as Keras 2 writes, "
        f"no 'layers' group as Keras 3 writes); top-level entries: {sorted(handle)}"
    )


def read_keras_weights(path: str | Path) -> StateDict:
    """Read a Keras 2 or Keras 3 weights file into a flat ``{file path: float32 tensor}`` dict.

    Keras 2 keys are ``"<layer>/<weight name>"`` (``"conv3d_1/conv3d_1/kernel:0"``) in the order of
    the file's ``layer_names`` (the order Keras 2 loads by); Keras 3 keys are the dataset paths
    (``"layers/conv3d/vars/0"``). A ``.keras`` zip is read through its ``model.weights.h5``.
    """
    h5py = _h5py()
    path = Path(path)
    if path.suffix.lower() == ".keras":
        with zipfile.ZipFile(path) as archive:
            if "model.weights.h5" not in archive.namelist():
                raise CheckpointLoadError(f"{path}: a .keras archive without model.weights.h5 "
                                          f"(entries: {archive.namelist()})")
            data = io.BytesIO(archive.read("model.weights.h5"))
        with h5py.File(data, "r") as handle:
            return _read_open(handle, path)
    with h5py.File(path, "r") as handle:
        return _read_open(handle, path)


def is_keras3_state(state: Mapping[str, torch.Tensor]) -> bool:
    """Whether the keys are Keras 3 ``layers/<name>/vars/<j>`` paths."""
    return bool(state) and all(re.fullmatch(r"(.+/)?vars/\d+", key) for key in state) and any(
        key.startswith("layers/") for key in state)


def is_keras2_state(state: Mapping[str, torch.Tensor]) -> bool:
    """Whether the keys are Keras 2 ``<layer>/<weight name>:<i>`` paths."""
    return bool(state) and all(re.fullmatch(r"[^/]+/.+:\d+", key) for key in state)


def _conv_permutation(axes: str) -> tuple[int, ...]:
    # Keras (k_a, k_b, k_c, in, out) -> torch (out, in, kT, kH, kW); a Flatten source
    # (a, b, c, C, out) -> (out, C, T, H, W) is the same permutation.
    if sorted(axes) != ["H", "T", "W"]:
        raise ValueError(f"axes must order the letters T, H, W (e.g. 'HWT'), got {axes!r}")
    return (4, 3, axes.index("T"), axes.index("H"), axes.index("W"))


def _keras_shapes(layer: KerasLayer, weight: torch.Tensor, axes: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The Keras kernel and bias shapes that ``layer``'s vidlearn weight corresponds to."""
    out = weight.shape[0]
    if layer.kind == "conv3d":
        _, cin, kt, kh, kw = weight.shape
        sizes = {"T": kt, "H": kh, "W": kw}
        return (*(sizes[a] for a in axes), cin, out), (out,)
    return (weight.shape[1], out), (out,)


def _convert_kernel(layer: KerasLayer, kernel: torch.Tensor, axes: str) -> torch.Tensor:
    perm = _conv_permutation(axes)
    if layer.kind == "conv3d":
        return kernel.permute(perm).contiguous()
    if layer.flatten_from is None:
        return kernel.t().contiguous()
    channels, time, height, width = layer.flatten_from
    sizes = {"T": time, "H": height, "W": width}
    keras_source = (*(sizes[a] for a in axes), channels)  # the order Keras flattened in
    out = kernel.shape[1]
    return kernel.reshape(*keras_source, out).permute(perm).reshape(out, -1).contiguous()


def _keras3_group(kind: str, index: int) -> str:
    return f"layers/{kind}" + (f"_{index}" if index else "")


def _assign_keras3(layers: Sequence[KerasLayer]) -> list[tuple[KerasLayer, str, dict[str, str]]]:
    counts: dict[str, int] = {}
    assigned = []
    for layer in layers:
        index = counts.get(layer.kind, 0)
        counts[layer.kind] = index + 1
        group = _keras3_group(layer.kind, index)
        assigned.append((layer, group, {"kernel": f"{group}/vars/0", "bias": f"{group}/vars/1"}))
    return assigned


def _assign_keras2(
    state: Mapping[str, torch.Tensor], layers: Sequence[KerasLayer], problems: list[str]
) -> list[tuple[KerasLayer, str, dict[str, str]]]:
    # Group the file's weights by layer, in file order (Keras 2 loads layer by layer in that order).
    file_layers: dict[str, dict[str, str]] = {}
    for key in state:
        layer_name, _, weight_name = key.partition("/")
        role = weight_name.rsplit("/", 1)[-1].split(":")[0]  # conv3d_1/kernel:0 -> kernel
        roles = file_layers.setdefault(layer_name, {})
        if role in roles:  # a second kernel: keep it under another name so that it is reported
            role = f"{role} ({key})"
        roles[role] = key
    names = list(file_layers)
    if len(names) != len(layers):
        surplus = (f"no file layer for {', '.join(lay.module for lay in layers[len(names):])}"
                   if len(layers) > len(names) else f"unexpected file layers {', '.join(names[len(layers):])}")
        problems.append(
            f"the file has {len(names)} layers with weights ({', '.join(names)}); the model expects "
            f"{len(layers)} ({', '.join(f'{lay.kind} -> {lay.module}' for lay in layers)}), matched in order: "
            + surplus
        )
    return [(layer, name, file_layers[name]) for layer, name in zip(layers, names)]


def convert_keras_state(
    state: Mapping[str, torch.Tensor],
    model: nn.Module,
    layers: Sequence[KerasLayer],
    *,
    axes: str,
) -> StateDict:
    """Convert a :func:`read_keras_weights` dict to ``model``'s state dict, strictly.

    ``layers``: the model's layers with weights in the Keras model's order; ``axes``: the order of the
    Keras input's time, height and width axes (``"HWT"`` for ``(height, width, time, channels)``).
    Raises :class:`~vidlearn.models.weights.CheckpointLoadError` listing every layer that is missing,
    unexpected, lacks a kernel or bias, or has another shape (Keras shapes, file vs expected).
    """
    _conv_permutation(axes)  # checks axes
    target = model.state_dict()
    problems: list[str] = []
    if is_keras3_state(state):
        assigned = _assign_keras3(layers)
    elif is_keras2_state(state):
        assigned = _assign_keras2(state, layers, problems)
    else:
        raise CheckpointLoadError(f"keys are neither Keras 2 nor Keras 3 weight paths (first: {next(iter(state), None)!r})")
    converted: StateDict = {}
    used: set[str] = set()
    for layer, file_layer, keys in assigned:
        weight_key, bias_key = f"{layer.module}.weight", f"{layer.module}.bias"
        if weight_key not in target or bias_key not in target:
            raise ValueError(f"KerasLayer {layer.module!r} is not a module with weight and bias in "
                             f"{type(model).__name__}")
        kernel_shape, bias_shape = _keras_shapes(layer, target[weight_key], axes)
        extra = sorted(set(keys) - {"kernel", "bias"})
        if extra:
            problems.append(f"layer {file_layer!r} ({layer.kind} -> {layer.module}) has weights other than "
                            f"kernel and bias: {', '.join(keys[role] for role in extra)}")
            used.update(keys[role] for role in extra)
        for role, expected, model_key in (("kernel", kernel_shape, weight_key), ("bias", bias_shape, bias_key)):
            file_key = keys.get(role)
            if file_key is None or file_key not in state:
                problems.append(f"layer {file_layer!r} ({layer.kind} -> {layer.module}): missing {role} "
                                f"{file_key or ''} (expected Keras shape {expected})".replace("  ", " "))
                continue
            used.add(file_key)
            found = tuple(state[file_key].shape)
            if found != expected:
                problems.append(f"layer {file_layer!r} ({layer.kind} -> {layer.module}) {role}: file {found} "
                                f"vs model {expected} (Keras order)")
                continue
            value = state[file_key]
            converted[model_key] = _convert_kernel(layer, value, axes) if role == "kernel" else value.clone()
    unexpected = [key for key in state if key not in used]
    if unexpected:
        problems.append(f"unexpected weights ({len(unexpected)}) that no layer of {type(model).__name__} "
                        f"takes: {', '.join(unexpected)}")
    if problems:
        raise CheckpointLoadError(
            f"Keras weights do not match {type(model).__name__}:\n  " + "\n  ".join(problems))
    return converted


class KerasConvertible:
    """What a model declares to load Keras weights (mixed in or duck-typed).

    ``keras_axes``: the Keras input's T/H/W order (``"HWT"``); ``keras_layers()``: its layers with
    weights in Keras order, see :class:`KerasLayer`.
    """

    keras_axes: str

    def keras_layers(self) -> Sequence[KerasLayer]:
        raise NotImplementedError


def _convert(state: Mapping[str, torch.Tensor], model: nn.Module) -> StateDict:
    layers = getattr(model, "keras_layers", None)
    axes = getattr(model, "keras_axes", None)
    if layers is None or axes is None:
        raise CheckpointLoadError(f"{type(model).__name__} declares no Keras layers (keras_layers(), keras_axes)")
    return convert_keras_state(state, model, layers(), axes=axes)


_KERAS_FAMILIES: set[str] = set()


def register_keras_family(family: str) -> None:
    """Let models of ``family`` load Keras 2 and Keras 3 weights files through ``load_weights``.

    The family's models implement ``keras_layers()`` and ``keras_axes`` (:class:`KerasConvertible`).
    """
    _KERAS_FAMILIES.add(family)
    families = frozenset(_KERAS_FAMILIES)
    register_layout(CheckpointLayout(
        name=KERAS2_LAYOUT,
        families=families,
        detect=is_keras2_state,
        convert=_convert,
        description="Keras 2 save_weights HDF5: layer_names, <layer>/<layer>/kernel:0, bias:0; loaded by layer order",
        extensions=(".h5", ".hdf5"),
    ))
    register_layout(CheckpointLayout(
        name=KERAS3_LAYOUT,
        families=families,
        detect=is_keras3_state,
        convert=_convert,
        description="Keras 3 .weights.h5 / .keras: layers/<class>[_i]/vars/0 (kernel), vars/1 (bias)",
        extensions=(".weights.h5", ".keras"),
    ))


register_reader(KERAS_SUFFIXES, read_keras_weights)
