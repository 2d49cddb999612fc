"""``posevid evaluate`` end to end on real frames: perfect against itself, worse under degradations,
missing weights reported, bad input refused, and reconstruction of a prepared test split."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from posevid.cli import app
from posevid.errors import PosevidError
from posevid.evaluate import evaluate_checkpoint, evaluate_videos
from posevid.metrics import LPIPS
from posevid.metrics.evaluator import METRICS
from posevid.video import open_video, write_image

FRAMES = 3


def _write(folder: Path, frames: list[np.ndarray]) -> Path:
    for i, frame in enumerate(frames):
        write_image(folder / f"{i:04d}.png", frame)
    return folder


def _degrade(kind: str, img: np.ndarray, index: int) -> np.ndarray:
    if kind == "blur":
        return cv2.GaussianBlur(img, (0, 0), 2.0)
    if kind == "noise":
        rng = np.random.default_rng(index)
        return np.clip(img + rng.normal(0, 12, img.shape), 0, 255).astype(np.uint8)
    shift = np.float32([[1, 0, 5], [0, 1, 4]])  # 5 px right, 4 px down: keypoints move by ~6.4 px
    return cv2.warpAffine(img, shift, img.shape[1::-1], borderMode=cv2.BORDER_REPLICATE)


@pytest.fixture(scope="module")
def frames(shared_data: Path) -> list[np.ndarray]:
    """Real frames of the squatting woman, 96x120 (W x H)."""
    with open_video(shared_data / "videos" / "tfjs_pose_squats.mp4") as reader:
        return [cv2.resize(f[200:1100, 0:720], (96, 120), interpolation=cv2.INTER_AREA)
                for f in itertools.islice(reader, FRAMES)]


@pytest.fixture(scope="module")
def real(frames: list[np.ndarray], tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _write(tmp_path_factory.mktemp("real"), frames)


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Random stand-ins for the weight files users bring: LPIPS-alex, VGG-19, Inception classifier."""
    from posevid.nets.vgg import _CFG

    folder = tmp_path_factory.mktemp("weights")
    torch.manual_seed(0)
    lpips = LPIPS("alex")
    state = {f"features.{k}": torch.randn_like(v) * 0.05 for k, v in lpips.features.state_dict().items()}
    state.update({f"lin{k}.model.1.weight": torch.rand_like(h.weight) for k, h in enumerate(lpips.heads)})
    torch.save(state, folder / "lpips.pth")
    vgg, index, ch = {}, 0, 3
    for v in _CFG:
        if v == "M":
            index += 1
            continue
        vgg[f"features.{index}.weight"] = torch.randn(int(v), ch, 3, 3) * (2 / (9 * ch)) ** 0.5
        vgg[f"features.{index}.bias"] = torch.zeros(int(v))
        index, ch = index + 2, int(v)
    torch.save(vgg, folder / "vgg19.pth")
    torch.save({"fc.weight": torch.randn(1008, 2048) * 0.05, "fc.bias": torch.zeros(1008)}, folder / "fc.pth")
    return {"lpips_weights": str(folder / "lpips.pth"), "vgg_weights": str(folder / "vgg19.pth"),
            "inception_classifier": str(folder / "fc.pth")}


