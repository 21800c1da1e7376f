"""FNet + warping trained alone, as FRVSR trains FNet (``L_flow``, no flow labels), on synthetic pairs with
known motion; prints the end-point error on held-out pairs (:mod:`vidlearn.superres.fnet_pretrain`).

    python benchmarks/superres/fnet_known_motion.py [--steps 300] [--batch 8] [--lr 3e-4] [--width 32]
                                                    [--max-flow 24] [--device cuda] [--save fnet.pt]

Pairs: a random smooth texture (bicubic upsampling of 8x8 noise to 64x64) and the same texture shifted by a
random sub-pixel motion (dx, dy) uniform in [-2, 2] LR pixels, both cut to their 32x32 centres (the shift by
bilinear resampling, so the known flow is exact). The end-point error is the mean distance between FNet's
flow and the known one over the pixels 4 or more from the border.
"""

from __future__ import annotations

import argparse
import json

from vidlearn.superres.fnet_pretrain import pretrain_fnet


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--lr", type=float, default=3e-4)
    parser.add_argument("--eval-every", type=int, default=100)
    parser.add_argument("--width", type=int, default=32, help="FNet's first-stage filters (the paper: 32)")
    parser.add_argument("--max-flow", type=float, default=24.0, help="FNet's tanh bound in LR pixels (default 24)")
    parser.add_argument("--save", default=None, help="write the trained FNet's state dict here")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (the pairs are drawn on the CPU either way)")
    args = parser.parse_args()
    result = pretrain_fnet(args.save, width=args.width, max_flow=args.max_flow, steps=args.steps, batch=args.batch,
                           lr=args.lr, eval_every=args.eval_every, device=args.device)
    result.pop("fnet")
    print(json.dumps({**result, "motion": "uniform sub-pixel in [-2, 2] px", "held_out_pairs": 64,
                      "steps": args.steps, "batch": args.batch, "lr": args.lr, "width": args.width,
                      "max_flow": args.max_flow, "device": args.device}))


if __name__ == "__main__":
    main()
