"""Clip transforms: resize, crop, flip and normalise whole clips with one random draw per clip.

The reader gives ``uint8 (T, H, W, 3)``; :class:`ToTCHW` turns it into ``(T, C, H, W)``, the layout
every other transform works on (a leading view dimension ``(V, T, C, H, W)`` is accepted too).
Transforms take uint8 or float tensors on any device and keep dtype and device (except
:class:`Normalize`, which returns float). Each operation runs once over the whole clip through
``torchvision.transforms.v2.functional`` (one ``resize`` call for all frames, crops as slices), never
a Python loop over frames.

Random transforms draw their parameters once per call, so every frame of a clip gets the same crop
and flip. They take an optional ``torch.Generator`` (or an int seed) at construction or per call;
without one they use torch's global generator, which DataLoader seeds differently in every worker.
(A generator fixed at construction is copied into each worker and would repeat the same draws.)

Resizing uses bilinear interpolation with ``antialias=True`` by default, torchvision's default and
close to PIL; MMAction2 resizes with OpenCV's bilinear, which does not antialias: pass
``antialias=False`` to match it when downscaling.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torchvision.transforms.v2 import InterpolationMode
from torchvision.transforms.v2 import functional as F

__all__ = [
    "CenterCrop",
    "Compose",
    "MultiScaleCrop",
    "Normalize",
    "RandomCrop",
    "RandomHorizontalFlip",
    "Resize",
    "ResizeShortSide",
    "TenCrop",
    "ThreeCrop",
    "ToCTHW",
    "ToTCHW",
]

GeneratorLike = torch.Generator | int | None
VALUE_RANGES = ((0.0, 255.0), (0.0, 1.0), (-1.0, 1.0))


def _as_generator(generator: GeneratorLike) -> torch.Generator | None:
    if generator is None or isinstance(generator, torch.Generator):
        return generator
    if isinstance(generator, int) and not isinstance(generator, bool):
        return torch.Generator().manual_seed(generator)
    raise TypeError(f"generator must be a torch.Generator, an int seed or None, got {generator!r}")


def _randint(high: int, generator: torch.Generator | None) -> int:
    """A uniform draw from ``[0, high]`` (both included)."""
    return int(torch.randint(0, high + 1, (1,), generator=generator).item())


def _pair(size: int | Sequence[int], name: str) -> tuple[int, int]:
    if isinstance(size, int) and not isinstance(size, bool):
        pair = (size, size)
    elif isinstance(size, Sequence) and len(size) == 2:
        pair = (int(size[0]), int(size[1]))
    else:
        raise ValueError(f"{name}: size must be an int or (height, width), got {size!r}")
    if min(pair) < 1:
        raise ValueError(f"{name}: size must be positive, got {size!r}")
    return pair


def _check_clip(clip: torch.Tensor, name: str) -> None:
    if not isinstance(clip, torch.Tensor):
        raise TypeError(f"{name}: expected a tensor (T, C, H, W), got {type(clip).__name__}")
    if clip.ndim < 4:
        raise ValueError(f"{name}: expected a clip (T, C, H, W), got shape {tuple(clip.shape)}")


def _check_fits(clip: torch.Tensor, height: int, width: int, name: str) -> None:
    frame_h, frame_w = clip.shape[-2:]
    if height > frame_h or width > frame_w:
        raise ValueError(
            f"{name}: crop {height}x{width} (HxW) is larger than the frames {frame_h}x{frame_w}; resize first"
        )


def _negate_flow_x(flow: torch.Tensor) -> torch.Tensor:
    """Mirror a flow field's x component (channel 0) in place; flow is ``(..., 2, H, W)``."""
    if flow.shape[-3] != 2 or not (flow.is_floating_point() or flow.dtype.is_signed):
        raise ValueError(
            f"flow=True expects signed flow (..., 2, H, W), got shape {tuple(flow.shape)} {flow.dtype}"
        )
    flow[..., 0, :, :].neg_()
    return flow


