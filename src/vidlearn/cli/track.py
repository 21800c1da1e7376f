"""``vidlearn track``: SORT or DeepSORT over a video, a MOTChallenge sequence or a detection file.

    vidlearn track [INPUT] --tracker sort|deepsort [--detections det.txt|det.npy | --detector NAME
                   --detector-weights FILE] [--reid CHECKPOINT|MODEL.onnx|NAME:WEIGHTS]
                   [--seqinfo seqinfo.ini | --num-frames N] --output result.txt [--video overlay.mp4]

INPUT is a video file or a MOTChallenge sequence folder (``det/det.txt``, ``seqinfo.ini``, frames in
``img1/``). Detections are MOTChallenge rows (``frame, -1, x, y, w, h, score, ...``; columns 11 onwards, or
deep_sort's ``.npy`` layout ``(N, 10 + D)``, are appearance features) or come from a torchvision detector
with local weights. ``--reid`` computes DeepSORT's appearance features from the frames. With detections
from a file, no re-ID model and no overlay video, no image is read. The work is :mod:`vidlearn.tracking.run`'s
and :mod:`vidlearn.tracking.pipeline`'s.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from vidlearn.cli.sot import TRACKERS as SOT_TRACKERS

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``track`` command to the ``vidlearn`` parser."""
    parser = subparsers.add_parser("track", help="multi-object tracking (SORT, DeepSORT) of a video, a sequence "
                                   "or a detection file", description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("input", type=Path, nargs="?", default=None, metavar="INPUT",
                        help="a video file or a MOTChallenge sequence folder (det/det.txt, seqinfo.ini, img1/)")
    parser.add_argument("--tracker", choices=("sort", "deepsort", *SOT_TRACKERS), required=True,
                        help="sort or deepsort (multi-object), or a single-object tracker (as vidlearn sot track)")
    single = parser.add_argument_group("single-object trackers (goturn, rolo, ...; as vidlearn sot track)")
    single.add_argument("--init", default=None, metavar="x,y,w,h",
                        help="the target's box in the first frame (default: an OTB folder's first ground-truth box)")
    single.add_argument("--checkpoint", type=Path, default=None, help="model.safetensors of a trained GOTURN or ROLO")
    single.add_argument("--weights-dir", type=Path, default=None, help="NanoTrack's ONNX folder")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--detections", type=Path, default=None,
                        help="det.txt (features in columns 11+ optional) or deep_sort's .npy")
    source.add_argument("--detector", default=None, metavar="NAME",
                        help="a torchvision detector run on the frames (e.g. fasterrcnn_resnet50_fpn)")
    parser.add_argument("--detector-weights", type=Path, default=None, metavar="FILE",
                        help="the detector's state_dict file (nothing is downloaded)")
    parser.add_argument("--classes", default="person",
                        help="comma-separated COCO class names or ids the detector keeps (default person; "
                        "'all' keeps every class)")
    parser.add_argument("--score-threshold", type=float, default=0.5,
                        help="the detector's score threshold (default 0.5)")
    parser.add_argument("--reid", default=None, metavar="MODEL",
                        help="appearance features from the frames: a deepsort_reid checkpoint, an ONNX re-ID "
                        "model (e.g. OSNet), or TORCHVISION_NAME:WEIGHTS (DeepSORT only)")
    parser.add_argument("--reid-crop", choices=("auto", "keep-aspect", "stretch"), default="auto",
                        help="how boxes become crops: widened to the crop's aspect first (deep_sort's way, the "
                        "default for deepsort_reid) or stretched (torchreid's way, the default for ONNX and "
                        "torchvision models; the synthetic recipe's deepsort_reid needs it)")
    parser.add_argument("--video", type=Path, default=None, metavar="OVERLAY",
                        help="write the frames with the tracks drawn (ids, a colour per id, trails)")
    parser.add_argument("--device", default="cpu", help="device of the detector and re-ID model (default cpu)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
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
    extra = parser.add_argument_group("beyond the papers (off by default; see docs/tracking.md)")
    extra.add_argument("--byte", action="store_true",
                       help="BYTE's second association of low-score detections (ByteTrack, Zhang et al. 2022)")
    extra.add_argument("--cmc", choices=("ecc", "orb"), default=None,
                       help="camera-motion compensation estimated from the frames (needs INPUT with frames)")
    parser.add_argument("--max-age", type=int, default=None,
                        help="frames a track survives unseen (default: SORT 1, DeepSORT 30)")
    parser.set_defaults(func=_run)


def _tracker_params(args: argparse.Namespace) -> dict:
    if args.tracker == "sort":
        params = {"min_hits": args.min_hits, "iou_threshold": args.iou_threshold}
    else:
        params = {"min_confidence": args.min_confidence, "nms_max_overlap": args.nms_max_overlap,
                  "max_cosine_distance": args.max_cosine_distance,
                  "nn_budget": args.nn_budget or None, "max_iou_distance": args.max_iou_distance,
                  "n_init": args.n_init}
    if args.max_age is not None:
        params["max_age"] = args.max_age
    if args.byte:
        params["byte"] = True
    if args.cmc is not None:
        params["cmc"] = args.cmc
    return params


def _run(args: argparse.Namespace) -> int:
    from vidlearn.cli.errors import CLIError, user_errors

    if args.tracker in SOT_TRACKERS:
        from vidlearn.cli.sot import track_command

        if args.input is None:
            raise CLIError(f"--tracker {args.tracker} follows one target in a video or a frame folder: give INPUT")
        args.no_progress = args.quiet
        return track_command(args)
    given = [option for option, value in (("--init", args.init), ("--checkpoint", args.checkpoint),
                                          ("--weights-dir", args.weights_dir)) if value is not None]
    if given:
        raise CLIError(f"{given[0]} is for the single-object trackers ({', '.join(SOT_TRACKERS)}), "
                       f"not --tracker {args.tracker}")
    from vidlearn.tracking.formats import read_seqinfo, write_mot
    from vidlearn.tracking.run import create_tracker, read_detections, track_detections

    with user_errors():
        sequence = None
        detections_path, seqinfo_path = args.detections, args.seqinfo
        if args.input is not None:
            from vidlearn.tracking.pipeline import open_sequence

            if args.input.is_file() and args.input.suffix.lower() in (".txt", ".npy"):
                raise CLIError(f"{args.input} is not a video or a MOTChallenge sequence folder (a detection "
                               "file goes after --detections)")
            sequence = open_sequence(args.input)
            if detections_path is None and args.detector is None:
                detections_path = sequence.detections
            if seqinfo_path is None and args.num_frames is None and sequence.seqinfo is not None:
                seqinfo_path = sequence.seqinfo
        if args.detector is not None and args.detector_weights is None:
            raise CLIError(f"--detector {args.detector} needs --detector-weights FILE (nothing is downloaded)")
        if args.detector is None and detections_path is None:
            raise CLIError("give --detections FILE, --detector NAME, or a sequence folder holding det/det.txt")
        if detections_path is not None and not detections_path.is_file():
            raise CLIError(f"detections file {detections_path} does not exist")
        if args.reid is not None and args.tracker != "deepsort":
            raise CLIError("--reid gives appearance features, which only --tracker deepsort uses")
        num_frames = args.num_frames
        if num_frames is not None and num_frames < 1:
            raise CLIError(f"--num-frames must be >= 1, got {num_frames}")
        if seqinfo_path is not None:
            num_frames = read_seqinfo(seqinfo_path).seq_length
        elif sequence is not None and sequence.video is not None and num_frames is None:
            num_frames = sequence.num_frames
        tracker = create_tracker(args.tracker, **_tracker_params(args))
        needs_pixels = any(value is not None for value in (args.detector, args.reid, args.video, args.cmc))
        detections = read_detections(detections_path, num_frames) if detections_path is not None else None
        if not needs_pixels:
            use_features = args.tracker == "deepsort" and not args.no_features and detections.features is not None
            rows = track_detections(tracker, detections, num_frames, use_features=use_features)
            write_mot(args.output, rows)
            appearance = (f", appearance features ({detections.features.shape[1]}-d)" if use_features
                          else ", no appearance features" if args.tracker == "deepsort" else "")
            length = num_frames or detections.rows.num_frames
            print(f"{args.tracker}: {length} frames, {len(detections.rows)} detections{appearance} -> "
                  f"{len(set(rows.ids.tolist()))} tracks, {len(rows)} rows -> {args.output}")
            return 0
        rows, used, appearance, length = _track_frames(args, sequence, tracker, detections, num_frames)
        write_mot(args.output, rows)
    video = f", overlay -> {args.video}" if args.video is not None else ""
    print(f"{args.tracker}: {length} frames, {len(used)} detections{appearance} -> "
          f"{len(set(rows.ids.tolist()))} tracks, {len(rows)} rows -> {args.output}{video}")
    return 0


def _track_frames(args, sequence, tracker, detections, num_frames):
    """The path that reads pixels: a detector, a re-ID model or an overlay video."""
    from vidlearn.cli.errors import CLIError

    if sequence is None or not sequence.has_frames:
        where = "no INPUT was given" if sequence is None else f"{args.input} has no frames (no img1/, no video)"
        raise CLIError(f"--detector, --reid, --video and --cmc need the frames, and {where}")
    if num_frames is not None and num_frames != sequence.num_frames and sequence.num_frames:
        sequence.num_frames = min(num_frames, sequence.num_frames)
    detector = embedder = None
    if args.detector is not None:
        from vidlearn.cli.sot import parse_classes
        from vidlearn.tracking.detectors import TorchvisionDetector

        detector = TorchvisionDetector(args.detector, args.detector_weights, classes=parse_classes(args.classes),
                                       score_threshold=args.score_threshold, device=args.device)
    if args.reid is not None:
        from vidlearn.tracking.appearance import create_embedder

        keep_aspect = {"auto": None, "keep-aspect": True, "stretch": False}[args.reid_crop]
        embedder = create_embedder(args.reid, device=args.device, keep_aspect=keep_aspect)
    elif detections is not None and (args.no_features or args.tracker != "deepsort"):
        detections.features = None
    from vidlearn.tracking.pipeline import track_sequence

    overlay = None
    if args.video is not None:
        from vidlearn.tracking.overlay import OverlayWriter

        overlay = OverlayWriter(args.video, sequence.fps or 25.0)
    try:
        rows, used = track_sequence(tracker, sequence, detections=detections, detector=detector, embedder=embedder,
                                    on_frame=overlay, progress=not args.quiet)
    except BaseException as error:
        if overlay is not None:
            overlay.close(error)
        raise
    if overlay is not None:
        overlay.close()
    if args.tracker != "deepsort":
        appearance = ""
    elif embedder is not None:
        appearance = f", appearance features from {args.reid}"
    elif detections is not None and detections.features is not None:
        appearance = f", appearance features ({detections.features.shape[1]}-d)"
    else:
        appearance = ", no appearance features"
    return rows, used, appearance, sequence.num_frames
