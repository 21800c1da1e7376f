"""Degrading whole videos and frame folders into LR test material (``vidlearn superres degrade``).

Every frame goes through the :class:`~vidlearn.superres.degrade.Degradation` on its own, so a video of
any length streams through in bounded memory. HR frames whose sides are not multiples of the scale
are cropped at the bottom and right first (BasicSR's ``mod_crop``), the policy of the whole wing, and
the summary says how many pixels went. LR frames are written as PNG frames (lossless, named as the input frames of a folder) by default; a
video suffix writes a video, whose compression changes the LR pixels (fine for a demonstration, not
for a benchmark). Outputs are written atomically, as :func:`vidlearn.superres.inference.upscale` writes.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vidlearn.superres.data import FrameFolder, find_sequences, open_frames
from vidlearn.superres.degrade import Degradation, crop_to_multiple
from vidlearn.superres.inference import FrameFolderWriter, frames_of
from vidlearn.video.files import is_video_file

__all__ = ["degrade_files", "degrade_one"]


def degrade_one(input_path: Path, output_path: Path, degradation: Degradation, *, fps: float | None = None,
                overwrite: bool = False) -> dict[str, Any]:
    """One video or frame folder to LR frames (a PNG folder, or a video for a video suffix)."""
    from vidlearn.video import VideoWriter

    if output_path.exists() and not overwrite:
        raise FileExistsError(f"{output_path}: already exists (pass overwrite to replace it)")
    source = open_frames(input_path)
    to_video = is_video_file(output_path)
    writer: Any = (VideoWriter(output_path, fps or source.fps or 25.0) if to_video
                   else FrameFolderWriter(output_path))
    count, size, cropped = 0, (0, 0), (0, 0)
    generator = torch.Generator().manual_seed(0)
    try:
        names = [path.stem for path in source.files] if isinstance(source, FrameFolder) else None
        for index, frame in frames_of(source, input_path):
            hr = torch.from_numpy(np.ascontiguousarray(frame)).permute(2, 0, 1).float().div_(255.0)
            kept = crop_to_multiple(hr, degradation.scale)
            cropped = (hr.shape[1] - kept.shape[1], hr.shape[2] - kept.shape[2])
            lr = degradation(kept, generator=generator).clamp_(0.0, 1.0)
            size = (int(lr.shape[2]), int(lr.shape[1]))
            array = lr.mul(255.0).round_().to(torch.uint8).permute(1, 2, 0).numpy()
            writer.write(array, names[index]) if names is not None and not to_video else writer.write(array)
            count += 1
        if output_path.exists() and overwrite:
            import shutil

            shutil.rmtree(output_path) if output_path.is_dir() else output_path.unlink()
        writer.close()
    except BaseException:
        writer.abort()
        raise
    return {"input": str(input_path), "output": str(output_path), "frames": count, "lr_size": list(size),
            "cropped_rows_cols": list(cropped)}


def degrade_files(input_path: str | os.PathLike[str], output_path: str | os.PathLike[str], degradation: Degradation,
                  *, overwrite: bool = False) -> list[dict[str, Any]]:
    """Degrade a video, a frame folder, or every sequence under a root (mirrored under ``output_path``)."""
    input_path, output_path = Path(input_path), Path(output_path)
    sequences = find_sequences(input_path)
    if sequences == [input_path]:
        return [degrade_one(input_path, output_path, degradation, overwrite=overwrite)]
    if is_video_file(output_path):
        raise ValueError(f"{input_path} holds {len(sequences)} sequences: give an output folder, not {output_path.name}")
    results = []
    for path in sequences:
        relative = path.relative_to(input_path)
        target = output_path / (relative.with_suffix("") if path.is_file() else relative)
        results.append(degrade_one(path, target, degradation, overwrite=overwrite))
    return results
