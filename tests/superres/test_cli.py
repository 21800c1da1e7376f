"""``vidlearn superres degrade`` / ``evaluate`` and ``vidlearn upscale`` on files."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from vidlearn.cli.main import main
from vidlearn.models import create, save_weights
from vidlearn.superres.degrade import Degradation
from vidlearn.video import write_video


def test_degrade_then_evaluate_bicubic_against_the_ground_truth(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    frames = np.random.default_rng(0).integers(0, 255, (7, 66, 90, 3), dtype=np.uint8)
    for name in ("calendar", "walk"):
        folder = tmp_path / "GT" / name
        folder.mkdir(parents=True)
        for i, frame in enumerate(frames):
            cv2.imwrite(str(folder / f"{i:04d}.png"), frame)
    assert main(["superres", "degrade", str(tmp_path / "GT"), str(tmp_path / "LR"), "--kernel", "bd",
                 "--sigma", "1.5", "--scale", "4"]) == 0
    out = capsys.readouterr().out
    assert "7 frames of 22x16 (HR cropped by 2 rows and 2 columns to a multiple of 4)" in out
    lr = cv2.imread(str(tmp_path / "LR" / "walk" / "0003.png"))[..., ::-1]
    hr = torch.from_numpy(frames[3, :64, :88, ::-1].copy()).permute(2, 0, 1).float() / 255
    expected = (Degradation("bd", 4, sigma=1.5)(hr).clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0)
    assert np.array_equal(lr, expected.numpy())
    # The ground truth against itself: infinite PSNR, SSIM 1, tOF 0, under the named protocol.
    assert main(["superres", "evaluate", str(tmp_path / "GT"), str(tmp_path / "GT"), "--crop-border", "4",
                 "--skip", "1", "--json", str(tmp_path / "r.json")]) == 0
    result = json.loads((tmp_path / "r.json").read_text())
    assert set(result) == {"calendar", "walk", "mean"}
    assert result["walk"]["ssim_y"] == pytest.approx(1.0) and result["walk"]["tof"] == 0.0
    assert result["walk"]["frames"] == 5 and result["mean"]["protocol"]["crop_border"] == 4
    assert main(["superres", "degrade", str(tmp_path / "GT"), str(tmp_path / "LR")]) == 2
    assert "already exists" in capsys.readouterr().err


def test_evaluate_names_a_missing_sequence_and_a_frame_count_mismatch(tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    write_video(tmp_path / "gt.mp4", np.zeros((6, 32, 32, 3), np.uint8), 25)
    write_video(tmp_path / "pred.mp4", np.zeros((5, 32, 32, 3), np.uint8), 25)
    assert main(["superres", "evaluate", str(tmp_path / "pred.mp4"), str(tmp_path / "gt.mp4")]) == 2
    assert "5 frames of 32x32, the ground truth" in capsys.readouterr().err


def test_upscale_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = create("frvsr_3_64", num_blocks=1, num_filters=8)
    meta = {"model": "frvsr_3_64", "kwargs": {"num_blocks": 1, "num_filters": 8}, "scale": 4}
    save_weights(model, tmp_path / "m.safetensors", metadata=meta)
    write_video(tmp_path / "in.mp4", np.zeros((3, 16, 24, 3), np.uint8), 10)
    assert main(["upscale", str(tmp_path / "in.mp4"), str(tmp_path / "out.mp4"), "--checkpoint",
                 str(tmp_path / "m.safetensors"), "--quiet", "--tile", "8"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["frames"] == 3 and summary["hr_size"] == [96, 64]
    assert main(["upscale", str(tmp_path / "in.mp4"), str(tmp_path / "x"), "--checkpoint",
                 str(tmp_path / "m.safetensors"), "--scale", "2"]) == 2
    assert "x4 model (frvsr_3_64), x2 was asked" in capsys.readouterr().err


@pytest.mark.parametrize("has_bf16", [False, True])
def test_upscale_fast_on_a_cpu_without_bf16_says_it_is_slower(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                               monkeypatch: pytest.MonkeyPatch, has_bf16: bool) -> None:
    monkeypatch.setattr("vidlearn.utils.cpu_has_bf16", lambda: has_bf16)
    model = create("sisr_3_64", num_blocks=1, num_filters=8)
    save_weights(model, tmp_path / "m.safetensors",
                 metadata={"model": "sisr_3_64", "kwargs": {"num_blocks": 1, "num_filters": 8}, "scale": 4})
    write_video(tmp_path / "in.mp4", np.zeros((2, 16, 24, 3), np.uint8), 10)
    assert main(["upscale", str(tmp_path / "in.mp4"), str(tmp_path / "out"), "--checkpoint",
                 str(tmp_path / "m.safetensors"), "--quiet", "--precision", "fast", "--device", "cpu"]) == 0
    err = capsys.readouterr().err
    assert ("--precision fast on a CPU without bf16 instructions emulates bf16" in err) is (not has_bf16)
