"""The super-resolution models as the registry names them (``vidlearn models superres``).

Sajjadi, Vemulapalli & Brown 2018 compare FRVSR of several ``blocks-filters`` sizes with a per-frame
network (SISR: SRNet alone) and a sliding-window video network of the same size; each size gets one
name per system: ``frvsr_10_128`` (the paper's main model), ``frvsr_10_64`` (TecoGAN's size),
``frvsr_3_64``, and ``sisr_*`` / ``vsr_*`` alike. Every builder takes ``scale`` (2, 4 or 8; the paper's
4) and the keyword arguments of its class. The input shape is the paper's training clip: 10 LR frames
of 64x64 (256x256 HR crops at x4). These models have no classes.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from vidlearn.models import register_model
from vidlearn.superres.models.baselines import sisr, sliding_window_vsr
from vidlearn.superres.models.frvsr import FRVSR_VARIANTS, frvsr

__all__ = ["PAPER", "SYSTEMS"]

PAPER = "Sajjadi, Vemulapalli & Brown 2018, Frame-Recurrent Video Super-Resolution (CVPR)"
LR_CLIP = (10, 3, 64, 64)  # (T, C, h, w)
SMALL_CLIP = (3, 3, 16, 16)
SMALL_KWARGS = {"num_blocks": 1, "num_filters": 8}

# system prefix -> (builder, family, what it is)
SYSTEMS: dict[str, tuple[Callable[..., nn.Module], str, str]] = {
    "frvsr": (frvsr, "frvsr", "FRVSR {b}-{f}: FNet flow, warped previous HR estimate, space-to-depth, SRNet"),
    "sisr": (sisr, "frvsr-baselines", "SISR {b}-{f}: SRNet on each frame alone (the paper's per-frame baseline)"),
    "vsr": (sliding_window_vsr, "frvsr-baselines",
            "VSR {b}-{f}: a 3-frame sliding window aligned by FNet (the paper's video baseline)"),
}


def _builder(name: str, build: Callable[..., nn.Module], size: dict[str, int], doc: str) -> Callable[..., nn.Module]:
    def builder(*, scale: int = 4, **kwargs: object) -> nn.Module:
        return build(scale=scale, **{**size, **kwargs})

    builder.__name__ = builder.__qualname__ = name
    builder.__doc__ = doc
    return builder


for _prefix, (_build, _family, _text) in SYSTEMS.items():
    for _variant, _size in FRVSR_VARIANTS.items():
        _name = _variant.replace("frvsr", _prefix)
        _doc = _text.format(b=_size["num_blocks"], f=_size["num_filters"])
        register_model(
            _name,
            paper=PAPER,
            input_shape=LR_CLIP,
            small_input_shape=SMALL_CLIP,
            small_kwargs=SMALL_KWARGS,
            description=_doc,
            family=_family,
        )(_builder(_name, _build, _size, _doc))
