"""Metric functions on real frames: agreement with scikit-image / scipy, identity, and degradations."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import cv2
import numpy as np
import pytest
import scipy.linalg
import skimage.metrics
import torch

from posevid.errors import PosevidError
from posevid.metrics import (
    LPIPS,
    PSNR_CAP,
    InceptionFeatures,
    fid,
    inception_score,
    keypoint_errors,
    kid,
    l1,
    load_classifier,
    load_lpips,
    mask_ssim,
    masked_l1,
    ms_ssim,
    ms_ssim_scales,
    psnr,
    ssim,
    warp_error,
)
from posevid.tensors import image_to_tensor
from posevid.video import open_video


def _crop(frame: np.ndarray, size: tuple[int, int] = (96, 120)) -> np.ndarray:
    """The squatting woman (left part of the portrait video), resized to ``size`` (W, H)."""
    return cv2.resize(frame[200:1100, 0:720], size, interpolation=cv2.INTER_AREA)


@pytest.fixture(scope="module")
def frames(shared_data: Path) -> list[np.ndarray]:
    """16 consecutive real frames of the squats video, 96x120 (W x H)."""
    with open_video(shared_data / "videos" / "tfjs_pose_squats.mp4") as reader:
        return [_crop(f) for f in itertools.islice(reader, 16)]


@pytest.fixture(scope="module")
def dance(shared_data: Path) -> list[np.ndarray]:
    """4 consecutive 30 fps frames of the dancing video around the person, 128x128."""
    with open_video(shared_data / "videos" / "tfjs_pose_1.mp4") as reader:
        return [cv2.resize(f[100:500, 150:550], (128, 128), interpolation=cv2.INTER_AREA)
                for f in itertools.islice(reader, 4)]


def blur(img: np.ndarray) -> np.ndarray:
    return cv2.GaussianBlur(img, (0, 0), 2.0)


def noise(img: np.ndarray, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(img + rng.normal(0, 12, img.shape), 0, 255).astype(np.uint8)


def shift(img: np.ndarray, dx: int = 4, dy: int = 3) -> np.ndarray:
    """Content moved right by dx and down by dy, edges replicated."""
    return cv2.warpAffine(img, np.float32([[1, 0, dx], [0, 1, dy]]), img.shape[1::-1], borderMode=cv2.BORDER_REPLICATE)


def person_mask(img: np.ndarray) -> np.ndarray:
    """A rough (H, W) mask: the central vertical band where the person stands."""
    mask = np.zeros(img.shape[:2], np.float32)
    mask[10:-10, 20:-20] = 1
    return mask


def test_ssim_and_psnr_agree_with_scikit_image(frames: list[np.ndarray]) -> None:
    for a, b in [(frames[0], frames[1]), (frames[0], frames[5]), (frames[3], blur(frames[3]))]:
        ref_ssim = skimage.metrics.structural_similarity(a, b, channel_axis=2, gaussian_weights=True, sigma=1.5,
                                                         use_sample_covariance=False, data_range=255)
        assert ssim(a, b) == pytest.approx(ref_ssim, abs=5e-5)  # float32 against scikit-image's float64
        assert psnr(a, b) == pytest.approx(skimage.metrics.peak_signal_noise_ratio(b, a, data_range=255), abs=1e-9)
        assert l1(a, b) == pytest.approx(np.abs(a.astype(float) - b).mean() / 255)


def test_pixel_metrics_of_a_frame_against_itself_are_perfect(frames: list[np.ndarray]) -> None:
    a = frames[2]
    mask = person_mask(a)
    assert l1(a, a) == 0.0
    assert psnr(a, a) == PSNR_CAP
    assert ssim(a, a) == pytest.approx(1.0, abs=1e-6)
    assert ms_ssim(a, a) == pytest.approx(1.0, abs=1e-6)
    assert masked_l1(a, a, mask) == 0.0
    assert mask_ssim(a, a, mask) == pytest.approx(1.0, abs=1e-6)
    assert math.isnan(masked_l1(a, a, np.zeros_like(mask))) and math.isnan(mask_ssim(a, a, np.zeros_like(mask)))


@pytest.mark.parametrize("degrade", [blur, noise, shift])
def test_pixel_metrics_get_worse_under_degradation(frames: list[np.ndarray], degrade) -> None:
    a = frames[4]
    b = degrade(a)
    mask = person_mask(a)
    assert l1(a, b) > 0.005
    assert psnr(a, b) < 35
    assert ssim(a, b) < 0.95
    assert ms_ssim(a, b) < 0.99
    assert masked_l1(a, b, mask) > 0.005
    assert mask_ssim(a, b, mask) < 0.95
    stronger = degrade(b)  # applying it twice is worse still
    assert l1(a, stronger) > l1(a, b) and ssim(a, stronger) < ssim(a, b) and psnr(a, stronger) < psnr(a, b)


def test_mask_restricts_the_comparison(frames: list[np.ndarray]) -> None:
    a = frames[0]
    b = a.copy()
    b[:, :10] = 255 - b[:, :10]  # change only the left border, outside the mask
    mask = person_mask(a)
    assert l1(a, b) > 0.01
    assert masked_l1(a, b, mask) == 0.0
    assert mask_ssim(a, b, mask) == pytest.approx(1.0)


def test_ms_ssim_scales_fit_the_frame() -> None:
    assert [ms_ssim_scales(s, s) for s in (16, 32, 64, 128, 175, 176, 256)] == [1, 2, 3, 4, 4, 5, 5]
    rng = np.random.default_rng(1)
    for side in (24, 64, 100, 176):
        img = rng.integers(0, 256, (side, side, 3), dtype=np.uint8)
        assert 0 < ms_ssim(img, noise(img)) < 1


def _lpips_state(model: LPIPS, layout: str) -> dict[str, torch.Tensor]:
    """Random LPIPS weights saved as the lpips package or as torchvision features + heads."""
    torch.manual_seed(0)
    state = {}
    slice_of = {i: 1 + sum(i > t for t in model.taps) for i in range(len(model.features))}
    for key, value in model.features.state_dict().items():
        index = int(key.split(".")[0])
        prefix = "features." if layout == "torchvision" else f"net.slice{slice_of[index]}."
        state[prefix + key] = torch.randn_like(value) * 0.05
    for k, head in enumerate(model.heads):
        state[f"lin{k}.model.1.weight"] = torch.rand_like(head.weight)
    return state


@pytest.mark.parametrize(("backbone", "layout"), [("alex", "lpips"), ("vgg", "torchvision")])
def test_lpips_loads_weights_and_orders_degradations(tmp_path: Path, dance: list[np.ndarray], backbone: str,
                                                     layout: str) -> None:
    path = tmp_path / f"lpips_{backbone}.pth"
    torch.save(_lpips_state(LPIPS(backbone), layout), path)
    model = load_lpips(path)
    assert model.backbone == backbone

    def dist(a: np.ndarray, b: np.ndarray) -> float:
        t = [image_to_tensor(x)[None] for x in (a, b)]
        return float(model(*t)[0])

    a = dance[0] if backbone == "alex" else cv2.resize(dance[0], (64, 64), interpolation=cv2.INTER_AREA)
    assert dist(a, a) == 0.0
    for degrade in (blur, noise, shift):
        assert dist(a, degrade(a)) > 0
        assert dist(a, degrade(degrade(a))) > dist(a, degrade(a)) * 0.99


def test_bad_weight_files_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(PosevidError, match="not found"):
        load_lpips(tmp_path / "none.pth")
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a torch file")
    with pytest.raises(PosevidError, match="junk.pth"):
        load_lpips(junk)
    heads_only = tmp_path / "heads.pth"
    torch.save({f"lin{k}.model.1.weight": torch.ones(1, 64, 1, 1) for k in range(5)}, heads_only)
    with pytest.raises(PosevidError, match="no backbone"):
        load_lpips(heads_only)
    backbone_only = tmp_path / "backbone.pth"
    torch.save({k: v for k, v in _lpips_state(LPIPS("alex"), "torchvision").items() if "lin" not in k}, backbone_only)
    with pytest.raises(PosevidError, match="lin0"):
        load_lpips(backbone_only)
    wrong = tmp_path / "fc.pth"
    torch.save({"fc.weight": torch.zeros(10, 100)}, wrong)
    with pytest.raises(PosevidError, match="2048"):
        load_classifier(wrong)


def _reference_fid(a: np.ndarray, b: np.ndarray) -> float:
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = scipy.linalg.sqrtm(s1 @ s2).real
    return float(((a.mean(0) - b.mean(0)) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(root))


@pytest.mark.parametrize("n", [30, 300])  # the cross-Gram branch (N*M <= D^2) and the eigenvalue branch
def test_fid_matches_the_scipy_sqrtm_formula(n: int) -> None:
    rng = np.random.default_rng(n)
    a = rng.normal(size=(n, 16))
    b = rng.normal(size=(n + 7, 16)) @ rng.normal(size=(16, 16)) * 0.5 + 0.3
    assert fid(a, b) == pytest.approx(_reference_fid(a, b), rel=1e-6)
    assert fid(a, a) == pytest.approx(0.0, abs=1e-9)


def test_inception_fid_kid_on_real_frames(frames: list[np.ndarray]) -> None:
    net = InceptionFeatures()
    real = net(np.stack(frames[:12]))
    blurred = net(np.stack([blur(f) for f in frames[:12]]))
    assert real.shape == (12, 2048) and np.isfinite(real).all() and (real >= 0).all()
    assert np.allclose(net(frames[3][None]), real[3], atol=1e-4)  # batching does not change features
    self_fid, blur_fid = fid(real, real), fid(real, blurred)
    assert self_fid == pytest.approx(0.0, abs=1e-6)
    assert blur_fid > 10.0
    self_kid, blur_kid = kid(real, real)[0], kid(real, blurred)[0]
    assert blur_kid > 10 * abs(self_kid)
    assert kid(real, blurred, subset_size=8, subsets=20)[1] > 0  # subsets give a spread


def test_inception_score_bounds() -> None:
    rng = np.random.default_rng(0)
    features = rng.random((40, 2048))
    assert inception_score(features, np.zeros((10, 2048)))[0] == pytest.approx(1.0)  # uniform predictions
    confident = np.zeros((10, 2048))
    confident[np.arange(10), np.arange(10)] = 1e4  # class k wins for images whose feature k is largest
    peaked = np.zeros((40, 2048))
    peaked[np.arange(40), np.arange(40) % 10] = 1.0
    score, _ = inception_score(peaked, confident, splits=1)
    assert score == pytest.approx(10.0, rel=1e-3)  # 10 equally used, certain classes


def test_keypoint_errors() -> None:
    xy = np.array([[10, 10], [20, 30], [40, 50], [0, 0]], np.float32)
    conf = np.array([0.9, 0.8, 0.9, 0.0], np.float32)
    assert keypoint_errors(xy, conf, xy, conf) == (0.0, 0, 3)
    dist, lost, found = keypoint_errors(xy + [3, 4], conf, xy, conf)
    assert (dist, lost, found) == (pytest.approx(5.0), 0, 3)
    gen_conf = conf.copy()
    gen_conf[1] = 0.2  # below the threshold: missing in the generated frame
    dist, lost, found = keypoint_errors(xy, gen_conf, xy, conf)
    assert (dist, lost, found) == (0.0, 1, 3)
    assert math.isnan(keypoint_errors(xy, np.zeros(4), xy, conf)[0])


def test_warp_error(dance: list[np.ndarray]) -> None:
    a, b = dance[0], dance[1]
    assert warp_error(a, a) < 1e-6
    clean = warp_error(a, b)
    assert 0 < clean < 0.01
    assert warp_error(noise(a, 1), noise(b, 2)) > 3 * clean  # flicker that no motion explains
    assert warp_error(blur(a), blur(b)) < clean  # the known blind spot: blur looks more consistent
