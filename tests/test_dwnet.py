"""DwNet: the DensePose coarse grid on synthetic IUV images, learning on a real clip, the Markovian
animator, save -> load -> animate."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from posevid.checkpoints import load_method
from posevid.config import load_config
from posevid.data.datasets import ClipDataset
from posevid.densepose import OCCLUDED, check_iuv, iuv_grid, iuv_grids, pixel_grid
from posevid.errors import PosevidError
from posevid.methods import build_method
from posevid.tensors import tensor_to_image
from posevid.train import train

REPO = Path(__file__).resolve().parents[1]
TINY = REPO / "configs" / "dwnet" / "tiny.yaml"
STEPS = 20


def _part(iuv: np.ndarray, part: int, y0: int, x0: int, mirror: bool = False) -> None:
    """Paint an 8x10 patch of ``part`` at (y0, x0): U grows along x (or against it if mirrored), V along y."""
    ys, xs = np.mgrid[0:8, 0:10]
    if mirror:
        xs = xs[:, ::-1]
    iuv[y0:y0 + 8, x0:x0 + 10] = np.stack([np.full_like(xs, part), xs * 25, ys * 30], -1)


def test_iuv_grid_maps_a_synthetic_pair():
    h = w = 32
    src, dst = np.zeros((h, w, 3), np.uint8), np.zeros((h, w, 3), np.uint8)
    _part(src, 3, 6, 4)
    _part(dst, 3, 16, 16, mirror=True)  # the same part moved and mirrored
    _part(dst, 7, 0, 20)  # a part the source does not show
    grid = iuv_grid(src, dst)
    img = torch.rand(1, 3, h, w)
    out = F.grid_sample(img, torch.from_numpy(grid)[None], align_corners=False)[0]
    # Every pixel of the moved part reads the source pixel with the same (U, V).
    assert torch.allclose(out[:, 16:24, 16:26], img[0, :, 6:14, 4:14].flip(-1), atol=1e-6)
    assert (grid[0:8, 20:30] == OCCLUDED).all()  # nothing to read for part 7
    assert (grid[6:14, 4:14] == OCCLUDED).all()  # background hidden behind the source body
    ident = pixel_grid(h, w)
    assert np.array_equal(grid[28:, :4], ident[28:, :4])  # plain background keeps the identity
    batched = iuv_grids(torch.from_numpy(np.stack([src, dst])).permute(0, 3, 1, 2).float(),
                        torch.from_numpy(np.stack([dst, src])).permute(0, 3, 1, 2).float())
    assert torch.equal(batched[0], torch.from_numpy(grid))
    assert torch.equal(batched[1], torch.from_numpy(iuv_grid(dst, src)))


def test_check_iuv_rejects_bad_images():
    with pytest.raises(PosevidError, match="iuv.png.*part index"):
        check_iuv(np.full((4, 4, 3), 200, np.uint8), "iuv.png")
    with pytest.raises(PosevidError, match=r"\(H, W, 3\)"):
        check_iuv(np.zeros((4, 4), np.uint8), "iuv.png")


def _synthetic_iuv_batch(size: int) -> dict[str, torch.Tensor]:
    """A clip batch of 1 with 3 frames whose IUV images hold one part moving right by 2 px per frame."""
    g = torch.Generator().manual_seed(0)
    iuvs = []
    for t in range(4):
        iuv = np.zeros((size, size, 3), np.uint8)
        _part(iuv, 2, 8, 4 + 2 * t)
        iuvs.append(torch.from_numpy(iuv).permute(2, 0, 1).float())
    xy = torch.rand(1, 4, 18, 2, generator=g) * size
    return {"src": torch.rand(1, 3, size, size, generator=g) * 2 - 1, "src_xy": xy[:, 0],
            "src_conf": torch.ones(1, 18), "src_iuv": iuvs[0][None],
            "frames": torch.rand(1, 3, 3, size, size, generator=g) * 2 - 1, "xy": xy[:, 1:],
            "conf": torch.ones(1, 3, 18), "iuv": torch.stack(iuvs[1:])[None]}


def test_iuv_model_trains_and_needs_iuv():
    cfg = load_config(TINY, ["data.size=32", "model.iuv=true", "model.res_blocks=1"])
    method = build_method(cfg)
    assert method.pose_ch == 21
    batch = _synthetic_iuv_batch(32)
    before = [p.detach().clone() for p in method.refine.parameters()]
    losses = method.train_step(batch)
    assert {"g_gan", "g_fm", "d_real", "d_fake", "rec_l1"} <= set(losses)
    assert all(np.isfinite(v) for v in losses.values())
    assert any(not torch.equal(a, b) for a, b in zip(before, method.refine.parameters()))
    del batch["iuv"]
    with pytest.raises(PosevidError, match="IUV"):
        method.train_step(batch)


@pytest.fixture(scope="module")
def trained(tiny_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny DwNet trained for STEPS steps on the real clip (seed 0); the run folder."""
    torch.manual_seed(0)
    run = tmp_path_factory.mktemp("dwnet") / "run"
    cfg = load_config(TINY, [f"train.steps={STEPS}", f"train.checkpoint_every={STEPS}", "train.tensorboard=false"])
    train(cfg, tiny_data, run, show_progress=False, log=lambda msg: None)
    return run


