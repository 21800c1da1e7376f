"""``vidlearn mot eval`` against TrackEval (single process) on the 21 MOT17 train sequences, MPNTrack's results.

Both read the same files and compute HOTA, CLEAR and Identity; the script checks that every printed number
agrees (to 1e-9), then times each (best of ``--repeats``, interleaved) from reading the files to the
COMBINED row, and with ``--memory`` measures peak memory with ``tracemalloc``. TrackEval runs with ``USE_PARALLEL=False`` and
its printing and file output off; vidlearn runs what the command runs (``evaluate_folders`` then
``format_tables``).

    OPENBLAS_NUM_THREADS=1 python benchmarks/tracking/bench_mot_eval.py [--repeats 3] [--memory]
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import contextlib
import io
import time
import tracemalloc

import numpy as np
from scenes import shared_data_root

from vidlearn.tracking.metrics import evaluate_folders
from vidlearn.tracking.metrics.benchmark import format_tables, read_seqmap
from vidlearn.utils import machine_info


def trackeval_runner(root):
    import trackeval

    config = {
        "USE_PARALLEL": False, "PRINT_RESULTS": False, "PRINT_CONFIG": False, "TIME_PROGRESS": False,
        "OUTPUT_SUMMARY": False, "OUTPUT_DETAILED": False, "PLOT_CURVES": False, "DISPLAY_LESS_PROGRESS": True,
        "OUTPUT_EMPTY_CLASSES": False,
    }
    dataset_config = {
        "GT_FOLDER": str(root / "train"), "TRACKERS_FOLDER": str(root / "trackers"), "BENCHMARK": "MOT17",
        "SPLIT_TO_EVAL": "train", "SKIP_SPLIT_FOL": True, "SEQMAP_FILE": str(root / "seqmaps" / "MOT17-train.txt"),
        "TRACKERS_TO_EVAL": ["MPNTrack"], "TRACKER_SUB_FOLDER": "data", "PRINT_CONFIG": False,
    }
    metrics_config = {"METRICS": ["HOTA", "CLEAR", "Identity"], "THRESHOLD": 0.5, "PRINT_CONFIG": False}

    def run():
        with contextlib.redirect_stdout(io.StringIO()):
            evaluator = trackeval.Evaluator(config)
            dataset = trackeval.datasets.MotChallenge2DBox(dataset_config)
            metrics = [trackeval.metrics.HOTA(metrics_config), trackeval.metrics.CLEAR(metrics_config),
                       trackeval.metrics.Identity(metrics_config)]
            results, _ = evaluator.evaluate([dataset], metrics)
        return results["MotChallenge2DBox"]["MPNTrack"]
    return run


def vidlearn_runner(root):
    sequences = read_seqmap(root / "seqmaps" / "MOT17-train.txt")

    def run():
        results = evaluate_folders(root / "train", root / "trackers" / "MPNTrack", sequences=sequences)
        format_tables(results, tracker="MPNTrack")
        return results
    return run


def check(ours: dict, reference: dict) -> None:
    for sequence, by_class in reference.items():
        name = "COMBINED" if sequence == "COMBINED_SEQ" else sequence
        for family, fields in by_class["pedestrian"].items():
            if family == "Count":
                continue
            for field, value in fields.items():
                np.testing.assert_allclose(np.asarray(ours[name][field], dtype=float), np.asarray(value, dtype=float),
                                           rtol=0, atol=1e-9, err_msg=f"{name} {field}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of each (the first checks the numbers)")
    parser.add_argument("--memory", action="store_true", help="also run each once under tracemalloc (slow)")
    args = parser.parse_args()
    root = shared_data_root() / "tracking" / "mot" / "MOT17"
    print(machine_info())
    ours, reference = vidlearn_runner(root), trackeval_runner(root)
    start = time.perf_counter()
    ours_result = ours()
    best = [float("inf"), time.perf_counter() - start]
    start = time.perf_counter()
    check(ours_result, reference())
    best[0] = time.perf_counter() - start
    for _ in range(args.repeats - 1):
        for slot, run in enumerate((reference, ours)):
            start = time.perf_counter()
            run()
            best[slot] = min(best[slot], time.perf_counter() - start)
    combined = ours_result["COMBINED"]
    print(f"\nCOMBINED: HOTA {100 * np.mean(combined['HOTA']):.3f}, MOTA {100 * combined['MOTA']:.3f}, "
          f"IDF1 {100 * combined['IDF1']:.3f} (equal to TrackEval's); TrackEval {best[0]:.2f} s, vidlearn "
          f"{best[1]:.2f} s\n", flush=True)
    memory = ["-", "-"]
    if args.memory:
        for slot, run in enumerate((reference, ours)):
            tracemalloc.start()
            run()
            memory[slot] = f"{tracemalloc.get_traced_memory()[1] / 2**20:.0f}"
            tracemalloc.stop()
    print("| task | TrackEval 1.3.0 s | vidlearn s | ratio | TrackEval peak MiB | vidlearn peak MiB |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    print(f"| HOTA + CLEAR + Identity, 21 MOT17 train sequences (MPNTrack) | {best[0]:.2f} | {best[1]:.2f} | "
          f"{best[0] / best[1]:.1f}x | {memory[0]} | {memory[1]} |")

if __name__ == "__main__":
    main()
