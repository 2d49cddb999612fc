"""Pose operations on real keypoint sequences: body size, boxes, retargeting, smoothing, gap filling."""

from __future__ import annotations

import csv
import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from conftest import add_hands_and_face
from posevid.errors import PosevidError
from posevid.posefiles import COCO17_NAMES
from posevid.poses import (
    Poses,
    SequenceCheck,
    bbox,
    body_height,
    check_sequence,
    fill_gaps,
    foreshortening,
    head_offset,
    head_yaw,
    retarget,
    smooth,
)
from posevid.skeleton import DRAWN_LIMBS, joint_values_to_coco18, to_coco18


def squats(shared_data: Path) -> Poses:
    """The BlazePose reference keypoints of the squats clip (65 frames, 720x1280, 5 fps) as COCO-18."""
    ref = np.array(json.loads((shared_data / "videos/tfjs_pose_squats.full.json").read_text()))[..., :2]
    xy, conf = to_coco18(ref, np.ones(ref.shape[:2]), "blazepose33")
    return Poses(xy, conf, 720, 1280, 5.0)


def dancer(shared_data: Path) -> Poses:
    """The MoveNet reference keypoints of the dancing clip (120 frames, 576x576, 30 fps) as COCO-18."""
    frames = json.loads((shared_data / "videos/tfjs_pose_1.json").read_text())
    kp = np.array([[[f[n]["x"], f[n]["y"]] for n in COCO17_NAMES] for f in frames], np.float32)
    xy, conf = to_coco18(kp, np.ones(kp.shape[:2]), "coco17")
    return Poses(xy, conf, 576, 576, 30.0)


def photo_truth(shared_data: Path, row: int) -> Poses:
    """Ground-truth pose of tfexamples_image1.png (row 0, 384x640) or image2.jpeg (row 1, 399x640)."""
    with open(shared_data / "images/tfexamples_pose_landmark_truth.csv") as f:
        values = list(csv.reader(f))[1 + row]
    xy, conf = to_coco18(np.array(values, np.float32).reshape(17, 2), np.ones(17), "coco17")
    return Poses(xy, conf, (384, 399)[row], 640)


def test_body_height_ignores_bending_but_box_does_not(shared_data: Path) -> None:
    poses = dancer(shared_data)  # arm raises, claps, knee lifts
    heights = body_height(poses)
    box = bbox(poses)
    box_h = box[:, 3] - box[:, 1]
    assert heights.shape == (120,) and (heights > 0).all()
    assert heights.std() / heights.mean() < 0.04
    assert box_h.std() / box_h.mean() > 0.06


def test_retarget_sizes_by_the_median_body(shared_data: Path) -> None:
    # animate.py streams one frame at a time as [reference, reference, current]: the size must be the reference's.
    driving, source = squats(shared_data), photo_truth(shared_data, 0)
    standing, squatting = driving[0], driving[int(np.argmin(body_height(driving)))]
    alone = retarget(squatting, source, "absolute")
    streamed = retarget(Poses.concat([standing, standing, squatting]), source, "absolute")[2]
    ratio = body_height(source)[0] / body_height(standing)[0]
    np.testing.assert_allclose(body_height(streamed), ratio * body_height(squatting), rtol=1e-4)
    assert body_height(streamed)[0] < 0.85 * body_height(alone)[0]


def test_body_height_makes_up_missing_legs(shared_data: Path) -> None:
    full = photo_truth(shared_data, 0)
    nose_to_ankles = (full.xy[0, 10, 1] + full.xy[0, 13, 1]) / 2 - full.xy[0, 0, 1]  # she stands straight
    assert abs(body_height(full)[0] / nose_to_ankles - 1) < 0.1
    upper = full.copy()
    upper.conf[0, [9, 10, 12, 13]] = 0
    assert abs(body_height(upper)[0] / body_height(full)[0] - 1) < 0.2
    assert body_height(Poses.empty(2, 64, 64)).tolist() == [0, 0]


