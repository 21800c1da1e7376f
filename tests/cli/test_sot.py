"""``vidlearn sot track`` and ``vidlearn sot eval``: videos and frame folders in, OTB rows, plots and JSON out."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from _cli import error_line as _error_line
from _cli import run as _run

from vidlearn.models import create
from vidlearn.tracking.sot.checkpoints import save_sot_model
from vidlearn.tracking.sot.data import synthetic_sequence, write_otb_sequence
from vidlearn.tracking.sot.otb import evaluate_results, read_boxes, read_sequence


@pytest.fixture(scope="module")
def sequence_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("otb")
    write_otb_sequence(synthetic_sequence(11, num_frames=6, size=(64, 80), num_distractors=1), root)
    return root


def _goturn_file(path: Path) -> Path:
    kwargs = {"backbone": "small", "input_size": 32, "fc_dim": 16, "width": 4}
    torch.manual_seed(0)
    return save_sot_model(create("goturn", **kwargs), path, name="goturn", kwargs=kwargs)


def test_track_a_sequence_folder_with_goturn_and_an_overlay(capsys, sequence_root: Path, tmp_path: Path) -> None:
    folder = next(sequence_root.iterdir())
    code, out, _ = _run(capsys, "sot", "track", folder, "--tracker", "goturn", "--checkpoint",
                        _goturn_file(tmp_path / "g.safetensors"), "-o", tmp_path / "r.txt",
                        "--video", tmp_path / "o.mp4", "--no-progress")
    assert code == 0 and "6 boxes" in out
    boxes = read_boxes(tmp_path / "r.txt")
    assert boxes.shape == (6, 4)
    np.testing.assert_allclose(boxes[0], read_sequence(folder).boxes[0], atol=0.006)  # starts from the ground truth
    from vidlearn.video import VideoReader

    assert VideoReader(tmp_path / "o.mp4").num_frames == 6


def test_track_a_video_with_an_init_box(capsys, tmp_path: Path) -> None:
    from vidlearn.video import write_video

    frames = synthetic_sequence(12, num_frames=5, size=(64, 64), num_distractors=0)
    video = write_video(tmp_path / "v.mp4", frames.frames, fps=10)
    x1, y1, x2, y2 = frames.boxes[0]
    code, _, _ = _run(capsys, "sot", "track", video, "--tracker", "kcf", "--init",
                      f"{x1:.1f},{y1:.1f},{x2 - x1:.1f},{y2 - y1:.1f}", "-o", tmp_path / "r.txt", "--no-progress")
    assert code == 0 and read_boxes(tmp_path / "r.txt").shape == (5, 4)


def test_track_bad_input_is_one_line(capsys, sequence_root: Path, tmp_path: Path) -> None:
    folder = next(sequence_root.iterdir())
    out = tmp_path / "r.txt"
    assert "--init box x,y,w,h = 10,10,0,5 has zero size" in _error_line(
        capsys, "sot", "track", folder, "--tracker", "stay", "--init", "10,10,0,5", "-o", out)
    assert "is outside the 80x64 frame" in _error_line(
        capsys, "sot", "track", folder, "--tracker", "stay", "--init", "500,10,20,20", "-o", out)
    assert "--init must be x,y,w,h" in _error_line(
        capsys, "sot", "track", folder, "--tracker", "stay", "--init", "1,2,3", "-o", out)
    empty = tmp_path / "Empty"
    (empty / "img").mkdir(parents=True)
    (empty / "groundtruth_rect.txt").write_text("1,2,3,4\n")
    assert "Empty: no frames" in _error_line(capsys, "sot", "track", empty, "--tracker", "stay", "-o", out)
    assert "needs a checkpoint" in _error_line(capsys, "sot", "track", folder, "--tracker", "goturn", "-o", out)
    rolo_kwargs = {"feature_dim": 12}
    rolo_file = save_sot_model(create("rolo", **rolo_kwargs), tmp_path / "rolo.safetensors", name="rolo",
                               kwargs=rolo_kwargs)
    assert "holds a rolo model, not goturn" in _error_line(
        capsys, "sot", "track", folder, "--tracker", "goturn", "--checkpoint", rolo_file, "-o", out)


@pytest.mark.slow
def test_rolo_with_a_torchvision_detector_on_the_frames(capsys, sequence_root: Path, tmp_path: Path) -> None:
    from torchvision.models import detection

    folder = next(sequence_root.iterdir())
    torch.manual_seed(0)
    network = detection.fasterrcnn_mobilenet_v3_large_320_fpn(weights=None, weights_backbone=None, num_classes=91)
    torch.save(network.state_dict(), tmp_path / "frcnn.pth")
    rolo_kwargs = {"feature_dim": 12}  # the 2x2 pixel grid
    rolo_file = save_sot_model(create("rolo", **rolo_kwargs), tmp_path / "rolo.safetensors", name="rolo",
                               kwargs=rolo_kwargs, extras={"features": {"kind": "grid", "grid": 2}, "sequence_length": 3})
    code, out, _ = _run(capsys, "sot", "track", folder, "--tracker", "rolo", "--checkpoint", rolo_file,
                        "--detector", "fasterrcnn_mobilenet_v3_large_320_fpn", "--detector-weights",
                        tmp_path / "frcnn.pth", "--classes", "all", "--score-threshold", "0", "-o", tmp_path / "r.txt",
                        "--no-progress")
    assert code == 0 and "6 boxes" in out and read_boxes(tmp_path / "r.txt").shape == (6, 4)
    # The same through vidlearn track, and the detector's errors are one line naming the option or file.
    code, out, _ = _run(capsys, "track", folder, "--tracker", "rolo", "--checkpoint", rolo_file, "--detector",
                        "fasterrcnn_mobilenet_v3_large_320_fpn", "--detector-weights", tmp_path / "frcnn.pth",
                        "-o", tmp_path / "t.txt", "--quiet")
    assert code == 0 and read_boxes(tmp_path / "t.txt").shape == (6, 4)
    out_file = tmp_path / "x.txt"
    assert _error_line(capsys, "sot", "track", folder, "--tracker", "rolo", "--checkpoint", rolo_file,
                       "--detector", "fasterrcnn_mobilenet_v3_large_320_fpn", "-o", out_file).endswith(
        "--detector fasterrcnn_mobilenet_v3_large_320_fpn needs --detector-weights FILE (nothing is downloaded)")
    assert _error_line(capsys, "sot", "track", folder, "--tracker", "goturn", "--checkpoint",
                       _goturn_file(tmp_path / "g.safetensors"), "--detector", "ssd300_vgg16", "--detector-weights",
                       tmp_path / "frcnn.pth", "-o", out_file).endswith(
        "--detector feeds ROLO's boxes; the goturn tracker takes none")
    assert "either a file with one box per frame (--detections) or a detector" in _error_line(
        capsys, "sot", "track", folder, "--tracker", "rolo", "--checkpoint", rolo_file, "-o", out_file)
    assert "frcnn.pth: not ssdlite320_mobilenet_v3_large weights" in _error_line(
        capsys, "sot", "track", folder, "--tracker", "rolo", "--checkpoint", rolo_file, "--detector",
        "ssdlite320_mobilenet_v3_large", "--detector-weights", tmp_path / "frcnn.pth", "-o", out_file)


@pytest.mark.shared_data
def test_eval_writes_the_table_plots_and_json(capsys, shared_data: Path, tmp_path: Path) -> None:
    gt_root = tmp_path / "gt"
    gt_root.mkdir()
    (gt_root / "Crossing").symlink_to(shared_data / "tracking" / "otb_crossing")
    truth = read_sequence(gt_root / "Crossing", need_frames=False).boxes
    results = tmp_path / "stay"
    results.mkdir()
    rows = np.repeat(np.loadtxt(gt_root / "Crossing" / "groundtruth_rect.txt", delimiter=",")[:1], len(truth), 0)
    np.savetxt(results / "Crossing.txt", rows, fmt="%g", delimiter=",")
    code, out, _ = _run(capsys, "sot", "eval", results, gt_root, "--json", tmp_path / "out.json")
    assert code == 0 and "| Crossing | 120 |" in out
    table = json.loads((tmp_path / "out.json").read_text())
    expected, _ = evaluate_results({"Crossing": np.repeat(truth[:1], len(truth), 0)}, {"Crossing": truth})
    assert table["Crossing"]["success_auc"] == pytest.approx(expected["Crossing"]["success_auc"])
    assert set(table) == {"Crossing", "OVERALL"} and 0 < table["OVERALL"]["precision_20"] < 1
    assert (results / "success_plot.png").is_file() and (results / "precision_plot.png").is_file()
    (results / "Crossing.txt").write_text("1,2,3,4\n1,2,x,4\n")
    assert "Crossing.txt:2: expected 4 numbers" in _error_line(capsys, "sot", "eval", results, gt_root)


@pytest.mark.parametrize("has_bf16", [False, True])
def test_goturn_fast_on_a_cpu_without_bf16_says_it_is_slower(capsys, sequence_root: Path, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch, has_bf16: bool) -> None:
    monkeypatch.setattr("vidlearn.utils.cpu_has_bf16", lambda: has_bf16)
    folder = next(sequence_root.iterdir())
    code, out, err = _run(capsys, "sot", "track", folder, "--tracker", "goturn", "--checkpoint",
                          _goturn_file(tmp_path / "g.safetensors"), "-o", tmp_path / "r.txt", "--fast", "--no-progress")
    assert code == 0 and "6 boxes" in out
    assert ("--fast on a CPU without bf16 instructions emulates bf16" in err) is (not has_bf16)
