"""Pose estimation against real references: BlazePose keypoints of a video and hand-labelled photos."""

from __future__ import annotations

import csv
import itertools
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from posevid.cli import app
from posevid.errors import PosevidError
from posevid.estimate import (
    PoseEstimator,
    choose_person,
    drop_duplicate_hand,
    estimate_poses,
    estimate_with_masks,
    find_people,
)
from posevid.posefiles import read_poses
from posevid.poses import Poses, bbox, body_height
from posevid.skeleton import JOINT, coco18_to_coco17, to_coco18
from posevid.video import open_video, read_image


def pck(xy: np.ndarray, conf: np.ndarray, truth: np.ndarray, torso: np.ndarray) -> float:
    """Fraction of joints found within 0.2 torso lengths of the truth. xy, truth (..., J, 2); torso (...)."""
    close = np.linalg.norm(xy - truth, axis=-1) < 0.2 * np.asarray(torso)[..., None]
    return float((close & (conf > 0)).mean())


def torso_length(xy18: np.ndarray) -> np.ndarray:
    """Neck to mid-hip distance of COCO-18 keypoints (..., 18, 2)."""
    return np.linalg.norm(xy18[..., 1, :] - (xy18[..., 8, :] + xy18[..., 11, :]) / 2, axis=-1)


@pytest.fixture(scope="module")
def estimator() -> Iterator[PoseEstimator]:
    with PoseEstimator() as est:
        yield est


def test_video_matches_the_blazepose_reference(shared_data: Path, estimator: PoseEstimator) -> None:
    ref = np.array(json.loads((shared_data / "videos/tfjs_pose_squats.full.json").read_text()))[..., :2]
    truth, _ = to_coco18(ref[::2], np.ones(ref[::2].shape[:2]), "blazepose33")
    with open_video(shared_data / "videos/tfjs_pose_squats.mp4") as reader:
        poses = Poses.concat([p for p, _ in estimator.stream(itertools.islice(reader, 0, None, 2), reader.fps / 2)])
    assert (len(poses), poses.width, poses.height, poses.fps) == (33, 720, 1280, 2.5)
    score = pck(poses.xy, poses.conf, truth, torso_length(truth))
    print(f"PCK@0.2 squats video (every 2nd frame, 33 frames, 18 joints): {score:.3f}")
    assert score >= 0.9


@pytest.mark.parametrize("row,name", [(0, "tfexamples_image1.png"), (1, "tfexamples_image2.jpeg")])
def test_photos_match_the_ground_truth(shared_data: Path, estimator: PoseEstimator, row: int, name: str) -> None:
    with open(shared_data / "images/tfexamples_pose_landmark_truth.csv") as f:
        truth17 = np.array(list(csv.reader(f))[1 + row], np.float32).reshape(17, 2)
    truth18, _ = to_coco18(truth17, np.ones(17), "coco17")
    rgb = read_image(shared_data / "images" / name)
    poses, mask = estimator.image(rgb)
    assert (len(poses), poses.width, poses.height) == (1, rgb.shape[1], rgb.shape[0])
    xy17, conf17 = coco18_to_coco17(poses.xy[0], poses.conf[0])
    score = pck(xy17, conf17, truth17, torso_length(truth18))
    print(f"PCK@0.2 {name} (17 joints): {score:.3f}")
    assert score >= 0.9
    assert mask.shape == rgb.shape[:2] and mask.dtype == np.float32
    inside = mask[truth17[:, 1].astype(int).clip(0, rgb.shape[0] - 1), truth17[:, 0].astype(int)]
    assert (inside[[0, 5, 6, 11, 12]] > 0.5).all()  # nose, shoulders and hips lie on the person
    assert mask[:, :20].mean() < 0.05  # the image border is background


def test_mask_matches_the_reference_segmentation(shared_data: Path, estimator: PoseEstimator) -> None:
    _, mask = estimator.image(read_image(shared_data / "images/tfjs_pose.jpg"))
    ref = read_image(shared_data / "images/tfjs_pose_segmentation.png")
    person = ref[..., 2] > ref[..., 0]  # blue person on red
    found = mask > 0.5
    iou = (found & person).sum() / (found | person).sum()
    assert iou > 0.85


@pytest.mark.parametrize("kind", ["blank", "noise"])
def test_nobody_gives_zero_confidence(estimator: PoseEstimator, kind: str) -> None:
    rng = np.random.default_rng(0)
    rgb = np.zeros((240, 320, 3), np.uint8) if kind == "blank" else rng.integers(0, 256, (240, 320, 3), np.uint8)
    poses, mask = estimator.image(rgb)
    assert poses.conf.shape == (1, 18) and (poses.conf == 0).all() and (poses.xy == 0).all()
    assert mask.shape == (240, 320) and (mask == 0).all()


