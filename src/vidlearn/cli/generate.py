"""``vidlearn generate``: samples of a trained DVD-GAN as a video grid, and ``vidlearn generate evaluate``: its metrics.

``vidlearn generate --checkpoint FILE --classes NAME... --num N --out grid.gif`` writes ``N`` samples of
each class (one row per class) as a GIF or MP4, seeded, with an optional truncation; a DVD-GAN-FP
checkpoint continues the first frames of ``--context VIDEO``.
``vidlearn generate evaluate --checkpoint FILE [--recipe RECIPE] ...`` scores the checkpoint: FVD with a
vidlearn I3D, the Inception Score with a vidlearn classifier (C3D), the accuracy of a held-out classifier
on the samples; JSON out, every protocol choice beside every number.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

__all__ = ["register"]


def _sample(args: argparse.Namespace) -> int:
    from vidlearn.cli.errors import CLIError, user_errors

    if not args.checkpoint:
        raise CLIError("vidlearn generate needs --checkpoint FILE (a checkpoint of vidlearn train on a generation recipe)")
    if Path(args.out).suffix.lower() not in (".gif", ".mp4", ".webm", ".mkv", ".mov", ".avi"):
        raise CLIError(f"--out {args.out}: write a .gif or .mp4 file")
    with user_errors():
        from vidlearn.generation.sampling import class_indices, sample_clips, write_sample_video
        from vidlearn.generation.training import load_generator

        generator = load_generator(args.checkpoint, ema=not args.raw)
        if args.resolution is not None and generator.resolution != args.resolution:
            raise CLIError(f"{args.checkpoint}: the generator makes {generator.resolution}x{generator.resolution} "
                           f"clips, not {args.resolution}x{args.resolution}")
        names = args.classes or (generator.classes or [str(i) for i in range(generator.num_classes)])
        classes = class_indices(names, generator.classes, generator.num_classes)
        context = None
        if generator.context_frames:
            if not args.context:
                raise CLIError(f"{args.checkpoint}: a DVD-GAN-FP generator continues {generator.context_frames} given "
                               "frames: pass --context VIDEO (its first frames, or from --context-start)")
            context = _context_frames(args.context, args.context_start, generator.context_frames,
                                      generator.resolution).expand(len(classes) * args.num, -1, -1, -1, -1)
        elif args.context:
            raise CLIError(f"{args.checkpoint}: this generator was trained without context frames (plain DVD-GAN); "
                           "--context is for DVD-GAN-FP checkpoints")
        clips, _ = sample_clips(generator, classes, num=args.num, truncation=args.truncation, seed=args.seed,
                                num_frames=args.frames, context=context)
        scale = args.scale or max(1, 96 // generator.resolution)
        path = write_sample_video(args.out, clips, fps=args.fps, ncol=args.num, scale=scale)
    labels = [generator.classes[c] if generator.classes else str(c) for c in classes]
    print(f"wrote {path}: {len(classes)} row(s) x {args.num} sample(s) ({', '.join(labels)}), "
          f"{clips.shape[2]} frames of {generator.resolution}x{generator.resolution}, seed {args.seed}, "
          f"truncation {args.truncation}")
    return 0


def _context_frames(path: str, start: int, count: int, resolution: int) -> torch.Tensor:
    """Frames ``start .. start + count - 1`` of the video ``path`` as DVD-GAN-FP's context ``(1, 3, n, R, R)``:
    the centre square of each frame, resized to ``R``, in [-1, 1] (as the training clips)."""
    from vidlearn.cli.errors import CLIError
    from vidlearn.generation.data import CenterSquare
    from vidlearn.generation.training import GenerationClips
    from vidlearn.video import VideoReader

    reader = VideoReader(path)
    if start < 0 or start + count > reader.num_frames:
        raise CLIError(f"--context {path}: has {reader.num_frames} frames; frames {start}-{start + count - 1} "
                       "were asked for")
    frames = CenterSquare()(reader.get_frames(range(start, start + count)))
    return GenerationClips([], size=resolution).to_generator_range(frames, 0)[None]


def _evaluate(args: argparse.Namespace) -> int:
    from vidlearn.cli.errors import CLIError, user_errors

    with user_errors():
        from vidlearn.generation.recipe import GenerationConfig, load_recipe
        from vidlearn.generation.wing import evaluate

        cfg = load_recipe(args.recipe, args.overrides) if args.recipe else GenerationConfig()
        if not args.recipe:
            from vidlearn.engine import load_checkpoint
            from vidlearn.engine.config import config_from_dict

            run = (load_checkpoint(args.checkpoint, map_location="cpu").get("config") or {}).get("run") or {}
            if "recipe" not in run:
                raise CLIError(f"{args.checkpoint}: holds no recipe; pass --recipe RECIPE")
            cfg = config_from_dict(run["recipe"], GenerationConfig, source=f"{args.checkpoint} (its recipe)")
            if args.overrides:
                from vidlearn.engine.config import apply_overrides, config_to_dict

                data = apply_overrides(config_to_dict(cfg), args.overrides, GenerationConfig)
                cfg = config_from_dict(data, GenerationConfig, source="the overrides")
        options = {}
        for flag, key in (("num_samples", "num_samples"), ("truncation", "truncation"), ("seed", "seed"),
                          ("real_split", "real_split")):
            if getattr(args, flag) is not None:
                options[key] = getattr(args, flag)
        for metric in ("fvd", "inception", "accuracy"):
            section = getattr(cfg.evaluate, metric)
            weights = getattr(args, f"{metric}_weights")
            if weights:
                section.weights, section.enabled = weights, True
            if metric in (args.skip or []):
                section.enabled = False
        if not any(getattr(cfg.evaluate, m).enabled for m in ("fvd", "inception", "accuracy")):
            raise CLIError("every metric is off: enable one in the recipe or give --fvd-weights, "
                           "--inception-weights or --accuracy-weights")
        results = evaluate(cfg, args.checkpoint, out_dir=None, progress=not args.quiet, **options)
    text = json.dumps(results, indent=2)
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text + "\n")
        print(f"wrote {out}")
    print(text)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "generate",
        help="samples of a trained video GAN (DVD-GAN) as a GIF/MP4 grid; 'generate evaluate' scores it",
        description="Write N samples of each named class of a DVD-GAN checkpoint as one video grid (a row "
        "per class). 'vidlearn generate evaluate --checkpoint FILE' computes FVD / IS / sample accuracy.",
    )
    parser.add_argument("--checkpoint", help="a checkpoint of 'vidlearn train' on a generation recipe")
    parser.add_argument("--classes", nargs="+", metavar="NAME",
                        help="class names (or indices) to sample, one row each (default: every class)")
    parser.add_argument("--num", type=int, default=4, help="samples per class (default 4)")
    parser.add_argument("--out", default="samples.gif", help="output video: .gif or .mp4 (default samples.gif)")
    parser.add_argument("--truncation", type=float, default=None,
                        help="sample z from a normal truncated to [-t, t] (BigGAN's truncation trick; default off)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the latents (default 0)")
    parser.add_argument("--frames", type=int, default=None, help="frames per clip (default: the training length)")
    parser.add_argument("--fps", type=float, default=8.0, help="frame rate of the output (default 8)")
    parser.add_argument("--scale", type=int, default=None, help="enlarge each tile (default: to about 96 px)")
    parser.add_argument("--resolution", type=int, default=None, help="refuse a checkpoint of another resolution")
    parser.add_argument("--raw", action="store_true", help="use G's raw weights instead of its EMA copy")
    parser.add_argument("--context", metavar="VIDEO",
                        help="DVD-GAN-FP checkpoints: the video whose first frames the samples continue")
    parser.add_argument("--context-start", type=int, default=0, help="first context frame of --context (default 0)")
    parser.set_defaults(func=_sample)

    commands = parser.add_subparsers(dest="generate_command", metavar="evaluate")
    evaluate = commands.add_parser(
        "evaluate", help="FVD, Inception Score and sample accuracy of a checkpoint (JSON)",
        description="Score a DVD-GAN checkpoint with the metric protocols of its recipe (saved in the "
        "checkpoint, or --recipe): FVD with vidlearn's I3D, the Inception Score with a vidlearn classifier "
        "(C3D), the accuracy of a held-out classifier on the samples. Weights come from files.",
    )
    evaluate.add_argument("--checkpoint", required=True, help="the checkpoint to score")
    evaluate.add_argument("--recipe", help="the generation recipe (default: the one saved in the checkpoint)")
    evaluate.add_argument("overrides", nargs="*", metavar="key=value", help="recipe overrides (evaluate.fvd.resize=...)")
    evaluate.add_argument("--fvd-weights", help="I3D weights file for FVD (evaluate.fvd.weights)")
    evaluate.add_argument("--inception-weights", help="classifier weights for the Inception Score, e.g. a UCF-101 C3D")
    evaluate.add_argument("--accuracy-weights", help="held-out classifier of the generator's classes")
    evaluate.add_argument("--skip", nargs="+", choices=["fvd", "inception", "accuracy"], help="metrics to leave out")
    evaluate.add_argument("--num-samples", type=int, help="generated (and real) clips (evaluate.num_samples)")
    evaluate.add_argument("--truncation", type=float, help="truncation of z (evaluate.truncation)")
    evaluate.add_argument("--seed", type=int, help="seed of the latents (evaluate.seed)")
    evaluate.add_argument("--real-split", choices=["train", "test"], help="real clips for FVD (evaluate.real_split)")
    evaluate.add_argument("--out", help="write the JSON here too")
    evaluate.add_argument("--quiet", action="store_true", help="no progress lines")
    evaluate.set_defaults(func=_evaluate)
