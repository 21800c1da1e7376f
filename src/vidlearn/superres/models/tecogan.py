"""TecoGAN-PyTorch's FRVSR checkpoints (``FRNet``, the generator of its FRVSR and TecoGAN models).

TecoGAN-PyTorch (Deng et al.'s re-implementation of Chu et al. 2020, ``codes/models/networks/
tecogan_nets.py``) names the generator's parameters::

    fnet.encoder{1,2,3}.{0,2}.{weight,bias}     -> fnet.encoder.{0,1,2}.{0,2}.*
    fnet.decoder{1,2,3}.{0,2}.{weight,bias}     -> fnet.decoder.{0,1,2}.{0,2}.*
    fnet.flow.{0,2}.{weight,bias}               -> fnet.head.{0,2}.*
    srnet.conv_in.0.{weight,bias}               -> srnet.conv_in.*
    srnet.resblocks.{i}.conv.{0,2}.*            -> srnet.blocks.{i}.conv{1,2}.*
    srnet.conv_up.{0,2}.{weight,bias}           -> srnet.upsample.{0,2}.*
    srnet.conv_out.{weight,bias}                -> srnet.conv_out.*

and, for its BD models, the buffer ``kernels (scale, 4)`` of its bicubic upsampler twice
(``upsample_func.kernels``, ``srnet.upsample_func.kernels``): checked against the cubic kernel
(``a = -0.75``) they must hold, then dropped (vidlearn computes the upsampling, it stores nothing).

Two tensors change layout, not only name: FNet's first convolution reads ``[current, previous]`` there
and ``[previous, current]`` here (its input channels are swapped in blocks), and TecoGAN's
space-to-depth orders channels as TensorFlow's (``(dy, dx, c)``) where PyTorch's ``pixel_unshuffle``
gives ``(c, dy, dx)`` (the context columns of SRNet's first convolution are permuted).

Use it with the LR skip the checkpoint was trained with: BD models add TecoGAN's bicubic upsampling of
the LR frame, BI models bilinear (``frvsr_10_64(lr_skip="bicubic")``); TecoGAN's own bicubic samples
the LR grid at the HR pixel corners, PyTorch's at their centres, so outputs differ slightly from
TecoGAN-PyTorch's.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import torch
from torch import nn

from vidlearn.models.weights import CheckpointLayout, CheckpointLoadError, register_layout, remap_keys

__all__ = ["TECOGAN_FRNET", "tecogan_bicubic_kernels", "tecogan_name"]

_FIXED = {
    "fnet.head.0": "fnet.flow.0",
    "fnet.head.2": "fnet.flow.2",
    "srnet.conv_in": "srnet.conv_in.0",
    "srnet.upsample.0": "srnet.conv_up.0",
    "srnet.upsample.2": "srnet.conv_up.2",
    "srnet.conv_out": "srnet.conv_out",
}


def tecogan_name(key: str) -> str | None:
    """TecoGAN-PyTorch's name of an FRVSR parameter (``None`` for none)."""
    module, _, leaf = key.rpartition(".")
    match = re.fullmatch(r"fnet\.(encoder|decoder)\.(\d)\.(\d)", module)
    if match:
        return f"fnet.{match[1]}{int(match[2]) + 1}.{match[3]}.{leaf}"
    match = re.fullmatch(r"srnet\.blocks\.(\d+)\.conv([12])", module)
    if match:
        return f"srnet.resblocks.{match[1]}.conv.{0 if match[2] == '1' else 2}.{leaf}"
    return f"{_FIXED[module]}.{leaf}" if module in _FIXED else None


def tecogan_bicubic_kernels(scale: int, a: float = -0.75) -> torch.Tensor:
    """The ``(scale, 4)`` cubic-convolution weights TecoGAN's ``BicubicUpsample`` stores."""
    cubic = torch.tensor([[0, a, -2 * a, a], [1, 0, -(a + 3), a + 2], [0, -a, 2 * a + 3, -(a + 2)], [0, 0, a, -a]],
                         dtype=torch.float32)
    return torch.stack([cubic @ torch.tensor([1.0, s, s**2, s**3]) for s in (d / scale for d in range(scale))])


def _detect(state: Mapping[str, torch.Tensor]) -> bool:
    return "fnet.encoder1.0.weight" in state and any(k.startswith("srnet.resblocks.") for k in state)


def _convert(state: Mapping[str, torch.Tensor], model: nn.Module) -> dict[str, torch.Tensor]:
    state = dict(state)
    scale = int(getattr(model, "scale", 4))
    for key in ("upsample_func.kernels", "srnet.upsample_func.kernels"):
        if key in state:
            kernels = state.pop(key)
            expected = tecogan_bicubic_kernels(scale)
            if kernels.shape != expected.shape or not torch.allclose(kernels.float(), expected, atol=1e-6):
                raise CheckpointLoadError(f"{key}: expected TecoGAN's x{scale} bicubic kernels {tuple(expected.shape)}, "
                                          f"got {tuple(kernels.shape)} with other values (a checkpoint of another scale?)")
    converted = remap_keys(state, model, tecogan_name)
    first = converted.get("fnet.encoder.0.0.weight")
    if first is not None and first.dim() == 4 and first.shape[1] % 2 == 0:
        half = first.shape[1] // 2  # TecoGAN: [current, previous]; here [previous, current]
        converted["fnet.encoder.0.0.weight"] = torch.cat([first[:, half:], first[:, :half]], dim=1)
    conv_in = converted.get("srnet.conv_in.weight")
    channels = int(getattr(model, "channels", 3))
    if conv_in is not None and conv_in.dim() == 4 and conv_in.shape[1] == channels * (1 + scale * scale):
        # TF order of the context: index (dy * s + dx) * C + c; PyTorch's pixel_unshuffle: c * s*s + dy * s + dx.
        tf_index = torch.tensor([(dy * scale + dx) * channels + c for c in range(channels)
                                 for dy in range(scale) for dx in range(scale)])
        context = conv_in[:, channels:][:, tf_index]
        converted["srnet.conv_in.weight"] = torch.cat([conv_in[:, :channels], context], dim=1)
    return converted


TECOGAN_FRNET = register_layout(CheckpointLayout(
    name="tecogan-pytorch-frnet",
    families=frozenset({"frvsr"}),
    detect=_detect,
    convert=_convert,
    description="TecoGAN-PyTorch FRNet generator (FRVSR 10-64 and TecoGAN's generator), .pth state dict",
    extensions=(".pth", ".pt"),
    foreign_name=tecogan_name,
))
