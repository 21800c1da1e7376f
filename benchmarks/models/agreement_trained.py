"""Top-1 agreement of the CPU fast path with fp32 on a *trained* paper-size network.

``bench_models.py`` measures agreement on networks with random weights, whose logits for random clips
are nearly the same for every clip, so near-ties decide their top-1 and any rounding flips some of
them. This script trains the paper-size model briefly on vidlearn's synthetic ``motion4`` clips (the
class is the direction of motion; no single frame tells it) at the paper input, on the fast path
(``channels_last_3d`` + bf16 autocast), then compares fp32 eager and the fast path on held-out clips:
their top-1 accuracies, their top-1 agreement and the smallest fp32 top-1 margin among clips that
flip.

    python benchmarks/models/agreement_trained.py [--model c3d] [--minutes 25] [--batch 8]
        [--optimizer adam] [--lr 1e-4] [--train-clips 1600] [--test-clips 256] [--seed 0] [--set fc_init=kaiming ...]

``--set KEY=VALUE`` passes builder options (YAML values) to ``create``; ``fc_init=kaiming`` keeps C3D's
architecture and parameter count and only changes how fc6-fc8 start (PyTorch's default instead of
the paper's Gaussian, which does not start learning within minutes here).
"""

from __future__ import annotations

import argparse
import copy
import itertools
import time

import torch
import torch.nn.functional as F
import yaml
from bench_models import input_channels_last, motion_clips, to_channels_last, top1_agreement

from vidlearn.engine.precision import guard_bf16_conv3d_weight_grad
from vidlearn.models import create, get_model_info
from vidlearn.utils import machine_info


def train(model: torch.nn.Module, shape: tuple[int, ...], args: argparse.Namespace) -> dict[str, float]:
    """SGD on the fast path until ``args.minutes`` pass or the running train top-1 reaches 98 %."""
    x_train, y_train = motion_clips(shape, args.train_clips, "train", args.seed)
    x_train = input_channels_last(x_train)
    if args.optimizer == "adam":
        optimizer: torch.optim.Optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    else:
        optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
    generator = torch.Generator().manual_seed(args.seed)
    model.train()
    started = time.perf_counter()
    recent: list[float] = []
    steps = 0
    for epoch in itertools.count():
        order = torch.randperm(args.train_clips, generator=generator)
        for i in range(0, args.train_clips - args.batch + 1, args.batch):
            index = order[i:i + args.batch]
            with torch.autocast("cpu", dtype=torch.bfloat16):
                logits = model(x_train[index]).float()
            loss = F.cross_entropy(logits, y_train[index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            steps += 1
            recent = [*recent, float((logits.argmax(1) == y_train[index]).float().mean())][-20:]
            if steps % 10 == 0:
                elapsed = time.perf_counter() - started
                print(f"epoch {epoch} step {steps} loss {loss.item():.3f} running top-1 "
                      f"{sum(recent) / len(recent):.2f} ({elapsed / 60:.1f} min)", flush=True)
            done = len(recent) == 20 and sum(recent) / len(recent) >= 0.98
            if done or time.perf_counter() - started > args.minutes * 60:
                return {"steps": steps, "epochs": epoch + i / args.train_clips,
                        "minutes": (time.perf_counter() - started) / 60}
    raise AssertionError("unreachable")


def compare(model: torch.nn.Module, shape: tuple[int, ...], args: argparse.Namespace) -> dict[str, float]:
    """fp32 eager (contiguous) against the fast path on held-out clips."""
    reference = copy.deepcopy(model).eval().to(memory_format=torch.contiguous_format)
    reference = reference._apply(lambda t: t.contiguous())
    fast = to_channels_last(copy.deepcopy(model)).eval()
    x_test, y_test = motion_clips(shape, args.test_clips, "test", args.seed)
    agree = correct_fp32 = correct_fast = 0
    margin = float("inf")
    with torch.inference_mode():
        for i in range(0, args.test_clips, args.batch):
            x, y = x_test[i:i + args.batch], y_test[i:i + args.batch]
            ref = reference(x).float()
            with torch.autocast("cpu", dtype=torch.bfloat16):
                out = fast(input_channels_last(x)).float()
            same, gap = top1_agreement(ref, out)
            agree, margin = agree + same, min(margin, gap)
            correct_fp32 += int((ref.argmax(1) == y).sum())
            correct_fast += int((out.argmax(1) == y).sum())
    n = args.test_clips
    return {"agree": agree, "clips": n, "top1_fp32": correct_fp32 / n, "top1_fast": correct_fast / n,
            "min_flip_margin": margin}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="c3d")
    parser.add_argument("--minutes", type=float, default=25.0, help="training time budget")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--optimizer", choices=("adam", "sgd"), default="adam")
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--train-clips", type=int, default=1600)
    parser.add_argument("--test-clips", type=int, default=256)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="a builder option for create(), e.g. fc_init=kaiming (repeatable)")
    args = parser.parse_args()
    options = {}
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep:
            parser.error(f"--set expects KEY=VALUE, got {item!r}")
        options[key] = yaml.safe_load(value)
    torch.manual_seed(args.seed)
    info = get_model_info(args.model)
    shape = tuple(info.input_shape)
    model = to_channels_last(create(args.model, num_classes=4, **options))
    guard_bf16_conv3d_weight_grad(model)  # as the trainer does for train.amp=bf16 on the CPU
    print(machine_info(), flush=True)
    params = sum(p.numel() for p in model.parameters())
    print(f"{args.model} {options or ''} ({params:,} parameters) at {'x'.join(map(str, shape))}, motion4, "
          f"batch {args.batch}, {args.optimizer} lr {args.lr}", flush=True)
    trained = train(model, shape, args)
    print(f"trained {trained['steps']} steps ({trained['epochs']:.1f} epochs) in {trained['minutes']:.1f} min",
          flush=True)
    result = compare(model, shape, args)
    flip = "-" if result["min_flip_margin"] == float("inf") else f"{result['min_flip_margin']:.4f}"
    print(f"held-out top-1: fp32 {100 * result['top1_fp32']:.1f}%, fast {100 * result['top1_fast']:.1f}%; "
          f"top-1 agreement {100 * result['agree'] / result['clips']:.1f}% ({result['agree']}/{result['clips']}); "
          f"smallest fp32 margin of a flip {flip}", flush=True)


if __name__ == "__main__":
    main()
