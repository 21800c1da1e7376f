"""``vidlearn track``: run SORT or DeepSORT over a detection file and write MOTChallenge results.

    vidlearn track [SEQ_DIR] --tracker sort|deepsort [--detections det.txt|det.npy]
                   [--seqinfo seqinfo.ini | --num-frames N] --output result.txt [tracker options]

SEQ_DIR, a MOTChallenge sequence folder, supplies ``det/det.txt`` and ``seqinfo.ini`` unless they are given.
Detections are MOTChallenge rows (``frame, -1, x, y, w, h, score, ...``); columns 11 onwards, or deep_sort's
``.npy`` layout ``(N, 10 + D)``, are appearance features, which DeepSORT uses for its matching cascade (SORT
ignores them). Without features DeepSORT matches on IoU alone. No images are read: detections in, tracks out.
The work is :mod:`vidlearn.tracking.run`'s.
"""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``track`` command to the ``vidlearn`` parser."""
    parser = subparsers.add_parser("track", help="multi-object tracking of a detection file (SORT, DeepSORT)",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("input", type=Path, nargs="?", default=None, metavar="SEQ_DIR",
                        help="a MOTChallenge sequence folder (det/det.txt, seqinfo.ini)")
    parser.add_argument("--tracker", choices=("sort", "deepsort"), required=True)
    parser.add_argument("--detections", type=Path, default=None,
                        help="det.txt (features in columns 11+ optional) or deep_sort's .npy")
    length = parser.add_mutually_exclusive_group()
    length.add_argument("--seqinfo", type=Path, default=None, help="seqinfo.ini giving the sequence length")
    length.add_argument("--num-frames", type=int, default=None, help="sequence length (default: last detection)")
    parser.add_argument("-o", "--output", type=Path, required=True, help="result file (MOTChallenge rows)")
    parser.add_argument("--no-features", action="store_true", help="ignore feature columns of the detections")
    sort = parser.add_argument_group("SORT (abewley/sort defaults)")
    sort.add_argument("--min-hits", type=int, default=3, help="matches before a track is reported (default 3)")
    sort.add_argument("--iou-threshold", type=float, default=0.3, help="minimum IoU of a match (default 0.3)")
    deep = parser.add_argument_group("DeepSORT (paper / deep_sort_app defaults)")
    deep.add_argument("--min-confidence", type=float, default=0.8,
                      help="drop detections scoring below this (default 0.8; set it for your detector)")
    deep.add_argument("--nms-max-overlap", type=float, default=1.0, help="NMS IoU threshold, 1 = off (default 1)")
    deep.add_argument("--max-cosine-distance", type=float, default=0.2, help="appearance gate (default 0.2)")
    deep.add_argument("--nn-budget", type=int, default=100, help="gallery size per track, 0 = unlimited (default 100)")
    deep.add_argument("--max-iou-distance", type=float, default=0.7, help="IoU gate as 1 - IoU (default 0.7)")
    deep.add_argument("--n-init", type=int, default=3, help="matches that confirm a track (default 3)")
    parser.add_argument("--max-age", type=int, default=None,
                        help="frames a track survives unseen (default: SORT 1, DeepSORT 30)")
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from vidlearn.cli.errors import CLIError, user_errors
    from vidlearn.tracking.formats import read_seqinfo, write_mot
    from vidlearn.tracking.run import create_tracker, read_detections, track_detections

    with user_errors():
        detections_path, seqinfo_path = args.detections, args.seqinfo
        if args.input is not None:
            if not args.input.is_dir():
                raise CLIError(f"{args.input} is not a MOTChallenge sequence folder (video input needs a "
                               "detector, which `vidlearn track` does not run yet: pass --detections)")
            detections_path = detections_path or args.input / "det" / "det.txt"
            if seqinfo_path is None and args.num_frames is None and (args.input / "seqinfo.ini").is_file():
                seqinfo_path = args.input / "seqinfo.ini"
        if detections_path is None:
            raise CLIError("give --detections FILE or a sequence folder SEQ_DIR holding det/det.txt")
        if not detections_path.is_file():
            raise CLIError(f"detections file {detections_path} does not exist")
        num_frames = args.num_frames
        if num_frames is not None and num_frames < 1:
            raise CLIError(f"--num-frames must be >= 1, got {num_frames}")
        if seqinfo_path is not None:
            num_frames = read_seqinfo(seqinfo_path).seq_length
        detections = read_detections(detections_path, num_frames)
        if args.tracker == "sort":
            params = {"min_hits": args.min_hits, "iou_threshold": args.iou_threshold}
            if args.max_age is not None:
                params["max_age"] = args.max_age
        else:
            params = {"min_confidence": args.min_confidence, "nms_max_overlap": args.nms_max_overlap,
                      "max_cosine_distance": args.max_cosine_distance,
                      "nn_budget": args.nn_budget or None, "max_iou_distance": args.max_iou_distance,
                      "n_init": args.n_init}
            if args.max_age is not None:
                params["max_age"] = args.max_age
        tracker = create_tracker(args.tracker, **params)
        use_features = args.tracker == "deepsort" and not args.no_features and detections.features is not None
        rows = track_detections(tracker, detections, num_frames, use_features=use_features)
        write_mot(args.output, rows)
    appearance = (f", appearance features ({detections.features.shape[1]}-d)" if use_features
                  else ", no appearance features" if args.tracker == "deepsort" else "")
    length = num_frames or detections.rows.num_frames
    print(f"{args.tracker}: {length} frames, {len(detections.rows)} detections{appearance} -> "
          f"{len(set(rows.ids.tolist()))} tracks, {len(rows)} rows -> {args.output}")
    return 0
