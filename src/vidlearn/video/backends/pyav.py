"""PyAV (FFmpeg) backend: frame-exact random access with keyframe seeking.

How a request for a few frames is served:

1. On open, the packets of the video stream are demuxed (no decoding: cheap) into a table of
   presentation timestamps. Frame ``i`` is the packet with the ``i``-th smallest pts, so the table
   gives exact frame numbers with B-frames and with streams whose first pts is not 0. Packets the
   container marks as discarded (outside an MP4 edit list) are left out: the decoder drops them, so
   ``num_frames`` is what a full decode gives, not the header's count.
2. For each wanted frame the reader seeks to the last keyframe at or before it (by the keyframe
   packet's dts, which is what MP4 and AVI indexes are keyed on), decodes forward and converts only
   the wanted frames to RGB, resizing inside the same swscale call. If the next wanted frame lies
   beyond the next keyframe it seeks again instead of decoding the gap.
3. Packets of unwanted frames are decoded with ``skip_frame="NONREF"``: a frame that no other frame
   references is not needed to decode the rest, so skipping it cannot change any wanted frame.
4. Decoded frames are identified by their pts through the table. If a file's pts are inconsistent
   (MPEG-4 Part 2 with packed B-frames in AVI gives frames out-of-order pts), the backend falls back
   to counting frames from the start of the file, which is what a sequential decode does.

The container and the decoding position are kept between calls: asking for frames after the last
ones returned continues decoding without a new seek.

Step 1 reads every packet of the file. When the timestamps turn out evenly spaced (frame ``i`` at
``start + i * step``), the table it builds fits in a few numbers, :class:`FrameTable`; a caller that
kept one (a dataset's metadata index) passes it back as ``known=`` and the file opens without the
packet pass, with the same table and so the same frames.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from itertools import pairwise
from pathlib import Path

import av
import numpy as np
from av.video.reformatter import VideoReformatter

from vidlearn.video.backends.base import Deadline, DecoderBackend, check_readable_file
from vidlearn.video.errors import VideoDecodeError

__all__ = ["INTERPOLATION", "FrameTable", "PyAVBackend", "convert_options", "open_container"]

# swscale filter used when a size is requested; bilinear in swscale widens its kernel when
# downscaling, so it does not alias like a 2-tap bilinear would.
INTERPOLATION = "BILINEAR"


def convert_options(size: tuple[int, int] | None) -> dict:
    """Arguments of ``VideoReformatter.reformat`` for RGB output at ``size`` (``(h, w)`` or None).

    One scaler thread: frames are small, and parallelism belongs to DataLoader workers.
    """
    if size is None:
        return {"format": "rgb24", "threads": 1}
    return {
        "format": "rgb24",
        "width": size[1],
        "height": size[0],
        "interpolation": INTERPOLATION,
        "threads": 1,
    }


# Frame threads pay off from about VGA size; below it, starting them on every open costs more
# than they save (measured on 320x240 MPEG-4 and 340x256 H.264 random 16-frame clips).
THREADED_DECODING_MIN_PIXELS = 640 * 480


def _in_dataloader_worker() -> bool:
    """True inside a ``torch.utils.data.DataLoader`` worker process."""
    import torch.utils.data

    return torch.utils.data.get_worker_info() is not None


def set_decoder_threads(stream: av.VideoStream) -> None:
    """Choose the decoder's threads for ``stream`` before its first packet.

    - Frames of VGA size and more: frame and slice threads (``AUTO``).
    - Smaller frames in the main process: slice threads, one per core (PyAV's default). Files
      with several slices per frame (what x264 writes when it encodes on slice threads, as
      PyAV and vidlearn's writer do) decode their slices in parallel; files with one slice per
      frame decode as on one thread, at no measurable extra cost.
    - Smaller frames in a DataLoader worker: one thread, since the workers already fill the
      cores and extra threads only add switching.
    """
    context = stream.codec_context
    if context.width * context.height >= THREADED_DECODING_MIN_PIXELS:
        stream.thread_type = "AUTO"
    elif _in_dataloader_worker():
        stream.thread_type = "SLICE"
        context.thread_count = 1
    else:
        stream.thread_type = "SLICE"
        context.thread_count = 0


@dataclass(frozen=True)
class FrameTable:
    """The packet table of a file with evenly spaced frame timestamps, in a few numbers.

    Frame ``i`` (display order) has pts ``pts_start + i * pts_step`` in units of ``time_base``
    (``"1/12800"``); ``keyframes`` are the frame indices a decoder can start from (always beginning
    with 0) and ``keyframe_dts`` the dts of their packets, which is what MP4 and AVI indexes seek on;
    ``min_dts`` is the smallest dts of the stream. ``count_frames`` and ``reordered`` are the
    backend's ``numbers_frames_by_counting`` and ``has_reordered_frames``. Built by
    :attr:`PyAVBackend.frame_table` after a packet pass; JSON-friendly through
    ``dataclasses.asdict`` and :meth:`from_mapping`.
    """

    num_frames: int
    time_base: str
    pts_start: int
    pts_step: int
    keyframes: tuple[int, ...]
    keyframe_dts: tuple[int, ...]
    min_dts: int
    count_frames: bool
    reordered: bool

    @classmethod
    def from_mapping(cls, values: Mapping) -> FrameTable:
        """A table from its ``asdict`` form (lists for the tuples, as JSON gives them back)."""
        return cls(
            num_frames=int(values["num_frames"]),
            time_base=str(values["time_base"]),
            pts_start=int(values["pts_start"]),
            pts_step=int(values["pts_step"]),
            keyframes=tuple(int(index) for index in values["keyframes"]),
            keyframe_dts=tuple(int(dts) for dts in values["keyframe_dts"]),
            min_dts=int(values["min_dts"]),
            count_frames=bool(values["count_frames"]),
            reordered=bool(values["reordered"]),
        )


class _PtsUnreliable(Exception):
    """Decoded frames carry pts that do not match the packet table: switch to counting frames."""


def open_container(path: Path, timeout: float) -> av.container.InputContainer:
    """Open ``path`` for reading, turning every FFmpeg failure into a :class:`VideoDecodeError`."""
    check_readable_file(path)
    try:
        # timeout=(open, read) arms FFmpeg's interrupt callback, so a stalled read cannot hang.
        container = av.open(str(path), mode="r", timeout=(timeout, timeout))
    except av.FFmpegError as error:
        raise VideoDecodeError(path, f"not a readable video ({_describe(error)})") from None
    if not container.streams.video:
        container.close()
        raise VideoDecodeError(path, "no video stream")
    return container


def _describe(error: BaseException) -> str:
    """FFmpeg's own message without the repeated file name."""
    message = getattr(error, "strerror", None) or str(error)
    return str(message).strip()


class PyAVBackend(DecoderBackend):
    """Frame-exact reader on PyAV; see the module docstring for the seeking strategy."""

    name = "pyav"

    def __init__(self, path: Path, timeout: float, *, known: FrameTable | None = None) -> None:
        self.path = path
        self._timeout = timeout
        self._container = open_container(path, timeout)
        self._stream = self._container.streams.video[0]
        set_decoder_threads(self._stream)
        self.frame_table: FrameTable | None = None
        if known is None or not self._use_frame_table(known):
            self._build_index(Deadline(path, timeout))

        stream = self._stream
        codec_context = stream.codec_context
        self.codec = codec_context.name
        self.pixel_format = codec_context.format.name if codec_context.format else ""
        self.height = int(codec_context.height)
        self.width = int(codec_context.width)
        if self.height <= 0 or self.width <= 0:
            raise VideoDecodeError(path, f"invalid frame size {self.width}x{self.height}")
        self.header_num_frames = int(stream.frames or 0)
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        self.fps = float(rate) if rate and rate > 0 else 0.0
        if stream.duration and stream.time_base:
            self.duration = float(stream.duration * stream.time_base)
        elif self._container.duration:
            self.duration = self._container.duration / av.time_base
        else:
            self.duration = self.num_frames / self.fps if self.fps else 0.0
        if self.fps <= 0 and self.duration > 0:
            self.fps = self.num_frames / self.duration

        # Decoding state kept between calls (see _serve).
        self._frames: Iterator[tuple[int, av.VideoFrame]] | None = None
        self._last_index = -1  # index of the last frame the current frame iterator yielded
        self._skipped: set[int] = set()  # frames skipped with NONREF since the last seek
        self._wanted: set[int] | None = None  # frames the current request needs (None: all)
        self._deadline = Deadline(path, timeout)
        # One reformatter per reader keeps FFmpeg's scaler context between frames: building it
        # (filter tables for a resize) costs more than converting a small frame.
        self._reformatter = VideoReformatter()

    # ------------------------------------------------------------------ index

    def _build_index(self, deadline: Deadline) -> None:
        """Demux every packet (no decoding) to get exact frame numbers and keyframe positions."""
        pts_values: list[int] = []
        keyframe_pts: list[int] = []
        dts_of_pts: dict[int, int] = {}
        has_missing_pts = False
        reordered = False  # any packet whose pts differs from its dts: B-frames
        corrupt_tail = 0  # incomplete packets at the end: the file is cut inside them
        self.truncated_reason = ""
        try:
            for packet in self._container.demux(self._stream):
                if packet.size == 0:  # the flush packet at the end of the stream
                    continue
                if packet.is_discard:  # outside the edit list: the decoder drops it
                    continue
                pts = packet.pts if packet.pts is not None else packet.dts
                if pts is None:
                    has_missing_pts = True
                    pts = len(pts_values)
                reordered = reordered or (packet.dts is not None and packet.dts != pts)
                pts_values.append(pts)
                corrupt_tail = corrupt_tail + 1 if packet.is_corrupt else 0
                dts_of_pts[pts] = packet.dts if packet.dts is not None else pts
                if packet.is_keyframe:
                    keyframe_pts.append(pts)
                if len(pts_values) % 256 == 0:
                    deadline.check("reading the packet index")
        except av.FFmpegError as error:
            # A cut file: keep the packets read so far; frames past the cut do not exist.
            self.truncated_reason = _describe(error)
        if corrupt_tail:
            del pts_values[-corrupt_tail:]
            kept = set(pts_values)
            keyframe_pts = [pts for pts in keyframe_pts if pts in kept]
            self.truncated_reason = self.truncated_reason or "the last packet is incomplete"
        if not pts_values:
            reason = "no video frames"
            if self.truncated_reason:
                reason += f" ({self.truncated_reason})"
            raise VideoDecodeError(self.path, reason)

        sorted_pts = sorted(pts_values)
        self.num_frames = len(sorted_pts)
        self._frame_pts = sorted_pts
        self._index_of_pts = {pts: index for index, pts in enumerate(sorted_pts)}
        # Counting frames (instead of matching pts) is needed when pts are missing or repeated, and
        # for B-frames in AVI: AVI stores no pts, the ones FFmpeg guesses do not follow the frames
        # (MPEG-4 Part 2 packed B-frames decode to out-of-order pts).
        self.has_reordered_frames = reordered
        in_avi = "avi" in self._container.format.name.split(",")
        self._count_frames = (
            has_missing_pts or len(self._index_of_pts) != len(sorted_pts) or (in_avi and reordered)
        )
        self._seek_dts = [dts_of_pts[pts] for pts in sorted_pts]
        keyframes = sorted({self._index_of_pts[pts] for pts in keyframe_pts})
        self.keyframe_indices = keyframes if keyframes and keyframes[0] == 0 else [0, *keyframes]
        self.frame_table = self._compact_table(has_missing_pts)

    def _compact_table(self, has_missing_pts: bool) -> FrameTable | None:
        """The table as a :class:`FrameTable` when pts are evenly spaced and the file is whole."""
        pts = self._frame_pts
        if has_missing_pts or self.truncated_reason or self._stream.time_base is None:
            return None
        step = pts[1] - pts[0] if len(pts) > 1 else 1
        if step <= 0 or any(later - earlier != step for earlier, later in pairwise(pts)):
            return None
        return FrameTable(
            num_frames=len(pts),
            time_base=str(self._stream.time_base),
            pts_start=pts[0],
            pts_step=step,
            keyframes=tuple(self.keyframe_indices),
            keyframe_dts=tuple(self._seek_dts[index] for index in self.keyframe_indices),
            min_dts=min(self._seek_dts),
            count_frames=self._count_frames,
            reordered=self.has_reordered_frames,
        )

    def _use_frame_table(self, table: FrameTable) -> bool:
        """Set up the packet table from ``table`` instead of reading every packet; False when the
        table does not fit this stream (another time base), so the caller reads the packets."""
        if str(self._stream.time_base) != table.time_base or table.num_frames < 1 or not table.keyframes:
            return False
        count = table.num_frames
        self._frame_pts = [table.pts_start + index * table.pts_step for index in range(count)]
        self._index_of_pts = {pts: index for index, pts in enumerate(self._frame_pts)}
        # _seek reads the dts of keyframes only, and the smallest dts for frame 0: non-keyframes keep
        # their pts, and frame 0 carries the stream's smallest dts (min() over the list is unchanged).
        seek_dts = list(self._frame_pts)
        for index, dts in zip(table.keyframes, table.keyframe_dts, strict=True):
            seek_dts[index] = dts
        seek_dts[0] = min(seek_dts[0], table.min_dts)
        self._seek_dts = seek_dts
        self.keyframe_indices = list(table.keyframes)
        self.num_frames = count
        self.has_reordered_frames = table.reordered
        self._count_frames = table.count_frames
        self.truncated_reason = ""
        self.frame_table = table
        return True

    # ----------------------------------------------------------- decoding core

    def _keyframe_before(self, index: int) -> int:
        position = bisect.bisect_right(self.keyframe_indices, index) - 1
        return self.keyframe_indices[max(position, 0)]

    def _seek(self, keyframe: int) -> None:
        """Position the demuxer at ``keyframe`` and start a fresh frame iterator there."""
        self._frames = None
        self._skipped = set()
        self._last_index = keyframe - 1
        offset = min(self._seek_dts[keyframe], self._frame_pts[keyframe])
        if keyframe == 0:
            offset = min(offset, min(self._seek_dts))
        try:
            self._container.seek(offset, stream=self._stream, backward=True, any_frame=False)
        except av.FFmpegError as error:
            raise VideoDecodeError(
                self.path, f"seek to frame {keyframe} failed ({_describe(error)})"
            ) from None
        self._stream.codec_context.flush_buffers()
        self._frames = self._decode_frames(keyframe)

    def _decode_frames(self, start: int) -> Iterator[tuple[int, av.VideoFrame]]:
        """Yield ``(index, frame)`` in display order from the current demuxer position.

        Frames before ``start`` (leading frames of an open GOP after a seek) are dropped.
        """
        codec_context = self._stream.codec_context
        count_frames = self._count_frames
        counted = start
        skipping = False
        try:
            for packet in self._container.demux(self._stream):
                self._deadline.check()
                if not count_frames and packet.size:
                    packet_index = self._index_of_pts.get(
                        packet.pts if packet.pts is not None else packet.dts
                    )
                    wanted = self._wanted
                    skip = wanted is not None and packet_index is not None and packet_index not in wanted
                    if skip != skipping:
                        codec_context.skip_frame = "NONREF" if skip else "DEFAULT"
                        skipping = skip
                    if skip:
                        self._skipped.add(packet_index)
                for frame in codec_context.decode(packet):
                    if count_frames:
                        index = counted
                        counted += 1
                    else:
                        index = self._index_of_pts.get(frame.pts) if frame.pts is not None else None
                        if index is None:
                            raise _PtsUnreliable
                        if index < start:
                            continue
                        if index <= self._last_index:
                            raise _PtsUnreliable
                    self._last_index = index
                    yield index, frame
        except av.FFmpegError as error:
            raise VideoDecodeError(
                self.path, f"decoding failed after frame {self._last_index} ({_describe(error)})"
            ) from None
        finally:
            if skipping:
                codec_context.skip_frame = "DEFAULT"

    def _serve(self, wanted: list[int], handle: Callable[[int, av.VideoFrame], None]) -> None:
        """Decode the sorted unique ``wanted`` frames, calling ``handle(index, frame)`` for each."""
        self._wanted = set(wanted)
        position = 0
        from_start_for = -1  # the frame for which decoding was retried from the start
        while position < len(wanted):
            target = wanted[position]
            keyframe = 0 if self._count_frames or from_start_for == target else self._keyframe_before(target)
            can_continue = (
                self._frames is not None
                and from_start_for != target
                and target > self._last_index
                and target not in self._skipped
                and keyframe <= self._last_index + 1
            )
            if not can_continue:
                self._seek(keyframe)
            served_target = False
            for index, frame in self._frames:
                if index < target:
                    continue
                if index > target:
                    self._frames = None  # `frame` is consumed: the next request must seek
                    break
                handle(index, frame)
                served_target = True
                position += 1
                if position == len(wanted):
                    break
                target = wanted[position]
                if not self._count_frames and self._keyframe_before(target) > self._last_index + 1:
                    break  # cheaper to seek than to decode up to the next keyframe
            else:
                self._frames = None  # end of stream
            if served_target:
                continue
            # The frame never came out: the seek overshot or the frame does not decode.
            # Retry once from the very start, then give up.
            if from_start_for == target:
                cut = f"; the file is cut ({self.truncated_reason})" if self.truncated_reason else ""
                raise VideoDecodeError(
                    self.path, f"frame {target} of {self.num_frames} could not be decoded{cut}"
                )
            from_start_for = target

    def get_frames(
        self, indices: Sequence[int], size: tuple[int, int] | None, deadline: Deadline
    ) -> np.ndarray:
        height, width = size if size is not None else (self.height, self.width)
        out = np.empty((len(indices), height, width, 3), dtype=np.uint8)
        slot = {index: position for position, index in enumerate(indices)}
        convert = convert_options(size)
        reformat = self._reformatter.reformat

        def handle(index: int, frame: av.VideoFrame) -> None:
            out[slot[index]] = reformat(frame, **convert).to_ndarray()

        self._deadline = deadline
        try:
            self._serve(list(indices), handle)
        except _PtsUnreliable:
            # Frame pts do not identify frames in this file: count frames from the start instead.
            self._count_frames = True
            self._frames = None
            self._serve(list(indices), handle)
        return out

    def iter_frames(self, deadline: Deadline) -> Iterator[np.ndarray]:
        # A separate container, so that iterating does not disturb get_frames' decoding position.
        container = open_container(self.path, self._timeout)
        try:
            stream = container.streams.video[0]
            set_decoder_threads(stream)
            reformatter = VideoReformatter()
            convert = convert_options(None)
            try:
                for frame in container.decode(stream):
                    deadline.check()
                    yield reformatter.reformat(frame, **convert).to_ndarray()
                    deadline.restart()
            except av.FFmpegError as error:
                raise VideoDecodeError(self.path, f"decoding failed ({_describe(error)})") from None
        finally:
            container.close()

    def close(self) -> None:
        self._frames = None
        if self._container is not None:
            self._container.close()
            self._container = None

    @property
    def numbers_frames_by_counting(self) -> bool:
        """True when frame pts cannot identify frames (missing, repeated, or B-frames in AVI),
        so frames are numbered by counting from the start of the file."""
        return self._count_frames

    @property
    def frame_rate(self) -> Fraction | None:
        """The stream's average frame rate as an exact fraction (used when re-encoding)."""
        return self._stream.average_rate
