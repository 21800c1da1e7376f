"""Recognition zoo on the CPU: fp32 eager against the fast path, with two known peers.

For every registered recognition model (``vidlearn.models.list_models("recognition")``) and two
inputs, the *paper* input (``create(name)`` at ``input_shape``) and the *small* input (the registry's
CPU-sized variant, ``create(name, **small_kwargs)`` at ``small_input_shape``), the script measures in
one run:

* inference throughput (clips/s, ``torch.inference_mode``, eval mode) and the time of one training
  step (forward + cross-entropy + backward + SGD step, train mode), median over the iterations;
* both in **fp32 eager** (contiguous tensors) and on the **fast path**: model and input in
  ``channels_last_3d`` (``channels_last`` for the 4-D weights of 2-D convolutions) and
  ``torch.autocast("cpu", dtype=torch.bfloat16)``;
* the fast path's top-1 agreement with fp32 on the same clips (fixed seed), both on i.i.d. Gaussian
  clips and on *structured* clips (smooth, moving patterns: low-resolution noise upsampled in space
  and time), with the number of clips; random-init networks give near-tied logits on noise, so the
  table also prints the smallest fp32 top-1 margin of a disagreeing clip;
* GMACs per clip (``vidlearn.models.flops.count_flops``).

Peers run the same measurements in the same run: torchvision's ``r3d_18`` (called directly, beside
vidlearn's registry entry of the same network) and PyTorchVideo's I3D-R50 (``pytorchvideo`` 0.1.5,
``pytorchvideo.models.hub.i3d_r50(pretrained=False)``, 3x8x224x224 as in its model zoo).

    python benchmarks/models/bench_models.py [--models c3d,i3d,...] [--inputs paper,small]
        [--quick] [--threads N] [--seed 0] [--readme benchmarks/models/README.md]

``--readme`` rewrites the results section of that file with the table and the machine.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from vidlearn.engine.precision import guard_bf16_conv3d_weight_grad
from vidlearn.models import create, get_model_info, list_models
from vidlearn.models.flops import count_flops
from vidlearn.utils import machine_info

PEERS = ("torchvision_r3d_18", "pytorchvideo_i3d_r50")
FITTED_PRESET = "motion4"  # the synthetic classes the fitted head learns (see fitted_head_agreement)
HEAVY_GMACS = 60.0  # above this per clip, the paper input runs at batch 1
RESULTS_MARK = "<!-- results -->"

Shape = tuple[int, ...]


@dataclass
class Case:
    """One model at one input: how to build it and what to feed it."""

    model: str
    variant: str  # "paper" | "small"
    build: Callable[[], nn.Module]
    shapes: tuple[Shape, ...]  # one (C, T, H, W) per forward argument
    num_classes: int
    batch: int = 1


@dataclass
class Result:
    case: Case
    gmacs: float = float("nan")
    infer: dict[str, float] = field(default_factory=dict)  # mode -> clips/s
    train: dict[str, float] = field(default_factory=dict)  # mode -> s/step
    agree_random: tuple[int, int] = (0, 0)  # (agreeing, clips)
    agree_structured: tuple[int, int] = (0, 0)
    min_disagree_margin: float = float("nan")
    agree_fitted: tuple[int, int] = (0, 0)  # with a classifier fitted on synthetic motion clips
    fitted_accuracy: float = float("nan")  # that classifier's fp32 held-out top-1
    error: str = ""


# ---------------------------------------------------------------------------------------------
# peers


def _torchvision_r3d_18(num_classes: int = 400) -> nn.Module:
    from torchvision.models.video import r3d_18

    return r3d_18(num_classes=num_classes)


def _pytorchvideo_i3d_r50(num_classes: int = 400, head_pool_kernel_size: Shape = (4, 7, 7)) -> nn.Module:
    import torchvision.transforms.functional

    # pytorchvideo 0.1.5 imports a torchvision module that torchvision has since removed.
    sys.modules.setdefault("torchvision.transforms.functional_tensor", torchvision.transforms.functional)
    from pytorchvideo.models.hub import i3d_r50

    return i3d_r50(pretrained=False, model_num_class=num_classes, head_pool_kernel_size=head_pool_kernel_size)


def peer_cases(name: str, variant: str) -> Case:
    if name == "torchvision_r3d_18":
        if variant == "paper":
            return Case(name, variant, lambda: _torchvision_r3d_18(400), ((3, 16, 112, 112),), 400)
        # the registry's small input of vidlearn's r3d_18, so that the two rows compare
        small = get_model_info("r3d_18").small_input_shape or (3, 8, 32, 32)
        return Case(name, variant, lambda: _torchvision_r3d_18(5), (tuple(small),), 5)
    if name == "pytorchvideo_i3d_r50":
        if variant == "paper":
            return Case(name, variant, lambda: _pytorchvideo_i3d_r50(400), ((3, 8, 224, 224),), 400)
        # 8x64x64 leaves a 4x2x2 map before the head's average pool.
        return Case(name, variant, lambda: _pytorchvideo_i3d_r50(5, (4, 2, 2)), ((3, 8, 64, 64),), 5)
    raise KeyError(name)


def zoo_case(name: str, variant: str) -> Case:
    info = get_model_info(name)
    if variant == "paper":
        shape = info.input_shape
        kwargs: dict = {}
        num_classes = info.default_num_classes
    else:
        shape = info.small_input_shape or info.input_shape
        kwargs = dict(info.small_kwargs)
        num_classes = kwargs.pop("num_classes", info.default_num_classes)
    shapes = shape if isinstance(shape[0], tuple) else (shape,)
    return Case(name, variant, lambda: create(name, num_classes=num_classes, **kwargs), tuple(shapes), num_classes)


# ---------------------------------------------------------------------------------------------
# the fast path


def to_channels_last(module: nn.Module) -> nn.Module:
    """5-D parameters and buffers to ``channels_last_3d``, 4-D ones to ``channels_last``, in place."""

    def convert(t: torch.Tensor) -> torch.Tensor:
        if t.dim() == 5:
            return t.contiguous(memory_format=torch.channels_last_3d)
        if t.dim() == 4:
            return t.contiguous(memory_format=torch.channels_last)
        return t

    return module._apply(convert)


def input_channels_last(x: torch.Tensor) -> torch.Tensor:
    if x.dim() == 5:
        return x.contiguous(memory_format=torch.channels_last_3d)
    if x.dim() == 4:
        return x.contiguous(memory_format=torch.channels_last)
    return x


def autocast_for(mode: str):
    if mode == "fast":
        return torch.autocast("cpu", dtype=torch.bfloat16)
    return torch.autocast("cpu", enabled=False)


def prepare(model: nn.Module, inputs: Sequence[torch.Tensor], mode: str) -> tuple[nn.Module, list[torch.Tensor]]:
    if mode == "fast":
        # as vidlearn's trainer does for train.amp=bf16 on the CPU (only training steps are affected)
        guard_bf16_conv3d_weight_grad(model)
        return to_channels_last(model), [input_channels_last(x) for x in inputs]
    return model, list(inputs)


# ---------------------------------------------------------------------------------------------
# inputs


def random_clips(shapes: Sequence[Shape], batch: int, generator: torch.Generator) -> list[torch.Tensor]:
    return [torch.randn(batch, *shape, generator=generator) for shape in shapes]


def structured_clips(shapes: Sequence[Shape], batch: int, generator: torch.Generator) -> list[torch.Tensor]:
    """Smooth moving patterns: coarse noise (T/4, H/16, W/16) upsampled trilinearly, unit variance."""
    clips = []
    for channels, frames, height, width in shapes:
        coarse = torch.randn(batch, channels, max(frames // 4, 2), max(height // 16, 2), max(width // 16, 2),
                             generator=generator)
        smooth = F.interpolate(coarse, size=(frames, height, width), mode="trilinear", align_corners=False)
        clips.append((smooth - smooth.mean()) / smooth.std())
    return clips


def top1_agreement(ref: torch.Tensor, out: torch.Tensor) -> tuple[int, float]:
    """(rows of ``ref`` and ``out`` logits with the same top-1, smallest ``ref`` top-1 margin among
    the others; inf when none differ)."""
    same = ref.argmax(1) == out.argmax(1)
    top2 = ref.topk(2, dim=1).values
    gaps = (top2[:, 0] - top2[:, 1])[~same]
    return int(same.sum()), float(gaps.min()) if gaps.numel() else float("inf")


def motion_clips(shape: Shape, count: int, split: str, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``count`` clips of vidlearn's synthetic motion data at ``shape`` (C=3, T, H, W), values in [-1, 1],
    and their labels (the class is the motion: no single frame tells it)."""
    from vidlearn.synthetic import SyntheticMotionDataset

    channels, frames, height, width = shape
    if channels != 3:
        raise ValueError(f"synthetic motion clips are RGB; the model takes {channels} channels")
    data = SyntheticMotionDataset(count, preset=FITTED_PRESET, num_frames=frames, size=(height, width),
                                  seed=seed, split=split)
    clips, labels = [], []
    for clip, label, _ in data:
        clips.append(torch.as_tensor(clip).permute(3, 0, 1, 2))
        labels.append(label)
    return torch.stack(clips).float().div_(127.5).sub_(1.0), torch.tensor(labels)


