"""Pose-driven warping in torch: per-part affines, dense backward grids, part-wise warping (eq. 1).

Conventions (see docs/design.md): pixel coordinates have pixel centres at integers; grids are
``(B, H, W, 2)`` in ``grid_sample``'s normalised ``[-1, 1]`` ``(x, y)`` with ``align_corners=False``
and are *backward* (for each output pixel, where to read in the source). A pixel affine ``A`` of
shape ``(2, 3)`` maps a target pixel ``(x, y, 1)`` to a source pixel. Sampling always runs in fp32
outside autocast; everything is batched and differentiable with respect to the warped images/features.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .render import MIN_CONF, PART_PRIORITY, body_scale, part_labels, pose_part_labels
from .skeleton import BODY_PARTS, NUM_JOINTS, NUM_PARTS, PART_NAMES

OUTSIDE = -2.0  # grid value for "no source pixel": samples zeros with padding="zeros"
_MAX_PART_JOINTS = max(len(j) for j in BODY_PARTS.values())
_LIMB_PARTS = tuple(i for i, n in enumerate(PART_NAMES) if n not in ("head", "torso"))
_AFFINE_MIN_SPREAD = 0.01  # smallest / largest spread of a part's joints for a full affine fit
_LIMB_SCALE_RANGE = 3.0  # along-bone scale of a limb stays within [k / 3, 3 k] (k: body-scale ratio)


def _part_index() -> tuple[torch.Tensor, torch.Tensor]:
    idx = torch.zeros(NUM_PARTS, _MAX_PART_JOINTS, dtype=torch.long)
    used = torch.zeros(NUM_PARTS, _MAX_PART_JOINTS)
    for p, name in enumerate(PART_NAMES):
        joints = BODY_PARTS[name]
        idx[p, : len(joints)] = torch.tensor(joints)
        used[p, : len(joints)] = 1
    return idx, used


_PART_IDX, _PART_USED = _part_index()
# Overlap ranks (higher wins) per part, from ``render.PART_PRIORITY``, and the part of each rank.
_PRIORITY_RANK = torch.tensor([float(NUM_PARTS - PART_PRIORITY.index(n)) for n in PART_NAMES])
_PART_OF_RANK = torch.tensor([0] + [PART_NAMES.index(n) for n in reversed(PART_PRIORITY)])


def _pose_tensors(xy: np.ndarray | torch.Tensor, conf: np.ndarray | torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    xy_t = xy if isinstance(xy, torch.Tensor) else torch.as_tensor(np.asarray(xy, np.float32))
    conf_t = conf if isinstance(conf, torch.Tensor) else torch.as_tensor(np.asarray(conf, np.float32))
    xy_t, conf_t = xy_t.float(), conf_t.float().to(xy_t.device)
    if xy_t.ndim == 2:
        xy_t, conf_t = xy_t[None], conf_t[None]
    if xy_t.shape[-2:] != (NUM_JOINTS, 2) or conf_t.shape != xy_t.shape[:-1]:
        raise ValueError(f"expected COCO-18 poses (..., 18, 2) and (..., 18), got {tuple(xy_t.shape)} and "
                         f"{tuple(conf_t.shape)}")
    return xy_t, conf_t


def _rot90(v: torch.Tensor) -> torch.Tensor:
    return torch.stack([-v[..., 1], v[..., 0]], -1)


def fit_part_affines(src_xy: np.ndarray | torch.Tensor, src_conf: np.ndarray | torch.Tensor,
                     dst_xy: np.ndarray | torch.Tensor, dst_conf: np.ndarray | torch.Tensor,
                     min_conf: float = MIN_CONF, limbs: str = "bone") -> tuple[torch.Tensor, torch.Tensor]:
    """Per-part pixel affines target -> source and their validity: ``(..., 10, 2, 3)``, ``(..., 10)`` bool.

    Poses are ``(..., 18, 2)`` pixels and ``(..., 18)`` confidences; a joint counts when it is above
    ``min_conf`` in both poses. Per part (joints of ``skeleton.BODY_PARTS``):
    - head and torso with >= 3 joints not on a line: least-squares affine;
    - 2 joints (or 3+ on a line): least-squares similarity (rotation, uniform scale, translation);
    - limbs (always 2 joints): ``limbs="similarity"`` as above, or ``limbs="bone"`` (default): rotation
      from the bone, the along-bone scale from the bone lengths (kept within 3x of the body-scale
      ratio), the across-bone scale from the ratio of body scales, so a foreshortened limb keeps its
      width instead of sampling a huge source region;
    - 1 joint: translation, with the body-scale ratio as uniform scale;
    - none: identity, and the part is invalid.
    """
    if limbs not in ("bone", "similarity"):
        raise ValueError(f"limbs must be 'bone' or 'similarity', got {limbs!r}")
    sxy, sc = _pose_tensors(src_xy, src_conf)
    dxy, dc = _pose_tensors(dst_xy, dst_conf)
    idx, used = _PART_IDX.to(sxy.device), _PART_USED.to(sxy.device)
    s = sxy[..., idx, :]  # (..., 10, K, 2)
    d = dxy[..., idx, :]
    w = used * ((sc[..., idx] > min_conf) & (dc[..., idx] > min_conf)).float()  # (..., 10, K)
    n = w.sum(-1)
    wn = w / n.clamp(min=1)[..., None]
    s_mean = (wn[..., None] * s).sum(-2)
    d_mean = (wn[..., None] * d).sum(-2)
    s_c, d_c = s - s_mean[..., None, :], d - d_mean[..., None, :]
    wd_c = wn[..., None] * d_c

    # Ratio of body scales (source / target), for translation-only parts and limb widths.
    ks, kd = body_scale(sxy, sc, min_conf), body_scale(dxy, dc, min_conf)
    k = torch.where((ks > 0) & (kd > 0), ks / kd.clamp(min=1e-6), torch.ones_like(ks))[..., None]  # (..., 1)
    eye = torch.eye(2, device=sxy.device)

    # Similarity: s_c ~ [[a, -b], [b, a]] d_c, complex least squares.
    dd = (wd_c * d_c).sum((-1, -2))
    re = (wd_c * s_c).sum((-1, -2))
    im = (wd_c[..., 0] * s_c[..., 1] - wd_c[..., 1] * s_c[..., 0]).sum(-1)
    spread_ok = dd > 1e-4
    a_ = re / dd.clamp(min=1e-8)
    b_ = im / dd.clamp(min=1e-8)
    sim = torch.stack([torch.stack([a_, -b_], -1), torch.stack([b_, a_], -1)], -2)
    lin = torch.where(((n >= 2) & spread_ok)[..., None, None], sim, k[..., None, None] * eye)

    # Full affine where the target joints span two dimensions: L = C_sd C_dd^-1.
    c_dd = (wd_c[..., :, None] * d_c[..., None, :]).sum(-3)  # (..., 10, 2, 2)
    c_sd = (wn[..., None, None] * s_c[..., :, None] * d_c[..., None, :]).sum(-3)
    det = c_dd[..., 0, 0] * c_dd[..., 1, 1] - c_dd[..., 0, 1] * c_dd[..., 1, 0]
    tr = c_dd[..., 0, 0] + c_dd[..., 1, 1]
    r = _AFFINE_MIN_SPREAD
    well_posed = (n >= 3) & (det > 4 * r / (1 + r) ** 2 * tr**2 / 4) & (tr > 1e-4)
    adj = torch.stack([torch.stack([c_dd[..., 1, 1], -c_dd[..., 0, 1]], -1),
                       torch.stack([-c_dd[..., 1, 0], c_dd[..., 0, 0]], -1)], -2)
    inv = adj / torch.where(well_posed, det, torch.ones_like(det))[..., None, None]
    lin = torch.where(well_posed[..., None, None], c_sd @ inv, lin)

    if limbs == "bone":
        limb = torch.tensor(_LIMB_PARTS, device=sxy.device)
        sb = s[..., limb, 1, :] - s[..., limb, 0, :]
        db = d[..., limb, 1, :] - d[..., limb, 0, :]
        ls, ld = sb.norm(dim=-1), db.norm(dim=-1)
        ok = (n[..., limb] >= 2) & (ld > 1e-3) & (ls > 1e-3)
        u_d, u_s = db / ld.clamp(min=1e-6)[..., None], sb / ls.clamp(min=1e-6)[..., None]
        along = (ls / ld.clamp(min=1e-6)).clamp(k / _LIMB_SCALE_RANGE, k * _LIMB_SCALE_RANGE)
        # L = along * u_s u_d^T + k * v_s v_d^T (v = u rotated by 90 degrees).
        bone_lin = (along[..., None, None] * u_s[..., :, None] * u_d[..., None, :]
                    + k[..., None, None] * _rot90(u_s)[..., :, None] * _rot90(u_d)[..., None, :])
        lin_limbs = torch.where(ok[..., None, None], bone_lin, lin[..., limb, :, :])
        lin = lin.index_copy(lin.ndim - 3, limb, lin_limbs)

    valid = n >= 1
    lin = torch.where(valid[..., None, None], lin, eye)
    t = s_mean - (lin @ d_mean[..., None])[..., 0]
    return torch.cat([lin, t[..., None]], -1), valid


def part_affines(src_xy: np.ndarray | torch.Tensor, src_conf: np.ndarray | torch.Tensor,
                 dst_xy: np.ndarray | torch.Tensor, dst_conf: np.ndarray | torch.Tensor,
                 min_conf: float = MIN_CONF, limbs: str = "bone") -> torch.Tensor:
    """Pixel affines mapping target -> source per body part: ``(B, 18, 2) x 4 -> (B, 10, 2, 3)``.

    See ``fit_part_affines`` (which also returns which parts are valid) for the fitting rules.
    """
    return fit_part_affines(src_xy, src_conf, dst_xy, dst_conf, min_conf, limbs)[0]


def _normaliser(height: int, width: int, device: torch.device | None = None) -> torch.Tensor:
    """(3, 3) matrix taking homogeneous pixel coordinates to ``align_corners=False`` normalised ones."""
    return torch.tensor([[2.0 / width, 0.0, 1.0 / width - 1.0],
                         [0.0, 2.0 / height, 1.0 / height - 1.0],
                         [0.0, 0.0, 1.0]], device=device)


def pixel_to_theta(affine: torch.Tensor, height: int, width: int,
                   src_size: tuple[int, int] | None = None) -> torch.Tensor:
    """Pixel affines ``(..., 2, 3)`` (output pixel -> source pixel) to ``F.affine_grid`` thetas ``(..., 2, 3)``.

    ``height, width`` is the output image size, ``src_size = (H, W)`` the source's (default: the same).
    Thetas are resolution independent, so they also warp feature maps of any size.
    """
    n_out = _normaliser(height, width, affine.device)
    n_src = _normaliser(*(src_size or (height, width)), affine.device)
    full = torch.cat([affine.float(), n_out[2:].expand(*affine.shape[:-2], 1, 3)], -2)
    return (n_src @ full @ torch.linalg.inv(n_out))[..., :2, :]


def theta_to_pixel(theta: torch.Tensor, height: int, width: int,
                   src_size: tuple[int, int] | None = None) -> torch.Tensor:
    """Inverse of ``pixel_to_theta``: ``F.affine_grid`` thetas ``(..., 2, 3)`` -> pixel affines ``(..., 2, 3)``."""
    n_out = _normaliser(height, width, theta.device)
    n_src = _normaliser(*(src_size or (height, width)), theta.device)
    full = torch.cat([theta.float(), n_out[2:].expand(*theta.shape[:-2], 1, 3)], -2)
    return (torch.linalg.inv(n_src) @ full @ n_out)[..., :2, :]


def pixel_grid(height: int, width: int, device: torch.device | None = None) -> torch.Tensor:
    """Pixel coordinates of every pixel centre: ``(H, W, 2)`` float32 ``(x, y)``."""
    ys, xs = torch.meshgrid(torch.arange(height, dtype=torch.float32, device=device),
                            torch.arange(width, dtype=torch.float32, device=device), indexing="ij")
    return torch.stack([xs, ys], -1)


def pixels_to_grid(px: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Source pixel coordinates ``(..., 2)`` in an ``height`` x ``width`` image -> normalised grid values."""
    size = torch.tensor([width, height], dtype=px.dtype, device=px.device)
    return (2 * px + 1) / size - 1