def test_dwnet_reconstruction_l1_falls(trained: Path):
    history = [json.loads(line) for line in (trained / "losses.jsonl").read_text().splitlines()]
    assert len(history) == STEPS
    rec = [h["rec_l1"] for h in history]
    first, last = np.mean(rec[:5]), np.mean(rec[-5:])
    assert last < 0.8 * first, (first, last)
    assert all(np.isfinite(h["g_gan"]) and np.isfinite(h["d_real"]) for h in history)
    # No weights file given: the perceptual term is ST-LPIPS's VGG-16 from the stlpips-pytorch wheel, on.
    assert all(h["g_vgg"] > 0 for h in history)
    assert (trained / "samples").is_dir()


def _test_clip(root: Path) -> tuple[np.ndarray, np.ndarray, ClipDataset]:
    test = ClipDataset(root, "test", frames=1, source=False)
    first = test.frame(0, 0)
    rgb = tensor_to_image(first["image"])
    return rgb, first["mask"][0].numpy(), test


def test_saved_dwnet_animates_markovian(trained: Path, tiny_data: Path):
    method = load_method(trained)
    assert method.name == "dwnet" and not method.training
    source, mask, test = _test_clip(tiny_data)
    poses = test.poses[0]
    animator = method.animator()
    frames = list(animator.animate(source, poses[0], (poses[t] for t in range(1, 6)), mask))
    assert len(frames) == 5
    assert all(f.shape == source.shape and f.dtype == np.uint8 for f in frames)
    # The trained model reconstructs the test frames better than a constant grey frame would.
    real = [((test.frame(0, t)["image"].permute(1, 2, 0).numpy() + 1) * 127.5) for t in range(1, 6)]
    err = np.mean([np.abs(f.astype(np.float32) - r).mean() for f, r in zip(frames, real)])
    assert err < np.mean([np.abs(128 - r).mean() for r in real])
    # Eq. 2: the first frame uses the source as the previous frame, so it equals G(s, P(s), s, P(s), P(d)).
    animator.reset(source, poses[0], mask)
    first = animator.step(poses[1])
    assert np.array_equal(first, frames[0])
    # Markovian: the same target after different previous frames gives different outputs...
    animator.reset(source, poses[0], mask)
    animator.step(poses[1])
    after_1 = animator.step(poses[3])
    animator.reset(source, poses[0], mask)
    animator.step(poses[5])
    after_5 = animator.step(poses[3])
    assert np.abs(after_1.astype(int) - after_5.astype(int)).mean() > 0.05
    # ... and the same history gives the same output (reset clears the state).
    animator.reset(source, poses[0], mask)
    animator.step(poses[1])
    assert np.array_equal(animator.step(poses[3]), after_1)
    # A larger source comes back at its own size.
    big = np.repeat(np.repeat(source, 2, 0), 2, 1)
    animator.reset(big, poses[0].rescale(128, 128), None)
    assert animator.step(poses[1].rescale(128, 128)).shape == big.shape


def test_iuv_animator_needs_iuv():
    cfg = load_config(TINY, ["data.size=32", "model.iuv=true", "model.res_blocks=1"])
    animator = build_method(cfg).animator()
    from posevid.poses import Poses

    pose = Poses(np.full((1, 18, 2), 16.0), np.ones((1, 18)), 32, 32)
    src = np.zeros((32, 32, 3), np.uint8)
    with pytest.raises(PosevidError, match="source.*IUV"):
        animator.reset(src, pose)
    iuv = np.zeros((32, 32, 3), np.uint8)
    _part(iuv, 2, 8, 4)
    animator.reset(src, pose, iuv=iuv)
    assert animator.step(pose, iuv=iuv).shape == (32, 32, 3)


def test_dwnet_resume_is_exact(tiny_data: Path, tmp_path: Path):
    cfg = load_config(TINY, ["data.size=32", "model.res_blocks=1", "train.steps=4", "train.checkpoint_every=2",
                             "train.tensorboard=false"])
    quiet = {"show_progress": False, "log": lambda msg: None}
    train(cfg, tiny_data, tmp_path / "straight", **quiet)
    train(cfg, tiny_data, tmp_path / "resumed", until=2, **quiet)
    train(cfg, tiny_data, tmp_path / "resumed", resume=True, **quiet)
    straight, resumed = ([json.loads(line) for line in (tmp_path / run / "losses.jsonl").read_text().splitlines()]
                         for run in ("straight", "resumed"))
    assert [h["step"] for h in resumed] == [1, 2, 3, 4]
    assert resumed == straight