def fitted_head_agreement(model: nn.Module, shape: Shape, train_clips: int, test_clips: int, batch: int,
                          seed: int) -> tuple[int, int, float, float]:
    """Top-1 agreement of the fast path with a classifier whose decisions depend on the input.

    A network with random weights maps random clips to almost the same logits (C3D at 16x112x112:
    the logits of one class vary across clips by about 6 % of their spread across classes), so its
    top-1 is decided by near-ties that any rounding flips. Here the model's own backbone (random
    weights, fp32) gives features of synthetic motion clips, a logistic regression fitted on them
    becomes the model's classifier, and fp32 and the fast path are compared on held-out clips.
    Returns (agreeing clips, clips, fp32 held-out top-1, smallest fp32 top-1 margin of a flip).
    """
    from sklearn.linear_model import LogisticRegression

    if not isinstance(model.get_classifier(), nn.Linear):
        raise ValueError("the fitted head needs a model whose classifier is an nn.Linear")
    model = copy.deepcopy(model).eval()
    x_train, y_train = motion_clips(shape, train_clips, "train", seed)
    with torch.inference_mode():
        features = torch.cat([model.forward_features(x_train[i:i + batch]) for i in range(0, train_clips, batch)])
    features = features.double().numpy()
    mean, std = features.mean(0), features.std(0) + 1e-6
    classifier = LogisticRegression(max_iter=5000).fit((features - mean) / std, y_train.numpy())
    weight = classifier.coef_ / std
    model.reset_classifier(weight.shape[0])
    with torch.no_grad():
        model.get_classifier().weight.copy_(torch.from_numpy(weight))
        model.get_classifier().bias.copy_(torch.from_numpy(classifier.intercept_ - weight @ mean))
    fast = to_channels_last(copy.deepcopy(model))
    x_test, y_test = motion_clips(shape, test_clips, "test", seed)
    agree, correct, margin = 0, 0, float("inf")
    with torch.inference_mode():
        for i in range(0, test_clips, batch):
            x = x_test[i:i + batch]
            ref = model(x).float()
            with autocast_for("fast"):
                out = fast(input_channels_last(x)).float()
            same, gap = top1_agreement(ref, out)
            agree, margin = agree + same, min(margin, gap)
            correct += int((ref.argmax(1) == y_test[i:i + batch]).sum())
    return agree, test_clips, correct / test_clips, margin


