"""``vidlearn bench talk``: every architecture of the talk on the built-in benchmark, in one table."""

from __future__ import annotations

import argparse

__all__ = ["register"]


def _talk(args: argparse.Namespace) -> int:
    from vidlearn.cli.errors import user_errors

    with user_errors():
        from vidlearn.recognition.architecture_comparison import TALK_MODELS, run_talk_benchmark
        from vidlearn.recognition.demo import DemoSettings

        entries = TALK_MODELS
        if args.models:
            known = {entry.name for entry in TALK_MODELS}
            unknown = sorted(set(args.models) - known)
            if unknown:
                raise ValueError(f"unknown talk model(s) {', '.join(unknown)}; choose from {', '.join(sorted(known))}")
            entries = tuple(entry for entry in TALK_MODELS if entry.name in args.models)
        run_talk_benchmark(args.out, settings=DemoSettings(workers=args.workers), entries=entries, epochs=args.epochs)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("bench", help="built-in benchmarks", description="Built-in benchmarks.")
    commands = parser.add_subparsers(dest="bench_command", metavar="BENCHMARK", required=True)
    talk = commands.add_parser(
        "talk",
        help="every architecture of the talk on the built-in motion data",
        description="Train every architecture of the talk (fusion networks, two-stream, LRCN, C3D, I3D, T3D) "
        "on the built-in motion dataset and write one table (held-out top-1, parameters, GMACs, training "
        "time) as Markdown, JSON and PNG. About 15-30 minutes on 2 CPU cores, depending on the load; "
        "networks already trained in --out are reused, not re-run.",
    )
    talk.add_argument("--out", default="runs/talk", help="output folder (default runs/talk)")
    talk.add_argument("--epochs", type=int, default=8)
    talk.add_argument("--models", nargs="*", help="only these models")
    talk.add_argument("--workers", type=int, default=2, help="data-loading worker processes")
    talk.set_defaults(func=_talk)
