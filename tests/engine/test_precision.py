"""Mixed precision: the autocast contexts and the CPU bf16 conv3d weight-gradient guard."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from vidlearn.engine.precision import autocast, guard_bf16_conv3d_weight_grad


def test_autocast_contexts() -> None:
    with autocast("cpu", "bf16"):
        assert torch.is_autocast_enabled("cpu") and torch.get_autocast_dtype("cpu") == torch.bfloat16
    with autocast("cpu", "none"):
        assert not torch.is_autocast_enabled("cpu")
    with pytest.raises(ValueError, match=r"train\.amp must be 'none', 'bf16' or 'fp16', got 'fp8'"):
        autocast("cpu", "fp8")


def _conv_grads(conv: nn.Conv3d, x: torch.Tensor, grad: torch.Tensor, bf16: bool) -> tuple[torch.Tensor, torch.dtype]:
    conv.zero_grad()
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        out = conv(x)
    out.float().backward(grad)
    return conv.weight.grad.clone(), out.dtype


@pytest.mark.parametrize("depth", [1, 2, 4])
def test_guarded_conv3d_computes_the_faulty_depths_in_float32(depth: int) -> None:
    torch.manual_seed(0)
    conv = nn.Conv3d(16, 16, 3, padding=1)
    x = torch.randn(4, 16, depth, 7, 7).relu()
    grad = torch.randn(4, 16, depth, 7, 7)
    reference, _ = _conv_grads(conv, x, grad, bf16=False)
    assert guard_bf16_conv3d_weight_grad(nn.Sequential(conv, nn.Conv3d(16, 4, (1, 3, 3)))) == 1
    assert guard_bf16_conv3d_weight_grad(conv) == 1  # idempotent
    guarded, dtype = _conv_grads(conv, x, grad, bf16=True)
    # depth 2 (1 < depth < kernel depth 3) runs in float32; the others stay on the bf16 path
    assert dtype == (torch.float32 if depth == 2 else torch.bfloat16)
    tolerance = 1e-5 if depth == 2 else 0.02
    assert (guarded - reference).abs().max() <= tolerance * reference.abs().max()
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):  # inference is left alone
        assert conv(x).dtype == torch.bfloat16
