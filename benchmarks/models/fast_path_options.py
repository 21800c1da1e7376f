"""Which CPU inference settings give C3D and I3D their speed: one model, every option, one run.

Options, timed alternately (one round runs each once, so a change of load on a shared machine hits
all alike), throughput in clips/s, median over the rounds, and the speed-up over fp32 eager:

* ``fp32``: eager, contiguous (the baseline)
* ``fp32_cl``: eager, ``channels_last_3d`` model and input
* ``bf16_autocast``: ``torch.autocast("cpu", dtype=torch.bfloat16)``, contiguous
* ``fast``: ``channels_last_3d`` + bf16 autocast (the fast path of ``bench_models.py``)
* ``bf16_weights``: the model cast to bfloat16 (no autocast), ``channels_last_3d``
* ``fp32_frozen``: ``torch.jit.trace`` + ``torch.jit.freeze`` + ``optimize_for_inference``
* ``compile_fp32`` / ``compile_fast``: ``torch.compile`` (inductor), with ``--compile`` only; the
  compile time is printed apart

    python benchmarks/models/fast_path_options.py --model c3d --batch 4 [--rounds 3] [--threads N]
        [--compile] [--options fp32,fast,...]
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time
from collections.abc import Callable

import torch
from bench_models import input_channels_last, to_channels_last
from torch import nn

from vidlearn.models import create, get_model_info
from vidlearn.utils import machine_info

ALL_OPTIONS = ("fp32", "fp32_cl", "bf16_autocast", "fast", "bf16_weights", "fp32_frozen", "compile_fp32",
               "compile_fast")


def build_option(option: str, model: nn.Module, x: torch.Tensor) -> Callable[[], torch.Tensor]:
    """A no-argument callable running one inference batch under ``option``."""
    model = copy.deepcopy(model).eval()
    autocast = torch.autocast("cpu", dtype=torch.bfloat16)
    no_autocast = torch.autocast("cpu", enabled=False)
    use_autocast = option in ("bf16_autocast", "fast", "compile_fast")
    if option in ("fp32_cl", "fast", "bf16_weights", "compile_fast"):
        model, x = to_channels_last(model), input_channels_last(x)
    if option == "bf16_weights":
        model, x = model.to(torch.bfloat16), x.to(torch.bfloat16)
    if option == "fp32_frozen":
        with torch.inference_mode():
            model = torch.jit.optimize_for_inference(torch.jit.freeze(torch.jit.trace(model, x)))
    if option.startswith("compile"):
        model = torch.compile(model)

    def run() -> torch.Tensor:
        with torch.inference_mode(), autocast if use_autocast else no_autocast:
            return model(x)

    return run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="c3d")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--compile", action="store_true", help="also time torch.compile (slow to compile)")
    parser.add_argument("--options", default=None, help="comma-separated subset of " + ", ".join(ALL_OPTIONS))
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    options = args.options.split(",") if args.options else [
        o for o in ALL_OPTIONS if args.compile or not o.startswith("compile")]
    print(machine_info(), flush=True)
    info = get_model_info(args.model)
    torch.manual_seed(0)
    model = create(args.model)
    x = torch.randn(args.batch, *info.input_shape)
    runs: dict[str, Callable[[], torch.Tensor]] = {}
    reference = None
    for option in options:
        tic = time.perf_counter()
        try:
            runs[option] = build_option(option, model, x)
            out = runs[option]().float()  # warm-up (and compilation)
        except Exception as error:  # report and go on with the other options
            print(f"{option}: failed: {type(error).__name__}: {str(error).splitlines()[0][:200]}", flush=True)
            runs.pop(option, None)
            continue
        if reference is None:
            reference = out
        agree = (out.argmax(1) == reference.argmax(1)).float().mean().item()
        print(f"{option}: first call {time.perf_counter() - tic:.1f} s, top-1 agreement with {options[0]} "
              f"{100 * agree:.0f}% on {args.batch} clips", flush=True)
    times: dict[str, list[float]] = {option: [] for option in runs}
    for _ in range(args.rounds):
        for option, run in runs.items():
            tic = time.perf_counter()
            run()
            times[option].append(time.perf_counter() - tic)
    base = statistics.median(times["fp32"]) if "fp32" in times else None
    shape = "x".join(str(d) for d in info.input_shape)
    print(f"\n{args.model}, batch {args.batch} x {shape}, {args.rounds} rounds")
    print(f"{'option':<15} {'clips/s':>8} {'speed-up':>9}")
    for option, values in times.items():
        seconds = statistics.median(values)
        ratio = f"{base / seconds:.2f}x" if base else "-"
        print(f"{option:<15} {args.batch / seconds:8.2f} {ratio:>9}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
