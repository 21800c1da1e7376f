"""Upscaling speed and memory: FRVSR against per-frame SISR and bicubic, fp32 against the fast path.

    python benchmarks/superres/bench_upscale.py [--frames 3] [--sizes 720p 1080p] [--memory-frames 100 1000]
                                                [--out benchmarks/superres/results.json]

One process, the models of TecoGAN's FRVSR size (SRNet 10-64; speed does not depend on the weights):

* output frames per second at 720p (320x180 LR) and 1080p (480x270 LR) output, streamed frame by
  frame as ``vidlearn upscale`` runs them, after one warm-up frame; fp32 and the fast path (CPU:
  channels_last + bf16 autocast; GPU: fp16 autocast), their ratio and the PSNR between the two
  paths' outputs (how much the fast path changes the pixels);
* the peak resident memory of ``vidlearn upscale`` (a subprocess under ``/usr/bin/time -f %M``) over videos of 100 and 1,000 frames at a small size, which
  must not grow with the length.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from vidlearn.models import create, save_weights
from vidlearn.superres.inference import StreamingUpscaler, bicubic_upscale
from vidlearn.utils import machine_info

SIZES = {"720p": (180, 320), "1080p": (270, 480)}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def frames_per_second(model: torch.nn.Module | None, lr: torch.Tensor, *, fast: bool) -> tuple[float, torch.Tensor]:
    """Streamed output frames per second over ``lr (T, 3, h, w)`` (the first frame is a warm-up)."""
    if model is None:
        with torch.inference_mode():
            bicubic_upscale(lr[:1], 4)
            _sync(lr.device)
            started = time.perf_counter()
            outputs = [bicubic_upscale(frame[None], 4)[0] for frame in lr[1:]]
            _sync(lr.device)
        return (len(lr) - 1) / (time.perf_counter() - started), torch.stack(outputs)
    upscaler = StreamingUpscaler(model, scale=4, fast=fast)
    upscaler.push(lr[0])
    _sync(lr.device)
    started = time.perf_counter()
    outputs = [out for frame in lr[1:] for out in upscaler.push(frame)]
    _sync(lr.device)
    return (len(lr) - 1) / (time.perf_counter() - started), torch.stack(outputs)


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    mse = float(((a.double() - b.double()) ** 2).mean())
    return float("inf") if mse == 0 else 10 * np.log10(1.0 / mse)


def peak_memory(frames: int, work: Path, size: tuple[int, int] = (48, 64)) -> float:
    """Peak RSS (MiB) of ``vidlearn upscale`` on a ``frames``-frame video of ``size`` LR pixels, tiny FRVSR.

    Measured by ``/usr/bin/time -f %M`` around the command: Linux carries a forked process's high-water
    mark across ``exec``, so the ``ru_maxrss`` of a child forked from this (large) process would report
    this process's peak instead.
    """
    from vidlearn.video import VideoWriter

    video = work / f"in_{frames}.mp4"
    rng = np.random.default_rng(0)
    with VideoWriter(video, 25) as writer:
        for _ in range(frames):
            writer.write(rng.integers(0, 255, (*size, 3), dtype=np.uint8))
    checkpoint = work / "tiny.safetensors"
    if not checkpoint.exists():
        model = create("frvsr_3_64", num_blocks=1, num_filters=8)
        save_weights(model, checkpoint, metadata={"model": "frvsr_3_64", "kwargs": {"num_blocks": 1, "num_filters": 8},
                                                  "scale": 4})
    command = ["/usr/bin/time", "-f", "%M", sys.executable, "-m", "vidlearn.cli.main", "upscale", str(video),
               str(work / f"out_{frames}.mp4"), "--checkpoint", str(checkpoint), "--quiet", "--overwrite"]
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    return int(result.stderr.strip().splitlines()[-1]) / 1024.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=3, help="frames per measurement (+1 warm-up)")
    parser.add_argument("--sizes", nargs="*", default=list(SIZES), choices=list(SIZES))
    parser.add_argument("--memory-frames", nargs="*", type=int, default=[100, 1000])
    parser.add_argument("--memory-size", default="48x64", help="LR HEIGHTxWIDTH of the memory runs")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("results.json"))
    args = parser.parse_args()
    device = torch.device(args.device)
    torch.manual_seed(0)
    models = {"frvsr_10_64": create("frvsr_10_64", lr_skip="bicubic").eval().to(device),
              "sisr_10_64": create("sisr_10_64", lr_skip="bicubic").eval().to(device), "bicubic": None}
    rows = []
    for size in args.sizes:
        height, width = SIZES[size]
        lr = torch.rand(args.frames + 1, 3, height, width, device=device)
        for name, model in models.items():
            if device.type == "cuda":
                torch.cuda.reset_peak_memory_stats(device)
            fp32, out32 = frames_per_second(model, lr, fast=False)
            row = {"output": size, "model": name, "fp32_fps": fp32}
            if model is not None:
                fast, out_fast = frames_per_second(model, lr, fast=True)
                row.update(fast_fps=fast, fast_over_fp32=fast / fp32, psnr_fast_vs_fp32_db=psnr(out32.cpu(), out_fast.cpu()))
            if device.type == "cuda":  # the input and output frames of the run included
                row["cuda_peak_mib"] = torch.cuda.max_memory_allocated(device) / 2**20
            rows.append(row)
            print(json.dumps(row), flush=True)
    memory = {}
    with tempfile.TemporaryDirectory() as work:
        for frames in args.memory_frames:
            size = tuple(int(v) for v in args.memory_size.split("x"))
            memory[str(frames)] = peak_memory(frames, Path(work), size)  # type: ignore[arg-type]
            print(json.dumps({"upscale_frames": frames, "peak_rss_mib": memory[str(frames)]}), flush=True)
    load = list(os.getloadavg())
    result = {"rows": rows, "peak_rss_mib": memory, "device": str(device), "threads": torch.get_num_threads(),
              "load_average": load, "machine": machine_info().as_dict(),
              "fast_path": "CPU: channels_last + bf16 autocast; GPU: fp16 autocast",
              "memory_lr_size": args.memory_size,
              "rusage_self_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0}
    args.out.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
