"""Faces: landmarks estimated as a pose (face mesh, tracking), relative retargeting, the face mesh warp."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from posevid.face import inter_ocular, is_closeup, is_face_pose, retarget_face


@pytest.fixture(scope="module")
def portrait(shared_data: Path):
    """``faces/liveportrait_s12.jpg`` (a head-and-shoulders photograph) and its face pose."""
    from posevid.estimate import PoseEstimator
    from posevid.video import read_image

    rgb = read_image(shared_data / "faces" / "liveportrait_s12.jpg")
    with PoseEstimator(keypoints="face") as est:
        pose, _ = est.image(rgb)
    return rgb, pose


def test_face_keypoints_stream(shared_data: Path):
    """``keypoints="face"`` tracks the 68 landmarks of a talking head, with no body joints."""
    from posevid.estimate import PoseEstimator
    from posevid.video import open_video

    with open_video(shared_data / "faces" / "liveportrait_d18.mp4") as reader, \
            PoseEstimator(keypoints="face") as est:
        poses = [p for p, _ in est.stream(itertools.islice(iter(reader), 4), reader.fps)]
    for p in poses:
        assert p.face_xy.shape == (1, 68, 2) and (p.face_conf > 0).all() and not (p.conf > 0).any()
        assert is_face_pose(p) and is_closeup(p)
        assert 80 < inter_ocular(p.face_xy[0]) < 300  # a 480-pixel head-and-shoulders frame
        # iBUG order: the person's right eye (36-41) is on the image's left, the chin (8) below the nose (30).
        assert p.face_xy[0, 36, 0] < p.face_xy[0, 45, 0] and p.face_xy[0, 8, 1] > p.face_xy[0, 30, 1]
    steps = [np.abs(a.face_xy - b.face_xy).max() for a, b in itertools.pairwise(poses)]
    assert max(steps) < 20  # tracked: no jump between consecutive frames


def test_retarget_face_relative(portrait):
    """The driver's first frame gives the portrait's own landmarks; its head shift and mouth opening carry
    over scaled to the portrait's size, and the portrait keeps its face shape."""
    _, pose = portrait
    source = pose.face_xy[0].astype(np.float64)
    driver = 0.5 * source + [40.0, 10.0]  # another, smaller face elsewhere
    np.testing.assert_allclose(retarget_face(driver, driver, source), source, atol=1e-6)
    moved = driver + [3.0, 0.0]
    np.testing.assert_allclose(retarget_face(driver, moved, source), source + [6.0, 0.0], atol=1e-6)
    opened = driver.copy()
    opened[[56, 57, 58, 65, 66, 67, 7, 8, 9]] += [0.0, 4.0]  # the jaw and lower lip drop 4 pixels
    out = retarget_face(driver, opened, source)
    assert 7.0 < out[66, 1] - source[66, 1] < 9.0  # 8 pixels at the portrait's scale
    np.testing.assert_allclose(out[17:48], source[17:48], atol=1.0)  # eyes, brows, nose stay
    assert np.abs(out - source).max() < 10


def test_face_warp(portrait):
    """The face mesh warp: the portrait's own landmarks give the portrait back; an opened mouth shows a
    dark interior, not lips stretched over it; the background far from the face does not move."""
    from posevid.facewarp import FaceRig

    rgb, pose = portrait
    rig = FaceRig(rgb, pose.face_xy[0])
    same = rig.render(pose.face_xy[0])
    assert np.abs(same.astype(int) - rgb.astype(int)).mean() < 1.0
    target = pose.face_xy[0].astype(np.float64).copy()
    drop = 0.25 * rig.iod
    target[[5, 6, 7, 8, 9, 10, 11, 55, 56, 57, 58, 59, 65, 66, 67]] += [0.0, drop]
    opened = rig.render(target)
    x0, x1 = int(target[61, 0]), int(target[63, 0]) + 1
    y0, y1 = int(target[62, 1] + 0.5 * (target[66, 1] - target[62, 1])), int(target[66, 1]) - 1
    inside = opened[y0:y1, x0:x1].astype(float).mean()  # below the teeth: the dark cavity
    cheek = rgb[int(target[29, 1]) - 3:int(target[29, 1]) + 3, int(target[2, 0]) + 5:int(target[31, 0]) - 5]
    assert inside < 0.3 * cheek.astype(float).mean(), (inside, cheek.mean())
    x0, y0, x1, y1 = rig.box
    outside = np.ones(rgb.shape[:2], bool)
    outside[y0:y1, x0:x1] = False
    assert outside.any() and (opened[outside] == rgb[outside]).all()
    assert np.abs(opened.astype(int) - rgb.astype(int))[int(target[66, 1]) + 5:int(target[8, 1])].mean() > 3


