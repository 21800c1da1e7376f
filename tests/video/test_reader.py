"""VideoReader: frame-exact random access for every installed backend.

The reference is a plain sequential PyAV decode (``container.decode`` from the first frame); every
backend must return exactly its frames at random, unsorted, repeated indices. With ``size=`` each
backend is compared with its own full decode resized the same way.
"""

from __future__ import annotations

import zlib
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import torch
from av.video.reformatter import VideoReformatter

from vidlearn.video import VideoDecodeError, VideoReader, available_backends, probe_video, write_video
from vidlearn.video import backends as video_backends
from vidlearn.video.backends import BACKEND_CLASSES, backend_status
from vidlearn.video.backends.base import Deadline, DecoderBackend, probe_decoding

BACKENDS = available_backends()

# Real clips of the shared test material: (path, frame count of a full decode, random indices).
CLIPS = {
    "ucf101_c3d_keras/v_Biking_g05_c02.avi": 201,  # MPEG-4 Part 2 in AVI, keyframe every 12
    "ucf101_c3d_keras/v_Punch_g03_c01.avi": 108,
    "mmaction2/tests_data_test.avi": 164,  # MPEG-4 Part 2 with packed B-frames in AVI
    "mmaction2/tests_data_test.mp4": 300,  # H.264 with B-frames, Kinetics-like 340x256
    "mmaction2/demo_demo.mp4": 280,
    "mmaction2/tests_data_rawvideo_dataset_part_0.mp4": 32,
    "mmaction2/demo_test_video_structuralize.mp4": 300,
    "imageio_binaries/cockatoo.mp4": 280,  # H.264 4:4:4, 1280x720
    "imageio_binaries/realshort.mp4": 36,
    "mmtracking/demo_demo.mp4": 8,  # MPEG-4 Part 2 at 3 fps, 1920x1080
    "opentracker/oneperson.mp4": 442,  # header says 443; the edit list drops the last packet
    "kinetics_i3d/v_CricketShot_g04_c01_rgb.gif": 79,
}
# Few indices on big frames keep the suite fast; 8 elsewhere.
BIG_CLIPS = {"imageio_binaries/cockatoo.mp4", "mmtracking/demo_demo.mp4", "opentracker/oneperson.mp4"}
# A backend that cannot read a file: VideoReader(backend=...) must say so with VideoDecodeError.
KNOWN_FAILURES = {
    ("torchcodec", "mmaction2/tests_data_test.avi"): "torchcodec cannot number the frames",  # packed B-frames
    ("decord", "mmaction2/tests_data_test.avi"): "decord cannot seek exactly",  # MPEG-4 with B-frames
}


# An optional backend that does not decode here (not installed, or torchcodec without FFmpeg's
# shared libraries) skips its cases with the probe's reason.
ALL_BACKENDS = [
    pytest.param(
        name,
        id=name,
        marks=[] if name in BACKENDS else pytest.mark.skip(reason=backend_status(name).reason),
    )
    for name in ("pyav", "torchcodec", "decord")
]


def random_indices(key: str, num_frames: int, count: int, last: int | None = None) -> list[int]:
    """Unsorted indices with repeats below ``last`` (default: the last frame, always included)."""
    last = num_frames - 1 if last is None else last
    rng = np.random.default_rng(zlib.crc32(key.encode()))
    picks = rng.integers(0, last + 1, size=count).tolist()
    picks += [last, picks[0], 0]
    return picks


def clip_indices(name: str, count: int) -> list[int]:
    """Few indices on big frames; on the 720p 4:4:4 clip only the first 100 frames (two
    keyframes), since the reference decode of the whole clip costs seconds."""
    if name in BIG_CLIPS:
        return random_indices(name, CLIPS[name], 3, last=99 if "cockatoo" in name else None)
    return random_indices(name, CLIPS[name], count)


