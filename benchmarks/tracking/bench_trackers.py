"""SORT and DeepSORT against their reference code, and other tracker libraries, on the same detections.

For each input the script runs the peer and vidlearn in one process, on the same per-frame arrays (each
library's own input objects are built before the clock starts), best of ``--repeats`` runs interleaved,
and prints frames per second and the ratio. Before timing it checks that vidlearn's ids and boxes equal the
reference's on every frame (abewley/sort for SORT, nwojke/deep_sort for DeepSORT). Peak memory is
``tracemalloc``'s peak of one extra run (NumPy's buffers are traced; the interpreter itself is not).

Inputs: the 11 MOT15 train sequences' public detections (5-30 boxes per frame), and a synthetic crowd of
30 pedestrians per frame (``scenes.crowd``, 128-d appearance features for DeepSORT).

    OPENBLAS_NUM_THREADS=1 python benchmarks/tracking/bench_trackers.py [--repeats 3] [--frames 500]
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # small matrices: threads only add overhead
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import time
import tracemalloc
from collections.abc import Callable

import numpy as np
from scenes import Frame, crowd, mot15_sequences

from vidlearn.tracking import DeepSort, Sort
from vidlearn.utils import machine_info

Runner = Callable[[], list]


# ---------------------------------------------------------------- SORT and its peers
def vidlearn_sort(sequences: list[list[Frame]], **options) -> Runner:
    def run() -> list:
        out = []
        for frames in sequences:
            tracker = Sort(**options)
            out.extend(tracker.update(boxes, scores) for boxes, scores, _ in frames)
        return out
    return run


def abewley_sort(sequences: list[list[Frame]]) -> Runner:
    from sort.tracker import KalmanBoxTracker, SortTracker

    # sort-track adds a class column to abewley/sort's [x1, y1, x2, y2, score] rows.
    inputs = [[np.concatenate([b, s[:, None], np.zeros((len(b), 1))], axis=1) for b, s, _ in frames]
              for frames in sequences]

    def run() -> list:
        out = []
        for frames in inputs:
            KalmanBoxTracker.count = 0
            tracker = SortTracker()
            out.extend(tracker.update(dets, None) for dets in frames)
        return out
    return run


def roboflow_sort(sequences: list[list[Frame]]) -> Runner:
    import supervision as sv
    from trackers import SORTTracker

    inputs = [[sv.Detections(xyxy=b.astype(np.float32), confidence=s.astype(np.float32)) for b, s, _ in frames]
              for frames in sequences]

    def run() -> list:
        out = []
        for frames in inputs:
            tracker = SORTTracker()
            out.extend(tracker.update(dets) for dets in frames)
        return out
    return run


def motpy_tracker(sequences: list[list[Frame]]) -> Runner:
    from motpy import Detection, MultiObjectTracker

    inputs = [[[Detection(box=box, score=score) for box, score in zip(b, s)] for b, s, _ in frames]
              for frames in sequences]

    def run() -> list:
        out = []
        for frames in inputs:
            tracker = MultiObjectTracker(dt=1 / 30)
            out.extend(tracker.step(dets) for dets in frames)
        return out
    return run


def check_sort(ours: list, reference: list) -> None:
    for index, (got, expected) in enumerate(zip(ours, reference)):
        np.testing.assert_array_equal(got.ids, expected[:, 4].astype(int), err_msg=f"SORT frame {index}")
        np.testing.assert_allclose(got.boxes, expected[:, :4], rtol=0, atol=1e-6)


# ---------------------------------------------------------------- DeepSORT
class _NwojkeDetection:
    """nwojke's ``Detection`` without its NumPy-1 ``np.float``."""

    def __init__(self, tlwh: np.ndarray, confidence: float, feature: np.ndarray) -> None:
        self.tlwh, self.confidence, self.feature = tlwh, confidence, feature

    def to_xyah(self) -> np.ndarray:
        ret = self.tlwh.copy()
        ret[:2] += ret[2:] / 2
        ret[2] /= ret[3]
        return ret


