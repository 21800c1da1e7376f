"""Tracking a video or a MOTChallenge sequence: frames -> detections -> appearance -> tracker -> rows.

:func:`open_sequence` opens an input: a video file (:class:`vidlearn.video.VideoReader`) or a MOTChallenge
sequence folder (``seqinfo.ini``, ``det/det.txt``, frames in ``img1/`` or in the video ``imDir`` names).
:func:`track_sequence` runs a tracker over it frame by frame, reading frames in chunks only when something
needs pixels (a detector, an embedder); detections come from a file (rows) or a detector, and appearance
features from an embedder (:mod:`.appearance`), computed for all detections of a chunk in one batched call.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from vidlearn.video.files import IMAGE_SUFFIXES, VIDEO_SUFFIXES, is_video_file

from .formats import MotFormatError, MotRows, SeqInfo, read_seqinfo, tracks_to_rows
from .run import Detections

__all__ = ["Sequence", "embed_rows", "open_sequence", "track_sequence"]


@dataclass
class Sequence:
    """An input to track: its name, length, frame rate, size, and where frames and detections are.

    ``frames`` holds the frames in memory (``uint8 (T, H, W, 3)``), ``video`` is a video file, ``image_dir`` a
    folder of ``000001.jpg ...`` (``image_ext``); all may be ``None`` (no pixels: detections only).
    ``detections`` is the sequence's ``det/det.txt`` when it has one.
    """

    name: str
    num_frames: int
    fps: float
    height: int
    width: int
    frames: torch.Tensor | None = None
    video: Path | None = None
    image_dir: Path | None = None
    image_ext: str = ".jpg"
    detections: Path | None = None
    seqinfo: Path | None = None

    @property
    def has_frames(self) -> bool:
        return self.frames is not None or self.video is not None or self.image_dir is not None

    def frame_chunks(self, chunk: int = 32) -> Iterator[tuple[int, torch.Tensor]]:
        """``(first frame number, uint8 (B, H, W, 3))`` chunks over the whole sequence, in order."""
        if self.frames is not None:
            for start in range(0, self.num_frames, chunk):
                yield start + 1, self.frames[start:start + chunk]
        elif self.video is not None:
            from vidlearn.video import VideoReader

            with VideoReader(self.video) as reader:
                for start in range(0, self.num_frames, chunk):
                    yield start + 1, reader.get_frames(list(range(start, min(start + chunk, self.num_frames))))
        elif self.image_dir is not None:
            from torchvision.io import ImageReadMode, decode_image

            for start in range(0, self.num_frames, chunk):
                images = []
                for number in range(start + 1, min(start + chunk, self.num_frames) + 1):
                    path = self.image_dir / f"{number:06d}{self.image_ext}"
                    if not path.is_file():
                        raise FileNotFoundError(f"frame {number} of {self.name} is missing: {path}")
                    try:
                        images.append(decode_image(str(path), mode=ImageReadMode.RGB).permute(1, 2, 0))
                    except RuntimeError as error:
                        raise ValueError(f"{path}: cannot decode: {error}") from error
                yield start + 1, torch.stack(images)
        else:
            raise ValueError(f"{self.name} has no frames (no video and no image folder)")


def open_sequence(path: str | os.PathLike) -> Sequence:
    """A :class:`Sequence` for a video file or a MOTChallenge sequence folder.

    A folder needs ``seqinfo.ini`` or ``det/det.txt``; its frames are ``imDir`` (a folder of images or a
    video file) when that exists. Raises ``FileNotFoundError`` / ``ValueError`` naming the path.
    """
    path = Path(path)
    if path.is_file():
        if not is_video_file(path):
            raise ValueError(f"{path}: not a video file ({', '.join(VIDEO_SUFFIXES)}) or a sequence folder")
        from vidlearn.video import VideoReader

        with VideoReader(path) as reader:
            return Sequence(path.stem, reader.num_frames, float(reader.fps), reader.height, reader.width, video=path)
    if not path.is_dir():
        raise FileNotFoundError(f"{path} is neither a video file nor a MOTChallenge sequence folder")
    seqinfo_path = path / "seqinfo.ini"
    detections = path / "det" / "det.txt"
    info = read_seqinfo(seqinfo_path) if seqinfo_path.is_file() else None
    if info is None and not detections.is_file():
        raise ValueError(f"{path} is not a MOTChallenge sequence folder (no seqinfo.ini, no det/det.txt)")
    if info is None:
        info = SeqInfo(name=path.name, seq_length=0)
    frames_at = path / (info.im_dir or "img1")
    video = frames_at if frames_at.is_file() else None
    image_dir = frames_at if frames_at.is_dir() else None
    image_ext = info.im_ext or ".jpg"
    if not seqinfo_path.is_file() and image_dir is not None:  # no seqinfo.ini: as many frames as images
        found = [f.suffix.lower() for f in image_dir.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES]
        if found:  # MOTChallenge writes .jpg, other tools .png: the folder's most common kind
            image_ext = max(sorted(set(found)), key=found.count)
        info.seq_length = found.count(image_ext)
    return Sequence(info.name, info.seq_length, info.frame_rate, info.im_height, info.im_width, video=video,
                    image_dir=image_dir, image_ext=image_ext,
                    detections=detections if detections.is_file() else None,
                    seqinfo=seqinfo_path if seqinfo_path.is_file() else None)


def embed_rows(embedder: Callable, frames: torch.Tensor, first_frame: int, rows: MotRows) -> np.ndarray:
    """Features ``(R, D)`` of detection rows whose frames are ``first_frame .. first_frame + B - 1`` of ``frames``."""
    index = rows.frames - first_frame
    return np.asarray(embedder(frames, rows.boxes_xyxy, index), dtype=np.float64)


def _frame_rows(rows: MotRows, start: int, stop: int) -> np.ndarray:
    return np.flatnonzero((rows.frames >= start) & (rows.frames < stop))


def track_sequence(
    tracker, sequence: Sequence, *, detections: Detections | None = None, detector: Callable | None = None,
    embedder: Callable | None = None, chunk: int = 32, progress: bool = False,
    on_frame: Callable[[int, torch.Tensor | None, object], None] | None = None,
) -> tuple[MotRows, MotRows]:
    """Run ``tracker`` over every frame of ``sequence``; returns ``(result rows, detection rows used)``.

    Detections come from ``detections`` (file rows, with their own features when no ``embedder`` is given)
    or from ``detector`` (``frames -> [FrameDetections]``). ``embedder`` computes appearance features from
    the frames. ``on_frame(frame_number, frame or None, tracks)`` sees every frame's tracks (the overlay).
    A detection row past the sequence's last frame is an error naming the frame.
    """
    from tqdm.auto import tqdm

    if (detections is None) == (detector is None):
        raise ValueError("give detections or a detector (exactly one)")
    num_frames = sequence.num_frames
    motion = getattr(tracker, "cmc", None) is not None  # camera-motion compensation reads every frame
    needs_frames = (detector is not None or embedder is not None or motion
                    or (on_frame is not None and sequence.has_frames))
    if needs_frames and not sequence.has_frames:
        raise ValueError(f"{sequence.name}: a detector, an appearance model or camera-motion compensation needs "
                         "frames, and this sequence has none (no video, no image folder)")
    if detections is not None and len(detections.rows) and detections.rows.num_frames > num_frames:
        raise MotFormatError(f"detections reach frame {detections.rows.num_frames}, past the {num_frames} "
                             f"frames of {sequence.name}: a detection file of another sequence?")
    found: list[MotRows] = []
    out_frames, out_ids, out_boxes = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)], [np.zeros((0, 4))]
    bar = tqdm(total=num_frames, desc=f"track {sequence.name}", unit="frame", disable=None if progress else True, leave=False)
    chunks = sequence.frame_chunks(chunk) if needs_frames else ((s + 1, None) for s in range(0, num_frames, chunk))
    for first, frames in chunks:
        stop = min(first + chunk, num_frames + 1)
        if detector is not None:
            per_frame = detector(frames)
            counts = [len(d) for d in per_frame]
            rows = tracks_to_rows(np.repeat(np.arange(first, first + len(per_frame)), counts), np.full(sum(counts), -1),
                                  np.concatenate([d.boxes for d in per_frame]).reshape(-1, 4),
                                  np.concatenate([d.scores for d in per_frame]))
            features = None
        else:
            picked = _frame_rows(detections.rows, first, stop)
            rows = detections.rows.select(picked)
            features = None if detections.features is None else detections.features[picked]
        if embedder is not None:
            features = embed_rows(embedder, frames, first, rows)
        found.append(rows)
        for frame in range(first, stop):
            here = np.flatnonzero(rows.frames == frame)
            image = {"image": frames[frame - first].numpy()} if motion else {}
            tracks = tracker.update(rows.boxes_xyxy[here], rows.scores[here],
                                    None if features is None else features[here], frame=frame, **image)
            out_frames.append(np.full(len(tracks.ids), frame, dtype=np.int64))
            out_ids.append(tracks.ids)
            out_boxes.append(tracks.boxes.reshape(-1, 4))
            if on_frame is not None:
                on_frame(frame, None if frames is None else frames[frame - first], tracks)
        bar.update(stop - first)
    bar.close()
    used = MotRows(*(np.concatenate([getattr(r, name) for r in found]) for name in
                     ("frames", "ids", "boxes", "scores", "classes", "visibility"))) if found else None
    return tracks_to_rows(np.concatenate(out_frames), np.concatenate(out_ids), np.concatenate(out_boxes)), used
