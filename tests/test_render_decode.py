"""Skeleton renders back to keypoints: our own renders of real poses (both looks, lossless and through
an mp4), and the AnimateAnyone DWPose renders of ``shared/data/pose_renders``."""

from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path

import cv2
import numpy as np
import pytest

from posevid import hand_fit, render, render_decode
from posevid.poses import Poses, body_height
from posevid.render import pose_image
from posevid.render_decode import (
    HAND_HUE_STEP,
    HUE_TOLERANCE,
    SkeletonDecoder,
    decode_densepose_parts,
    decode_skeleton,
    densepose_parts,
    frame_kind,
    guess_driving_kind,
    hue_saturation_value,
    keypoints_from_parts,
)
from posevid.skeleton import DRAWN_LIMBS, JOINT
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
    # The body's joints are read before, and without, the hands (whose fits are tested below with the body's
    # PCK on their frames): drawn hands and face must not spoil them, and decoding the hands of all 30 frames
    # would cost 30 s more here.
    drawn = dancer if extras else dancer.body_only()
    decoder = SkeletonDecoder()  # the frames in order, as a video's
    decoded = Poses.concat([decoder(pose_image(drawn, t, style=style)) for t in range(len(drawn))])
    score = pck(decoded, dancer)
    print(f"PCK@0.05 {style} {'with' if extras else 'without'} hands and face: {score:.3f}")
    assert score >= 0.95
    assert (decoded.width, decoded.height) == (576, 576)


def hand_errors(decoded: Poses, truth: Poses) -> tuple[np.ndarray, np.ndarray]:
    """Per drawn hand point: error in body heights and in hand sizes (the drawn hand's longer side);
    infinite where the hand is not decoded."""
    drawn = truth.hand_conf[:, :, 0] > 0.1
    found = decoded.hand_conf[:, :, :1] > 0 if decoded.has_hands else np.zeros_like(truth.hand_conf[..., :1], bool)
    err = np.where(found, np.linalg.norm((decoded.hand_xy if decoded.has_hands else 0) - truth.hand_xy, axis=-1),
                   np.inf)
    size = np.ptp(truth.hand_xy, axis=2).max(-1)
    return (err / body_height(truth)[:, None, None])[drawn], (err / size[..., None])[drawn]


def test_dwpose_hands_are_fitted_under_their_dots(dancer: Poses, monkeypatch: pytest.MonkeyPatch) -> None:
    # Hands about 20 pixels across whose blue dots (radius 4.5) hide nearly every bone; frames in order, each
    # hand started from the previous frame's.
    frames = [t for t in range(len(dancer)) if (dancer.hand_conf[t, :, 0] > 0.1).any()][:10]
    truth = dancer[np.array(frames)]
    started = []
    fit = hand_fit.fit_hand
    monkeypatch.setattr(hand_fit, "fit_hand", lambda *a: started.append(a[4] is not None) or fit(*a))
    decoder = SkeletonDecoder(hands=True)
    decoded = Poses.concat([decoder(pose_image(truth, t)) for t in range(len(truth))])
    assert sum(started) >= len(started) // 2  # most hands start from the previous frame's
    assert pck(decoded, truth) >= 0.95  # the body's joints, with the hands decoded
    by_body, by_hand = hand_errors(decoded, truth)
    print(f"hands: PCK@0.05 body {np.mean(by_body <= 0.05):.3f}, PCK@0.2 hand size {np.mean(by_hand <= 0.2):.3f}")
    assert np.isfinite(by_body).reshape(-1, 21).all(1).mean() >= 0.9  # nearly every drawn hand is decoded
    assert np.mean(by_body <= 0.05) >= 0.8 and np.mean(by_hand <= 0.2) >= 0.5
    assert not decode_skeleton(pose_image(truth, 0)).has_hands  # bodies only unless asked, as `--keypoints body`


