"""``vidlearn flow``: extract optical flow from videos and colour-code it.

    vidlearn flow extract INPUT OUT [--method tvl1] [--workers N] [--shard i/n] [--format jpg|npz]
                                    [--size N] [--weights PATH] [--device cpu] [--bound 20]
    vidlearn flow visualize INPUT OUT.png|OUT.mp4|OUT.gif

``extract``: INPUT a video writes ``OUT/flow_x_00001.jpg ...`` (or ``OUT/flow.npz``); INPUT a folder
mirrors its tree of videos under OUT, resumes finished videos and exits 1 when some videos failed.
``visualize``: INPUT a flow folder (JPEG pairs or ``flow.npz``), a ``flow.npz`` or a video (flow
computed with ``--method``); a ``.png`` shows field ``--index``, a video shows every field.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["register"]

_METHODS = ("tvl1", "farneback", "dis", "raft", "raft_large", "raft_small")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``flow`` command group (``extract``, ``visualize``) to the ``vidlearn`` parser."""
    flow = subparsers.add_parser("flow", help="extract and visualise optical flow", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    commands = flow.add_subparsers(dest="flow_command", metavar="SUBCOMMAND", parser_class=type(flow))
    flow.set_defaults(func=lambda args: _missing_subcommand(flow))

    extract = commands.add_parser("extract", help="optical flow of a video or a folder of videos")
    extract.add_argument("input", type=Path, metavar="INPUT", help="a video file or a folder of videos")
    extract.add_argument("out", type=Path, metavar="OUT", help="output folder")
    _add_method_arguments(extract)
    extract.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    extract.add_argument("--shard", default=None, metavar="i/n", help="process shard i of n (0-based)")
    extract.add_argument("--format", choices=("jpg", "npz"), default="jpg",
                         help="jpg: flow_x_00001.jpg/flow_y_00001.jpg (MMAction2); npz: flow.npz (float16)")  # fmt: skip
    extract.add_argument("--size", type=int, default=None, help="resize frames to this short side first")
    extract.add_argument("--bound", type=float, default=20.0, help="JPEG clip bound in pixels (default 20)")
    extract.add_argument("--no-resume", action="store_true", help="recompute videos already complete")
    extract.add_argument("--no-progress", action="store_true", help="no progress bar")
    extract.set_defaults(func=_extract)

    visualize = commands.add_parser("visualize", help="colour-code flow as a PNG or a video")
    visualize.add_argument("input", type=Path, metavar="INPUT", help="a flow folder, a flow.npz or a video")
    visualize.add_argument("out", type=Path, metavar="OUT", help="OUT.png, OUT.mp4 or OUT.gif")
    _add_method_arguments(visualize)
    visualize.add_argument("--index", type=int, default=0, help="flow field shown in a PNG (0-based)")
    visualize.add_argument("--max-flow", type=float, default=None, help="pixels mapped to full saturation")
    visualize.add_argument("--bound", type=float, default=20.0, help="JPEG clip bound the flow was written with")
    visualize.add_argument("--fps", type=float, default=25.0, help="frame rate of a video output")
    visualize.add_argument("--no-key", action="store_true",
                           help="no colour-wheel key beside a PNG (the key: direction = hue, rim = max flow)")
    visualize.set_defaults(func=_visualize)


def _add_method_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--method", choices=_METHODS, default="tvl1", help="flow method (default tvl1)")
    parser.add_argument("--weights", type=Path, default=None, help="RAFT weights file (torchvision state dict)")
    parser.add_argument("--device", default="cpu", help="device for RAFT (default cpu)")


def _missing_subcommand(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


def _method_options(args: argparse.Namespace) -> dict:
    from vidlearn.cli.errors import CLIError

    if args.method.startswith("raft"):
        return {"weights_path": args.weights, "device": args.device}
    if args.weights is not None:
        raise CLIError(f"--weights applies to RAFT only, not to --method {args.method}")
    if args.device != "cpu":
        raise CLIError(f"--method {args.method} runs on the CPU only; --device {args.device} applies to RAFT")
    return {}


def _extract(args: argparse.Namespace) -> int:
    from vidlearn.cli.errors import CLIError
    from vidlearn.video.flow import create_flow_estimator, extract_dataset_flow, extract_video_flow
    from vidlearn.video.sharding import parse_shard

    options = _method_options(args)
    if args.workers < 0:
        raise CLIError(f"--workers must be >= 0, got {args.workers}")
    if args.size is not None and args.size < 1:
        raise CLIError(f"--size must be a positive short side, got {args.size}")
    try:
        shard = parse_shard(args.shard) if args.shard is not None else None
    except ValueError as error:
        raise CLIError(str(error)) from None
    if not args.input.exists():
        raise CLIError(f"{args.input}: no such video or folder")
    common = dict(size=args.size, format=args.format, bound=args.bound)
    if args.input.is_file():
        estimator = create_flow_estimator(args.method, **options)  # a bad weights file fails here, once
        count = extract_video_flow(args.input, args.out, estimator, **common)
        print(f"{args.input}: {count} flow fields written to {args.out}")
        return 0
    if args.method.startswith("raft"):
        create_flow_estimator(args.method, **options)  # check the weights once, before any worker starts
    try:
        summary = extract_dataset_flow(
            args.input, args.out, method=args.method, workers=args.workers, shard=shard,
            resume=not args.no_resume, progress=not args.no_progress, **common, **options,
        )  # fmt: skip
    except ValueError as error:  # e.g. two videos that would share one output folder
        raise CLIError(str(error)) from None
    print(summary)
    for path, message in summary.failed:
        print(f"failed: {path}: {message}", file=sys.stderr)
    if summary.total == 0:
        raise CLIError(f"{args.input}: no videos found" + (f" in shard {args.shard}" if shard else ""))
    return 1 if summary.failed else 0


def _load_flow(args: argparse.Namespace):
    from vidlearn.cli.errors import CLIError
    from vidlearn.video.files import VIDEO_SUFFIXES, is_video_file
    from vidlearn.video.flow import compute_flow, read_flow_frames, read_flow_npz
    from vidlearn.video.flow.extract import NPZ_FILE, iter_video_frames
    from vidlearn.video.flow.storage import flow_frame_paths

    source = args.input
    if source.is_dir():
        if (source / NPZ_FILE).is_file():
            return read_flow_npz(source / NPZ_FILE)
        count = 0
        while all(path.is_file() for path in flow_frame_paths(source, count)):
            count += 1
        if count == 0:
            raise CLIError(f"{source}: neither flow_x_00001.jpg/flow_y_00001.jpg nor {NPZ_FILE} found")
        return read_flow_frames(source, range(count), bound=args.bound)
    if source.suffix.lower() == ".npz":
        return read_flow_npz(source)
    if is_video_file(source):
        import numpy as np

        frames = list(iter_video_frames(source))
        if len(frames) < 2:
            raise CLIError(f"{source}: optical flow needs at least 2 frames, found {len(frames)}")
        return compute_flow(np.stack(frames), args.method, **_method_options(args))
    raise CLIError(f"{source}: not a flow folder, a .npz or a video ({', '.join(sorted(VIDEO_SUFFIXES))})")


def _visualize(args: argparse.Namespace) -> int:
    from vidlearn.cli.errors import CLIError
    from vidlearn.video.flow import write_flow_image, write_flow_video

    suffix = args.out.suffix.lower()
    if suffix not in (".png", ".jpg", ".jpeg", ".mp4", ".gif"):
        raise CLIError(f"{args.out}: output must be .png, .jpg, .mp4 or .gif")
    if not args.input.exists():
        raise CLIError(f"{args.input}: no such file or folder")
    flow = _load_flow(args)
    if suffix in (".png", ".jpg", ".jpeg"):
        if not 0 <= args.index < len(flow):
            raise CLIError(f"--index {args.index} out of range: {args.input} has {len(flow)} flow fields")
        write_flow_image(flow[args.index], args.out, max_flow=args.max_flow, key=not args.no_key)
    else:
        write_flow_video(flow, args.out, fps=args.fps, max_flow=args.max_flow)
    print(f"{args.out}: {len(flow) if suffix in ('.mp4', '.gif') else 1} flow field(s) drawn")
    return 0
