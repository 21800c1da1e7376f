"""``vidlearn demo``: the main job on the built-in data (see :mod:`vidlearn.recognition.demo`)."""

from __future__ import annotations

import argparse

__all__ = ["register"]


def _run(args: argparse.Namespace) -> int:
    from vidlearn.cli.errors import user_errors

    with user_errors():
        from vidlearn.recognition.demo import DemoSettings, run_demo

        settings = DemoSettings(workers=args.workers)
        if args.quick:
            settings.num_train, settings.num_test = 160, 48
            settings.models = tuple(type(m)(**{**m.__dict__, "epochs": 1}) for m in settings.models)
        run_demo(args.out, settings=settings)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="train single-frame, late-fusion and C3D networks on the built-in motion data",
        description="Generate the built-in motion dataset (classes defined by motion alone), train and "
        "evaluate a single-frame network, a late-fusion network and C3D, and write a table, results.json, "
        "curves, confusion matrices and a report. About 5-11 minutes on 2 CPU cores, depending on the load.",
    )
    parser.add_argument("--out", default="runs/demo", help="output folder (default runs/demo)")
    parser.add_argument("--workers", type=int, default=2, help="data-loading worker processes")
    parser.add_argument("--quick", action="store_true", help="a one-epoch smoke run on fewer clips")
    parser.set_defaults(func=_run)