def nwojke_deep_sort(frames: list[Frame]) -> Runner:
    import deepsort.linear_assignment as assignment
    from deepsort.tracker import DeepSortTracker
    from scipy.optimize import linear_sum_assignment

    # The package was written for sklearn's linear_assignment, which returned a (K, 2) array.
    assignment.linear_assignment = lambda cost: np.stack(linear_sum_assignment(cost), axis=1)
    inputs = []
    for boxes, scores, features in frames:
        tlwh = boxes.copy()
        tlwh[:, 2:] -= tlwh[:, :2]
        inputs.append([_NwojkeDetection(tlwh[i], scores[i], features[i]) for i in range(len(boxes))])

    def run() -> list:
        tracker = DeepSortTracker("cosine", max_iou_distance=0.7, max_age=30, n_init=3, max_dist=0.2, nn_budget=100)
        out = []
        for detections in inputs:
            tracker.predict()
            tracker.update(detections)
            out.append([(t.track_id, t.to_tlwh()) for t in tracker.tracks
                        if t.is_confirmed() and t.time_since_update <= 1])
        return out
    return run


def vidlearn_deep_sort(frames: list[Frame]) -> Runner:
    def run() -> list:
        tracker = DeepSort(min_confidence=0.0)
        return [tracker.update(boxes, scores, features) for boxes, scores, features in frames]
    return run


def check_deep_sort(ours: list, reference: list) -> None:
    for index, (got, expected) in enumerate(zip(ours, reference)):
        np.testing.assert_array_equal(got.ids, [e[0] for e in expected], err_msg=f"DeepSORT frame {index}")
        if expected:
            boxes = np.array([e[1] for e in expected])
            boxes[:, 2:] += boxes[:, :2]
            np.testing.assert_allclose(got.boxes, boxes, rtol=0, atol=1e-6)


# ---------------------------------------------------------------- timing
def best_times(runners: list[Runner], repeats: int) -> list[float]:
    """Best wall time of each runner over ``repeats`` rounds, run interleaved so load hits all alike."""
    best = [float("inf")] * len(runners)
    for _ in range(repeats):
        for slot, run in enumerate(runners):
            start = time.perf_counter()
            run()
            best[slot] = min(best[slot], time.perf_counter() - start)
    return best


def peak_mib(run: Runner) -> float:
    tracemalloc.start()
    run()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20


def available(name: str) -> bool:
    try:
        __import__(name)
    except Exception:
        return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--frames", type=int, default=500, help="frames of the 30-box crowd")
    parser.add_argument("--boxes", type=int, default=30)
    args = parser.parse_args()

    print(machine_info())
    print(f"OPENBLAS_NUM_THREADS={os.environ['OPENBLAS_NUM_THREADS']}, best of {args.repeats}\n")
    mot15 = list(mot15_sequences().values())
    scene = crowd(args.boxes, args.frames)
    inputs = {"MOT15 train (11 seq)": mot15, f"crowd {args.boxes} boxes/frame": [scene]}
    rows = []
    for label, sequences in inputs.items():
        frames = sum(len(s) for s in sequences)
        boxes = sum(len(f[0]) for s in sequences for f in s) / frames
        ours, reference = vidlearn_sort(sequences), abewley_sort(sequences)
        check_sort(ours(), reference())
        peers = [("abewley/sort (sort-track 0.0.8)", reference)]
        if available("trackers"):
            peers.append(("roboflow trackers SORTTracker", roboflow_sort(sequences)))
        if available("motpy"):
            peers.append(("motpy MultiObjectTracker", motpy_tracker(sequences)))
        times = best_times([ours] + [run for _, run in peers], args.repeats)
        ours_memory = peak_mib(ours)
        for (name, run), seconds in zip(peers, times[1:]):
            rows.append((f"SORT, {label}, {boxes:.1f} boxes/frame", name, frames / seconds, frames / times[0],
                         seconds / times[0], peak_mib(run), ours_memory))
    if available("deepsort"):
        ours, reference = vidlearn_deep_sort(scene), nwojke_deep_sort(scene)
        check_deep_sort(ours(), reference())
        times = best_times([ours, reference], args.repeats)
        boxes = sum(len(f[0]) for f in scene) / len(scene)
        rows.append((f"DeepSORT (features given), crowd, {boxes:.1f} boxes/frame", "nwojke/deep_sort (deepsort 0.0.5)",
                     len(scene) / times[1], len(scene) / times[0], times[1] / times[0], peak_mib(reference),
                     peak_mib(ours)))

    print("| tracker, input | peer | peer frames/s | vidlearn frames/s | ratio | peer peak MiB | vidlearn peak MiB |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for task, peer, peer_rate, our_rate, ratio, peer_memory, our_memory in rows:
        print(f"| {task} | {peer} | {peer_rate:,.0f} | {our_rate:,.0f} | {ratio:.1f}x | {peer_memory:.2f} | "
              f"{our_memory:.2f} |")


if __name__ == "__main__":
    main()
