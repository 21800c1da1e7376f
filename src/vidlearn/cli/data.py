"""``vidlearn data``: check a dataset on disk, re-encode a video tree.

``vidlearn data check ROOT --format ucf101 --annotations ucfTrainTestlist`` lists the videos of the
annotation files that are missing, unreadable or too short for the clip length (exit 1 when any,
0 when the dataset is clean). Frame counts come from the cached metadata index, so a second check
opens no video. ``vidlearn data reencode SRC DST --gop 12 --short-side 128 --shard 0/4`` re-encodes
a tree for fast seeking (short keyframe interval), one shard of it per job.
"""

from __future__ import annotations

import argparse
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from vidlearn.cli.errors import CLIError

__all__ = ["register"]


def register(subparsers: Any) -> None:
    """Add ``data check`` and ``data reencode`` to the ``vidlearn`` parser."""
    parser = subparsers.add_parser("data", help="check a dataset on disk, re-encode videos")
    commands = parser.add_subparsers(dest="data_command", metavar="SUBCOMMAND", parser_class=type(parser))
    parser.set_defaults(func=lambda args: _usage(parser))

    check = commands.add_parser(
        "check",
        help="report missing, unreadable and too-short videos of a dataset",
        description="Read a dataset's annotation files, probe its videos (cached) and list the problems. "
        "Exit code 1 when there is any problem, 0 when the dataset is clean.",
    )
    check.add_argument("root", type=Path, help="dataset root (the folder of the videos)")
    # The formats and what --annotations means for each come from the registry training uses
    # (vidlearn.recognition.datasets.formats); it is checked when the command runs, so that building
    # the parser does not import torch.
    check.add_argument(
        "--format",
        required=True,
        help="dataset format, a recipe's data.format: ucf101, hmdb51, kinetics, sports1m, folder, list, synthetic",
    )
    check.add_argument(
        "--annotations",
        type=Path,
        help="what the format reads its parts from: split folder (ucf101: classInd.txt + lists; hmdb51: "
        "testTrainMulti_7030_splits), CSV (kinetics), JSON (sports1m), list file (list, synthetic); "
        "folder: optional 'TRAIN,VAL' subfolders",
    )
    check.add_argument(
        "--split",
        help="split number 1-3 (ucf101, hmdb51; default 1) or train|val|test (kinetics; default val)",
    )
    check.add_argument("--clip-len", type=int, default=16, help="frames a clip needs (default 16)")
    check.add_argument(
        "--num-classes", type=int, default=400, choices=(400, 600, 700), help="Kinetics variant"
    )
    check.add_argument("--index", type=Path, help="metadata cache file (default ROOT/.vidlearn_index.json)")
    check.add_argument("--workers", type=int, default=None, help="probing threads")
    check.add_argument(
        "--decode", action="store_true", help="also decode the first and last frame of every video (slow)"
    )
    check.add_argument(
        "--verbose", action="store_true",
        help=f"list every problem video (default: the first {SHOWN_PER_KIND} of each kind and a count)",
    )
    check.set_defaults(func=_check)

    reencode = commands.add_parser(
        "reencode",
        help="re-encode a video tree with short keyframe intervals for fast clip decoding",
        description="Re-encode every video under SRC into DST (same relative paths), resumable and shardable.",
    )
    reencode.add_argument("src", type=Path)
    reencode.add_argument("dst", type=Path)
    reencode.add_argument("--gop", type=int, default=12, help="keyframe interval in frames (default 12)")
    reencode.add_argument("--short-side", type=int, default=None, help="resize so the short side is N pixels")
    reencode.add_argument("--codec", default="auto", choices=("auto", "h264", "mpeg4"))
    reencode.add_argument("--workers", type=int, default=1, help="parallel encodes (default 1)")
    reencode.add_argument("--shard", default="0/1", help="i/n: this job's share of the files (default 0/1)")
    reencode.add_argument(
        "--extensions", default=".mp4,.avi,.mkv,.webm,.mov", help="comma-separated video extensions"
    )
    reencode.add_argument("--no-resume", action="store_true", help="re-encode files already done")
    reencode.add_argument("--quiet", action="store_true", help="no progress bar")
    reencode.set_defaults(func=_reencode)


#: Problem videos listed per kind without ``--verbose``: a dataset that is not there at all (13,320
#: missing UCF-101 videos) gets a summary, not a screenful per video.
SHOWN_PER_KIND = 10


def _print_problems(title: str, lines: list[str], verbose: bool) -> None:
    print(f"{title} ({len(lines)}):")
    shown = lines if verbose else lines[:SHOWN_PER_KIND]
    for line in shown:
        print(f"  {line}")
    if len(shown) < len(lines):
        print(f"  ... and {len(lines) - len(shown)} more (--verbose lists them all)")


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def _sampler(clip_len: int) -> Any:
    from vidlearn.video.sampling import CenterClipSampler

    if clip_len < 1:
        raise CLIError(f"--clip-len must be positive, got {clip_len}")
    return CenterClipSampler(clip_len)


