"""Peak memory of multi-view evaluation as ``num_clips`` grows: chunked (vidlearn) against all views at once.

Every setting runs in a fresh subprocess, which reports its resident-set high-water mark
(``ru_maxrss``) after scoring one video with ``num_clips x num_crops`` views. "all at once" builds every
view before the forward pass, as a naive multi-view test does (open-mmlab/mmaction2#257);
"chunked" is :func:`vidlearn.recognition.evaluation.evaluate_videos` with ``chunk_size`` views per
forward pass, the video decoded once.

    python benchmarks/evaluation/bench_eval_memory.py [--video PATH] [--clips 1 5 10 25 50]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]


def _make_video(path: Path, seconds: float = 10.0, fps: int = 30) -> None:
    from vidlearn.video.writer import write_video

    rng = np.random.default_rng(0)
    texture = rng.integers(0, 255, size=(256, 340 + int(seconds * fps), 3), dtype=np.uint8)
    frames = np.stack([texture[:, t : t + 340] for t in range(int(seconds * fps))])
    write_video(path, frames, fps)


def _child(video: str, num_clips: int, num_crops: int, chunk_size: int, model_name: str) -> None:
    import torch

    torch.set_num_threads(2)
    from vidlearn.models import Preprocessing, create
    from vidlearn.recognition.datasets import VideoClipDataset, VideoSample
    from vidlearn.recognition.evaluation import DecodedVideoDataset, evaluate_videos
    from vidlearn.recognition.preprocessing import build_clip_transform
    from vidlearn.video.sampling import UniformClipSampler

    model = create(model_name, num_classes=400).eval()
    videos = VideoClipDataset([VideoSample(path=video, label=0, key="v", source=video)], ["a"] * 400)
    sampler = UniformClipSampler(16, num_clips)
    transform = build_clip_transform(Preprocessing(resize_short_side=128, crop_size=112), train=False,
                                     num_crops=num_crops)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = evaluate_videos(model, DecodedVideoDataset(videos, sampler), transform, num_classes=400,
                             chunk_size=chunk_size)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"baseline_mib": before / 1024, "peak_mib": peak / 1024,
                      "views": int(result.metrics["num_views"])}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--video", help="a video file (default: a generated 10 s 340x256 clip)")
    parser.add_argument("--clips", type=int, nargs="+", default=[1, 5, 10, 25, 50])
    parser.add_argument("--crops", type=int, default=3, choices=[1, 3, 10])
    parser.add_argument("--chunk-size", type=int, default=8)
    parser.add_argument("--model", default="r3d_18")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        video, clips, crops, chunk = args.child
        _child(video, int(clips), int(crops), int(chunk), args.model)
        return
    with tempfile.TemporaryDirectory() as tmp:
        video = args.video
        if video is None:
            video = str(Path(tmp) / "clip.mp4")
            _make_video(Path(video))
        rows = []
        for clips in args.clips:
            row = {"num_clips": clips, "views": clips * args.crops}
            for label, chunk in (("chunked", args.chunk_size), ("all at once", clips * args.crops)):
                out = subprocess.run(
                    [sys.executable, __file__, "--model", args.model, "--child", video, str(clips), str(args.crops), str(chunk)],
                    check=True, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "2"},
                )
                report = json.loads(out.stdout.strip().splitlines()[-1])
                row[label] = report["peak_mib"] - report["baseline_mib"]
            rows.append(row)
            print(f"num_clips {clips:3d} ({row['views']:3d} views): chunked +{row['chunked']:7.1f} MiB, "
                  f"all at once +{row['all at once']:7.1f} MiB", flush=True)
    print(f"\n| num_clips | views | chunked (chunk {args.chunk_size}): peak RSS above model | all views at once |")
    print("| ---: | ---: | ---: | ---: |")
    for row in rows:
        print(f"| {row['num_clips']} | {row['views']} | {row['chunked']:.0f} MiB | {row['all at once']:.0f} MiB |")
    from vidlearn.utils import machine_info  # here: the parent measures nothing, the children import torch

    print(f"\nmachine: {machine_info()}; model {args.model}, "
          f"16x112x112 clips, {args.crops} crops")


if __name__ == "__main__":
    main()
