"""Driving inputs: camera video, skeleton and DensePose renders, IUV frames and pose files, recognised and
checked (real renders from ``shared/data/pose_renders``, short clips cut from them)."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from posevid.driving import Driving
from posevid.errors import PosevidError
from posevid.posefiles import write_poses
from posevid.poses import Poses
from posevid.render_decode import densepose_parts
from posevid.skeleton import JOINT
from posevid.video import VideoWriter, open_video, write_image


def cut(source: Path, out: Path, frames: int) -> Path:
    """The first ``frames`` frames of ``source`` as a new mp4."""
    with open_video(source) as reader, VideoWriter(out, reader.fps) as writer:
        for frame in itertools.islice(reader, frames):
            writer.write(frame)
    return out


def test_a_skeleton_render_is_decoded_not_estimated(shared_data: Path, tmp_path: Path) -> None:
    clip = cut(shared_data / "pose_renders/animateanyone_anyone-video-2_kps.mp4", tmp_path / "kps.mp4", 12)
    with Driving(clip) as driving:
        assert driving.kind == "skeleton" and (driving.fps, driving.size) == (30.0, (512, 768))
        assert "skeleton render" in driving.notes[0]
        poses = driving.poses()
    assert len(poses) == 12 and (poses.conf.sum(1) >= 15).all()
    # Told it is a camera video, the estimator finds a person in few frames, in poses that jump: stopped.
    with pytest.raises(PosevidError, match=r"kps.mp4: (a person was found in only|the poses jump).*"
                                           r"--driving-kind.*--force"):
        Driving(clip, kind="rgb").poses()
    forced = Driving(clip, kind="rgb", check=False).poses()
    assert len(forced) == 12


def test_densepose_renders_and_iuv_frames(shared_data: Path, tmp_path: Path) -> None:
    clip = cut(shared_data / "pose_renders/magicanimate_densepose_demo4.mp4", tmp_path / "dp.mp4", 6)
    with Driving(clip) as driving:
        assert driving.kind == "densepose"
        poses = driving.poses()
    assert (poses.conf[:, [1, 2, 5]] > 0).all()
    folder = tmp_path / "iuv"
    with open_video(clip) as reader:
        for t, rgb in enumerate(reader):
            parts = densepose_parts(rgb)
            ramp = np.broadcast_to(np.arange(rgb.shape[1], dtype=np.uint8)[None], parts.shape)
            write_image(folder / f"{t:06d}.png", np.stack([parts, ramp * (parts > 0), ramp * (parts > 0)], -1))
    with Driving(folder) as driving:
        assert driving.kind == "iuv"
        items = list(driving)
    assert len(items) == 6 and items[0][2].shape == (512, 512, 3) and items[0][2][..., 0].max() <= 24
    np.testing.assert_allclose(items[0][1].xy, poses[0].xy, atol=3)


def test_pose_files_are_checked_too(shared_data: Path, tmp_path: Path) -> None:
    walk = Driving(shared_data / "mocap/deepmimic/humanoid3d_walk.txt")
    assert walk.kind == "poses" and len(walk.poses()) == walk.count
    poses = walk.poses()
    sparse = Poses(poses.xy, np.where(np.arange(len(poses))[:, None] < 5, poses.conf, 0), poses.width,
                   poses.height, poses.fps)
    write_poses(tmp_path / "sparse.npz", sparse)
    with pytest.raises(PosevidError, match=r"sparse.npz: a person was found in only 5 of \d+ frames"):
        Driving(tmp_path / "sparse.npz")
    assert len(Driving(tmp_path / "sparse.npz", check=False).poses()) == len(poses)
    with pytest.raises(PosevidError, match="driving kind sketch"):
        Driving(tmp_path / "sparse.npz", kind="sketch")


def test_an_iuv_dwnet_animates_and_evaluates_from_the_cli(shared_data: Path, tmp_path: Path) -> None:
    """A tiny DwNet trained with IUV frames (built here from the clip's reference poses: their part masks
    labelled with DensePose's part indices, U and V ramps) is evaluated and drives a photo from the CLI, with
    IUV frames as the driver."""
    import json

    from typer.testing import CliRunner

    from posevid.cli import app
    from posevid.config import load_config
    from posevid.data.prepare import prepare
    from posevid.posefiles import COCO17_NAMES
    from posevid.render import pose_part_labels
    from posevid.skeleton import to_coco18
    from posevid.train import train

    # posevid's part labels (1 + skeleton.PART_NAMES index) as DensePose part indices.
    DENSEPOSE_OF_PART = np.array([0, 23, 2, 16, 20, 15, 19, 9, 13, 10, 14], np.uint8)  # noqa: N806
    frames = 16
    clip = cut(shared_data / "videos/tfjs_pose_1.mp4", tmp_path / "dance.mp4", frames)
    ref = json.loads((shared_data / "videos/tfjs_pose_1.json").read_text())[:frames]
    kp = np.array([[[f[n]["x"], f[n]["y"]] for n in COCO17_NAMES] for f in ref], np.float32)
    xy, conf = to_coco18(kp, np.ones(kp.shape[:2]), "coco17")
    ys, xs = np.mgrid[:576, :576]
    for t in range(frames):
        parts = DENSEPOSE_OF_PART[pose_part_labels(xy[t], conf[t], 576, 576)]
        u, v = (xs * 255 // 576).astype(np.uint8), (ys * 255 // 576).astype(np.uint8)
        iuv = np.stack([parts, u * (parts > 0), v * (parts > 0)], -1)
        write_image(tmp_path / "iuv" / "dance" / f"{t:06d}.png", iuv)
    data = tmp_path / "data"
    _, errors = prepare([clip], data, size=32, iuv_dir=tmp_path / "iuv", test_frames="10:16", show_progress=False)
    assert not errors, errors
    cfg = load_config(Path(__file__).resolve().parents[1] / "configs/dwnet/tiny.yaml",
                      ["data.size=32", "model.iuv=true", "model.res_blocks=1", "train.steps=2",
                       "train.checkpoint_every=2", "train.tensorboard=false", "train.batch_size=1"])
    train(cfg, data, tmp_path / "run", show_progress=False, log=lambda msg: None)
    runner = CliRunner()
    result = runner.invoke(app, ["evaluate", "--checkpoint", str(tmp_path / "run"), "--data", str(data),
                                 "-o", str(tmp_path / "report.json")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "report.json").is_file()
    photo, iuv = tmp_path / "photo.png", tmp_path / "iuv" / "dance" / "000000.png"  # the clip's first frame
    with open_video(clip) as reader:
        write_image(photo, next(iter(reader)))
    driver = data / "dance_f10-16" / "iuv"
    result = runner.invoke(app, ["animate", str(photo), str(driver), "-o", str(tmp_path / "out.mp4"), "--checkpoint",
                                 str(tmp_path / "run"), "--source-iuv", str(iuv)])
    assert result.exit_code == 0, result.output
    with open_video(tmp_path / "out.mp4") as reader:
        assert sum(1 for _ in reader) == 6
    result = runner.invoke(app, ["animate", str(photo), str(driver), "-o", str(tmp_path / "no.mp4"), "--checkpoint",
                                 str(tmp_path / "run")])
    assert result.exit_code != 0 and "--source-iuv" in str(result.exception)
    assert not (tmp_path / "no.mp4").exists()


def test_saved_target_poses_keep_the_hands_and_face(holistic_dancer: Poses, shared_data: Path, tmp_path: Path) -> None:
    from posevid.pipeline import animate_to_file
    from posevid.posefiles import read_poses

    driving = holistic_dancer[:4]
    assert driving.has_hands and driving.has_face
    saved = tmp_path / "targets.npz"
    animate_to_file(shared_data / "images/tfexamples_image2.jpeg", driving, tmp_path / "out.gif", size=64,
                    poses_out=saved, show_progress=False, force=True)
    targets = read_poses(saved)
    assert len(targets) == 4 and targets.has_hands and targets.has_face
    with open_video(tmp_path / "out.gif") as result:
        assert (targets.width, targets.height, targets.fps) == (result.width, result.height, driving.fps)


def test_a_dwpose_render_drives_the_hands_when_asked(shared_data: Path, tmp_path: Path) -> None:
    clip = cut(shared_data / "pose_renders/animateanyone_anyone-video-2_kps.mp4", tmp_path / "kps.mp4", 4)
    with Driving(clip) as driving:
        assert not driving.poses().has_hands  # body by default: no time spent on hands
    with Driving(clip, keypoints="body+hands") as driving:
        poses = driving.poses()
    assert poses.has_hands and (poses.hand_conf[:, :, 0] > 0).mean() >= 0.75
    wrists = poses.xy[:, [JOINT["left_wrist"], JOINT["right_wrist"]]]
    found = poses.hand_conf[:, :, 0] > 0
    assert (np.linalg.norm(poses.hand_xy[:, :, 0] - wrists, axis=-1)[found] < 40).all()  # each at its own wrist
