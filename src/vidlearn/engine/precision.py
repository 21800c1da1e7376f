"""Numerical precision for training: autocast contexts and a guard for a CPU bf16 kernel fault.

``train.amp`` selects mixed precision: ``"bf16"`` (CPU and GPU) or ``"fp16"`` (CUDA, with a gradient
scaler per optimiser); :func:`autocast` returns the matching context. On the CPU, bf16 training of 3D
convolutions needs :func:`guard_bf16_conv3d_weight_grad` (the trainer applies it to every model).
"""

from __future__ import annotations

import contextlib
import types
from typing import Any

import torch
from torch import nn

__all__ = ["AMP_DTYPES", "autocast", "guard_bf16_conv3d_weight_grad", "to_channels_last"]

AMP_DTYPES: dict[str, torch.dtype] = {"bf16": torch.bfloat16, "fp16": torch.float16}


def autocast(device: torch.device | str, amp: str) -> Any:
    """``torch.autocast`` for ``amp`` (``"none"``, ``"bf16"`` or ``"fp16"``) on ``device``."""
    if amp not in ("none", *AMP_DTYPES):
        raise ValueError(f"train.amp must be 'none', 'bf16' or 'fp16', got {amp!r}")
    if amp == "none":
        return contextlib.nullcontext()
    return torch.autocast(torch.device(device).type, dtype=AMP_DTYPES[amp])


def to_channels_last(module: nn.Module) -> nn.Module:
    """Lay out ``module``'s 4-D tensors ``channels_last`` and its 5-D ones ``channels_last_3d``, in place.

    ``Module.to(memory_format=...)`` takes one format for every tensor and fails on a 2-D convolution's weight
    when given ``channels_last_3d``; models of several wings mix 2-D and 3-D layers (or have only 2-D ones), so
    each parameter and buffer gets the format of its rank. Other tensors are left as they are.
    """
    formats = {4: torch.channels_last, 5: torch.channels_last_3d}
    with torch.no_grad():
        for tensor in (*module.parameters(), *module.buffers()):
            if tensor.dim() in formats:
                tensor.data = tensor.data.contiguous(memory_format=formats[tensor.dim()])
    return module


def _bf16_weight_grad_at_risk(x: torch.Tensor, weight: torch.Tensor) -> bool:
    """Whether a CPU bf16 conv3d over ``x`` would get a wrong weight gradient (see the guard below)."""
    return (
        x.device.type == "cpu"
        and 1 < x.shape[2] < weight.shape[2]
        and torch.is_grad_enabled()
        and weight.requires_grad
        and (
            x.dtype == torch.bfloat16
            or (torch.is_autocast_enabled("cpu") and torch.get_autocast_dtype("cpu") == torch.bfloat16)
        )
    )


def _guarded_conv_forward(
    self: nn.Conv3d, input: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None
) -> torch.Tensor:
    if _bf16_weight_grad_at_risk(input, weight):
        with torch.autocast("cpu", enabled=False):
            return type(self)._conv_forward(
                self, input.float(), weight.float(), None if bias is None else bias.float()
            )
    return type(self)._conv_forward(self, input, weight, bias)


def guard_bf16_conv3d_weight_grad(model: nn.Module) -> int:
    """Run in float32 the 3D convolutions whose bf16 weight gradient the CPU computes wrongly.

    With torch 2.14 (oneDNN 3.12) on a CPU with native bf16, the weight gradient of a bf16 ``conv3d``
    is garbage (values around 1e35, inf or NaN, or off by 100 %) when the input's temporal depth lies
    strictly between 1 and the kernel's depth: C3D's conv5a/conv5b and the video ResNets' last stage
    see a depth of 2 with 3-deep kernels at 16-frame inputs. The forward pass and the input gradient
    are right, so inference is unaffected, but bf16 training (``train.amp: bf16``) diverges. The
    guard makes each ``nn.Conv3d`` (and subclass) of ``model`` whose kernel is at least 3 deep check
    its input while gradients are recorded under CPU bf16 and, in the faulty case, compute in
    float32: those layers work on the smallest maps of the network, so the cost is small.

    Returns the number of convolutions guarded. Applying it twice changes nothing.
    """
    guarded = 0
    for module in model.modules():
        if isinstance(module, nn.Conv3d) and module.kernel_size[0] >= 3:
            if "_conv_forward" not in vars(module):
                module._conv_forward = types.MethodType(_guarded_conv_forward, module)  # type: ignore[method-assign]
            guarded += 1
    return guarded