def _resize(
    clip: torch.Tensor,
    size: list[int],
    interpolation: InterpolationMode,
    antialias: bool,
    flow: bool,
) -> torch.Tensor:
    """One ``resize`` call over all frames; flow displacements are rescaled with the frame."""
    out = F.resize(clip, size, interpolation, antialias=antialias)
    if flow:
        if out.shape[-3] != 2 or not out.is_floating_point():
            raise ValueError(
                f"flow=True expects float flow (..., 2, H, W), got {tuple(out.shape)} {out.dtype}"
            )
        # a displacement of d pixels becomes d * new / old pixels along each axis
        out[..., 0, :, :] *= out.shape[-1] / clip.shape[-1]
        out[..., 1, :, :] *= out.shape[-2] / clip.shape[-2]
    return out


class ToTCHW:
    """``(..., T, H, W, C) -> (..., T, C, H, W)``, a view (channels-last strides, which torchvision's
    uint8 resize handles fastest)."""

    def __call__(self, clip: torch.Tensor) -> torch.Tensor:
        _check_clip(clip, "ToTCHW")
        return clip.movedim(-1, -3)

    def __repr__(self) -> str:
        return "ToTCHW()"


class ToCTHW:
    """``(..., T, C, H, W) -> (..., C, T, H, W)``, the model input layout (a view)."""

    def __call__(self, clip: torch.Tensor) -> torch.Tensor:
        _check_clip(clip, "ToCTHW")
        return clip.transpose(-4, -3)

    def __repr__(self) -> str:
        return "ToCTHW()"


class Resize:
    """Resize every frame to ``(height, width)`` in one call.

    ``flow=True``: the clip is flow ``(T, 2, H, W)`` in pixels; x and y are scaled with the frame.
    """

    def __init__(
        self,
        size: int | Sequence[int],
        *,
        interpolation: InterpolationMode = InterpolationMode.BILINEAR,
        antialias: bool = True,
        flow: bool = False,
    ) -> None:
        self.size = _pair(size, "Resize")
        self.interpolation = interpolation
        self.antialias = antialias
        self.flow = flow

    def __call__(self, clip: torch.Tensor) -> torch.Tensor:
        _check_clip(clip, "Resize")
        return _resize(clip, list(self.size), self.interpolation, self.antialias, self.flow)

    def __repr__(self) -> str:
        return f"Resize(size={self.size}, antialias={self.antialias})"


class ResizeShortSide:
    """Resize so that the short side is ``size``; the long side keeps the aspect ratio,
    ``int(size * long / short)`` (torchvision's rule). ``flow=True`` rescales flow as :class:`Resize`."""

    def __init__(
        self,
        size: int,
        *,
        interpolation: InterpolationMode = InterpolationMode.BILINEAR,
        antialias: bool = True,
        flow: bool = False,
    ) -> None:
        self.size = _pair(size, "ResizeShortSide")[0]
        self.interpolation = interpolation
        self.antialias = antialias
        self.flow = flow

    def __call__(self, clip: torch.Tensor) -> torch.Tensor:
        _check_clip(clip, "ResizeShortSide")
        if min(clip.shape[-2:]) == self.size:
            return clip
        return _resize(clip, [self.size], self.interpolation, self.antialias, self.flow)

    def __repr__(self) -> str:
        return f"ResizeShortSide(size={self.size}, antialias={self.antialias})"


class CenterCrop:
    """The centre ``(h, w)`` of every frame; top ``= round((H - h) / 2)`` as in torchvision."""

    def __init__(self, size: int | Sequence[int]) -> None:
        self.size = _pair(size, "CenterCrop")

    def __call__(self, clip: torch.Tensor) -> torch.Tensor:
        _check_clip(clip, "CenterCrop")
        _check_fits(clip, *self.size, "CenterCrop")
        return F.center_crop(clip, list(self.size))

    def __repr__(self) -> str:
        return f"CenterCrop(size={self.size})"


