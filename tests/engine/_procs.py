"""Child processes of the engine tests: a blocking training run, torchrun's environment, a free port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

SCRIPT = Path(__file__).with_name("_train_tiny.py")


def child_env() -> dict[str, str]:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(name, None)
    return env


def start_blocking_child(work_dir: Path, step: int, toy: str = "tiny", *,
                         own_group: bool = False) -> subprocess.Popen:
    """A child training a resume run (``toy``) that stops after its checkpoint at ``step`` and waits.

    ``own_group``: the child leads a new process group (with its data-loader workers), which a test can
    signal as a whole, as ``timeout`` or a batch scheduler does."""
    child = subprocess.Popen(
        [sys.executable, str(SCRIPT), "block", str(work_dir), str(step), toy],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=child_env(),
        start_new_session=own_group,
    )
    marker = work_dir / "marker"
    deadline = time.monotonic() + 60
    while not marker.exists():
        if child.poll() is not None:
            pytest.fail(f"child exited early with {child.returncode}: {child.stderr.read()}")
        if time.monotonic() > deadline:
            child.kill()
            pytest.fail("child never reached the checkpoint")
        time.sleep(0.05)
    return child


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
