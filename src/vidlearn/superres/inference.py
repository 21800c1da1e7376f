"""Streaming super-resolution of videos and frame folders of any length, in bounded memory.

:class:`StreamingUpscaler` feeds one LR frame at a time to a model's ``step`` (FRVSR's recurrence
keeps one previous LR frame and HR estimate; SISR keeps nothing; the sliding window keeps ``2r+1``
LR frames and answers ``r`` frames late), so memory does not depend on the length. A frame too large
for memory is cut into tiles of ``tile`` LR pixels, each processed with ``overlap`` LR pixels of
context on every side and its own recurrent state; only each tile's core goes to the output, so the
seams see the same context as the interior up to ``overlap`` pixels of motion.

Speed: on the CPU the fast path runs the model in ``channels_last`` with bf16 autocast; on a GPU,
fp16 autocast (AMP). The fp32 path is the reference; ``benchmarks/superres`` measures both.

:func:`upscale` reads a video file or a frame folder and writes a video file or a frame folder
atomically: a video goes through :class:`vidlearn.video.VideoWriter` (temporary file, renamed at the
end); frames go to a hidden temporary folder renamed into place at the end. A failure half-way
(a video that breaks, an interrupt) leaves nothing under the output name.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vidlearn.superres.data import open_frames
from vidlearn.video.errors import VideoDecodeError
from vidlearn.video.files import is_video_file

__all__ = ["FrameFolderWriter", "StreamingUpscaler", "bicubic_upscale", "frames_of", "load_sr_model", "super_resolve", "upscale"]


def bicubic_upscale(lr: Tensor, scale: int) -> Tensor:
    """Bicubic interpolation ``(..., C, h, w) -> (..., C, s*h, s*w)`` clamped to [0, 1] (the baseline)."""
    lead, (channels, height, width) = lr.shape[:-3], lr.shape[-3:]
    hr = F.interpolate(lr.reshape(-1, channels, height, width), scale_factor=scale, mode="bicubic",
                       align_corners=False)
    return hr.clamp_(0.0, 1.0).reshape(*lead, channels, scale * height, scale * width)


def load_sr_model(path: str | os.PathLike[str], *, scale: int | None = None, device: str | torch.device = "cpu",
                  ema: bool = True) -> tuple[nn.Module, dict[str, Any]]:
    """A trained SR model and its metadata from ``model.safetensors`` (or an engine checkpoint of a run).

    The metadata (written by training) names the registered model, its options and the scale; an
    engine checkpoint ``work_dir/checkpoints/*.pt`` reads it from ``work_dir/model.json``, and gives
    the moving average of its weights when it holds one (``ema.decay`` in the recipe) unless ``ema``
    is false. A ``scale`` other than the checkpoint's is a ``ValueError`` naming both.
    """
    from vidlearn.models import create, load_weights

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: checkpoint not found")
    meta: dict[str, Any] | None = None
    if path.suffix == ".safetensors":
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as handle:
            header = handle.metadata() or {}
        if "metadata" in header:
            meta = json.loads(header["metadata"])
    else:
        for candidate in (path.parent / "model.json", path.parent.parent / "model.json"):
            if candidate.is_file():
                meta = json.loads(candidate.read_text())
                break
    if not meta or "model" not in meta or "scale" not in meta:
        raise ValueError(f"{path}: no super-resolution metadata (model name and scale); use the model.safetensors "
                         f"a superres training run writes, or an engine checkpoint next to its model.json")
    if scale is not None and int(scale) != int(meta["scale"]):
        raise ValueError(f"{path}: the checkpoint is a x{meta['scale']} model ({meta['model']}), x{scale} was asked")
    model = create(meta["model"], scale=int(meta["scale"]), **meta.get("kwargs", {}))
    load_weights(model, path, ema="auto" if ema else False)
    return model.to(device).eval(), meta


def _autocast(device: torch.device, fast: bool) -> contextlib.AbstractContextManager:
    if not fast:
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if device.type == "cpu" else torch.float16
    return torch.autocast(device.type, dtype=dtype)


class StreamingUpscaler:
    """Super-resolve frames one at a time: ``push(lr_frame (C, h, w)) -> list of HR frames (C, s*h, s*w)``.

    Call :meth:`finish` at the end for the frames a look-ahead model still owes. ``tile`` (LR pixels,
    ``None`` = whole frames) and ``overlap`` bound the memory of one step; ``fast`` turns on the fast
    path (CPU: channels_last + bf16 autocast; GPU: fp16 autocast).
    """

    def __init__(self, model: nn.Module, *, scale: int, tile: int | None = None, overlap: int = 16,
                 fast: bool = False, device: str | torch.device | None = None) -> None:
        if tile is not None and tile < 8:
            raise ValueError(f"tile must be at least 8 LR pixels, got {tile}")
        if overlap < 0:
            raise ValueError(f"overlap must be >= 0, got {overlap}")
        self.model = model.eval()
        self.scale = scale
        self.tile = tile
        self.overlap = overlap
        self.fast = fast
        self.device = torch.device(device) if device is not None else next(model.parameters()).device
        if fast and self.device.type == "cpu":
            self.model = self.model.to(memory_format=torch.channels_last)
        self._states: dict[tuple[int, int], Any] = {}
        self._grid: list[tuple[slice, slice, slice, slice]] | None = None
        self._size: tuple[int, int] | None = None

    def _tiles(self, height: int, width: int) -> list[tuple[slice, slice, slice, slice]]:
        """(padded rows, padded cols, core rows within the padded tile, core cols) per tile, in LR pixels."""
        tile = self.tile or max(height, width)
        grid = []
        for top in range(0, height, tile):
            for left in range(0, width, tile):
                bottom, right = min(top + tile, height), min(left + tile, width)
                pad_top, pad_left = max(0, top - self.overlap), max(0, left - self.overlap)
                pad_bottom, pad_right = min(height, bottom + self.overlap), min(width, right + self.overlap)
                grid.append((slice(pad_top, pad_bottom), slice(pad_left, pad_right),
                             slice(top - pad_top, bottom - pad_top), slice(left - pad_left, right - pad_left)))
        return grid

    @torch.inference_mode()
    def _run(self, lr_frame: Tensor | None) -> list[Tensor]:
        """One step on every tile (``None``: flush); returns the finished HR frames ``(C, H, W)``."""
        assert self._grid is not None and self._size is not None
        s = self.scale
        height, width = self._size
        outputs: list[list[Tensor]] = []
        for index, (rows, cols, core_rows, core_cols) in enumerate(self._grid):
            key = (index, 0)
            if lr_frame is None:
                flush = getattr(self.model, "flush", None)
                if flush is None or self._states.get(key) is None:
                    results: list[Tensor] = []
                else:
                    with _autocast(self.device, self.fast):
                        results = flush(self._states[key])
            else:
                crop = lr_frame[:, rows, cols].unsqueeze(0)
                if self.fast and self.device.type == "cpu":
                    crop = crop.contiguous(memory_format=torch.channels_last)
                with _autocast(self.device, self.fast):
                    hr, self._states[key] = self.model.step(crop, self._states.get(key))
                results = [] if hr is None else [hr]
            cores = [r[0, :, core_rows.start * s:core_rows.stop * s, core_cols.start * s:core_cols.stop * s]
                     for r in results]
            outputs.append(cores)
        finished = []
        for k in range(len(outputs[0]) if outputs else 0):
            frame = torch.empty(outputs[0][k].shape[0], height * s, width * s, device=self.device)
            for (rows, cols, core_rows, core_cols), cores in zip(self._grid, outputs):
                top, left = rows.start + core_rows.start, cols.start + core_cols.start
                bottom, right = rows.start + core_rows.stop, cols.start + core_cols.stop
                frame[:, top * s:bottom * s, left * s:right * s] = cores[k].float()
            finished.append(frame.clamp_(0.0, 1.0))
        return finished

    def push(self, lr_frame: Tensor) -> list[Tensor]:
        """Feed one LR frame ``float (C, h, w)`` in [0, 1]; returns the HR frames now finished (0 or 1)."""
        if lr_frame.dim() != 3:
            raise ValueError(f"push expects one frame (C, h, w), got {tuple(lr_frame.shape)}")
        size = (int(lr_frame.shape[1]), int(lr_frame.shape[2]))
        if self._size is None:
            self._size = size
            self._grid = self._tiles(*size)
        elif size != self._size:
            raise ValueError(f"frame size changed mid-sequence: {size[1]}x{size[0]}, the sequence is "
                             f"{self._size[1]}x{self._size[0]}")
        return self._run(lr_frame.to(self.device, torch.float32))

    def finish(self) -> list[Tensor]:
        """The HR frames still owed at the end (a look-ahead model's last frames)."""
        if self._size is None:
            return []
        return self._run(None)


def super_resolve(model: nn.Module, lr: Tensor, *, scale: int, tile: int | None = None, overlap: int = 16,
                  fast: bool = False) -> Tensor:
    """A whole LR sequence ``(T, C, h, w)`` through :class:`StreamingUpscaler` -> ``(T, C, s*h, s*w)`` on the CPU."""
    upscaler = StreamingUpscaler(model, scale=scale, tile=tile, overlap=overlap, fast=fast)
    frames: list[Tensor] = []
    for frame in lr:
        frames += [f.cpu() for f in upscaler.push(frame)]
    frames += [f.cpu() for f in upscaler.finish()]
    return torch.stack(frames)


def _to_uint8(frame: Tensor) -> np.ndarray:
    """``float (C, H, W)`` in [0, 1] -> ``uint8 (H, W, 3)``."""
    return frame.mul(255.0).round_().clamp_(0, 255).to(torch.uint8).permute(1, 2, 0).cpu().numpy()


class FrameFolderWriter:
    """PNG frames ``00000000.png, ...`` into a hidden temporary folder, renamed onto ``path`` by :meth:`close`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.temporary = path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex[:12]}")
        self.temporary.mkdir(parents=True)
        self.count = 0

    def write(self, frame: np.ndarray, name: str | None = None) -> None:
        """Write ``uint8 (H, W, 3)`` RGB as ``name`` (a stem; default the frame's 8-digit index) ``.png``."""
        file = self.temporary / f"{name if name is not None else f'{self.count:08d}'}.png"
        if not cv2.imwrite(str(file), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR)):
            raise OSError(f"{file}: could not write the frame")
        self.count += 1

    def close(self) -> Path:
        os.replace(self.temporary, self.path)
        return self.path

    def abort(self) -> None:
        shutil.rmtree(self.temporary, ignore_errors=True)


def frames_of(source: Any, path: Path) -> Iterator[tuple[int, np.ndarray]]:
    """``(index, uint8 (H, W, 3))`` for every frame; a decoding failure names the file and the frame."""
    index = 0
    iterator = iter(source)
    while True:
        try:
            frame = next(iterator)
        except StopIteration:
            return
        except VideoDecodeError as error:
            raise VideoDecodeError(path, f"decoding failed at frame {index}: {error}") from error
        except Exception as error:  # a decoder library's own error type
            raise VideoDecodeError(path, f"decoding failed at frame {index}: {error}") from error
        yield index, np.asarray(frame)
        index += 1


def upscale(input_path: str | os.PathLike[str], output_path: str | os.PathLike[str], model: nn.Module, *,
            scale: int, tile: int | None = None, overlap: int = 16, fast: bool = False, fps: float | None = None,
            crf: int | None = 18, codec: str | None = None, overwrite: bool = False,
            progress: Callable[[Iterable[Any], int | None], Iterable[Any]] | None = None) -> dict[str, Any]:
    """Super-resolve a video file or frame folder into a video file or frame folder; returns a summary.

    The output kind follows ``output_path``: a known video suffix writes a video (fps of the input,
    or ``fps``, or 25 for frame folders; H.264 CRF ``crf`` where available), anything else a folder of
    PNG frames. Nothing is left under ``output_path`` unless the whole input was processed. An
    existing output is refused unless ``overwrite``.
    """
    from vidlearn.video import VideoWriter

    input_path, output_path = Path(input_path), Path(output_path)
    if output_path.exists() and not overwrite:
        raise FileExistsError(f"{output_path}: already exists (pass overwrite to replace it)")
    source = open_frames(input_path)
    total = source.num_frames
    out_fps = fps or source.fps or 25.0
    to_video = is_video_file(output_path)
    writer: Any = (VideoWriter(output_path, out_fps, codec=codec, crf=crf) if to_video
                   else FrameFolderWriter(output_path.with_name(output_path.name)))
    upscaler = StreamingUpscaler(model, scale=scale, tile=tile, overlap=overlap, fast=fast)
    frames = frames_of(source, input_path)
    iterable: Iterable[tuple[int, np.ndarray]] = progress(frames, total) if progress else frames
    written = 0
    size: tuple[int, int] | None = None
    try:
        for _, frame in iterable:
            lr = torch.from_numpy(np.ascontiguousarray(frame)).permute(2, 0, 1).float().div_(255.0)
            size = (lr.shape[1], lr.shape[2])
            for hr in upscaler.push(lr):
                writer.write(_to_uint8(hr))
                written += 1
        for hr in upscaler.finish():
            writer.write(_to_uint8(hr))
            written += 1
        if written == 0:
            raise VideoDecodeError(input_path, "no frames decoded")
        if output_path.exists() and overwrite:
            if output_path.is_dir():
                shutil.rmtree(output_path)
            else:
                output_path.unlink()
        writer.close()
    except BaseException:
        writer.abort()
        raise
    assert size is not None
    return {"input": str(input_path), "output": str(output_path), "frames": written, "fps": out_fps,
            "lr_size": [size[1], size[0]], "hr_size": [size[1] * scale, size[0] * scale], "tile": tile,
            "fast": fast}
