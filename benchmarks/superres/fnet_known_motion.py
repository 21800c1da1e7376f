"""FNet + warping trained alone, as FRVSR trains FNet (``L_flow``, no flow labels), on synthetic pairs with
known motion; prints the end-point error on held-out pairs.

    python benchmarks/superres/fnet_known_motion.py [--steps 300] [--batch 8] [--lr 3e-4] [--width 32] [--device cuda]

Pairs: a random smooth texture (bicubic upsampling of 8x8 noise to 64x64) and the same texture shifted by a
random sub-pixel motion (dx, dy) uniform in [-2, 2] LR pixels, both cut to their 32x32 centres (the shift by
bilinear resampling, so the known flow is exact). The end-point error is the mean distance between FNet's
flow and the known one over the pixels 4 or more from the border.
"""

from __future__ import annotations

import argparse
import json
import time

import torch
import torch.nn.functional as F

from vidlearn.superres.models import FNet, backward_warp


def pairs(count: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``previous, current (count, 3, 32, 32)`` and the true flow current -> previous ``(count, 2)``."""
    texture = F.interpolate(torch.rand(count, 3, 8, 8, generator=generator), size=(64, 64), mode="bicubic",
                            align_corners=False)
    motion = torch.rand(count, 2, generator=generator) * 4 - 2
    flow = motion[:, :, None, None].expand(count, 2, 64, 64).contiguous()
    current = backward_warp(texture, -flow)  # current[p] = texture[p - motion]: the content moved by +motion
    # the flow that aligns previous (= texture) to current is -motion
    return texture[..., 16:48, 16:48], current[..., 16:48, 16:48], -motion


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--lr", type=float, default=3e-4)
    parser.add_argument("--eval-every", type=int, default=100)
    parser.add_argument("--width", type=int, default=32, help="FNet's first-stage filters (the paper: 32)")
    parser.add_argument("--save", default=None, help="write the trained FNet's state dict here")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (the pairs are drawn on the CPU either way)")
    args = parser.parse_args()
    device = torch.device(args.device)
    torch.manual_seed(0)
    train_generator, test_generator = torch.Generator().manual_seed(1), torch.Generator().manual_seed(2)
    net = FNet(3, width=args.width).to(device)
    optimiser = torch.optim.Adam(net.parameters(), lr=args.lr)
    test_previous, test_current, test_truth = (t.to(device) for t in pairs(64, test_generator))

    def end_point_error() -> float:
        with torch.no_grad():
            flow = net(test_previous, test_current)[..., 4:-4, 4:-4]
        return float((flow - test_truth[:, :, None, None]).norm(dim=1).mean())

    zero_flow = float(test_truth.norm(dim=1).mean())  # the error of predicting no motion
    print(f"predicting no motion: end-point error {zero_flow:.3f} LR px", flush=True)
    started = time.perf_counter()
    history = {0: end_point_error()}
    for step in range(1, args.steps + 1):
        previous, current, _ = (t.to(device) for t in pairs(args.batch, train_generator))
        flow = net(previous, current)
        loss = F.mse_loss(backward_warp(previous, flow)[..., 4:-4, 4:-4], current[..., 4:-4, 4:-4])
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        if step % args.eval_every == 0 or step == args.steps:
            history[step] = end_point_error()
            print(f"step {step}: held-out end-point error {history[step]:.3f} LR px", flush=True)
    print(json.dumps({"end_point_error_px": history, "zero_flow_px": zero_flow, "motion": "uniform sub-pixel in [-2, 2] px",
                      "held_out_pairs": 64, "steps": args.steps, "batch": args.batch, "lr": args.lr,
                      "width": args.width, "device": str(device), "seconds": time.perf_counter() - started}))
    if args.save:
        torch.save(net.state_dict(), args.save)


if __name__ == "__main__":
    main()