def sequential_frames(
    path: Path, indices: list[int], size: tuple[int, int] | None = None
) -> dict[int, np.ndarray]:
    """Frames at ``indices`` from one decode of the whole file (converted only where wanted)."""
    wanted = set(indices)
    frames: dict[int, np.ndarray] = {}
    reformatter = VideoReformatter()
    options = {"format": "rgb24", "threads": 1}
    if size is not None:
        options.update(height=size[0], width=size[1], interpolation="BILINEAR")
    last = max(wanted)
    with av.open(str(path)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index in wanted:
                frames[index] = reformatter.reformat(frame, **options).to_ndarray()
            if index == last:
                break
    return frames


_REFERENCE_CACHE: dict[tuple, dict[int, np.ndarray]] = {}


def reference(path: Path, indices: list[int], size: tuple[int, int] | None = None) -> dict[int, np.ndarray]:
    key = (str(path), tuple(sorted(set(indices))), size)
    if key not in _REFERENCE_CACHE:
        _REFERENCE_CACHE[key] = sequential_frames(path, indices, size)
    return _REFERENCE_CACHE[key]


def clip_path(shared_data: Path, name: str) -> Path:
    path = shared_data / "clips" / name
    if not path.is_file():
        pytest.skip(f"{path} is not in the shared test material")
    return path


def assert_frames_equal(got: torch.Tensor, indices: list[int], expected: dict[int, np.ndarray]) -> None:
    assert got.dtype == torch.uint8
    assert got.shape[0] == len(indices)
    for position, index in enumerate(indices):
        difference = np.abs(got[position].numpy().astype(np.int16) - expected[index].astype(np.int16))
        assert difference.max() == 0, (
            f"frame {index} (position {position}) differs by up to {difference.max()}"
        )


def assert_frames_close(got: torch.Tensor, indices: list[int], expected: dict[int, np.ndarray]) -> None:
    """The same frames up to rounding: under 0.1 % of values off, by at most 2. A neighbouring
    frame differs far more, even in a still scene (noise changes most values)."""
    for position, index in enumerate(indices):
        difference = np.abs(got[position].numpy().astype(np.int16) - expected[index].astype(np.int16))
        assert difference.max() <= 2, f"frame {index} differs by up to {difference.max()}"
        assert np.count_nonzero(difference) <= 1e-3 * difference.size, f"frame {index} differs in many values"


def backend_sequential_frames(path: Path, backend: str, indices: list[int]) -> dict[int, np.ndarray]:
    """Frames at ``indices`` from iterating ``backend`` from the start (stops after the last)."""
    wanted, last = set(indices), max(indices)
    frames = {}
    with VideoReader(path, backend=backend) as reader:
        for index, frame in enumerate(reader):
            if index in wanted:
                frames[index] = frame.numpy()
            if index == last:
                break
    return frames


# ----------------------------------------------------------------------------- real clips


@pytest.mark.shared_data
@pytest.mark.parametrize("backend", ALL_BACKENDS)
@pytest.mark.parametrize("name", sorted(CLIPS))
def test_random_frames_equal_sequential_decode(shared_data: Path, name: str, backend: str) -> None:
    path = clip_path(shared_data, name)
    indices = clip_indices(name, 8)
    if (backend, name) in KNOWN_FAILURES:
        with pytest.raises(VideoDecodeError, match=KNOWN_FAILURES[backend, name]) as error:
            VideoReader(path, backend=backend)
        assert str(path) in str(error.value)
        return
    with VideoReader(path, backend=backend) as reader:
        assert reader.backend == backend
        assert reader.num_frames == len(reader) == CLIPS[name]
        frames = reader.get_frames(indices)
    assert frames.shape[1:] == (reader.height, reader.width, 3)
    expected = reference(path, indices)
    if backend == "pyav" or all(
        np.array_equal(frames[k].numpy(), expected[i]) for k, i in enumerate(indices)
    ):
        assert_frames_equal(frames, indices, expected)
    else:
        # torchcodec links another FFmpeg release, whose decoder or colour conversion may differ
        # from PyAV's by 1 in a few values: then exact against the backend's own sequential decode.
        assert_frames_close(frames, indices, expected)
        assert_frames_equal(frames, indices, backend_sequential_frames(path, backend, indices))


@pytest.mark.shared_data
@pytest.mark.parametrize("name", sorted(CLIPS))
def test_resized_frames_equal_resized_sequential_decode(shared_data: Path, name: str) -> None:
    path = clip_path(shared_data, name)
    # The first 100 frames suffice here: seeking is covered above; this checks the scaler.
    indices = random_indices(
        f"{name} resized", CLIPS[name], 3 if name in BIG_CLIPS else 6, last=min(CLIPS[name], 100) - 1
    )
    with VideoReader(path, backend="pyav") as reader:
        frames = reader.get_frames(indices, size=64)
        short, long_ = sorted((reader.height, reader.width))
        expected_long = round(long_ * 64 / short)
        size = (64, expected_long) if reader.height <= reader.width else (expected_long, 64)
        assert frames.shape[1:3] == size
        assert_frames_equal(frames, indices, reference(path, indices, size))
        if name not in BIG_CLIPS:
            pair = reader.get_frames(indices[:3], size=(40, 50))
            assert pair.shape == (3, 40, 50, 3)
            assert_frames_equal(pair, indices[:3], reference(path, indices[:3], (40, 50)))


@pytest.mark.shared_data
@pytest.mark.parametrize("backend", [b for b in ALL_BACKENDS if b.values[0] != "pyav"])
@pytest.mark.parametrize("size", [(48, 64), (24, 32)], ids=["48x64", "24x32"])
def test_optional_backend_resize_matches_its_own_full_decode(shared_data: Path, backend: str, size) -> None:
    """torchcodec and decord resize with their own filters: compare with their own full decode.

    24x32: decord's own resize fails at width 32, so its backend resizes with OpenCV there."""
    path = clip_path(shared_data, "ucf101_c3d_keras/v_Punch_g03_c01.avi")
    indices = random_indices("resize", 108, 8)
    with VideoReader(path, backend=backend) as reader:
        frames = reader.get_frames(indices, size=size)
        full = reader.get_frames(list(range(reader.num_frames)), size=size)
    assert frames.shape == (len(indices), *size, 3)
    assert torch.equal(frames, full[indices])
    # Same picture as PyAV's resize, up to the interpolation filter.
    pyav = VideoReader(path, backend="pyav").get_frames(indices, size=size)
    assert (frames.float() - pyav.float()).abs().mean() < 8


@pytest.mark.shared_data
def test_frame_count_ignores_header_and_discarded_packet(shared_data: Path) -> None:
    path = clip_path(shared_data, "opentracker/oneperson.mp4")
    info = probe_video(path)
    assert (info.header_num_frames, info.num_frames) == (443, 442)
    assert (info.width, info.height, info.codec) == (620, 370, "h264")
    assert info.keyframe_indices[0] == 0
    with VideoReader(path) as reader:
        assert reader.num_frames == 442
        with pytest.raises(VideoDecodeError, match=r"frame index 442 is out of range .* 442 frames"):
            reader.get_frames([442])


@pytest.mark.shared_data
def test_metadata_of_a_real_clip(shared_data: Path) -> None:
    path = clip_path(shared_data, "mmtracking/demo_demo.mp4")
    with VideoReader(path) as reader:
        assert (reader.num_frames, reader.height, reader.width) == (8, 1080, 1920)
        assert reader.fps == pytest.approx(3.0)
        assert reader.duration == pytest.approx(8 / 3, abs=0.01)
        assert reader.codec == "mpeg4"


@pytest.mark.shared_data
@pytest.mark.parametrize("backend", ALL_BACKENDS)
def test_iteration_yields_every_frame_in_order(shared_data: Path, backend: str) -> None:
    path = clip_path(shared_data, "imageio_binaries/realshort.mp4")
    expected = reference(path, list(range(36)))
    with VideoReader(path, backend=backend) as reader:
        frames = list(reader)
    assert len(frames) == 36
    assert_frames_equal(torch.stack(frames), list(range(36)), expected)


# ------------------------------------------------------------------- generated B-frame files


def moving_pattern(num_frames: int, height: int = 48, width: int = 64) -> np.ndarray:
    """Frames a codec must really predict: a drifting gradient, a moving square and noise."""
    rng = np.random.default_rng(7)
    y, x = np.mgrid[0:height, 0:width]
    frames = np.empty((num_frames, height, width, 3), dtype=np.uint8)
    for t in range(num_frames):
        frames[t, ..., 0] = (x * 4 + t * 3) % 256
        frames[t, ..., 1] = (y * 5 + t * 7) % 256
        frames[t, ..., 2] = rng.integers(0, 40, size=(height, width))
        top, left = (t * 2) % (height - 12), (t * 3) % (width - 12)
        frames[t, top : top + 12, left : left + 12] = (250, 250, 250)
    return frames


GENERATED = [
    pytest.param("h264-mp4-b2-gop10", "mp4", "libx264", 2, 10, id="h264-mp4-b2-gop10"),
    pytest.param("h264-mkv-b3-gop7", "mkv", "libx264", 3, 7, id="h264-mkv-b3-gop7"),
    pytest.param("mpeg4-mp4-b2-gop8", "mp4", "mpeg4", 2, 8, id="mpeg4-mp4-b2-gop8"),
    pytest.param("mpeg4-avi-packed-b2-gop6", "avi", "mpeg4", 2, 6, id="mpeg4-avi-packed-b2-gop6"),
]


@pytest.fixture(scope="module")
def generated_videos(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("bframes")
    frames = moving_pattern(45)
    paths = {}
    for param in GENERATED:
        key, suffix, codec, bframes, gop = param.values
        path = folder / f"{key}.{suffix}"
        write_video(path, frames, 25, codec=codec, bframes=bframes, gop=gop)
        paths[key] = path
    return paths


@pytest.mark.parametrize("backend", ALL_BACKENDS)
@pytest.mark.parametrize(("key", "suffix", "codec", "bframes", "gop"), GENERATED)
def test_generated_bframe_videos_are_frame_exact(generated_videos, key, suffix, codec, bframes, gop, backend):
    path = generated_videos[key]
    with av.open(str(path)) as container:
        packets = [packet for packet in container.demux(video=0) if packet.size]
    assert any(packet.pts != packet.dts for packet in packets), "the file should have B-frames"
    indices = random_indices(str(path.name), 45, 12)
    refusal = {("torchcodec", "avi"): "torchcodec cannot number the frames"}
    if backend == "decord" and codec == "mpeg4":
        refusal[backend, suffix] = "decord cannot seek exactly"
    if (backend, suffix) in refusal:
        with pytest.raises(VideoDecodeError, match=refusal[backend, suffix]):
            VideoReader(path, backend=backend)
        return
    with VideoReader(path, backend=backend) as reader:
        assert reader.num_frames == 45
        frames = reader.get_frames(indices)
        # A second request on the same reader, behind and ahead of where decoding stopped.
        again = reader.get_frames([indices[0], 44, 1, 2, 3])
    expected = reference(path, list(range(45)))
    assert_frames_equal(frames, indices, expected)
    assert_frames_equal(again, [indices[0], 44, 1, 2, 3], expected)


@pytest.mark.parametrize("backend", [b for b in ALL_BACKENDS if b.values[0] != "pyav"])
def test_optional_backend_opens_one_decoder_per_size_on_first_use(
    generated_videos, backend: str, monkeypatch
) -> None:
    """Metadata comes from the packet index; a decoder is opened only for a size that is asked for."""
    path = generated_videos["h264-mp4-b2-gop10"]
    backend_class = BACKEND_CLASSES[backend]
    opened: list[tuple[int, int] | None] = []
    original_open = backend_class._open

    def counting_open(self, size):
        opened.append(size)
        return original_open(self, size)

    monkeypatch.setattr(backend_class, "_open", counting_open)
    info = probe_video(path)
    with VideoReader(path, backend=backend) as reader:
        assert opened == []
        assert (reader.num_frames, reader.height, reader.width, reader.codec) == (45, 48, 64, "h264")
        assert (reader.fps, reader.duration) == (info.fps, info.duration)
        assert reader.get_frames([40, 3], size=(30, 40)).shape == (2, 30, 40, 3)
        assert reader.get_frames([7], size=(30, 40)).shape == (1, 30, 40, 3)
        assert opened == [(30, 40)]
        assert reader.get_frames([5]).shape == (1, 48, 64, 3)
        assert opened == [(30, 40), None]


def test_consecutive_requests_reuse_position_and_stay_exact(generated_videos) -> None:
    """Requests that continue, go back, and ask for frames skipped (NONREF) by an earlier one."""
    path = generated_videos["h264-mp4-b2-gop10"]
    expected = reference(path, list(range(45)))
    with VideoReader(path, backend="pyav") as reader:
        for request in ([12], [13, 14], [16], [15], [30, 31], [33, 22], [44], [0], [11, 11, 10]):
            assert_frames_equal(reader.get_frames(request), request, expected)


def test_stream_whose_first_pts_is_not_zero(tmp_path: Path) -> None:
    path = tmp_path / "offset.mkv"
    frames = moving_pattern(20)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=25, options={"bf": "2", "g": "6"})
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for t, array in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(array, format="rgb24")
            frame.pts, frame.time_base = 1000 + t, Fraction(1, 25)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    with av.open(str(path)) as container:
        first_pts = min(packet.pts for packet in container.demux(video=0) if packet.size)
    assert first_pts > 0
    indices = [19, 0, 7, 7, 13]
    with VideoReader(path, backend="pyav") as reader:
        assert reader.num_frames == 20
        assert_frames_equal(reader.get_frames(indices), indices, reference(path, indices))


def test_indices_may_be_a_tensor_range_or_empty(generated_videos) -> None:
    path = generated_videos["h264-mkv-b3-gop7"]
    expected = reference(path, list(range(45)))
    with VideoReader(path) as reader:
        assert_frames_equal(reader.get_frames(torch.tensor([3, 1])), [3, 1], expected)
        assert_frames_equal(reader.get_frames(range(5, 8)), [5, 6, 7], expected)
        assert reader.get_frames([], size=(10, 20)).shape == (0, 10, 20, 3)


def test_auto_uses_the_first_available_backend(generated_videos) -> None:
    with VideoReader(generated_videos["h264-mp4-b2-gop10"]) as reader:
        assert reader.backend == BACKENDS[0]
    assert "pyav" in BACKENDS


def test_unknown_or_missing_backend_is_a_clear_error(generated_videos) -> None:
    path = generated_videos["h264-mp4-b2-gop10"]
    with pytest.raises(ValueError, match="unknown video backend 'opencv'"):
        VideoReader(path, backend="opencv")


@pytest.fixture
def fresh_backend_status():
    """Probe backends again in this test, and again after it (the answers are cached per process)."""
    backend_status.cache_clear()
    yield backend_status
    backend_status.cache_clear()


class _OpenedBackend(DecoderBackend):
    """Stands in for a backend that opens every file: records that it was chosen."""

    name = "decord"

    def __init__(self, path: Path, timeout: float) -> None:
        self.path, self.num_frames, self.fps, self.height, self.width = path, 1, 25.0, 2, 2
        self.duration, self.codec = 0.04, "h264"

    def get_frames(self, indices, size, deadline: Deadline) -> np.ndarray:
        return np.zeros((len(indices), 2, 2, 3), dtype=np.uint8)

    def iter_frames(self, deadline: Deadline):
        yield np.zeros((2, 2, 3), dtype=np.uint8)


@pytest.mark.parametrize("name", ["torchcodec", "decord"])
def test_a_backend_whose_probe_fails_is_unavailable_with_its_reason(
    fresh_backend_status, monkeypatch, name: str
) -> None:
    module = {"torchcodec": video_backends.torchcodec_backend, "decord": video_backends.decord_backend}[name]
    reason = f"{name} is installed but cannot decode a video: libavcodec.so.59 not found (simulated)"
    monkeypatch.setattr(module, "probe", lambda: reason)
    status = backend_status(name)
    assert (status.name, status.available, status.reason) == (name, False, reason)
    assert name not in available_backends()
    assert available_backends()[0] == "pyav"


def test_auto_never_opens_an_unavailable_backend(fresh_backend_status, monkeypatch, tmp_path: Path) -> None:
    """PyAV refuses the file; torchcodec's probe fails, so auto goes on to decord without trying it."""
    path = tmp_path / "clip.mp4"
    path.write_bytes(b"not read by the stand-in backends")
    tried: list[str] = []

    def refusing(name: str):
        def open_backend(path: Path, timeout: float):
            tried.append(name)
            raise VideoDecodeError(path, f"{name} refuses it (simulated)")

        return open_backend

    monkeypatch.setattr(video_backends.torchcodec_backend, "probe", lambda: "torchcodec: simulated failure")
    monkeypatch.setattr(video_backends.decord_backend, "probe", lambda: "")
    monkeypatch.setitem(BACKEND_CLASSES, "pyav", refusing("pyav"))
    monkeypatch.setitem(BACKEND_CLASSES, "torchcodec", refusing("torchcodec"))
    monkeypatch.setitem(BACKEND_CLASSES, "decord", _OpenedBackend)
    with VideoReader(path) as reader:
        assert reader.backend == "decord"
    assert tried == ["pyav"]
    # With decord unavailable too, auto reports PyAV's reason, never torchcodec's.
    backend_status.cache_clear()
    monkeypatch.setattr(video_backends.decord_backend, "probe", lambda: "decord: simulated failure")
    tried.clear()
    with pytest.raises(VideoDecodeError, match="pyav refuses it"):
        VideoReader(path)
    assert tried == ["pyav"]


def test_asking_for_an_unavailable_backend_names_the_reason(
    fresh_backend_status, monkeypatch, generated_videos
) -> None:
    reason = "torchcodec is installed but cannot decode a video: libavutil.so.57 not found (simulated)"
    monkeypatch.setattr(video_backends.torchcodec_backend, "probe", lambda: reason)
    with pytest.raises(ValueError) as error:
        VideoReader(generated_videos["h264-mp4-b2-gop10"], backend="torchcodec")
    message = str(error.value)
    assert message.startswith(f"video backend 'torchcodec' is not available here: {reason}; available: pyav")
    assert "torchcodec" not in message.split("available: ")[-1]


def test_probe_decodes_a_real_clip_and_reports_what_went_wrong() -> None:
    def pyav_decode(path: Path) -> np.ndarray:
        with av.open(str(path)) as container:
            frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]
        return np.stack([frames[0], frames[3]])

    assert probe_decoding("pyav", pyav_decode) == ""  # the probe clip decodes to its gray frames

    def missing_libraries(path: Path) -> np.ndarray:
        try:
            raise OSError("libavutil.so.57: cannot open shared object file: No such file or directory")
        except OSError as cause:
            raise RuntimeError("Could not load libtorchcodec. Likely causes:\n  1. ...") from cause

    reason = probe_decoding(
        "torchcodec", missing_libraries, video_backends.torchcodec_backend._describe_load_failure
    )
    assert reason.startswith(
        "torchcodec is installed but cannot decode a video: FFmpeg's shared libraries are not found "
        "(libavutil.so.57); on Debian 12: apt-get install libavutil57 libavcodec59"
    )
    assert probe_decoding("x", lambda path: np.zeros((2, 48, 64), np.uint8)) == (
        "x decodes the probe clip to uint8 (2, 48, 64), not uint8 (2, 48, 64, 3)"
    )
    assert probe_decoding("x", lambda path: np.zeros((2, 48, 64, 3), np.uint8)) == (
        "x decodes the probe clip wrongly (gray 128 comes back off by up to 128)"
    )

    def long_message(path: Path) -> np.ndarray:
        raise ValueError("no decoder for this file\n" + "traceback line\n" * 50)

    assert probe_decoding("x", long_message) == (
        "x is installed but cannot decode a video: ValueError: no decoder for this file"
    )


