"""``vidlearn superres``: make LR test material and score super-resolved outputs.

    vidlearn superres degrade IN OUT [--kernel bd|bi] [--sigma 1.5] [--scale 4] [--kernel-size K]
                                     [--noise S] [--jpeg Q] [--overwrite]
    vidlearn superres evaluate PRED GT [--crop-border 8] [--skip 2] [--channel y|rgb] [--no-temporal]
                                       [--lpips-weights FILE] [--json OUT]
    vidlearn superres synth OUT [--frames 24] [--size 128x128] [--seed 0]
    vidlearn superres pretrain-fnet OUT [--width 32] [--max-flow 24] [--steps 3000] [--batch 32] [--lr 3e-4]
                                        [--teacher-sources SRC [SRC ...] [--init FILE] [--crop-size 192]
                                        [--test-sources SRC [SRC ...]]]

``degrade``: IN a video, a frame folder or a root of sequences; OUT a PNG frame folder (or a video
file for one input; its compression changes the LR pixels), mirrored under OUT for a root. HR frames
whose sides are not multiples of the scale are cropped at the bottom and right first.
``evaluate``: PRED and GT videos, frame folders or roots of sequences (paired by relative path;
frames paired in sorted-name order); prints per-sequence and mean PSNR-Y, SSIM-Y and tOF and writes
them as JSON ``{"<SEQ>": {...}, "mean": {...}}``. The defaults are the Vid4 protocol (Y, BT.601,
8-pixel border, first and last 2 frames skipped). ``--lpips-weights`` adds TecoGAN's tLP (x100) from
local LPIPS-AlexNet weights (see vidlearn.superres.lpips).
``synth``: a held-out synthetic HR scene (fine texture, moving shapes, a panning camera) as PNG frames
or a video, test material with known content.
``pretrain-fnet``: FRVSR's FNet trained alone by the warping loss on pairs with known sub-pixel motion
(vidlearn.superres.fnet_pretrain), printing the held-out end-point error; OUT initialises a recipe's FNet
(``model.fnet_weights=OUT``, with the same ``fnet_width`` and ``max_flow`` in ``model.kwargs``). With
``--teacher-sources`` it instead fine-tunes FNet (from ``--init``, e.g. a known-motion OUT) on consecutive LR
frames of those sources (``synthetic``, videos, frame folders) towards OpenCV's DIS flow, printing the held-out
warping error next to no motion's and the teacher's.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``superres`` command group (``degrade``, ``evaluate``)."""
    group = subparsers.add_parser("superres", help="degrade videos to LR and score super-resolved outputs",
                                  description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = group.add_subparsers(dest="superres_command", metavar="SUBCOMMAND", parser_class=type(group))
    group.set_defaults(func=lambda args: group.print_help() or 2)

    degrade = commands.add_parser("degrade", help="HR video or frames to LR frames (BD or BI)")
    degrade.add_argument("input", type=Path, metavar="IN", help="a video, a frame folder or a root of sequences")
    degrade.add_argument("output", type=Path, metavar="OUT", help="a frame folder (PNG) or a video file")
    degrade.add_argument("--kernel", choices=("bd", "bi"), default="bd",
                         help="bd: Gaussian blur + decimation (FRVSR, TecoGAN); bi: MATLAB bicubic (default bd)")
    degrade.add_argument("--sigma", type=float, default=1.5, help="BD Gaussian sigma (default 1.5)")
    degrade.add_argument("--kernel-size", type=int, default=None, help="BD kernel size (default 1 + 2*int(3*sigma))")
    degrade.add_argument("--scale", type=int, default=4, help="downscaling factor (default 4)")
    degrade.add_argument("--noise", type=float, default=0.0, help="Gaussian noise sigma on the [0, 1] scale")
    degrade.add_argument("--jpeg", type=int, default=None, help="JPEG quality of a compression round trip")
    degrade.add_argument("--overwrite", action="store_true", help="replace an existing output")
    degrade.set_defaults(func=_degrade)

    evaluate = commands.add_parser("evaluate", help="PSNR-Y, SSIM-Y and tOF of outputs against ground truth")
    evaluate.add_argument("prediction", type=Path, metavar="PRED", help="super-resolved video, folder or root")
    evaluate.add_argument("ground_truth", type=Path, metavar="GT", help="ground-truth video, folder or root")
    evaluate.add_argument("--crop-border", type=int, default=8, help="pixels cut on every side (default 8)")
    evaluate.add_argument("--skip", type=int, default=2, help="frames skipped at each end (default 2)")
    evaluate.add_argument("--channel", choices=("y", "rgb"), default="y", help="y (BT.601) or rgb (default y)")
    evaluate.add_argument("--no-temporal", action="store_true", help="skip tOF and the temporal difference")
    evaluate.add_argument("--lpips-weights", type=Path, default=None, metavar="FILE",
                          help="LPIPS-AlexNet weights (one-file layout) to add tLP; nothing is downloaded")
    evaluate.add_argument("--json", type=Path, default=None, metavar="OUT", help="write the results as JSON")
    evaluate.set_defaults(func=_evaluate)

    synth = commands.add_parser("synth", help="render a synthetic HR test scene (PNG frames or a video)")
    synth.add_argument("output", type=Path, metavar="OUT", help="a frame folder or a video file")
    synth.add_argument("--frames", type=int, default=24, help="number of frames (default 24)")
    synth.add_argument("--size", default="128x128", help="HEIGHTxWIDTH in pixels (default 128x128)")
    synth.add_argument("--seed", type=int, default=0, help="which held-out scene (default 0)")
    synth.set_defaults(func=_synth)

    fnet = commands.add_parser("pretrain-fnet", help="train FNet alone on known motion (initialises FRVSR's FNet)")
    fnet.add_argument("output", type=Path, metavar="OUT", help="the FNet state dict (.safetensors or .pt)")
    fnet.add_argument("--width", type=int, default=32, help="FNet's first-stage filters, fnet_width (default 32)")
    fnet.add_argument("--max-flow", type=float, default=24.0, help="FNet's tanh bound in LR pixels (default 24)")
    fnet.add_argument("--steps", type=int, default=3000, help="Adam steps (default 3000)")
    fnet.add_argument("--batch", type=int, help="pairs per step (default 32; 8 with --teacher-sources)")
    fnet.add_argument("--lr", type=float, default=3e-4, help="learning rate (default 3e-4)")
    fnet.add_argument("--seed", type=int, default=0, help="initial weights and sampled training pairs (default 0)")
    fnet.add_argument("--device", default="cpu")
    fnet.add_argument("--teacher-sources", nargs="+", metavar="SRC",
                      help="distil a classical flow (OpenCV DIS) on consecutive frames of these sources instead "
                           "(synthetic, video files, frame folders; BD x4, sigma 1.5)")
    fnet.add_argument("--init", type=Path, metavar="FILE", help="FNet state dict to start from (with --teacher-sources)")
    fnet.add_argument("--crop-size", type=int, default=192, help="HR crop of the teacher pairs (default 192)")
    fnet.add_argument("--test-sources", nargs="+", metavar="SRC", default=["synthetic"],
                      help="held-out sequences the distillation reports its warping error on, each against no "
                           "motion and the teacher (default: synthetic)")
    fnet.add_argument("--overwrite", action="store_true", help="replace an existing OUT")
    fnet.set_defaults(func=_pretrain_fnet)


def _degrade(args: argparse.Namespace) -> int:
    from vidlearn.cli.errors import CLIError, user_errors
    from vidlearn.superres.degrade import Degradation
    from vidlearn.superres.files import degrade_files

    with user_errors():
        degradation = Degradation(args.kernel, args.scale, sigma=args.sigma, kernel_size=args.kernel_size,
                                  quantize=True, noise_sigma=args.noise, jpeg_quality=args.jpeg)
        try:
            results = degrade_files(args.input, args.output, degradation, overwrite=args.overwrite)
        except FileExistsError as error:
            raise CLIError(str(error).replace("pass overwrite", "pass --overwrite")) from None
    for result in results:
        note = ""
        if any(result["cropped_rows_cols"]):
            rows, cols = result["cropped_rows_cols"]
            note = f" (HR cropped by {rows} rows and {cols} columns to a multiple of {args.scale})"
        print(f"{result['input']} -> {result['output']}: {result['frames']} frames of "
              f"{result['lr_size'][0]}x{result['lr_size'][1]}{note}")
    print(f"degradation: {degradation.protocol}")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from vidlearn.cli.errors import user_errors
    from vidlearn.superres.evaluation import score_outputs

    with user_errors():
        lpips_model = None
        if args.lpips_weights is not None:
            from vidlearn.superres.lpips import load_lpips

            lpips_model = load_lpips(args.lpips_weights)
        results = score_outputs(args.prediction, args.ground_truth, crop_border=args.crop_border, skip=args.skip,
                                channel=args.channel, temporal=not args.no_temporal, lpips_model=lpips_model)
    channel = args.channel
    columns = [f"psnr_{channel}", f"ssim_{channel}"] + ([] if args.no_temporal else ["tof"])
    columns += ["tlp"] if lpips_model is not None else []
    width = max(len(name) for name in results)
    print(f"{'sequence':<{width}}  " + "  ".join(f"{c:>8}" for c in columns) + "  frames")
    for name, row in results.items():
        values = "  ".join(f"{row[c]:8.4f}" if isinstance(row.get(c), float) else f"{'-':>8}" for c in columns)
        print(f"{name:<{width}}  {values}  {row.get('frames', row.get('sequences', ''))}")
    protocol = results["mean"].get("protocol", {})
    print(f"protocol: {json.dumps(protocol, sort_keys=True)}")
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=1))
    return 0


