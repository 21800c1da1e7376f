"""``vidlearn train RECIPE [key=value ...]``: train a recipe's model (one process or ``torchrun``).

The recipe's ``task:`` key picks the wing (:mod:`vidlearn.tasks`); this module imports none.
"""

from __future__ import annotations

import argparse
import json

__all__ = ["register"]


def _run(args: argparse.Namespace) -> int:
    from vidlearn.cli.errors import user_errors
    from vidlearn.tasks import get_task, task_of

    with user_errors():
        wing = get_task(task_of(args.recipe, args.overrides))
        cfg = wing.load_recipe(args.recipe, args.overrides)
        if args.work_dir:
            cfg.train.work_dir = args.work_dir
        resume = None if args.resume == "none" else args.resume
        result = wing.train(cfg, resume=resume, final_eval=not args.no_eval)
    from vidlearn.engine.distributed import is_main_process, shutdown_distributed

    main_process = is_main_process()
    shutdown_distributed()

    if main_process:
        if result.interrupted:
            print(f"interrupted: checkpoint saved in {result.work_dir}; resume with the same command")
            return 143
        print(json.dumps({"work_dir": str(result.work_dir), **result.metrics}, indent=2))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train a model from a recipe",
        description="Train the recipe's model, then evaluate it with the recipe's test protocol. "
        "Any recipe key can be overridden as key=value (e.g. optim.lr=0.01 data.batch_size=8). "
        "Under torchrun the run is distributed (DDP).",
    )
    parser.add_argument("recipe", help="a YAML recipe (see configs/<task>/); its task: key picks the wing")
    parser.add_argument("overrides", nargs="*", metavar="key=value", help="recipe overrides")
    parser.add_argument("--work-dir", help="where checkpoints, logs and results go (train.work_dir)")
    parser.add_argument("--resume", default="auto",
                        help="'auto' (newest checkpoint in the work dir, default), a checkpoint path, or 'none'")
    parser.add_argument("--no-eval", action="store_true", help="skip the final test protocol")
    parser.set_defaults(func=_run)