def test_hand_points_just_off_their_dots_are_kept(dancer: Poses, monkeypatch: pytest.MonkeyPatch) -> None:
    # A fitted point on a dot, one on the background half a dot radius from a dot (a dot blurred by video
    # compression), and one on the background far from anything drawn (DWPose leaves unsure points out).
    t = int(np.flatnonzero((dancer.hand_conf[:, :, 0] > 0.1).any(1))[0])
    placed = []

    def fit(classes: np.ndarray, wrist: np.ndarray, radius: float, *rest: object) -> tuple[np.ndarray, float]:
        ys, xs = np.nonzero(classes == hand_fit.DOT)
        gap = cv2.distanceTransform((classes == hand_fit.BACKGROUND).astype(np.uint8), cv2.DIST_L2, 3)
        near = np.argwhere((classes == hand_fit.BACKGROUND) & (gap > 0) & (gap <= 0.5 * radius))[0]
        far = np.argwhere((classes == hand_fit.BACKGROUND) & (gap > 2 * radius))[0]
        points = np.array([[xs[0], ys[0]], near[::-1], far[::-1]] * 7, np.float32)
        placed.append(points)
        return points, 0.0

    monkeypatch.setattr(hand_fit, "fit_hand", fit)
    decoded = decode_skeleton(pose_image(dancer, t), hands=True)
    side = int(np.argmax(decoded.hand_conf[0, :, 0]))
    assert placed and (decoded.hand_conf[0, side].reshape(7, 3) > 0).tolist() == [[True, True, False]] * 7


def test_a_small_hand_under_large_dots_is_read_every_other_pixel(monkeypatch: pytest.MonkeyPatch) -> None:
    # A hand 3.5 dot radii from wrist to middle-finger base (under ``REACH_SIZE``: its dots merge) drawn with
    # dots of radius 6 (DWPose at 768 pixels): read every other row and column near the hand, still placed
    # within a dot radius.
    radius = 6
    hand = (hand_fit.TEMPLATE * 3.5 * radius + [40, 60]).astype(np.float32)
    canvas = np.zeros((120, 140, 3), np.uint8)
    render._draw_hands(canvas, np.stack([hand, hand]), np.stack([np.ones(21), np.zeros(21)]), 3, radius)
    classes = hand_fit.hand_classes(*hue_saturation_value(canvas), HAND_HUE_STEP, HUE_TOLERANCE)
    seen = []
    pixels = hand_fit._pixels
    monkeypatch.setattr(hand_fit, "_pixels", lambda c, r, thin: seen.append(thin) or pixels(c, r, thin=thin))
    points, _ = hand_fit.fit_hand(classes, hand[0] + [-3, 2], radius, 1.5)
    err = np.linalg.norm(points - hand, axis=1)
    assert seen == [True] and np.median(err) < 0.5 * radius and err.max() < radius


def _held_hands(radius: float) -> tuple[np.ndarray, np.ndarray]:
    """Two template hands (21, 2) each, 5 dot radii from wrist to middle-finger base, whose fingers meet
    above their wrists (held together): the left and the mirrored right."""

    def place(wrist: tuple[float, float], degrees: float, mirror: float) -> np.ndarray:
        c, s = np.cos(np.radians(degrees)), np.sin(np.radians(degrees))
        return (np.array(wrist) + (hand_fit.TEMPLATE * [1, mirror] * 5 * radius) @ [[c, s], [-s, c]]).astype(np.float32)

    return place((40, 90), -50, 1), place((95, 90), -130, -1)


def test_a_hand_drawn_against_the_other_is_fitted_to_what_the_other_leaves() -> None:
    # Two hands whose dots run into one blob (held together): the right hand, drawn last, fitted with the
    # left one's drawing beneath it lands on its own dots; fitted alone it also tries to cover the left's.
    radius = 4
    left, right = _held_hands(radius)
    canvas = np.zeros((130, 140, 3), np.uint8)
    render._draw_hands(canvas, np.stack([left, right]), np.ones((2, 21)), 2, radius)
    classes = hand_fit.hand_classes(*hue_saturation_value(canvas), HAND_HUE_STEP, HUE_TOLERANCE)
    errors = []
    for other in ((left, False), None):
        points, _ = hand_fit.fit_hand(classes, right[0], radius, 1.0, None, -np.inf, other, 5 * radius)
        errors.append(float(np.median(np.linalg.norm(points - right, axis=1))))
    assert errors[0] < 1.5 * radius and errors[0] < 0.5 * errors[1]


def test_dwpose_faces_are_fitted_to_their_white_dots(dancer: Poses) -> None:
    frames = [t for t in range(len(dancer)) if (dancer.face_conf[t] > 0.1).all()][:3]
    truth = dancer[np.array(frames)]
    decoded = Poses.concat([decode_skeleton(pose_image(truth, t), face=True) for t in range(len(truth))])
    err = np.linalg.norm(decoded.face_xy - truth.face_xy, axis=-1)
    size = np.ptp(truth.face_xy, axis=1).max(-1)[:, None]
    assert (decoded.face_conf > 0).all() and np.median(err / size) < 0.08
    assert (err <= 0.05 * body_height(truth)[:, None]).mean() >= 0.95
    assert not decode_skeleton(pose_image(truth, 0)).has_face  # bodies only unless asked


