"""torchcodec backend (Meta's FFmpeg-based decoder for PyTorch), used when it decodes here.

torchcodec links the system's FFmpeg libraries (on Debian 12: ``libavcodec59`` and friends) and
must match the installed torch release. ``seek_mode="exact"`` scans the file once on open, so frame
numbers are exact. The metadata (``num_frames`` included) comes from the PyAV packet index, which
is read anyway, so every backend agrees on it. Files whose pts do not identify frames (MPEG-4
Part 2 packed B-frames in AVI) are refused: ``backend="auto"`` reads them with PyAV. A requested
size is applied by torchcodec's decoder-native ``Resize`` transform (bilinear with anti-aliasing,
inside FFmpeg), with one decoder per size. Decoders are opened on first use, so a reader that only
asks for one size opens (and scans) the file once.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from vidlearn.video.backends.base import (
    Deadline,
    DecoderBackend,
    check_readable_file,
    describe_import_failure,
    missing_shared_libraries,
    probe_decoding,
    summarize_error,
)
from vidlearn.video.backends.pyav import FrameTable
from vidlearn.video.errors import VideoDecodeError

__all__ = ["TorchCodecBackend", "probe"]

_CHUNK = 16  # frames per call while iterating: bounded memory, few calls


def _describe_load_failure(error: BaseException) -> str:
    """torchcodec's message on missing FFmpeg libraries lists a traceback per FFmpeg release it
    tried; name the libraries the loader did not find instead."""
    missing = missing_shared_libraries(error)
    if missing:
        return (
            f"FFmpeg's shared libraries are not found ({', '.join(missing)}); on Debian 12: "
            "apt-get install libavutil57 libavcodec59 libavformat59 libavdevice59 libavfilter8 "
            "libswscale6 libswresample4"
        )
    return summarize_error(error)


def probe() -> str:
    """``""`` when torchcodec imports and decodes a tiny clip here, else why not.

    Importing torchcodec succeeds without FFmpeg's shared libraries; only decoding tells.
    """
    try:
        from torchcodec.decoders import VideoDecoder
    except Exception as error:  # a missing package or a torch mismatch
        return describe_import_failure("torchcodec", error, "pip install torchcodec")

    def decode(path: Path) -> np.ndarray:
        decoder = VideoDecoder(str(path), dimension_order="NHWC", seek_mode="exact")
        return decoder.get_frames_at([0, 3]).data.numpy()

    return probe_decoding("torchcodec", decode, _describe_load_failure)


class TorchCodecBackend(DecoderBackend):
    """Frames through ``torchcodec.decoders.VideoDecoder`` (exact seek mode, NHWC uint8)."""

    name = "torchcodec"

    def __init__(self, path: Path, timeout: float, *, known: FrameTable | None = None) -> None:
        from torchcodec.decoders import VideoDecoder

        from vidlearn.video.backends.pyav import PyAVBackend

        check_readable_file(path)
        self.path = path
        # torchcodec numbers frames by pts; where pts do not identify frames (MPEG-4 packed
        # B-frames in AVI) it silently returns the neighbouring frame, so refuse such files.
        index = PyAVBackend(path, timeout, known=known)
        index.close()
        if index.numbers_frames_by_counting:
            raise VideoDecodeError(
                path, "torchcodec cannot number the frames of this file (its pts do not identify frames)"
            )
        self._decoder_class = VideoDecoder
        self._decoders: dict[tuple[int, int] | None, object] = {}
        self.num_frames, self.height, self.width = index.num_frames, index.height, index.width
        self.fps, self.duration, self.codec = index.fps, index.duration, index.codec

    def _open(self, size: tuple[int, int] | None):
        transforms = None
        if size is not None:
            from torchcodec.transforms import Resize

            transforms = [Resize(size=list(size))]
        # num_ffmpeg_threads=0: FFmpeg picks the thread count, as the PyAV backend does.
        return self._decoder_class(
            str(self.path),
            dimension_order="NHWC",
            seek_mode="exact",
            num_ffmpeg_threads=0,
            transforms=transforms,
        )

    def _decoder(self, size: tuple[int, int] | None):
        decoder = self._decoders.get(size)
        if decoder is None:
            try:
                decoder = self._open(size)
            except Exception as error:  # torchcodec's own exception types
                raise VideoDecodeError(self.path, f"torchcodec cannot open it ({error})") from error
            counted = int(decoder.metadata.num_frames or 0)
            if counted < self.num_frames:
                raise VideoDecodeError(
                    self.path, f"torchcodec finds {counted} of the {self.num_frames} frames"
                )
            self._decoders[size] = decoder
        return decoder

    def get_frames(
        self, indices: Sequence[int], size: tuple[int, int] | None, deadline: Deadline
    ) -> np.ndarray:
        frames = self._decoder(size).get_frames_at(list(indices)).data
        deadline.check()
        return frames.numpy()

    def iter_frames(self, deadline: Deadline) -> Iterator[np.ndarray]:
        decoder = self._decoder(None)
        for start in range(0, self.num_frames, _CHUNK):
            batch = decoder.get_frames_in_range(start, min(start + _CHUNK, self.num_frames)).data.numpy()
            deadline.check()
            yield from batch
            deadline.restart()

    def close(self) -> None:
        self._decoders.clear()