def _build(args: argparse.Namespace) -> list[tuple[str, Any]]:
    """The datasets to check, each with a title: ``[(title, dataset), ...]``.

    Every format is built, and its parts chosen, by the registry that training uses
    (:mod:`vidlearn.recognition.datasets.formats`). The command line maps onto a data section:
    ``--annotations`` is the list file for ``list`` and ``synthetic``, and ``folder`` reads
    ``ROOT/train`` and ``ROOT/val`` as training does (``--annotations TRAIN,VAL`` names other
    subfolders; ``.,.`` checks ``ROOT/<class>/`` itself).
    """
    from vidlearn.recognition.datasets.formats import DataPaths, get_format

    try:
        fmt = get_format(args.format)
    except ValueError as error:
        raise CLIError(f"--format: {error}") from None
    common: dict[str, Any] = {
        "sampler": _sampler(args.clip_len),
        "on_error": "skip",
        "probe": True,
        "index_file": args.index,
        "probe_workers": args.workers,
    }
    root = args.root
    if not root.is_dir():
        raise CLIError(f"dataset root not found: {root}")
    if fmt.needs_annotations and args.annotations is None:
        raise CLIError(f"--annotations is required for --format {fmt.name}: {fmt.annotations}")
    split = args.split or fmt.default_split or "1"
    if fmt.split_choices and split not in fmt.split_choices:
        choices = ", ".join(fmt.split_choices[:-1]) + f" or {fmt.split_choices[-1]}"
        raise CLIError(f"--split must be {choices} for this format, got {split!r}")
    data = DataPaths(format=fmt.name, root=str(root), split=int(split) if split.isdigit() else split)
    if args.annotations is not None:
        if fmt.annotations:
            data.annotations = str(args.annotations)
        else:  # a list file, as the list formats' only part
            data.train_list = data.val_list = str(args.annotations.absolute())
    elif fmt.name == "folder" and not all((root / name).is_dir() for name in ("train", "val")):
        # One meaning of "folder" for checking and training: ROOT/train/<class>/ and ROOT/val/<class>/.
        absent = " and ".join(name for name in ("train", "val") if not (root / name).is_dir())
        raise CLIError(
            f"{root}: no {absent} subfolder; --format folder (a recipe's data.format: folder) reads "
            f"{root / 'train'}/<class>/<video> and {root / 'val'}/<class>/<video>: name other subfolders "
            "with --annotations TRAIN,VAL (data.annotations=TRAIN,VAL), or --annotations .,. to check "
            f"{root}/<class>/<video> as one part"
        )
    return [
        (
            fmt.title(data, train),
            fmt.build(data, train=train, num_classes=args.num_classes, prepare=False, **common),
        )
        for train in fmt.parts_to_check(data)
    ]


def _decode_check(dataset: Any, workers: int | None) -> list[tuple[str, str]]:
    """Decode the first and last frame of every usable video; ``[(path, reason)]`` of failures."""
    from vidlearn.video import VideoReader
    from vidlearn.video.errors import VideoDecodeError

    def attempt(path: str) -> tuple[str, str] | None:
        try:
            reader = VideoReader(path)
            reader.get_frames([0, max(0, int(reader.num_frames) - 1)])
        except (VideoDecodeError, OSError) as error:
            return path, getattr(error, "reason", str(error))
        return None

    paths = [sample.path for sample in dataset.samples]
    with ThreadPoolExecutor(max_workers=workers or 4) as pool:
        return [failure for failure in pool.map(attempt, paths) if failure is not None]


def _check(args: argparse.Namespace) -> int:
    from vidlearn.recognition.datasets import AnnotationError

    try:
        parts = _build(args)
    except AnnotationError as error:
        raise CLIError(str(error)) from None
    missing: dict[str, None] = {}
    unreadable: dict[str, str] = {}
    too_short: dict[str, int] = {}
    for title, dataset in parts:
        broken = _decode_check(dataset, args.workers) if args.decode else []
        listed = len(dataset) + len(dataset.missing) + len(dataset.unreadable) + len(dataset.too_short)
        print(
            f"{title}: {listed} videos listed, {len(dataset) - len(broken)} usable, "
            f"{dataset.num_classes} classes"
        )
        missing.update(dict.fromkeys(dataset.missing))
        unreadable.update(dict(dataset.unreadable))
        unreadable.update(dict(broken))
        too_short.update(dict(dataset.too_short))
    if missing:
        _print_problems("missing", list(missing), args.verbose)
        if len(missing) == sum(len(d) + len(d.missing) + len(d.unreadable) + len(d.too_short) for _, d in parts):
            print(f"  (none of the listed videos is under {args.root}: is it the dataset root?)")
    if unreadable:
        _print_problems("unreadable", [f"{path}: {reason}" for path, reason in unreadable.items()], args.verbose)
    if too_short:
        _print_problems(f"too short for {args.clip_len}-frame clips",
                        [f"{path}: {frames} frames" for path, frames in too_short.items()], args.verbose)
    problems = len(missing) + len(unreadable) + len(too_short)
    print(f"{problems} problem(s)" if problems else "no problems")
    return 1 if problems else 0


def _reencode(args: argparse.Namespace) -> int:
    from vidlearn.video.reencode import reencode_tree
    from vidlearn.video.sharding import parse_shard

    try:
        shard = parse_shard(args.shard)
    except ValueError as error:
        raise CLIError(f"--shard: {error}") from None
    if not args.src.is_dir():
        raise CLIError(f"source folder not found: {args.src}")
    if args.gop < 1:
        raise CLIError(f"--gop must be positive, got {args.gop}")
    if args.short_side is not None and args.short_side < 2:
        raise CLIError(f"--short-side must be at least 2, got {args.short_side}")
    extensions = tuple(
        ext if ext.startswith(".") else f".{ext}"
        for ext in (part.strip().lower() for part in args.extensions.split(","))
        if ext
    )
    if not extensions:
        raise CLIError("--extensions is empty")
    summary = reencode_tree(
        args.src,
        args.dst,
        extensions=extensions,
        gop=args.gop,
        short_side=args.short_side,
        codec=args.codec,
        workers=args.workers,
        shard=shard,
        resume=not args.no_resume,
        progress=not args.quiet,
    )
    print(
        f"re-encoded {summary['done']}, skipped {summary['skipped']} (already done), failed {summary['failed']}"
    )
    for source, reason in summary.get("failures", []):
        print(f"  {source}: {reason}")
    return 1 if summary["failed"] else 0
