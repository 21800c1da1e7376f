"""Shared test fixtures.

Real public test material lives in ``../shared/data`` next to the checkout (see its README); tests
that read it skip with a clear reason when it is absent. ``VIDLEARN_SHARED_DATA`` overrides the path.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("VIDLEARN_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))

# Two CPU cores in CI: keep intra-op threads modest so that pytest stays responsive.
torch.set_num_threads(min(2, torch.get_num_threads()))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Root of the shared real test material; skips the test when it is not there."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared test data not found at {SHARED_DATA} (set VIDLEARN_SHARED_DATA)")
    return SHARED_DATA
