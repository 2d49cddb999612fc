"""Shared fixtures: the real data beside the repo (``../shared/data``) and small datasets built from it."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """Torch on one thread within the block, for training the tiny configs (64x64, bf16 autocast:
    ``train.amp``): their many small operations cost more on two threads than they bring (a SCGAN or PG2
    step 8x slower on two than on one, the decoupled method's 2x; fp32 DwNet 1.2x; load 9-10)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@pytest.fixture(scope="session", autouse=True)
def _posevid_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """The backend choices and exports of ``--backend auto`` (the CLI's default) go to a session folder, not
    the user's ``~/.cache/posevid``."""
    os.environ["POSEVID_CACHE"] = str(tmp_path_factory.mktemp("posevid_cache"))


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


@pytest.fixture(scope="session")
def motion_data(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every DeepMimic action, one yaw, 32-frame windows (the psgan configs' labels and lengths)."""
    from posevid.data.motion import write_motion_dataset

    out = tmp_path_factory.mktemp("motion_all")
    write_motion_dataset([shared_data / "mocap" / "deepmimic"], out, frames=32, yaws=(0,))
    return out


def add_hands_and_face(poses, seed: int = 0):
    """``poses`` (COCO-18) with hands and a face built around its joints, for tests of the point groups.

    Each hand fans out from its wrist along the forearm; the face is a left-right symmetric layout of
    the 68 iBUG points (so mirroring it with ``skeleton.FACE_FLIP_PERM`` gives the same shape) centred
    on the nose. A hand whose wrist is missing is missing too; the right hand is dropped in frame 1.
    """
    import dataclasses

    import numpy as np

    from posevid.skeleton import FACE_FLIP_PERM, HAND_POINTS, JOINT

    rng = np.random.default_rng(seed)
    frames = len(poses)
    hand_xy = np.zeros((frames, 2, HAND_POINTS, 2), np.float32)
    hand_conf = np.zeros((frames, 2, HAND_POINTS), np.float32)
    fan = np.array([[0, 0]] + [[0.25 * (1 + k % 4), 0.12 * (k // 4 - 2)] for k in range(20)], np.float32)
    for side, (elbow, wrist) in enumerate([("left_elbow", "left_wrist"), ("right_elbow", "right_wrist")]):
        e, w = poses.xy[:, JOINT[elbow]], poses.xy[:, JOINT[wrist]]
        along = w - e
        across = np.stack([-along[:, 1], along[:, 0]], -1)
        pts = w[:, None] + fan[None, :, :1] * along[:, None] + fan[None, :, 1:] * across[:, None]
        ok = (poses.conf[:, JOINT[elbow]] > 0) & (poses.conf[:, JOINT[wrist]] > 0)
        hand_conf[:, side] = np.where(ok[:, None], rng.uniform(0.3, 1.0, (frames, HAND_POINTS)), 0)
        hand_xy[:, side] = np.where(hand_conf[:, side, :, None] > 0, pts, 0)
    if frames > 1:
        hand_xy[1, 1], hand_conf[1, 1] = 0, 0
    half = np.zeros((68, 2), np.float32)
    for i, j in enumerate(FACE_FLIP_PERM):
        if i < j:
            half[i] = [-rng.uniform(2, 20), rng.uniform(-15, 25)]
            half[j] = [-half[i, 0], half[i, 1]]
        elif i == j:
            half[i] = [0, rng.uniform(-15, 25)]
    nose = poses.xy[:, JOINT["nose"]]
    face_conf = np.where(poses.conf[:, JOINT["nose"], None] > 0, np.full((frames, 68), 0.8, np.float32), 0)
    face_xy = np.where(face_conf[..., None] > 0, nose[:, None] + half[None], 0).astype(np.float32)
    return dataclasses.replace(poses, hand_xy=hand_xy, hand_conf=hand_conf, face_xy=face_xy, face_conf=face_conf)


@pytest.fixture(scope="session")
def holistic_dancer(shared_data: Path):
    """MediaPipe Holistic's body, depth, hands and face on every 4th frame of ``videos/tfjs_pose_1.mp4``
    (30 frames, 576x576; the dancer is about 230 pixels tall)."""
    import itertools

    import numpy as np

    from posevid.estimate import estimate_poses
    from posevid.video import open_video

    with open_video(shared_data / "videos" / "tfjs_pose_1.mp4") as reader:
        frames = np.stack(list(itertools.islice(reader, 0, None, 4)))
    return estimate_poses(frames, fps=7.5, keypoints="body+hands+face")
