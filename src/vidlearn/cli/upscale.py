"""``vidlearn upscale IN OUT --checkpoint FILE``: super-resolve a video or frame folder of any length.

IN and OUT are video files or frame folders (OUT a folder of PNG frames unless it has a video suffix;
a video keeps the input's frame rate, H.264 CRF 18 where available). Frames stream through the model
one at a time, so memory does not grow with the length; ``--tile N`` cuts frames too large for memory
into N x N LR tiles processed with ``--overlap`` pixels of context. ``--precision auto`` runs the fast
path on a GPU (fp16 autocast); ``fast`` also on the CPU (channels_last + bf16 autocast; quicker only
on CPUs with bf16 instructions); ``fp32`` is the reference. The output appears only once complete.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("upscale", help="super-resolve a video or frame folder with a trained model",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("input", type=Path, metavar="IN", help="a video file or a frame folder")
    parser.add_argument("output", type=Path, metavar="OUT", help="a video file (.mp4, .mkv, ...) or a frame folder")
    parser.add_argument("--checkpoint", type=Path, required=True,
                        help="model.safetensors of a superres run (or an engine checkpoint beside its model.json)")
    parser.add_argument("--scale", type=int, default=None, help="refuse a checkpoint of another scale")
    parser.add_argument("--tile", type=int, default=None, help="LR tile size for frames too large for memory")
    parser.add_argument("--overlap", type=int, default=16, help="LR pixels of context around each tile (default 16)")
    parser.add_argument("--precision", choices=("auto", "fp32", "fast"), default="auto",
                        help="auto: fast on a GPU, fp32 on the CPU (default)")
    parser.add_argument("--device", default="auto", help="cpu, cuda, cuda:1 ... (default: cuda when available)")
    parser.add_argument("--fps", type=float, default=None, help="output frame rate (default: the input's, else 25)")
    parser.add_argument("--crf", type=int, default=18, help="x264 quality of a video output (default 18)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    import torch

    from vidlearn.cli.errors import CLIError, note_emulated_bf16, user_errors
    from vidlearn.superres.inference import load_sr_model, upscale

    device = args.device if args.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
    fast = args.precision == "fast" or (args.precision == "auto" and device.startswith("cuda"))
    if fast and device.startswith("cpu"):
        note_emulated_bf16("upscale", "--precision fast", "--precision fp32")

    def progress(frames, total):
        from tqdm.auto import tqdm

        return tqdm(frames, total=total, unit="frame", desc=args.input.name, disable=args.quiet)

    with user_errors():
        model, meta = load_sr_model(args.checkpoint, scale=args.scale, device=device)
        try:
            summary = upscale(args.input, args.output, model, scale=int(meta["scale"]), tile=args.tile,
                              overlap=args.overlap, fast=fast, fps=args.fps, crf=args.crf, overwrite=args.overwrite,
                              progress=progress)
        except FileExistsError as error:
            raise CLIError(str(error).replace("pass overwrite", "pass --overwrite")) from None
    summary["model"] = meta["model"]
    print(json.dumps(summary))
    return 0
