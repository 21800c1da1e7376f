"""Test videos for the decoding benchmark: textured, moving content that makes the encoder work as
it does on real footage (a flat synthetic clip compresses to almost nothing and decodes unrealistically
fast).

Each frame is a window into a large smooth random texture (several octaves of blurred noise) that
pans along a slow random path and zooms in and out a little, with a few textured ellipses crossing it
and a little per-frame sensor noise. The sets mirror the datasets they stand for:

- ``ucf101``: 320x240, 25 fps, 7 s, MPEG-4 Part 2 in AVI, a keyframe every 12 frames, no B-frames
  (the real UCF-101 clips have exactly this GOP);
- ``kinetics``: 340x256, 30 fps, 10 s, H.264 in MP4 with B-frames and a keyframe every 250 frames
  (x264's default interval, as in MMAction2's Kinetics demo clip);
- ``kinetics_dense_*``: the Kinetics-like files after :func:`vidlearn.video.reencode.reencode_video`
  with a keyframe every 16 frames (MMAction2's "dense encoding").

Files are written once and reused; the file name carries the generation parameters.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from vidlearn.video.reencode import reencode_video
from vidlearn.video.writer import write_video

GENERATOR_VERSION = 1  # bump when the content changes, so cached files are regenerated


@dataclass(frozen=True)
class VideoSpec:
    """How one set of test files is encoded."""

    name: str
    width: int
    height: int
    fps: float
    seconds: float
    suffix: str
    codec: str
    gop: int
    bframes: int
    quality: int  # x264 CRF, or the MPEG-4 Part 2 bit rate in kbit/s

    @property
    def num_frames(self) -> int:
        return round(self.fps * self.seconds)

    def describe(self) -> str:
        quality = f"CRF {self.quality}" if self.codec == "libx264" else f"{self.quality} kbit/s"
        return (
            f"{self.width}x{self.height}, {self.fps:g} fps, {self.seconds:g} s, {self.codec}, "
            f"keyframe every {self.gop}, {self.bframes} B-frames, {quality}"
        )


# Bit rates as the real clips: UCF-101's v_Biking_g05_c02.avi and v_Punch_g03_c01.avi are about
# 560 kbit/s; MMAction2's Kinetics demo clip (340x256 H.264) about 510 kbit/s, which CRF 18 gives here.
UCF101_LIKE = VideoSpec("ucf101", 320, 240, 25.0, 7.0, ".avi", "mpeg4", gop=12, bframes=0, quality=560)
KINETICS_LIKE = VideoSpec("kinetics", 340, 256, 30.0, 10.0, ".mp4", "libx264", gop=250, bframes=3, quality=18)


def _octave_texture(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Smooth random RGB texture in [0, 1]: blurred noise at several scales, summed."""
    texture = np.zeros((height, width, 3), np.float32)
    for sigma, weight in ((24.0, 1.0), (8.0, 0.6), (2.5, 0.35), (0.8, 0.15)):
        noise = rng.standard_normal((height, width, 3)).astype(np.float32)
        layer = cv2.GaussianBlur(noise, (0, 0), sigma)
        texture += weight * layer / (layer.std() + 1e-6)
    texture -= texture.min()
    return texture / texture.max()


