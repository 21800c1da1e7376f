"""Bad input gives a VideoDecodeError (or ValueError for bad arguments) that names the file."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from vidlearn.video import VideoDecodeError, VideoReader, available_backends, probe_video, write_video
from vidlearn.video.backends import AUTO_ORDER, backend_status

BACKENDS = available_backends()
# An optional backend that does not decode here skips its cases with the probe's reason.
BACKEND_PARAMS = [
    "auto",
    *(
        pytest.param(name, marks=[] if name in BACKENDS else pytest.mark.skip(reason=backend_status(name).reason))
        for name in AUTO_ORDER
    ),
]


def noise_frames(count: int, height: int = 48, width: int = 64) -> np.ndarray:
    rng = np.random.default_rng(3)
    base = rng.integers(0, 256, size=(height, width, 3))
    return np.stack([np.roll(base, 2 * t, axis=1) for t in range(count)]).astype(np.uint8)


@pytest.fixture(scope="module")
def good_video(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("good") / "clip.mp4"
    return write_video(path, noise_frames(60), 25, gop=10, bframes=2)


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.mp4"
    with pytest.raises(VideoDecodeError, match="file not found") as error:
        VideoReader(path)
    assert error.value.path == str(path) and str(path) in str(error.value)


def test_directory_is_not_a_video(tmp_path: Path) -> None:
    with pytest.raises(VideoDecodeError, match="not a regular file") as error:
        VideoReader(tmp_path)
    assert str(tmp_path) in str(error.value)


def test_zero_byte_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.mp4"
    path.write_bytes(b"")
    with pytest.raises(VideoDecodeError, match=r"file is empty \(0 bytes\)") as error:
        VideoReader(path)
    assert str(path) in str(error.value)


@pytest.mark.parametrize("backend", BACKEND_PARAMS)
@pytest.mark.parametrize(
    "content",
    [
        pytest.param(
            np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes(), id="random-bytes"
        ),
        pytest.param(b"this is a text file, not a video\n" * 20, id="text-named-mp4"),
    ],
)
def test_garbage_is_not_a_readable_video(tmp_path: Path, content: bytes, backend: str) -> None:
    path = tmp_path / "garbage.mp4"
    path.write_bytes(content)
    with pytest.raises(VideoDecodeError) as error:
        VideoReader(path, backend=backend)
    assert str(path) in str(error.value)
    if backend in ("auto", "pyav"):
        assert "not a readable video" in str(error.value)


def test_probe_of_garbage_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "notes.avi"
    path.write_text("hello\n")
    with pytest.raises(VideoDecodeError, match=r"notes\.avi: not a readable video"):
        probe_video(path)


@pytest.mark.parametrize("suffix", [".mp4", ".mkv", ".avi"])
def test_truncated_file_counts_only_frames_in_the_file(tmp_path: Path, good_video: Path, suffix: str) -> None:
    """Cut in the middle: num_frames counts the complete packets; earlier frames are exact; a frame
    that cannot be decoded raises an error naming the file and the frame."""
    whole = tmp_path / f"whole{suffix}"
    write_video(whole, noise_frames(60), 25, gop=10, bframes=2)
    data = whole.read_bytes()
    cut = tmp_path / f"cut{suffix}"
    cut.write_bytes(data[: len(data) // 2])
    with av.open(str(whole)) as container:
        originals = [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]
    with VideoReader(cut, backend="pyav") as reader:
        assert 10 < reader.num_frames < 60
        early = reader.get_frames([5, 0, 12])
        for position, index in enumerate([5, 0, 12]):
            np.testing.assert_array_equal(early[position].numpy(), originals[index])
        try:
            frames = reader.get_frames(range(reader.num_frames))
        except VideoDecodeError as error:
            assert str(cut) in str(error)
            assert "frame" in error.reason and (
                "could not be decoded" in error.reason or "failed" in error.reason
            )
        else:
            assert frames.shape[0] == reader.num_frames


def test_out_of_range_indices_name_the_index_and_count(good_video: Path) -> None:
    with VideoReader(good_video) as reader:
        with pytest.raises(
            VideoDecodeError, match=r"frame index 60 is out of range for a video of 60 frames"
        ) as error:
            reader.get_frames([3, 60, 2])
        assert str(good_video) in str(error.value)
        with pytest.raises(VideoDecodeError, match=r"frame index -1 is out of range"):
            reader.get_frames([-1])


def test_non_integer_indices_and_bad_sizes_are_value_errors(good_video: Path) -> None:
    with VideoReader(good_video) as reader:
        with pytest.raises(ValueError, match="1-D sequence of ints"):
            reader.get_frames([1.5, 2.0])
        with pytest.raises(ValueError, match="1-D sequence of ints"):
            reader.get_frames([[1, 2]])
        with pytest.raises(ValueError, match="positive short side"):
            reader.get_frames([0], size=0)
        with pytest.raises(ValueError, match=r"size must be None, an int"):
            reader.get_frames([0], size=(10,))


def test_decode_timeout_bounds_a_request(good_video: Path) -> None:
    with VideoReader(good_video, backend="pyav") as reader:
        reader.decode_timeout = 1e-9
        with pytest.raises(VideoDecodeError, match=r"took longer than decode_timeout=1e-09 s") as error:
            reader.get_frames([50])
    assert str(good_video) in str(error.value)
    with pytest.raises(ValueError, match="decode_timeout must be positive"):
        VideoReader(good_video, decode_timeout=0)
