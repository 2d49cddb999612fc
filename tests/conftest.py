"""Shared fixtures: the real data beside the repo (``../shared/data``) and small datasets built from it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The folder of real human data (images, videos, pose renders, mocap); see its MANIFEST.md."""
    if not SHARED_DATA.is_dir():
        pytest.fail(f"{SHARED_DATA} is missing: the tests need ../shared/data beside the repo")
    return SHARED_DATA


@pytest.fixture(scope="session")
def tiny_data(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``videos/tfjs_pose_1.mp4`` prepared at 64x64: train clip ``tfjs_pose_1_f0-90`` (frames 0-89)
    and test clip ``tfjs_pose_1_f90-120`` (frames 90-119), with real poses and masks."""
    from posevid.data.prepare import prepare

    out = tmp_path_factory.mktemp("tiny_data")
    _, errors = prepare([shared_data / "videos" / "tfjs_pose_1.mp4"], out, size=64, test_frames="90:120",
                        show_progress=False)
    assert not errors, errors
    return out
