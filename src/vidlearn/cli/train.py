"""``vidlearn train RECIPE [key=value ...]``: train a recipe's model (one process or ``torchrun``).

The recipe's ``task:`` key picks the wing (:mod:`vidlearn.tasks`); this module imports none.
Re-running into a work dir that holds a run resumes it, under the same recipe only: a recipe that
differs in a key the wing does not let change on resume, or a finished run, is refused in one line
(``--allow-changed-recipe`` accepts the changed recipe).
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
        cfg = wing.load_recipe(args.recipe, args.overrides)
        if args.work_dir:
            cfg.train.work_dir = args.work_dir
        resume = None if args.resume == "none" else args.resume
        try:
            result = wing.train(cfg, resume=resume, final_eval=not args.no_eval,
                                allow_changed_recipe=args.allow_changed_recipe)
        except ValueError as error:
            from vidlearn.engine.resume import ResumeError

            if not isinstance(error, ResumeError):
                raise
            text = str(error).replace("or allow the change explicitly",
                                      "or pass --allow-changed-recipe to continue with the new recipe anyway")
            raise CLIError(text.replace("choose another work_dir", "choose another --work-dir")) from None
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
    parser.add_argument("--allow-changed-recipe", action="store_true",
                        help="resume a run although the recipe differs from the one it was started with "
                        "(by default only the keys the wing lets change on resume may differ, e.g. a "
                        "larger train.max_epochs)")
    parser.set_defaults(func=_run)
