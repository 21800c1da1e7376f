"""write_video / VideoWriter: round trips, encoder settings, atomic writes, bad input."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import torch

from vidlearn.video import VideoReader, VideoWriter, probe_video, write_video
from vidlearn.video.writer import default_codec


def smooth_frames(count: int, height: int = 64, width: int = 96) -> np.ndarray:
    """Natural-looking content (smooth gradients and a moving disc) that lossy codecs keep well."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    frames = np.empty((count, height, width, 3), dtype=np.uint8)
    for t in range(count):
        disc = ((x - 10 - 2 * t) ** 2 + (y - height / 2) ** 2) < 100
        frames[t, ..., 0] = 60 + 120 * x / width + 40 * disc
        frames[t, ..., 1] = 50 + 150 * y / height
        frames[t, ..., 2] = 128 + 60 * np.sin((x + 3 * t) / 9.0)
    return frames


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def packet_flags(path: Path) -> tuple[list[int], bool]:
    """Keyframe positions (decode order) and whether any packet is reordered (B-frames)."""
    with av.open(str(path)) as container:
        packets = [packet for packet in container.demux(video=0) if packet.size]
    keyframes = [i for i, packet in enumerate(packets) if packet.is_keyframe]
    return keyframes, any(packet.pts != packet.dts for packet in packets)


@pytest.mark.parametrize(
    ("suffix", "codec"),
    [(".mp4", None), (".mkv", None), (".avi", None), (".mp4", "mpeg4"), (".avi", "mpeg4"), (".mov", "h264")],
)
def test_lossy_round_trip_keeps_count_size_and_quality(
    tmp_path: Path, suffix: str, codec: str | None
) -> None:
    frames = smooth_frames(20)
    path = write_video(tmp_path / f"clip{suffix}", torch.from_numpy(frames), 25, codec=codec)
    info = probe_video(path)
    expected_codec = {None: default_codec(suffix), "mpeg4": "mpeg4", "h264": "libx264"}[codec]
    assert info.codec == {"libx264": "h264"}.get(expected_codec, expected_codec)
    assert (info.num_frames, info.height, info.width) == (20, 64, 96)
    assert info.fps == pytest.approx(25.0)
    decoded = VideoReader(path).get_frames(range(20)).numpy()
    quality = psnr(decoded, frames)
    assert quality > 35, f"PSNR {quality:.1f} dB"


def test_gif_round_trip(tmp_path: Path) -> None:
    frames = smooth_frames(12)
    path = write_video(tmp_path / "clip.gif", frames, 10)
    with VideoReader(path) as reader:
        assert (reader.num_frames, reader.height, reader.width) == (12, 64, 96)
        assert reader.fps == pytest.approx(10.0)
        decoded = reader.get_frames(range(12)).numpy()
    # One 256-colour palette per frame: lossy, but close.
    assert psnr(decoded, frames) > 30


def test_gop_and_bframes_are_honoured(tmp_path: Path) -> None:
    frames = smooth_frames(40)
    with_b = write_video(tmp_path / "b.mp4", frames, 25, gop=8, bframes=2)
    keyframes, reordered = packet_flags(with_b)
    assert keyframes == [0, 8, 16, 24, 32]
    assert reordered
    without_b = write_video(tmp_path / "nob.mp4", frames, 25, gop=15, bframes=0)
    keyframes, reordered = packet_flags(without_b)
    assert keyframes == [0, 15, 30]
    assert not reordered
    mpeg4 = write_video(tmp_path / "m.avi", frames, 25, codec="mpeg4", gop=12)
    assert packet_flags(mpeg4)[0] == [0, 12, 24, 36]


def test_crf_trades_size_for_quality(tmp_path: Path) -> None:
    frames = smooth_frames(20)
    fine = write_video(tmp_path / "fine.mp4", frames, 25, crf=10)
    coarse = write_video(tmp_path / "coarse.mp4", frames, 25, crf=40)
    assert fine.stat().st_size > coarse.stat().st_size
    assert psnr(VideoReader(fine).get_frames(range(20)).numpy(), frames) > psnr(
        VideoReader(coarse).get_frames(range(20)).numpy(), frames
    )


