"""PG2 on pairs from the real tiny clip at 64x64: stage I overfits (masked L1 falls), stage II starts from
the stage-I checkpoint and refines below it, the ablation switches build and train, the PG2/PATN CSV
readers, and single-image transfer / animation through a trained checkpoint."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from torch.utils.data import Dataset, default_collate
from typer.testing import CliRunner

from conftest import one_thread
from posevid.checkpoints import load_method
from posevid.config import load_config
from posevid.data import ClipDataset, build_dataset, register_dataset
from posevid.errors import PosevidError
from posevid.losses import pose_mask_l1
from posevid.methods import build_method
from posevid.methods.pg2 import pose_masks
from posevid.posefiles import write_poses
from posevid.poses import Poses
from posevid.train import train

REPO = Path(__file__).resolve().parents[1]
N_PAIRS = 4
SMALL = {"blocks": 4, "hidden": 8, "z_dim": 32, "heatmap_radius": 2, "d_base": 8}


class FixedPairs(Dataset):
    """The same ``N_PAIRS`` (source, target) pairs of the tiny train clip, whatever the sampler's seed."""

    def __init__(self, root: Path):
        clips = ClipDataset(root, "train", frames=1, source=True, flip=False)
        self.items = [clips[(i * 23) % len(clips)] for i in range(N_PAIRS)]

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, key: int | tuple[int, int]) -> dict[str, torch.Tensor]:
        return self.items[key[0] if isinstance(key, (tuple, list)) else key]


@register_dataset("pg2_test_fixed_pairs")
def _fixed(cfg: dict, root: Path, split: str) -> FixedPairs:
    return FixedPairs(root)


def tiny_cfg(**model) -> dict:
    """configs/pg2/tiny.yaml with small widths and a fast learning rate."""
    cfg = load_config(REPO / "configs" / "pg2" / "tiny.yaml")
    cfg["model"].update(SMALL, **model)
    cfg["train"].update(lr=1e-3, amp=True, tensorboard=False)
    return cfg


def masked_l1(method, batch: dict[str, torch.Tensor], refined: bool) -> float:
    """PG2's pose-mask L1 of the coarse (or refined) output on ``batch``."""
    src, tgt, xy, conf = batch["src"], batch["frames"][:, 0], batch["xy"][:, 0], batch["conf"][:, 0]
    with torch.no_grad():
        out = method.generate(src, xy, conf) if refined else method.coarse(src, xy, conf).clamp(-1, 1)
    return pose_mask_l1(out, tgt, pose_masks(xy, conf, 64, 64)).item()