def test_an_mp4_of_a_render_still_decodes(dancer: Poses, tmp_path: Path) -> None:
    with VideoWriter(tmp_path / "kps.mp4", 30.0) as writer:
        for t in range(len(dancer)):
            writer.write(pose_image(dancer.body_only(), t))
    with open_video(tmp_path / "kps.mp4") as reader:
        decoded = Poses.concat([decode_skeleton(rgb, hands=False) for rgb in reader])
    assert pck(decoded, dancer) >= 0.95


def test_animateanyone_renders_decode_frame_by_frame(shared_data: Path) -> None:
    with open_video(shared_data / "pose_renders/animateanyone_anyone-video-2_kps.mp4") as reader:
        decoded = Poses.concat([decode_skeleton(rgb, reader.fps, hands=False)  # body, as `--keypoints body`
                                 for _, rgb in zip(range(40), reader)])
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


def test_a_wrist_under_its_hand_takes_the_dot_its_short_forearm_touches() -> None:
    # A forearm pointing at the camera: its pixels a blob between the elbow's dot and the wrist's, which the
    # hand's dots nearly hide; another piece of the wrist's hue lies far off (a hand bone of a close hue).
    radius = 4.0
    wrist, elbow = JOINT["left_wrist"], JOINT["left_elbow"]
    forearm = DRAWN_LIMBS.index((elbow, wrist))
    xy = np.zeros((len(JOINT), 2), np.float32)
    conf = np.zeros(len(JOINT), np.float32)
    xy[elbow], conf[elbow] = (40, 40), 1
    limb_mask = np.zeros((100, 100), bool)
    limb_mask[37:44, 40:52] = True
    idx = np.where(limb_mask, forearm, -1)
    hidden = np.array([52.0, 41.0], np.float32)
    dots = {wrist: [(np.array([85.0, 80.0], np.float32), 50.0), (hidden, 20.0)], elbow: [(xy[elbow], 50.0)]}
    on_dot = np.zeros(len(JOINT), bool)
    render_decode._joints_at_short_limbs(xy, conf, on_dot, dots, limb_mask, idx, radius)
    assert conf[wrist] == 1 and on_dot[wrist] and np.allclose(xy[wrist], hidden)
    # A dot of its colour touching the limb's pixels but further from the elbow than a short limb reaches:
    # left out, not guessed.
    limb_mask[37:44, 40:72] = True
    far = {wrist: [(np.array([85.0, 80.0], np.float32), 50.0), (np.array([72.0, 41.0], np.float32), 20.0)]}
    conf[wrist] = 0
    render_decode._joints_at_short_limbs(xy, conf, on_dot, far, limb_mask, np.where(limb_mask, forearm, -1), radius)
    assert conf[wrist] == 0


def _frames(path: Path, count: int, step: int = 1) -> list[np.ndarray]:
    with open_video(path) as reader:
        return [rgb for _, rgb in zip(range(count), itertools.islice(reader, 0, None, step))]


def test_driving_kinds_are_recognised(shared_data: Path, dancer: Poses) -> None:
    renders = shared_data / "pose_renders"
    assert guess_driving_kind(_frames(renders / "animateanyone_anyone-video-4_kps.mp4", 5, 10)) == "skeleton"
    assert guess_driving_kind(_frames(renders / "magicanimate_densepose_demo4.mp4", 5, 10)) == "densepose"
    assert guess_driving_kind(_frames(shared_data / "videos/animatex_dance_2.mp4", 5, 10)) == "rgb"
    assert guess_driving_kind(_frames(shared_data / "faces/liveportrait_d12.mp4", 3, 10)) == "rgb"
    assert frame_kind(pose_image(dancer, 3, style="posevid")) == "skeleton"
    assert frame_kind(pose_image(dancer, 3)) == "skeleton"
    assert frame_kind(np.zeros((64, 64, 3), np.uint8)) == "rgb"
    iuv = _iuv_from_parts(_frames(renders / "magicanimate_densepose_demo4.mp4", 1)[0])
    assert frame_kind(iuv) == "iuv" and guess_driving_kind([iuv, iuv]) == "densepose"


