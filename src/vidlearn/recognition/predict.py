"""Prediction on a video file: top-k labels, a timeline of sliding windows, an annotated video.

The model comes either from a checkpoint written by ``vidlearn train`` (its metadata names the model,
the classes and the preprocessing) or from a registered model plus a published weights file, whose
weights spec gives the preprocessing and the class list.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from vidlearn.models import Preprocessing, create, get_model_info, load_weights
from vidlearn.recognition.preprocessing import build_clip_transform
from vidlearn.video.sampling import UniformClipSampler

__all__ = ["Prediction", "Predictor", "WindowPrediction"]


@dataclass
class WindowPrediction:
    """The top label of one sliding window ``[start, end)`` (frame indices, end exclusive)."""

    start: int
    end: int
    label: str
    score: float


@dataclass
class Prediction:
    """Top-k over the whole video and, for long videos, a timeline of windows."""

    topk: list[tuple[str, float]]
    timeline: list[WindowPrediction] = field(default_factory=list)
    num_frames: int = 0
    fps: float = 0.0
    #: Set when the video is shorter than one clip: its frames were looped to fill the clips.
    warning: str | None = None


def _class_names(classes: str, num_classes: int) -> list[str]:
    """Class names of a weights spec's ``classes`` description ("Kinetics-400", "kinetics400", ...)."""
    import re

    match = re.match(r"kinetics[-_ ]?(\d+)", classes.strip().lower())
    if match:
        try:
            from vidlearn.recognition.datasets import kinetics_classes

            names = kinetics_classes(int(match.group(1)))
            if len(names) == num_classes:
                return list(names)
        except (ValueError, FileNotFoundError):
            pass
    return [str(i) for i in range(num_classes)]