def test_animate_portrait_from_talking_head(shared_data: Path, tmp_path: Path):
    """``animate portrait talking.mp4`` with no options animates the portrait's face (auto-detected close-up):
    the face moves, the background far from it does not, the driver's sound is kept."""
    from posevid.pipeline import Animation, animate_to_file
    from posevid.video import VideoWriter, has_audio, open_video, read_image

    talking = shared_data / "faces" / "liveportrait_d18.mp4"
    clip = tmp_path / "talking.mp4"
    with open_video(talking) as reader, VideoWriter(clip, reader.fps, audio_from=talking) as writer:
        for frame in itertools.islice(iter(reader), 6):
            writer.write(frame)
    portrait = shared_data / "faces" / "liveportrait_s12.jpg"
    with Animation(portrait, clip) as anim:
        assert anim.subject == "face" and is_face_pose(anim.source_pose)
    out = tmp_path / "out.mp4"
    assert animate_to_file(portrait, clip, out, show_progress=False) == 6
    assert has_audio(out)
    with open_video(out) as reader:
        frames = np.stack(list(reader)).astype(int)
    photo = read_image(portrait).astype(int)
    assert frames.shape[:2] == (6, 500) and abs(frames.shape[2] - photo.shape[1]) <= 1  # even sides
    corner = np.abs(frames[-1] - frames[0])[-60:, :60].mean()  # the background does not move
    face = np.abs(frames[-1] - frames[0])[110:270, 120:260].mean()  # the face does
    assert corner < 2.0 and face > 2 * corner + 1.0, (corner, face)


def test_prepare_face_dataset(shared_data: Path, tmp_path: Path):
    """``prepare --subject face``: head crops of a talking-head clip with face landmarks and face masks."""
    from posevid.data.prepare import prepare
    from posevid.posefiles import read_poses
    from posevid.video import read_image

    index, errors = prepare([shared_data / "faces" / "liveportrait_d18.mp4"], tmp_path, size=64, frames="0:6",
                            split="train", show_progress=False, subject="face")
    assert not errors and len(index["train"]) == 1
    clip = tmp_path / index["train"][0]
    poses = read_poses(clip / "poses.npz")
    assert len(poses) == 6 and (poses.width, poses.height) == (64, 64) and is_face_pose(poses[0])
    xy = poses.face_xy
    assert (xy > 4).all() and (xy < 60).all()  # the head inside its crop, with room around it
    assert 12 < inter_ocular(xy[0]) < 40
    mask = read_image(clip / "masks" / "000000.png")[..., 0] > 127
    assert 0.15 < mask.mean() < 0.7 and mask[int(xy[0, 30, 1]), int(xy[0, 30, 0])]  # the nose tip is in it


def test_face_landmark_error(portrait):
    """``face_nme``: mean landmark distance over the real face's inter-ocular distance."""
    from posevid.metrics.keypoints import face_landmark_error

    real = portrait[1].face_xy[0]
    assert face_landmark_error(real, real) == 0
    iod = inter_ocular(real)
    assert abs(face_landmark_error(real + [0.1 * iod, 0.0], real) - 0.1) < 1e-4


def test_face_scgan_animates_portrait(shared_data: Path, tmp_path: Path):
    """SCGAN trained on a face dataset (``configs/scgan/face_tiny.yaml``) animates a portrait's face: the model
    says it animates faces and not bodies, the pipeline crops the head as ``prepare --subject face`` does and
    pastes the result back; the frame away from the head stays the photo."""
    from typer.testing import CliRunner

    from posevid.cli import app
    from posevid.data.prepare import prepare
    from posevid.errors import PosevidError
    from posevid.pipeline import Animation, Pipeline
    from posevid.video import VideoWriter, open_video, read_image

    talking = shared_data / "faces" / "liveportrait_d18.mp4"
    prepare([talking], tmp_path / "data", size=64, frames="0:8", split="train", show_progress=False, subject="face")
    run = tmp_path / "run"
    result = CliRunner().invoke(app, ["train", "scgan/face_tiny", "--data", str(tmp_path / "data"), "--out", str(run),
                                      "--steps", "1", "--no-progress", "train.tensorboard=false", "train.workers=0"])
    assert result.exit_code == 0, result.output
    pipe = Pipeline(checkpoint=run)
    assert pipe.model.capabilities.faces and not pipe.model.capabilities.bodies
    clip = tmp_path / "talking.mp4"
    with open_video(talking) as reader, VideoWriter(clip, reader.fps) as writer:
        for frame in itertools.islice(iter(reader), 3):
            writer.write(frame)
    portrait = shared_data / "faces" / "liveportrait_s12.jpg"
    with pipe.open(portrait, clip) as anim:
        assert anim.subject == "face" and anim.crop is not None
        frames = [f for f, _ in anim]
        x0, y0, side = anim.crop[0]
        photo = anim.source  # the portrait at the output size (even sides)
    assert abs(photo.shape[1] - read_image(portrait).shape[1]) <= 1
    assert len(frames) == 3 and frames[0].shape == photo.shape
    assert 60 < side < photo.shape[0] and (frames[0][:max(y0 - 2, 1)] == photo[:max(y0 - 2, 1)]).all()
    with pytest.raises(PosevidError, match="trained on faces"):
        Animation(portrait, clip, checkpoint=run, subject="body")


def test_poses_extract_face(shared_data: Path, tmp_path: Path):
    """``posevid poses extract --keypoints face`` writes the 68 landmarks (OpenPose ``face_keypoints_2d``)."""
    from typer.testing import CliRunner

    from posevid.cli import app
    from posevid.posefiles import read_poses
    from posevid.video import VideoWriter, open_video

    clip = tmp_path / "talking.mp4"
    with open_video(shared_data / "faces" / "liveportrait_d12.mp4") as reader, VideoWriter(clip, reader.fps) as w:
        for frame in itertools.islice(iter(reader), 4):
            w.write(frame)
    args = ["poses", "extract", str(clip), "-o", str(tmp_path / "face"), "--keypoints", "face"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "a face in 4" in result.output
    poses = read_poses(tmp_path / "face")
    assert len(poses) == 4 and (poses.face_conf > 0).all() and not (poses.conf > 0).any()