def identity_grid(batch: int, height: int, width: int, device: torch.device | None = None) -> torch.Tensor:
    """The grid that leaves an image unchanged: ``(B, H, W, 2)`` float32."""
    return pixels_to_grid(pixel_grid(height, width, device), height, width).expand(batch, height, width, 2).clone()


def warp(image: torch.Tensor, grid: torch.Tensor, padding: str = "zeros", mode: str = "bilinear") -> torch.Tensor:
    """Backward-warp ``(B, C, H_in, W_in)`` with a grid ``(B, H, W, 2)`` -> ``(B, C, H, W)`` (input dtype).

    ``padding`` is ``"zeros"`` (default: grid values outside [-1, 1], e.g. ``OUTSIDE``, give 0) or
    ``"border"``. Runs in fp32 outside autocast.
    """
    with torch.autocast(image.device.type, enabled=False):
        out = F.grid_sample(image.float(), grid.float(), mode=mode, padding_mode=padding, align_corners=False)
    return out.to(image.dtype)


def _max3x3(x: torch.Tensor) -> torch.Tensor:
    """3x3 maximum filter of ``(B, H, W)`` (edges replicate), as shifted maxima: much faster than max_pool2d."""
    p = F.pad(x[:, None].float(), (1, 1, 1, 1), mode="replicate")[:, 0]
    rows = torch.maximum(torch.maximum(p[:, :, :-2], p[:, :, 1:-1]), p[:, :, 2:])
    return torch.maximum(torch.maximum(rows[:, :-2], rows[:, 1:-1]), rows[:, 2:])


