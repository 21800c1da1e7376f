"""Drawing tracks on frames: a box, the id and a short trail per track, one colour per id.

:class:`OverlayWriter` is fed ``(frame, tracks)`` one frame at a time (``track_sequence``'s ``on_frame``) and
streams the drawn frames into a video file (written atomically by :class:`vidlearn.video.VideoWriter`).
Colours come from the golden-ratio walk around the hue circle, so neighbouring ids differ strongly and an
id keeps its colour in every frame and every video.
"""

from __future__ import annotations

import colorsys
import os
from collections import deque
from pathlib import Path

import numpy as np
import torch

__all__ = ["OverlayWriter", "TrackDrawer", "draw_tracks", "id_color"]


def id_color(track_id: int) -> tuple[int, int, int]:
    """An RGB colour for ``track_id`` (saturated, bright; hue ``id * 0.618`` turns)."""
    hue = (int(track_id) * 0.61803398875) % 1.0
    red, green, blue = colorsys.hsv_to_rgb(hue, 0.85, 1.0)
    return int(red * 255), int(green * 255), int(blue * 255)


def draw_tracks(frame: np.ndarray, ids: np.ndarray, boxes: np.ndarray,
                trails: dict[int, deque] | None = None, *, thickness: int = 1) -> np.ndarray:
    """``frame uint8 (H, W, 3)`` RGB with each track's box, id and trail (``trails[id]``: recent centres)."""
    import cv2

    canvas = np.ascontiguousarray(frame).copy()
    scale = max(0.35, min(canvas.shape[:2]) / 600)
    for track_id, box in zip(np.asarray(ids).tolist(), np.asarray(boxes).reshape(-1, 4)):
        color = id_color(track_id)
        x1, y1, x2, y2 = (round(float(v)) for v in box)
        if trails is not None and len(trails.get(track_id, ())) > 1:
            points = np.array(trails[track_id], dtype=np.int32).reshape(-1, 1, 2)
            cv2.polylines(canvas, [points], False, color, thickness, cv2.LINE_8)
        cv2.rectangle(canvas, (x1, y1), (x2, y2), color, thickness, cv2.LINE_8)
        label = str(track_id)
        (text_w, text_h), _ = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
        top = max(y1 - text_h - 3, 0)
        cv2.rectangle(canvas, (x1, top), (x1 + text_w + 2, top + text_h + 3), color, -1)
        cv2.putText(canvas, label, (x1 + 1, top + text_h + 1), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 1,
                    cv2.LINE_AA)
    return canvas


class TrackDrawer:
    """Draws each frame's tracks with the last ``trail`` centres of every track behind its box.

    ``drawer(frame, tracks) -> uint8 (H, W, 3)``; a trail ends when its track is not reported.
    """

    def __init__(self, trail: int = 12) -> None:
        self.trail = trail
        self.trails: dict[int, deque] = {}

    def __call__(self, frame: torch.Tensor | np.ndarray, tracks) -> np.ndarray:
        seen = set()
        for track_id, box in zip(tracks.ids.tolist(), tracks.boxes.reshape(-1, 4)):
            centre = (round(float(box[0] + box[2]) / 2), round(float(box[1] + box[3]) / 2))
            self.trails.setdefault(track_id, deque(maxlen=self.trail)).append(centre)
            seen.add(track_id)
        for track_id in [t for t in self.trails if t not in seen]:
            del self.trails[track_id]
        array = frame.numpy() if isinstance(frame, torch.Tensor) else np.asarray(frame)
        return draw_tracks(array, tracks.ids, tracks.boxes, self.trails)


class OverlayWriter:
    """Streams frames with their tracks drawn into ``path`` (any suffix :func:`vidlearn.video.write_video` knows).

    ``trail`` frames of each track's centre are drawn behind it. Called as ``track_sequence``'s ``on_frame``
    (``writer(frame_number, frame, tracks)``); use as a context manager, or call :meth:`close`.
    """

    def __init__(self, path: str | os.PathLike, fps: float, *, trail: int = 12) -> None:
        from vidlearn.video.writer import VideoWriter

        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._writer = VideoWriter(self.path, fps)
        self.drawer = TrackDrawer(trail)
        self.frames = 0

    def __call__(self, frame_number: int, frame: torch.Tensor | np.ndarray | None, tracks) -> None:
        if frame is None:
            raise ValueError("an overlay video needs the frames of the sequence")
        self._writer.write(self.drawer(frame, tracks))
        self.frames += 1

    def close(self, error: BaseException | None = None) -> None:
        """Finish the file (or, after ``error``, drop the partial one)."""
        if error is None:
            self._writer.close()
        else:
            self._writer.abort()

    def __enter__(self) -> OverlayWriter:
        return self

    def __exit__(self, kind, error, traceback) -> None:
        self.close(error)
