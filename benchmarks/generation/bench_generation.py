"""DVD-GAN on the CPU: training iterations/s and samples/s, fp32 against the fast path; D_S + D_T memory
against one full-resolution 3D discriminator.

Run from the repository root::

    PYTHONPATH=src python benchmarks/generation/bench_generation.py [--rounds 3] [--out benchmarks/generation/results.json]

Speed, for ``dvdgan_cpu`` (32x32 x 8 frames, ch 8, batch 8) and ``dvdgan_64`` (64x64 x 16 frames with
``ch=4`` instead of the paper's 64, batch 4: at ch 64 one training step of G's 213M parameters takes
minutes on a CPU), in two modes alternated round by round (a change of the machine's load hits both):

- **fp32**: eager, contiguous tensors;
- **fast**: every 2D convolution weight in ``channels_last``, every 3D one in ``channels_last_3d``,
  and ``torch.autocast("cpu", dtype=torch.bfloat16)`` with the engine's guard for the bf16 conv3d
  weight-gradient fault (:func:`vidlearn.engine.precision.guard_bf16_conv3d_weight_grad`).

A training iteration is :class:`vidlearn.generation.DVDGANStep` (one D update on D_S + D_T, one G
update, hinge loss, Adam); samples/s is G's forward in ``torch.inference_mode``. Median over rounds,
per wall-clock second and per CPU second of the process (on a shared machine the second is the
steadier: it does not count the time other jobs held the cores).

Memory, at equal clip size (3 x T x R x R, batch B): the bytes autograd keeps for the backward pass
(the activations, counted once per storage through ``saved_tensors_hooks``) plus the parameters, for
D_S + D_T (the paper's split: ``k`` full-resolution frames, and the clip at half resolution) and for
one discriminator with every block 3D at full resolution (D_T's design without the x2 pooling).
This is what decides whether a batch fits; the paper gives it as the reason for the split.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from vidlearn.engine.precision import guard_bf16_conv3d_weight_grad
from vidlearn.generation import DVDGANStep
from vidlearn.generation.models import D_ARCH, TemporalDiscriminator
from vidlearn.models import create
from vidlearn.utils import machine_info

CASES = {
    "dvdgan_cpu": {"kwargs": {"ch": 8}, "batch": 8, "note": "32x32 x 8 frames, ch 8 (as registered)"},
    "dvdgan_64": {"kwargs": {"ch": 4}, "batch": 4, "note": "64x64 x 16 frames, ch 4 (the paper: ch 64)"},
    # The paper's width: for a GPU (``--device cuda --models dvdgan_64_paper``).
    "dvdgan_64_paper": {"model": "dvdgan_64", "kwargs": {"ch": 64}, "batch": 8,
                        "note": "64x64 x 16 frames, ch 64 (the paper's width)"},
}


class _Context:
    """The engine's step context reduced to what :class:`DVDGANStep` calls, with real Adam updates."""

    def __init__(self, models: dict[str, nn.Module], fast: bool) -> None:
        self.models = models
        self.parts = SimpleNamespace(accum={"g": 1, "d": 1})
        self.batch_index = 0
        g_params = list(models["g"].parameters())
        d_params = [p for name, m in models.items() if name != "g" for p in m.parameters()]
        self.optimizers = {"g": torch.optim.Adam(g_params, 1e-4, betas=(0.0, 0.999)),
                           "d": torch.optim.Adam(d_params, 5e-4, betas=(0.0, 0.999))}
        self.fast = fast

    def backward(self, loss: torch.Tensor, name: str) -> None:
        self.optimizers[name].zero_grad(set_to_none=True)
        loss.backward()

    def step(self, name: str) -> None:
        self.optimizers[name].step()


