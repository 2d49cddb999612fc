"""Warping: part affines, dense grids and part-wise warping, checked on synthetic joints and real poses."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from posevid import render, skeleton, warp
from test_render import SIZE, load_clip_poses

HEAD, TORSO = skeleton.PART_NAMES.index("head"), skeleton.PART_NAMES.index("torso")


@pytest.fixture(scope="module")
def clip(shared_data):
    return load_clip_poses(shared_data)


def _random_poses(batch: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(batch, 18, 2, generator=g) * 100, torch.ones(batch, 18)


def _assert_close(actual: torch.Tensor, expected: torch.Tensor, atol: float = 1e-5, rtol: float = 1e-5) -> None:
    """Like ``torch.testing.assert_close`` (whose first call takes seconds to import its machinery)."""
    actual, expected = actual.detach(), expected.detach().to(actual.dtype).expand_as(actual)
    err = (actual - expected).abs() - rtol * expected.abs()
    assert float(err.max()) <= atol, float(err.max())


def _apply(a: torch.Tensor, xy: torch.Tensor) -> torch.Tensor:
    """(B, 2, 3) affines on (B, J, 2) points."""
    return (a[:, None, :, :2] @ xy[..., None])[..., 0] + a[:, None, :, 2]


def test_part_affines_recover_a_random_affine_on_head_and_torso():
    dst, conf = _random_poses(4, 0)
    g = torch.Generator().manual_seed(1)
    lin = torch.eye(2) + 0.3 * torch.randn(4, 2, 2, generator=g)
    true = torch.cat([lin, 10 * torch.randn(4, 2, 1, generator=g)], -1)
    src = _apply(true, dst)
    aff, valid = warp.fit_part_affines(src, conf, dst, conf)
    assert aff.shape == (4, 10, 2, 3) and valid.all()
    for part in (HEAD, TORSO):
        _assert_close(aff[:, part], true, atol=1e-3, rtol=1e-4)


@pytest.mark.parametrize("limbs", ["bone", "similarity"])
def test_part_affines_recover_a_random_similarity_on_every_part(limbs):
    dst, conf = _random_poses(4, 2)
    g = torch.Generator().manual_seed(3)
    angle, scale = 6.28 * torch.rand(4, generator=g), 0.5 + torch.rand(4, generator=g)
    rot = torch.stack([torch.stack([angle.cos(), -angle.sin()], -1), torch.stack([angle.sin(), angle.cos()], -1)], -2)
    true = torch.cat([scale[:, None, None] * rot, 20 * torch.randn(4, 2, 1, generator=g)], -1)
    aff = warp.part_affines(_apply(true, dst), conf, dst, conf, limbs=limbs)
    _assert_close(aff, true[:, None].expand(4, 10, 2, 3), atol=1e-3, rtol=1e-4)


def test_part_affines_fall_back_with_missing_joints():
    dst, conf = _random_poses(1, 4)
    src = dst + torch.tensor([5.0, -3.0])
    conf = conf.clone()
    conf[0, [2, 3]] = 0  # right shoulder and elbow: the right upper arm has none, the lower arm one joint
    aff, valid = warp.fit_part_affines(src, conf, dst, conf)
    upper, lower = skeleton.PART_NAMES.index("right_upper_arm"), skeleton.PART_NAMES.index("right_lower_arm")
    assert not valid[0, upper] and valid[0, lower] and valid.sum() == 9
    _assert_close(aff[0, upper], torch.eye(2, 3))
    _assert_close(aff[0, lower, :, 2], torch.tensor([5.0, -3.0]) + (torch.eye(2) - aff[0, lower, :, :2])
                               @ dst[0, 4], atol=1e-3, rtol=1e-4)
    # Collinear torso joints fall back from the affine to a similarity (no blow-up).
    line = dst.clone()
    line[0, list(skeleton.BODY_PARTS["torso"]), 1] = 50.0
    aff_line = warp.part_affines(line + 1, torch.ones(1, 18), line, torch.ones(1, 18))
    _assert_close(aff_line[0, TORSO], torch.tensor([[1.0, 0, 1], [0, 1, 1]]), atol=1e-4, rtol=1e-4)


def test_theta_conversion_and_translation_warp():
    img = torch.rand(2, 3, 20, 30)
    shift = torch.tensor([[1.0, 0, 3], [0, 1, -2]]).expand(2, 2, 3)  # output (x, y) reads source (x + 3, y - 2)
    theta = warp.pixel_to_theta(shift, 20, 30)
    _assert_close(warp.theta_to_pixel(theta, 20, 30), shift)
    grid = F.affine_grid(theta, [2, 3, 20, 30], align_corners=False)
    out = warp.warp(img, grid)
    _assert_close(out[:, :, 2:, :27], img[:, :, :18, 3:], atol=1e-5, rtol=1e-5)
    assert out[:, :, :, 27:].abs().max() == 0  # zeros padding
    _assert_close(warp.warp(img, warp.identity_grid(2, 20, 30)), img, atol=1e-5, rtol=1e-5)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert warp.warp(img.bfloat16(), warp.identity_grid(2, 20, 30)).dtype == torch.bfloat16


def test_dense_grid_is_identity_for_the_same_pose(clip):
    xy, conf = torch.from_numpy(clip[0][[0, 60]]), torch.from_numpy(clip[1][[0, 60]])
    grid = warp.dense_grid(xy, conf, xy, conf, SIZE, SIZE)
    assert grid.shape == (2, SIZE, SIZE, 2)
    body = (grid != warp.OUTSIDE).all(-1)
    labels = torch.stack([torch.from_numpy(render.pose_part_labels(xy[b], conf[b], SIZE, SIZE)) for b in range(2)])
    assert body[labels > 0].all() and body.float().mean() < 0.4
    _assert_close(grid[body], warp.identity_grid(2, SIZE, SIZE)[body], atol=1e-4, rtol=0)
    ident = warp.dense_grid(xy, conf, xy, conf, SIZE, SIZE, background="identity")
    _assert_close(ident, warp.identity_grid(2, SIZE, SIZE), atol=1e-4, rtol=0)
    # Batched = one at a time.
    single = warp.dense_grid(xy[1:], conf[1:], xy[:1], conf[:1], SIZE, SIZE, background="torso")
    both = warp.dense_grid(xy.flip(0), conf.flip(0), xy, conf, SIZE, SIZE, background="torso")
    _assert_close(both[:1], single)


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a > 0.5, b > 0.5
    return float((a & b).sum() / (a | b).sum())


@pytest.mark.parametrize("frames", [(0, 60), (60, 0), (0, 90)])
def test_warping_pose_a_onto_pose_b_overlaps_b(clip, frames):
    """Part masks of real frame A warped to frame B's pose match B's part masks far better than unwarped."""
    a, b = frames
    xy, conf = clip
    masks_a = render.part_masks(xy[a], conf[a], SIZE, SIZE)
    masks_b = render.part_masks(xy[b], conf[b], SIZE, SIZE)
    grid = warp.dense_grid(xy[a], conf[a], xy[b], conf[b], SIZE, SIZE)
    warped = warp.warp(torch.from_numpy(masks_a)[None], grid)[0].numpy()
    before, after = _iou(masks_a.max(0), masks_b.max(0)), _iou(warped.max(0), masks_b.max(0))
    parts_before = np.mean([_iou(masks_a[p], masks_b[p]) for p in range(10)])
    parts_after = np.mean([_iou(warped[p], masks_b[p]) for p in range(10)])
    assert after > 0.8 and after > before + 0.2, (before, after)
    assert parts_after > 0.65 and parts_after > parts_before + 0.2, (parts_before, parts_after)
    stick_a = render.stick_figure(xy[a], conf[a], SIZE, SIZE, thickness=3).max(-1) > 0
    stick_b = render.stick_figure(xy[b], conf[b], SIZE, SIZE, thickness=3).max(-1) > 0
    stick_warped = warp.warp(torch.from_numpy(stick_a.astype(np.float32))[None, None], grid)[0, 0].numpy()
    assert _iou(stick_warped, stick_b) > _iou(stick_a, stick_b) + 0.2


def test_warp_parts_is_eq1_and_differentiable(clip):
    xy, conf = torch.from_numpy(clip[0][[0]]), torch.from_numpy(clip[1][[0]])
    masks = torch.from_numpy(render.part_masks(xy[0], conf[0], SIZE, SIZE))[None]
    feats = (torch.randn(1, 4, SIZE // 2, SIZE // 2) - 0.5).requires_grad_()
    same, cover = warp.warp_parts(feats, masks, warp.part_affines(xy, conf, xy, conf), size=(SIZE, SIZE),
                                  merge="coverage", return_mask=True)
    inside = cover[0, 0] > 0.99
    assert same.shape == feats.shape and inside.float().mean() > 0.02
    # Same pose: every fully covered pixel keeps its (also negative) value; uncovered pixels are 0.
    _assert_close(same[0][:, inside], feats[0][:, inside], atol=1e-4, rtol=1e-4)
    assert same[0][:, cover[0, 0] == 0].abs().max() == 0
    moved = warp.warp_parts(feats, masks, warp.part_affines(xy[:, :] + 8, conf, xy, conf), size=(SIZE, SIZE))
    moved.square().sum().backward()
    assert feats.grad is not None and feats.grad.abs().sum() > 0
    # Non-negative features: the max over covering parts equals the plain max of eq. 1.
    pos = feats.detach().abs()
    aff = warp.part_affines(torch.from_numpy(clip[0][[60]]), conf, xy, conf)
    theta = warp.pixel_to_theta(aff, SIZE, SIZE)[0]
    small = F.interpolate(masks, size=pos.shape[-2:], mode="bilinear", align_corners=False)[0]
    plain = torch.stack([F.grid_sample(pos * small[p], F.affine_grid(theta[p:p + 1], [1, 4, *pos.shape[-2:]],
                                                                     align_corners=False), align_corners=False)
                         for p in range(10)]).amax(0)
    _assert_close(warp.warp_parts(pos, masks, aff, size=(SIZE, SIZE)), plain, atol=1e-5, rtol=1e-5)


def test_missing_poses_give_an_empty_person(clip):
    xy, conf = clip[0][0], clip[1][0]
    none_xy, none_conf = np.zeros((18, 2), np.float32), np.zeros(18, np.float32)
    for src, dst in (((xy, conf), (none_xy, none_conf)), ((none_xy, none_conf), (xy, conf))):
        grid = warp.dense_grid(*src, *dst, SIZE, SIZE)
        assert grid.shape == (1, SIZE, SIZE, 2) and (grid == warp.OUTSIDE).all()
    ident = warp.dense_grid(none_xy, none_conf, xy, conf, SIZE, SIZE, background="identity")
    _assert_close(ident, warp.identity_grid(1, SIZE, SIZE))
    with pytest.raises(ValueError):
        warp.dense_grid(xy, conf, xy, conf, SIZE, SIZE, background="mirror")