def test_tracking_survives_frames_without_anyone(shared_data: Path, estimator: PoseEstimator) -> None:
    person = read_image(shared_data / "images/tfexamples_image2.jpeg")
    blank = np.full_like(person, 255)
    results = list(estimator.stream([blank, person, person, blank, person], fps=12))
    found = [bool((p.conf > 0.5).sum() > 10) for p, _ in results]
    assert found == [False, True, True, False, True]
    assert all(p.fps == 12 and p.width == person.shape[1] for p, _ in results)
    assert results[3][1].max() == 0 and results[2][1].mean() > 0.05


def test_bad_input_is_a_user_error(estimator: PoseEstimator, tmp_path: Path) -> None:
    with pytest.raises(PosevidError, match="uint8"):
        estimator.image(np.zeros((64, 64, 3), np.float32))
    with pytest.raises(PosevidError, match="uint8"):
        estimator.image(np.zeros((64, 64), np.uint8))
    with pytest.raises(PosevidError, match="no such"):
        estimate_poses(tmp_path / "missing.mp4")


def test_arrays_and_image_files(shared_data: Path, estimator: PoseEstimator) -> None:
    rgb = read_image(shared_data / "images/tfexamples_image1.png")
    single, _ = estimator.image(rgb)
    from_file = estimate_poses(shared_data / "images/tfexamples_image1.png")
    assert len(single) == len(from_file) == 1
    np.testing.assert_allclose(single.xy, from_file.xy, atol=2.0)
    pairs = list(estimate_with_masks(np.stack([rgb, rgb[:, ::-1]]), fps=10))
    assert len(pairs) == 2 and pairs[1][0].fps == 10
    # The mirrored frame puts the nose at the mirrored place.
    assert abs(pairs[1][0].xy[0, 0, 0] - (rgb.shape[1] - 1 - pairs[0][0].xy[0, 0, 0])) < 8