class Predictor:
    """Scores videos with a recognition model.

    ``Predictor.from_checkpoint(path)`` for a model trained by vidlearn, or
    ``Predictor.from_weights(model_name, path, spec=None)`` for a published checkpoint.
    """

    def __init__(self, model: nn.Module, classes: list[str], preprocessing: Preprocessing, *,
                 decode_size: int | None = None, device: str | torch.device = "cpu") -> None:
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.classes = classes
        self.preprocessing = preprocessing
        self.decode_size = decode_size
        self.transform = build_clip_transform(preprocessing, train=False)

    @classmethod
    def from_checkpoint(cls, path: str | Path, *, device: str | torch.device = "cpu") -> Predictor:
        """A model trained by vidlearn: its ``model.safetensors`` or an engine checkpoint of the run."""
        from vidlearn.recognition.checkpoints import load_trained_model

        model, meta = load_trained_model(path)
        pre = meta["preprocessing"]
        preprocessing = Preprocessing(**{**pre, "mean": tuple(pre["mean"]), "std": tuple(pre["std"]),
                                         "value_range": tuple(pre["value_range"])})
        return cls(model, list(meta["classes"]), preprocessing, decode_size=meta.get("decode_size"), device=device)

    @classmethod
    def from_weights(cls, name: str, path: str | Path, *, spec: str | None = None,
                     device: str | torch.device = "cpu") -> Predictor:
        info = get_model_info(name)
        if not info.weights:
            raise ValueError(f"model {name!r} has no published weights spec; use a vidlearn checkpoint")
        if spec is None:
            spec = next(iter(info.weights))
        if spec not in info.weights:
            raise ValueError(f"model {name!r} has no weights spec {spec!r}; known: {', '.join(info.weights)}")
        weights = info.weights[spec]
        model = create(name, num_classes=weights.meta["num_classes"])
        load_weights(model, path)
        return cls(model, _class_names(weights.meta.get("classes", ""), weights.meta["num_classes"]),
                   weights.preprocessing, device=device)

    @property
    def clip_len(self) -> int:
        return self.preprocessing.clip_length

    @torch.no_grad()
    def _score(self, clips: list[torch.Tensor]) -> torch.Tensor:
        batch = torch.stack([self.transform(clip) for clip in clips]).to(self.device)
        return self.model(batch).float().softmax(dim=1).cpu()

    def predict(self, video: str | Path, *, top_k: int = 5, num_clips: int = 10,
                window: int | None = None, stride: int | None = None, batch_size: int = 8) -> Prediction:
        """Top-k of the mean softmax over ``num_clips`` uniform clips; with ``window`` (frames), also
        the top label of every window taken every ``stride`` frames."""
        from vidlearn.video import VideoReader

        interval = self.preprocessing.frame_interval
        with VideoReader(video) as reader:
            sampler = UniformClipSampler(self.clip_len, num_clips, interval, pad="loop")
            indices = sampler(reader.num_frames, rng=np.random.default_rng(0))
            unique, inverse = np.unique(indices, return_inverse=True)
            frames = reader.get_frames(unique, size=self.decode_size)
            positions = torch.from_numpy(inverse.reshape(indices.shape))
            scores = torch.cat([self._score([frames[p] for p in positions[i:i + batch_size]])
                                for i in range(0, len(positions), batch_size)]).mean(dim=0)
            k = min(top_k, len(self.classes))
            values, labels = scores.topk(k)
            result = Prediction([(self.classes[i], float(v)) for v, i in zip(values, labels.tolist())],
                                num_frames=reader.num_frames, fps=reader.fps)
            span = (self.clip_len - 1) * interval + 1
            if reader.num_frames < span:
                result.warning = (f"{video}: {reader.num_frames} frames, fewer than one clip needs ({span}); "
                                  "the frames were looped to fill it, so the scores are less reliable")
                warnings.warn(result.warning, stacklevel=2)
            if window:
                result.timeline = self._timeline(reader, window, stride or window, batch_size)
        return result

    def _timeline(self, reader: Any, window: int, stride: int, batch_size: int) -> list[WindowPrediction]:
        interval = self.preprocessing.frame_interval
        span = (self.clip_len - 1) * interval + 1
        if window < span:
            raise ValueError(f"window ({window} frames) is shorter than one clip ({span} frames)")
        starts = list(range(0, max(reader.num_frames - window, 0) + 1, stride))
        timeline: list[WindowPrediction] = []
        for first in range(0, len(starts), batch_size):
            group = starts[first:first + batch_size]
            # One clip centred in each window.
            clip_indices = [s + (window - span) // 2 + np.arange(self.clip_len) * interval for s in group]
            clip_indices = [np.minimum(c, reader.num_frames - 1) for c in clip_indices]
            wanted = np.unique(np.concatenate(clip_indices))
            frames = reader.get_frames(wanted, size=self.decode_size)
            lookup = {int(index): position for position, index in enumerate(wanted)}
            clips = [frames[[lookup[int(i)] for i in c]] for c in clip_indices]
            scores = self._score(clips)
            best, labels = scores.max(dim=1)
            for start, value, label in zip(group, best.tolist(), labels.tolist()):
                end = min(start + window, reader.num_frames)
                timeline.append(WindowPrediction(start, end, self.classes[label], float(value)))
        return timeline


def write_annotated_video(video: str | Path, output: str | Path, prediction: Prediction) -> Path:
    """Copy ``video`` to ``output`` with the predicted label drawn on every frame (OpenCV text).

    Frames in a timeline window show that window's label; the others show the video's top-1.
    """
    import cv2

    from vidlearn.video import VideoReader
    from vidlearn.video.writer import write_video

    with VideoReader(video) as reader:
        fps = reader.fps or 25.0
        overall = f"{prediction.topk[0][0]} ({prediction.topk[0][1]:.2f})" if prediction.topk else ""
        frames = []
        for index, frame in enumerate(reader):
            text = overall
            for window in prediction.timeline:
                if window.start <= index < window.end:
                    text = f"{window.label} ({window.score:.2f})"
                    break
            image = np.ascontiguousarray(frame.numpy())
            scale = max(image.shape[0] / 480.0, 0.5)
            cv2.rectangle(image, (0, 0), (image.shape[1], int(28 * scale)), (0, 0, 0), thickness=-1)
            cv2.putText(image, text, (6, int(20 * scale)), cv2.FONT_HERSHEY_SIMPLEX, 0.6 * scale,
                        (255, 255, 255), max(1, int(scale)), cv2.LINE_AA)
            frames.append(image)
    return write_video(output, np.stack(frames), fps)
