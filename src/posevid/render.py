"""Pose renderings: PG2 heatmaps, OpenPose / DWPose stick figures (with hands and face), the PG2 pose
mask and 10 body-part masks.

Keypoints are COCO-18 pixel coordinates ``(x, y)`` with pixel centres at integer coordinates (pixel
``(i, j)`` of an image is the point ``x = j, y = i``). A joint is drawn when its confidence exceeds
``MIN_CONF``; a missing joint (confidence 0) is never drawn. ``heatmaps`` is torch and batched,
``body_scale`` and ``part_labels`` batched in torch or numpy (as given); the other renderers draw one pose with
OpenCV and return numpy arrays. torch is imported only for torch work (the warp method's path loads none).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import cv2
import numpy as np

from .poses import Poses
from .skeleton import BODY_PARTS, COLORS, DRAWN_LIMBS, HAND_LIMBS, JOINT, LIMBS, NUM_PARTS, PART_NAMES

if TYPE_CHECKING:
    import torch

MIN_CONF = 0.1
# Stick-figure looks: ``posevid`` thin lines and dots in the joint colours; ``openpose`` as the OpenPose
# / ControlNet / DWPose renderers draw them (wide ellipse limbs at 60% brightness under full-brightness
# joint dots; hands with rainbow bones and blue dots; face landmarks as white dots).
STICK_STYLES: tuple[str, ...] = ("posevid", "openpose")
LIMB_BRIGHTNESS = 0.6  # the ``openpose`` style's limb colours are COLORS times this
HAND_DOT = (0, 0, 255)
FACE_DOT = (255, 255, 255)
_SHIFT = 4  # OpenCV sub-pixel drawing: coordinates are passed multiplied by 2**_SHIFT
_ONE = 1 << _SHIFT

# Bones used to estimate the body size, each with its length relative to the torso (neck to hip).
_SCALE_BONES: tuple[tuple[int, int, float], ...] = (
    (1, 8, 1.0), (1, 11, 1.0), (2, 5, 1.25), (8, 11, 2.2),
    (2, 3, 1.6), (5, 6, 1.6), (3, 4, 2.0), (6, 7, 2.0),
    (8, 9, 1.2), (11, 12, 1.2), (9, 10, 1.2), (12, 13, 1.2),
)
# Part shapes, as fractions of the body scale: capsule radius and how far it extends past the end joint.
_LIMB_SHAPE: dict[str, tuple[float, float]] = {
    "upper_arm": (0.11, 0.0), "lower_arm": (0.09, 0.15), "upper_leg": (0.16, 0.0), "lower_leg": (0.12, 0.08),
}
_TORSO_PAD = 0.10
_HEAD_AXES = (0.22, 0.28)  # across, along the neck -> face direction
_HEAD_LIFT = 0.06
_NECK_RADIUS = 0.10


def _is_tensor(x: object) -> bool:
    torch = sys.modules.get("torch")  # no tensor exists before torch is imported
    return torch is not None and isinstance(x, torch.Tensor)


def _as_tensor(x: np.ndarray | torch.Tensor) -> torch.Tensor:
    import torch

    return x if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x))


def _as_numpy(x: np.ndarray | torch.Tensor) -> np.ndarray:
    if _is_tensor(x):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=np.float32)


def heatmaps(xy: np.ndarray | torch.Tensor, conf: np.ndarray | torch.Tensor, height: int, width: int,
             kind: str = "disk", radius: float = 4.0, sigma: float | None = None) -> torch.Tensor:
    """One map per joint: ``(..., J, 2)`` pixels and ``(..., J)`` confidence -> ``(..., J, H, W)`` float32.

    ``kind="disk"`` (PG2): 1 within ``radius`` pixels of the joint, 0 elsewhere. ``kind="gaussian"``:
    ``exp(-d^2 / (2 sigma^2))`` with ``sigma`` defaulting to ``radius``. Joints with confidence <= 0 give
    all-zero maps. Works on numpy or torch input; the result is on the input's device.
    """
    import torch

    xy_t, conf_t = _as_tensor(xy).float(), _as_tensor(conf).float()
    if xy_t.shape[-1] != 2 or conf_t.shape != xy_t.shape[:-1]:
        raise ValueError(f"heatmaps needs xy (..., J, 2) and conf (..., J), got {tuple(xy_t.shape)}, "
                         f"{tuple(conf_t.shape)}")
    xs = torch.arange(width, dtype=torch.float32, device=xy_t.device)
    ys = torch.arange(height, dtype=torch.float32, device=xy_t.device)
    dx2 = (xs - xy_t[..., 0, None]) ** 2  # (..., J, W)
    dy2 = (ys - xy_t[..., 1, None]) ** 2  # (..., J, H)
    if kind == "disk":
        maps = (dy2[..., :, None] + dx2[..., None, :] <= radius * radius).float()
    elif kind == "gaussian":  # separable: the outer product of two 1-D gaussians (H + W exponentials)
        s = float(radius if sigma is None else sigma)
        maps = torch.exp(-dy2 / (2 * s * s))[..., :, None] * torch.exp(-dx2 / (2 * s * s))[..., None, :]
    else:
        raise ValueError(f"unknown heatmap kind {kind!r}; use 'disk' or 'gaussian'")
    return maps * (conf_t > 0).float()[..., None, None]


def body_scale(xy: np.ndarray | torch.Tensor, conf: np.ndarray | torch.Tensor,
               min_conf: float = MIN_CONF) -> np.ndarray | torch.Tensor:
    """Body size in pixels (about the neck-to-hip length): ``(..., 18, 2), (..., 18) -> (...)`` float32;
    torch when either input is a tensor, else numpy (the same float32 arithmetic: each bone's length is
    PyTorch's ``sqrt(fma(dy, dy, dx * dx))``).

    Each visible bone gives an estimate (its length over its typical ratio to the torso); the largest
    estimate is used, or the second largest when three or more exist (robust to foreshortening and to
    one bad joint). 0 when no bone is visible.
    """
    if not (_is_tensor(xy) or _is_tensor(conf)):
        a, b, ratio = (np.array(column) for column in zip(*_SCALE_BONES))
        xy, conf = np.asarray(xy, np.float32), np.asarray(conf, np.float32)
        ok = (conf[..., a] > min_conf) & (conf[..., b] > min_conf)
        d = xy[..., a, :] - xy[..., b, :]
        square = (d[..., 1].astype(np.float64) ** 2 + (d[..., 0] * d[..., 0]).astype(np.float64)).astype(np.float32)
        est = np.sqrt(square) * ratio.astype(np.float32) * ok
        top = -np.sort(-est, axis=-1)
        second = (ok.sum(-1) >= 3).astype(np.int64)
        return np.take_along_axis(top, second[..., None], -1)[..., 0]
    import torch

    xy_t, conf_t = _as_tensor(xy).float(), _as_tensor(conf).float()
    a = torch.tensor([b[0] for b in _SCALE_BONES], device=xy_t.device)
    b = torch.tensor([b[1] for b in _SCALE_BONES], device=xy_t.device)
    ratio = torch.tensor([b[2] for b in _SCALE_BONES], device=xy_t.device)
    ok = (conf_t[..., a] > min_conf) & (conf_t[..., b] > min_conf)
    est = torch.linalg.norm(xy_t[..., a, :] - xy_t[..., b, :], dim=-1) * ratio * ok
    top = torch.sort(est, dim=-1, descending=True).values
    second = (ok.sum(-1) >= 3).long()
    return top.gather(-1, second[..., None])[..., 0]


def _scale_or_default(xy: np.ndarray, conf: np.ndarray, height: int, width: int) -> float:
    s = float(body_scale(xy, conf))
    if s > 0:
        return s
    vis = xy[conf > MIN_CONF]
    if len(vis) >= 2:
        return max(float(np.ptp(vis, axis=0).max()) * 0.5, 0.05 * min(height, width))
    return 0.15 * min(height, width)


def _pose_arrays(xy: np.ndarray | torch.Tensor, conf: np.ndarray | torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    xy_n, conf_n = _as_numpy(xy), _as_numpy(conf)
    if xy_n.ndim == 3 and xy_n.shape[0] == 1:
        xy_n, conf_n = xy_n[0], conf_n.reshape(-1)
    if xy_n.ndim != 2 or xy_n.shape[1] != 2 or conf_n.shape != xy_n.shape[:1]:
        raise ValueError(f"expected one pose (J, 2) and (J,), got {xy_n.shape} and {conf_n.shape}")
    return xy_n, conf_n


def _pt(p: np.ndarray) -> tuple[int, int]:
    return int(round(float(p[0]) * _ONE)), int(round(float(p[1]) * _ONE))


def _capsule(canvas: np.ndarray, a: np.ndarray, b: np.ndarray, radius: float, value: int = 1) -> None:
    """A thick segment with round ends (OpenCV thickness is whole pixels; ends are drawn as circles)."""
    r = max(float(radius), 0.5)
    thickness = max(int(round(2 * r)), 1)
    cv2.line(canvas, _pt(a), _pt(b), value, thickness, cv2.LINE_8, _SHIFT)
    for p in (a, b):
        cv2.circle(canvas, _pt(p), int(round(r * _ONE)), value, -1, cv2.LINE_8, _SHIFT)


def hand_colors() -> list[tuple[int, int, int]]:
    """RGB colour of each of the 20 ``skeleton.HAND_LIMBS``: hues evenly round the colour wheel, as DWPose."""
    hsv = np.array([[[round(180 * k / len(HAND_LIMBS)), 255, 255] for k in range(len(HAND_LIMBS))]], np.uint8)
    return [tuple(int(v) for v in c) for c in cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0]]


def stick_figure(xy: np.ndarray | torch.Tensor, conf: np.ndarray | torch.Tensor, height: int, width: int,
                 thickness: int | None = None, *, hands: tuple[np.ndarray, np.ndarray] | None = None,
                 face: tuple[np.ndarray, np.ndarray] | None = None, style: str = "posevid") -> np.ndarray:
    """OpenPose-style RGB skeleton on black: ``(18, 2), (18,) -> (H, W, 3) uint8``.

    Limb k of ``skeleton.DRAWN_LIMBS`` is drawn in ``skeleton.COLORS[k]``, joint j as a dot in ``COLORS[j]``.
    hands: ``(2, 21, 2), (2, 21)`` (``Poses.hand_xy[t], hand_conf[t]``) and face: ``(68, 2), (68,)``
    are drawn as DWPose does: each hand bone in its ``hand_colors()`` colour, hand points as blue dots,
    face landmarks as white dots. ``style``: see ``STICK_STYLES``. ``thickness`` (pixels: the line width
    for ``posevid``, the limb half-width and dot radius for ``openpose``) defaults to
    ``max(1, min(H, W) // 100)`` and ``max(1, round(min(H, W) / 128))`` (4 at 512, as DWPose draws).
    """
    canvas = np.zeros((height, width, 3), np.uint8)
    return draw_poses_on(canvas, xy, conf, thickness, hands=hands, face=face, style=style)


def pose_image(poses: Poses, t: int = 0, style: str = "openpose", thickness: int | None = None) -> np.ndarray:
    """Frame ``t`` of ``poses`` drawn with its hands and face as ``stick_figure`` does, at the poses'
    image size: ``-> (poses.height, poses.width, 3) uint8``."""
    hands = (poses.hand_xy[t], poses.hand_conf[t]) if poses.has_hands else None
    face = (poses.face_xy[t], poses.face_conf[t]) if poses.has_face else None
    return stick_figure(poses.xy[t], poses.conf[t], poses.height, poses.width, thickness, hands=hands, face=face,
                        style=style)


def draw_poses_on(image: np.ndarray, xy: np.ndarray | torch.Tensor, conf: np.ndarray | torch.Tensor,
                  thickness: int | None = None, *, hands: tuple[np.ndarray, np.ndarray] | None = None,
                  face: tuple[np.ndarray, np.ndarray] | None = None, style: str = "posevid") -> np.ndarray:
    """A copy of ``image`` (H, W, 3) uint8 with one pose ``(18, 2)`` or several ``(N, 18, 2)`` drawn on it
    (hands ``([N,] 2, 21, 2), ([N,] 2, 21)`` and face ``([N,] 68, 2), ([N,] 68)`` likewise; see
    ``stick_figure``)."""
    if style not in STICK_STYLES:
        raise ValueError(f"stick figure style must be one of {', '.join(STICK_STYLES)}, got {style!r}")
    out = np.ascontiguousarray(image, dtype=np.uint8).copy()
    xy_n, conf_n = _as_numpy(xy), _as_numpy(conf)
    single = xy_n.ndim == 2
    if single:
        xy_n, conf_n = xy_n[None], conf_n[None]
    n = len(xy_n)
    hands_n = [None] * n if hands is None else list(zip(*(_as_numpy(a).reshape(n, 2, -1, k)
                                                            for a, k in zip(hands, (2, 1)))))
    face_n = [None] * n if face is None else list(zip(*(_as_numpy(a).reshape(n, -1, k) for a, k in zip(face, (2, 1)))))
    h, w = out.shape[:2]
    if style == "posevid":
        t = max(1, min(h, w) // 100) if thickness is None else max(1, int(thickness))
    else:
        t = max(1, round(min(h, w) / 128)) if thickness is None else max(1, int(thickness))
    for pxy, pconf, phands, pface in zip(xy_n, conf_n, hands_n, face_n):
        vis = pconf > MIN_CONF
        if style == "posevid":
            for k, (a, b) in enumerate(DRAWN_LIMBS):
                if vis[a] and vis[b]:
                    cv2.line(out, _pt(pxy[a]), _pt(pxy[b]), COLORS[k], t, cv2.LINE_AA, _SHIFT)
        else:
            limbs = np.zeros_like(out)
            for k, (a, b) in enumerate(DRAWN_LIMBS):
                if vis[a] and vis[b]:
                    _ellipse_limb(limbs, pxy[a], pxy[b], t, COLORS[k])
            drawn = limbs.any(-1)
            out[drawn] = (limbs[drawn] * LIMB_BRIGHTNESS).astype(np.uint8)
        for j in np.flatnonzero(vis):
            cv2.circle(out, _pt(pxy[j]), int(round(t * _ONE)), COLORS[j], -1, cv2.LINE_AA, _SHIFT)
        if phands is not None:
            _draw_hands(out, phands[0], phands[1][..., 0], max(1, round(t / 2)), t)
        if pface is not None:
            for p in pface[0][pface[1][:, 0] > MIN_CONF]:
                cv2.circle(out, _pt(p), int(round(max(1.0, 0.75 * t) * _ONE)), FACE_DOT, -1, cv2.LINE_AA, _SHIFT)
    return out


def _ellipse_limb(canvas: np.ndarray, a: np.ndarray, b: np.ndarray, half_width: float,
                  color: tuple[int, int, int]) -> None:
    """A filled ellipse whose long axis runs from a to b and whose half-width is ``half_width`` (OpenPose's limbs)."""
    centre, axis = (a + b) / 2, (b - a) / 2
    length = float(np.linalg.norm(axis))
    u = axis / length if length > 1e-6 else np.array([1.0, 0.0], np.float32)
    v = np.array([-u[1], u[0]], np.float32)
    angles = np.linspace(0, 2 * np.pi, 36, endpoint=False)
    pts = centre + np.cos(angles)[:, None] * length * u + np.sin(angles)[:, None] * half_width * v
    cv2.fillConvexPoly(canvas, np.round(pts * _ONE).astype(np.int32), color, cv2.LINE_AA, _SHIFT)


def _draw_hands(canvas: np.ndarray, xy: np.ndarray, conf: np.ndarray, line: int, radius: int) -> None:
    """Both hands ``(2, 21, 2), (2, 21)``: bones in ``hand_colors()``, then the points as blue dots."""
    colors = hand_colors()
    for h_xy, h_conf in zip(xy, conf):
        vis = h_conf > MIN_CONF
        for k, (a, b) in enumerate(HAND_LIMBS):
            if vis[a] and vis[b]:
                cv2.line(canvas, _pt(h_xy[a]), _pt(h_xy[b]), colors[k], line, cv2.LINE_AA, _SHIFT)
        for p in h_xy[vis]:
            cv2.circle(canvas, _pt(p), int(round(radius * _ONE)), HAND_DOT, -1, cv2.LINE_AA, _SHIFT)


def _torso_points(xy: np.ndarray, vis: np.ndarray, scale: float) -> np.ndarray:
    """Shoulders and hips of the torso; hips missing in an upper-body view are extrapolated downwards."""
    rs, ls, rh, lh = JOINT["right_shoulder"], JOINT["left_shoulder"], JOINT["right_hip"], JOINT["left_hip"]
    pts = [xy[j] for j in (1, rs, ls, lh, rh) if vis[j]]
    if vis[rs] and vis[ls] and not (vis[rh] or vis[lh]):
        across = xy[ls] - xy[rs]
        down = np.array([-across[1], across[0]], np.float32)
        down *= np.sign(down[1]) if down[1] != 0 else 1.0
        down *= 0.9 * scale / max(float(np.linalg.norm(down)), 1e-6)
        pts += [xy[ls] + down, xy[rs] + down]
    return np.asarray(pts, np.float32).reshape(-1, 2)


def part_masks(xy: np.ndarray | torch.Tensor, conf: np.ndarray | torch.Tensor, height: int, width: int,
               person_mask: np.ndarray | None = None) -> np.ndarray:
    """The 10 body-part masks of ``skeleton.PART_NAMES`` from geometric shapes: ``-> (10, H, W) float32``.

    Head: an ellipse around the face joints (tilted along the neck -> face direction) plus the neck;
    torso: the polygon of neck, shoulders and hips, padded; limbs: capsules along the bones (the lower
    arm and leg extend past the wrist / ankle for the hand and foot). Sizes scale with ``body_scale``.
    A part whose joints are missing is empty. With ``person_mask`` (H, W) the masks are clipped to it.
    """
    xy_n, conf_n = _pose_arrays(xy, conf)
    vis = conf_n > MIN_CONF
    s = _scale_or_default(xy_n, conf_n, height, width)
    masks = np.zeros((NUM_PARTS, height, width), np.uint8)
    for p in range(NUM_PARTS):
        _draw_part(masks[p], p, 1, xy_n, vis, s)
    out = masks.astype(np.float32)
    if person_mask is not None:
        out *= (np.asarray(person_mask, np.float32) > 0.5)[None]
    return out


def _draw_part(canvas: np.ndarray, p: int, value: int, xy: np.ndarray, vis: np.ndarray, s: float) -> None:
    """Draw part ``p`` of the pose (visible joints ``vis``, body scale ``s``) into ``canvas`` with ``value``."""
    name = PART_NAMES[p]
    joints = BODY_PARTS[name]
    if name == "head":
        _draw_head(canvas, value, xy, vis, s)
    elif name == "torso":
        pts = _torso_points(xy, vis, s)
        if len(pts) >= 3:
            hull = cv2.convexHull(np.round(pts * _ONE).astype(np.int32))
            cv2.fillConvexPoly(canvas, hull, value, cv2.LINE_8, _SHIFT)
            hull_pts = hull[:, 0].astype(np.float32) / _ONE
            for a, b in zip(hull_pts, np.roll(hull_pts, -1, axis=0)):
                _capsule(canvas, a, b, _TORSO_PAD * s, value)
        elif len(pts) == 2:
            _capsule(canvas, pts[0], pts[1], _TORSO_PAD * s * 1.5, value)
    elif vis[joints[0]] and vis[joints[1]]:
        radius, extend = _LIMB_SHAPE[name.split("_", 1)[1]]
        a, b = xy[joints[0]], xy[joints[1]]
        bone = b - a
        end = b + bone * (extend * s / max(float(np.linalg.norm(bone)), 1e-6))
        _capsule(canvas, a, end, radius * s, value)


def _draw_head(canvas: np.ndarray, value: int, xy: np.ndarray, vis: np.ndarray, s: float) -> None:
    face = [j for j in BODY_PARTS["head"] if j != JOINT["neck"] and vis[j]]
    neck = JOINT["neck"]
    if not face:
        return
    centre = xy[face].mean(0)
    up = centre - xy[neck] if vis[neck] else np.array([0.0, -1.0], np.float32)
    norm = float(np.linalg.norm(up))
    up = up / norm if norm > 1e-6 else np.array([0.0, -1.0], np.float32)
    centre = centre + up * (_HEAD_LIFT * s)
    angle = float(np.degrees(np.arctan2(up[1], up[0])))  # the ellipse's first axis lies along ``up``
    axes = (int(round(_HEAD_AXES[1] * s * _ONE)), int(round(_HEAD_AXES[0] * s * _ONE)))
    cv2.ellipse(canvas, _pt(centre), axes, angle, 0, 360, value, -1, cv2.LINE_8, _SHIFT)
    if vis[neck]:
        _capsule(canvas, xy[face].mean(0), xy[neck], _NECK_RADIUS * s, value)


# Overlaps in ``part_labels`` go to the first part of this list (limbs in front of the torso, the torso
# in front of the head's neck region).
PART_PRIORITY: tuple[str, ...] = (
    "right_lower_arm", "left_lower_arm", "right_upper_arm", "left_upper_arm",
    "right_lower_leg", "left_lower_leg", "right_upper_leg", "left_upper_leg", "torso", "head",
)


def part_labels(masks: np.ndarray | torch.Tensor) -> np.ndarray | torch.Tensor:
    """Label map from part masks ``(..., 10, H, W) -> (..., H, W)`` int64: 0 background, 1..10 = part + 1.

    Overlaps are resolved by ``PART_PRIORITY``. Numpy in, numpy out; torch in, torch out.
    """
    import torch

    m = _as_tensor(masks)
    rank = torch.zeros(NUM_PARTS, device=m.device)
    for r, name in enumerate(reversed(PART_PRIORITY)):
        rank[PART_NAMES.index(name)] = r + 1
    score = (m > 0.5).float() * rank[:, None, None]
    best, idx = score.max(dim=-3)
    labels = torch.where(best > 0, idx + 1, torch.zeros_like(idx))
    return labels if isinstance(masks, torch.Tensor) else labels.numpy()


def pose_part_labels(xy: np.ndarray | torch.Tensor, conf: np.ndarray | torch.Tensor, height: int, width: int,
                     person_mask: np.ndarray | None = None) -> np.ndarray:
    """``part_labels(part_masks(...))`` drawn directly (faster): ``(18, 2), (18,) -> (H, W)`` int64."""
    xy_n, conf_n = _pose_arrays(xy, conf)
    vis = conf_n > MIN_CONF
    s = _scale_or_default(xy_n, conf_n, height, width)
    canvas = np.zeros((height, width), np.uint8)
    for name in reversed(PART_PRIORITY):
        p = PART_NAMES.index(name)
        _draw_part(canvas, p, p + 1, xy_n, vis, s)
    if person_mask is not None:
        canvas[np.asarray(person_mask) <= 0.5] = 0
    return canvas.astype(np.int64)


def pose_mask(xy: np.ndarray | torch.Tensor, conf: np.ndarray | torch.Tensor, height: int, width: int,
              radius: float | None = None) -> np.ndarray:
    """PG2's pose mask: limbs joined as thick lines, the torso filled, then dilated and closed.

    ``(18, 2), (18,) -> (H, W) float32`` in {0, 1}. ``radius`` is the half line width in pixels
    (default: 8% of the body scale, at least 2). Every visible joint is covered.
    """
    xy_n, conf_n = _pose_arrays(xy, conf)
    vis = conf_n > MIN_CONF
    s = _scale_or_default(xy_n, conf_n, height, width)
    r = max(2.0, 0.08 * s) if radius is None else float(radius)
    canvas = np.zeros((height, width), np.uint8)
    for a, b in LIMBS:
        if vis[a] and vis[b]:
            _capsule(canvas, xy_n[a], xy_n[b], r)
    for j in np.flatnonzero(vis):
        cv2.circle(canvas, _pt(xy_n[j]), int(round(r * _ONE)), 1, -1, cv2.LINE_8, _SHIFT)
    torso = _torso_points(xy_n, vis, s)
    if len(torso) >= 3:
        cv2.fillConvexPoly(canvas, cv2.convexHull(np.round(torso * _ONE).astype(np.int32)), 1, cv2.LINE_8, _SHIFT)
    k = max(3, int(round(r)) | 1)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
    canvas = cv2.dilate(canvas, kernel)
    canvas = cv2.morphologyEx(canvas, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * k + 1,) * 2))
    return canvas.astype(np.float32)
