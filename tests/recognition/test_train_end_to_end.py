"""End to end on the built-in data: `vidlearn train` in one process and under torchrun (2 ranks,
gloo), `vidlearn evaluate` and `vidlearn predict` with the trained checkpoint."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from vidlearn.recognition.builders import build_dataset
from vidlearn.recognition.checkpoints import load_trained_model
from vidlearn.recognition.recipe import load_recipe

RECIPE = """\
model:
  name: c3d
  kwargs: {{width_multiplier: 0.125, fc_dim: 32, clip_len: 16, crop_size: 16, dropout: 0.0}}
data:
  format: synthetic
  root: {root}
  clip_len: 16
  preprocessing: {{resize_short_side: null, crop_size: 16, flip: false, mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25]}}
  batch_size: 8
  num_workers: 0
  synthetic: {{num_train: 32, num_test: 16, num_frames: 16, size: [16, 16]}}
optim: {{name: sgd, lr: 0.05, momentum: 0.9}}
schedule: {{name: constant}}
train: {{max_epochs: 2, deterministic: true, device: cpu, progress_bar: false, log_every_steps: 1}}
evaluate: {{num_clips: 1, val_num_clips: 1, num_workers: 0}}
"""


def _env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _metrics(stdout: str) -> dict:
    start = stdout.index("{")
    return json.loads(stdout[start : stdout.rindex("}") + 1])


@pytest.fixture(scope="module")
def recipe(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("e2e")
    path = root / "tiny.yaml"
    path.write_text(RECIPE.format(root=root / "data"))
    build_dataset(load_recipe(path), train=True)  # writes the videos once for every run below
    return path


@pytest.fixture(scope="module")
def single_run(recipe) -> tuple[Path, dict]:
    work_dir = recipe.parent / "single"
    out = subprocess.run([sys.executable, "-m", "vidlearn.cli.main", "train", str(recipe), f"train.work_dir={work_dir}"],
                         capture_output=True, text=True, env=_env(), timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return work_dir, _metrics(out.stdout)


def test_single_process_run_writes_everything(single_run):
    work_dir, metrics = single_run
    for name in ("model.safetensors", "metrics.json", "confusion_matrix.png", "per_class.csv", "config.yaml", "log.jsonl"):
        assert (work_dir / name).is_file(), name
    assert metrics["num_videos"] == 16
    assert 0.0 <= metrics["video_top1"] <= 1.0


@pytest.mark.slow
def test_torchrun_two_ranks_matches_one_process_with_the_same_global_batch(recipe, single_run):
    """2 ranks x batch 4 (gloo) against 1 process x batch 8: same data, same updates, so the final
    weights agree to float32 reduction-order error (atol 1e-5) and the held-out metrics exactly."""
    single_dir, single_metrics = single_run
    work_dir = recipe.parent / "ddp"
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port", str(_free_port()),
               "-m", "vidlearn.cli.main", "train", str(recipe), "data.batch_size=4", f"train.work_dir={work_dir}"]
    out = subprocess.run(command, capture_output=True, text=True, env=_env(), timeout=400)
    assert out.returncode == 0, out.stderr[-3000:]
    ddp_metrics = _metrics(out.stdout)
    single = load_file(single_dir / "model.safetensors")
    ddp = load_file(work_dir / "model.safetensors")
    assert single.keys() == ddp.keys()
    for key in single:
        torch.testing.assert_close(ddp[key], single[key], atol=1e-5, rtol=1e-4, msg=key)
    for key in ("video_top1", "video_top5", "clip_top1", "num_videos"):
        assert ddp_metrics[key] == pytest.approx(single_metrics[key]), key


def test_evaluate_cli_reproduces_the_training_metrics(recipe, single_run, tmp_path):
    work_dir, metrics = single_run
    out = subprocess.run([sys.executable, "-m", "vidlearn.cli.main", "evaluate", str(recipe), "--checkpoint",
                          str(work_dir / "model.safetensors"), "--quiet", "--out", str(tmp_path)],
                         capture_output=True, text=True, env=_env(), timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    evaluated = json.loads(out.stdout.split("result: ", 1)[1].splitlines()[0])
    assert evaluated["video_top1"] == pytest.approx(metrics["video_top1"])
    assert (tmp_path / "confusion_matrix.png").is_file()


def test_predict_prints_topk_and_writes_an_annotated_video(single_run, shared_data, tmp_path):
    from vidlearn.video import VideoReader

    work_dir, _ = single_run
    video = shared_data / "clips" / "mmaction2" / "demo_demo.mp4"
    output = tmp_path / "annotated.mp4"
    out = subprocess.run([sys.executable, "-m", "vidlearn.cli.main", "predict", str(video), "--checkpoint",
                          str(work_dir / "model.safetensors"), "--top-k", "3", "--num-clips", "2", "--output", str(output)],
                         capture_output=True, text=True, env=_env(), timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    ranked = [line.split()[1] for line in out.stdout.splitlines() if line.strip()[:2] in ("1.", "2.", "3.")]
    assert len(ranked) == 3
    _, meta = load_trained_model(work_dir / "model.safetensors")
    assert set(ranked) <= set(meta["classes"])
    with VideoReader(video) as original, VideoReader(output) as annotated:
        assert annotated.num_frames == original.num_frames
        assert (annotated.height, annotated.width) == (original.height, original.width)
        first = annotated.get_frames([0])[0]
    assert first[:5].float().mean() < 40  # the label banner is drawn over the top rows


def test_fc6_linear_svm_protocol_matches_a_reference_fit(recipe, single_run):
    """`vidlearn evaluate --protocol svm`: fc6 descriptors + LinearSVC, checked against a fit done here."""
    import numpy as np
    from sklearn.svm import LinearSVC

    from vidlearn.recognition.protocols import protocol_dataset
    from vidlearn.recognition.svm import extract_video_features

    work_dir, _ = single_run
    out = subprocess.run([sys.executable, "-m", "vidlearn.cli.main", "evaluate", str(recipe), "--checkpoint",
                          str(work_dir / "model.safetensors"), "--protocol", "svm", "--quiet"],
                         capture_output=True, text=True, env=_env(), timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    reported = json.loads(out.stdout.split("result: ", 1)[1].splitlines()[0])
    cfg = load_recipe(recipe)
    model, _ = load_trained_model(work_dir / "model.safetensors")
    data = []
    for train in (True, False):
        videos = build_dataset(cfg, train=train)
        dataset, transform = protocol_dataset(cfg, videos, num_clips=1, num_crops=1)
        x, y = extract_video_features(lambda c: model.forward_features(c, layer="fc6"), dataset, transform)
        assert x.shape == (len(videos), 32) and np.allclose(np.linalg.norm(x, axis=1), 1.0, atol=1e-5)
        data.append((x, y))
    reference = LinearSVC(C=1.0, random_state=0, max_iter=10_000).fit(*data[0])
    assert reported["svm_top1"] == pytest.approx(float((reference.predict(data[1][0]) == data[1][1]).mean()))
    assert reported["num_train_videos"] == 32 and reported["num_test_videos"] == 16