def test_bbox_of_visible_joints() -> None:
    xy = np.zeros((2, 18, 2), np.float32)
    conf = np.zeros((2, 18), np.float32)
    xy[0, :3] = [[10, 20], [30, 5], [300, 40]]
    conf[0, :3] = 1
    xy[0, 5] = [-500, -500]  # invisible: ignored
    assert bbox(Poses(xy, conf, 400, 400)).tolist() == [[10, 5, 300, 40], [0, 0, 0, 0]]


def test_retarget_relative_starts_at_the_source_and_scales_motion(shared_data: Path) -> None:
    driving, source = squats(shared_data), photo_truth(shared_data, 0)
    out = retarget(driving, source, "relative")
    assert (len(out), out.width, out.height, out.fps) == (65, 384, 640, 5.0)
    np.testing.assert_allclose(out.xy[0], source.xy[0], atol=1e-3)
    assert (out.conf > 0).all()
    scale = body_height(source)[0] / np.median(body_height(driving))
    np.testing.assert_allclose(out.xy - out.xy[:1], scale * (driving.xy - driving.xy[:1]), atol=1e-2)
    # The same motion filmed twice as large gives the same result: motion is scaled by body size.
    big = driving.rescale(1440, 2560)
    np.testing.assert_allclose(retarget(big, source, "relative").xy, out.xy, atol=1e-2)


@pytest.mark.parametrize("mode", ["pose", "bones", "relative", "absolute"])
def test_retarget_never_invents_joints_the_photo_does_not_show(shared_data: Path, mode: str) -> None:
    """A half-body photo: the ankles are not in it, a knee lies below its edge. Every mode keeps them
    where the photo has them (the knee) or missing (the ankles), and moves the rest."""
    driving, source = squats(shared_data), photo_truth(shared_data, 0)
    source.conf[0, [10, 13]] = 0
    source.xy[0, [10, 13]] = 0
    source.xy[0, 12, 1] = source.height + 5  # below the photo's edge
    out = retarget(driving, source, mode)
    assert (out.conf[:, [10, 13]] == 0).all()
    np.testing.assert_allclose(out.xy[:, 12], np.repeat(source.xy[:, 12], len(out), 0))
    moved = np.linalg.norm(out.xy[:, 4] - source.xy[0, 4], axis=-1)
    assert moved.max() > 0.05 * source.height  # the wrist follows the squats


def test_retarget_pose_takes_the_driving_directions_and_the_photo_lengths(shared_data: Path) -> None:
    """The dancer drives the man of image2, whose arms are folded: with the default mode his arms go where
    hers go (directions), keep his own lengths, and he stays where he stands in the photo."""
    driving, source = dancer(shared_data), photo_truth(shared_data, 1)
    out = retarget(driving, source)
    assert (out.conf > 0).all()
    d, o, s = _bones(driving), _bones(out), _bones(source)[0]
    length = lambda v: np.linalg.norm(v, axis=-1)  # noqa: E731
    share = foreshortening(driving.xy, driving.conf, 0)
    np.testing.assert_allclose(length(o), length(s) * share, rtol=1e-4, atol=1e-3)
    assert (share <= 1).all() and np.median(share) > 0.9  # a dancer facing the camera: little foreshortening
    body = [i for i, bone in enumerate(DRAWN_LIMBS) if bone not in {(0, 14), (14, 16), (0, 15), (15, 17)}]
    cos = (o * d).sum(-1) / (length(o) * length(d))
    assert cos[:, body].min() > 1 - 1e-5  # every body bone points where the driving bone points
    # The face is rigid: its shape is the photo's, turned as the neck-nose bone turns.
    turn = lambda v, k: np.angle(np.exp(1j * (np.arctan2(v[..., k, 1], v[..., k, 0]))))  # noqa: E731
    head = DRAWN_LIMBS.index((1, 0))
    for k in set(range(len(DRAWN_LIMBS))) - set(body):
        np.testing.assert_allclose(np.angle(np.exp(1j * (turn(o, k) - turn(s[None], k) - turn(o, head)
                                                          + turn(s[None], head)))), 0, atol=1e-4)
    np.testing.assert_allclose(out.xy[0, 1, 0], source.xy[0, 1, 0], atol=1e-3)  # the neck starts above the photo's
    np.testing.assert_allclose(out.xy[0, [10, 13], 1].max(), source.xy[0, [10, 13], 1].max(), atol=1e-3)  # on its floor
    # bones mode keeps the folded arms at the reference frame; pose mode takes the dancer's (raised) arms.
    forearm = lambda v: v[:, 3] / np.linalg.norm(v[:, 3], axis=-1, keepdims=True)  # noqa: E731  right elbow-wrist
    bones = _bones(retarget(driving, source, "bones"))
    assert (forearm(bones)[0] * forearm(d)[0]).sum() < 0.5 < (forearm(o)[0] * forearm(d)[0]).sum()