def _grow(rank_map: torch.Tensor, steps: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Grow a ``(B, H, W)`` rank map (0 = empty) into empty pixels, one pixel per step (3x3 max).

    Returns the grown map and, per pixel, the step at which it was filled (0 inside, inf if never).
    """
    dist = torch.where(rank_map > 0, 0.0, float("inf"))
    for step in range(1, steps + 1):
        grown = _max3x3(rank_map)
        new = (rank_map == 0) & (grown > 0)
        rank_map = torch.where(new, grown, rank_map)
        dist = torch.where(new, float(step), dist)
    return rank_map, dist


def target_labels(dst_xy: np.ndarray | torch.Tensor, dst_conf: np.ndarray | torch.Tensor, height: int, width: int,
                  dst_part_masks: torch.Tensor | None = None) -> torch.Tensor:
    """Part label maps ``(B, H, W)`` int64 (0 background, p + 1 for part p) of target poses ``(B, 18, 2)``.

    From ``dst_part_masks (B, 10, H, W)`` with ``render.PART_PRIORITY`` overlaps, or drawn from the poses.
    """
    dxy, dc = _pose_tensors(dst_xy, dst_conf)
    if dst_part_masks is not None:
        return part_labels(dst_part_masks.to(dxy.device))
    xy_n, c_n = dxy.detach().cpu().numpy(), dc.detach().cpu().numpy()
    labels = np.stack([pose_part_labels(xy_n[b], c_n[b], height, width) for b in range(len(xy_n))])
    return torch.from_numpy(labels).to(dxy.device)


def dense_grid(src_xy: np.ndarray | torch.Tensor, src_conf: np.ndarray | torch.Tensor,
               dst_xy: np.ndarray | torch.Tensor, dst_conf: np.ndarray | torch.Tensor, height: int, width: int,
               dst_part_masks: torch.Tensor | None = None, background: str = "outside",
               margin: float | None = None, smooth: float = 0.0, limbs: str = "bone") -> torch.Tensor:
    """Backward grid ``(B, H, W, 2)`` that moves a person from the source pose onto the target pose.

    Poses are ``(B, 18, 2)`` pixels of an ``height`` x ``width`` image (source and target alike).
    Each target pixel takes the affine (``part_affines``) of its body part in the target part masks
    ``dst_part_masks (B, 10, H, W)`` (drawn from the target pose like ``render.part_masks`` when not
    given); overlaps go to ``render.PART_PRIORITY`` (limbs over torso over head) and parts without a
    valid affine are dropped. Pixels outside every part but within ``margin`` pixels of one (default
    10% of the target body scale; loose clothes, hair) take the nearest part's affine. Farther pixels
    get ``background``:
    - ``"outside"`` (default): the ``OUTSIDE`` value, so ``warp(..., padding="zeros")`` gives 0 there and
      a warped person mask is exactly the moved person, with no ghost copies of the source body (best for
      compositing over a background, which is how the animation uses it);
    - ``"identity"``: the pixel reads itself (a grid with no jumps, better input for networks, e.g. DwNet);
    - ``"torso"``: the torso's affine (the background moves with the body).
    ``smooth`` > 0 (pixels) blends the part affines near part boundaries with a Gaussian of that sigma:
    softer elbows and knees, but it also blends a limb crossing the torso with the torso (on the real
    test poses a sigma of 4% of the body scale lowers the part IoU by 0.01-0.06), so it is off by default.
    Build the grid at the resolution you sample at (scale the poses) rather than resizing it, since
    resizing mixes ``OUTSIDE`` values into their neighbours.
    """
    if background not in ("outside", "identity", "torso"):
        raise ValueError(f"background must be 'outside', 'identity' or 'torso', got {background!r}")
    sxy, sc = _pose_tensors(src_xy, src_conf)
    dxy, dc = _pose_tensors(dst_xy, dst_conf)
    device = sxy.device
    affines, valid = fit_part_affines(sxy, sc, dxy, dc, limbs=limbs)
    batch = sxy.shape[0]
    labels = target_labels(dxy, dc, height, width, dst_part_masks)
    # Ranks (higher wins) of each label value; background and invalid parts get 0.
    rank_of_label = torch.cat([torch.zeros(batch, 1, device=device), _PRIORITY_RANK.to(device) * valid], 1)
    rank_map = rank_of_label.gather(1, labels.reshape(batch, -1)).reshape(labels.shape)
    if margin is None:
        margins = (0.1 * body_scale(dxy, dc)).clamp(min=2.0)
    else:
        margins = torch.full((batch,), float(margin), device=device)
    rank_map, dist = _grow(rank_map, int(np.ceil(float(margins.max()))))
    body = ((rank_map > 0) & (dist <= margins[:, None, None]))[..., None]  # (B, H, W, 1)
    part = _PART_OF_RANK.to(device)[rank_map.long()]  # (B, H, W); background reads part 0, masked below
    px = pixel_grid(height, width, device)
    if smooth > 0:
        onehot = F.one_hot(part, NUM_PARTS).float() * body
        weights = _gaussian_blur(onehot.permute(0, 3, 1, 2), smooth).permute(0, 2, 3, 1)
        weights = torch.where(body, weights / weights.sum(-1, keepdim=True).clamp(min=1e-6), onehot)
        coef = torch.einsum("bhwp,bpk->bhwk", weights, affines.reshape(batch, NUM_PARTS, 6))
    else:
        flat = part + NUM_PARTS * torch.arange(batch, device=device)[:, None, None]
        coef = F.embedding(flat, affines.reshape(batch * NUM_PARTS, 6))  # (B, H, W, 6)
    src_px = _apply(coef, px)
    if background == "torso":
        torso = affines[:, PART_NAMES.index("torso")].reshape(batch, 1, 1, 6)
        src_px = torch.where(body, src_px, _apply(torso, px))
    elif background == "identity":
        src_px = torch.where(body, src_px, px)
    grid = pixels_to_grid(src_px, height, width)
    if background == "outside":
        grid = torch.where(body, grid, torch.full_like(grid, OUTSIDE))
    return grid


def _apply(coef: torch.Tensor, px: torch.Tensor) -> torch.Tensor:
    """Affines as 6 coefficients ``(..., 6)`` (row-major 2x3) applied to pixels ``(H, W, 2)`` -> ``(..., 2)``."""
    x, y = px[..., 0], px[..., 1]
    return torch.stack([coef[..., 0] * x + coef[..., 1] * y + coef[..., 2],
                        coef[..., 3] * x + coef[..., 4] * y + coef[..., 5]], -1)


def _gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of ``(B, C, H, W)`` with zero padding."""
    radius = max(1, int(np.ceil(3 * sigma)))
    t = torch.arange(-radius, radius + 1, dtype=torch.float32, device=x.device)
    k = torch.exp(-(t**2) / (2 * sigma**2))
    k = k / k.sum()
    c = x.shape[1]
    x = F.conv2d(x, k.view(1, 1, 1, -1).expand(c, 1, 1, -1), padding=(0, radius), groups=c)
    return F.conv2d(x, k.view(1, 1, -1, 1).expand(c, 1, -1, 1), padding=(radius, 0), groups=c)


def warp_parts(features: torch.Tensor, src_part_masks: torch.Tensor, affines: torch.Tensor,
               size: tuple[int, int] | None = None, valid: torch.Tensor | None = None, merge: str = "max",
               return_mask: bool = False) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Eq. 1 of the decoupled-learning paper: ``max_i T_i(F * L_i)``.

    features ``(B, C, H, W)``; src_part_masks ``(B, 10, h, w)`` (resized to ``H, W`` if needed);
    affines ``(B, 10, 2, 3)`` pixel affines target -> source in an image of ``size = (H0, W0)`` (default
    ``(H, W)``), so poses at image resolution can warp feature maps at any resolution. ``valid (B, 10)``
    drops parts. Each part's masked features are warped by its affine, then merged per pixel:
    - ``merge="max"`` (eq. 1): the max over the parts that cover the pixel; the same as the paper's plain
      max for non-negative (post-ReLU) features, and it keeps negative values where one part covers;
    - ``merge="coverage"``: the part whose warped mask is largest (for signed features: a part's
      attenuated edge never wins over a part that fully covers the pixel).
    Uncovered pixels are 0. Returns ``(B, C, H, W)`` in the input dtype, and with ``return_mask`` also the
    coverage ``(B, 1, H, W)`` (max of the warped part masks). Sampling runs in fp32.
    """
    if merge not in ("max", "coverage"):
        raise ValueError(f"merge must be 'max' or 'coverage', got {merge!r}")
    b, c, h, w = features.shape
    masks = src_part_masks.to(features.device).float()
    if masks.shape[-2:] != (h, w):
        masks = F.interpolate(masks, size=(h, w), mode="bilinear", align_corners=False)
    if valid is not None:
        masks = masks * valid.to(masks.device).float()[..., None, None]
    height, width = size or (h, w)
    theta = pixel_to_theta(affines.to(features.device), height, width).reshape(b * NUM_PARTS, 2, 3)
    with torch.autocast(features.device.type, enabled=False):
        stacked = torch.cat([features.float()[:, None] * masks[:, :, None], masks[:, :, None]], 2)
        stacked = stacked.reshape(b * NUM_PARTS, c + 1, h, w)
        grid = F.affine_grid(theta, [b * NUM_PARTS, c + 1, h, w], align_corners=False)
        warped = F.grid_sample(stacked, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    warped = warped.reshape(b, NUM_PARTS, c + 1, h, w)
    feats, cover = warped[:, :, :c], warped[:, :, c:]
    covered = cover > 0
    if merge == "max":
        merged = torch.where(covered, feats, torch.full_like(feats, float("-inf"))).amax(1)
    else:
        best = cover.argmax(1, keepdim=True)  # (B, 1, 1, H, W)
        merged = feats.gather(1, best.expand(b, 1, c, h, w))[:, 0]
    merged = torch.where(covered.any(1), merged, torch.zeros_like(merged)).to(features.dtype)
    if return_mask:
        return merged, cover.amax(1).to(features.dtype)
    return merged
