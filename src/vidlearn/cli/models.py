"""``vidlearn models``: list the registered models with parameters, GFLOPs and input spec."""

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

    from vidlearn.models import get_model_info
    from vidlearn.models.flops import count_flops

    info = get_model_info(name)
    with torch.device("meta"):
        model = info.builder(num_classes=info.default_num_classes)
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
    from vidlearn.models import list_models

    names = list_models(args.wing)
    if args.name:
        unknown = [n for n in args.name if n not in names]
        if unknown:
            from vidlearn.models import get_model_info

            get_model_info(unknown[0])  # raises with suggestions
        names = args.name
    rows = [model_summary(name, flops=not args.no_flops) for name in names]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    header = f"{'model':<30} {'params':>14} {'GMACs':>9}  {'input (C,T,H,W)':<22} {'classes':>7}  weights"
    print(header)
    print("-" * len(header))
    for row in rows:
        gmacs = "-" if row["gmacs"] is None else f"{row['gmacs']:.2f}"
        weights = ", ".join(row["weights"]) or "-"  # type: ignore[arg-type]
        print(f"{row['name']:<30} {row['params']:>14,} {gmacs:>9}  {_format_input(row['input']):<22} "  # type: ignore[arg-type]
              f"{row['num_classes']:>7}  {weights}")
    print(f"\n{len(rows)} models; GMACs = multiply-adds per clip at the paper input (batch 1).")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "models",
        help="list models with parameters, GMACs and input",
        description="List the registered models: parameter count, multiply-adds per clip at the paper "
        "input, the input shape, and the published weights each one loads.",
    )
    parser.add_argument("name", nargs="*", help="only these models")
    parser.add_argument("--wing", choices=["recognition"], default=None, help="only one wing's models")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--no-flops", action="store_true", help="skip the GMAC count")
    parser.set_defaults(func=_run)
