"""FRVSR: frame-recurrent video super-resolution (Sajjadi, Vemulapalli & Brown, CVPR 2018).

One recurrent step, for the current LR frame ``x_t (B, C, h, w)`` and the state of the previous step
(the previous LR frame ``x_{t-1}`` and HR estimate ``y_{t-1} (B, C, s*h, s*w)``)::

    F_lr  = FNet(x_{t-1}, x_t)                          (B, 2, h, w)      LR flow, t -> t-1
    F_hr  = s * bilinear_up_s(F_lr)                      (B, 2, s*h, s*w)
    w     = backward_warp(y_{t-1}, F_hr)                 (B, C, s*h, s*w)
    y_t   = SRNet(x_t, space_to_depth(w, s))             (B, C, s*h, s*w)

The first frame is super-resolved from a black previous estimate (warping a black image gives a black
image whatever the flow, so the first step skips FNet; the result is the same). Training unrolls the
steps over a clip and back-propagates through all of them; it needs every HR estimate (``L_sr``) and
the previous LR frames warped by the LR flow (``L_flow``), which :meth:`FRVSR.forward_train` returns.

Parameter counts (3 colour channels, ×4), computed from the layers in ``fnet.py`` and ``srnet.py``:

==========  =========  ==========  ==========  =====================================================
size        FNet       SRNet       total       published
==========  =========  ==========  ==========  =====================================================
10-128      1,745,506  3,309,187   5,054,693   "5.1 M" (the paper): equal at its one-decimal precision
10-64       1,745,506    843,587   2,589,093   TecoGAN's FRVSR, quoted as "about 2.5 M"; the layers
                                               equal TecoGAN-PyTorch's ``FRNet(nf=64, nb=10)``,
                                               whose count from its code is the same 2,589,093, so
                                               the quoted figure is rounded down (2.59 M)
3-64        1,745,506    326,595   2,072,101
==========  =========  ==========  ==========  =====================================================

Where this implementation departs from published code, on purpose: the space-to-depth channel order
is PyTorch's ``pixel_unshuffle`` (TecoGAN orders the channels as TensorFlow); FNet pads inputs to a
multiple of 8 by edge replication and crops the flow back; the LR skip of SRNet is an option
(``lr_skip``, see ``srnet.py``), off by default as in the paper's figure.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from vidlearn.superres.models.fnet import FNet
from vidlearn.superres.models.srnet import SRNet
from vidlearn.superres.models.warp import backward_warp, space_to_depth, upsample_flow

__all__ = [
    "FRVSR",
    "FRVSR_VARIANTS",
    "FRVSROutput",
    "FRVSRState",
    "check_sequence",
    "frvsr",
    "frvsr_3_64",
    "frvsr_10_64",
    "frvsr_10_128",
]


@dataclass
class FRVSRState:
    """What one FRVSR step hands to the next: the previous LR frame and HR estimate.

    Attributes:
        lr_previous: ``(B, C, h, w)``.
        hr_previous: ``(B, C, s*h, s*w)``.
    """

    lr_previous: Tensor
    hr_previous: Tensor

    def detach(self) -> FRVSRState:
        """The same state cut from the autograd graph (truncated back-propagation)."""
        return FRVSRState(self.lr_previous.detach(), self.hr_previous.detach())


@dataclass
class FRVSROutput:
    """What training needs from an unrolled clip of ``T`` frames.

    Attributes:
        hr: HR estimates ``(B, T, C, s*h, s*w)``.
        lr_warped: previous LR frames warped to the current ones by the LR flow,
            ``(B, T-1, C, h, w)`` (frames 1..T-1; frame 0 has no real predecessor).
        lr_target: the frames ``lr_warped`` should equal, ``(B, T-1, C, h, w)``.
        lr_flow: the LR flows ``(B, T-1, 2, h, w)`` in pixels.
    """

    hr: Tensor
    lr_warped: Tensor
    lr_target: Tensor
    lr_flow: Tensor


def check_sequence(lr: Tensor, channels: int) -> None:
    """Raise a clear error unless ``lr`` is ``(B, T, channels, h, w)`` floating point."""
    if lr.dim() != 5 or lr.shape[2] != channels:
        raise ValueError(f"expected an LR sequence (B, T, {channels}, h, w), got shape {tuple(lr.shape)}")
    if not lr.is_floating_point():
        raise TypeError(f"expected a float sequence in [0, 1], got dtype {lr.dtype}")
    if lr.shape[1] < 1:
        raise ValueError("the LR sequence has no frames (T = 0)")


class FRVSR(nn.Module):
    """Frame-recurrent video SR: ``forward(lr (B, T, C, h, w)) -> (B, T, C, s*h, s*w)``.

    Also ``step(lr_frame, state) -> (hr_frame, state)`` for streaming; a batched forward and the same
    frames streamed one by one give the same estimates.

    Args:
        scale: upscaling factor (power of 2; the paper: 4).
        num_blocks, num_filters: SRNet size (the paper's "blocks-filters", e.g. 10-128).
        channels: colour channels (3).
        max_flow: FNet's tanh bound in LR pixels.
        lr_skip: SRNet's optional additive skip from the upsampled LR frame (``None``, ``"bicubic"``,
            ``"bilinear"``).
        fnet_width: FNet's first-stage filters (the paper's 32; smaller for CPU-sized models, whose SRNet is
            otherwise dwarfed by FNet).
    """

    def __init__(self, *, scale: int = 4, num_blocks: int = 10, num_filters: int = 128, channels: int = 3,
                 max_flow: float = 24.0, lr_skip: str | None = None, fnet_width: int = 32) -> None:
        super().__init__()
        self.scale = scale
        self.channels = channels
        self.fnet = FNet(channels, max_flow=max_flow, width=fnet_width)
        self.srnet = SRNet(scale=scale, num_blocks=num_blocks, num_filters=num_filters, channels=channels,
                           lr_skip=lr_skip)

    def _first(self, lr_frame: Tensor) -> Tensor:
        batch, channels, height, width = lr_frame.shape
        black = lr_frame.new_zeros(batch, channels * self.scale**2, height, width)
        return self.srnet(lr_frame, black)

    def recurrent_step(self, lr_frame: Tensor, lr_previous: Tensor, hr_previous: Tensor) -> Tensor:
        """One step on plain tensors (what ``torch.export`` sees): ``(B, C, h, w) x2, (B, C, sh, sw) -> (B, C, sh, sw)``."""
        hr_flow = upsample_flow(self.fnet(lr_previous, lr_frame), self.scale)
        warped = backward_warp(hr_previous, hr_flow)
        return self.srnet(lr_frame, space_to_depth(warped, self.scale))

    def init_state(self, lr_frame: Tensor) -> FRVSRState:
        """The state before the first frame: black LR and HR images shaped after ``lr_frame (B, C, h, w)``."""
        batch, channels, height, width = lr_frame.shape
        return FRVSRState(torch.zeros_like(lr_frame),
                          lr_frame.new_zeros(batch, channels, self.scale * height, self.scale * width))

    def step(self, lr_frame: Tensor, state: FRVSRState | None = None) -> tuple[Tensor, FRVSRState]:
        """Super-resolve one frame ``(B, C, h, w)``; ``state=None`` starts a sequence.

        Returns the HR frame ``(B, C, s*h, s*w)`` and the state for the next call. Memory does not
        grow with the number of frames.
        """
        if lr_frame.dim() != 4 or lr_frame.shape[1] != self.channels:
            raise ValueError(f"step expects one LR frame (B, {self.channels}, h, w), got {tuple(lr_frame.shape)}")
        if state is None:
            hr = self._first(lr_frame)
        else:
            expected = (*lr_frame.shape[:2], self.scale * lr_frame.shape[2], self.scale * lr_frame.shape[3])
            if state.lr_previous.shape != lr_frame.shape or tuple(state.hr_previous.shape) != expected:
                raise ValueError(f"state does not match the frame: state holds {tuple(state.lr_previous.shape)} / "
                                 f"{tuple(state.hr_previous.shape)}, frame is {tuple(lr_frame.shape)} "
                                 f"(a frame size changed mid-sequence?)")
            hr = self.recurrent_step(lr_frame, state.lr_previous, state.hr_previous)
        return hr, FRVSRState(lr_frame, hr)

    def forward_train(self, lr: Tensor) -> FRVSROutput:
        """Unroll over a clip ``(B, T, C, h, w)`` keeping the graph through every step.

        FNet runs once on all ``B*(T-1)`` frame pairs (it does not depend on the recurrence); SRNet
        runs step by step.
        """
        check_sequence(lr, self.channels)
        batch, length, channels, height, width = lr.shape
        s = self.scale
        previous = lr[:, :-1].reshape(-1, channels, height, width)
        current = lr[:, 1:].reshape(-1, channels, height, width)
        lr_flow = self.fnet(previous, current)
        lr_warped = backward_warp(previous, lr_flow)
        hr_flow = upsample_flow(lr_flow, s).view(batch, length - 1, 2, s * height, s * width)
        estimates = [self._first(lr[:, 0])]
        for t in range(1, length):
            warped = backward_warp(estimates[-1], hr_flow[:, t - 1])
            estimates.append(self.srnet(lr[:, t], space_to_depth(warped, s)))
        return FRVSROutput(
            hr=torch.stack(estimates, dim=1),
            lr_warped=lr_warped.view(batch, length - 1, channels, height, width),
            lr_target=lr[:, 1:],
            lr_flow=lr_flow.view(batch, length - 1, 2, height, width),
        )

    def forward(self, lr: Tensor, *, training_outputs: bool = False) -> Tensor | FRVSROutput:
        """``(B, T, C, h, w) -> (B, T, C, s*h, s*w)``; with ``training_outputs``, :meth:`forward_train`'s
        :class:`FRVSROutput` (through ``forward``, so a ``DistributedDataParallel`` wrapper sees the call)."""
        output = self.forward_train(lr)
        return output if training_outputs else output.hr


# The paper's sizes ("blocks-filters"): 10-128 is its main model and 3-64 its smallest; 10-64 is the
# size TecoGAN trains as its FRVSR baseline.
FRVSR_VARIANTS: dict[str, dict[str, int]] = {
    "frvsr_10_128": {"num_blocks": 10, "num_filters": 128},
    "frvsr_10_64": {"num_blocks": 10, "num_filters": 64},
    "frvsr_3_64": {"num_blocks": 3, "num_filters": 64},
}


def frvsr(num_blocks: int = 10, num_filters: int = 128, scale: int = 4, **kwargs: object) -> FRVSR:
    """FRVSR of any size; keyword arguments go to :class:`FRVSR` (``channels``, ``max_flow``, ``lr_skip``)."""
    return FRVSR(scale=scale, num_blocks=num_blocks, num_filters=num_filters, **kwargs)  # type: ignore[arg-type]


def frvsr_10_128(*, scale: int = 4, **kwargs: object) -> FRVSR:
    """The paper's main model, FRVSR 10-128 (5,054,693 parameters at ×4)."""
    return frvsr(scale=scale, **FRVSR_VARIANTS["frvsr_10_128"], **kwargs)


def frvsr_10_64(*, scale: int = 4, **kwargs: object) -> FRVSR:
    """FRVSR 10-64, TecoGAN's FRVSR size (2,589,093 parameters at ×4)."""
    return frvsr(scale=scale, **FRVSR_VARIANTS["frvsr_10_64"], **kwargs)


def frvsr_3_64(*, scale: int = 4, **kwargs: object) -> FRVSR:
    """FRVSR 3-64, the paper's smallest size (2,072,101 parameters at ×4)."""
    return frvsr(scale=scale, **FRVSR_VARIANTS["frvsr_3_64"], **kwargs)
