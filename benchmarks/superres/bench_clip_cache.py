"""Training-clip cost with and without the frame cache (``data.cache_frames``), in one process on the same
sources and the same clips: the milliseconds one ``SRClipDataset`` item takes (clip, flips, BD x4
degradation), the ratio, the cache's first fill, and the machine.

    python benchmarks/superres/bench_clip_cache.py [--clips 80] [--crops 64 128] [--threads 1] [SOURCE ...]

Sources default to the six training videos of ``frvsr_vs_sisr_cpu.sh`` (listed in ``train_clips.txt``) in the
shared test material (``VIDLEARN_CLIPS``, else ``../shared/data/clips``) plus ``synthetic`` twice, as that
comparison trains.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import torch

from vidlearn.superres.data import SRClipDataset, clip_sources
from vidlearn.superres.degrade import Degradation
from vidlearn.utils import machine_info


def train_clips() -> list[str]:
    """The six training videos, relative to the clips folder (``train_clips.txt``, shared with the script)."""
    lines = Path(__file__).with_name("train_clips.txt").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def item_ms(dataset: SRClipDataset, first: int, count: int) -> float:
    start = time.perf_counter()
    for index in range(first, first + count):
        dataset[index]
    return (time.perf_counter() - start) / count * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sources", nargs="*", help="data.train_sources entries (default: see above)")
    parser.add_argument("--clips", type=int, default=80, help="items timed per crop size, after one per source")
    parser.add_argument("--crops", type=int, nargs="+", default=[64, 128], help="HR crop sizes")
    parser.add_argument("--clip-len", type=int, default=10)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (a data worker's share)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    root = Path(os.environ.get("VIDLEARN_CLIPS", "../shared/data/clips"))
    names = args.sources or ["synthetic", "synthetic", *(str(root / clip) for clip in train_clips())]
    degradation = Degradation("bd", 4, sigma=1.5)
    rows = []
    for crop in args.crops:
        times = {}
        for cache in (False, True):
            dataset = SRClipDataset(clip_sources(names, cache_frames=cache), degradation=degradation,
                                    clip_len=args.clip_len, crop_size=crop, samples=10**9)
            warm = len(dataset.sources)  # one item per source: opens the files and, cached, fills the cache
            start = time.perf_counter()
            for index in range(warm):
                dataset[index]
            fill = time.perf_counter() - start
            times[cache] = item_ms(dataset, warm, args.clips)
            if cache:
                first = [dataset[warm + i]["hr"] for i in range(3)]
        plain = SRClipDataset(clip_sources(names), degradation=degradation, clip_len=args.clip_len, crop_size=crop,
                              samples=10**9)
        same = all(torch.equal(plain[warm + i]["hr"], first[i]) for i in range(3))
        rows.append({"crop": crop, "decode_ms": round(times[False], 2), "cached_ms": round(times[True], 2),
                     "ratio": round(times[False] / times[True], 2), "cache_fill_s": round(fill, 2),
                     "same_clips": same})
        print(f"crop {crop}: decode {times[False]:.1f} ms/clip, cached {times[True]:.1f} ms/clip, "
              f"{times[False] / times[True]:.1f}x; cache filled in {fill:.1f} s; same clips: {same}", flush=True)
    print(json.dumps({"rows": rows, "sources": names, "clip_len": args.clip_len, "clips": args.clips,
                      "threads": args.threads, "machine": machine_info().as_dict()}))


if __name__ == "__main__":
    main()