def _pretrain_fnet(args: argparse.Namespace) -> int:
    from vidlearn.cli.errors import CLIError, user_errors
    from vidlearn.superres.fnet_pretrain import distill_fnet, pretrain_fnet

    if args.output.exists() and not args.overwrite:
        raise CLIError(f"{args.output}: already exists (--overwrite replaces it)")
    if args.init is not None and not args.teacher_sources:
        raise CLIError("--init starts a distillation: give --teacher-sources as well")
    if args.teacher_sources and args.device != "cpu":
        raise CLIError(f"--device {args.device}: the distillation (--teacher-sources) runs on the CPU, where "
                       f"OpenCV computes the teacher's flow")
    if args.teacher_sources:
        with user_errors():
            result = distill_fnet(args.output, sources=args.teacher_sources, width=args.width,
                                  max_flow=args.max_flow, init=args.init, steps=args.steps, batch=args.batch or 8,
                                  lr=args.lr, crop_size=args.crop_size, seed=args.seed,
                                  test_sources=args.test_sources)
        for name, row in result["per_sequence"].items():
            print(f"  {name}: warping error {row['fnet']:.5f} (no motion {row['zero_flow']:.5f}, DIS "
                  f"{row['teacher']:.5f})")
        last = max(result["warp_error"])
        print(f"{args.output}: FNet after {last} steps, held-out warping error {result['warp_error'][last]:.5f} "
              f"(no motion {result['zero_flow_error']:.5f}, DIS teacher {result['teacher_error']:.5f}), "
              f"{result['seconds']:.0f} s")
        return 0
    with user_errors():
        result = pretrain_fnet(args.output, width=args.width, max_flow=args.max_flow, steps=args.steps,
                               batch=args.batch or 32, lr=args.lr, seed=args.seed, device=args.device)
    last = max(result["end_point_error_px"])
    print(f"{args.output}: FNet after {last} steps, held-out end-point error "
          f"{result['end_point_error_px'][last]:.3f} px (no motion: {result['zero_flow_px']:.3f} px), "
          f"{result['seconds']:.0f} s")
    return 0