@pytest.mark.parametrize("suffix", [".avi", ".mp4"])
def test_mpeg4_quantiser_trades_size_for_quality(tmp_path: Path, suffix: str) -> None:
    # MPEG-4 Part 2 takes crf as its fixed quantiser; every quantiser used to give the same file.
    frames = smooth_frames(20)
    fine = write_video(tmp_path / f"fine{suffix}", frames, 25, codec="mpeg4", crf=2)
    coarse = write_video(tmp_path / f"coarse{suffix}", frames, 25, codec="mpeg4", crf=20)
    assert coarse.stat().st_size < 0.8 * fine.stat().st_size
    decoded = {}
    for path in (fine, coarse):
        with VideoReader(path) as reader:
            assert (reader.codec, reader.num_frames) == ("mpeg4", 20)
            decoded[path] = reader.get_frames(range(20)).numpy()
    assert psnr(decoded[fine], frames) > psnr(decoded[coarse], frames) + 3


def test_ntsc_rate_is_stored_exactly(tmp_path: Path) -> None:
    path = write_video(tmp_path / "ntsc.mp4", smooth_frames(6), 30000 / 1001)
    with av.open(str(path)) as container:
        assert container.streams.video[0].average_rate == Fraction(30000, 1001)


def test_odd_sizes(tmp_path: Path) -> None:
    frames = smooth_frames(5, height=33, width=47)
    path = write_video(tmp_path / "odd.mp4", frames, 25)  # H.264 4:4:4 keeps odd sizes
    assert VideoReader(path).get_frames([4]).shape == (1, 33, 47, 3)
    with pytest.raises(ValueError, match="mpeg4 needs an even frame size, got 47x33"):
        write_video(tmp_path / "odd.avi", frames, 25, codec="mpeg4")
    assert not (tmp_path / "odd.avi").exists()


def test_failed_write_leaves_no_file_and_keeps_the_old_one(tmp_path: Path) -> None:
    path = tmp_path / "clip.mp4"
    write_video(path, smooth_frames(4), 25)
    before = path.read_bytes()
    with (
        pytest.raises(ValueError, match=r"frame 2 is 32x32, the video is 96x64"),
        VideoWriter(path, 25) as writer,
    ):
        writer.write(smooth_frames(1)[0])
        writer.write(smooth_frames(1)[0])
        writer.write(np.zeros((32, 32, 3), np.uint8))
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4"]  # no temporary file left


def test_bad_arguments(tmp_path: Path) -> None:
    frames = smooth_frames(2)
    with pytest.raises(ValueError, match=r"suffix '.xyz'"):
        write_video(tmp_path / "a.xyz", frames, 25)
    with pytest.raises(ValueError, match=r"frames must be uint8 \(T, H, W, 3\) RGB, got float32"):
        write_video(tmp_path / "a.mp4", frames.astype(np.float32), 25)
    with pytest.raises(ValueError, match=r"got uint8 \(64, 96, 3\)"):
        write_video(tmp_path / "a.mp4", frames[0], 25)
    with pytest.raises(ValueError, match="no frames to write"):
        write_video(tmp_path / "a.mp4", frames[:0], 25)
    with pytest.raises(ValueError, match="fps must be positive"):
        write_video(tmp_path / "a.mp4", frames, 0)
    with pytest.raises(ValueError, match="encoder 'nosuchcodec' is not available"):
        write_video(tmp_path / "a.mp4", frames, 25, codec="nosuchcodec")
    with pytest.raises(ValueError, match="gop must be"):
        write_video(tmp_path / "a.mp4", frames, 25, gop=0)
    assert list(tmp_path.iterdir()) == []
