"""Mocap readers (BVH, DeepMimic), projection, and the motion dataset built from them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from posevid.cli import app
from posevid.data.motion import MotionDataset, write_motion_dataset
from posevid.errors import PosevidError
from posevid.mocap import label_from_name, load_mocap, load_motion3d, project
from posevid.posefiles import read_poses, write_poses
from posevid.poses import Poses
from posevid.skeleton import JOINT

WALKS = ("walk", "jog", "run", "zombie_walk", "stealthy_walk")


def _bone_drift(motion) -> float:
    """Largest change over time of any rig bone's length (metres)."""
    sk = motion.skeleton
    bones = [(j, p) for j, p in enumerate(motion.parents) if p >= 0]
    lengths = np.stack([np.linalg.norm(sk[:, j] - sk[:, p], axis=-1) for j, p in bones], 1)
    return float((lengths.max(0) - lengths.min(0)).max())


def _ankle_heights(motion) -> np.ndarray:
    """(T,) height of the lower ankle per frame (metres above the floor)."""
    return motion.joints[:, [JOINT["right_ankle"], JOINT["left_ankle"]], 1].min(1)


def test_deepmimic_clips_keep_bones_rigid_and_feet_on_the_floor(shared_data: Path):
    clips = sorted((shared_data / "mocap" / "deepmimic").glob("humanoid3d_*.txt"))
    assert len(clips) == 20
    for clip in clips:
        motion = load_motion3d(clip, fps=30, min_frames=64)
        assert motion.label == clip.stem.removeprefix("humanoid3d_")
        assert _bone_drift(motion) < 1e-4, clip.name
        ankles = _ankle_heights(motion)
        # The floor is y = 0 in DeepMimic: ankles (about 4 cm above the sole) touch down but never sink.
        assert -0.02 < ankles.min() < 0.08, clip.name
        if motion.label in WALKS:  # a foot is on the ground in (nearly) every frame of a gait
            assert np.percentile(ankles, 90) < 0.2, clip.name
        # The head is above the neck when standing upright (first frame of the walks).
        if motion.label in WALKS:
            assert motion.joints[0, JOINT["nose"], 1] > motion.joints[0, JOINT["neck"], 1] > 1.0


def test_bvh_readers_cmu_and_pymo(shared_data: Path):
    for path in [shared_data / "mocap" / "cmu_bvh" / "131_01.bvh",
                 shared_data / "mocap" / "pymo" / "AV_8Walk_Meredith_HVHA_Rep1.bvh"]:
        motion = load_motion3d(path, fps=30)
        assert 200 < len(motion.joints) < 400  # 8-9 s at 30 fps (resampled from 120 fps)
        assert _bone_drift(motion) < 1e-4
        ankles = _ankle_heights(motion)
        assert ankles.min() > -0.02 and np.percentile(ankles, 90) < 0.25
        standing = motion.joints[:, JOINT["nose"], 1] - motion.joints[:, [JOINT["right_ankle"], JOINT["left_ankle"]],
                                                                      1].min(1)
        assert 1.2 < np.median(standing) < 1.8  # scaled to a 1.7 m tall rest pose
    native = load_motion3d(shared_data / "mocap" / "cmu_bvh" / "131_01.bvh", fps=None)
    assert native.fps == pytest.approx(120, abs=0.1) and len(native.joints) == 994
    poses = read_poses(shared_data / "mocap" / "cmu_bvh" / "131_01.bvh")  # through posefiles
    assert len(poses) == 994 and poses.conf.min() == 1


def test_projection_views_and_image_fit(shared_data: Path):
    clip = shared_data / "mocap" / "deepmimic" / "humanoid3d_walk.txt"
    motion = load_motion3d(clip, fps=30)
    front, side, back = (project(motion, yaw) for yaw in (0, 90, 180))
    rs, ls = JOINT["right_shoulder"], JOINT["left_shoulder"]
    # Facing the camera, the subject's right shoulder is on the image's left; from behind, on its right.
    assert (front[:, rs, 0] < front[:, ls, 0]).all() and (back[:, rs, 0] > back[:, ls, 0]).all()
    width = np.abs(front[:, rs, 0] - front[:, ls, 0]).mean()
    assert np.abs(side[:, rs, 0] - side[:, ls, 0]).mean() < 0.3 * width
    # Walking forward: seen from the side the body moves across the image, from the front it does not.
    hips = JOINT["right_hip"]
    assert abs(side[-1, hips, 0] - side[0, hips, 0]) > 0.8
    assert abs(front[-1, hips, 0] - front[0, hips, 0]) < 0.2
    weak = project(motion, 0, "weak", distance=3.0)
    assert not np.allclose(weak, front)
    poses, label = load_mocap(clip, yaw=45, fps=60, size=128)
    assert label == "walk" and poses.fps == 60 and len(poses) == pytest.approx(2 * len(motion.joints), abs=2)
    assert poses.xy.min() >= 0 and poses.xy.max() <= 127 and (poses.width, poses.height) == (128, 128)


