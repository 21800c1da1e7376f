"""The baselines of the FRVSR paper (Sajjadi, Vemulapalli & Brown, CVPR 2018, Sec. 5):

* **SISR**: SRNet alone on each frame (no context input), the per-frame single-image model whose
  flicker motivates FRVSR. Same ``blocks-filters`` sizes as FRVSR.
* **Sliding-window VSR**: each output frame from a window of ``2r+1`` LR frames; FNet aligns every
  neighbour to the centre frame (flow from the centre to the neighbour, backward warping at LR) and
  SRNet takes the centre frame with the ``2r`` warped neighbours as context. Every input frame is
  processed and warped ``2r`` times, the cost FRVSR's recurrence avoids. Frames past either end are
  the end frames repeated.

Both share FRVSR's contract: ``forward(lr (B, T, C, h, w)) -> (B, T, C, s*h, s*w)`` and streaming with
an explicit state. The sliding window needs ``r`` frames of look-ahead: its ``step`` returns ``None``
until a window is full and :meth:`SlidingWindowVSR.flush` returns the last ``r`` frames at the end.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from vidlearn.superres.models.fnet import FNet
from vidlearn.superres.models.frvsr import FRVSROutput, check_sequence
from vidlearn.superres.models.srnet import SRNet
from vidlearn.superres.models.warp import backward_warp

__all__ = ["SISR", "SlidingWindowState", "SlidingWindowVSR", "sisr", "sliding_window_vsr"]


class SISR(nn.Module):
    """Per-frame SRNet: ``forward(lr (B, T, C, h, w)) -> (B, T, C, s*h, s*w)``; ``step`` keeps no state."""

    def __init__(self, *, scale: int = 4, num_blocks: int = 10, num_filters: int = 128, channels: int = 3,
                 lr_skip: str | None = None) -> None:
        super().__init__()
        self.scale = scale
        self.channels = channels
        self.srnet = SRNet(scale=scale, num_blocks=num_blocks, num_filters=num_filters, channels=channels,
                           context_channels=0, lr_skip=lr_skip)

    def forward(self, lr: Tensor) -> Tensor:
        check_sequence(lr, self.channels)
        batch, length = lr.shape[:2]
        hr = self.srnet(lr.flatten(0, 1))
        return hr.view(batch, length, *hr.shape[1:])

    def step(self, lr_frame: Tensor, state: None = None) -> tuple[Tensor, None]:
        """One frame ``(B, C, h, w) -> (B, C, s*h, s*w)``; the state is always ``None``."""
        return self.srnet(lr_frame), None


@dataclass
class SlidingWindowState:
    """Streaming state of :class:`SlidingWindowVSR`: the frames of the window being filled.

    Attributes:
        window: LR frames ``(B, C, h, w)``, oldest first, at most ``2r+1``.
        received: frames given to ``step`` so far.
        emitted: HR frames returned so far.
    """

    window: list[Tensor] = field(default_factory=list)
    received: int = 0
    emitted: int = 0


class SlidingWindowVSR(nn.Module):
    """Sliding-window video SR with FNet alignment (the paper's VSR baseline).

    Args:
        radius: ``r``; the window holds ``2r+1`` frames (1 gives 3 frames).
        scale, num_blocks, num_filters, channels, max_flow, lr_skip: as :class:`~vidlearn.superres.models.frvsr.FRVSR`.
    """

    def __init__(self, *, radius: int = 1, scale: int = 4, num_blocks: int = 10, num_filters: int = 128,
                 channels: int = 3, max_flow: float = 24.0, lr_skip: str | None = None) -> None:
        super().__init__()
        if radius < 1:
            raise ValueError(f"radius must be >= 1 (a window of 2r+1 >= 3 frames), got {radius}")
        self.radius = radius
        self.scale = scale
        self.channels = channels
        self.fnet = FNet(channels, max_flow=max_flow)
        self.srnet = SRNet(scale=scale, num_blocks=num_blocks, num_filters=num_filters, channels=channels,
                           context_channels=2 * radius * channels, lr_skip=lr_skip)
        offsets = [k for k in range(-radius, radius + 1) if k != 0]
        self.register_buffer("offsets", torch.tensor(offsets), persistent=False)

    def _align(self, centre: Tensor, neighbours: Tensor) -> tuple[Tensor, Tensor]:
        """``centre (N, C, h, w)``, ``neighbours (N, 2r, C, h, w)`` -> warped neighbours and flows."""
        count, pairs = neighbours.shape[:2]
        flat_neighbours = neighbours.flatten(0, 1)
        flat_centre = centre.unsqueeze(1).expand_as(neighbours).flatten(0, 1)
        flow = self.fnet(flat_neighbours, flat_centre)
        warped = backward_warp(flat_neighbours, flow)
        return warped.view(count, pairs, *warped.shape[1:]), flow.view(count, pairs, *flow.shape[1:])

    def forward_train(self, lr: Tensor) -> FRVSROutput:
        """``(B, T, C, h, w)`` -> HR estimates plus, for ``L_flow``, the ``T*2r`` warped neighbours
        ``lr_warped (B, T*2r, C, h, w)``, their targets (the centre frames) and flows."""
        check_sequence(lr, self.channels)
        batch, length, channels, height, width = lr.shape
        index = (torch.arange(length, device=lr.device)[:, None] + self.offsets[None, :]).clamp(0, length - 1)
        neighbours = lr[:, index].flatten(0, 1)  # (B*T, 2r, C, h, w)
        centre = lr.flatten(0, 1)
        warped, flow = self._align(centre, neighbours)
        hr = self.srnet(centre, warped.flatten(1, 2))
        pairs = 2 * self.radius
        return FRVSROutput(
            hr=hr.view(batch, length, *hr.shape[1:]),
            lr_warped=warped.reshape(batch, length * pairs, channels, height, width),
            lr_target=centre.unsqueeze(1).expand(-1, pairs, -1, -1, -1).reshape(batch, length * pairs, channels,
                                                                                height, width),
            lr_flow=flow.reshape(batch, length * pairs, 2, height, width),
        )

    def forward(self, lr: Tensor, *, training_outputs: bool = False) -> Tensor | FRVSROutput:
        """``(B, T, C, h, w) -> (B, T, C, s*h, s*w)`` (or :meth:`forward_train`'s output)."""
        output = self.forward_train(lr)
        return output if training_outputs else output.hr

    def _emit(self, state: SlidingWindowState) -> Tensor:
        window = state.window
        centre = window[self.radius]
        neighbours = torch.stack(window[: self.radius] + window[self.radius + 1:], dim=1)
        warped, _ = self._align(centre, neighbours)
        state.window = window[1:]
        state.emitted += 1
        return self.srnet(centre, warped.flatten(1, 2))

    def step(self, lr_frame: Tensor, state: SlidingWindowState | None = None
             ) -> tuple[Tensor | None, SlidingWindowState]:
        """Feed one frame ``(B, C, h, w)``; returns the HR frame ``r`` frames back (``None`` at first)."""
        if lr_frame.dim() != 4 or lr_frame.shape[1] != self.channels:
            raise ValueError(f"step expects one LR frame (B, {self.channels}, h, w), got {tuple(lr_frame.shape)}")
        if state is None:
            state = SlidingWindowState(window=[lr_frame] * self.radius)
        state.window = [*state.window, lr_frame]
        state.received += 1
        output = self._emit(state) if len(state.window) == 2 * self.radius + 1 else None
        return output, state

    def flush(self, state: SlidingWindowState) -> list[Tensor]:
        """The HR frames still owed at the end of a sequence (the last frame repeated as look-ahead)."""
        outputs = []
        while state.emitted < state.received:
            state.window = [*state.window, state.window[-1]]
            if len(state.window) == 2 * self.radius + 1:
                outputs.append(self._emit(state))
        return outputs


def sisr(num_blocks: int = 10, num_filters: int = 128, scale: int = 4, **kwargs: object) -> SISR:
    """The per-frame baseline of a given ``blocks-filters`` size (SISR 10-128: 3,253,891 parameters at ×4)."""
    return SISR(scale=scale, num_blocks=num_blocks, num_filters=num_filters, **kwargs)  # type: ignore[arg-type]


def sliding_window_vsr(num_blocks: int = 10, num_filters: int = 128, scale: int = 4, radius: int = 1,
                       **kwargs: object) -> SlidingWindowVSR:
    """The sliding-window baseline of a given size and window ``2*radius+1``."""
    return SlidingWindowVSR(scale=scale, num_blocks=num_blocks, num_filters=num_filters, radius=radius,
                            **kwargs)  # type: ignore[arg-type]
