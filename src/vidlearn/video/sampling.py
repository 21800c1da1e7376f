"""Frame-index samplers: which frames of a video make up the clips a model sees.

A sampler maps a video's frame count to an ``int64`` array of frame indices of shape
``(num_views, clip_len)``: one row per clip (view), in temporal order. The indices go straight to
``VideoReader.get_frames``. Sampling only decides indices; it never touches pixels.

The test-mode formulas follow MMAction2's ``SampleFrames`` / ``DenseSampleFrames`` so that accuracies
measured with vidlearn are comparable with published MMAction2 numbers; the TSN segment formulas follow
Wang et al., "Temporal Segment Networks", ECCV 2016 (and its reference code). Each class documents
its formula. Let ``span = (clip_len - 1) * stride + 1`` be the frames one clip covers and
``max_offset = max(num_frames - span, 0)`` the last start frame that keeps a clip inside the video.

A video shorter than ``span`` is an error by default (:class:`ClipTooShortError`); ``pad="loop"``
wraps indices around the end of the video (MMAction2's default ``out_of_bound_opt="loop"``) and
``pad="repeat_last"`` repeats the clip's last in-range frame (MMAction2's ``"repeat_last"``).
"""

from __future__ import annotations

import difflib
from typing import Any

import numpy as np

__all__ = [
    "CenterClipSampler",
    "ClipSampler",
    "ClipTooShortError",
    "DenseSampler",
    "RandomClipSampler",
    "SegmentSampler",
    "UniformClipSampler",
    "make_sampler",
]

PAD_MODES = ("error", "loop", "repeat_last")
RngLike = np.random.Generator | int | None


class ClipTooShortError(ValueError):
    """The video has fewer frames than one clip needs (and padding was not asked for)."""

    def __init__(self, num_frames: int, required: int, detail: str = "") -> None:
        self.num_frames = num_frames
        self.required = required
        message = f"video has num_frames={num_frames} but the clip requires {required} frames"
        if detail:
            message += f" ({detail})"
        if num_frames > 0:
            message += ("; pass pad='loop' or pad='repeat_last' to sample it anyway "
                        "(in a recognition recipe: data.pad=loop or data.pad=repeat_last)")
        super().__init__(message)


def _check_positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _pad_indices(indices: np.ndarray, num_frames: int, pad: str) -> np.ndarray:
    """Bring out-of-range indices ``(V, L)`` back into ``[0, num_frames)`` as MMAction2 does."""
    if pad == "loop":
        return np.mod(indices, num_frames)
    # "repeat_last": every index past the end becomes the clip's last in-range index.
    in_range = indices < num_frames
    last_in_range = np.max(np.where(in_range, indices, 0), axis=1, keepdims=True)
    return np.where(in_range, indices, last_in_range)


class ClipSampler:
    """Base class: turns a frame count into clip indices ``int64 (num_views, clip_len)``.

    Subclasses implement :meth:`_offsets` (the first frame of each view). ``target_fps`` resamples
    time: the index stride becomes ``max(1, round(fps / target_fps * frame_interval))``, so a 60 fps
    and a 30 fps video give clips covering the same seconds; it needs ``fps`` in the call.
    """

    def __init__(
        self,
        clip_len: int,
        frame_interval: int = 1,
        num_clips: int = 1,
        *,
        target_fps: float | None = None,
        pad: str = "error",
    ) -> None:
        self.clip_len = _check_positive_int("clip_len", clip_len)
        self.frame_interval = _check_positive_int("frame_interval", frame_interval)
        self.num_clips = _check_positive_int("num_clips", num_clips)
        if target_fps is not None and not target_fps > 0:
            raise ValueError(f"target_fps must be positive, got {target_fps!r}")
        self.target_fps = target_fps
        if pad not in PAD_MODES:
            raise ValueError(f"pad must be one of {PAD_MODES}, got {pad!r}")
        self.pad = pad

    @property
    def required_frames(self) -> int:
        """Frames one clip covers at the nominal frame rate: ``(clip_len - 1) * frame_interval + 1``."""
        return (self.clip_len - 1) * self.frame_interval + 1

    def stride(self, fps: float | None = None) -> int:
        """Index step between consecutive frames of a clip for a video at ``fps``."""
        if self.target_fps is None:
            return self.frame_interval
        if fps is None:
            raise ValueError(
                f"{type(self).__name__} has target_fps={self.target_fps} and needs the video's fps "
                "in the call: sampler(num_frames, fps=...)"
            )
        if not fps > 0:
            raise ValueError(f"fps must be positive, got {fps!r}")
        return max(1, round(fps / self.target_fps * self.frame_interval))

    def span(self, fps: float | None = None) -> int:
        """Frames one clip covers for a video at ``fps``: ``(clip_len - 1) * stride + 1``."""
        return (self.clip_len - 1) * self.stride(fps) + 1

    def _required_for(self, stride: int) -> int:
        return (self.clip_len - 1) * stride + 1

    def __call__(
        self,
        num_frames: int,
        *,
        fps: float | None = None,
        rng: RngLike = None,
    ) -> np.ndarray:
        """Frame indices ``int64 (num_views, clip_len)`` for a video of ``num_frames`` frames.

        ``rng`` (a ``numpy.random.Generator`` or an int seed) makes random samplers reproducible;
        without it a fresh, OS-seeded generator is used.
        """
        if isinstance(num_frames, bool) or not isinstance(num_frames, (int, np.integer)):
            raise TypeError(f"num_frames must be an int, got {num_frames!r}")
        num_frames = int(num_frames)
        stride = self.stride(fps)
        required = self._required_for(stride)
        if num_frames < 1 or (num_frames < required and self.pad == "error"):
            raise ClipTooShortError(
                num_frames,
                required,
                f"{type(self).__name__}: clip_len={self.clip_len}, stride={stride}",
            )
        generator = np.random.default_rng(rng)
        offsets = np.asarray(self._offsets(num_frames, stride, generator), dtype=np.int64)
        indices = offsets[:, None] + np.arange(self.clip_len, dtype=np.int64)[None, :] * stride
        if indices.max() >= num_frames:
            if self.pad == "error":  # the offsets formulas keep clips inside long-enough videos
                raise AssertionError(f"{self!r} produced index {indices.max()} >= {num_frames}")
            indices = _pad_indices(indices, num_frames, self.pad)
        return indices

    def _offsets(self, num_frames: int, stride: int, rng: np.random.Generator) -> np.ndarray:
        raise NotImplementedError

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(clip_len={self.clip_len}, frame_interval={self.frame_interval}, "
            f"num_clips={self.num_clips}, target_fps={self.target_fps}, pad={self.pad!r})"
        )


