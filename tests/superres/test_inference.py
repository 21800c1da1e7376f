"""Streaming upscaling: equal to the batched model, tiles, files in and out, and failures that leave nothing."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from vidlearn.models import CheckpointLoadError, create, load_weights, save_weights
from vidlearn.superres.inference import StreamingUpscaler, load_sr_model, super_resolve, upscale
from vidlearn.video import VideoDecodeError, VideoReader, write_video

TINY = {"num_blocks": 1, "num_filters": 8}


def tiny(name: str = "frvsr_3_64", scale: int = 4, **kwargs: object) -> torch.nn.Module:
    torch.manual_seed(0)
    return create(name, scale=scale, **TINY, **kwargs).eval()


def saved(tmp_path: Path, name: str = "frvsr_3_64", scale: int = 4) -> Path:
    model = tiny(name, scale)
    meta = {"model": name, "kwargs": TINY, "scale": scale, "degradation": "BD", "task": "superres"}
    return save_weights(model, tmp_path / f"{name}_x{scale}.safetensors", metadata=meta)


def test_streaming_equals_the_batched_forward_for_every_system() -> None:
    lr = torch.rand(1, 6, 3, 16, 24)
    for name in ("frvsr_3_64", "sisr_3_64", "vsr_3_64"):
        model = tiny(name)
        with torch.no_grad():
            expected = model(lr)[0]
        assert torch.allclose(super_resolve(model, lr[0], scale=4), expected.clamp(0, 1), atol=1e-5), name


def test_tiles_with_enough_overlap_give_the_whole_frame_result_for_a_per_frame_model() -> None:
    model = tiny("sisr_3_64", lr_skip="bicubic")
    lr = torch.rand(3, 3, 40, 56)
    whole = super_resolve(model, lr, scale=4)
    tiled = super_resolve(model, lr, scale=4, tile=16, overlap=6)
    assert torch.allclose(tiled, whole, atol=1e-5)
    seams = super_resolve(model, lr, scale=4, tile=16, overlap=0)
    assert not torch.allclose(seams, whole, atol=1e-3)  # without context the tile borders differ


def test_tiled_frvsr_stays_close_to_whole_frames() -> None:
    model = tiny()
    lr = torch.rand(4, 3, 32, 48)
    whole = super_resolve(model, lr, scale=4)
    tiled = super_resolve(model, lr, scale=4, tile=16, overlap=8)
    assert tiled.shape == whole.shape and (tiled - whole).abs().mean() < 0.02


def test_a_frame_size_change_mid_sequence_is_an_error() -> None:
    upscaler = StreamingUpscaler(tiny(), scale=4)
    upscaler.push(torch.rand(3, 16, 16))
    with pytest.raises(ValueError, match="frame size changed mid-sequence: 24x16"):
        upscaler.push(torch.rand(3, 16, 24))


def test_upscale_video_to_video_and_folder(tmp_path: Path) -> None:
    frames = np.random.default_rng(0).integers(0, 255, (5, 20, 28, 3), dtype=np.uint8)  # 20x28: not multiples of 8
    write_video(tmp_path / "in.mp4", frames, 12)
    model, _ = load_sr_model(saved(tmp_path))
    summary = upscale(tmp_path / "in.mp4", tmp_path / "out.mp4", model, scale=4)
    assert summary["frames"] == 5 and summary["hr_size"] == [112, 80]
    reader = VideoReader(tmp_path / "out.mp4")
    assert (reader.num_frames, reader.width, reader.height, round(reader.fps)) == (5, 112, 80, 12)
    upscale(tmp_path / "in.mp4", tmp_path / "frames", model, scale=4)
    assert sorted(p.name for p in (tmp_path / "frames").iterdir())[-1] == "00000004.png"
    with pytest.raises(FileExistsError, match=r"out\.mp4: already exists"):
        upscale(tmp_path / "in.mp4", tmp_path / "out.mp4", model, scale=4)


def test_one_frame_grey_and_alpha_inputs(tmp_path: Path) -> None:
    folder = tmp_path / "one"
    folder.mkdir()
    cv2.imwrite(str(folder / "a.png"), np.full((12, 16), 100, np.uint8))  # grey
    model, _ = load_sr_model(saved(tmp_path))
    assert upscale(folder, tmp_path / "out1", model, scale=4)["frames"] == 1
    cv2.imwrite(str(folder / "b.png"), np.full((12, 16, 4), 50, np.uint8))  # BGRA
    assert upscale(folder, tmp_path / "out2", model, scale=4)["frames"] == 2
    assert cv2.imread(str(tmp_path / "out2" / "00000001.png")).shape == (48, 64, 3)


def test_a_video_that_breaks_half_way_names_the_file_and_frame_and_leaves_no_output(tmp_path: Path) -> None:
    write_video(tmp_path / "whole.mp4", np.random.default_rng(0).integers(0, 255, (20, 32, 32, 3), np.uint8), 25)
    data = (tmp_path / "whole.mp4").read_bytes()
    (tmp_path / "broken.mp4").write_bytes(data[: len(data) // 2])
    model, _ = load_sr_model(saved(tmp_path))
    for output in ("out.mp4", "out_frames"):
        with pytest.raises(VideoDecodeError, match=r"broken\.mp4.*at frame \d+"):
            upscale(tmp_path / "broken.mp4", tmp_path / output, model, scale=4)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.mp4", "frvsr_3_64_x4.safetensors", "whole.mp4"]


def test_a_checkpoint_of_another_scale_is_refused(tmp_path: Path) -> None:
    path = saved(tmp_path, scale=2)
    with pytest.raises(ValueError, match=r"x2 model \(frvsr_3_64\), x4 was asked"):
        load_sr_model(path, scale=4)
    with pytest.raises(CheckpointLoadError, match="srnet"):
        load_weights(tiny(scale=4), path)  # the weights alone do not fit a x4 model either


def test_engine_checkpoints_load_through_the_runs_model_json(tmp_path: Path) -> None:
    (tmp_path / "checkpoints").mkdir()
    model = tiny()
    torch.save({"model": model.state_dict()}, tmp_path / "checkpoints" / "epoch0001_step00000010.pt")
    (tmp_path / "model.json").write_text(json.dumps({"model": "frvsr_3_64", "kwargs": TINY, "scale": 4}))
    loaded, meta = load_sr_model(tmp_path / "checkpoints" / "epoch0001_step00000010.pt")
    assert meta["scale"] == 4
    assert all(torch.equal(a, b) for a, b in zip(loaded.state_dict().values(), model.state_dict().values()))
