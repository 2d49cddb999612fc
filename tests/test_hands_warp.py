"""The warp method moves hands with the hand keypoints when they are given (``hands.bend`` on the rig)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import cv2
import numpy as np
import pytest

from posevid.hands import direction
from posevid.methods.warp import WarpAnimator
from posevid.poses import Poses
from posevid.rig import Rig
from posevid.skeleton import JOINT
from posevid.video import read_image

SIDE = 320


@pytest.fixture(scope="module")
def photo(shared_data: Path) -> tuple[np.ndarray, Poses, np.ndarray]:
    """The catalog photo (a man standing, hands by his thighs) at 320 pixels, with hand keypoints."""
    from posevid.estimate import PoseEstimator

    rgb = read_image(shared_data / "images/animateanyone_anyone-11.png")
    h, w = rgb.shape[:2]
    s = SIDE / max(h, w)
    rgb = cv2.resize(rgb, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA)
    with PoseEstimator(keypoints="body+hands") as est:
        pose, mask = est.image(rgb)
    assert (pose.hand_conf[0, :, 0] > 0).all()
    return rgb, pose, mask


def turned_hands(pose: Poses, degrees: float) -> Poses:
    """The pose with both hands' keypoints turned about their wrists."""
    a = np.radians(degrees)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]], np.float32)
    wrists = pose.hand_xy[:, :, :1]
    return dataclasses.replace(pose, hand_xy=wrists + (pose.hand_xy - wrists) @ rot.T)


def test_turned_hand_keypoints_turn_the_hands_only(photo) -> None:
    rgb, pose, mask = photo
    rig = Rig.build(rgb, pose, mask)
    target = turned_hands(pose, 60.0)
    moved = rig.raster(target).source  # where each drawn pixel reads the photo
    still = rig.raster(pose).source
    changed = np.linalg.norm(moved[0] - still[0], axis=-1) > 2
    changed &= (moved[0, ..., 0] > -1000) & (still[0, ..., 0] > -1000)
    ys, xs = np.nonzero(changed)
    assert xs.size > 100
    wrists = pose.xy[0, [JOINT["left_wrist"], JOINT["right_wrist"]]]
    hand = max(np.linalg.norm(direction(pose.hand_xy[0, s], pose.hand_conf[0, s])) for s in (0, 1))
    near = np.min(np.linalg.norm(np.stack([xs, ys], 1)[:, None] - wrists[None], axis=-1), axis=1)
    assert np.percentile(near, 99) < 3.5 * hand  # only around the hands (fingers reach ~2 knuckle lengths)
    # A photo pixel of the left hand (its knuckles) is drawn where the turned keypoints put the knuckles.
    knuckles = pose.hand_xy[0, 0, [5, 9, 13, 17]].mean(0)
    goal = target.hand_xy[0, 0, [5, 9, 13, 17]].mean(0)
    reads = moved[0].reshape(-1, 2)
    drawn_at = np.argmin(np.linalg.norm(reads - knuckles, axis=-1))
    where = np.array([drawn_at % rgb.shape[1], drawn_at // rgb.shape[1]], np.float32)
    assert np.linalg.norm(where - goal) < 0.35 * hand


def test_without_target_hand_keypoints_the_hands_stay(photo) -> None:
    # (The photo's hand keypoints also shape the rig's parts, ``layers``: one rig is compared with itself.)
    rgb, pose, mask = photo
    animator = WarpAnimator()
    animator.reset(rgb, pose, mask)
    with_hands = animator.step(pose)
    without = animator.step(dataclasses.replace(pose, hand_xy=None, hand_conf=None))
    np.testing.assert_array_equal(with_hands, without)
    assert not np.array_equal(animator.step(turned_hands(pose, 60.0)), with_hands)
