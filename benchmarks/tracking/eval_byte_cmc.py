"""What BYTE and camera-motion compensation change: MOTA, IDF1, HOTA and ID switches, per tracker option.

Inputs:

* MOT15 public detections (the SORT paper's) of TUD-Campus and TUD-Stadtmitte, the two MOT15 train sequences
  whose ground truth ships with py-motmetrics (``motmetrics/data``); static cameras, no frames, so only BYTE
  runs there. The detections score 0.5-1, so BYTE's thresholds are ``high=0.8``, ``low=0.5``; "thresholded"
  is SORT fed only the detections scoring at least 0.8 (what BYTE's high bar alone gives).
* Synthetic sequences with a moving camera (``camera_scenes.py``: panning with jumps of up to 40 px, 15 % of
  the people detected with a low score); BYTE at ByteTrack's ``high=0.6``, ``low=0.1``.

Metrics: vidlearn's (equal to TrackEval's), COMBINED over the sequences of each input.

    python benchmarks/tracking/eval_byte_cmc.py [--sequences 3] [--frames 150]
"""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

import numpy as np
from camera_scenes import camera_sequence
from scenes import shared_data_root

from vidlearn.tracking import DeepSort, Sort
from vidlearn.tracking.boxes import mot_to_xyxy
from vidlearn.tracking.formats import read_mot, tracks_to_rows
from vidlearn.tracking.metrics import evaluate_mot


def run_tracker(tracker, detections, frames=None, threshold=None):
    out_frames, out_ids, out_boxes = [], [], []
    for t, (boxes, scores, features) in enumerate(detections):
        if threshold is not None:
            keep = scores >= threshold
            boxes, scores, features = boxes[keep], scores[keep], None if features is None else features[keep]
        image = None if frames is None else frames[t]
        tracks = tracker.update(boxes, scores, features, image=image)
        out_frames.append(np.full(len(tracks.ids), t + 1))
        out_ids.append(tracks.ids)
        out_boxes.append(tracks.boxes)
    return tracks_to_rows(np.concatenate(out_frames), np.concatenate(out_ids), np.concatenate(out_boxes))


def score(sequences: dict) -> dict:
    combined = evaluate_mot(sequences, benchmark="MOT15")["COMBINED"]
    return {"MOTA": 100 * combined["MOTA"], "IDF1": 100 * combined["IDF1"], "HOTA": 100 * np.mean(combined["HOTA"]),
            "IDSW": int(combined["IDSW"])}


def mot15_inputs() -> dict:
    spec = importlib.util.find_spec("motmetrics")
    if spec is None:
        return {}
    gt_root = Path(spec.origin).parent / "data"
    inputs = {}
    for name in ("TUD-Campus", "TUD-Stadtmitte"):
        det = read_mot(shared_data_root() / "tracking" / "mot" / "MOT15" / "train" / name / "det" / "det.txt", "det")
        gt = read_mot(gt_root / name / "gt.txt", "gt")
        length = max(gt.num_frames, det.num_frames)
        rows, offsets = det.frame_bounds(length)
        boxes = mot_to_xyxy(rows.boxes)
        detections = [(boxes[offsets[f]:offsets[f + 1]], rows.scores[offsets[f]:offsets[f + 1]], None)
                      for f in range(length)]
        inputs[name] = (gt, detections, length)
    return inputs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sequences", type=int, default=3)
    parser.add_argument("--frames", type=int, default=150)
    args = parser.parse_args()
    table = []

    mot15 = mot15_inputs()
    if mot15:
        configs = {
            "SORT (paper: every detection)": (lambda: Sort(), None),
            "SORT, detections >= 0.8": (lambda: Sort(), 0.8),
            "SORT + BYTE (0.8 / 0.5)": (lambda: Sort(byte=True, high_threshold=0.8, low_threshold=0.5), None),
            "DeepSORT (no features), min_confidence 0.8": (lambda: DeepSort(min_confidence=0.8), None),
            "DeepSORT (no features) + BYTE (0.8 / 0.5)": (
                lambda: DeepSort(min_confidence=0.8, byte=True, low_threshold=0.5), None),
        }
        for label, (make, threshold) in configs.items():
            sequences = {name: (gt, run_tracker(make(), dets, threshold=threshold), n)
                         for name, (gt, dets, n) in mot15.items()}
            table.append(("MOT15 TUD-Campus + TUD-Stadtmitte", label, score(sequences)))
    else:
        print("py-motmetrics is not installed: no MOT15 ground truth, MOT15 rows skipped")

    scenes = {f"camera-{seed}": camera_sequence(args.frames, seed=seed) for seed in range(args.sequences)}
    configs = {
        "SORT, detections >= 0.6": (lambda: Sort(), 0.6, False),
        "SORT + BYTE": (lambda: Sort(byte=True), None, False),
        "SORT + CMC (ecc), detections >= 0.6": (lambda: Sort(cmc="ecc"), 0.6, True),
        "SORT + CMC (orb), detections >= 0.6": (lambda: Sort(cmc="orb"), 0.6, True),
        "SORT + BYTE + CMC (ecc)": (lambda: Sort(byte=True, cmc="ecc"), None, True),
        "DeepSORT, min_confidence 0.6": (lambda: DeepSort(min_confidence=0.6), None, False),
        "DeepSORT + BYTE": (lambda: DeepSort(min_confidence=0.6, byte=True), None, False),
        "DeepSORT + CMC (ecc)": (lambda: DeepSort(min_confidence=0.6, cmc="ecc"), None, True),
        "DeepSORT + BYTE + CMC (ecc)": (lambda: DeepSort(min_confidence=0.6, byte=True, cmc="ecc"), None, True),
    }
    for label, (make, threshold, needs_frames) in configs.items():
        sequences = {}
        for name, scene in scenes.items():
            gt = tracks_to_rows(np.concatenate([np.full(len(ids), t + 1) for t, (ids, _) in enumerate(scene.gt)]),
                                np.concatenate([ids for ids, _ in scene.gt]),
                                np.concatenate([boxes for _, boxes in scene.gt]))
            result = run_tracker(make(), scene.detections, scene.frames if needs_frames else None, threshold)
            sequences[name] = (gt, result, len(scene.frames))
        table.append((f"synthetic moving camera ({args.sequences} x {args.frames} frames)", label, score(sequences)))

    print("| input | tracker | MOTA | IDF1 | HOTA | IDSW |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    for data, label, numbers in table:
        print(f"| {data} | {label} | {numbers['MOTA']:.1f} | {numbers['IDF1']:.1f} | {numbers['HOTA']:.1f} | "
              f"{numbers['IDSW']} |")


if __name__ == "__main__":
    main()
