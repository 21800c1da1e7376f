"""The README and the guides say what the program does: their shell examples run, their numbers hold.

Every fenced ``bash`` block of README.md and docs/*.md is cut into commands (continuation lines
joined, comments dropped), and every command must be listed in :data:`POLICY` with what the test does
with it, so that a new example is either run or skipped for a named reason:

- ``run``: run as written, in a temporary folder (``configs/`` linked in), and expect exit code 0;
- ``quick``: run a named, shorter variant (extra ``key=value`` overrides or fewer items);
- ``help``: the command's ``--help`` (the real one needs a run's output or hours);
- ``missing-data``: it needs a real dataset under ``/data``: run it and expect the one-line error that
  names the missing path, which proves that its command line and its recipe keys parse;
- ``shared``: run as written when the shared test material (``../shared/data``) is there, else skipped;
- ``shared-quick``: the ``quick`` variant, when the shared test material is there, else skipped;
- ``skip``: not run, for the reason given (installs, the whole test suite, torchrun on 8 GPUs).

The commands that import torch each take a few seconds; the whole module stays near a minute on two
CPU cores (the tiny recipe's quick variant trains on 8 clips for one epoch and tests on 4).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]

TINY_QUICK = "data.synthetic.num_train=8 data.synthetic.num_test=4"
SOT_QUICK = ("data.synthetic.num_train=2 data.synthetic.num_val=1 data.synthetic.num_frames=4 "
             "data.synthetic.size=[48,48] data.batch_size=4 train.max_steps=2 train.max_epochs=2")
SUPERRES_QUICK = ("data.samples_per_epoch=4 data.crop_size=32 data.clip_len=3 data.num_workers=0 train.max_epochs=1 "
                  "model.kwargs.num_blocks=1 model.kwargs.num_filters=8 evaluate.synthetic_sequences=1 "
                  "evaluate.synthetic_frames=6 evaluate.synthetic_size=[64,64]")
GEN_QUICK = ("data.motion.num_train=8 data.motion.num_test=8 data.batch_size=4 data.clip_len=4 model.kwargs.ch=2 "
             "train.max_steps=1 evaluate.num_samples=8 evaluate.batch_size=8 evaluate.fvd.kwargs.width_multiplier=0.125")
GEN_FP_QUICK = GEN_QUICK.replace("data.clip_len=4", "data.clip_len=4 model.kwargs.k=2")
SHARED_DATA = Path(os.environ.get("VIDLEARN_SHARED_DATA", REPO.parent / "shared" / "data"))
REID_QUICK = ("data.synthetic.train_scenes=2 data.synthetic.test_scenes=1 data.synthetic.frames_per_scene=6 "
              "data.synthetic.objects_per_scene=4 train.max_epochs=1 model.width=8")

#: (command pattern, action, detail). The first pattern that matches (``re.fullmatch``) decides.
POLICY: list[tuple[str, str, str]] = [
    (r"make demo", "help", "vidlearn demo --help"),  # the demo itself takes about 9 minutes
    (r"make test", "skip", "runs this test suite"),
    (r"pip install .*", "skip", "installs packages"),
    (r"vidlearn models", "quick", "vidlearn models c3d"),  # one model; every model's GMACs take ~20 s
    (r"vidlearn train configs/recognition/c3d/c3d_sports1m-pretrained_16x1x1_ucf101-split1\.yaml .*data\.root=/data/.*",
     "missing-data", "dataset root not found: /data/ucf101/videos"),
    (r"vidlearn evaluate RECIPE .*", "help", "vidlearn evaluate --help"),  # needs a trained UCF-101 run
    (r"vidlearn predict video\.mp4 --checkpoint runs/demo/.*", "help", "vidlearn predict --help"),  # needs make demo
    (r"vidlearn data check /data/.*", "missing-data", "dataset root not found: /data/ucf101/videos"),
    (r"vidlearn flow extract /data/.*", "missing-data", "/data/ucf101/videos"),
    (r"torchrun .*", "skip", "8 processes under torchrun (DDP is tested in tests/engine and tests/recognition)"),
    (r"TINY=.*", "run", ""),
    (r"vidlearn train \$TINY .*", "quick", TINY_QUICK),
    (r"vidlearn evaluate \$TINY .*", "quick", TINY_QUICK),  # the 4 test videos the quick training made
    (r"vidlearn predict data/motion8/.*", "run", ""),
    # README: the other wings' commands on the user's own files (each runs in its guide's examples)
    (r"vidlearn track video\.mp4 .*", "help", "vidlearn track --help"),
    (r"vidlearn mot eval MOT17/train .*", "help", "vidlearn mot eval --help"),
    (r"vidlearn track crossing/ .*", "help", "vidlearn track --help"),
    (r"vidlearn sot eval runs/sot otb/ .*", "help", "vidlearn sot eval --help"),
    (r"vidlearn upscale clip_lr\.mp4 .*", "help", "vidlearn upscale --help"),
    (r"vidlearn superres evaluate clip_x4\.mp4 .*", "help", "vidlearn superres evaluate --help"),
    (r"vidlearn generate --checkpoint CKPT .*", "help", "vidlearn generate --help"),
    # the NanoTrack-tower GOTURN reads its tower, MOT17-04 and OTB Crossing from the shared test material
    (r"vidlearn train configs/tracking/goturn/goturn-nanotrack\S+\.yaml --work-dir \S+", "shared-quick", SOT_QUICK),
    (r"vidlearn train configs/tracking/(goturn|rolo)/\S+\.yaml --work-dir \S+", "quick", SOT_QUICK),
    (r"vidlearn sot track .*", "help", "vidlearn sot track --help"),  # reads ../shared/data and a trained run
    (r"vidlearn sot eval .*", "help", "vidlearn sot eval --help"),
    (r"python benchmarks/tracking/sot/bench_sot\.py.*", "skip", "minutes of timing"),
    (r"vidlearn superres synth .*", "run", ""),
    (r"vidlearn train configs/superres/frvsr/frvsr_3-32_synthetic_bd-x4_10x96_cpu\.yaml --work-dir runs/frvsr_cpu",
     "quick", SUPERRES_QUICK),
    (r"vidlearn superres (degrade|evaluate) scene.*", "run", ""),
    (r"vidlearn upscale scene_lr .*", "run", ""),
    (r"vidlearn train configs/generation/dvdgan/dvdgan-cpu_8x16_motion4\.yaml", "quick", GEN_QUICK),
    (r"vidlearn train configs/generation/dvdgan/dvdgan-fp-cpu_8x16_motion4\.yaml", "quick", GEN_FP_QUICK),
    (r"vidlearn generate --checkpoint runs/generation/.*", "help", "vidlearn generate --help"),  # needs a trained run
    (r"vidlearn generate evaluate --checkpoint runs/generation/.*", "help", "vidlearn generate evaluate --help"),
    (r"vidlearn demo generation", "help", "vidlearn demo --help"),  # about 2.5 minutes
    (r"python -m vidlearn\.generation\.demo .*", "skip", "the full generation claim: about half an hour of CPU"),
    (r"python benchmarks/generation/bench_generation\.py.*", "skip", "minutes of CPU; its table is in its README"),
    # docs/tracking.md
    (r"vidlearn track street\.mp4 .*", "skip", "needs torchvision's COCO detector weights (not in the shared material)"),
    (r"vidlearn mot eval \.\./shared/data/.*", "shared", ""),
    (r"PETS=\.\./shared/data/.*", "shared", ""),
    (r"vidlearn track \$PETS .*", "shared", ""),
    (r"python -c .*\.\./shared/data/.*", "shared", ""),
    (r"vidlearn track .*--reid \.\./shared/data/.*", "shared", ""),
    (r"vidlearn mot eval runs/pets/.*", "shared", ""),
    (r"mkdir -p runs/tiny", "run", ""),
    (r"printf .* > runs/tiny/det\.txt", "run", ""),
    (r"python -c \"from vidlearn\.synthetic\.mot import .*", "run", ""),
    (r"vidlearn track (runs/|--tracker ).*", "run", ""),
    (r"vidlearn mot eval runs/synmot .*", "run", ""),
    (r"vidlearn train configs/tracking/deepsort/reid_synthetic.*", "quick", REID_QUICK),
    (r"vidlearn evaluate configs/tracking/deepsort/reid_synthetic.*", "quick", REID_QUICK),
    (r"vidlearn train configs/tracking/deepsort/reid_mot17.*", "missing-data",
     "sequence folder not found: data/MOT17/train/MOT17-02-FRCNN"),
    (r"vidlearn demo tracking", "quick", "vidlearn demo tracking --quick"),
]


def shell_commands(text: str) -> list[str]:
    """The commands of every fenced ``bash`` block of a Markdown text, in order."""
    commands: list[str] = []
    for block in re.findall(r"^```bash\n(.*?)^```", text, flags=re.S | re.M):
        joined = re.sub(r"\\\n\s*", " ", block)
        for line in joined.splitlines():
            line = re.sub(r"\s+#.*$", "", line).strip()  # a comment after the command
            if line and not line.startswith("#"):
                commands.append(line)
    return commands


def _policy(command: str) -> tuple[str, str]:
    for pattern, action, detail in POLICY:
        if re.fullmatch(pattern, command):
            return action, detail
    raise AssertionError(f"a shell example the docs test does not know: {command!r}; add it to POLICY")


def test_every_shell_example_is_listed() -> None:
    commands = [c for doc in DOCS for c in shell_commands(doc.read_text(encoding="utf-8"))]
    assert len(commands) >= 12, commands  # README and docs/recognition.md
    for command in commands:
        _policy(command)


@pytest.fixture(scope="module")
def shell(tmp_path_factory):
    """Runs a command line in a temporary folder with ``vidlearn`` meaning this checkout's CLI."""
    base = tmp_path_factory.mktemp("docs")
    folder = base / "vidlearn"  # a checkout, with the shared test material next to it as ../shared/data
    folder.mkdir()
    if SHARED_DATA.is_dir():
        (base / "shared").mkdir()
        (base / "shared" / "data").symlink_to(SHARED_DATA)
    (folder / "configs").symlink_to(REPO / "configs")
    bin_dir = folder / ".bin"
    bin_dir.mkdir()
    shim = bin_dir / "vidlearn"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m vidlearn.cli.main "$@"\n')
    shim.chmod(0o755)
    python = bin_dir / "python"  # ``python -c ...`` examples run with this interpreter (and its packages)
    python.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    python.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "OMP_NUM_THREADS": "2",
           "PYTHONPATH": os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")])}
    variables: list[str] = []

    def run(command: str) -> subprocess.CompletedProcess:
        script = "\n".join([*variables, command])
        if re.fullmatch(r"[A-Z_]+=\S+", command):
            variables.append(command)
        return subprocess.run(["bash", "-c", script], cwd=folder, env=env, capture_output=True, text=True,
                              timeout=180)

    return run


