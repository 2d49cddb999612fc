"""The person's floor shadow (``posevid.shadow``): taken off the plate, drawn under the moved feet, and not
found where a photo has none. The 3D-rendered catalog woman (tfexamples_image1.png) is an RGBA render over
nothing: composited over white (``video.read_image``), every background pixel darker than white is her
shadow, and the render's own alpha there says how dark (its truth)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from posevid.methods.warp.model import WarpAnimator
from posevid.plate import clean_plate, refine_alpha
from posevid.poses import Poses
from posevid.shadow import FloorShadow
from test_mesh import _photo

SIDE = 384


@pytest.fixture(scope="module")
def woman(shared_data: Path) -> tuple[np.ndarray, Poses, np.ndarray, np.ndarray, WarpAnimator]:
    """The catalog woman at 384: photo, pose, mask, her shadow's truth (the render's alpha off her, (H, W)
    in [0, 255]) and a warp animator reset on her."""
    rgb, pose, mask = _photo(shared_data, "tfexamples_image1.png", SIDE)
    render = np.asarray(Image.open(shared_data / "images" / "tfexamples_image1.png"))[..., 3]
    truth = cv2.resize(render, rgb.shape[1::-1], interpolation=cv2.INTER_AREA).astype(np.float32)
    animator = WarpAnimator()
    animator.reset(rgb, pose, mask)
    return rgb, pose, mask, truth, animator


def _grey(image: np.ndarray) -> np.ndarray:
    return image.astype(np.float32).mean(-1)


def test_the_plate_keeps_no_floor_shadow(woman) -> None:
    """Where her cast shadow lay (the render's alpha over 64 of 255 off her) and under her feet, the plate
    the animation draws on is the floor without it: within a few grey levels of the white floor (255)."""
    rgb, pose, mask, truth, animator = woman
    soft = np.maximum(mask, refine_alpha(rgb, mask))
    band = (soft < 0.05) & (truth > 64) & (truth < 250)
    assert band.sum() > 1000  # her two cast shadows
    plate = _grey(animator._plate)
    assert _grey(rgb)[band].mean() < 180  # the photo's shadow: 167
    assert plate[band].mean() > 240, plate[band].mean()  # main: 171
    assert plate[band].min() > 235, plate[band].min()
    feet = soft > 0.05
    feet[: round(0.85 * feet.shape[0])] = False  # the plate's fill where her feet stood
    assert plate[feet].min() > 235, plate[feet].min()  # main: 145, the shadow drawn on into the hole


def _floor_darkness(frame: np.ndarray, alpha: np.ndarray, below: float) -> np.ndarray:
    """(H, W) how far under 220 each floor pixel (rows below ``below``, nothing drawn) lies."""
    dark = np.clip(220.0 - _grey(frame), 0, None)  # the cast shadows (167 in the photo), not the shading
    dark[alpha > 0.05] = 0
    dark[: round(below)] = 0
    return dark


def test_the_shadow_follows_the_feet(woman) -> None:
    """Her pose moved right by a fifth of her height: the floor's darkness moves with her (the shift that
    best lays the photo's cast shadows on the frame's is the move), and in her own pose the floor is the
    photo's."""
    rgb, pose, mask, truth, animator = woman
    tall = float(np.ptp(pose.xy[0][pose.conf[0] > 0.1][:, 1]))
    move = round(0.2 * tall)
    knees = float(pose.xy[0, [9, 12], 1].max())
    still = animator.step(pose)
    floor = (np.arange(rgb.shape[0])[:, None] > knees) & (animator.alpha < 0.05)
    assert np.abs(_grey(still) - _grey(rgb))[floor].mean() < 2.0  # the shadow is multiplied back in place
    before = _floor_darkness(still, animator.alpha, knees)
    moved = dataclasses.replace(pose, xy=pose.xy + np.float32([move, 0]))
    after = _floor_darkness(animator.step(moved), animator.alpha, knees)
    width = rgb.shape[1]
    overlap = [float((after[:, s:] * before[:, : width - s]).sum()) for s in range(2 * move)]
    shift = int(np.argmax(overlap))  # how far right the floor's darkness best matches the photo's
    assert abs(shift - move) < 0.2 * move, (shift, move)  # main: 0 (the shadow stays)


@pytest.mark.parametrize("name", ["tfjs_pose.jpg", "animatex_ty_woman.jpg", "animateanyone_anyone-3.png",
                                  "animateanyone_anyone-11.png"])
def test_no_shadow_where_the_photo_has_none(shared_data: Path, name: str) -> None:
    """The beach (textured), the night street (busy), the studio walls whose shadow stands on the wall
    beside the person and whose floor darkens along the frame's lower edge: no floor shadow worth moving
    (none, or nowhere darker than 0.95)."""
    rgb, pose, mask = _photo(shared_data, name, SIDE)
    soft = np.maximum(mask, refine_alpha(rgb, mask))
    found = FloorShadow.find(rgb, soft, clean_plate(rgb, soft), pose)
    assert found is None or np.exp(found.share.sum(0)).min() > 0.95


def test_no_outline_of_her_old_stance(shared_data: Path) -> None:
    """Her knees and ankles swung right while her torso stays: nothing faint is drawn apart from her (a
    pixel over 2% covered, 3 pixels or more from any over half covered). The soft edges of her thighs were
    the torso's by colour and stayed behind as thin dark marks (main: 9 and 13 such pixels)."""
    from posevid.rig import Rig

    rgb, pose, mask = _photo(shared_data, "tfexamples_image1.png", SIDE)
    rig = Rig.build(rgb, pose, mask)
    tall = float(np.ptp(pose.xy[0][pose.conf[0] > 0.1][:, 1]))
    for swing in (0.05, 0.1):
        xy = pose.xy.copy()
        xy[0, [9, 10, 12, 13], 0] += swing * tall  # both knees and ankles
        _, alpha = rig.render(dataclasses.replace(pose, xy=xy))
        near = cv2.dilate((alpha > 0.5).astype(np.uint8), np.ones((7, 7), np.uint8)).astype(bool)
        assert ((alpha > 0.02) & ~near).sum() == 0, swing