def _in_profile(source: Poses) -> Poses:
    """``source`` (one frame) with its face turned to a profile looking to the image's left: the nose
    forward of the neck at 45 degrees, the eyes beside it, both ears behind it close together."""
    xy = source.xy.copy()
    neck = xy[0, 1]
    length = float(np.linalg.norm(xy[0, 0] - neck))
    place = {0: (-0.71, -0.71), 14: (-0.62, -0.85), 15: (-0.55, -0.86), 16: (-0.15, -0.9), 17: (-0.05, -0.9)}
    for j, (dx, dy) in place.items():
        xy[0, j] = neck + length * np.array([dx, dy], np.float32)
    return dataclasses.replace(source, xy=xy)


def _head_angle(poses: Poses) -> np.ndarray:
    """(T,) radians of the neck -> nose bone from the mid-hip -> neck axis."""
    head = poses.xy[:, 0] - poses.xy[:, 1]
    up = poses.xy[:, 1] - poses.xy[:, [8, 11]].mean(1)
    return np.angle(np.exp(1j * (np.arctan2(head[:, 1], head[:, 0]) - np.arctan2(up[:, 1], up[:, 0]))))


def test_retarget_pose_keeps_a_profile_head_on_its_torso(shared_data: Path) -> None:
    """A face in profile has its nose forward of the neck; a frontal driver's nose is right above its neck,
    so copying the neck-nose direction tipped the profile's head back by about 45 degrees in every frame
    (the yoga photo driven by the frontal dancers). Seen from different sides, the head now sits on the
    torso as in the photo at the reference frame and turns as the driver's head turns from there on; a
    frontal photo still takes the driver's direction."""
    driving, frontal = dancer(shared_data), photo_truth(shared_data, 1)
    profile = _in_profile(frontal)
    assert abs(head_yaw(frontal.xy[0], frontal.conf[0])) < 20 and abs(head_yaw(driving.xy[0], driving.conf[0])) < 20
    assert head_yaw(profile.xy[0], profile.conf[0]) < -60
    assert head_offset(frontal.xy[0], frontal.conf[0], driving.xy[0], driving.conf[0]) == 0.0
    out = retarget(driving, profile)
    np.testing.assert_allclose(_head_angle(out)[0], _head_angle(profile)[0], atol=0.02)  # as in the photo
    head = DRAWN_LIMBS.index((1, 0))
    turn = np.angle(np.exp(1j * (np.arctan2(_bones(out)[:, head, 1], _bones(out)[:, head, 0])
                                 - np.arctan2(_bones(driving)[:, head, 1], _bones(driving)[:, head, 0]))))
    np.testing.assert_allclose(turn, turn[0], atol=1e-4)  # turned as the driver's head turns
    assert abs(turn[0]) > np.radians(30)
    frontal_out = retarget(driving, frontal)
    np.testing.assert_allclose(_head_angle(frontal_out), _head_angle(driving), atol=0.05)