# ---------------------------------------------------------------------------------------------
# measurements


def _median_times(steps: dict[str, Callable[[], object]], warmup: int, iters: int,
                  min_seconds: float) -> dict[str, float]:
    """Median seconds of each step; the steps alternate (A B A B ...) so that a change in the load
    of a shared machine hits both alike and their ratio stays fair."""
    for step in steps.values():
        for _ in range(warmup):
            step()
    times: dict[str, list[float]] = {name: [] for name in steps}
    start = time.perf_counter()
    rounds = 0
    while rounds < iters or (time.perf_counter() - start < min_seconds and rounds < 5 * iters):
        for name, step in steps.items():
            tic = time.perf_counter()
            step()
            times[name].append(time.perf_counter() - tic)
        rounds += 1
    return {name: statistics.median(values) for name, values in times.items()}


def inference_step(model: nn.Module, inputs: list[torch.Tensor], mode: str) -> Callable[[], torch.Tensor]:
    model.eval()

    def step() -> torch.Tensor:
        with torch.inference_mode(), autocast_for(mode):
            return model(*inputs)

    return step


def train_step(model: nn.Module, inputs: list[torch.Tensor], num_classes: int, mode: str) -> Callable[[], None]:
    """forward + cross-entropy + backward + SGD step, in train mode."""
    model.train()
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    target = torch.arange(inputs[0].shape[0]) % num_classes

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        with autocast_for(mode):
            loss = F.cross_entropy(model(*inputs).float(), target)
        loss.backward()
        optimizer.step()

    return step