def to_fast_layout(module: nn.Module) -> nn.Module:
    """2D conv weights to ``channels_last``, 3D ones to ``channels_last_3d`` (``Module.to`` takes one format)."""
    for sub in module.modules():
        weight = getattr(sub, "weight", None)
        if isinstance(sub, (nn.Conv2d, nn.Conv3d)) and weight is not None:
            fmt = torch.channels_last if weight.ndim == 4 else torch.channels_last_3d
            for param in sub.parameters(recurse=False):
                param.data = param.data.contiguous(memory_format=fmt) if param.ndim == weight.ndim else param.data
            for name, buffer in sub.named_buffers(recurse=True):
                del name, buffer  # spectral norm's u / v vectors are 1-D: nothing to convert
    return module


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def speed(name: str, rounds: int, device: torch.device | str = "cpu") -> dict[str, Any]:
    """Training iterations/s and samples/s of ``CASES[name]`` on ``device``, fp32 and the fast path."""
    device = torch.device(device)
    case = CASES[name]
    torch.manual_seed(0)
    gan = create(case.get("model", name), num_classes=4, **case["kwargs"]).to(device)
    g = gan.generator
    models = {"g": g, "d_spatial": gan.spatial_discriminator, "d_temporal": gan.temporal_discriminator}
    batch = case["batch"]
    clips = torch.rand(batch, 3, g.num_frames, g.resolution, g.resolution, device=device) * 2 - 1
    labels = torch.arange(batch, device=device) % 4
    step = DVDGANStep(num_classes=4, z_dim=g.z_dim)
    times: dict[str, dict[str, list[float]]] = {
        mode: {"train": [], "sample": [], "train_cpu": [], "sample_cpu": []} for mode in ("fp32", "fast")}
    fast_models = None
    for round_index in range(rounds + 1):  # round 0 warms up
        for mode in ("fp32", "fast"):
            if mode == "fast" and fast_models is None:
                for module in models.values():
                    to_fast_layout(module)
                    guard_bf16_conv3d_weight_grad(module)
                fast_models = models
            context = _Context(models, fast=mode == "fast")
            autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=mode == "fast")
            _sync(device)
            started, cpu = time.perf_counter(), time.process_time()
            with autocast:
                step.training_step(context, (clips, labels))
            _sync(device)
            train_seconds, train_cpu = time.perf_counter() - started, time.process_time() - cpu
            z = torch.randn(batch, g.z_dim, device=device)
            started, cpu = time.perf_counter(), time.process_time()
            with torch.inference_mode(), autocast:
                g.eval()
                g(z, labels)
                g.train()
            _sync(device)
            sample_seconds, sample_cpu = time.perf_counter() - started, time.process_time() - cpu
            if round_index:
                times[mode]["train"].append(train_seconds)
                times[mode]["sample"].append(sample_seconds)
                times[mode]["train_cpu"].append(train_cpu)
                times[mode]["sample_cpu"].append(sample_cpu)
    result: dict[str, Any] = {"note": case["note"], "batch": batch, "device": str(device),
                              "params": {key: sum(p.numel() for p in m.parameters()) for key, m in models.items()}}
    for mode, measured in times.items():
        result[mode] = {"train_it_per_s": 1.0 / statistics.median(measured["train"]),
                        "samples_per_s": batch / statistics.median(measured["sample"]),
                        "train_it_per_cpu_s": 1.0 / statistics.median(measured["train_cpu"]),
                        "samples_per_cpu_s": batch / statistics.median(measured["sample_cpu"])}
    keys = ("train_it_per_s", "samples_per_s", "train_it_per_cpu_s", "samples_per_cpu_s")
    result["ratio"] = {key: result["fast"][key] / result["fp32"][key] for key in keys}
    return result


