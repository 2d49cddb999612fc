"""Skeleton renders back to keypoints: our own renders of real poses (both looks, lossless and through
an mp4), and the AnimateAnyone DWPose renders of ``shared/data/pose_renders``."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from posevid.poses import Poses, body_height
from posevid.render import pose_image
from posevid.render_decode import decode_skeleton
from posevid.skeleton import DRAWN_LIMBS
from posevid.video import VideoWriter, open_video


@pytest.fixture(scope="module")
def dancer(holistic_dancer: Poses) -> Poses:
    """Real poses with hands and face (MediaPipe Holistic on the dancing clip), joints below 0.1
    confidence dropped as the renderer drops them."""
    keep = holistic_dancer.conf > 0.1
    return dataclasses.replace(holistic_dancer, conf=np.where(keep, holistic_dancer.conf, 0),
                               xy=np.where(keep[..., None], holistic_dancer.xy, 0))


def pck(decoded: Poses, truth: Poses, share: float = 0.05) -> float:
    """Share of the drawn body joints decoded within ``share`` of the body height."""
    err = np.linalg.norm(decoded.xy - truth.xy, axis=-1)
    ok = (err <= share * body_height(truth)[:, None]) & (decoded.conf > 0)
    return float(ok[truth.conf > 0].mean())


@pytest.mark.parametrize("style,extras", [("openpose", False), ("openpose", True), ("posevid", False)])
def test_own_renders_decode_to_the_drawn_poses(dancer: Poses, style: str, extras: bool) -> None:
    drawn = dancer if extras else dancer.body_only()
    decoded = Poses.concat([decode_skeleton(pose_image(drawn, t, style=style)) for t in range(len(drawn))])
    score = pck(decoded, dancer)
    print(f"PCK@0.05 {style} {'with' if extras else 'without'} hands and face: {score:.3f}")
    assert score >= 0.95
    assert (decoded.width, decoded.height) == (576, 576)


def test_an_mp4_of_a_render_still_decodes(dancer: Poses, tmp_path: Path) -> None:
    with VideoWriter(tmp_path / "kps.mp4", 30.0) as writer:
        for t in range(len(dancer)):
            writer.write(pose_image(dancer.body_only(), t))
    with open_video(tmp_path / "kps.mp4") as reader:
        decoded = Poses.concat([decode_skeleton(rgb) for rgb in reader])
    assert pck(decoded, dancer) >= 0.95


def test_animateanyone_renders_decode_frame_by_frame(shared_data: Path) -> None:
    with open_video(shared_data / "pose_renders/animateanyone_anyone-video-2_kps.mp4") as reader:
        decoded = Poses.concat([decode_skeleton(rgb, reader.fps) for _, rgb in zip(range(40), reader)])
    assert (decoded.width, decoded.height, decoded.fps) == (512, 768, 30.0)
    assert (body_height(decoded) > 0).all() and (decoded.conf > 0).sum(1).min() >= 16
    changes = []
    for a, b in DRAWN_LIMBS[:12]:  # arms, torso and legs
        length = np.linalg.norm(decoded.xy[:, a] - decoded.xy[:, b], axis=-1)
        changes += (np.abs(np.diff(length)) / length[:-1]).tolist()
    assert np.median(changes) < 0.05


def test_nothing_drawn_decodes_to_nobody() -> None:
    empty = decode_skeleton(np.zeros((64, 48, 3), np.uint8))
    assert len(empty) == 1 and (empty.conf == 0).all() and (empty.width, empty.height) == (48, 64)
