"""PSGAN: trains on real mocap sequences, saves, resumes, and generates valid, recognisable motion."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from conftest import one_thread
from posevid.checkpoints import load_method
from posevid.cli import app
from posevid.config import load_config
from posevid.data.motion import MotionDataset, write_motion_dataset
from posevid.errors import PosevidError
from posevid.methods.psgan import PSGAN, export_checkpoint, generate_motion, soft_argmax
from posevid.methods.psgan.model import excess_acceleration, temporal_smooth
from posevid.motion_metrics import accuracy, train_classifier
from posevid.posefiles import read_poses
from posevid.poses import Poses
from posevid.train import train

REPO = Path(__file__).resolve().parents[1]
ACTIONS = ("walk", "crawl", "cartwheel")


@pytest.fixture(scope="module")
def motion_data(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three DeepMimic actions seen from two yaws, 16-frame windows."""
    out = tmp_path_factory.mktemp("motion")
    clips = [shared_data / "mocap" / "deepmimic" / f"humanoid3d_{a}.txt" for a in ACTIONS]
    write_motion_dataset(clips, out, frames=16, yaws=(0, 90))
    return out


def _cfg(steps: int, *extra: str) -> dict:
    return load_config(REPO / "configs" / "psgan" / "tiny.yaml",
                       [f"train.steps={steps}", f"train.checkpoint_every={steps}", "train.tensorboard=false", *extra])


