"""The photo's frame, its person found and checked, and pasting a square crop back (``posevid.photo``)."""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from posevid.errors import PosevidError
from posevid.estimate import PoseEstimator
from posevid.photo import MIN_HEIGHT, check_person, find_person, frame_size, given_pose, mask_for_pose, paste
from posevid.poses import Poses, body_height
from posevid.video import read_image

REPO = Path(__file__).resolve().parents[1]
# animatex_2.jpeg's creature, its pose given by hand as a user would (BlazePose finds nobody in it)
DRAWN_POSE = REPO / "docs" / "gallery" / "poses" / "animatex_2.json"


def test_frame_size_keeps_the_aspect_and_even_sides() -> None:
    assert frame_size(399, 640) == (400, 640)
    assert frame_size(399, 640, size=256) == (160, 256)
    assert frame_size(1000, 667, size=512) == (512, 342)
    assert frame_size(1000, 667, out_width=300) == (300, 200)
    assert frame_size(1000, 667, out_height=300) == (450, 300)
    assert frame_size(1000, 667, out_width=256, out_height=256) == (256, 256)


def test_find_person_looks_in_crops_when_the_photo_gives_a_small_person(shared_data: Path) -> None:
    """On the whole photo BlazePose takes a reflection in the wet street for a person; in crops of it it
    finds the woman walking, who is much taller."""
    rgb = read_image(shared_data / "images" / "animatex_ty_woman.jpg")
    rgb = cv2.resize(rgb, (323, 512), interpolation=cv2.INTER_AREA)
    with PoseEstimator() as est:
        single, _ = est.image(rgb)
        pose, mask = find_person(est, rgb)
    assert body_height(pose)[0] > 2 * body_height(single)[0]
    assert body_height(pose)[0] > 0.5 * 512
    assert mask.shape == (512, 323) and (mask > 0.5).mean() > 0.1


def test_check_person_refuses_what_cannot_be_animated(shared_data: Path) -> None:
    rgb = read_image(shared_data / "images" / "animatex_2.jpeg")  # an illustrated creature, not a person
    with PoseEstimator() as est:
        nobody, _ = find_person(est, cv2.resize(rgb, (341, 512), interpolation=cv2.INTER_AREA))
    with pytest.raises(PosevidError, match="animatex_2.jpeg: no person found"):
        check_person("animatex_2.jpeg", nobody)

    xy = np.array([[50, 20], [50, 30], [44, 30], [42, 38], [42, 45], [56, 30], [58, 38], [58, 45], [46, 48],
                   [46, 60], [46, 72], [54, 48], [54, 60], [54, 72], [48, 18], [52, 18], [46, 19], [54, 19]],
                  np.float32)
    small = Poses(xy * 0.5, np.ones(18), 100, 100)
    with pytest.raises(PosevidError, match=f"too small .* at least {MIN_HEIGHT}"):
        check_person("p.jpg", small)
    full = Poses(xy * 2, np.ones(18), 200, 200)
    assert check_person("p.jpg", full) is None
    cut = Poses(xy * 2, np.ones(18), 200, 100)  # the frame ends at the hips: knees and ankles below it
    note = check_person("p.jpg", cut)
    assert note.startswith("p.jpg: the photo shows only part of the body") and "right knee" in note
    headless = Poses(xy * 2 - [0, 70], np.ones(18), 200, 200)  # shoulders above the frame
    with pytest.raises(PosevidError, match="cut by the frame"):
        check_person("p.jpg", headless)


def test_paste_feathers_only_inside_the_frame() -> None:
    frame = np.zeros((100, 120, 3), np.uint8)
    crop = np.full((32, 32, 3), 200, np.uint8)
    out = paste(frame, crop, (40, 20, 64))
    assert out[52, 72].tolist() == [200] * 3  # the middle of the box: the crop
    assert out[10, 10].tolist() == [0] * 3  # outside the box: the frame
    assert 0 < out[21, 72, 0] < 100  # near the box's top edge: faded
    edge = paste(frame, crop, (-10, 50, 64))  # the box leaves the frame at the left and the bottom
    assert edge[99, 0].tolist() == [200] * 3  # no fade where the box meets the frame's edge
    whole = paste(frame, crop, (-20, -20, 160))  # the box covers the whole frame
    assert (whole == 200).all()


