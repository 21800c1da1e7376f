"""Does a trained FRVSR use its previous estimate? Its PSNR with the recurrence cut, and FNet's alignment.

For each sequence (BD x4 made from the HR frames, vid4 protocol) this prints:

- Y-PSNR of the FRVSR as trained, with the flow set to zero, and with the warped previous estimate replaced by
  a black image at every step (the first frame's input). A model that draws on its previous estimate loses
  PSNR when it is cut; one that learnt to ignore it (as FRVSR does when FNet's flow misaligns the estimate)
  scores the same or better without it.
- FNet's alignment of consecutive LR frames: the median over frame pairs of the mean squared error of the
  warped previous frame against the current one, next to no motion and OpenCV's DIS flow.

    python benchmarks/superres/recurrence_check.py WORK_DIR/model.safetensors SOURCE [SOURCE ...] [--frames 30]

SOURCE: video files or frame folders, or ``synthetic`` (three held-out scenes, 128x128).
"""

from __future__ import annotations

import argparse
import importlib
import json
from pathlib import Path

import torch

from vidlearn.superres.data import read_sequence
from vidlearn.superres.degrade import Degradation
from vidlearn.superres.evaluation import synthetic_sequence
from vidlearn.superres.fnet_pretrain import teacher_flow
from vidlearn.superres.inference import load_sr_model
from vidlearn.superres.metrics import evaluate_sequence
from vidlearn.superres.models.warp import backward_warp

frvsr_module = importlib.import_module("vidlearn.superres.models.frvsr")


def psnr_y(model: torch.nn.Module, lr: torch.Tensor, hr: torch.Tensor, cut: str | None) -> float:
    """Y-PSNR (vid4 protocol) of ``model`` on one sequence, the recurrence cut as ``cut`` says."""
    warp = frvsr_module.backward_warp
    if cut == "zero-flow":
        frvsr_module.backward_warp = lambda image, flow, **kw: warp(image, torch.zeros_like(flow), **kw)
    elif cut == "black":
        frvsr_module.backward_warp = lambda image, flow, **kw: torch.zeros_like(image)
    try:
        with torch.no_grad():
            estimate = model(lr[None])[0].clamp(0, 1)
    finally:
        frvsr_module.backward_warp = warp
    return float(evaluate_sequence(estimate, hr, "vid4", temporal=False)["psnr_y"])


def alignment(previous: torch.Tensor, current: torch.Tensor, flow: torch.Tensor | None) -> float:
    warped = previous if flow is None else backward_warp(previous, flow)
    return float(((warped - current) ** 2).mean(dim=(1, 2, 3)).median())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("sources", nargs="+")
    parser.add_argument("--frames", type=int, default=30, help="frames per sequence (default 30)")
    parser.add_argument("--json", type=Path, help="write the table as JSON")
    args = parser.parse_args()
    model, meta = load_sr_model(args.checkpoint)
    if not hasattr(model, "fnet"):
        raise SystemExit(f"{args.checkpoint}: {meta['model']} has no recurrence to check (not FRVSR)")
    degradation = Degradation(kind="bd", scale=int(meta["scale"]), sigma=1.5)
    sequences = []
    for source in args.sources:
        if source == "synthetic":
            sequences += [synthetic_sequence(i, degradation, num_frames=min(args.frames, 20), size=(128, 128))
                          for i in range(3)]
        else:
            sequences.append(read_sequence(source, degradation, max_frames=args.frames))
    rows = {}
    print(f"{'sequence':<24} {'PSNR-Y':>8} {'no flow':>8} {'no prev.':>8} | warp MSE: {'FNet':>8} "
          f"{'none':>8} {'DIS':>8}")
    for sequence in sequences:
        previous, current = sequence.lr[:-1], sequence.lr[1:]
        with torch.no_grad():
            fnet_flow = model.fnet(previous, current)
        row = {
            "psnr_y": psnr_y(model, sequence.lr, sequence.hr, None),
            "psnr_y_zero_flow": psnr_y(model, sequence.lr, sequence.hr, "zero-flow"),
            "psnr_y_no_previous": psnr_y(model, sequence.lr, sequence.hr, "black"),
            "warp_mse_fnet": alignment(previous, current, fnet_flow),
            "warp_mse_none": alignment(previous, current, None),
            "warp_mse_dis": alignment(previous, current, teacher_flow(previous, current)),
        }
        rows[sequence.name] = row
        print(f"{sequence.name:<24} {row['psnr_y']:8.3f} {row['psnr_y_zero_flow']:8.3f} "
              f"{row['psnr_y_no_previous']:8.3f} | {'':10}{row['warp_mse_fnet']:8.5f} {row['warp_mse_none']:8.5f} "
              f"{row['warp_mse_dis']:8.5f}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