class RandomClipSampler(ClipSampler):
    """Training: one clip whose start is drawn uniformly from ``[0, max_offset]`` (both ends included).

    MMAction2's train mode with ``num_clips=1`` draws from ``[0, num_frames - clip_len *
    frame_interval]``, which leaves out the last ``frame_interval - 1`` valid starts; here every
    start that keeps the clip inside the video is equally likely.
    """

    def __init__(
        self,
        clip_len: int,
        frame_interval: int = 1,
        *,
        target_fps: float | None = None,
        pad: str = "error",
    ) -> None:
        super().__init__(clip_len, frame_interval, 1, target_fps=target_fps, pad=pad)

    def _offsets(self, num_frames: int, stride: int, rng: np.random.Generator) -> np.ndarray:
        max_offset = max(num_frames - self._required_for(stride), 0)
        return rng.integers(0, max_offset + 1, size=1)


class CenterClipSampler(ClipSampler):
    """Validation: one clip in the middle, ``offset = max_offset // 2`` (MMAction2 test mode, 1 clip)."""

    def __init__(
        self,
        clip_len: int,
        frame_interval: int = 1,
        *,
        target_fps: float | None = None,
        pad: str = "error",
    ) -> None:
        super().__init__(clip_len, frame_interval, 1, target_fps=target_fps, pad=pad)

    def _offsets(self, num_frames: int, stride: int, rng: np.random.Generator) -> np.ndarray:
        max_offset = max(num_frames - self._required_for(stride), 0)
        return np.array([max_offset // 2])


class UniformClipSampler(ClipSampler):
    """Multi-view testing: ``num_clips`` clips spread evenly from the first to the last valid start.

    MMAction2 ``SampleFrames(test_mode=True)`` for 3D models: with ``n = num_clips > 1``,
    ``offset_i = round(i * max_offset / (n - 1))`` (NumPy rounding, half to even), so the first clip
    starts at frame 0 and the last ends at the last frame; with ``n = 1`` it is the centre clip,
    ``max_offset // 2``.
    """

    def __init__(
        self,
        clip_len: int,
        num_clips: int,
        frame_interval: int = 1,
        *,
        target_fps: float | None = None,
        pad: str = "error",
    ) -> None:
        super().__init__(clip_len, frame_interval, num_clips, target_fps=target_fps, pad=pad)

    def _offsets(self, num_frames: int, stride: int, rng: np.random.Generator) -> np.ndarray:
        max_offset = max(num_frames - self._required_for(stride), 0)
        if self.num_clips == 1:
            return np.array([max_offset // 2])
        return np.round(np.arange(self.num_clips) * (max_offset / (self.num_clips - 1)))


class DenseSampler(ClipSampler):
    """Dense sampling (MMAction2 ``DenseSampleFrames``, used by non-local I3D and SlowFast recipes).

    The ``num_clips`` clips of a view sit ``sample_range // num_clips`` frames apart, starting at
    ``start``; ``sample_position = max(1, num_frames - sample_range + 1)``. In test mode (``train=False``)
    there are ``num_sample_positions`` views with ``start = linspace(0, sample_position - 1,
    num_sample_positions)`` cast to int (MMAction2's formula), so the output has
    ``num_sample_positions * num_clips`` rows. In train mode one ``start`` is drawn uniformly from
    ``[0, sample_position - 1]`` (MMAction2 draws from ``[0, sample_position - 2]``, an off-by-one).
    Starts are taken modulo ``num_frames`` as in MMAction2. When one view spans more than
    ``sample_range`` frames, ``sample_position`` uses that span instead so that clips stay inside the
    video (MMAction2 would wrap them around).

    ``required_frames`` is what the clips of one view span, ``(num_clips - 1) * (sample_range //
    num_clips) + (clip_len - 1) * frame_interval + 1``; shorter videos need ``pad``.
    """

    def __init__(
        self,
        clip_len: int,
        frame_interval: int = 1,
        num_clips: int = 1,
        *,
        sample_range: int = 64,
        num_sample_positions: int = 10,
        train: bool = False,
        pad: str = "error",
    ) -> None:
        super().__init__(clip_len, frame_interval, num_clips, pad=pad)
        self.sample_range = _check_positive_int("sample_range", sample_range)
        self.num_sample_positions = _check_positive_int("num_sample_positions", num_sample_positions)
        self.train = bool(train)

    @property
    def required_frames(self) -> int:
        return self._required_for(self.frame_interval)

    def _required_for(self, stride: int) -> int:
        clip_gap = self.sample_range // self.num_clips
        return (self.num_clips - 1) * clip_gap + (self.clip_len - 1) * stride + 1

    def _offsets(self, num_frames: int, stride: int, rng: np.random.Generator) -> np.ndarray:
        # max(...) keeps every clip of a view inside the video when the view spans more than
        # sample_range; otherwise it is MMAction2's sample_position exactly.
        view_span = max(self.sample_range, self._required_for(stride))
        sample_position = max(1, 1 + num_frames - view_span)
        base_offsets = np.arange(self.num_clips) * (self.sample_range // self.num_clips)
        if self.train:
            starts = rng.integers(0, sample_position, size=1)
        else:
            starts = np.linspace(0, sample_position - 1, num=self.num_sample_positions, dtype=int)
        return ((starts[:, None] + base_offsets[None, :]) % num_frames).reshape(-1)


class SegmentSampler(ClipSampler):
    """TSN segment sampling: the video is cut into ``num_segments`` equal parts, one snippet in each.

    With ``avail = num_frames - span + 1`` candidate starts and ``tick = avail / num_segments``:

    - test (``train=False``): ``offset_i = int(tick / 2 + tick * i)``, the centre of each segment
      (TSN ``_get_test_indices``; equal to MMAction2 ``SampleFrames(clip_len=1, test_mode=True)``);
    - train: with ``d = avail // num_segments > 0``, ``offset_i = d * i + randint(d)``; when the video
      has fewer candidate starts than segments, sorted uniform draws from ``[0, avail - 1]``
      (TSN ``_sample_indices``).

    ``clip_len`` is TSN's ``new_length`` (1 for RGB, 5 stacked frames for flow); the output is
    ``(num_segments, clip_len)``.
    """

    def __init__(
        self,
        num_segments: int,
        clip_len: int = 1,
        *,
        train: bool,
        frame_interval: int = 1,
        pad: str = "error",
    ) -> None:
        super().__init__(clip_len, frame_interval, num_segments, pad=pad)
        self.train = bool(train)

    @property
    def num_segments(self) -> int:
        return self.num_clips

    def _offsets(self, num_frames: int, stride: int, rng: np.random.Generator) -> np.ndarray:
        avail = max(num_frames - self._required_for(stride) + 1, 1)
        n = self.num_clips
        if not self.train:
            tick = avail / n
            return (tick / 2.0 + tick * np.arange(n)).astype(np.int64)
        duration = avail // n
        if duration > 0:
            return np.arange(n) * duration + rng.integers(0, duration, size=n)
        return np.sort(rng.integers(0, avail, size=n))


_SAMPLERS: dict[str, type[ClipSampler]] = {
    "random": RandomClipSampler,
    "center": CenterClipSampler,
    "uniform": UniformClipSampler,
    "dense": DenseSampler,
    "segment": SegmentSampler,
}


def make_sampler(name: str, **kwargs: Any) -> ClipSampler:
    """Build a sampler by name: ``random``, ``center``, ``uniform``, ``dense`` or ``segment``.

    ``kwargs`` go to the class (e.g. ``make_sampler("uniform", clip_len=16, num_clips=10)``); the
    class name itself (``"UniformClipSampler"``) is accepted too, which suits YAML configs.
    """
    by_class = {cls.__name__: cls for cls in _SAMPLERS.values()}
    cls = _SAMPLERS.get(name) or by_class.get(name)
    if cls is None:
        known = sorted(_SAMPLERS)
        close = difflib.get_close_matches(name, known + sorted(by_class), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"unknown sampler {name!r}: choose one of {known}{hint}")
    return cls(**kwargs)
