"""2D-to-3D inflation: initialise a 3D ConvNet from a trained 2D one (Carreira & Zisserman 2017,
"Quo Vadis, Action Recognition?", Section 2.4, "Inflating 2D ConvNets into 3D" and "Bootstrapping 3D
filters from 2D filters").

A 2D kernel ``(O, I, kH, kW)`` becomes ``(O, I, kT, kH, kW)`` by repeating it ``kT`` times along time
and dividing by ``kT``. On a "boring video" (one image repeated in time) each 3D convolution then
sums ``kT`` equal terms of ``1/kT`` times the 2D response, so the inflated network computes the 2D
network's activations at every frame (given padding that keeps the clip static, see
:mod:`vidlearn.models.layers`). Batch-norm parameters and statistics are copied unchanged; a linear
classifier ``(O, I)`` becomes a 1x1x1 convolution ``(O, I, 1, 1, 1)``.

The module knows no architecture: a network family provides ``rename(key_2d) -> key_3d`` (e.g.
``vidlearn.recognition.models.i3d.googlenet_to_i3d_key``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import torch
from torch import nn

__all__ = ["InflationError", "inflate_conv_weight", "inflate_into", "inflate_state_dict"]

StateDict = dict[str, torch.Tensor]


class InflationError(ValueError):
    """A 2D state dict that does not fit the 3D model; the message names each offending key."""


def inflate_conv_weight(weight: torch.Tensor, time_size: int, *, method: str = "average") -> torch.Tensor:
    """Inflate a 2D kernel ``(O, I, kH, kW)`` to ``(O, I, time_size, kH, kW)``.

    ``method="average"`` (the paper): repeat over time and divide by ``time_size``, so a static
    input gives the 2D response. ``method="center"``: the 2D kernel in the central time slice, zeros
    elsewhere (also exact on static clips; used by some later work).
    """
    if weight.ndim != 4:
        raise InflationError(f"expected a 2D conv kernel (O, I, kH, kW), got shape {tuple(weight.shape)}")
    if time_size < 1:
        raise InflationError(f"time_size must be positive, got {time_size}")
    if method == "average":
        return weight.unsqueeze(2).repeat(1, 1, time_size, 1, 1) / time_size
    if method == "center":
        inflated = weight.new_zeros(weight.shape[0], weight.shape[1], time_size, *weight.shape[2:])
        inflated[:, :, time_size // 2] = weight
        return inflated
    raise InflationError(f"method must be 'average' or 'center', got {method!r}")


def _inflate_value(key: str, value: torch.Tensor, target: torch.Tensor, method: str) -> torch.Tensor:
    original_shape = tuple(value.shape)
    if value.ndim == 4 and target.ndim == 5:
        if value.shape[1] != target.shape[1]:
            # E.g. an RGB first layer for a 2-channel flow network: average the input channels and
            # repeat them (the cross-modality initialisation of Wang et al. 2016, TSN).
            value = value.mean(dim=1, keepdim=True).expand(-1, target.shape[1], -1, -1)
        value = inflate_conv_weight(value, target.shape[2], method=method)
    elif value.ndim == 2 and target.ndim == 5:
        value = value[:, :, None, None, None]  # a linear classifier as a 1x1x1 convolution
    if value.shape != target.shape:
        raise InflationError(
            f"{key}: 2D tensor {original_shape} cannot fill 3D tensor of shape {tuple(target.shape)}"
        )
    return value.to(dtype=target.dtype).contiguous()


def inflate_state_dict(
    state_2d: Mapping[str, torch.Tensor],
    target: Mapping[str, torch.Tensor],
    rename: Callable[[str], str | None],
    *,
    ignore: Sequence[str] = (),
    keep: Sequence[str] = (),
    method: str = "average",
) -> StateDict:
    """Inflate ``state_2d`` into tensors shaped as ``target`` (a 3D model's state dict).

    Args:
        rename: 2D key -> 3D key; ``None`` means the key has no place in the 3D model (an error
            unless it starts with a prefix in ``ignore``).
        ignore: 2D key prefixes to drop on purpose (e.g. auxiliary classifiers ``aux1.``).
        keep: 3D key prefixes not taken from the 2D network; their ``target`` values are returned
            unchanged (e.g. ``"logits"`` when the class count differs).

    Returns the complete 3D state dict. Raises :class:`InflationError` naming every unplaced 2D key,
    every 3D key left without a value, and every shape that does not fit.
    """
    result: StateDict = {}
    unplaced: list[str] = []
    for key, value in state_2d.items():
        if any(key.startswith(prefix) for prefix in ignore):
            continue
        new_key = rename(key)
        if new_key is None or new_key not in target:
            unplaced.append(key if new_key is None else f"{key} -> {new_key}")
            continue
        if any(new_key == p or new_key.startswith(p + ".") for p in keep):
            continue
        result[new_key] = _inflate_value(key, value, target[new_key], method)
    for key, value in target.items():
        kept = any(key == p or key.startswith(p + ".") for p in keep)
        # BatchNorm's step counter is no learned value; 2D checkpoints may lack it.
        if key not in result and (kept or key.endswith("num_batches_tracked")):
            result[key] = value.clone()
    missing = sorted(set(target) - set(result))
    if unplaced or missing:
        lines = ["2D state dict does not fit the 3D model"]
        if unplaced:
            lines.append(f"  2D keys with no 3D counterpart ({len(unplaced)}): {', '.join(unplaced)}")
        if missing:
            lines.append(f"  3D keys with no 2D source ({len(missing)}): {', '.join(missing)}")
        raise InflationError("\n".join(lines))
    return result


def inflate_into(
    model: nn.Module,
    state_2d: Mapping[str, torch.Tensor],
    rename: Callable[[str], str | None],
    *,
    ignore: Sequence[str] = (),
    keep: Sequence[str] = (),
    method: str = "average",
) -> nn.Module:
    """Inflate ``state_2d`` and load it into ``model`` strictly (see :func:`inflate_state_dict`)."""
    inflated = inflate_state_dict(state_2d, model.state_dict(), rename, ignore=ignore, keep=keep, method=method)
    model.load_state_dict(inflated, strict=True)
    return model