def test_retarget_pose_stands_on_the_photos_floor(shared_data: Path) -> None:
    """A photo of a crouching person (the squats clip's deepest squat) driven by a standing dancer: the
    standing result is lifted so that its lower ankle is on the photo's, not hung below the photo's floor
    from the crouch's low neck; a photo whose ankles are outside it is not moved."""
    crouching = squats(shared_data)
    source = crouching[int(np.argmin(body_height(crouching)))]
    driving = dancer(shared_data)
    out = retarget(driving, source)
    ankles = [10, 13]
    np.testing.assert_allclose(out.xy[0, ankles, 1].max(), source.xy[0, ankles, 1].max(), atol=1e-3)
    neck_drop = out.xy[0, 1, 1] - source.xy[0, 1, 1]
    assert neck_drop < -0.1 * body_height(source)[0]  # lifted: the neck hangs from the crouch no more
    half = source.copy()
    half.height = int(source.xy[0, ankles, 1].min()) - 1  # the ankles below the photo's edge
    kept = retarget(driving, half)
    assert (kept.xy[:, ankles] == half.xy[0, ankles]).all()  # still, and nothing moved to stand on them
    np.testing.assert_allclose(kept.xy[0, 1], half.xy[0, 1], atol=1e-3)


def test_retarget_pose_shortens_the_thighs_of_a_crouch(shared_data: Path) -> None:
    """The squatting driver's thighs point at the camera: the photo's thighs shrink as hers do in 2D (the
    same when streamed frame by frame), and stand at full length when she stands."""
    driving, source = squats(shared_data), photo_truth(shared_data, 0)
    out = retarget(driving, source)
    thighs = [DRAWN_LIMBS.index((8, 9)), DRAWN_LIMBS.index((11, 12))]
    d, o, s = (np.linalg.norm(_bones(p)[:, thighs], axis=-1) for p in (driving, out, source))
    crouch = int(np.argmin(d.sum(1)))
    assert (d[crouch] < 0.7 * d[0]).all()  # the driver's 2D thighs at the deepest squat
    np.testing.assert_allclose(o[0], s[0], rtol=1e-4)  # standing: the photo's own thighs
    assert (o[crouch] < 0.8 * s[0]).all()
    assert np.allclose(o[crouch] / s[0], d[crouch] / d[0], atol=0.1)
    streamed = retarget(Poses.concat([driving[0], driving[0], driving[crouch]]), source)[2]  # as animate streams
    np.testing.assert_allclose(np.linalg.norm(_bones(streamed)[0, thighs], axis=-1), o[crouch], rtol=1e-4)


def _bones(poses: Poses) -> np.ndarray:
    """(T, 17, 2) bone vectors (child - parent) of DRAWN_LIMBS."""
    return np.stack([poses.xy[:, c] - poses.xy[:, p] for p, c in DRAWN_LIMBS], 1)


def test_retarget_bones_keeps_the_source_proportions(shared_data: Path) -> None:
    """The dancer (arms raised, knees lifted) drives the man of image2 (arms folded in front of him)."""
    driving, source = dancer(shared_data), photo_truth(shared_data, 1)
    out = retarget(driving, source, "bones")
    np.testing.assert_allclose(out.xy[0], source.xy[0], atol=1e-3)
    assert (out.conf > 0).all()
    d, o, s = _bones(driving), _bones(out), _bones(source)[0]
    length = lambda v: np.linalg.norm(v, axis=-1)  # noqa: E731
    angle = lambda v: np.arctan2(v[..., 1], v[..., 0])  # noqa: E731
    stretch = np.minimum(length(d) / length(d[:1]), 1.5)
    np.testing.assert_allclose(length(o), length(s) * stretch, rtol=1e-3, atol=1e-3)
    turn = np.angle(np.exp(1j * ((angle(o) - angle(s)) - (angle(d) - angle(d[:1])))))
    assert np.abs(turn).max() < 1e-3  # every bone turns as its driving bone does
    # Per-joint displacements (relative mode) do not keep the limbs: forearms, shins change length.
    rel = _bones(retarget(driving, source, "relative"))
    assert np.abs(length(rel) / length(s) - stretch).max() > 0.5


