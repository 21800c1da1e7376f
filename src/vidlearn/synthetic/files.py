"""Write a motion-class dataset to disk as real video files with MMAction2-style list files.

Layout under ``root``::

    videos/<class>/<split>_<index>.mp4   one clip per file
    train.txt, test.txt                  "videos/<class>/<name>.mp4 <label>" per line
    classes.txt                          one class name per line, line i is label i
    .complete.json                       the generation parameters, written last

A ``root`` whose ``.complete.json`` holds the same parameters is returned as is (nothing is rendered),
so a demo or a test can call :func:`write_motion_dataset` every time.
"""

from __future__ import annotations

import json
import os
import shutil
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import torch

from vidlearn.synthetic.motion import get_preset, render_motion_clip
from vidlearn.video.writer import write_video

__all__ = ["write_motion_dataset"]

MARKER = ".complete.json"
_FORMAT_VERSION = 2  # 2: byte-deterministic x264 files
# x264 at CRF 12 keeps one-pixel motion of small shapes at 32x32 (higher CRFs smear it into the
# background); intra period = clip length keeps every clip seekable from its first frame.
_CRF = 12


def _auto_codec() -> str:
    import av

    for name in ("libx264", "mpeg4"):
        if name in av.codecs_available:
            return name
    raise RuntimeError("no H.264 (libx264) or MPEG-4 Part 2 encoder in this FFmpeg build; pass codec=")


def _one_thread() -> None:
    torch.set_num_threads(1)  # each worker process has one core; more threads only contend


def _write_chunk(jobs: list[tuple[str, int, str]], params: dict) -> None:
    for split, index, path in jobs:
        rendered, _ = render_motion_clip(
            index,
            preset=params["preset"],
            num_frames=params["num_frames"],
            size=tuple(params["size"]),
            seed=params["seed"],
            split=split,
        )
        # write_video is atomic (temporary file, then rename): a killed run leaves no half clip.
        write_video(
            path,
            rendered.frames,
            params["fps"],
            codec=params["codec"],
            gop=params["num_frames"],
            bframes=0,
            crf=params["crf"],
            deterministic=True,  # the same seed gives the same bytes
        )


def _atomic_text(path: Path, text: str) -> None:
    part = path.with_name(path.name + ".part")
    part.write_text(text)
    os.replace(part, path)


def write_motion_dataset(
    root: str | os.PathLike,
    *,
    preset: str = "motion8",
    num_train: int = 800,
    num_test: int = 200,
    num_frames: int = 16,
    size: tuple[int, int] | int = (32, 32),
    fps: int = 25,
    seed: int = 0,
    codec: str = "auto",
    workers: int = 1,
) -> dict[str, Path]:
    """Render a motion-class dataset (see :mod:`vidlearn.synthetic.motion`) into ``root`` as MP4 files.

    Clip ``i`` of a split is the same clip as item ``i`` of ``SyntheticMotionDataset(..., split=...)``
    with the same preset, frames, size and seed (labels ``i % num_classes``, balanced). ``codec="auto"``
    is H.264 (libx264, CRF 12, no B-frames, one keyframe per clip) or MPEG-4 where x264 is missing.
    ``workers`` > 1 renders and encodes in that many processes.

    Returns ``{"root", "train", "test", "classes", "videos"}`` paths (the two list files, the class file
    and the video folder). A ``root`` already complete with the same parameters is not regenerated; one
    complete with other parameters is regenerated from scratch.
    """
    preset_spec = get_preset(preset)
    if isinstance(size, int):
        size = (size, size)
    if len(size) != 2 or min(size) < 8 or size[0] % 2 or size[1] % 2:
        raise ValueError(f"size must be (height, width) with even sides >= 8 (yuv420p), got {size}")
    for name, value in (("num_train", num_train), ("num_test", num_test)):
        if value < 0:
            raise ValueError(f"{name} must be >= 0, got {value}")
    if num_frames < 1 or fps < 1 or workers < 1:
        raise ValueError(f"num_frames, fps and workers must be >= 1, got {num_frames}, {fps}, {workers}")
    root = Path(root)
    paths = {
        "root": root,
        "train": root / "train.txt",
        "test": root / "test.txt",
        "classes": root / "classes.txt",
        "videos": root / "videos",
    }
    params = {
        "format_version": _FORMAT_VERSION,
        "preset": preset_spec.name,
        "num_train": num_train,
        "num_test": num_test,
        "num_frames": num_frames,
        "size": [int(size[0]), int(size[1])],
        "fps": fps,
        "seed": seed,
        "codec": _auto_codec() if codec == "auto" else codec,
        "crf": None,
    }
    # Near-transparent quality so that one-pixel motion survives: x264 CRF 12, MPEG-4 qscale 2.
    params["crf"] = {"libx264": _CRF, "h264": _CRF, "mpeg4": 2}.get(params["codec"])
    marker = root / MARKER
    if marker.is_file():
        try:
            previous = json.loads(marker.read_text())
        except (OSError, json.JSONDecodeError):
            previous = None
        if previous == params:
            return paths
        # Ours (it has our marker) but made with other parameters: start over so no stale clip stays.
        marker.unlink()
        shutil.rmtree(paths["videos"], ignore_errors=True)

    classes = preset_spec.classes
    for name in classes:
        (paths["videos"] / name).mkdir(parents=True, exist_ok=True)
    jobs: list[tuple[str, int, str]] = []
    lists: dict[str, list[str]] = {"train": [], "test": []}
    for split, count in (("train", num_train), ("test", num_test)):
        for index in range(count):
            label = index % len(classes)
            relative = f"videos/{classes[label]}/{split}_{index:06d}.mp4"
            jobs.append((split, index, str(root / relative)))
            lists[split].append(f"{relative} {label}\n")

    if workers == 1 or len(jobs) < 2:
        _write_chunk(jobs, params)
    else:
        chunks = [jobs[i::workers] for i in range(workers)]
        with ProcessPoolExecutor(workers, mp_context=get_context("spawn"), initializer=_one_thread) as pool:
            for future in [pool.submit(_write_chunk, chunk, params) for chunk in chunks]:
                future.result()  # re-raises a worker's error here

    _atomic_text(paths["classes"], "".join(f"{name}\n" for name in classes))
    for split in ("train", "test"):
        _atomic_text(paths[split], "".join(lists[split]))
    _atomic_text(marker, json.dumps(params, indent=1, sort_keys=True) + "\n")
    return paths