def _iuv_from_parts(rgb: np.ndarray) -> np.ndarray:
    """An IUV image with the part map of a DensePose visualisation and U, V ramps across each part."""
    parts = densepose_parts(rgb)
    ys, xs = np.mgrid[: parts.shape[0], : parts.shape[1]]
    u, v = (xs * 255 // parts.shape[1]).astype(np.uint8), (ys * 255 // parts.shape[0]).astype(np.uint8)
    return np.stack([parts, np.where(parts > 0, u, 0), np.where(parts > 0, v, 0)], -1).astype(np.uint8)


def test_densepose_parts_give_a_steady_skeleton(shared_data: Path) -> None:
    frames = _frames(shared_data / "pose_renders/magicanimate_densepose_demo4.mp4", 30)
    poses = Poses.concat([decode_densepose_parts(rgb, 25.0) for rgb in frames])
    assert (body_height(poses) > 0).all() and poses.fps == 25.0
    arms = [JOINT[f"{s}_{j}"] for s in ("left", "right") for j in ("shoulder", "elbow", "wrist")]
    assert (poses.conf[:, arms] > 0).all() and (poses.conf[:, [0, 1, 8, 11]] > 0).all()
    assert (poses.conf[:, 14:] == 0).all()  # eyes and ears are not in the part map
    right, left = poses.xy[:, JOINT["right_shoulder"], 0], poses.xy[:, JOINT["left_shoulder"], 0]
    assert (right < left).mean() > 0.9  # she faces the camera: her right shoulder is on the image's left
    changes = []
    for a, b in DRAWN_LIMBS[:6]:
        length = np.linalg.norm(poses.xy[:, a] - poses.xy[:, b], axis=-1)
        changes += (np.abs(np.diff(length)) / length[:-1]).tolist()
    assert np.median(changes) < 0.06
    # The same parts as a raw IUV image give the same joints.
    again = keypoints_from_parts(_iuv_from_parts(frames[0])[..., 0])
    np.testing.assert_allclose(again.xy, poses.xy[:1], atol=1e-3)


def test_limbs_cut_by_the_frame_end_in_no_joint(shared_data: Path) -> None:
    # dancing2 crouches with her shins below the frame: their cut ends are not ankles, nor their slivers knees.
    frames = _frames(shared_data / "pose_renders/magicanimate_densepose_dancing2.mp4", 100)[::6]
    poses = Poses.concat([decode_densepose_parts(rgb, 25.0) for rgb in frames])
    limbs = [JOINT[f"{s}_{j}"] for s in ("left", "right") for j in ("elbow", "wrist", "knee", "ankle")]
    xy, seen = poses.xy[:, limbs], poses.conf[:, limbs] > 0
    edge = np.minimum(xy, [poses.width - 1, poses.height - 1] - xy).min(-1) <= 5
    assert seen[:, [0, 1, 4, 5]].mean() > 0.8 and seen[:, [2, 6]].any(0).all()  # arms mostly, each knee somewhere
    assert not (edge & seen).any()


def test_densepose_legs_are_plausible_or_absent(shared_data: Path) -> None:
    # Crouching (dancing2) and knee-length (demo4) frames whose thighs run out of the frame, with left and
    # right thigh colours mixed by compression: hips sit where the thighs meet the torso, and a knee or ankle
    # is given only between its hip and ankle, on a thigh and shin no longer than 1.5 torsos; a neck always.
    picks = {"dancing2": (18, 67, 80, 81, 90, 94, 96, 97), "demo4": (21, 75, 82, 106)}
    for name, wanted in picks.items():
        frames = _frames(shared_data / f"pose_renders/magicanimate_densepose_{name}.mp4", max(wanted) + 1)
        for t in wanted:
            poses = decode_densepose_parts(frames[t])
            xy, seen = poses.xy[0], poses.conf[0] > 0
            assert seen[JOINT["neck"]], (name, t)  # seen from the side, the head need not touch the torso
            torso = np.isin(densepose_parts(frames[t]), (1, 2)).astype(np.uint8)
            to_torso = cv2.distanceTransform(1 - torso, cv2.DIST_L2, 5)
            for side in ("left", "right"):
                hip, knee, ankle = (JOINT[f"{side}_{j}"] for j in ("hip", "knee", "ankle"))
                if not seen[hip]:
                    assert not seen[knee] and not seen[ankle]
                    continue
                assert to_torso[int(xy[hip, 1]), int(xy[hip, 0])] <= 8, (name, t, side)
                reach = 1.5 * np.linalg.norm(xy[hip] - xy[JOINT["neck"]])
                if seen[knee]:
                    assert np.linalg.norm(xy[knee] - xy[hip]) <= reach, (name, t, side)
                if seen[knee] and seen[ankle]:
                    axis = xy[ankle] - xy[hip]
                    assert -0.15 <= (xy[knee] - xy[hip]) @ axis / (axis @ axis) <= 1.15, (name, t, side)
                    assert np.linalg.norm(xy[ankle] - xy[knee]) <= reach, (name, t, side)


def _standing(folded_left: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """A standing body (18, 2) pixels in a 512 x 512 frame, (18,) confidence; with ``folded_left`` the left
    forearm folded back along the upper arm, the wrist by the shoulder."""
    xy = np.array([[256, 110], [256, 160], [216, 162], [200, 230], [196, 292], [296, 162], [350, 210],
                   [330, 280], [228, 300], [226, 380], [224, 460], [284, 300], [286, 380], [288, 460],
                   [248, 100], [264, 100], [238, 106], [274, 106]], np.float32)
    if folded_left:
        xy[JOINT["left_elbow"]], xy[JOINT["left_wrist"]] = (354, 212), (300, 168)
    return xy, np.ones(18, np.float32)


def test_a_folded_forearm_takes_its_whole_dots_among_fragments() -> None:
    # The left forearm folded back over the upper arm (its wrist by the shoulder), as through an mp4: small
    # fragments of the elbow's and the wrist's hues near the shoulder, where both limbs end. Each joint is
    # its one whole dot; the limb ends alone (the upper arm hidden under the forearm) swapped elbow and wrist.
    xy, conf = _standing(folded_left=True)
    frame = render.stick_figure(xy, conf, 512, 512, style="openpose")
    for joint, at in (("left_elbow", (292, 172)), ("left_wrist", (306, 176))):
        frame[at[1] - 1:at[1] + 2, at[0] - 1:at[0] + 2] = render.COLORS[JOINT[joint]]
    decoded = decode_skeleton(frame)
    for joint in ("left_shoulder", "left_elbow", "left_wrist"):
        j = JOINT[joint]
        assert decoded.conf[0, j] > 0 and np.linalg.norm(decoded.xy[0, j] - xy[j]) < 4, joint


def test_one_hand_or_both_is_told_by_how_well_each_draws_the_blob() -> None:
    # Two hands held together (one blob both wrists reach): both drawn explain it better than either alone by
    # more than PAIR_MARGIN; where only one is drawn, a second hand on it gains nothing and one elsewhere costs.
    radius = 4
    left, right = _held_hands(radius)
    for drawn in ((left, right), (right,)):
        canvas = np.zeros((130, 140, 3), np.uint8)
        render._draw_hands(canvas, np.stack([left, right]), np.array([np.ones(21) * (len(drawn) == 2), np.ones(21)]),
                           2, radius)
        classes = hand_fit.hand_classes(*hue_saturation_value(canvas), HAND_HUE_STEP, HUE_TOLERANCE)
        cost = {name: hand_fit.drawing_cost(classes, hands, radius, 1.0) for name, hands in
                (("left", [left]), ("right", [right]), ("both", [left, right]), ("twice", [right, right]))}
        if len(drawn) == 2:
            assert cost["both"] + render_decode.PAIR_MARGIN < min(cost["left"], cost["right"]), cost
        else:
            assert cost["twice"] + render_decode.PAIR_MARGIN > cost["right"] and cost["both"] > cost["right"], cost


# The squats clip's right hand in frame 30 (MediaPipe, pixels at 720x1280, shifted): its wrist a hand's width
# below the body's wrist, its fingers pointing away across, the index finger's base the dot nearest the body's wrist.
SIDEWAYS_HAND = np.array([
    [445, 473], [457, 460], [469, 453], [481, 451], [488, 453], [476, 448], [496, 445], [505, 448], [511, 453],
    [477, 453], [499, 449], [509, 453], [515, 457], [478, 460], [499, 458], [509, 460], [516, 463], [477, 470],
    [494, 468], [504, 470], [511, 472]], np.float32) - [400, 400]


def test_a_hand_whose_fingers_lie_nearer_the_body_wrist_is_fitted_from_its_own_wrist() -> None:
    # Placed from the dot nearest the body's wrist (the index finger's base), the template hand descended to
    # fingers a dot radius or two off (median 5.1 pixels, the ring finger's tip 13); placed also where its
    # wrist bones converge, it fits (in the clip's frame 30 that first placement stretched the hand: 6 of 21
    # points within 5% of the body height).
    radius = 6
    canvas = np.zeros((120, 160, 3), np.uint8)
    render._draw_hands(canvas, np.stack([SIDEWAYS_HAND, SIDEWAYS_HAND]), np.array([np.zeros(21), np.ones(21)]), 3,
                       radius)
    classes = hand_fit.hand_classes(*hue_saturation_value(canvas), HAND_HUE_STEP, HUE_TOLERANCE)
    points, _ = hand_fit.fit_hand(classes, np.array([46.0, 32.0]), radius, 1.5)
    err = np.linalg.norm(points - SIDEWAYS_HAND, axis=1)
    assert np.median(err) < 0.5 * radius and err.max() < 2 * radius, err.round(1)


@pytest.mark.slow  # about 10 s: the default suite keeps the hand fit in test_dwpose_hands_are_fitted_under_their_dots
def test_one_hand_that_both_wrists_reach_is_read_once() -> None:
    # The squats clip's frame 30 (shifted, legs left out): the right hand only, lying between the wrists, its
    # fingertips by the left wrist. Read from its index finger's base it was stretched across to the left
    # wrist and a left hand was read onto it too; now one right hand, where it is drawn.
    xy = np.array([[399, 391], [362, 479], [300, 465], [337, 537], [446, 432], [425, 493], [509, 564], [527, 477],
                   [256, 689], [0, 0], [0, 0], [337, 698], [0, 0], [0, 0], [381, 375], [401, 378], [354, 385],
                   [395, 387]], np.float32) - [180, 320]
    conf = (xy > 0).all(1).astype(np.float32)
    hand = SIDEWAYS_HAND + [220, 80]
    frame = render.stick_figure(xy, conf, 420, 400, 6, hands=(np.stack([hand, hand]), np.array([np.zeros(21),
                                np.ones(21)])), style="openpose")
    decoded = decode_skeleton(frame, hands=True)
    err = np.linalg.norm(decoded.hand_xy[0, 1] - hand, axis=1)
    assert (decoded.hand_conf[0, 0] == 0).all() and np.median(err) < 6, err.round(1)


def test_a_hand_is_also_placed_from_the_dot_nearest_the_body_wrist(monkeypatch: pytest.MonkeyPatch) -> None:
    # Through an mp4 the bones' hues bleed into fringes along the fingers' dots, and the wrist's bones are lost
    # (animatex_dance_3 frame 80: a little-finger fringe lay nearer the body's wrist than the hand's wrist dot,
    # the template was placed in the fingers and fitted with its fingers down the thumb, 7 of 21 points). A
    # fringe of the little finger's hue along the bottom of its dots, nearer the body's wrist than the wrist dot:
    # the template is placed from the nearest dot too (the hand's wrist), and the better fit is kept.
    radius = 6
    canvas = np.zeros((120, 160, 3), np.uint8)
    render._draw_hands(canvas, np.stack([SIDEWAYS_HAND, SIDEWAYS_HAND]), np.array([np.zeros(21), np.ones(21)]), 3,
                       radius)
    classes = hand_fit.hand_classes(*hue_saturation_value(canvas), HAND_HUE_STEP, HUE_TOLERANCE)
    classes[np.isin(classes, [2 + k for k in hand_fit.WRIST_BONES])] = hand_fit.IGNORE
    classes[79, 52:76] = 2 + 18  # the little finger's middle bone
    anchors: list[np.ndarray] = []
    placement = hand_fit._placement
    monkeypatch.setattr(hand_fit, "_placement", lambda e, a, r, s: (anchors.append(a), placement(e, a, r, s))[1])
    points, _ = hand_fit.fit_hand(classes, np.array([60.0, 85.0]), radius, 1.5)
    assert min(np.linalg.norm(a - SIDEWAYS_HAND[0]) for a in anchors) < 2 * radius, anchors  # was 20 pixels
    err = np.linalg.norm(points - SIDEWAYS_HAND, axis=1)
    assert np.median(err) < 2.0 and err.max() < 1.5 * radius, err.round(1)


def test_hand_dots_keep_their_radius_through_an_mp4(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # h264 blurs each dot's rim below the dots' brightness: the radius read from the dots' areas fell from 4.2
    # (drawn losslessly, radius 4) to 2.9-3.6 through an mp4, and hands were fitted with dots too small
    # (tfjs_pose_1 frame 110's right hand: 11 of 21 points, 21 with the radius drawn). Their half-value edge stays.
    xy, conf = _standing()
    hands = np.stack([SIDEWAYS_HAND - SIDEWAYS_HAND[0] + xy[JOINT[f"{side}_wrist"]] for side in ("left", "right")])
    frame = render.stick_figure(xy, conf, 512, 512, hands=(hands, np.ones((2, 21))), style="openpose")
    with VideoWriter(tmp_path / "hands.mp4", 30.0) as writer:
        for _ in range(3):
            writer.write(frame)
    with open_video(tmp_path / "hands.mp4") as reader:
        stored = next(iter(reader))
    radii: list[float] = []
    decode_hands = render_decode._decode_hands
    monkeypatch.setattr(render_decode, "_decode_hands", lambda *a: (radii.append(a[5]), decode_hands(*a))[1])
    for image in (frame, stored):
        decode_skeleton(image, hands=True)
    assert abs(radii[0] - 4) < 0.4 and abs(radii[1] - radii[0]) < 0.3, radii


@pytest.mark.slow  # about 10 s: the default suite keeps the hand fit in test_dwpose_hands_are_fitted_under_their_dots
def test_a_long_thumb_and_curled_fingers_through_an_mp4(shared_data: Path, tmp_path: Path) -> None:
    # animatex_dance_3 frame 80 (pose_inputs --every 10): the left hand's thumb runs down a chain of five dots, its
    # fingers curl up under the face. Through the mp4 the hand's pixels lie 51 degrees off its fingers' direction,
    # outside the template's turns (+-0.6 radians then): fitted with its little finger down the thumb's chain
    # (16/21 points within 5% of the body height, 7/21 before 95fa1dd).
    from posevid.estimate import estimate_poses

    poses = estimate_poses(shared_data / "videos/animatex_dance_3.mp4", keypoints="body+hands+face")
    keep = poses.conf > render.MIN_CONF
    drawn = dataclasses.replace(poses, conf=np.where(keep, poses.conf, 0), xy=np.where(keep[..., None], poses.xy, 0))
    with VideoWriter(tmp_path / "render.mp4", poses.fps) as writer:
        for t in range(len(drawn)):
            writer.write(pose_image(drawn, t))
    with open_video(tmp_path / "render.mp4") as reader:
        stored = next(itertools.islice(reader, 80, None))
    decoded = decode_skeleton(stored, hands=True, face=True)
    err = np.linalg.norm(decoded.hand_xy[0, 0] - drawn.hand_xy[80, 0], axis=1)
    hits = (err <= 0.05 * body_height(drawn[80:81])[0]) & (decoded.hand_conf[0, 0] > 0)
    assert hits.sum() >= 19, err.round(1)


def test_a_hand_blob_is_read_from_the_better_of_two_final_descents(shared_data: Path) -> None:
    # tfjs_pose_1 frame 80 (pose_inputs --every 10): the right hand is one blue blob 25 pixels tall, no bone showing.
    # Of the template placements that descend, only the best went on: a mirror image (8/21 points within 5% of the
    # body height), though the drawn hand's own basin fits the pixels better; the best two go on now (11/21).
    from posevid.estimate import estimate_poses

    poses = estimate_poses(shared_data / "videos/tfjs_pose_1.mp4", keypoints="body+hands+face")
    keep = poses.conf > render.MIN_CONF
    drawn = dataclasses.replace(poses, conf=np.where(keep, poses.conf, 0), xy=np.where(keep[..., None], poses.xy, 0))
    decoded = decode_skeleton(pose_image(drawn, 80), hands=True, face=True)
    err = np.linalg.norm(decoded.hand_xy[0, 1] - drawn.hand_xy[80, 1], axis=1)
    hits = (err <= 0.05 * body_height(drawn[80:81])[0]) & (decoded.hand_conf[0, 1] > 0)
    assert hits.sum() >= 10, err.round(1)


def test_the_fit_reads_each_pixels_own_class_as_the_whole_drawing_gives_it() -> None:
    """``hand_fit._label_log_probs`` (the labelled class of each pixel only, what the fit's loss uses) gives
    the numbers of the whole drawing (``_probs``, with the other hand over or under it) bit for bit."""
    import torch

    gen = torch.Generator().manual_seed(0)
    grid = torch.rand(600, 2, generator=gen) * 60
    labels = torch.randint(0, 2 + len(hand_fit.HAND_LIMBS), (600,), generator=gen)
    points = torch.from_numpy(hand_fit.TEMPLATE).float() * 8 + 30 + torch.randn(3, 21, 2, generator=gen) * 3
    fixed = hand_fit._probs(points[:1] + 4, grid, 4.0, 1.5)[0]
    for other in (None, (fixed, True), (fixed, False)):
        whole = hand_fit._probs(points, grid, 4.0, 1.5)
        if other is not None:
            whole = hand_fit._over(fixed[None], whole) if other[1] else hand_fit._over(whole, fixed[None])
        expected = torch.log(whole.clamp_min(hand_fit.FLOOR)).gather(-1, labels[None, :, None].expand(3, -1, 1))[..., 0]
        assert torch.equal(hand_fit._label_log_probs(points, grid, labels, 4.0, 1.5, other), expected)


def test_head_joints_under_the_face_dots_are_placed_by_the_face(dancer: Poses, tmp_path: Path) -> None:
    # tfjs_pose_1 frames 80-116: a small head (the face about 28 pixels across, dots of radius 2.3) whose ear
    # dots DWPose's white face dots hide whole, and her hands under the face; drawn losslessly and through an
    # h264 mp4 (whose chroma turns what shows of an ear's dot to another joint's hue). The ears were left out,
    # and a hand's pixels of an eye's hue were read as the eye.
    drawn = dancer[np.array([t for t in range(20, 30) if (dancer.face_conf[t] > 0.1).all()])]
    heads = [JOINT[n] for n in ("nose", "right_eye", "left_eye", "right_ear", "left_ear")]
    frames = [pose_image(drawn, t) for t in range(len(drawn))]
    with VideoWriter(tmp_path / "kps.mp4", 30.0) as writer:
        for rgb in frames:
            writer.write(rgb)
    with open_video(tmp_path / "kps.mp4") as reader:
        stored = list(reader)
    for images in (frames, stored):
        decoded = Poses.concat([decode_skeleton(rgb) for rgb in images])
        err = np.linalg.norm(decoded.xy - drawn.xy, axis=-1)[:, heads]
        hits = (err <= 0.05 * body_height(drawn)[:, None]) & (decoded.conf[:, heads] > 0)
        assert hits[drawn.conf[:, heads] > 0].mean() >= 0.95, err.round(1)
        assert pck(decoded, drawn) >= 0.95


def test_a_hand_read_far_from_its_wrist_is_not_taken() -> None:
    # A left hand alone in pieces both wrists reach, its first fit (to its share of the pieces) too small, the
    # body's right wrist 40 pixels past its fingers (animatex_dance_2 frame 140 through an mp4). A right hand
    # fitted from the template over the left's drew what the left's fit left undrawn and was read there, its
    # wrist 2 hand sizes from the body's right wrist (62 pixels); now only the left hand is read.
    radius = 4
    left, _ = _held_hands(radius)
    canvas = np.zeros((130, 200, 3), np.uint8)
    render._draw_hands(canvas, np.stack([left, left]), np.array([np.ones(21), np.zeros(21)]), 2, radius)
    classes = hand_fit.hand_classes(*hue_saturation_value(canvas), HAND_HUE_STEP, HUE_TOLERANCE)
    blob = classes >= hand_fit.DOT
    xy, conf = np.zeros((18, 2), np.float32), np.ones(18, np.float32)
    wrists = [JOINT["left_wrist"], JOINT["right_wrist"]]
    xy[wrists[0]], xy[wrists[1]] = left[0], (left[:, 0].max() + 40, left[0, 1])
    first = left[0] + 0.6 * (left - left[0])
    hands = render_decode._one_or_both(classes, blob.astype(np.int32), blob, [np.zeros_like(blob)] * 2, [first, None],
                                       [blob, None], xy, conf, radius, 1.0, wrists)
    assert hands[1] is None
    assert np.median(np.linalg.norm(hands[0] - left, axis=1)) < 2 * radius