def test_retarget_absolute_matches_body_height_and_position(shared_data: Path) -> None:
    driving, source = dancer(shared_data), photo_truth(shared_data, 1)
    out = retarget(driving, source, "absolute")
    assert (out.width, out.height, out.fps) == (399, 640, 30.0)
    ratio = np.median(body_height(out)) / body_height(source)[0]
    assert abs(ratio - 1) < 0.02
    hips = (out.xy[0, 8] + out.xy[0, 11]) / 2
    np.testing.assert_allclose(hips, (source.xy[0, 8] + source.xy[0, 11]) / 2, atol=0.5)
    # The pose shape is the driving one: limb angles are kept.
    d = driving.xy[:, 4] - driving.xy[:, 3]
    o = out.xy[:, 4] - out.xy[:, 3]
    np.testing.assert_allclose(np.arctan2(o[:, 1], o[:, 0]), np.arctan2(d[:, 1], d[:, 0]), atol=1e-3)


def test_retarget_without_a_person_is_a_user_error(shared_data: Path) -> None:
    with pytest.raises(PosevidError, match="no person"):
        retarget(Poses.empty(5, 64, 64), photo_truth(shared_data, 0))
    with pytest.raises(ValueError):
        retarget(squats(shared_data), photo_truth(shared_data, 0), "sideways")


@pytest.mark.parametrize("method", ["one_euro", "savgol"])
def test_smoothing_reduces_jitter_on_a_real_sequence(shared_data: Path, method: str) -> None:
    clean = dancer(shared_data)
    noisy = clean.copy()
    noisy.xy += np.random.default_rng(0).normal(0, 3.0, noisy.xy.shape).astype(np.float32)
    out = smooth(noisy, method)

    def err(p: Poses) -> float:
        return float(np.linalg.norm(p.xy - clean.xy, axis=-1).mean())

    def jitter(p: Poses) -> float:
        return float(np.abs(np.diff(p.xy, 2, axis=0)).mean())

    assert err(out) < 0.75 * err(noisy)
    assert jitter(out) < 0.5 * jitter(noisy)
    # Real motion is kept: smoothing the clean sequence moves joints by far less than the noise.
    assert err(smooth(clean, method)) < 0.5 * err(noisy)


def test_smoothing_keeps_missing_joints_missing(shared_data: Path) -> None:
    poses = dancer(shared_data)
    poses.conf[30:40, 4] = 0
    poses.xy[30:40, 4] = 0
    for method in ("one_euro", "savgol"):
        out = smooth(poses, method)
        assert (out.conf[30:40, 4] == 0).all() and (out.xy[30:40, 4] == 0).all()
        assert np.isfinite(out.xy).all()


def test_fill_gaps_fills_short_gaps_only(shared_data: Path) -> None:
    truth = dancer(shared_data)
    poses = truth.copy()
    poses.conf[50:53, 4] = 0  # 3 frames: filled
    poses.conf[60:70, 7] = 0  # 10 frames: too long
    poses.conf[:2, 10] = 0  # at the start: nothing to interpolate from
    poses.xy[poses.conf == 0] = 0
    out = fill_gaps(poses, max_gap=5)
    assert (out.conf[50:53, 4] == 1).all()
    assert np.linalg.norm(out.xy[50:53, 4] - truth.xy[50:53, 4], axis=-1).max() < 15
    assert (out.conf[60:70, 7] == 0).all() and (out.xy[60:70, 7] == 0).all()
    assert (out.conf[:2, 10] == 0).all()
    np.testing.assert_array_equal(out.xy[poses.conf > 0], poses.xy[poses.conf > 0])