def _synth(args: argparse.Namespace) -> int:
    from vidlearn.cli.errors import CLIError
    from vidlearn.superres.data import sample_sr_scene
    from vidlearn.superres.evaluation import SYNTHETIC_TEST_SEED
    from vidlearn.superres.inference import FrameFolderWriter
    from vidlearn.synthetic.scene import render_scene
    from vidlearn.video import write_video
    from vidlearn.video.files import is_video_file

    try:
        height, width = (int(v) for v in args.size.lower().split("x"))
    except ValueError:
        raise CLIError(f"--size {args.size!r}: expected HEIGHTxWIDTH, e.g. 128x128") from None
    if args.frames < 1 or min(height, width) < 8:
        raise CLIError(f"--frames must be >= 1 and --size at least 8x8, got {args.frames} and {args.size}")
    if args.output.exists():
        raise CLIError(f"{args.output}: already exists")
    spec = sample_sr_scene(SYNTHETIC_TEST_SEED + args.seed, num_frames=args.frames)
    frames = render_scene(spec, args.frames, (height, width)).frames
    if is_video_file(args.output):
        write_video(args.output, frames, 25)
    else:
        writer = FrameFolderWriter(args.output)
        try:
            for frame in frames.numpy():
                writer.write(frame)
            writer.close()
        except BaseException:
            writer.abort()
            raise
    print(f"{args.output}: {args.frames} frames of {width}x{height} (held-out synthetic scene {args.seed})")
    return 0
