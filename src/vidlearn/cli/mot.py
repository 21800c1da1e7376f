"""``vidlearn mot eval``: score tracker results against MOTChallenge ground truth.

    vidlearn mot eval GT_ROOT RESULTS [--sequences A,B | --seqmap FILE] [--metrics HOTA,CLEAR,Identity]
                      [--benchmark MOT17] [--json OUT.json] [--tracker NAME]

GT_ROOT holds ``SEQ/gt/gt.txt`` (and ``SEQ/seqinfo.ini`` when present), RESULTS holds ``SEQ.txt``. Prints
TrackEval's tables (per sequence and COMBINED, in percent) and writes the JSON keyed by sequence and
``COMBINED``. The work is :mod:`vidlearn.tracking.metrics.benchmark`'s.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``mot`` command group (``eval``) to the ``vidlearn`` parser."""
    mot = subparsers.add_parser("mot", help="multi-object tracking benchmarks (MOTChallenge)", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = mot.add_subparsers(dest="mot_command", metavar="SUBCOMMAND", parser_class=type(mot))
    mot.set_defaults(func=lambda args: _missing_subcommand(mot))

    evaluate = commands.add_parser(
        "eval", help="CLEAR, identity and HOTA metrics of result files against ground truth",
        description="Evaluate RESULTS/SEQ.txt against GT_ROOT/SEQ/gt/gt.txt for every sequence of GT_ROOT "
        "(or those named), with TrackEval's MOTChallenge preprocessing; no seqmap needed.")
    evaluate.add_argument("gt_root", type=Path, metavar="GT_ROOT", help="folder of SEQ/gt/gt.txt (+ SEQ/seqinfo.ini)")
    evaluate.add_argument("results", type=Path, metavar="RESULTS", help="folder of SEQ.txt result files")
    which = evaluate.add_mutually_exclusive_group()
    which.add_argument("--sequences", default=None, help="comma-separated sequence names (default: all of GT_ROOT)")
    which.add_argument("--seqmap", type=Path, default=None, help="a TrackEval seqmap file naming the sequences")
    evaluate.add_argument("--metrics", default="HOTA,CLEAR,Identity",
                          help="comma-separated metric families (default HOTA,CLEAR,Identity)")
    evaluate.add_argument("--benchmark", choices=("MOT15", "MOT16", "MOT17", "MOT20"), default="MOT17",
                          help="preprocessing: MOT15 has no classes; MOT20 also drops non-MOT vehicles (default MOT17)")
    evaluate.add_argument("--json", type=Path, default=None, help="write the numbers here (percent for ratios)")
    evaluate.add_argument("--tracker", default=None, help="tracker name in the table headers (default: RESULTS' name)")
    evaluate.set_defaults(func=_evaluate)


def _missing_subcommand(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


def _evaluate(args: argparse.Namespace) -> int:
    from tqdm.auto import tqdm

    from vidlearn.cli.errors import CLIError, user_errors
    from vidlearn.tracking.metrics import combine_sequences, evaluate_sequence
    from vidlearn.tracking.metrics.benchmark import (
        find_sequences,
        format_tables,
        load_sequences,
        read_seqmap,
        select_families,
        write_results_json,
    )

    with user_errors():
        families = select_families([name.strip() for name in args.metrics.split(",") if name.strip()])
        if not families:
            raise CLIError(f"--metrics {args.metrics!r} names no metric family")
        sequences = None
        if args.sequences is not None:
            sequences = [name.strip() for name in args.sequences.split(",") if name.strip()]
        elif args.seqmap is not None:
            sequences = read_seqmap(args.seqmap)
        # MotFormatError and BenchmarkError are ValueErrors: one line naming the file (and line).
        files = find_sequences(args.gt_root, args.results, sequences)
        # evaluate_folders' work, one sequence at a time (read, then scored, so only one is held) so that a
        # progress bar (a terminal only) can follow.
        results = {}
        for entry in tqdm(files, desc="mot eval", unit="seq", disable=None if len(files) > 1 else True, leave=False):
            (gt, tracker, length), = load_sequences([entry]).values()
            results[entry.name] = evaluate_sequence(gt, tracker, length, benchmark=args.benchmark, name=entry.name)
        results["COMBINED"] = combine_sequences(results)
        tracker = args.tracker or args.results.resolve().name
        sys.stdout.write(format_tables(results, families, tracker=tracker))
        if args.json is not None:
            write_results_json(args.json, results, families)
            print(f"\nwrote {args.json}")
    return 0