@pytest.mark.slow
@pytest.mark.parametrize("doc", DOCS, ids=lambda path: path.name)
def test_shell_examples_run(doc: Path, shell) -> None:
    for command in shell_commands(doc.read_text(encoding="utf-8")):
        action, detail = _policy(command)
        if action == "skip" or (action in ("shared", "shared-quick") and not SHARED_DATA.is_dir()):
            continue
        quick = f"{command} {detail}" if detail.startswith("data.") else detail
        line = {"run": command, "shared": command, "quick": quick, "shared-quick": quick, "help": detail,
                "missing-data": command}[action]
        result = shell(line)
        if action == "missing-data":
            assert result.returncode == 2, (command, result.stderr[-2000:])
            assert "Traceback" not in result.stderr and detail in result.stderr, (command, result.stderr)
            assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        else:
            assert result.returncode == 0, (line, result.stdout[-1000:], result.stderr[-2000:])


def test_readme_decoded_shape_is_the_one_the_reader_gives(tmp_path: Path) -> None:
    """README: ``get_frames(range(0, 32, 2), size=128)`` of a 320x240 UCF-101 video."""
    from vidlearn.video import VideoReader, write_video

    claimed = re.search(r"uint8 \((\d+), (\d+), (\d+), 3\), frame-exact", (REPO / "README.md").read_text())
    assert claimed, "the README's decoded-shape comment moved"
    video = write_video(tmp_path / "v.avi", np.zeros((32, 240, 320, 3), np.uint8), 25, codec="mpeg4")
    with VideoReader(video) as reader:
        shape = tuple(reader.get_frames(range(0, 32, 2), size=128).shape)
    assert shape == (*map(int, claimed.groups()), 3)


def test_talk_page_times_agree_with_its_rows_and_the_command_help(capsys) -> None:
    from vidlearn.cli.main import main

    text = (REPO / "docs" / "talk.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| .*\(`([^`]+)`\) \|.*\| (\d+) s \|$", text, flags=re.M)
    training = sum(int(seconds) for name, seconds in rows if name != "two_stream (fused)")
    assert f"training time of the networks together {training} s" in text
    page_minutes = re.search(r"about (\d+-\d+) minutes on 2 CPU cores", text)
    with pytest.raises(SystemExit):
        main(["bench", "talk", "--help"])
    help_minutes = re.search(r"About (\d+-\d+) minutes on 2 CPU cores", " ".join(capsys.readouterr().out.split()))
    assert page_minutes and help_minutes and page_minutes.group(1) == help_minutes.group(1)
    high = int(page_minutes.group(1).split("-")[1])
    assert training <= high * 60  # the networks' training alone fits in the time the page announces
