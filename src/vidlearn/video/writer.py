"""Writing frames to video files (PyAV / FFmpeg encoders), atomically.

``.mp4``, ``.mkv``, ``.mov`` and ``.avi`` get H.264 (libx264) where the encoder exists and MPEG-4
Part 2 otherwise; ``.webm`` gets VP9; ``.gif`` gets GIF with one adaptive 256-colour palette per
frame (Pillow's median cut, no dithering). A file is written under a temporary name in the same
folder and renamed into place only once complete, so an interrupted job never leaves a
half-written video behind under the final name.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from fractions import Fraction
from pathlib import Path
from types import TracebackType

import av
import numpy as np
import torch

__all__ = ["VideoWriter", "default_codec", "write_video"]

# x264's constant rate factor 18 is near visually lossless; MPEG-4 Part 2 has no CRF, a fixed
# quantiser of 3 gives comparable quality (1 is best, 31 worst).
DEFAULT_X264_CRF = 18
DEFAULT_MPEG4_QSCALE = 3
_FF_QP2LAMBDA = 118  # FFmpeg's factor from a quantiser to its "lambda" quality scale

_CODEC_ALIASES = {"h264": "libx264", "x264": "libx264", "mpeg4": "mpeg4", "vp9": "libvpx-vp9", "gif": "gif"}
_FORMAT_OF_SUFFIX = {
    ".mp4": "mp4",
    ".mov": "mov",
    ".mkv": "matroska",
    ".avi": "avi",
    ".webm": "webm",
    ".gif": "gif",
}


def default_codec(suffix: str) -> str:
    """The encoder :func:`write_video` uses for a file suffix such as ``".mp4"``."""
    suffix = suffix.lower()
    if suffix not in _FORMAT_OF_SUFFIX:
        known = ", ".join(sorted(_FORMAT_OF_SUFFIX))
        raise ValueError(f"cannot write video files with suffix {suffix!r}; use one of {known}")
    if suffix == ".gif":
        return "gif"
    if suffix == ".webm":
        return "libvpx-vp9"
    return "libx264" if "libx264" in av.codecs_available else "mpeg4"


def _as_frame_array(frame: torch.Tensor | np.ndarray) -> np.ndarray:
    array = frame.detach().cpu().numpy() if isinstance(frame, torch.Tensor) else np.asarray(frame)
    if array.dtype != np.uint8 or array.ndim != 3 or array.shape[2] != 3:
        raise ValueError(f"a frame must be uint8 (H, W, 3) RGB, got {array.dtype} {tuple(array.shape)}")
    return np.ascontiguousarray(array)


class VideoWriter:
    """Streaming writer: ``write(frame)`` one ``uint8 (H, W, 3)`` RGB frame at a time.

    The size is taken from the first frame. Use as a context manager: on normal exit the file is
    finished and renamed into place; on an exception the temporary file is removed.

    ``gop`` is the keyframe interval (scene-cut keyframes are turned off so the interval is exact),
    ``bframes`` the number of consecutive B-frames, ``crf`` the quality (x264 CRF 0-51; for MPEG-4
    Part 2 the fixed quantiser 1-31; lower is better). ``None`` keeps the encoder's default.

    ``deterministic=True`` makes the same frames give the same bytes in any process: x264's
    macroblock tree (its lookahead's rate control) otherwise lets memory it did not initialise change a
    few bits of about one file in 30 to 70, depending on what the process allocated before. It turns the
    macroblock tree off (slightly larger files at the same CRF); the other encoders are deterministic.
    """

    def __init__(
        self,
        path: str | Path,
        fps: float,
        *,
        codec: str | None = None,
        gop: int | None = None,
        bframes: int | None = None,
        crf: int | None = None,
        deterministic: bool = False,
    ) -> None:
        self.path = Path(path)
        suffix = self.path.suffix.lower()
        self._format = _FORMAT_OF_SUFFIX.get(suffix)
        if self._format is None:
            default_codec(suffix)  # raises the error naming the suffix
        if not fps or fps <= 0:
            raise ValueError(f"fps must be positive, got {fps}")
        self.codec = _CODEC_ALIASES.get(codec, codec) if codec else default_codec(suffix)
        if self.codec not in av.codecs_available:
            raise ValueError(f"{self.path}: encoder {self.codec!r} is not available in this FFmpeg build")
        for name, value in (("gop", gop), ("bframes", bframes), ("crf", crf)):
            if value is not None and (
                not isinstance(value, int) or value < 0 or (name == "gop" and value < 1)
            ):
                raise ValueError(f"{name} must be a non-negative int (gop >= 1), got {value!r}")
        self.fps = fps
        # Frame rates such as 29.97 are stored as the exact NTSC fraction 30000/1001.
        self.rate = Fraction(fps).limit_denominator(1001)
        self._gop, self._bframes, self._crf = gop, bframes, crf
        self._deterministic = deterministic
        self._temporary = self.path.with_name(f".{self.path.stem}.tmp-{uuid.uuid4().hex[:12]}{suffix}")
        self._container: av.container.OutputContainer | None = None
        self._stream: av.VideoStream | None = None
        self._count = 0

    # ---------------------------------------------------------------- opening

    def _open(self, height: int, width: int) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        options = {"movflags": "+faststart"} if self._format in ("mp4", "mov") else {}
        self._container = av.open(str(self._temporary), mode="w", format=self._format, options=options)
        stream = self._container.add_stream(self.codec, rate=self.rate)
        stream.width, stream.height = width, height
        codec_options: dict[str, str] = {}
        if self.codec == "gif":
            stream.pix_fmt = "pal8"
        elif self.codec == "libx264":
            # 4:2:0 needs even sizes; odd sizes keep full chroma (High 4:4:4 profile) instead.
            stream.pix_fmt = "yuv420p" if height % 2 == 0 and width % 2 == 0 else "yuv444p"
            codec_options["crf"] = str(DEFAULT_X264_CRF if self._crf is None else self._crf)
            x264_params = (["scenecut=0"] if self._gop is not None else []) + (["mbtree=0"] if self._deterministic else [])
            if x264_params:
                codec_options["x264-params"] = ":".join(x264_params)
        else:
            if height % 2 or width % 2:
                raise ValueError(f"{self.path}: {self.codec} needs an even frame size, got {width}x{height}")
            stream.pix_fmt = "yuv420p"
            if self.codec == "mpeg4":
                # A fixed quantiser: FFmpeg applies global_quality only through each frame's
                # quality field, which PyAV leaves unset, so the quantiser is also pinned by
                # qmin = qmax (without it every quantiser gives the same file).
                quantiser = DEFAULT_MPEG4_QSCALE if self._crf is None else max(1, min(31, self._crf))
                stream.codec_context.qscale = True
                stream.codec_context.global_quality = quantiser * _FF_QP2LAMBDA
                stream.codec_context.qmin = stream.codec_context.qmax = quantiser
                if self._gop is not None:
                    codec_options["sc_threshold"] = "1000000000"  # no scene-cut keyframes
            elif self._crf is not None:
                codec_options["crf"] = str(self._crf)
                stream.codec_context.bit_rate = 0
        if self._gop is not None:
            stream.codec_context.gop_size = self._gop
        if self._bframes is not None and self.codec != "gif":
            stream.codec_context.max_b_frames = self._bframes
            if self.codec == "libx264":
                codec_options["bf"] = str(self._bframes)
        stream.codec_context.options = codec_options
        self._stream = stream

    # ---------------------------------------------------------------- writing

    def write(self, frame: torch.Tensor | np.ndarray) -> None:
        """Append one ``uint8 (H, W, 3)`` RGB frame."""
        array = _as_frame_array(frame)
        if self.codec == "gif":
            video_frame = _palette_frame(array)
        else:
            video_frame = av.VideoFrame.from_ndarray(array, format="rgb24")
        self.write_av_frame(video_frame)

    def write_av_frame(self, video_frame: av.VideoFrame) -> None:
        """Append a decoded PyAV frame as is (any pixel format; the encoder converts it).

        Re-encoding uses this to go from decoder to encoder without an RGB round trip.
        """
        if self._stream is None:
            self._open(video_frame.height, video_frame.width)
        assert self._stream is not None and self._container is not None
        if (video_frame.height, video_frame.width) != (self._stream.height, self._stream.width):
            raise ValueError(
                f"{self.path}: frame {self._count} is {video_frame.width}x{video_frame.height}, "
                f"the video is {self._stream.width}x{self._stream.height}"
            )
        video_frame.pts = self._count
        video_frame.time_base = Fraction(1) / self.rate
        self._container.mux(self._stream.encode(video_frame))
        self._count += 1

    def close(self) -> Path:
        """Flush the encoder, finish the file and move it into place; returns the final path."""
        if self._container is None:
            raise ValueError(f"{self.path}: no frames were written")
        try:
            assert self._stream is not None
            self._container.mux(self._stream.encode(None))
            self._container.close()
            self._container = None
            os.replace(self._temporary, self.path)
        finally:
            self.abort()
        return self.path

    def abort(self) -> None:
        """Drop the partial file (after an error); the final path is left untouched."""
        if self._container is not None:
            with contextlib.suppress(av.FFmpegError):  # already failing: keep the first error
                self._container.close()
            self._container = None
        self._temporary.unlink(missing_ok=True)

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if kind is None:
            self.close()
        else:
            self.abort()

    @property
    def frames_written(self) -> int:
        return self._count


def _palette_frame(array: np.ndarray) -> av.VideoFrame:
    """An RGB frame as a ``pal8`` frame with its own 256-colour palette (for GIF)."""
    from PIL import Image  # Pillow comes with matplotlib; imported here as only GIF needs it

    quantised = Image.fromarray(array).quantize(
        colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE
    )
    palette_rgb = np.zeros((256, 3), dtype=np.uint8)
    used = np.frombuffer(bytes(quantised.getpalette() or []), dtype=np.uint8).reshape(-1, 3)[:256]
    palette_rgb[: len(used)] = used
    palette_argb = np.concatenate([np.full((256, 1), 255, np.uint8), palette_rgb], axis=1)
    return av.VideoFrame.from_ndarray((np.asarray(quantised), palette_argb), format="pal8")


def write_video(
    path: str | Path,
    frames: torch.Tensor | np.ndarray,
    fps: float,
    *,
    codec: str | None = None,
    gop: int | None = None,
    bframes: int | None = None,
    crf: int | None = None,
    deterministic: bool = False,
) -> Path:
    """Write ``frames``, ``uint8 (T, H, W, 3)`` RGB, to ``path`` at ``fps`` and return the path.

    The container follows the suffix (see the module docstring); ``codec`` overrides the encoder
    (``"libx264"``/``"h264"``, ``"mpeg4"``, ``"libvpx-vp9"``, ``"gif"``). ``gop``, ``bframes`` and
    ``crf`` and ``deterministic`` are as in :class:`VideoWriter`. The write is atomic (temporary file, then rename).
    """
    array = frames.detach().cpu().numpy() if isinstance(frames, torch.Tensor) else np.asarray(frames)
    if array.dtype != np.uint8 or array.ndim != 4 or array.shape[3] != 3:
        raise ValueError(f"frames must be uint8 (T, H, W, 3) RGB, got {array.dtype} {tuple(array.shape)}")
    if array.shape[0] == 0:
        raise ValueError(f"{path}: no frames to write")
    with VideoWriter(path, fps, codec=codec, gop=gop, bframes=bframes, crf=crf, deterministic=deterministic) as writer:
        for frame in array:
            writer.write(frame)
    return Path(path)