def test_cli_extract(shared_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "poses.csv"
    result = CliRunner().invoke(app, ["poses", "extract", str(shared_data / "images/tfexamples_image2.jpeg"),
                                      "-o", str(out), "--smooth"])
    assert result.exit_code == 0, result.output
    poses = read_poses(out, size=(399, 640))
    assert len(poses) == 1 and (poses.conf > 0).sum() >= 17


def test_streaming_without_masks_gives_the_same_poses(shared_data: Path, estimator: PoseEstimator) -> None:
    """The driver's masks go unused: tracking without the segmentation gives the same poses, zero masks."""
    with open_video(shared_data / "videos/tfjs_pose_1.mp4") as reader:
        frames = list(itertools.islice(reader, 8))
    both = list(estimator.stream(frames, fps=30))
    poses_only = list(estimator.stream(frames, fps=30, masks=False))
    for (a, mask), (b, none) in zip(both, poses_only, strict=True):
        assert np.array_equal(a.xy, b.xy) and np.array_equal(a.conf, b.conf) and np.array_equal(a.z, b.z)
        assert mask.mean() > 0.02 and none.max() == 0


def test_mediapipe_loads_without_matplotlib() -> None:
    """Estimating a pose does not import matplotlib (mediapipe's drawing helpers load on first use);
    nor does it import mediapipe's Tasks API (audio, text and vision tasks), which posevid does not use."""
    import subprocess
    import sys

    code = ("import sys, numpy as np\n"
            "from posevid.estimate import PoseEstimator\n"
            "with PoseEstimator() as e: pose, _ = e.image(np.zeros((64, 48, 3), np.uint8))\n"
            "assert 'matplotlib' not in sys.modules and pose.xy.shape == (1, 18, 2)\n"
            "assert 'mediapipe.tasks.python.vision' not in sys.modules\n"
            "import mediapipe as mp\n"
            "assert callable(mp.solutions.drawing_utils.draw_landmarks) and 'matplotlib' in sys.modules\n"
            "assert mp.tasks.vision.PoseLandmarker and 'mediapipe.tasks.python.vision' in sys.modules\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]


@pytest.fixture(scope="module")
def holistic() -> Iterator[PoseEstimator]:
    with PoseEstimator(keypoints="body+hands+face") as est:
        yield est


def test_hands_face_and_depth_on_a_real_photo(shared_data: Path, holistic: PoseEstimator) -> None:
    """anyone-11: a man standing front-on, arms down, hands by his thighs."""
    rgb = read_image(shared_data / "images/animateanyone_anyone-11.png")
    poses, mask = holistic.image(rgb)
    assert poses.has_hands and poses.has_face and poses.z.shape == (1, 18)
    assert (poses.hand_conf[0] == 1).all() and (poses.face_conf[0] == 1).all()
    height = float(np.ptp(poses.xy[0][poses.conf[0] > 0.5][:, 1]))
    for side, wrist in ((0, 7), (1, 4)):  # each hand starts at its own wrist
        assert np.linalg.norm(poses.hand_xy[0, side, 0] - poses.xy[0, wrist]) < 0.03 * height
        assert np.linalg.norm(poses.hand_xy[0, side, 12] - poses.xy[0, wrist]) < 0.15 * height  # middle fingertip
    face = poses.face_xy[0]
    assert np.linalg.norm(face.mean(0) - poses.xy[0, 0]) < 0.03 * height  # the landmarks centre on the nose
    assert face[36:42, 0].mean() < face[30, 0] < face[42:48, 0].mean()  # his right eye on the image's left
    assert face[8, 1] > face[57, 1] > face[30, 1] > face[27, 1] > face[19, 1]  # chin, lip, nose tip, bridge, brow
    # Depth: hips at 0; in the body-only estimator the same z.
    assert abs(poses.z[0, 8] + poses.z[0, 11]) < 0.02 * height


def test_a_mirrored_photo_gives_the_flipped_hands_and_face(shared_data: Path, holistic: PoseEstimator) -> None:
    rgb = read_image(shared_data / "images/animateanyone_anyone-11.png")
    poses, _ = holistic.image(rgb)
    mirrored, _ = holistic.image(np.ascontiguousarray(rgb[:, ::-1]))
    flipped = poses.flip()
    face_size = float(np.ptp(poses.face_xy[0, :, 0]))
    face_err = np.linalg.norm(mirrored.face_xy[0] - flipped.face_xy[0], axis=-1)
    assert np.median(face_err) < 0.05 * face_size  # FACE_FLIP_PERM pairs the mirrored landmarks
    hand_err = np.linalg.norm(mirrored.hand_xy[0] - flipped.hand_xy[0], axis=-1)
    assert np.median(hand_err) < 0.1 * face_size  # the left hand is found as the right one
    foot_err = np.linalg.norm(mirrored.foot_xy[0] - flipped.foot_xy[0], axis=-1)
    assert np.median(foot_err) < 0.25 * face_size  # 9 pixels; the feet lie 74-123 apart: not swapped


def test_body_only_estimation_has_depth_but_no_hands(shared_data: Path, estimator: PoseEstimator) -> None:
    poses, _ = estimator.image(read_image(shared_data / "images/animateanyone_anyone-11.png"))
    assert poses.z is not None and not poses.has_hands and not poses.has_face
    # Each foot's heel and toe (BlazePose's, dropped by COCO-18) by its own ankle, below it.
    height = float(np.ptp(poses.xy[0][poses.conf[0] > 0.5][:, 1]))
    assert (poses.foot_conf[0] > 0.5).all()
    for side, ankle in ((0, 13), (1, 10)):
        assert (np.linalg.norm(poses.foot_xy[0, side] - poses.xy[0, ankle], axis=-1) < 0.12 * height).all()
        assert (poses.foot_xy[0, side, :, 1] > poses.xy[0, ankle, 1]).all()
    assert (poses.z[0][poses.conf[0] <= 0] == 0).all()
    with pytest.raises(PosevidError, match="keypoints"):
        PoseEstimator(keypoints="hands")


def test_streaming_keeps_hands_and_face_per_frame(shared_data: Path) -> None:
    with open_video(shared_data / "videos/tfjs_pose_squats.mp4") as reader:
        frames = np.stack(list(itertools.islice(reader, 0, 24, 3)))
    poses = estimate_poses(frames, fps=5 / 3, keypoints="body+hands")
    assert len(poses) == 8 and poses.hand_xy.shape == (8, 2, 21, 2) and not poses.has_face
    both = (poses.hand_conf[:, :, 0] > 0).all(1)
    assert both.mean() >= 0.75
    wrists = poses.xy[:, [7, 4]]
    near = np.linalg.norm(poses.hand_xy[:, :, 0] - wrists, axis=-1)[both]
    assert np.median(near) < 0.05 * np.median(np.ptp(poses.xy[:, :, 1], axis=1))


def _beside(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Two pictures side by side at the left one's height (white above a shorter right one)."""
    import cv2

    h = left.shape[0]
    scale = h / right.shape[0]
    right = cv2.resize(right, (int(right.shape[1] * scale), h))
    return np.concatenate([left, right], 1)


def test_several_people_are_found_and_one_chosen(shared_data: Path, estimator: PoseEstimator) -> None:
    man = read_image(shared_data / "images/animateanyone_anyone-11.png")
    woman = read_image(shared_data / "images/animateanyone_anyone-3.png")
    import cv2

    small = cv2.resize(woman, (woman.shape[1] * 3 // 4, woman.shape[0] * 3 // 4))
    small = np.concatenate([np.full((man.shape[0] - small.shape[0], small.shape[1], 3), 255, np.uint8), small])
    photo = _beside(small, man)  # a smaller woman on the left, the man on the right
    people = find_people(estimator, photo)
    assert len(people) == 2
    centres = [bbox(p)[0, [0, 2]].mean() for p, _ in people]
    largest, left, right = (choose_person(people, how) for how in ("largest", "left", "right"))
    assert centres[left] < small.shape[1] < centres[right] and largest == right
    alone = find_people(estimator, man)
    assert len(alone) == 1
    with pytest.raises(PosevidError, match="person middle"):
        choose_person(people, "middle")


def test_tracking_stays_on_the_chosen_person(shared_data: Path, estimator: PoseEstimator) -> None:
    other = read_image(shared_data / "images/animateanyone_anyone-11.png")
    with open_video(shared_data / "videos/tfjs_pose_1.mp4") as reader:
        frames = [f for _, f in zip(range(24), itertools.islice(reader, 0, None, 4))]
    pairs = [_beside(f, other) for f in frames]  # the dancer on the left, a man standing on the right
    alone = Poses.concat([p for p, _ in estimator.stream(frames, 7.5)])
    people = find_people(estimator, pairs[0])
    dancer = people[choose_person(people, "left")][0]
    focused = Poses.concat([p for p, _ in estimator.stream(pairs, 7.5, focus=bbox(dancer)[0])])
    err = np.linalg.norm(focused.xy - alone.xy, axis=-1)[(alone.conf > 0.5) & (focused.conf > 0.5)]
    assert np.median(err) < 0.2 * np.median(torso_length(alone.xy))
    assert (bbox(focused)[:, 2] < 576).all()  # never the man's joints


def test_a_hand_found_twice_is_kept_once(shared_data: Path, holistic: PoseEstimator) -> None:
    """animatex_dance_2 frame 140: Holistic reads her left hand twice, as both hands 2 pixels apart (a skeleton
    render draws them as one and its decoder cannot split them); the hand by the body's left wrist is kept."""
    with open_video(shared_data / "videos" / "animatex_dance_2.mp4") as reader:
        frame = next(itertools.islice(reader, 140, None))
    pose, _ = holistic.image(frame)
    assert pose.hand_conf[0, 0].all() and not pose.hand_conf[0, 1].any() and not pose.hand_xy[0, 1].any()
    wrist = pose.xy[0, JOINT["left_wrist"]]
    assert np.linalg.norm(pose.hand_xy[0, 0, 0] - wrist) < 0.1 * body_height(pose)[0]


def test_duplicate_hands_are_told_from_hands_held_together() -> None:
    rng = np.random.default_rng(0)
    hand = rng.uniform(0, 50, (21, 2)).astype(np.float32) + [100, 100]
    hand[0] = [100, 100]  # the wrist
    body, seen = np.zeros((18, 2), np.float32), np.ones(18, np.float32)
    body[JOINT["left_wrist"]], body[JOINT["right_wrist"]] = [140, 100], [102, 101]
    xy, conf = np.stack([hand, hand + 2]), np.ones((2, 21), np.float32)
    assert drop_duplicate_hand(xy, conf, body, seen)  # the right wrist is by it: the left hand goes
    assert not conf[0].any() and not xy[0].any() and conf[1].all()
    together = np.stack([hand + [20, 0], hand])  # close, but each by its own wrist: hands held together
    conf = np.ones((2, 21), np.float32)
    body[JOINT["left_wrist"]] = [120, 100]
    assert not drop_duplicate_hand(together, conf, body, seen) and conf.all()
    xy, conf = np.stack([hand, hand + 2]), np.ones((2, 21), np.float32)
    unseen = seen.copy()
    unseen[JOINT["left_wrist"]] = 0
    assert not drop_duplicate_hand(xy, conf, body, unseen) and conf.all()  # no body wrist to tell them by
    conf[1] = 0  # one hand only
    assert not drop_duplicate_hand(xy, conf, body, seen) and conf[0].all()