def synthesize_frames(spec: VideoSpec, seed: int) -> np.ndarray:
    """``uint8 (T, H, W, 3)`` RGB frames of one test video."""
    rng = np.random.default_rng(seed)
    height, width, count = spec.height, spec.width, spec.num_frames
    big_h, big_w = 2 * height, 2 * width
    background = _octave_texture(rng, big_h, big_w)
    # Camera path: a slow random walk in pan and a gentle oscillating zoom.
    pan_speed = rng.uniform(0.6, 2.0, size=2) * rng.choice([-1, 1], size=2)
    wobble = rng.uniform(0.5, 2.0, size=2)
    zoom_period = rng.uniform(60, 150)
    centre0 = np.array([big_w / 2, big_h / 2])
    shapes = []
    for _ in range(rng.integers(3, 6)):
        axes = rng.uniform(0.08, 0.22, size=2) * np.array([width, height])
        shapes.append(
            {
                "start": rng.uniform([0, 0], [width, height]),
                "velocity": rng.uniform(-3.0, 3.0, size=2),
                "axes": axes,
                "angle": rng.uniform(0, 180),
                "spin": rng.uniform(-2, 2),
                "texture": _octave_texture(rng, height, width),
                "tint": rng.uniform(0.2, 1.0, size=3).astype(np.float32),
            }
        )
    frames = np.empty((count, height, width, 3), np.uint8)
    for index in range(count):
        t = float(index)
        centre = centre0 + pan_speed * t + 6 * np.sin(t / 17 * wobble)
        centre = np.clip(centre, [width / 2 + 8, height / 2 + 8], [big_w - width / 2 - 8, big_h - height / 2 - 8])
        scale = 1.0 + 0.12 * np.sin(2 * np.pi * t / zoom_period)
        # Output pixel (x, y) samples the background at centre + (x - w/2, y - h/2) / scale.
        affine = np.array(
            [
                [1 / scale, 0, centre[0] - width / (2 * scale)],
                [0, 1 / scale, centre[1] - height / (2 * scale)],
            ],
            np.float32,
        )
        frame = cv2.warpAffine(
            background, affine, (width, height), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_REFLECT,
        )
        for shape in shapes:
            position = shape["start"] + shape["velocity"] * t
            position = np.mod(position, [width, height])
            mask = np.zeros((height, width), np.uint8)
            cv2.ellipse(
                mask,
                (round(position[0]), round(position[1])),
                (round(shape["axes"][0]), round(shape["axes"][1])),
                shape["angle"] + shape["spin"] * t,
                0,
                360,
                255,
                -1,
                lineType=cv2.LINE_AA,
            )
            alpha = (mask.astype(np.float32) / 255)[..., None]
            fill = shape["texture"] * shape["tint"]
            frame = frame * (1 - alpha) + fill * alpha
        frame = frame * 235 + 10 + rng.normal(0, 2.0, frame.shape).astype(np.float32)
        frames[index] = np.clip(frame, 0, 255).astype(np.uint8)
    return frames


def _file_name(spec: VideoSpec, seed: int) -> str:
    return f"{spec.name}_v{GENERATOR_VERSION}_q{spec.quality}_{seed:02d}{spec.suffix}"


def _write_mpeg4(path: Path, frames: np.ndarray, spec: VideoSpec) -> None:
    """MPEG-4 Part 2 at a set bit rate (as Xvid encoded UCF-101), written to a temporary name first."""
    temporary = path.with_name(f".{path.name}.tmp{path.suffix}")
    with av.open(str(temporary), mode="w") as container:
        stream = container.add_stream("mpeg4", rate=Fraction(spec.fps).limit_denominator(1001))
        stream.width, stream.height, stream.pix_fmt = spec.width, spec.height, "yuv420p"
        stream.bit_rate = spec.quality * 1000
        stream.codec_context.gop_size = spec.gop
        stream.codec_context.max_b_frames = spec.bframes
        stream.codec_context.options = {"sc_threshold": "1000000000"}  # keyframes only every gop frames
        for frame in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode(None))
    temporary.replace(path)


def make_set(spec: VideoSpec, count: int, folder: Path, log=print) -> list[Path]:
    """``count`` files of ``spec`` in ``folder`` (written if missing); returns their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for seed in range(count):
        path = folder / _file_name(spec, seed)
        if not path.exists():
            log(f"  writing {path.name} ({spec.describe()})")
            frames = synthesize_frames(spec, seed)
            if spec.codec == "mpeg4":
                _write_mpeg4(path, frames, spec)
            else:
                write_video(path, frames, spec.fps, codec=spec.codec, gop=spec.gop, bframes=spec.bframes, crf=spec.quality)
        paths.append(path)
    return paths


def make_dense_set(sources: list[Path], folder: Path, *, gop: int, short_side: int | None, log=print) -> list[Path]:
    """The ``sources`` re-encoded with ``reencode_video(gop=..., short_side=...)`` into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for source in sources:
        path = folder / source.with_suffix(".mp4").name
        if not path.exists():
            log(f"  re-encoding {source.name} -> {folder.name}/ (gop {gop}, short side {short_side})")
            reencode_video(source, path, gop=gop, short_side=short_side)
        paths.append(path)
    return paths
