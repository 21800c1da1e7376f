"""``vidlearn predict VIDEO``: top-k labels, a sliding-window timeline, an annotated video."""

from __future__ import annotations

import argparse
import sys
import warnings

__all__ = ["register"]


def _run(args: argparse.Namespace) -> int:
    from vidlearn.cli.errors import CLIError, user_errors

    with user_errors():
        from vidlearn.recognition.predict import Predictor, write_annotated_video

        if args.checkpoint:
            predictor = Predictor.from_checkpoint(args.checkpoint)
        elif args.model and args.weights:
            predictor = Predictor.from_weights(args.model, args.weights, spec=args.weights_spec)
        else:
            raise CLIError("give --checkpoint PATH, or --model NAME with --weights PATH")
        window = args.window
        if window is None and args.output:
            window = (predictor.clip_len - 1) * predictor.preprocessing.frame_interval + 1
        with warnings.catch_warnings():  # the short-video warning is printed below, once, as one line
            warnings.simplefilter("ignore")
            prediction = predictor.predict(args.video, top_k=args.top_k, num_clips=args.num_clips,
                                           window=window, stride=args.stride)
    if prediction.warning:
        print(f"vidlearn: warning: {prediction.warning}", file=sys.stderr)
    print(f"{args.video}: {prediction.num_frames} frames at {prediction.fps:.2f} fps")
    for rank, (label, score) in enumerate(prediction.topk, start=1):
        print(f"  {rank}. {label:<32} {score:.4f}")
    if prediction.timeline and args.window:
        print("timeline:")
        fps = prediction.fps or 25.0
        for window_prediction in prediction.timeline:
            print(f"  {window_prediction.start / fps:7.2f}s - {window_prediction.end / fps:7.2f}s  "
                  f"{window_prediction.label:<32} {window_prediction.score:.4f}")
    if args.output:
        with user_errors():
            path = write_annotated_video(args.video, args.output, prediction)
        print(f"annotated video: {path}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "predict",
        help="predict the action in a video",
        description="Print the top-k labels of a video (mean of the softmax over uniform clips); with "
        "--window, the top label of each sliding window; with --output, write the video with the labels drawn.",
    )
    parser.add_argument("video", help="a video file")
    parser.add_argument("--checkpoint", help="a model trained by vidlearn train / demo: its model.safetensors or an engine "
                        "checkpoint (checkpoints/epochNNNN_stepNNNNNNNN.pt)")
    parser.add_argument("--model", help="a registered model name (with --weights)")
    parser.add_argument("--weights", help="a published checkpoint file for --model")
    parser.add_argument("--weights-spec", help="which of the model's weights specs the file is")
    parser.add_argument("--top-k", type=int, default=5)
    parser.add_argument("--num-clips", type=int, default=10, help="uniform clips averaged (default 10)")
    parser.add_argument("--window", type=int, help="timeline window in frames")
    parser.add_argument("--stride", type=int, help="timeline stride in frames (default: the window)")
    parser.add_argument("--output", help="write an annotated copy of the video here (.mp4)")
    parser.set_defaults(func=_run)