@pytest.fixture(scope="module")
def self_run(real: Path, weights: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The CLI on the real clip against itself, with every weight file."""
    out = tmp_path_factory.mktemp("self")
    args = ["evaluate", str(real), str(real), "-o", str(out / "report.json"), "--plot", str(out / "plots"),
            "--lpips-weights", weights["lpips_weights"], "--vgg-weights", weights["vgg_weights"],
            "--inception-classifier", weights["inception_classifier"]]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "| fid |" in result.output
    return out


@pytest.fixture(scope="module")
def degraded(frames: list[np.ndarray], real: Path, weights: dict[str, str],
             tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    out = {}
    for kind in ("blur", "noise", "shift"):
        folder = _write(tmp_path_factory.mktemp(kind), [_degrade(kind, f, i) for i, f in enumerate(frames)])
        out[kind] = evaluate_videos(folder, real, **weights).metrics
    return out


def test_a_video_against_itself_is_perfect(self_run: Path) -> None:
    m = json.loads((self_run / "report.json").read_text())
    assert set(METRICS) <= set(m)
    assert m["meta"]["frames"] == {"clips": 1, "generated": FRAMES, "real": FRAMES, "paired": FRAMES,
                                   "person_frames": FRAMES}
    assert m["l1"] == 0 and m["masked_l1"] == 0 and m["lpips"] == 0 and m["perceptual"] == 0
    assert m["psnr"] == 100.0
    for name in ("ssim", "ms_ssim", "mask_ssim", "mask_ms_ssim"):
        assert m[name] == pytest.approx(1, abs=1e-6), name
    assert m["mask_lpips"] == 0
    assert m["st_lpips_alex"] == m["st_lpips_vgg"] == m["mask_st_lpips_alex"] == 0
    assert m["fid"] == pytest.approx(0, abs=1e-6)
    assert m["kid"] <= 0  # the unbiased estimate of 0 for identical sets
    assert m["akd"] == 0 and m["mkr"] == 0
    assert m["warp_error"] == m["warp_error_real"] > 0
    assert m["is"] == m["is_real"] > 1 and m["mask_is"] == m["mask_is_real"] > 1
    table = (self_run / "report.md").read_text()
    assert all(f"| {name} |" in table for name in METRICS)
    assert "| st_lpips_vgg | 0 | lower | ST-LPIPS (Ghildyal & Liu, ECCV 2022); not comparable with LPIPS |" in table
    assert "FID on 3 images (< 2048)" in table and "not comparable" in m["meta"]["warnings"][0]
    plots = sorted(p.name for p in (self_run / "plots").iterdir())
    assert {"l1.png", "ssim.png", "lpips.png", "akd.png", "warp_error.png"} <= set(plots)
    assert (self_run / "plots" / "ssim.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("kind", ["blur", "noise", "shift"])
def test_degradations_make_each_metric_worse(degraded: dict[str, dict], self_run: Path, kind: str) -> None:
    perfect = json.loads((self_run / "report.json").read_text())
    m = degraded[kind]
    for name in ("l1", "masked_l1", "lpips", "mask_lpips", "st_lpips_alex", "st_lpips_vgg", "mask_st_lpips_alex",
                 "perceptual", "fid", "kid"):
        assert m[name] > perfect[name] + 1e-6, name
    if kind == "blur":
        assert m["st_lpips_alex"] > 0.05 and m["st_lpips_vgg"] > 0.05
    for name in ("psnr", "ssim", "ms_ssim", "mask_ssim", "mask_ms_ssim"):
        assert m[name] < perfect[name] - 1e-4, name
    assert m["akd"] > (4.0 if kind == "shift" else 0.0)
    assert 0 <= m["mkr"] <= 1
    assert m["is"] != perfect["is"]
    assert m["warp_error_real"] == pytest.approx(perfect["warp_error_real"])
    if kind == "noise":  # frame-to-frame noise is what the warping error measures
        assert m["warp_error"] > 2 * m["warp_error_real"]
    elif kind == "blur":  # and blur smooths it away: the metric's known blind spot
        assert m["warp_error"] < m["warp_error_real"]
    else:  # a constant shift keeps the motion
        assert m["warp_error"] == pytest.approx(m["warp_error_real"], rel=0.5)


def test_st_lpips_of_mp4_files(frames: list[np.ndarray], tmp_path: Path) -> None:
    """`posevid evaluate a.mp4 a.mp4` gives ST-LPIPS 0; a blurred copy more than 0.05."""
    from posevid.video import VideoWriter

    for name, clip in (("a.mp4", frames[:2]), ("blurred.mp4", [_degrade("blur", f, 0) for f in frames[:2]])):
        with VideoWriter(tmp_path / name, 30) as writer:
            for f in clip:
                writer.write(f)
    values = {}
    for gen in ("a.mp4", "blurred.mp4"):
        out = tmp_path / gen.replace(".mp4", ".json")
        result = CliRunner().invoke(app, ["evaluate", str(tmp_path / gen), str(tmp_path / "a.mp4"), "-o", str(out)])
        assert result.exit_code == 0, result.output
        values[gen] = json.loads(out.read_text())
    assert values["a.mp4"]["st_lpips_alex"] == values["a.mp4"]["st_lpips_vgg"] == 0
    assert values["blurred.mp4"]["st_lpips_alex"] > 0.05 and values["blurred.mp4"]["st_lpips_vgg"] > 0.05


def test_missing_weights_and_too_few_frames_give_reasons(frames: list[np.ndarray], real: Path,
                                                         tmp_path: Path) -> None:
    one = _write(tmp_path / "one", frames[:1])
    m = evaluate_videos(one, one).metrics
    assert "--lpips-weights" in m["lpips"]["missing"] and "--lpips-weights" in m["mask_lpips"]["missing"]
    assert "--vgg-weights" in m["perceptual"]["missing"]
    assert "--inception-classifier" in m["is"]["missing"] and "--inception-classifier" in m["mask_is"]["missing"]
    assert "2 frames" in m["fid"]["missing"] and "2 frames" in m["kid"]["missing"]
    assert "2 paired frames" in m["warp_error"]["missing"]
    assert m["l1"] == 0 and m["akd"] == 0
    two = _write(tmp_path / "two", frames[1:3])
    m = evaluate_videos(two, real).metrics  # 2 generated frames against 5 real ones
    assert m["meta"]["frames"]["paired"] == 2 and m["meta"]["frames"]["real"] == FRAMES
    assert m["fid"] > 0 and m["l1"] > 0


def test_bad_input_is_refused_without_output(frames: list[np.ndarray], real: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    runner = CliRunner()
    result = runner.invoke(app, ["evaluate", str(tmp_path / "nope.mp4"), str(real), "-o", str(out)])
    assert isinstance(result.exception, PosevidError) and "nope.mp4" in str(result.exception)
    small = _write(tmp_path / "small", [cv2.resize(f, (48, 60)) for f in frames[:2]])
    with pytest.raises(PosevidError, match="48x60 but the real frame is 96x120"):
        evaluate_videos(small, real)
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"junk")
    result = runner.invoke(app, ["evaluate", str(real), str(real), "-o", str(out), "--lpips-weights", str(bad)])
    assert isinstance(result.exception, PosevidError) and "bad.pth" in str(result.exception)
    result = runner.invoke(app, ["evaluate", "-o", str(out)])
    assert isinstance(result.exception, PosevidError)
    assert not out.exists() and not (tmp_path / "report.md").exists()


def test_reconstruction_of_the_test_split_with_the_warp_method(tiny_data: Path) -> None:
    report = evaluate_checkpoint(tiny_data, method="warp", max_frames=3)
    m = report.metrics
    assert m["meta"]["test_clips"] == ["tfjs_pose_1_f90-120"] and m["meta"]["method"] == "warp"
    assert m["meta"]["frames"]["paired"] == 3 and m["meta"]["size"] == [64, 64]
    assert 0 < m["l1"] < 0.2 and 0 < m["ssim"] < 1 and m["fid"] > 0
    assert report.curves["l1"][0] < 0.05  # frame 0 is the source in its own pose
    with pytest.raises(PosevidError, match="needs trained weights"):
        evaluate_checkpoint(tiny_data, method="pg2")


def test_reconstruction_with_a_trained_checkpoint(tiny_data: Path, tmp_path: Path) -> None:
    from posevid.config import load_config
    from posevid.train import train

    repo = Path(__file__).resolve().parents[1]
    cfg = load_config(repo / "configs" / "pg2" / "tiny.yaml",
                      ["train.steps=2", "train.checkpoint_every=2", "train.tensorboard=false"])
    train(cfg, tiny_data, tmp_path / "run", show_progress=False)
    out = tmp_path / "pg2" / "report.json"
    args = ["evaluate", "--checkpoint", str(tmp_path / "run"), "--data", str(tiny_data), "--max-frames", "2",
            "-o", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    m = json.loads(out.read_text())
    assert m["meta"]["method"] == "pg2" and m["meta"]["frames"]["paired"] == 2
    assert 0 < m["l1"] < 1 and m["fid"] > 0
    with pytest.raises(PosevidError, match="not 'warp'"):
        evaluate_checkpoint(tiny_data, tmp_path / "run", method="warp")
