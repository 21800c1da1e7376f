"""``vidlearn demo``: the main job on the built-in data, one part per wing (see :data:`vidlearn.tasks.DEMO_PARTS`).

The recognition part writes to the output folder itself (``runs/demo/results.json``, ``runs/demo/c3d/``);
every other part writes to a folder named after it (``runs/demo/tracking/`` ...).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from vidlearn.tasks import DEMO_PARTS

__all__ = ["register"]


def part_dir(out: Path, part: str) -> Path:
    """Where the demo part ``part`` writes under the demo's output folder ``out``."""
    return out if part == "recognition" else out / part


def _run(args: argparse.Namespace) -> int:
    from vidlearn.cli.errors import CLIError, user_errors
    from vidlearn.tasks import demo_part_module

    parts = list(dict.fromkeys(args.parts)) or list(DEMO_PARTS)
    unknown = [part for part in parts if part not in DEMO_PARTS]
    if unknown:
        raise CLIError(f"unknown demo part {unknown[0]!r}; the parts are: {', '.join(DEMO_PARTS)}")
    out = Path(args.out)
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    with user_errors():
        for part in parts:
            print(f"[demo] part {part}")
            part_started = time.perf_counter()
            demo_part_module(part).demo_part(part_dir(out, part), quick=args.quick, workers=args.workers)
            seconds[part] = round(time.perf_counter() - part_started, 1)
    total = round(time.perf_counter() - started, 1)
    if len(parts) > 1:
        print("\n[demo] " + ", ".join(f"{part} {s:.0f} s" for part, s in seconds.items()) + f"; total {total:.0f} s")
    out.mkdir(parents=True, exist_ok=True)
    (out / "timing.json").write_text(json.dumps({"parts": seconds, "total_seconds": total}, indent=2) + "\n")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="the main job: each wing's demonstration on the built-in data",
        description="Run the demo parts on the built-in synthetic data, each writing a table, results.json and "
        "pictures. recognition: single-frame, late-fusion and C3D networks on clips whose classes live only in "
        "the motion (runs/demo/); tracking: SORT against DeepSORT with a re-ID network trained in the demo, then "
        "GOTURN and ROLO on OTB Crossing (runs/demo/tracking/); superres: bicubic, SISR and FRVSR "
        "(runs/demo/superres/); generation: DVD-GAN with and without its temporal discriminator "
        "(runs/demo/generation/). All four took about 9 minutes on 2 idle CPU cores.",
    )
    parser.add_argument("parts", nargs="*", metavar="PART",
                        help=f"parts to run, in order (default all: {', '.join(DEMO_PARTS)})")
    parser.add_argument("--out", default="runs/demo", help="output folder (default runs/demo)")
    parser.add_argument("--workers", type=int, default=2, help="data-loading worker processes")
    parser.add_argument("--quick", action="store_true", help="a smoke-sized run of each part")
    parser.set_defaults(func=_run)