def squats_whole(shared_data: Path) -> Poses:
    """The squats clip's BlazePose reference with its real depth (z, pixels) and built hands and face."""
    ref = np.array(json.loads((shared_data / "videos/tfjs_pose_squats.full.json").read_text()))
    body = squats(shared_data)
    z = joint_values_to_coco18(ref[..., 2:], "blazepose33")[..., 0]
    return add_hands_and_face(dataclasses.replace(body, z=z))


def test_depth_hands_and_face_follow_every_operation(shared_data: Path) -> None:
    poses = squats_whole(shared_data)
    assert poses.has_hands and poses.has_face and poses.z.shape == (65, 18)
    # Real BlazePose depth: the hips are the origin, and in frame 0 the left shoulder is the farther one.
    assert abs(poses.z[0, 8] + poses.z[0, 11]) < 1 and poses.z[0, 5] > poses.z[0, 2]
    part = poses[10:20]
    assert part.hand_xy.shape == (10, 2, 21, 2) and part.face_conf.shape == (10, 68) and part.z.shape == (10, 18)
    np.testing.assert_array_equal(poses[3].face_xy[0], poses.face_xy[3])
    assert [len(p) for p in poses[:3]] == [1, 1, 1] and next(iter(poses)).has_hands
    # Joining with body-only poses: their hands and face are missing (zeros), their depth 0.
    joined = Poses.concat([poses[:2], squats(shared_data)[:3]])
    assert len(joined) == 5 and (joined.hand_conf[2:] == 0).all() and (joined.z[2:] == 0).all()
    np.testing.assert_array_equal(joined.face_xy[:2], poses.face_xy[:2])
    big = poses.rescale(1440, 1920)  # x2 across, x1.5 down
    np.testing.assert_allclose(big.hand_xy, poses.hand_xy * np.array([2, 1.5], np.float32), rtol=1e-6)
    np.testing.assert_allclose(big.z, poses.z * np.sqrt(3), rtol=1e-5)
    crop = poses.crop(100, 200, 400, 400, 200, 200)
    vis = poses.face_conf > 0
    np.testing.assert_allclose(crop.face_xy[vis], (poses.face_xy[vis] - [100, 200]) / 2, rtol=1e-5)
    np.testing.assert_allclose(crop.z, poses.z / 2, rtol=1e-6)
    assert (crop.hand_xy[poses.hand_conf <= 0] == 0).all()
    copy = poses.copy()
    copy.hand_xy += 1
    assert not np.shares_memory(copy.hand_xy, poses.hand_xy)
    plain = poses.body_only()
    assert plain.z is None and not plain.has_hands and not plain.has_face


def test_flip_swaps_the_hands_and_mirrors_the_face(shared_data: Path) -> None:
    poses = squats_whole(shared_data)
    flipped = poses.flip()
    back = flipped.flip()
    for name in ("xy", "conf", "z", "hand_xy", "hand_conf", "face_xy", "face_conf"):
        np.testing.assert_allclose(getattr(back, name), getattr(poses, name), atol=1e-4)
    # The person's left hand becomes their right hand, mirrored.
    seen = poses.hand_conf[:, 0] > 0
    np.testing.assert_array_equal(flipped.hand_conf[:, 1], poses.hand_conf[:, 0])
    np.testing.assert_allclose(flipped.hand_xy[:, 1][seen][:, 0], 719 - poses.hand_xy[:, 0][seen][:, 0])
    np.testing.assert_allclose(flipped.z[:, 5], poses.z[:, 2])  # left shoulder <- right shoulder
    # A left-right symmetric face mirrors onto itself (about its nose): every landmark keeps its role.
    nose = poses.xy[:, 0]
    mirrored_nose = flipped.xy[:, 0]
    np.testing.assert_allclose(flipped.face_xy - mirrored_nose[:, None], poses.face_xy - nose[:, None], atol=1e-3)
    right_eye = poses.face_xy[:, 36:42].mean(1)
    assert (right_eye[:, 0] < nose[:, 0]).all()  # the person's right eye is on the image's left
    assert (flipped.face_xy[:, 36:42].mean(1)[:, 0] < mirrored_nose[:, 0]).all()