def test_wrap_clips_loop_without_jumps(shared_data: Path):
    motion = load_motion3d(shared_data / "mocap" / "deepmimic" / "humanoid3d_walk.txt", fps=30, min_frames=150)
    assert len(motion.joints) >= 150
    hips = motion.joints[:, JOINT["right_hip"]]
    steps = np.linalg.norm(np.diff(hips, axis=0), axis=-1)
    assert steps.max() < 3 * np.median(steps)  # the seams between cycles are as smooth as the rest
    assert hips[-1, 0] - hips[0, 0] > 4  # about 1.2 m per 1.27 s cycle


def test_label_from_name():
    assert label_from_name("data/humanoid3d_walk.txt") == "walk"
    assert label_from_name("Jump.bvh") == "jump"


def test_bad_mocap_files(tmp_path: Path, shared_data: Path):
    bad = tmp_path / "broken.bvh"
    bad.write_text("HIERARCHY\nROOT Hips\n{\nOFFSET 0 0 0\nCHANNELS 3 Xposition Yposition Zposition\n}\n"
                   "MOTION\nFrames: 2\nFrame Time: 0.1\n0 0 0\n1 1\n")
    with pytest.raises(PosevidError, match="broken.bvh"):
        load_motion3d(bad)
    clip = tmp_path / "humanoid3d_walk.txt"
    clip.write_text((shared_data / "mocap" / "deepmimic" / "humanoid3d_walk.txt").read_text())
    with pytest.raises(PosevidError, match="character"):
        load_motion3d(clip)


def test_motion_dataset_command(tmp_path: Path, shared_data: Path):
    mocap = shared_data / "mocap"
    extracted = tmp_path / "my_clip.npz"
    walk, _ = load_mocap(mocap / "deepmimic" / "humanoid3d_walk.txt", fps=25, size=300)
    xy = walk.xy.copy()
    conf = walk.conf.copy()
    conf[::7, JOINT["left_ear"]] = 0  # a pose file with a few missing joints, like an extracted one
    xy[conf == 0] = 0
    write_poses(extracted, Poses(xy, conf, 300, 300, 25))
    labels = tmp_path / "labels.json"
    labels.write_text(json.dumps({"my_clip.npz": "walk", "131_01": "walk"}))
    out = tmp_path / "motion"
    result = CliRunner().invoke(app, ["motion", "dataset", str(mocap / "deepmimic" / "humanoid3d_walk.txt"),
                                      str(mocap / "deepmimic" / "humanoid3d_crawl.txt"),
                                      str(mocap / "cmu_bvh" / "131_01.bvh"), str(extracted), "-o", str(out),
                                      "--labels", str(labels), "--frames", "16", "--yaws", "0,90,180"])
    assert result.exit_code == 0, result.output
    assert "data.labels=[crawl,walk]" in result.output
    index = json.loads((out / "index.json").read_text())
    assert index["labels"] == ["crawl", "walk"] and index["test"] > 0 and index["train"] > index["test"]
    train = MotionDataset(out, "train", frames=12, flip=True)
    item = train[(0, 1)]
    assert item["xy"].shape == (12, 18, 2) and item["conf"].shape == (12, 18)
    assert float(item["xy"].abs().max()) <= 1
    assert set(train.label.tolist()) == {0, 1}
    only_walk = MotionDataset(out, "test", labels=["walk"])
    assert (only_walk.label == 0).all() and len(only_walk) < index["test"]
    with pytest.raises(PosevidError, match="dance"):
        MotionDataset(out, "train", labels=["dance"])
    # Missing joints stay missing (conf 0, xy 0); the rest is fitted into the square.
    z = np.load(out / "sequences.npz")
    assert ((z["conf"] == 0) == np.all(z["xy"] == 0, axis=-1)).all() and (z["conf"] == 0).any()


def test_motion_dataset_rejects_bad_input(tmp_path: Path):
    (tmp_path / "notes.md").write_text("hello")
    with pytest.raises(PosevidError, match="notes.md"):
        write_motion_dataset([tmp_path / "notes.md"], tmp_path / "out")
    with pytest.raises(PosevidError, match="no mocap"):
        write_motion_dataset([tmp_path], tmp_path / "out")
    assert not (tmp_path / "out" / "index.json").exists()