class RandomCrop:
    """One random ``(h, w)`` window, the same for every frame (C3D / I3D training crop)."""

    def __init__(self, size: int | Sequence[int], *, generator: GeneratorLike = None) -> None:
        self.size = _pair(size, "RandomCrop")
        self.generator = _as_generator(generator)

    def __call__(self, clip: torch.Tensor, *, generator: GeneratorLike = None) -> torch.Tensor:
        _check_clip(clip, "RandomCrop")
        height, width = self.size
        _check_fits(clip, height, width, "RandomCrop")
        gen = _as_generator(generator) or self.generator
        top = _randint(clip.shape[-2] - height, gen)
        left = _randint(clip.shape[-1] - width, gen)
        return F.crop(clip, top, left, height, width)

    def __repr__(self) -> str:
        return f"RandomCrop(size={self.size})"


class ThreeCrop:
    """Three crops along the long side: left/top, centre, right/bottom -> ``(3, ..., T, C, h, w)``.

    The standard 3-crop test protocol (SlowFast, MMAction2 ``ThreeCrop``): resize the short side to
    the crop size, then cover the long side with three crops. The short side is centre-cropped if it
    is larger. The centre crop sits where :class:`CenterCrop` puts it, the last crop touches the far
    edge (MMAction2 puts its last crop at ``2 * ((W - w) // 2)``, one pixel short when ``W - w`` is odd).
    """

    def __init__(self, size: int | Sequence[int]) -> None:
        self.size = _pair(size, "ThreeCrop")

    def __call__(self, clip: torch.Tensor) -> torch.Tensor:
        _check_clip(clip, "ThreeCrop")
        height, width = self.size
        _check_fits(clip, height, width, "ThreeCrop")
        free_h, free_w = clip.shape[-2] - height, clip.shape[-1] - width
        centre_top, centre_left = round(free_h / 2), round(free_w / 2)
        if free_w >= free_h:
            corners = [(centre_top, 0), (centre_top, centre_left), (centre_top, free_w)]
        else:
            corners = [(0, centre_left), (centre_top, centre_left), (free_h, centre_left)]
        return torch.stack([F.crop(clip, top, left, height, width) for top, left in corners])

    def __repr__(self) -> str:
        return f"ThreeCrop(size={self.size})"


class TenCrop:
    """torchvision's ten crops (four corners and centre, then the same of the mirrored clip)
    -> ``(10, ..., T, C, h, w)``. With ``flow=True`` the mirrored views negate the flow's x."""

    def __init__(self, size: int | Sequence[int], *, flow: bool = False) -> None:
        self.size = _pair(size, "TenCrop")
        self.flow = flow

    def __call__(self, clip: torch.Tensor) -> torch.Tensor:
        _check_clip(clip, "TenCrop")
        _check_fits(clip, *self.size, "TenCrop")
        views = torch.stack(F.ten_crop(clip, list(self.size)))
        if self.flow:
            _negate_flow_x(views[5:])
        return views

    def __repr__(self) -> str:
        return f"TenCrop(size={self.size}, flow={self.flow})"