def test_a_drawn_character_is_refused_in_one_line_or_animated_from_its_given_pose(
        shared_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    from posevid.cli import main
    from posevid.posefiles import write_poses

    driver = tmp_path / "driver.npz"
    write_poses(driver, Poses.concat([given_pose(DRAWN_POSE, 896, 1344)] * 2))
    photo = shared_data / "images" / "animatex_2.jpeg"
    monkeypatch.setattr(sys, "argv", ["posevid", "animate", str(photo), str(driver), "-o", str(tmp_path / "o.mp4"),
                                      "--size", "160"])
    with pytest.raises(SystemExit) as exit_info:
        main()
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("posevid: error:")]
    assert exit_info.value.code == 2 and len(errors) == 1, errors
    assert "animatex_2.jpeg: no person found in the photo" in errors[0] and "--photo-pose" in errors[0]
    assert not (tmp_path / "o.mp4").exists()
    monkeypatch.setattr(sys, "argv", [*sys.argv, "--photo-pose", str(DRAWN_POSE)])  # its pose given: animated
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 0 and "o.mp4: 2 frames, 106x160" in capsys.readouterr().out
    with PoseEstimator() as est:  # at its own size its detector takes the torch holder for a person, upside down
        nobody, _ = find_person(est, read_image(photo))
    assert body_height(nobody)[0] == 0


def test_a_given_pose_is_read_in_the_photos_pixels(tmp_path: Path) -> None:
    from posevid.posefiles import write_poses

    full = given_pose(DRAWN_POSE, 896, 1344)
    assert (full.width, full.height, len(full)) == (896, 1344, 1) and (full.conf == 1).all()
    np.testing.assert_allclose(full.xy[0, 1], [430, 640])  # the neck, as written
    half = given_pose(DRAWN_POSE, 448, 672)  # the canvas has the photo's aspect: scaled to it
    np.testing.assert_allclose(half.xy, full.xy / 2, atol=1e-4)
    plain = tmp_path / "plain.csv"  # a PG2 CSV has no canvas: read in the photo's pixels
    write_poses(plain, Poses(full.xy / 2, full.conf, 448, 672))
    np.testing.assert_allclose(given_pose(plain, 448, 672).xy, half.xy, atol=0.5)  # stored as integers
    with pytest.raises(PosevidError, match="plain.csv: its canvas is .* do not fit the 300x300 photo"):
        given_pose(plain, 300, 300)
    empty = tmp_path / "empty.npz"
    write_poses(empty, Poses.empty(1, 448, 672))
    with pytest.raises(PosevidError, match="empty.npz: holds no body joint"):
        given_pose(empty, 448, 672)