class FullResolution3D(TemporalDiscriminator):
    """One discriminator on the whole clip at full resolution, every block 3D (no x2 pooling): what DVD-GAN avoids."""

    def forward(self, clips: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        h = clips
        for block in self.blocks:
            h = block(h)
        steps = h.shape[2]
        h = h.transpose(1, 2).flatten(0, 1)
        scores = self.head(F.relu(h).sum(dim=(2, 3)), y.repeat_interleave(steps))
        return scores.view(clips.shape[0], steps).sum(dim=1)


def saved_bytes(modules: list[nn.Module], clips: torch.Tensor, labels: torch.Tensor) -> int:
    """Bytes autograd keeps for the backward of ``sum(D(clips))`` over ``modules`` (one count per storage)."""
    seen: dict[int, int] = {}

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        seen[storage.data_ptr()] = storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        total = sum(module(clips, labels).sum() for module in modules)
    del total
    return sum(seen.values())


def memory(resolution: int, frames: int, batch: int, ch: int, k: int) -> dict[str, Any]:
    torch.manual_seed(0)
    name = {32: "dvdgan_cpu", 64: "dvdgan_64", 128: "dvdgan_128"}[resolution]
    gan = create(name, num_classes=4, ch=ch, num_frames=frames, k=k)
    widths, down = D_ARCH[resolution]
    full = FullResolution3D(num_classes=4, resolution=resolution, ch=ch, multipliers=widths, downsample=down,
                            num_3d_blocks=len(widths))
    clips = torch.rand(batch, 3, frames, resolution, resolution, requires_grad=False) * 2 - 1
    labels = torch.arange(batch) % 4
    split = [gan.spatial_discriminator, gan.temporal_discriminator]

    def params(modules: list[nn.Module]) -> int:
        return sum(p.numel() * p.element_size() for m in modules for p in m.parameters())

    dsdt = saved_bytes(split, clips, labels) + params(split)
    full_bytes = saved_bytes([full], clips, labels) + params([full])
    return {"clip": [3, frames, resolution, resolution], "batch": batch, "ch": ch, "k": k,
            "ds_dt_mib": dsdt / 2**20, "full_3d_mib": full_bytes / 2**20, "ratio": full_bytes / dsdt}


def table(results: dict[str, Any]) -> str:
    lines = ["| model | batch | mode | training it/s | samples/s | training it per CPU-s | samples per CPU-s |",
             "| --- | ---: | --- | ---: | ---: | ---: | ---: |"]
    for name, row in results["speed"].items():
        for mode in ("fp32", "fast"):
            m = row[mode]
            lines.append(f"| {name} ({row['note']}) | {row['batch']} | {mode} | {m['train_it_per_s']:.3f} "
                         f"| {m['samples_per_s']:.2f} | {m['train_it_per_cpu_s']:.3f} | {m['samples_per_cpu_s']:.2f} |")
        r = row["ratio"]
        lines.append(f"| | | fast / fp32 | {r['train_it_per_s']:.2f}x | {r['samples_per_s']:.2f}x "
                     f"| {r['train_it_per_cpu_s']:.2f}x | {r['samples_per_cpu_s']:.2f}x |")
    lines += ["", "| clip (C x T x H x W), batch | D_S + D_T | one full-resolution 3D D | ratio |",
              "| --- | ---: | ---: | ---: |"]
    for row in results["memory"]:
        clip = "x".join(str(v) for v in row["clip"])
        lines.append(f"| {clip}, {row['batch']} (ch {row['ch']}, k {row['k']}) | {row['ds_dt_mib']:.1f} MiB | {row['full_3d_mib']:.1f} MiB "
                     f"| {row['ratio']:.2f}x |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--models", nargs="+", default=list(CASES), choices=list(CASES))
    parser.add_argument("--out", default=None, help="write the results as JSON here")
    parser.add_argument("--memory-only", action="store_true", help="only the discriminators' memory")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (speed only; the memory count is the CPU's)")
    parser.add_argument("--no-memory", action="store_true", help="skip the discriminators' memory")
    args = parser.parse_args()
    import os

    device = torch.device(args.device)
    machine = str(machine_info()) + (f", {torch.cuda.get_device_name(device)}" if device.type == "cuda" else "")
    results: dict[str, Any] = {"machine": machine, "load_average_before": os.getloadavg(),
                               "speed": {}, "memory": []}
    for name in [] if args.memory_only else args.models:
        results["speed"][name] = speed(name, args.rounds, device)
        print(name, json.dumps(results["speed"][name]), flush=True)
    # The CPU model's clip, the UCF-101 set-up, and the paper's 48 frames at 128x128 (ch 2 so that the
    # full-resolution 3D D runs on a CPU: activations grow linearly with ch on both sides).
    for resolution, frames, batch, ch, k in () if args.no_memory else ((32, 8, 8, 8, 4), (64, 16, 4, 16, 8),
                                                                     (128, 48, 1, 2, 8)):
        results["memory"].append(memory(resolution, frames, batch, ch, k))
        print("memory", json.dumps(results["memory"][-1]), flush=True)
    results["load_average_after"] = os.getloadavg()
    print()
    print(table(results))
    print(f"\nMachine: {results['machine']}; load average before {results['load_average_before']}, "
          f"after {results['load_average_after']}")
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
