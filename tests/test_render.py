"""Rendering: heatmaps, stick figures, pose masks and part masks on real keypoints (tfjs pose_1 clip)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from posevid import render, skeleton

SIZE = 128
COCO17 = ("nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
          "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee",
          "right_knee", "left_ankle", "right_ankle")


def load_clip_poses(shared_data: Path, size: int = SIZE) -> tuple[np.ndarray, np.ndarray]:
    """COCO-18 keypoints (T, 18, 2) of the 576x576 tfjs pose_1 clip, scaled to ``size`` x ``size``."""
    frames = json.loads((shared_data / "videos" / "tfjs_pose_1.json").read_text())
    xy = np.array([[[f[n]["x"], f[n]["y"]] for n in COCO17] for f in frames], np.float32)
    xy, conf = skeleton.to_coco18(xy, np.ones(xy.shape[:2], np.float32), "coco17")
    return xy * (size / 576), conf


@pytest.fixture(scope="module")
def clip(shared_data: Path) -> tuple[np.ndarray, np.ndarray]:
    return load_clip_poses(shared_data)


def test_disk_heatmaps_peak_at_joints_within_radius(clip):
    xy, conf = clip[0][0].copy(), clip[1][0].copy()
    conf[4] = 0  # right wrist missing
    maps = render.heatmaps(xy, conf, SIZE, SIZE, radius=4.0)
    assert maps.shape == (18, SIZE, SIZE) and maps.dtype == torch.float32
    ys, xs = torch.meshgrid(torch.arange(SIZE), torch.arange(SIZE), indexing="ij")
    for j in range(18):
        if j == 4:
            assert maps[j].sum() == 0
            continue
        x, y = xy[j]
        assert maps[j, int(round(y)), int(round(x))] == 1
        d2 = (xs - x) ** 2 + (ys - y) ** 2
        assert torch.equal(maps[j] > 0, d2 <= 16)
        assert 40 <= maps[j].sum() <= 60  # about pi * 4^2 pixels


def test_gaussian_heatmaps_batched_and_numpy_or_torch(clip):
    xy, conf = clip[0][:6].reshape(2, 3, 18, 2), clip[1][:6].reshape(2, 3, 18)
    maps = render.heatmaps(xy, conf, SIZE, SIZE, kind="gaussian", sigma=3.0)
    same = render.heatmaps(torch.from_numpy(xy), torch.from_numpy(conf), SIZE, SIZE, kind="gaussian", sigma=3.0)
    assert maps.shape == (2, 3, 18, SIZE, SIZE) and torch.equal(maps, same)
    peak = maps[1, 2, 0].flatten().argmax()
    assert (int(peak % SIZE), int(peak // SIZE)) == tuple(np.round(xy[1, 2, 0]).astype(int))
    assert 0.9 < float(maps[1, 2, 0].max()) <= 1.0
    with pytest.raises(ValueError):
        render.heatmaps(xy, conf, SIZE, SIZE, kind="square")


def test_stick_figure_draws_limbs_in_openpose_colours(clip):
    xy, conf = clip[0][0], clip[1][0].copy()
    conf[7] = 0  # left wrist missing: the left lower arm is not drawn
    img = render.stick_figure(xy, conf, SIZE, SIZE, thickness=2)
    assert img.shape == (SIZE, SIZE, 3) and img.dtype == np.uint8
    for k, (a, b) in enumerate(skeleton.DRAWN_LIMBS):
        mid = np.round((xy[a] + xy[b]) / 2).astype(int)
        pixel = img[mid[1], mid[0]].astype(int)
        if a == 7 or b == 7:
            assert pixel.sum() == 0
        elif k in (2, 5, 7, 10):  # long arm/leg bones: the midpoint is far from any joint dot
            assert np.abs(pixel - skeleton.COLORS[k]).max() <= 60, (k, pixel)
    assert img[:5].sum() == 0  # nothing drawn far from the person


def test_draw_poses_on_keeps_input(clip):
    base = np.full((SIZE, SIZE, 3), 40, np.uint8)
    out = render.draw_poses_on(base, clip[0][:2], clip[1][:2])
    assert (base == 40).all() and (out != 40).any(axis=-1).sum() > 100


def test_pose_mask_covers_visible_joints(clip):
    for t in (0, 60):
        mask = render.pose_mask(clip[0][t], clip[1][t], SIZE, SIZE)
        assert mask.shape == (SIZE, SIZE) and mask.dtype == np.float32
        pts = np.round(clip[0][t]).astype(int)
        assert (mask[pts[:, 1], pts[:, 0]] == 1).all()
        assert 0.02 < mask.mean() < 0.3
        assert mask[0, 0] == 0 and mask[-1, -1] == 0


def test_part_masks_cover_limbs_and_stay_in_person_mask(clip):
    xy, conf = clip[0][60], clip[1][60]
    masks = render.part_masks(xy, conf, SIZE, SIZE)
    assert masks.shape == (10, SIZE, SIZE) and masks.dtype == np.float32
    for p, name in enumerate(skeleton.PART_NAMES):
        joints = skeleton.BODY_PARTS[name]
        centre = np.round(xy[list(joints)].mean(0)).astype(int)
        assert masks[p, centre[1], centre[0]] == 1, name
        assert 0 < masks[p].mean() < 0.1, name
    person = render.pose_mask(xy, conf, SIZE, SIZE)
    clipped = render.part_masks(xy, conf, SIZE, SIZE, person_mask=person)
    assert (clipped <= person[None]).all() and clipped.sum() > 0.8 * (masks * person).sum()
    lost = conf.copy()
    lost[[6, 7]] = 0  # left elbow and wrist missing: both left arm parts are empty
    masks_lost = render.part_masks(xy, lost, SIZE, SIZE)
    left = [skeleton.PART_NAMES.index(n) for n in ("left_upper_arm", "left_lower_arm")]
    assert masks_lost[left].sum() == 0 and masks_lost[skeleton.PART_NAMES.index("torso")].sum() > 0


def test_part_labels_priority_and_direct_drawing(clip):
    xy, conf = clip[0][0], clip[1][0]
    masks = render.part_masks(xy, conf, SIZE, SIZE)
    labels = render.part_labels(masks)
    assert labels.shape == (SIZE, SIZE) and labels.min() == 0 and labels.max() <= 10
    assert np.array_equal(labels, render.pose_part_labels(xy, conf, SIZE, SIZE))
    assert np.array_equal(labels > 0, masks.max(0) > 0)
    torso, arm = skeleton.PART_NAMES.index("torso"), skeleton.PART_NAMES.index("right_upper_arm")
    overlap = (masks[torso] > 0) & (masks[arm] > 0)
    assert overlap.any() and (labels[overlap] == arm + 1).all()
    assert torch.equal(render.part_labels(torch.from_numpy(masks)), torch.from_numpy(labels))


def test_body_scale_scales_with_the_pose(clip):
    xy, conf = clip[0][[0, 60]], clip[1][[0, 60]]
    s = render.body_scale(xy, conf)
    assert s.shape == (2,) and (s > 10).all() and (s < SIZE / 2).all()
    assert np.allclose(render.body_scale(xy * 2, conf), 2 * s)
    assert float(render.body_scale(xy[0], np.zeros(18))) == 0
    on_torch = render.body_scale(torch.from_numpy(xy), torch.from_numpy(conf))  # the same float32 arithmetic
    assert isinstance(s, np.ndarray) and torch.equal(on_torch, torch.from_numpy(s))


def test_openpose_style_with_hands_and_face(shared_data: Path):
    """The DWPose look at 512: wide limbs at 60% brightness, full-brightness joint dots, rainbow hand bones
    with blue dots near the wrists, white face dots around the nose."""
    from conftest import add_hands_and_face
    from posevid.poses import Poses

    xy, conf = load_clip_poses(shared_data, 512)
    poses = add_hands_and_face(Poses(xy[:2], conf[:2], 512, 512))
    img = render.pose_image(poses, 0)
    assert img.shape == (512, 512, 3) and img.dtype == np.uint8
    a, b = skeleton.DRAWN_LIMBS[7]  # right thigh
    mid = np.round((xy[0, a] + xy[0, b]) / 2).astype(int)
    assert np.abs(img[mid[1], mid[0]].astype(int) - 0.6 * np.array(skeleton.COLORS[7])).max() <= 3
    knee = np.round(xy[0, 9]).astype(int)
    assert tuple(img[knee[1], knee[0]]) == skeleton.COLORS[9]
    tip = np.round(poses.hand_xy[0, 0, 8]).astype(int)  # left index fingertip: a blue dot
    assert tuple(img[tip[1], tip[0]]) == render.HAND_DOT
    face = np.round(poses.face_xy[0, 30]).astype(int)
    assert tuple(img[face[1], face[0]]) == render.FACE_DOT
    colors = render.hand_colors()
    assert len(set(colors)) == 20 and colors[0] == (255, 0, 0)
    plain = render.pose_image(poses.body_only(), 0)
    assert (plain == render.FACE_DOT).all(-1).sum() == 0 and (img == render.FACE_DOT).all(-1).sum() > 100
    assert (render.pose_image(poses, 1) == render.HAND_DOT).all(-1).sum() < (img == render.HAND_DOT).all(-1).sum()
    with pytest.raises(ValueError):
        render.stick_figure(xy[0], conf[0], 64, 64, style="sketch")
