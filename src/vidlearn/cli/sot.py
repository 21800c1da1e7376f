"""``vidlearn sot``: single-object tracking (GOTURN, ROLO, OpenCV's CSRT/KCF/MIL, NanoTrack) and OTB scores.

    vidlearn sot track INPUT --tracker goturn|rolo|csrt|kcf|mil|nanotrack|stay [--checkpoint FILE]
                       [--init x,y,w,h] --output results.txt [--video overlay.mp4]
                       [--detections boxes.txt | --detector NAME --detector-weights FILE]
    vidlearn sot eval RESULTS_DIR GT_ROOT [--json OUT] [--plots DIR]

INPUT is a video or a frame folder; an OTB-style sequence folder (``groundtruth_rect.txt``, ``img/``) starts
from its first ground-truth box unless ``--init`` (0-based pixels) is given. GOTURN and ROLO take the
``model.safetensors`` of a ``vidlearn train`` run; ROLO also the detector's boxes: a file (``--detections``,
OTB rows) or a torchvision detector run on the frames (``--detector NAME --detector-weights FILE``).
``sot eval`` scores ``RESULTS_DIR/SEQ.txt`` (or ``RESULTS_DIR/TRACKER/SEQ.txt`` for several trackers) against
``GT_ROOT/SEQ/groundtruth_rect.txt`` with the OTB one-pass protocol (Wu et al. 2013): success AUC and
precision at 20 px, printed in percent, written as JSON in fractions, with the OTB success and precision plots.
The work is :mod:`vidlearn.tracking.sot`'s.
"""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["TRACKERS", "parse_classes", "register", "track_command"]

TRACKERS = ("goturn", "rolo", "csrt", "kcf", "mil", "nanotrack", "stay")


def track_command(args: argparse.Namespace) -> int:
    """Run ``sot track`` from parsed arguments; another command (``vidlearn track --tracker goturn``) may call
    it with its own namespace: ``input``, ``tracker`` and ``output`` are needed, the rest default."""
    from vidlearn.cli.errors import note_emulated_bf16, user_errors

    option = vars(args).get
    device = option("device") or "cpu"
    if option("fast") and args.tracker == "goturn" and device.startswith("cpu"):
        note_emulated_bf16("sot track", "--fast", "without --fast")
    with user_errors():
        from vidlearn.tracking.sot.run import parse_box, track_input

        init = option("init") or option("init_box")
        boxes = track_input(args.input, tracker=args.tracker, output=args.output,
                            init=None if init is None else parse_box(init), checkpoint=option("checkpoint"),
                            weights_dir=option("weights_dir"), detections=option("detections"), video=option("video"),
                            fast=bool(option("fast")), device=device,
                            progress=not option("no_progress"), detector=option("detector"),
                            detector_weights=option("detector_weights"), classes=parse_classes(option("classes")),
                            score_threshold=option("score_threshold") if option("score_threshold") is not None else 0.5)
    print(f"{len(boxes)} boxes -> {args.output}" + (f"; overlay -> {option('video')}" if option("video") else ""))
    return 0


def parse_classes(text: str | None) -> list[str] | None:
    """``--classes``: comma-separated COCO names or ids; ``all`` (or nothing) keeps every class."""
    if text is None or text.strip() == "all":
        return None
    return [c.strip() for c in text.split(",") if c.strip()]


def _results_by_tracker(results_dir: Path) -> dict[str, Path]:
    if any(results_dir.glob("*.txt")):
        return {results_dir.name: results_dir}
    folders = {p.name: p for p in sorted(results_dir.iterdir()) if p.is_dir() and any(p.glob("*.txt"))}
    if not folders:
        raise FileNotFoundError(f"{results_dir}: no result files (SEQ.txt or TRACKER/SEQ.txt)")
    return folders