def agreement(reference: nn.Module, fast: nn.Module, make: Callable, shapes: Sequence[Shape], clips: int,
              batch: int, seed: int) -> tuple[int, int, float]:
    """(clips whose fp32 and fast top-1 agree, clips, smallest fp32 top-1 margin among the others)."""
    generator = torch.Generator().manual_seed(seed)
    reference.eval()
    fast.eval()
    agree, seen, margin = 0, 0, float("inf")
    while seen < clips:
        n = min(batch, clips - seen)
        inputs = make(shapes, n, generator)
        with torch.inference_mode():
            ref = reference(*inputs).float()
            with autocast_for("fast"):
                out = fast(*[input_channels_last(x) for x in inputs]).float()
        same, gap = top1_agreement(ref, out)
        agree, margin = agree + same, min(margin, gap)
        seen += n
    return agree, seen, margin


def run_case(case: Case, args: argparse.Namespace) -> Result:
    result = Result(case)
    quick = args.quick
    torch.manual_seed(args.seed)
    try:
        model = case.build()
        result.gmacs = count_flops(model, case.shapes if len(case.shapes) > 1 else case.shapes[0])
        if case.variant == "paper":
            case.batch = args.paper_batch or (1 if result.gmacs >= HEAVY_GMACS else 4)
            warmup, iters, min_seconds = 1, 2 if quick else 3, 0.0 if quick else 5.0
            agree_clips = (2 if quick else 4) if result.gmacs >= HEAVY_GMACS else (4 if quick else 16)
            agree_clips = args.paper_agree_clips or agree_clips
        else:
            case.batch = args.small_batch
            warmup, iters, min_seconds = 2, 3 if quick else 10, 0.0 if quick else 2.0
            agree_clips = 20 if quick else args.agree_clips
        fast_model = to_channels_last(copy.deepcopy(model))
        agree_batch = case.batch if case.variant == "paper" else 25
        a, n, m1 = agreement(model, fast_model, random_clips, case.shapes, agree_clips, agree_batch, args.seed)
        result.agree_random = (a, n)
        a, n, m2 = agreement(model, fast_model, structured_clips, case.shapes, agree_clips, agree_batch, args.seed)
        result.agree_structured = (a, n)
        result.min_disagree_margin = min(m1, m2)
        del fast_model
        if case.variant == "paper" and case.model in args.fitted_head.split(","):
            train_clips, test_clips = (32, 32) if quick else (args.fitted_clips, args.fitted_clips)
            a, n, accuracy, m3 = fitted_head_agreement(model, case.shapes[0], train_clips, test_clips,
                                                       max(case.batch, 8), args.seed)
            result.agree_fitted, result.fitted_accuracy = (a, n), accuracy
            result.min_disagree_margin = min(result.min_disagree_margin, m3)
        generator = torch.Generator().manual_seed(args.seed)
        inputs = random_clips(case.shapes, case.batch, generator)
        nets = {mode: prepare(copy.deepcopy(model), inputs, mode) for mode in ("fp32", "fast")}
        steps = {mode: inference_step(net, xs, mode) for mode, (net, xs) in nets.items()}
        rates = _median_times(steps, warmup, iters, min_seconds)
        result.infer = {mode: case.batch / seconds for mode, seconds in rates.items()}
        if not args.no_train:
            steps = {mode: train_step(net, xs, case.num_classes, mode) for mode, (net, xs) in nets.items()}
            result.train = _median_times(steps, warmup, iters, min_seconds)
        del nets, steps
    except Exception as error:  # one failing model must not stop the table
        result.error = f"{type(error).__name__}: {str(error).splitlines()[0][:160]}"
        if args.verbose:
            traceback.print_exc()
    return result


# ---------------------------------------------------------------------------------------------
# reporting


def _fmt(value: float, digits: int = 2) -> str:
    if value != value:  # NaN
        return "-"
    return f"{value:.{digits}f}" if value < 100 else f"{value:.0f}"


def _ratio(new: float | None, old: float | None) -> str:
    if not new or not old:
        return "-"
    return f"{new / old:.2f}x"