def losses(run: Path) -> list[dict[str, float]]:
    return [json.loads(line) for line in (run / "losses.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def runs(tiny_data: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Stage I (40 steps) then stage II (60 steps, from stage I) on fixed pairs, by one ``train`` call."""
    out = tmp_path_factory.mktemp("pg2_runs")
    torch.manual_seed(0)
    batch = default_collate(FixedPairs(tiny_data).items)
    cfg = tiny_cfg()
    cfg["data"]["kind"] = "pg2_test_fixed_pairs"
    cfg["train"].update(batch_size=N_PAIRS)
    cfg["stages"] = {"g1": {"train": {"steps": 40, "checkpoint_every": 40}},
                     "g2": {"train": {"steps": 60, "checkpoint_every": 60}}}
    fresh = build_method(cfg)
    before = masked_l1(fresh, batch, refined=False)
    with one_thread():
        result = train(cfg, tiny_data, out, show_progress=False, log=lambda msg: None)
    assert result["stage"] == "g2" and result["step"] == 60
    return {"g1": out / "1-g1", "g2": out / "2-g2", "run": out, "batch": batch, "before": before}


def test_stage1_overfits_pairs(runs: dict) -> None:
    g1 = load_method(runs["g1"])
    after = masked_l1(g1, runs["batch"], refined=False)
    logged = [r["l1"] for r in losses(runs["g1"])]
    assert after < 0.5 * runs["before"], (runs["before"], after)
    assert np.mean(logged[-5:]) < 0.5 * np.mean(logged[:3]), logged
    assert int(g1.g1_steps) == 40


def test_stage2_starts_from_stage1_and_refines(runs: dict) -> None:
    g1, g2 = load_method(runs["g1"]), load_method(runs["g2"])
    assert g2.opts.stage == "g2" and load_method(runs["run"]).opts.stage == "g2"  # the run's model: its last stage
    # G1 came from the stage-I run and stayed frozen through stage II.
    for name, tensor in g1.g1.state_dict().items():
        assert torch.equal(tensor, g2.g1.state_dict()[name]), name
    rows = losses(runs["g2"])
    assert all(np.isfinite(list(r.values())).all() for r in rows)
    # The discriminator learns to tell (I_A, I_B) from (I_A, I_B2) pairs.
    d_first = rows[0]["d_real"] + rows[0]["d_fake"]
    d_late = np.median([r["d_real"] + r["d_fake"] for r in rows[len(rows) // 2:]])
    assert d_late < 0.5 * d_first, (d_first, d_late)
    # The difference map brings I_B2 closer to I_B than the stage-I result.
    coarse = masked_l1(g2, runs["batch"], refined=False)
    refined = masked_l1(g2, runs["batch"], refined=True)
    assert coarse == pytest.approx(masked_l1(g1, runs["batch"], refined=False), abs=1e-6)
    assert refined < 0.95 * coarse, (coarse, refined)


def test_stage2_refuses_untrained_g1(runs: dict) -> None:
    cfg = tiny_cfg(stage="g2")
    with pytest.raises(PosevidError, match="init_from"):
        build_method(cfg).train_step(runs["batch"])


@pytest.mark.parametrize("model", [
    {"pose_embedding": "coordinate", "loss": "l1"},
    {"pose_embedding": "heatmap_encoder", "loss": "l1"},
    {"pose_embedding": "heatmap", "loss": "l1"},
    {"pose_embedding": "heatmap", "loss": "pose_mask", "stage": "g1_d"},
])
def test_ablations_build_and_train(runs: dict, model: dict) -> None:
    torch.manual_seed(0)
    method = build_method(tiny_cfg(**model))
    batch = runs["batch"]
    start = {k: v.clone() for k, v in method.g1.state_dict().items()}
    out = [method.train_step(batch) for _ in range(3)]
    assert all(np.isfinite(list(o.values())).all() for o in out)
    assert set(out[0]) >= ({"l1", "g_adv", "d_real", "d_fake"} if model.get("stage") == "g1_d" else {"l1"})
    assert any(not torch.equal(start[k], v) for k, v in method.g1.state_dict().items())
    # The generated image depends on the target pose, whatever the embedding.
    src, xy, conf = batch["src"][:1], batch["xy"][:1, 0], batch["conf"][:1, 0]
    moved = method.generate(src, xy.flip(-1), conf)
    assert moved.shape == (1, 3, 64, 64)
    assert not torch.allclose(method.generate(src, xy, conf), moved)


def _write_patn_folder(root: Path, shared_data: Path) -> dict[str, tuple[list[int], list[int]]]:
    """A Market-1501-like folder: 3 real 128x64 crops, an annotation CSV and a pair list."""
    photo = cv2.imread(str(shared_data / "images" / "tfexamples_image2.jpeg"))
    (root / "train").mkdir(parents=True)
    names = ["0002_c1s1_000451_03.jpg", "0002_c1s1_000551_01.jpg", "0007_c2s3_070952_01.jpg"]
    for i, name in enumerate(names):
        crop = photo[i * 20:i * 20 + 600, i * 10:i * 10 + 300]
        cv2.imwrite(str(root / "train" / name), cv2.resize(crop, (64, 128)))
    rng = np.random.default_rng(0)
    ann = {}
    for name in names:
        ys, xs = rng.integers(5, 120, 18).tolist(), rng.integers(3, 60, 18).tolist()
        ys[3], xs[3] = -1, -1
        ann[name] = (ys, xs)
    rows = ["name:keypoints_y:keypoints_x"] + [f"{n}: {y}: {x}" for n, (y, x) in ann.items()]
    (root / "market-annotation-train.csv").write_text("\n".join(rows) + "\n")
    pairs = [f"{names[0]},{names[1]}", f"{names[1]},{names[2]}"]
    (root / "market-pairs-train.csv").write_text("from,to\n" + "\n".join(pairs) + "\n")
    return ann


def test_pg2_pair_csv_reader(tmp_path: Path, shared_data: Path) -> None:
    root = tmp_path / "market_data"
    ann = _write_patn_folder(root, shared_data)
    ds = build_dataset({"kind": "pg2_pairs", "size": 64, "width": 32}, root, "train")
    assert len(ds) == 2
    item = ds[1]
    assert item["src"].shape == (3, 64, 32) and item["frames"].shape == (1, 3, 64, 32)
    assert item["masks"].shape == (1, 1, 64, 32) and item["masks"].sum() > 0
    ys, xs = ann["0007_c2s3_070952_01.jpg"]
    conf = item["conf"][0]
    assert conf[3] == 0 and conf.sum() == 17
    expected = np.stack([np.array(xs) * 0.5, np.array(ys) * 0.5], -1)
    np.testing.assert_allclose(item["xy"][0][conf > 0].numpy(), expected[conf.numpy() > 0], atol=1e-4)
    # Flipping mirrors images and keypoints together; the item's seed decides it.
    flipping = build_dataset({"kind": "pg2_pairs", "size": 64, "width": 32, "flip": True}, root, "train")
    flipped = [flipping[(1, s)] for s in range(8)]
    mirrored = [f for f in flipped if not torch.equal(f["src"], item["src"])]
    assert 0 < len(mirrored) < 8
    assert torch.equal(mirrored[0]["src"], item["src"].flip(-1))
    # A batch of market-shaped pairs trains a step.
    cfg = tiny_cfg()
    cfg["data"] = {"kind": "pg2_pairs", "size": 64, "width": 32}
    method = build_method(cfg)
    assert np.isfinite(method.train_step(default_collate([ds[0], ds[1]]))["l1"])


def test_pg2_csv_errors(tmp_path: Path, shared_data: Path) -> None:
    root = tmp_path / "market_data"
    _write_patn_folder(root, shared_data)
    (root / "market-pairs-train.csv").write_text("from,to\n0002_c1s1_000451_03.jpg,nobody.jpg\n")
    with pytest.raises(PosevidError, match="nobody.jpg has no keypoints"):
        build_dataset({"kind": "pg2_pairs", "size": 64}, root, "train")
    (root / "market-pairs-train.csv").write_text("a;b\n")
    with pytest.raises(PosevidError, match="header"):
        build_dataset({"kind": "pg2_pairs", "size": 64}, root, "train")
    (root / "market-pairs-train.csv").write_text("from,to\nx.jpg,x.jpg\n")
    (root / "market-annotation-train.csv").write_text("name:keypoints_y:keypoints_x\nx.jpg: [1, 2]: [3, 4]\n")
    with pytest.raises(PosevidError, match="market-annotation-train.csv"):
        build_dataset({"kind": "pg2_pairs", "size": 64}, root, "train")


def test_configs_build() -> None:
    for name, size in [("deepfashion", (256, 256)), ("market", (128, 64)), ("video", (256, 256))]:
        cfg = load_config(REPO / "configs" / "pg2" / f"{name}.yaml")
        cfg["model"]["hidden"] = 2  # the paper's widths are large; the shapes are what is checked here
        method = build_method(cfg)
        assert (method.height, method.width) == size
        assert cfg["train"]["lr"] == 2e-5 and cfg["train"]["betas"] == [0.5, 0.999] and cfg["data"]["flip"]
    with pytest.raises(PosevidError, match="divisible"):
        build_method(tiny_cfg(blocks=5) | {"data": {"size": 72}})
    with pytest.raises(PosevidError, match="pose_embedding: must be one of heatmap"):
        build_method(tiny_cfg(pose_embedding="stick"))


def test_transfer_command(runs: dict, shared_data: Path, tmp_path: Path) -> None:
    from posevid.cli import app

    source = shared_data / "images" / "tfexamples_image2.jpeg"
    target = shared_data / "images" / "tfexamples_image1.png"
    out = tmp_path / "out.png"
    result = CliRunner().invoke(app, ["transfer", str(source), str(target), "-o", str(out),
                                      "--checkpoint", str(runs["g2"])])
    assert result.exit_code == 0, result.output
    img = cv2.imread(str(out))
    assert img.shape == (640, 400, 3) and img.std() > 1  # the photo's frame (399x640, even sides)
    # A pose file as the target, and an explicit output size.
    pose = Poses(runs["batch"]["xy"][0].numpy(), runs["batch"]["conf"][0].numpy(), 64, 64)
    write_poses(tmp_path / "pose.npz", pose)
    result = CliRunner().invoke(app, ["transfer", str(source), str(tmp_path / "pose.npz"), "-o", str(out),
                                      "--checkpoint", str(runs["g2"]), "--size", "96"])
    assert result.exit_code == 0, result.output
    assert cv2.imread(str(out)).shape == (96, 60, 3)  # --size: the longer side
    bad = CliRunner().invoke(app, ["transfer", str(source), str(tmp_path / "nothing.npz"), "-o",
                                   str(tmp_path / "bad.png"), "--checkpoint", str(runs["g2"])])
    assert bad.exit_code != 0 and not (tmp_path / "bad.png").exists()


def test_animator_scales_source_and_poses(runs: dict, tiny_data: Path) -> None:
    method = load_method(runs["g2"])
    clips = ClipDataset(tiny_data, "test", frames=1, source=False)
    poses = clips.poses[0][::10][:3]
    source = cv2.cvtColor(cv2.imread(str(tiny_data / clips.clips[0] / "frames" / "000000.png")), cv2.COLOR_BGR2RGB)
    big = poses.rescale(128, 96)
    frames = list(method.animator().animate(cv2.resize(source, (128, 96)), big[0], iter(big)))
    assert len(frames) == 3 and all(f.shape == (96, 128, 3) and f.dtype == np.uint8 for f in frames)
    # Each frame is the model's 64x64 output for the same pose, resized to the source's size.
    small = torch.from_numpy(cv2.resize(cv2.resize(source, (128, 96)), (64, 64), interpolation=cv2.INTER_AREA))
    src = small.permute(2, 0, 1)[None].float() / 127.5 - 1
    for frame, t in zip(frames, range(3)):
        out = method.generate(src, torch.from_numpy(poses.xy[t:t + 1]), torch.from_numpy(poses.conf[t:t + 1]))
        expected = ((out[0].permute(1, 2, 0) + 1) * 127.5).round().byte().numpy()
        assert np.abs(cv2.resize(expected, (128, 96)).astype(int) - frame).mean() < 1.0
