"""``vidlearn models``: list the registered models with parameters, GFLOPs and input spec.

A model without classes (super-resolution, a tracker's feature network) shows ``-`` for classes
and ``null`` in JSON.
"""

from __future__ import annotations

import argparse
import json

__all__ = ["model_summary", "register"]


def model_summary(name: str, *, flops: bool = True) -> dict[str, object]:
    """Parameters and GFLOPs (multiply-adds, at the paper input, batch 1) of one registered model.

    The model is built on PyTorch's ``meta`` device, so nothing is allocated or computed: even the
    largest networks are counted in a fraction of a second.
    """
    import torch

    from vidlearn.models import create, get_model_info
    from vidlearn.models.flops import count_flops

    info = get_model_info(name)
    with torch.device("meta"):
        model = create(name)  # the paper's setting; num_classes only for a model that has classes
    shapes = info.input_shape if info.num_inputs > 1 else (info.input_shape,)
    params = sum(p.numel() for p in model.parameters())
    gflops: float | None = None
    if flops:
        try:
            gflops = count_flops(model, list(shapes))
        except Exception:  # a model the meta device cannot run (rare): report no figure, not a guess
            gflops = None
    return {
        "name": name,
        "wing": info.wing,
        "family": info.family,
        "params": params,
        "gmacs": gflops,
        "input": [list(shape) for shape in shapes],
        "num_classes": info.default_num_classes,
        "paper": info.paper,
        "weights": sorted(info.weights),
    }


def _format_input(shapes: list[list[int]]) -> str:
    return " + ".join("x".join(str(d) for d in shape) for shape in shapes)


def _run(args: argparse.Namespace) -> int:
    from vidlearn.cli.errors import CLIError
    from vidlearn.models import list_models

    try:
        names = list_models(args.wing)
    except ValueError as error:  # an unknown --wing
        raise CLIError(str(error)) from None
    if args.name:
        unknown = [n for n in args.name if n not in names]
        if unknown:
            from vidlearn.models import get_model_info

            try:
                get_model_info(unknown[0])  # raises KeyError with suggestions
            except KeyError as error:
                raise CLIError(str(error.args[0])) from None
        names = args.name
    rows = [model_summary(name, flops=not args.no_flops) for name in names]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    header = f"{'model':<30} {'wing':<12} {'params':>14} {'GMACs':>9}  {'input':<22} {'classes':>7}  weights"
    print(header)
    print("-" * len(header))
    for row in rows:
        gmacs = "-" if row["gmacs"] is None else f"{row['gmacs']:.2f}"
        weights = ", ".join(row["weights"]) or "-"  # type: ignore[arg-type]
        classes = "-" if row["num_classes"] is None else row["num_classes"]
        print(f"{row['name']:<30} {row['wing']:<12} {row['params']:>14,} {gmacs:>9}  "  # type: ignore[arg-type]
              f"{_format_input(row['input']):<22} {classes:>7}  {weights}")
    print(f"\n{len(rows)} models; GMACs = multiply-adds per clip at the paper input (batch 1); "
          "input = one sample, no batch dimension.")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "models",
        help="list models with parameters, GMACs and input",
        description="List the registered models: parameter count, multiply-adds per clip at the paper "
        "input, the input shape, and the published weights each one loads.",
    )
    parser.add_argument("name", nargs="*", help="only these models")
    # no `choices`: the wings are known to vidlearn.models, which this parser does not import (startup time)
    parser.add_argument("--wing", default=None, help="only one wing's models (recognition, tracking, superres, "
                        "generation)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--no-flops", action="store_true", help="skip the GMAC count")
    parser.set_defaults(func=_run)
