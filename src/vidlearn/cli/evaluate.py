"""``vidlearn evaluate RECIPE --checkpoint PATH``: the recipe's test protocol on a checkpoint.

The recipe's ``task:`` key picks the wing (:mod:`vidlearn.tasks`); this module imports none.
"""

from __future__ import annotations

import argparse
import json

__all__ = ["register"]


def _run(args: argparse.Namespace) -> int:
    from vidlearn.cli.errors import CLIError, user_errors
    from vidlearn.tasks import get_task, task_of

    with user_errors():
        wing = get_task(task_of(args.recipe, args.overrides))
        protocol_options = {} if args.protocol == "softmax" else {
            "protocol": args.protocol, "layer": args.layer, "C": args.svm_c}
        checkpoints = args.checkpoint
        splits = [int(s) for s in args.splits.split(",")] if args.splits else [None]
        if len(splits) != len(checkpoints):
            raise CLIError(f"{len(checkpoints)} checkpoint(s) for {len(splits)} split(s): give one --checkpoint per split")
        results = []
        for split, checkpoint in zip(splits, checkpoints):
            overrides = list(args.overrides) + ([f"data.split={split}"] if split is not None else [])
            if args.num_clips:
                overrides.append(f"evaluate.num_clips={args.num_clips}")
            if args.num_crops:
                overrides.append(f"evaluate.num_crops={args.num_crops}")
            cfg = wing.load_recipe(args.recipe, overrides)
            out_dir = args.out if split is None or args.out is None else f"{args.out}/split{split}"
            metrics = wing.evaluate(cfg, checkpoint, out_dir=out_dir, progress=not args.quiet, **protocol_options)
            results.append(metrics)
            label = f"split {split}" if split is not None else "result"
            print(f"{label}: " + json.dumps(metrics, sort_keys=True))
        if len(results) > 1:
            print("mean over splits: " + json.dumps(wing.average_splits(results), sort_keys=True))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "evaluate",
        help="evaluate a checkpoint with a recipe's test protocol",
        description="Score every test video with num_clips x num_crops views (decoded once, in bounded "
        "memory) and report video- and clip-level top-1/top-5 and mean class accuracy. For UCF-101 and "
        "HMDB51, --splits 1,2,3 with one --checkpoint per split prints the three-split mean.",
    )
    parser.add_argument("recipe", help="the YAML recipe the model was trained with")
    parser.add_argument("overrides", nargs="*", metavar="key=value", help="recipe overrides")
    parser.add_argument("--checkpoint", action="append", required=True,
                        help="weights to evaluate (repeat once per split with --splits)")
    parser.add_argument("--splits", help="comma-separated splits, e.g. 1,2,3")
    parser.add_argument("--num-clips", type=int, help="clips per video (evaluate.num_clips)")
    parser.add_argument("--num-crops", type=int, choices=[1, 3, 10], help="crops per clip (evaluate.num_crops)")
    parser.add_argument("--out", help="folder for metrics.json, confusion_matrix.png, per_class.csv")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--protocol", choices=["softmax", "svm"], default="softmax",
                        help="'svm': frozen features + linear SVM trained on the training split (C3D paper)")
    parser.add_argument("--layer", default=None, help="feature layer for --protocol svm (default: fc6 where the model names it)")
    parser.add_argument("--svm-c", type=float, default=1.0, help="the SVM's C (default 1)")
    parser.set_defaults(func=_run)