def test_a_drawn_character_is_animated_from_its_given_pose(shared_data: Path) -> None:
    """The illustrated creature of animatex_2.jpeg, its pose given by hand: its mask is the segmentation
    around that pose cut by colour (the body and limbs, not the forest floor under its feet nor the sky
    above its hat), and the warp moves its arm where the driver raises it."""
    from posevid.estimate import segment_person
    from posevid.pipeline import animate

    photo = shared_data / "images" / "animatex_2.jpeg"
    rgb = cv2.resize(read_image(photo), (224, 336), interpolation=cv2.INTER_AREA)
    pose = given_pose(DRAWN_POSE, 224, 336)
    mask = mask_for_pose(rgb, pose, segment_person(rgb))
    xy = np.round(pose.xy[0]).astype(int)
    body = [1, 2, 5, 8, 11, 9, 12]  # neck, shoulders, hips, knees
    assert (mask[xy[body, 1], xy[body, 0]] > 0.5).all()
    assert 0.08 < (mask > 0.5).mean() < 0.3
    assert (mask[300:] > 0.5).mean() < 0.02  # the forest floor below its feet (ankles at y 268-273)
    above = mask[:100] > 0.5  # the trees above its hat, beside the flame on it (x 80-149 from y 60)
    above[60:, 80:149] = False
    assert above.mean() < 0.02
    raised = pose.copy()
    raised.xy[0, 3] = raised.xy[0, 2] + [-30, -25]  # the right arm straight up and out
    raised.xy[0, 4] = raised.xy[0, 2] + [-45, -60]
    still, moved = list(animate(photo, Poses.concat([pose, raised]), size=336, photo_pose=DRAWN_POSE))
    assert still.shape == moved.shape == (336, 224, 3)
    assert np.abs(still.astype(int) - rgb).mean() < 8  # the driver holds the photo's pose
    forearm = np.zeros((336, 224), np.uint8)
    cv2.line(forearm, tuple(xy[3]), tuple(xy[4]), 1, 5)
    changed = np.abs(moved.astype(int) - still).max(2) > 40
    assert changed[forearm > 0].mean() > 0.5  # the forearm left its place


def test_a_drawn_characters_mask_leaves_the_ground_between_its_legs_and_takes_what_it_holds(
        shared_data: Path) -> None:
    """The creature of animatex_2.jpeg: the selfie segmentation fills the dark bushes between its front legs
    (below its knees), which its mask leaves to the plate, and misses the two pink torches it holds out,
    which its mask takes so they move with its arms (before: bushes 93% in the mask, torches 0%)."""
    from posevid.estimate import segment_person

    photo = shared_data / "images" / "animatex_2.jpeg"
    rgb = cv2.resize(read_image(photo), (224, 336), interpolation=cv2.INTER_AREA)
    mask = mask_for_pose(rgb, given_pose(DRAWN_POSE, 224, 336), segment_person(rgb)) > 0.5
    assert mask[250:268, 98:122].mean() < 0.1  # the bushes between its shins (knees at y 243-245)
    red, green, blue = (rgb[..., c].astype(int) for c in range(3))
    pink = (red > 170) & (blue > 170) & (green < red - 40)
    for x0, y0, x1, y1 in ((27, 140, 50, 175), (172, 92, 195, 145)):  # the torches' flames and cups
        assert pink[y0:y1, x0:x1].sum() > 100
        assert mask[y0:y1, x0:x1][pink[y0:y1, x0:x1]].mean() > 0.6


def test_a_drawn_characters_mask_takes_the_flame_on_its_head_and_its_torches_faint_rims(shared_data: Path) -> None:
    """The creature of animatex_2.jpeg wears a pink flame on its hat that the selfie segmentation misses (it
    stayed in the plate, a second flame where the hat was: 1% of its pink in the mask before) and holds
    torches whose thin outline curls lie under the contrast threshold over the lit mist (they stayed as a
    faint ghost: 83% of the right torch's pink before); its mask takes both, and not the sky above."""
    from posevid.estimate import segment_person

    photo = shared_data / "images" / "animatex_2.jpeg"
    rgb = cv2.resize(read_image(photo), (224, 336), interpolation=cv2.INTER_AREA)
    mask = mask_for_pose(rgb, given_pose(DRAWN_POSE, 224, 336), segment_person(rgb)) > 0.5
    red, green, blue = (rgb[..., c].astype(int) for c in range(3))
    pink = (red > 170) & (blue > 170) & (green < red - 40)
    flame = np.zeros_like(pink)
    flame[60:130, 80:149] = pink[60:130, 80:149]  # the flame on its hat (its tip at y 60, the nose at y 145)
    assert flame.sum() > 1000 and mask[flame].mean() > 0.9
    for x0, y0, x1, y1 in ((27, 140, 50, 175), (172, 92, 195, 145)):  # the torches' flames and cups
        assert mask[y0:y1, x0:x1][pink[y0:y1, x0:x1]].mean() > 0.93
    assert not mask[:55].any() and (mask > 0.5).mean() < 0.3  # the sky above the flame's tip
