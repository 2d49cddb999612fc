"""The photo's frame, its person found and checked, and pasting a square crop back (``posevid.photo``)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from posevid.errors import PosevidError
from posevid.estimate import PoseEstimator
from posevid.photo import MIN_HEIGHT, check_person, find_person, frame_size, paste
from posevid.poses import Poses, body_height
from posevid.video import read_image


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
