"""Compute cost of a model per clip, in giga multiply-accumulates (GMACs).

Papers quote the cost of video networks in multiply-adds ("FLOPs" in most tables: C3D ~38.5 G at
16x112x112, torchvision's ``GFLOPS`` metadata, fvcore), so :func:`count_flops` reports multiply-adds
too: one ``a * b + c`` counts once. ``torch.utils.flop_counter.FlopCounterMode`` counts each as two
floating-point operations; the result here is its total divided by 2. Only the operators that
FlopCounterMode knows are counted (convolutions, matrix products, attention), as in the papers;
pooling, normalisation and activations are left out.

The forward pass runs on fake tensors (shapes only), so counting a large model costs no compute; a
model built on the ``meta`` device (``with torch.device("meta"): ...``) is counted on meta inputs.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

__all__ = ["count_flops"]


def count_flops(model: nn.Module, input_shape: Sequence[int] | Sequence[Sequence[int]]) -> float:
    """Giga multiply-accumulates (GMACs) of one forward pass on one clip.

    Args:
        model: any module; it runs in eval mode for the count and gets its mode back afterwards.
        input_shape: one input without the batch dimension, ``(C, T, H, W)``; for a model taking
            several tensors (``forward(rgb, flow)``) a sequence of such shapes.

    Returns:
        multiply-adds / 1e9 for a batch of one clip.
    """
    from torch._subclasses.fake_tensor import FakeTensorMode

    shapes = list(input_shape)
    if not shapes:
        raise ValueError("input_shape is empty; give (C, T, H, W) without the batch dimension")
    if isinstance(shapes[0], int):
        shapes = [shapes]
    for shape in shapes:
        if not all(isinstance(d, int) and d > 0 for d in shape):  # type: ignore[union-attr]
            raise ValueError(f"input_shape must hold positive ints, got {input_shape!r}")
    was_training = model.training
    model.eval()
    on_meta = any(t.is_meta for t in itertools.chain(model.parameters(), model.buffers()))
    try:
        if on_meta:  # nothing to compute on: meta inputs run through meta parameters
            with torch.no_grad(), FlopCounterMode(display=False) as counter:
                model(*[torch.empty(1, *shape, device="meta") for shape in shapes])  # type: ignore[misc]
            return counter.get_total_flops() / 2 / 1e9
        # Real parameters meet fake inputs: allow_non_fake_inputs converts them on use, so no
        # arithmetic is done and nothing of the model is copied.
        with FakeTensorMode(allow_non_fake_inputs=True) as fake_mode, torch.no_grad():
            inputs = [fake_mode.from_tensor(torch.empty(1, *shape)) for shape in shapes]  # type: ignore[misc]
            with FlopCounterMode(display=False) as counter:
                model(*inputs)
    finally:
        model.train(was_training)
    return counter.get_total_flops() / 2 / 1e9
