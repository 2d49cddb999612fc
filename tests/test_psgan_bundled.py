"""The PSGAN shipped with posevid: it loads, was made by the committed config, obeys the action label (by a
judge trained here on real sequences only), starts from the photo's pose, and chains without seams."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from posevid.cli import app
from posevid.config import load_config
from posevid.data.motion import build_motion_arrays
from posevid.methods.psgan import PSGAN, generate_motion, load_psgan
from posevid.motion_judge import predict, seam_velocity, train_judge
from posevid.posefiles import read_poses
from posevid.poses import Poses
from posevid.resources import motion_model

REPO = Path(__file__).resolve().parents[1]
JUDGED = ("walk", "run", "crawl", "jump", "punch", "cartwheel")


@pytest.fixture(scope="module")
def model() -> PSGAN:
    return load_psgan(None)


def test_bundled_model_is_small_and_made_by_the_committed_config(model: PSGAN) -> None:
    path = motion_model()
    assert path.stat().st_size < 5e6
    committed = load_config(REPO / "configs" / "psgan" / "mocap.yaml")
    for section in ("data", "model"):
        assert model.cfg[section] == committed[section], section
    assert model.labels == committed["data"]["labels"] and "walk" in model.labels
    assert model.bank.count == len(model.bank.poses)  # the pose bank is full


@pytest.fixture(scope="module")
def unseen(shared_data: Path) -> dict:
    """Six actions of the training clips seen from camera yaws the model was not trained on."""
    clips = [shared_data / "mocap" / "deepmimic" / f"humanoid3d_{a}.txt" for a in JUDGED]
    data, index = build_motion_arrays(clips, frames=32, yaws=(22.5, 112.5, 202.5, 292.5), test_fraction=0)
    return {"xy": data["xy"], "conf": data["conf"], "label": data["label"], "names": index["labels"]}


def test_bundled_model_obeys_the_label_from_other_actions_start_poses(model: PSGAN, unseen: dict) -> None:
    """From 4 start poses of each of 6 actions, every action is requested; a judge trained on real sequences
    of unseen camera yaws names the requested action far more often than it names that action when another
    one was requested (the label's effect; equal if G ignored the label)."""
    names, K = unseen["names"], len(unseen["names"])
    judge = train_judge(unseen["xy"], unseen["conf"], unseen["label"], names, frames=32, steps=150, batch=32)
    rng = np.random.default_rng(0)
    pick = np.concatenate([rng.choice(np.flatnonzero(unseen["label"] == k), 4, replace=False) for k in range(K)])
    init, conf = torch.from_numpy(unseen["xy"][pick, 0]), torch.from_numpy(unseen["conf"][pick, 0])
    gen = torch.Generator().manual_seed(0)
    seqs = np.stack([model.generate(torch.full((len(pick),), model.label_index(n)), init, conf, 32,
                                    generator=gen).numpy() for n in names])  # (K requested, starts, T, J, 2)
    assert np.allclose(seqs[:, :, 0], init.numpy()[None], atol=1e-4)  # every sequence starts at P_0
    pred = predict(judge, seqs.reshape(-1, *seqs.shape[2:])).reshape(K, len(pick))
    start = unseen["label"][pick]
    requested = np.mean([(pred[k][start != k] == k).mean() for k in range(K)])
    unrequested = np.mean([(pred[j][start != k] == k).mean() for k in range(K) for j in range(K) if j != k])
    as_start = np.mean([(pred[k][start != k] == start[start != k]).mean() for k in range(K)])
    assert requested >= 0.35 and requested > 4 * unrequested and requested > as_start, (requested, unrequested,
                                                                                         as_start)


def test_chained_samples_have_no_seam_jump(model: PSGAN, unseen: dict) -> None:
    T, overlap = model.frames, model.chain_overlap
    pick = np.arange(0, len(unseen["xy"]), max(1, len(unseen["xy"]) // 24))
    labels = torch.tensor([model.label_index(unseen["names"][k]) for k in unseen["label"][pick]])
    long = model.generate(labels, torch.from_numpy(unseen["xy"][pick, 0]), torch.from_numpy(unseen["conf"][pick, 0]),
                          3 * (T - 1 - overlap) + 1, generator=torch.Generator().manual_seed(1)).numpy()
    seams = seam_velocity(long, T, overlap)
    assert seams["speed_ratio"] < 2 and seams["accel_ratio"] < 2, seams
    assert np.isfinite(long).all() and np.abs(long).max() < 10


def test_generated_motion_stays_in_place_unless_asked_to_travel(model: PSGAN, unseen: dict) -> None:
    pix = (unseen["xy"][0, :1] + 1) * 100
    standing = Poses(pix, np.ones((1, 18), np.float32), 200, 200)
    hips = [8, 11]  # right and left hip
    still = generate_motion(model, "walk", standing, 60, log=None)
    assert np.abs(still.xy[:, hips, 0].mean(1) - pix[0, hips, 0].mean()).max() < 1e-3
    moving = generate_motion(model, "walk", standing, 60, log=None, in_place=False)
    assert np.allclose(moving.xy[..., 1], still.xy[..., 1]) and not np.allclose(moving.xy, still.xy)


def test_far_or_incomplete_start_pose_is_reported_once(model: PSGAN, unseen: dict) -> None:
    pix = (unseen["xy"][0, :1] + 1) * 100
    standing = Poses(pix, np.ones((1, 18), np.float32), 200, 200)
    notes: list[str] = []
    motion = generate_motion(model, "walk", standing, 40, log=notes.append)
    assert not notes and len(motion) == 40
    assert np.abs(motion.xy[0] - pix[0]).max() < 1e-2
    # a pose no mocap clip has: every joint on one horizontal line
    flat = Poses(np.stack([np.linspace(20, 180, 18), np.full(18, 100.0)], -1)[None].astype(np.float32),
                 np.ones((1, 18), np.float32), 200, 200)
    notes.clear()
    generate_motion(model, "walk", flat, 70, log=notes.append)
    assert len(notes) == 1 and "training pose" in notes[0]
    # the ankles missing (a photo cut at the knees): taken from the nearest training pose, and said
    conf = np.ones((1, 18), np.float32)
    conf[0, [10, 13]] = 0
    notes.clear()
    cut = generate_motion(model, "walk", Poses(pix, conf, 200, 200), 8, log=notes.append)
    assert len(notes) == 1 and "right_ankle, left_ankle" in notes[0]
    assert np.linalg.norm(cut.xy[0, [10, 13]] - pix[0, [10, 13]], axis=-1).max() < 30  # near the real ankles


def test_action_without_a_checkpoint_end_to_end(shared_data: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["motion", "actions"])
    assert result.exit_code == 0 and "walk" in result.output.split()
    photo = shared_data / "images" / "tfexamples_image2.jpeg"
    out = tmp_path / "walk.npz"
    result = runner.invoke(app, ["motion", "generate", "--action", "walk", "--source", str(photo), "--frames", "70",
                                 "-o", str(out)])
    assert result.exit_code == 0, result.output
    poses = read_poses(out)
    assert len(poses) == 70 and (poses.width, poses.height) == (399, 640)
    video = tmp_path / "walk.gif"
    result = runner.invoke(app, ["animate", str(photo), "--action", "walk", "--frames", "10", "--size", "64",
                                 "-o", str(video)])
    assert result.exit_code == 0, result.output
    assert "10 frames, 40x64" in result.output  # the photo's aspect
    busy = shared_data / "images" / "animatex_ty_woman.jpg"  # found in a crop of the photo, as when animating
    result = runner.invoke(app, ["motion", "generate", "--action", "run", "--source", str(busy), "--frames", "8",
                                 "-o", str(tmp_path / "run.npz")])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["motion", "generate", "--action", "fly", "--source", str(photo), "-o", str(out)])
    assert result.exit_code != 0 and "walk" in str(result.exception) + result.output