def table_rows(results: Sequence[Result]) -> list[list[str]]:
    rows = []
    for r in results:
        c = r.case
        shape = " + ".join("x".join(str(d) for d in s) for s in c.shapes)
        if r.error:
            rows.append([c.model, c.variant, f"{c.batch} x {shape}", _fmt(r.gmacs), "error: " + r.error]
                        + [""] * (len(HEADER) - 5))
            continue
        i32, ifast = r.infer.get("fp32"), r.infer.get("fast")
        t32, tfast = r.train.get("fp32"), r.train.get("fast")
        ar, nr = r.agree_random
        as_, ns = r.agree_structured
        af, nf = r.agree_fitted
        fitted = f"{100 * af / nf:.1f}% ({af}/{nf}; fp32 top-1 {100 * r.fitted_accuracy:.0f}%)" if nf else "-"
        rows.append([
            c.model, c.variant, f"{c.batch} x {shape}", _fmt(r.gmacs),
            _fmt(i32 or float("nan")), _fmt(ifast or float("nan")), _ratio(ifast, i32),
            _fmt(t32 or float("nan"), 3), _fmt(tfast or float("nan"), 3), _ratio(t32, tfast),
            f"{100 * ar / nr:.0f}% ({ar}/{nr})", f"{100 * as_ / ns:.0f}% ({as_}/{ns})", fitted,
            _fmt(r.min_disagree_margin, 4) if r.min_disagree_margin != float("inf") else "-",
        ])
    return rows


HEADER = ["model", "input", "batch x clip", "GMACs/clip", "infer fp32 clips/s", "infer fast clips/s",
          "infer speed-up", "train fp32 s/step", "train fast s/step", "train speed-up",
          "top-1 agree (noise)", "top-1 agree (structured)", "top-1 agree (fitted head)", "min margin of a flip"]


def print_table(rows: list[list[str]]) -> None:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(HEADER)]
    print("  ".join(h.ljust(w) for h, w in zip(HEADER, widths)))
    for row in rows:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths)))


def markdown_table(rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def write_readme(path: Path, rows: list[list[str]], machine: str, command: str, note: str) -> None:
    text = path.read_text() if path.exists() else RESULTS_MARK + "\n"
    head = text.split(RESULTS_MARK)[0]
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    body = (f"{RESULTS_MARK}\n\n## Latest results ({stamp})\n\nMachine: {machine}.{note}\n\n"
            f"Command: `{command}`\n\n{markdown_table(rows)}\n")
    path.write_text(head + body)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default="all",
                        help="comma-separated registry names and/or peers (" + ", ".join(PEERS) + "); default all")
    parser.add_argument("--inputs", default="paper,small", help="paper, small or both (comma-separated)")
    parser.add_argument("--quick", action="store_true", help="fewer iterations and clips (a smoke run)")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--agree-clips", type=int, default=100, help="clips for top-1 agreement at the small input")
    parser.add_argument("--paper-agree-clips", type=int, default=0,
                        help="clips for top-1 agreement at the paper input (default 16, 4 above 60 GMACs)")
    parser.add_argument("--fitted-head", default="c3d",
                        help="models whose paper-input agreement is also measured with a fitted classifier")
    parser.add_argument("--fitted-clips", type=int, default=256,
                        help="synthetic clips to fit that classifier on, and as many to compare on")
    parser.add_argument("--small-batch", type=int, default=8)
    parser.add_argument("--paper-batch", type=int, default=None,
                        help=f"batch at the paper input (default 4, or 1 above {HEAVY_GMACS:.0f} GMACs/clip)")
    parser.add_argument("--no-train", action="store_true", help="skip the training-step timings")
    parser.add_argument("--readme", type=Path, default=None, help="write the Markdown table into this file")
    parser.add_argument("--note", default="", help="a sentence added under the machine line in --readme")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    names = list_models("recognition") + list(PEERS) if args.models == "all" else args.models.split(",")
    variants = args.inputs.split(",")
    machine = str(machine_info())
    print(machine, flush=True)
    print(f"oneDNN available: {torch.backends.mkldnn.is_available()}, "
          f"bf16 supported: {torch.ops.mkldnn._is_mkldnn_bf16_supported()}", flush=True)
    results = []
    for name in names:
        for variant in variants:
            case = peer_cases(name, variant) if name in PEERS else zoo_case(name, variant)
            tic = time.perf_counter()
            result = run_case(case, args)
            results.append(result)
            print(" | ".join(table_rows([result])[0]) + f"  [{time.perf_counter() - tic:.0f} s]", flush=True)
    print()
    rows = table_rows(results)
    print_table(rows)
    if args.readme:
        command = "python benchmarks/models/bench_models.py " + " ".join(argv if argv is not None else sys.argv[1:])
        write_readme(args.readme, rows, machine, command.strip(), (" " + args.note) if args.note else "")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
