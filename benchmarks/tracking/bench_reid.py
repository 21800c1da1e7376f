"""Re-ID embedding throughput of ``deepsort_reid`` (Wojke et al. 2017's network) on the CPU: crops per second
and peak memory, fp32 eager against the fast path (``channels_last`` + bf16 autocast).

Each variant runs in its own process (so its peak resident memory is its own): a warm-up batch, then the
best of ``--repeats`` timed passes over ``--batches`` batches of ``--batch`` crops of 128x64. The fast
path pays off only on CPUs with bf16 instructions (``avx512_bf16`` / AMX, listed by ``machine_info``).

    python benchmarks/tracking/bench_reid.py [--batch 32] [--batches 8] [--repeats 3] [--threads N]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import resource
import subprocess
import sys
import time

import torch

from vidlearn.models import create
from vidlearn.utils import machine_info


def measure(variant: str, batch: int, batches: int, repeats: int, threads: int) -> dict:
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = create("deepsort_reid").eval()
    crops = torch.rand(batch, 3, 128, 64)
    fast = variant == "fast"
    if fast:
        model = model.to(memory_format=torch.channels_last)
        crops = crops.contiguous(memory_format=torch.channels_last)
    autocast = torch.autocast("cpu", dtype=torch.bfloat16) if fast else contextlib.nullcontext()
    with torch.inference_mode(), autocast:
        reference = model.embed(crops).float()
        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            for _ in range(batches):
                model.embed(crops)
            best = min(best, time.perf_counter() - start)
    return {"crops_per_s": batch * batches / best, "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "features": reference[:4].tolist()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--batches", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--variant", choices=("fp32", "fast"), default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.variant:
        print(json.dumps(measure(args.variant, args.batch, args.batches, args.repeats, args.threads)))
        return
    print(machine_info())
    results = {}
    for variant in ("fp32", "fast"):
        command = [sys.executable, __file__, "--variant", variant, "--batch", str(args.batch), "--batches",
                   str(args.batches), "--repeats", str(args.repeats), "--threads", str(args.threads)]
        results[variant] = json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)
    fp32, fast = torch.tensor(results["fp32"]["features"]), torch.tensor(results["fast"]["features"])
    cosine = torch.nn.functional.cosine_similarity(fp32, fast, dim=1).min().item()
    print(f"\nbatch {args.batch}, {args.threads} threads; fast-path features vs fp32: min cosine {cosine:.4f}\n")
    print("| deepsort_reid embedding (128x64 crops) | crops/s | ratio | peak RSS MiB |")
    print("| --- | ---: | ---: | ---: |")
    base = results["fp32"]["crops_per_s"]
    for variant, label in (("fp32", "fp32 eager"), ("fast", "channels_last + bf16 autocast")):
        r = results[variant]
        print(f"| {label} | {r['crops_per_s']:.0f} | {r['crops_per_s'] / base:.2f}x | {r['peak_rss_mib']:.0f} |")


if __name__ == "__main__":
    main()
