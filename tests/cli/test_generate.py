"""``vidlearn generate`` (sample grids) and ``vidlearn generate evaluate`` (metrics as JSON), and their errors."""

from __future__ import annotations

import json
from pathlib import Path

import av
import pytest
from _cli import error_line as _error_line
from _cli import run as _run

from vidlearn.generation.training import synthetic_motion_clips, train

TINY = {"resolution": 16, "ch": 2, "k": 2, "z_dim": 8, "embed_dim": 8, "num_frames": 4}


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work_dir = tmp_path_factory.mktemp("gan")
    data = synthetic_motion_clips(8, num_frames=4, size=16)
    run = train(data, work_dir=work_dir, model_kwargs=TINY, batch_size=4, max_steps=1, samples_per_class=1)
    return run.history.last_checkpoint




def test_generate_writes_a_grid_of_the_named_classes(capsys, checkpoint: Path, tmp_path: Path) -> None:
    out = tmp_path / "grid.mp4"
    code, text, _ = _run(capsys, "generate", "--checkpoint", checkpoint, "--classes", "move_up", "1",
                         "--num", "3", "--out", out, "--truncation", "1.5", "--seed", "7", "--scale", "2")
    assert code == 0 and "2 row(s) x 3 sample(s) (move_up, move_left)" in text and "truncation 1.5" in text
    with av.open(str(out)) as container:
        stream = container.streams.video[0]
        frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(stream)]
    # 2 rows x 3 columns of 32-px tiles with 1-px gaps, padded to even sides for H.264: 68 x 100.
    assert len(frames) == 4 and frames[0].shape == (68, 100, 3)
    gif = tmp_path / "all.gif"
    assert _run(capsys, "generate", "--checkpoint", checkpoint, "--out", gif, "--num", "1")[0] == 0
    with av.open(str(gif)) as container:
        first = next(container.decode(video=0)).to_ndarray(format="rgb24")
    assert first.shape == (4 * 97 + 1, 98, 3)  # a row per class, one 96-px tile each (16 px enlarged 6x)


def test_generate_refuses_an_unknown_class_naming_the_known_ones(capsys, checkpoint: Path, tmp_path: Path) -> None:
    line = _error_line(capsys, "generate", "--checkpoint", checkpoint, "--classes", "jump", "--out", tmp_path / "g.gif")
    assert line == ("vidlearn: error: unknown class 'jump'; the generator knows: move_right, move_left, move_up, "
                    "move_down (or an index 0-3)")


def test_generate_refuses_a_checkpoint_of_another_resolution(capsys, checkpoint: Path, tmp_path: Path) -> None:
    line = _error_line(capsys, "generate", "--checkpoint", checkpoint, "--resolution", "64", "--out", tmp_path / "g.gif")
    assert line.endswith("the generator makes 16x16 clips, not 64x64")
    line = _error_line(capsys, "generate", "evaluate", "--checkpoint", checkpoint, "--recipe",
                       "configs/generation/dvdgan/dvdgan-cpu_8x16_motion4.yaml", "data.clip_len=4", "data.resolution=32",
                       "--num-samples", "4")
    assert "the checkpoint's generator makes 16x16 clips, the recipe's data.resolution is 32" in line


def test_generate_needs_a_checkpoint_and_a_video_suffix(capsys, checkpoint: Path) -> None:
    assert "needs --checkpoint FILE" in _error_line(capsys, "generate", "--out", "x.gif")
    assert _error_line(capsys, "generate", "--checkpoint", checkpoint, "--out", "x.png").endswith(
        "--out x.png: write a .gif or .mp4 file")


def test_generate_evaluate_writes_json_with_the_protocol(capsys, checkpoint: Path, tmp_path: Path) -> None:
    recipe = tmp_path / "r.yaml"
    recipe.write_text(
        "task: generation\nmodel: {name: dvdgan_cpu}\n"
        "data: {format: motion, clip_len: 4, resolution: 16, motion: {num_train: 8, num_test: 8}}\n"
        "evaluate: {num_samples: 8, batch_size: 8, real_split: test, fvd: {name: i3d, num_classes: 400, resize: [32, 32],"
        " feature_layer: features, kwargs: {width_multiplier: 0.125, dropout: 0.0}}}\n")
    out = tmp_path / "metrics.json"
    code, _, _ = _run(capsys, "generate", "evaluate", "--checkpoint", checkpoint, "--recipe", recipe, "--out", out,
                      "--quiet", "--truncation", "1.0")
    assert code == 0
    result = json.loads(out.read_text())
    fvd = result["fvd"]
    assert fvd["num_fake"] == fvd["num_real"] == 8 and fvd["value"] >= 0 and fvd["truncation"] == 1.0
    assert fvd["protocol"]["resize"] == [32, 32] and fvd["protocol"]["clip_length"] == 4
    assert fvd["protocol"]["value_range"] == [-1.0, 1.0] and fvd["protocol"]["real_split"].startswith("motion:motion4 test")
    line = _error_line(capsys, "generate", "evaluate", "--checkpoint", checkpoint, "--recipe", recipe, "--skip", "fvd")
    assert "every metric is off" in line


def test_generate_continues_a_video_with_a_future_prediction_checkpoint(capsys, tmp_path: Path) -> None:
    import numpy as np
    import torch

    from vidlearn.video import write_video

    data = synthetic_motion_clips(8, num_frames=4, size=16)
    run = train(data, work_dir=tmp_path / "fp", model_kwargs={**TINY, "context_frames": 2}, batch_size=4, max_steps=1,
                samples_per_class=1)
    fp = run.history.last_checkpoint
    video = tmp_path / "clip.mp4"
    frames = torch.from_numpy(np.random.default_rng(0).integers(0, 255, (6, 24, 32, 3), dtype=np.uint8))
    write_video(video, frames, 8.0)
    out = tmp_path / "future.gif"
    code, text, _ = _run(capsys, "generate", "--checkpoint", fp, "--context", video, "--context-start", "1",
                         "--classes", "move_up", "--num", "3", "--out", out, "--scale", "1")
    assert code == 0 and "1 row(s) x 3 sample(s) (move_up)" in text
    with av.open(str(out)) as container:
        grid = [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]
    assert len(grid) == 4
    tiles = [[frame[1:17, 1 + 17 * i : 17 + 17 * i] for i in range(3)] for frame in grid]
    # the 2 context frames are the same in every sample; the predicted ones differ with z
    assert all((tiles[t][0] == tiles[t][i]).all() for t in (0, 1) for i in (1, 2))
    assert any((tiles[t][0] != tiles[t][1]).any() for t in (2, 3))
    line = _error_line(capsys, "generate", "--checkpoint", fp, "--out", tmp_path / "g.gif")
    assert line.endswith("a DVD-GAN-FP generator continues 2 given frames: pass --context VIDEO (its first frames, "
                         "or from --context-start)")
    line = _error_line(capsys, "generate", "--checkpoint", fp, "--context", video, "--context-start", "5",
                       "--out", tmp_path / "g.gif")
    assert line == f"vidlearn: error: --context {video}: has 6 frames; frames 5-6 were asked for"


def test_generate_refuses_context_for_a_plain_checkpoint(capsys, checkpoint: Path, tmp_path: Path) -> None:
    line = _error_line(capsys, "generate", "--checkpoint", checkpoint, "--context", tmp_path / "any.mp4",
                       "--out", tmp_path / "g.gif")
    assert line.endswith("this generator was trained without context frames (plain DVD-GAN); --context is for "
                         "DVD-GAN-FP checkpoints")