def test_closed_reader_refuses_work(generated_videos) -> None:
    reader = VideoReader(generated_videos["h264-mp4-b2-gop10"])
    reader.close()
    with pytest.raises(VideoDecodeError, match="closed"):
        reader.get_frames([0])


class _ThreadSettings(torch.utils.data.Dataset):
    """Opens a small video with the PyAV backend and reports its decoder's thread settings."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __len__(self) -> int:
        return 1

    def __getitem__(self, index: int) -> tuple[str, int]:
        with VideoReader(self.path, backend="pyav") as video:
            stream = video._backend._stream
            return stream.thread_type.name, int(stream.codec_context.thread_count)


def test_pyav_decoder_threads_in_main_process_and_in_dataloader_workers(generated_videos) -> None:
    path = next(iter(generated_videos.values()))
    assert probe_video(path).width * probe_video(path).height < 640 * 480
    # Main process: slice threads, one per core (FFmpeg's count 0).
    assert _ThreadSettings(path)[0] == ("SLICE", 0)
    # DataLoader worker: the workers fill the cores, so one decoder thread each.
    loader = torch.utils.data.DataLoader(_ThreadSettings(path), num_workers=1, batch_size=None)
    assert [tuple(item) for item in loader] == [("SLICE", 1)]


# ------------------------------------------------------------------- known metadata (an index's)


def _count_packet_passes(monkeypatch) -> list[Path]:
    from vidlearn.video.backends.pyav import PyAVBackend

    passes: list[Path] = []
    original = PyAVBackend._build_index

    def counting(self, deadline):
        passes.append(self.path)
        return original(self, deadline)

    monkeypatch.setattr(PyAVBackend, "_build_index", counting)
    return passes


@pytest.mark.parametrize(("key", "suffix", "codec", "bframes", "gop"), GENERATED)
def test_known_metadata_skips_the_packet_pass_and_gives_the_same_frames(
    generated_videos, monkeypatch, key, suffix, codec, bframes, gop
):
    path = generated_videos[key]
    info = probe_video(path)
    table = info.frame_table
    assert table is not None and table.num_frames == 45 and table.reordered
    assert table.keyframes[0] == 0 and len(table.keyframes) == len(table.keyframe_dts)
    assert table.count_frames == (suffix == "avi")  # packed B-frames in AVI are numbered by counting
    passes = _count_packet_passes(monkeypatch)
    indices = random_indices(key, 45, 12)
    with VideoReader(path, backend="pyav", metadata=info) as known:
        assert passes == [] and (known.num_frames, known.height, known.width) == (45, 48, 64)
        fast = known.get_frames(indices)
    with VideoReader(path, backend="pyav") as plain:
        assert passes == [path]
        assert torch.equal(fast, plain.get_frames(indices))
        small = plain.get_frames(indices[:4], size=(24, 32))
    assert_frames_equal(fast, indices, reference(path, indices))
    # The index's JSON form (lists) and a bare table work the same way.
    from dataclasses import asdict

    entry = {"num_frames": 45, "frame_table": {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(table).items()}}
    for metadata in (entry, table):
        with VideoReader(path, backend="pyav", metadata=metadata) as reader:
            assert torch.equal(reader.get_frames(indices[:4], size=(24, 32)), small)
    assert passes == [path]


def test_metadata_that_does_not_fit_is_ignored(generated_videos, monkeypatch) -> None:
    from dataclasses import replace

    path = generated_videos["h264-mp4-b2-gop10"]
    table = probe_video(path).frame_table
    passes = _count_packet_passes(monkeypatch)
    for metadata in (
        {"num_frames": 45},  # no table: the packets are read
        replace(table, time_base="1/7"),  # another stream's table
        {"num_frames": 44, "frame_table": {**table.__dict__}},  # an entry contradicting itself
    ):
        with VideoReader(path, backend="pyav", metadata=metadata) as reader:
            assert reader.num_frames == 45
    assert len(passes) == 3


@pytest.mark.shared_data
def test_irregular_timestamps_have_no_frame_table(shared_data: Path) -> None:
    # oneperson.mp4: frame timestamps step by 512, 1024 or 1536: the packet pass stays
    info = probe_video(clip_path(shared_data, "opentracker/oneperson.mp4"))
    assert info.num_frames == 442 and info.frame_table is None
    demo = probe_video(clip_path(shared_data, "mmaction2/demo_demo.mp4")).frame_table
    assert (demo.time_base, demo.pts_start, demo.pts_step, demo.keyframes) == ("1/14336", 0, 512, (0, 187, 230, 268))