def _eval(args: argparse.Namespace) -> int:
    from vidlearn.cli.errors import CLIError, user_errors

    with user_errors():
        import numpy as np

        from vidlearn.tracking.sot.otb import (
            evaluate_results,
            find_sequences,
            format_table,
            plot_curves,
            read_boxes,
            read_sequence,
            write_json,
        )

        if not args.results_dir.is_dir():
            raise FileNotFoundError(f"no such results folder: {args.results_dir}")
        truths = {}
        for folder in find_sequences(args.gt_root):
            truths[folder.name] = read_sequence(folder, need_frames=False).boxes
        tables, curves = {}, {}
        for tracker, folder in _results_by_tracker(args.results_dir).items():
            results: dict[str, np.ndarray] = {}
            for name in truths:
                path = folder / f"{name}.txt"
                if not path.is_file():
                    raise CLIError(f"{path}: missing result file for sequence {name}")
                results[name] = read_boxes(path)
            tables[tracker], curves[tracker] = evaluate_results(results, truths)
            print(f"{tracker}:\n{format_table(tables[tracker])}\n")
        plots = plot_curves(curves, args.plots or args.results_dir, title=Path(args.gt_root).name)
        print("plots: " + ", ".join(str(p) for p in plots))
        if args.json:
            write_json(next(iter(tables.values())) if len(tables) == 1 else tables, args.json)
            print(f"json: {args.json}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``sot track`` and ``sot eval`` to the ``vidlearn`` parser."""
    parser = subparsers.add_parser("sot", help="single-object tracking (GOTURN, ROLO, OpenCV) and OTB evaluation",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="sot_command", metavar="{track,eval}", required=True)
    track = commands.add_parser("track", help="track one target through a video or a frame folder")
    track.add_argument("input", type=Path, help="a video file or a frame folder (OTB-style sequence folders too)")
    track.add_argument("--tracker", choices=TRACKERS, required=True)
    track.add_argument("--checkpoint", type=Path, default=None, help="model.safetensors of a trained GOTURN or ROLO")
    track.add_argument("--init", default=None, metavar="x,y,w,h",
                       help="the target's box in the first frame, 0-based pixels (default: the folder's ground truth)")
    track.add_argument("-o", "--output", type=Path, required=True, help="results file: one x,y,w,h row per frame (OTB)")
    track.add_argument("--video", type=Path, default=None, help="write an overlay video with the box drawn")
    track.add_argument("--weights-dir", type=Path, default=None,
                       help="NanoTrack: folder with nanotrack_backbone_sim.onnx and nanotrack_head_sim.onnx")
    track.add_argument("--detections", type=Path, default=None,
                       help="ROLO: the detector's box of the target per frame (OTB rows)")
    track.add_argument("--detector", default=None, metavar="NAME",
                       help="ROLO: a torchvision detector run on the frames instead (e.g. fasterrcnn_resnet50_fpn); "
                       "the target's box each frame is the detection overlapping its last one most")
    track.add_argument("--detector-weights", type=Path, default=None, metavar="FILE",
                       help="the detector's state_dict file (nothing is downloaded)")
    track.add_argument("--classes", default="person",
                       help="COCO class names or ids the detector keeps, comma-separated (default person; 'all')")
    track.add_argument("--score-threshold", type=float, default=0.5, help="the detector's score threshold (default 0.5)")
    track.add_argument("--fast", action="store_true", help="GOTURN: channels-last + bf16 autocast (CPU fast path)")
    track.add_argument("--device", default="cpu", help="GOTURN/ROLO device (cpu, cuda)")
    track.add_argument("--no-progress", action="store_true", help="no progress bar")
    track.set_defaults(func=track_command)
    score = commands.add_parser("eval", help="OTB success and precision of result files")
    score.add_argument("results_dir", type=Path, help="SEQ.txt files, or one folder of them per tracker")
    score.add_argument("gt_root", type=Path, help="OTB-style sequence folders (SEQ/groundtruth_rect.txt)")
    score.add_argument("--json", type=Path, default=None, help="write the table as JSON (fractions in [0, 1])")
    score.add_argument("--plots", type=Path, default=None, help="folder for the plots (default: RESULTS_DIR)")
    score.set_defaults(func=_eval)