def test_bad_point_groups_are_refused(shared_data: Path) -> None:
    poses = squats_whole(shared_data)
    with pytest.raises(ValueError, match="hand_conf"):
        Poses(poses.xy, poses.conf, 720, 1280, hand_xy=poses.hand_xy)
    with pytest.raises(ValueError, match="face"):
        Poses(poses.xy, poses.conf, 720, 1280, face_xy=poses.face_xy[:, :60], face_conf=poses.face_conf[:, :60])
    with pytest.raises(ValueError, match="z"):
        Poses(poses.xy, poses.conf, 720, 1280, z=poses.z[:3])
    bad = poses.z.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        Poses(poses.xy, poses.conf, 720, 1280, z=bad)


@pytest.mark.parametrize("mode", ["bones", "relative", "absolute"])
def test_retarget_carries_depth_hands_and_face(shared_data: Path, mode: str) -> None:
    driving, source = squats_whole(shared_data), photo_truth(shared_data, 0)
    out = retarget(driving, source, mode)
    scale = body_height(source)[0] / np.median(body_height(driving))
    np.testing.assert_allclose(out.z, scale * driving.z, rtol=1e-4, atol=1e-3)
    # Each hand keeps the driving hand's shape, scaled, and hangs on the result's wrist.
    for side, wrist in ((0, 7), (1, 4)):
        seen = driving.hand_conf[:, side, 0] > 0
        np.testing.assert_allclose(out.hand_xy[seen, side, 0], out.xy[seen, wrist], atol=0.05)
        shape = out.hand_xy[seen, side] - out.hand_xy[seen, side, :1]
        np.testing.assert_allclose(shape, scale * (driving.hand_xy[seen, side] - driving.hand_xy[seen, side, :1]),
                                   atol=0.05)
    assert (out.hand_conf[1, 1] == 0).all()
    offsets = out.face_xy - out.face_xy[:, 30:31]
    np.testing.assert_allclose(offsets, scale * (driving.face_xy - driving.face_xy[:, 30:31]), atol=0.05)
    assert not retarget(squats(shared_data), source, mode).has_hands


def test_sequence_check_passes_real_motion_and_stops_garbage(shared_data: Path) -> None:
    poses = dancer(shared_data)
    check_sequence(poses, "dance.mp4")
    sparse = poses.copy()
    sparse.conf[::3] = 0  # a person in 2 of 3 frames: still fine
    check_sequence(sparse, "dance.mp4")
    rare = poses.copy()
    rare.conf[1:] = 0
    with pytest.raises(PosevidError, match=r"dance.mp4: a person was found in only 1 of 120 frames"):
        check_sequence(rare, "dance.mp4")
    # Streaming with a known length stops as soon as half the frames cannot have a person any more.
    check = SequenceCheck("dance.mp4", 120)
    with pytest.raises(PosevidError, match="only 0 of the first 61 of its 120 frames"):
        for t in range(120):
            check(rare[t + 1] if t < 119 else rare[0])
    assert check.seen == 61
    jumpy = poses.copy()
    centre = jumpy.xy[1::2, 1:2]
    jumpy.xy[1::2] = centre + 1.6 * (jumpy.xy[1::2] - centre)  # every other frame 60% larger
    with pytest.raises(PosevidError, match="the poses jump: .* between 119 of 119 pairs"):
        check_sequence(jumpy, "jumpy.npz")


def test_pose_estimation_on_a_skeleton_render_is_stopped(shared_data: Path) -> None:
    from posevid.estimate import estimate_poses
    from posevid.video import open_video

    path = shared_data / "pose_renders/animateanyone_anyone-video-2_kps.mp4"
    with open_video(path) as reader:
        frames = np.stack([rgb for _, rgb in zip(range(12), reader)])
    with pytest.raises(PosevidError, match="a person was found in only"):
        check_sequence(estimate_poses(frames), str(path))