class MultiScaleCrop:
    """TSN's multi-scale corner cropping (Wang et al., "Temporal Segment Networks", ECCV 2016).

    The crop side is drawn from ``int(short_side * s)`` for ``s`` in ``scales`` (height and width
    apart, at most ``max_distort`` scale steps from each other; a side within 2 pixels of the output
    size snaps to it), placed at one of 13 fixed positions (corners, centre, edge middles and
    quarter points on a ``(H - h) // 4`` grid, TSN's ``more_fix_crop``), then resized to ``size``
    (``flow=True`` rescales flow displacements with it).
    """

    def __init__(
        self,
        size: int | Sequence[int],
        scales: Sequence[float] = (1.0, 0.875, 0.75, 0.66),
        max_distort: int = 1,
        *,
        antialias: bool = True,
        flow: bool = False,
        generator: GeneratorLike = None,
    ) -> None:
        self.size = _pair(size, "MultiScaleCrop")
        self.flow = flow
        if not scales or any(not 0 < s <= 1 for s in scales):
            raise ValueError(f"MultiScaleCrop: scales must lie in (0, 1], got {scales!r}")
        self.scales = tuple(float(s) for s in scales)
        self.max_distort = int(max_distort)
        self.antialias = antialias
        self.generator = _as_generator(generator)

    def crop_candidates(self, frame_h: int, frame_w: int) -> list[tuple[int, int]]:
        """The ``(crop_h, crop_w)`` pairs TSN chooses from for a ``frame_h x frame_w`` frame."""
        base = min(frame_h, frame_w)
        sides = [int(base * s) for s in self.scales]
        out_h, out_w = self.size
        crop_hs = [out_h if abs(s - out_h) < 3 else s for s in sides]
        crop_ws = [out_w if abs(s - out_w) < 3 else s for s in sides]
        return [
            (h, w)
            for i, h in enumerate(crop_hs)
            for j, w in enumerate(crop_ws)
            if abs(i - j) <= self.max_distort and h <= frame_h and w <= frame_w
        ]

    @staticmethod
    def fixed_offsets(frame_h: int, frame_w: int, crop_h: int, crop_w: int) -> list[tuple[int, int]]:
        """TSN's 13 ``(top, left)`` positions (``fill_fix_offset`` with ``more_fix_crop``)."""
        h_step, w_step = (frame_h - crop_h) // 4, (frame_w - crop_w) // 4
        grid = [(0, 0), (0, 4), (4, 0), (4, 4), (2, 2), (2, 0), (2, 4), (4, 2), (0, 2)]
        grid += [(1, 1), (1, 3), (3, 1), (3, 3)]
        return [(i * h_step, j * w_step) for i, j in grid]

    def __call__(self, clip: torch.Tensor, *, generator: GeneratorLike = None) -> torch.Tensor:
        _check_clip(clip, "MultiScaleCrop")
        gen = _as_generator(generator) or self.generator
        frame_h, frame_w = clip.shape[-2:]
        candidates = self.crop_candidates(frame_h, frame_w)
        if not candidates:
            raise ValueError(f"MultiScaleCrop: no crop size fits frames {frame_h}x{frame_w}")
        crop_h, crop_w = candidates[_randint(len(candidates) - 1, gen)]
        offsets = self.fixed_offsets(frame_h, frame_w, crop_h, crop_w)
        top, left = offsets[_randint(len(offsets) - 1, gen)]
        crop = F.crop(clip, top, left, crop_h, crop_w)
        if (crop_h, crop_w) == self.size:
            return crop
        return _resize(crop, list(self.size), InterpolationMode.BILINEAR, self.antialias, self.flow)

    def __repr__(self) -> str:
        return f"MultiScaleCrop(size={self.size}, scales={self.scales}, max_distort={self.max_distort})"


class RandomHorizontalFlip:
    """Mirror the whole clip left-right with probability ``p``.

    With ``flow=True`` the clip is optical flow ``(T, 2, H, W)`` in pixels (x then y): mirroring also
    negates x, since motion to the right becomes motion to the left.
    """

    def __init__(self, p: float = 0.5, flow: bool = False, *, generator: GeneratorLike = None) -> None:
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"RandomHorizontalFlip: p must lie in [0, 1], got {p!r}")
        self.p = float(p)
        self.flow = flow
        self.generator = _as_generator(generator)

    def __call__(self, clip: torch.Tensor, *, generator: GeneratorLike = None) -> torch.Tensor:
        _check_clip(clip, "RandomHorizontalFlip")
        gen = _as_generator(generator) or self.generator
        if torch.rand(1, generator=gen).item() >= self.p:
            return clip
        flipped = F.horizontal_flip(clip)  # a new tensor, safe to modify in place
        return _negate_flow_x(flipped) if self.flow else flipped

    def __repr__(self) -> str:
        return f"RandomHorizontalFlip(p={self.p}, flow={self.flow})"