@pytest.fixture(scope="module")
def trained(motion_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny config trained for 60 steps, in two halves (the second one resumed)."""
    run = tmp_path_factory.mktemp("psgan_run")
    cfg = _cfg(60)
    with one_thread():
        first = train(cfg, motion_data, run, show_progress=False, until=30)
        assert first["step"] == 30
        second = train(cfg, motion_data, run, resume=True, show_progress=False)
    assert second["step"] == 60
    return run


def test_soft_argmax_finds_peaks():
    logits = torch.full((1, 2, 3, 16, 16), -20.0)
    logits[0, 0, :, 4, 10] = 20  # joint 0 at x = 10, y = 4
    logits[0, 1, :, 15, 0] = 20
    xy = soft_argmax(logits)
    assert xy.shape == (1, 3, 2, 2)
    expected = (torch.tensor([[10.0, 4.0], [0.0, 15.0]]) * 2 + 1) / 16 - 1
    assert torch.allclose(xy[0, 0], expected, atol=1e-3)


def test_training_runs_and_resumes(trained: Path):
    lines = [json.loads(ln) for ln in (trained / "losses.jsonl").read_text().splitlines()]
    assert [ln["step"] for ln in lines] == list(range(1, 61))
    assert all(np.isfinite(v) for ln in lines for v in ln.values())
    first = np.mean([ln["d_adv"] for ln in lines[:10]])
    last = np.mean([ln["d_adv"] for ln in lines[-10:]])
    assert last < first  # the discriminator learns to tell real sequences from the generator's


def test_export_averages_the_generator_over_the_newest_checkpoints(trained: Path, tmp_path: Path):
    files = sorted((trained / "checkpoints").glob("step_*.ckpt"))[-2:]
    info = export_checkpoint(trained, tmp_path / "avg.ckpt", average=2)
    assert info["averaged"] == [int(f.stem.split("_")[1]) for f in files] and info["step"] == 60
    avg = load_method(tmp_path / "avg.ckpt").G.state_dict()
    a, b = (load_method(f).G.state_dict() for f in files)
    key = max(a, key=lambda k: (a[k].float() - b[k].float()).abs().max().item())  # a weight that changed
    assert (a[key] - b[key]).abs().max() > 1e-3
    assert torch.allclose(avg[key].float(), (a[key] + b[key]) / 2, atol=2e-3)  # float16 release weights
    with pytest.raises(PosevidError, match="step checkpoints"):
        export_checkpoint(trained, tmp_path / "x.ckpt", average=50)


def test_sequences_valid_and_recognisable(trained: Path, motion_data: Path):
    model = load_method(trained)
    assert isinstance(model, PSGAN) and model.labels == list(ACTIONS)
    train_set = MotionDataset(motion_data, "train", labels=model.labels)
    starts = np.arange(0, len(train_set), 4)
    init = torch.from_numpy(train_set.xy[starts, 0])
    conf = torch.from_numpy(train_set.conf[starts, 0])
    labels = torch.from_numpy(train_set.label[starts])
    gen = torch.Generator().manual_seed(0)
    seqs = model.generate(labels, init, conf, generator=gen)
    assert seqs.shape == (len(starts), 8, 18, 2)
    assert torch.isfinite(seqs).all() and seqs.abs().max() <= 1
    # Frames start at the initial pose and the body keeps its size (no collapse to a point).
    assert (seqs[:, 0] - init).norm(dim=-1).mean() < 0.1
    spread = seqs.std(dim=2).mean()
    assert spread > 0.5 * init.std(dim=1).mean()
    clf = train_classifier(train_set.xy, train_set.label, len(ACTIONS), 8, steps=150)
    real_acc = accuracy(clf, train_set.xy[starts, :8], train_set.label[starts])
    gen_acc = accuracy(clf, seqs.numpy(), labels.numpy())
    assert real_acc > 0.8
    assert gen_acc > 1 / len(ACTIONS) + 0.2, (gen_acc, real_acc)
    longer = model.generate(labels[:2], init[:2], conf[:2], frames=21, generator=gen)
    assert longer.shape == (2, 21, 18, 2) and torch.isfinite(longer).all()


def test_generate_motion_from_a_pixel_pose(trained: Path, motion_data: Path):
    data = MotionDataset(motion_data, "test", labels=list(ACTIONS))
    pix = (data.xy[0, :1] + 1) * 200 - 0.5 + np.array([50, 0], np.float32)  # a 500x400 image, off-centre
    source = Poses(pix, data.conf[0, :1], 500, 400)
    motion = generate_motion(trained, "walk", source, 20, seed=1)
    assert len(motion) == 20 and (motion.width, motion.height) == (500, 400) and motion.fps == 30
    assert (motion.conf == 1).all()
    start_error = np.linalg.norm(motion.xy[0] - source.xy[0], axis=-1).mean()
    assert start_error < 20  # pixels, for a body about 200 px tall
    other = generate_motion(trained, "walk", source, 20, seed=2)
    assert not np.allclose(other.xy, motion.xy)
    with pytest.raises(PosevidError, match="knows: walk, crawl, cartwheel"):
        generate_motion(trained, "swim", source, 20)


def test_smoothness_loss_costs_jitter_not_real_motion(motion_data: Path):
    data = MotionDataset(motion_data, "train", frames=16, labels=list(ACTIONS))
    xy, conf = torch.from_numpy(data.xy[:6, :16]), torch.from_numpy(data.conf[:6, :16])
    assert excess_acceleration(xy[None], xy, conf).item() == 0  # the real motion itself
    still = xy[:, :1].expand_as(xy)
    assert excess_acceleration(still[None], xy, conf).item() == 0  # slower than real: free
    ripple = xy + 0.02 * torch.tensor([1.0, -1.0]).repeat(8)[None, :, None, None]  # frame-to-frame zigzag
    assert excess_acceleration(ripple[None], xy, conf).item() > 0.03


def test_temporal_smooth_removes_zigzag_and_keeps_slow_motion():
    t = torch.arange(16.0)
    x = torch.stack([0.1 * t, (-1.0) ** t])[None]  # (1, 2, 16): a ramp and a frame-to-frame zigzag
    y = temporal_smooth(x, 5)
    assert y.shape == x.shape
    assert torch.allclose(y[0, 0, 2:-2], x[0, 0, 2:-2], atol=1e-6)  # linear motion passes untouched
    assert y[0, 1, 2:-2].abs().max() < 1e-6  # the zigzag is gone


def test_coordinate_decoder_trains(motion_data: Path):
    cfg = _cfg(2, "model.decoder=coords", "model.lambda_smooth=1", "model.pose_cond=true", "model.smooth=5")
    cfg["data"]["labels"] = list(ACTIONS)
    model = PSGAN(cfg)
    data = MotionDataset(motion_data, "train", frames=8, labels=list(ACTIONS))
    batch = {k: torch.stack([data[i][k] for i in range(4)]) for k in ("xy", "conf", "label")}
    losses = model.train_step(batch)
    assert all(np.isfinite(v) for v in losses.values()) and losses["smooth"] >= 0
    seqs = model.generate(batch["label"], batch["xy"][:, 0], batch["conf"][:, 0])
    assert seqs.shape == (4, 8, 18, 2)
    assert torch.allclose(seqs[:, 0], batch["xy"][:, 0], atol=1e-4)  # P_0 exactly, with P_0 in every layer


def test_label_film_starts_as_identity_and_then_lets_the_label_scale_the_decoder(motion_data: Path):
    cfg = _cfg(2, "model.decoder=coords", "model.encoder=coords", "model.pose_cond=true", "model.label_film=true")
    cfg["data"]["labels"] = list(ACTIONS)
    model = PSGAN(cfg)
    film = model.G.decode.film
    assert film is not None
    assert all(float((lin.weight.abs().sum() + lin.bias.abs().sum()).detach()) == 0 for lin in film)
    data = MotionDataset(motion_data, "train", frames=8, labels=list(ACTIONS))
    batch = {k: torch.stack([data[i][k] for i in range(4)]) for k in ("xy", "conf", "label")}
    for _ in range(2):  # the first step moves only the zero-initialised last conv, the second reaches the FiLM
        assert all(np.isfinite(v) for v in model.train_step(batch).values())
    assert any(float(lin.weight.detach().abs().sum()) > 0 for lin in film)  # the label's scales and shifts learn
    init, conf = batch["xy"][:1, 0].expand(3, -1, -1), batch["conf"][:1, 0].expand(3, -1)
    seqs = model.generate(torch.arange(3), init, conf, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(seqs[:, 0], init, atol=1e-4)


def test_motion_cli_generate_sample_evaluate(trained: Path, motion_data: Path, shared_data: Path, tmp_path: Path):
    runner = CliRunner()
    out = tmp_path / "walk.npz"
    photo = shared_data / "images" / "tfexamples_image2.jpeg"
    result = runner.invoke(app, ["motion", "generate", "--checkpoint", str(trained), "--action", "crawl",
                                 "--source", str(photo), "--frames", "12", "-o", str(out)])
    assert result.exit_code == 0, result.output
    poses = read_poses(out)
    assert len(poses) == 12 and (poses.width, poses.height) == (399, 640)
    samples = tmp_path / "samples"
    result = runner.invoke(app, ["motion", "sample", "--checkpoint", str(trained), "--data", str(motion_data),
                                 "-o", str(samples), "--starts", "2", "--samples", "2"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in samples.iterdir()) == sorted(ACTIONS)
    report = tmp_path / "motion.json"
    result = runner.invoke(app, ["evaluate", "--motion", str(samples), "--data", str(motion_data), "-o", str(report)])
    assert result.exit_code == 0, result.output
    metrics = json.loads(report.read_text())
    assert metrics["sequences"] == 12 and metrics["chance"] == pytest.approx(1 / 3)
    assert metrics["diversity"] > 0 and metrics["nearest_train"] > 0 and metrics["smoothness"] > 0
    assert 0 <= metrics["action_accuracy"] <= 1 and metrics["action_accuracy_real"] > 0.5
    video = tmp_path / "crawl.gif"
    result = runner.invoke(app, ["animate", str(photo), "--action", "crawl", "--motion-checkpoint", str(trained),
                                 "--frames", "6", "--size", "64", "-o", str(video)])
    assert result.exit_code == 0, result.output
    assert "6 frames, 40x64" in result.output  # the photo's aspect (399x640), longer side 64
    result = runner.invoke(app, ["animate", str(photo), "--action", "fly", "--motion-checkpoint", str(trained),
                                 "-o", str(video)])  # the user's model, not the bundled one: its three actions
    assert isinstance(result.exception, PosevidError) and str(result.exception).endswith("walk, crawl, cartwheel")
    result = runner.invoke(app, ["animate", str(photo), "--motion-checkpoint", str(trained), "-o", str(video)])
    assert isinstance(result.exception, PosevidError) and "--action" in str(result.exception)