class Normalize:
    """Scale to ``value_range``, reorder channels, then ``(x - mean) / std`` per channel.

    ``value_range``: ``(0, 255)`` keeps raw pixel values, ``(0, 1)`` divides by 255, ``(-1, 1)``
    maps ``x / 127.5 - 1``. ``channel_order="BGR"`` reverses the channel axis first (for Caffe-trained
    weights such as C3D); ``mean`` and ``std`` are then given in BGR order. Input ``(..., C, H, W)``
    of raw values (uint8 or float); output float32, or the input's float dtype. The three steps are
    folded into one multiply-add per element.
    """

    def __init__(
        self,
        mean: Sequence[float],
        std: Sequence[float],
        *,
        channel_order: str = "RGB",
        value_range: Sequence[float] = (0.0, 1.0),
    ) -> None:
        if len(mean) != len(std):
            raise ValueError(f"Normalize: mean {tuple(mean)} and std {tuple(std)} differ in length")
        if any(s == 0 for s in std):
            raise ValueError(f"Normalize: std must be non-zero, got {tuple(std)}")
        if channel_order not in ("RGB", "BGR"):
            raise ValueError(f"Normalize: channel_order must be 'RGB' or 'BGR', got {channel_order!r}")
        value_range = tuple(float(v) for v in value_range)
        if value_range not in VALUE_RANGES:
            raise ValueError(f"Normalize: value_range must be one of {VALUE_RANGES}, got {value_range}")
        self.mean = tuple(float(m) for m in mean)
        self.std = tuple(float(s) for s in std)
        self.channel_order = channel_order
        self.value_range = value_range
        low, high = value_range
        # raw x -> low + x * (high - low) / 255, then (. - mean) / std == x * scale + shift
        unit = (high - low) / 255.0
        self._scale = [unit / s for s in self.std]
        self._shift = [(low - m) / s for m, s in zip(self.mean, self.std)]

    def __call__(self, clip: torch.Tensor) -> torch.Tensor:
        if not isinstance(clip, torch.Tensor) or clip.ndim < 3:
            raise ValueError(f"Normalize: expected (..., C, H, W), got {getattr(clip, 'shape', clip)!r}")
        channels = clip.shape[-3]
        if channels != len(self.mean):
            raise ValueError(
                f"Normalize: clip has {channels} channels but mean/std have {len(self.mean)} values"
            )
        if self.channel_order == "BGR":
            if channels != 3:
                raise ValueError(f"Normalize: channel_order='BGR' needs 3 channels, got {channels}")
            clip = clip.flip(-3)
        dtype = clip.dtype if clip.is_floating_point() else torch.float32
        scale = torch.tensor(self._scale, dtype=dtype, device=clip.device).view(-1, 1, 1)
        shift = torch.tensor(self._shift, dtype=dtype, device=clip.device).view(-1, 1, 1)
        return torch.addcmul(shift, clip.to(dtype), scale)

    def __repr__(self) -> str:
        return (
            f"Normalize(mean={self.mean}, std={self.std}, channel_order={self.channel_order!r}, "
            f"value_range={self.value_range})"
        )


class Compose:
    """Apply transforms in order."""

    def __init__(self, transforms: Sequence[Callable[[torch.Tensor], torch.Tensor]]) -> None:
        self.transforms = list(transforms)

    def __call__(self, clip: torch.Tensor) -> torch.Tensor:
        for transform in self.transforms:
            clip = transform(clip)
        return clip

    def __repr__(self) -> str:
        inner = "".join(f"\n    {t!r}," for t in self.transforms)
        return f"Compose([{inner}\n])"
