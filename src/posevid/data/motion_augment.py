"""Augmentations of 2D pose sequences (motion dataset windows), shared by PSGAN and the motion judge.

Sequences are ``xy (T, 18, 2)`` in the motion dataset's normalised units (x right, y down) with
``conf (T, 18)``; missing joints (conf 0) stay at 0. Every function returns new arrays.

- ``body_scale`` / ``canonical``: one scale per sequence so the body chain (nose to ankles, as
  ``poses.body_height``) is 1.0 and the first frame's box is centred at 0 (what ``generate`` sees).
- ``mirror``, ``rotate``, ``time_warp``: view and speed changes.
- ``start_from``: a sequence that starts at another pose and blends into the given motion (the
  offset between the two poses fades out over ``blend`` frames), used to teach PSGAN to reach the
  requested action from any first pose.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..skeleton import FLIP_PERM, JOINT

# Nose-neck, neck-hips, hips-knees, knees-ankles: the chain whose length is the body size (paired
# segments averaged over the sides seen).
_CHAIN = (((0, 1),), ((1, 8), (1, 11)), ((8, 9), (11, 12)), ((9, 10), (12, 13)))
_SEG_A = [a for pairs in _CHAIN for a, _ in pairs]
_SEG_B = [b for pairs in _CHAIN for _, b in pairs]
_SEG_GROUPS = np.array([[float(k == g) for g in range(len(_CHAIN))] for k, pairs in enumerate(_CHAIN)
                        for _ in pairs])  # (7, 4) segment -> link
_SEG_WEIGHTS = _SEG_GROUPS @ (1 / _SEG_GROUPS.sum(0))  # (7,) 1 / segments in the link
_HIPS = (JOINT["right_hip"], JOINT["left_hip"])


def body_scale(xy: np.ndarray, conf: np.ndarray) -> np.ndarray:
    """(..., T, J, 2), (..., T, J) -> (...,) median over frames of the nose-to-ankle chain length.

    A link seen on one side only (one hip-knee segment) counts that side; frames where a link is not
    seen at all are ignored (a sequence without any complete frame gives 0).
    """
    lengths = np.linalg.norm(xy[..., _SEG_A, :] - xy[..., _SEG_B, :], axis=-1)  # (..., T, 7)
    ok = (conf[..., _SEG_A] > 0) & (conf[..., _SEG_B] > 0)
    if ok.all():  # the common case (mocap)
        return np.median(lengths @ _SEG_WEIGHTS, axis=-1).astype(np.float32)
    n = ok.astype(np.float64) @ _SEG_GROUPS  # (..., T, 4) segments seen per link
    with np.errstate(all="ignore"):
        total = np.where(n > 0, ((lengths * ok) @ _SEG_GROUPS) / n, np.nan).sum(-1)
        out = np.nanmedian(total, axis=-1)
    return np.nan_to_num(out, nan=0.0).astype(np.float32)


def box_center(xy: np.ndarray, conf: np.ndarray) -> np.ndarray:
    """(..., J, 2), (..., J) -> (..., 2) centre of the box around the visible joints (0 when none)."""
    vis = (conf > 0)[..., None]
    lo = np.where(vis, xy, np.inf).min(-2)
    hi = np.where(vis, xy, -np.inf).max(-2)
    return np.where(vis.any(-2), (lo + hi) / 2, 0.0).astype(np.float32)


def canonical(xy: np.ndarray, conf: np.ndarray) -> np.ndarray:
    """Scale a sequence (T, J, 2) so its body chain is 1.0 and move its first frame's box centre to 0."""
    scale = float(body_scale(xy, conf))
    out = (xy - box_center(xy[0], conf[0])) / (scale if scale > 0 else 1.0)
    return np.where(conf[..., None] > 0, out, 0).astype(np.float32)


def mirror(xy: np.ndarray, conf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mirror (..., J, 2) about x = 0: left and right joints swap, x -> -x."""
    perm = list(FLIP_PERM)
    xy, conf = xy[..., perm, :].copy(), conf[..., perm].copy()
    xy[..., 0] = np.where(conf > 0, -xy[..., 0], 0)
    return xy, conf


def rotate(xy: np.ndarray, conf: np.ndarray, degrees: float) -> np.ndarray:
    """Rotate a sequence (T, J, 2) in the image plane by ``degrees`` about its first frame's hip centre."""
    a = np.deg2rad(degrees)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]], np.float32)
    hips = [j for j in _HIPS if conf[0, j] > 0]
    pivot = xy[0, hips].mean(0) if hips else box_center(xy[0], conf[0])
    out = (xy - pivot) @ rot.T + pivot
    return np.where(conf[..., None] > 0, out, 0).astype(np.float32)


def time_warp(xy: np.ndarray, conf: np.ndarray, speed: float, frames: int,
              start: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """``frames`` poses sampled every ``speed`` frames from frame ``start`` (linear interpolation).

    Needs ``start + speed * (frames - 1) <= T - 1``; a joint is kept where both neighbours have it.
    """
    t = start + speed * np.arange(frames)
    if t[-1] > len(xy) - 1 + 1e-6:
        raise ValueError(f"time_warp needs {t[-1] + 1:.1f} frames, the sequence has {len(xy)}")
    i0 = np.clip(np.floor(t).astype(int), 0, len(xy) - 1)
    i1 = np.minimum(i0 + 1, len(xy) - 1)
    w = (t - i0).astype(np.float32)
    out = xy[i0] * (1 - w[:, None, None]) + xy[i1] * w[:, None, None]
    ok = (conf[i0] > 0) & (conf[i1] > 0)
    c = np.where(ok, conf[i0] * (1 - w[:, None]) + conf[i1] * w[:, None], 0)
    return np.where(ok[..., None], out, 0).astype(np.float32), c.astype(np.float32)


def start_from(pose: np.ndarray, pose_conf: np.ndarray, xy: np.ndarray, conf: np.ndarray,
               blend: int) -> tuple[np.ndarray, np.ndarray]:
    """The motion ``xy (T, J, 2)`` made to start at ``pose (J, 2)``: the offset between the two first
    poses fades out with a smoothstep over ``blend`` frames, so frame 0 is ``pose`` and frames from
    ``blend`` on are the motion's own. Before blending the motion is scaled to the pose's body size
    (chain lengths) and moved so its first frame's hips are at the pose's hips horizontally and its
    lowest joint at the pose's lowest joint (the floor)."""
    s_pose = float(body_scale(pose[None], pose_conf[None]))
    s_xy = float(body_scale(xy, conf))
    xy = xy * (s_pose / s_xy if s_pose > 0 and s_xy > 0 else 1.0)
    anchor = np.zeros(2, np.float32)
    hips = [j for j in _HIPS if pose_conf[j] > 0 and conf[0, j] > 0]
    if hips:
        anchor[0] = pose[hips, 0].mean() - xy[0, hips, 0].mean()
    else:
        anchor[0] = box_center(pose, pose_conf)[0] - box_center(xy[0], conf[0])[0]
    low_pose = np.where(pose_conf > 0, pose[:, 1], -np.inf).max()
    low_xy = np.where(conf[0] > 0, xy[0, :, 1], -np.inf).max()
    anchor[1] = low_pose - low_xy if np.isfinite(low_pose) and np.isfinite(low_xy) else 0.0
    xy = xy + anchor
    u = np.clip(np.arange(len(xy)) / max(blend, 1), 0, 1)
    fade = (1 - u * u * (3 - 2 * u)).astype(np.float32)  # 1 at frame 0, 0 from frame ``blend`` on
    both = (pose_conf > 0)[None] & (conf > 0)
    offset = np.where(both[..., None], pose[None] - xy[:1], 0)
    out = xy + fade[:, None, None] * offset
    out_conf = np.where(fade[:, None] > 0, np.minimum(conf, pose_conf[None]), conf)
    return np.where(out_conf[..., None] > 0, out, 0).astype(np.float32), out_conf.astype(np.float32)


@dataclass
class MotionAugment:
    """How ``MotionDataset`` draws a training window (the ``data:`` keys of the same names).

    ``balance``: every action equally often (a label, then one of its windows); ``label_weights``
    (action name -> weight, others 1) makes ``balance`` draw those labels that much more often. ``speed``: playback
    speed range (log-uniform; limited by the stored window's length). ``rotate``: in-plane rotation
    range in degrees. ``flip``: mirror half. ``start_mix``: the fraction of windows that start from a
    random frame of another window of the same camera yaw and blend into their own motion over
    ``blend`` frames (``start_from``); with ``match_phase`` the motion is entered at the frame (among
    that action's windows of the same yaw) whose pose is nearest the start pose, so the continuation is
    as short as the data allows and follows from the pose (without it: a random frame); ``match_view``
    searches that action's windows of every camera yaw, so the motion also keeps the way the start pose
    faces (the same yaw only: the body may have to turn round within the blend).
    ``canonical``: scale and centre each window (``canonical``);
    coordinates may then leave [-1, 1] (for ``model.decoder: coords``).
    """

    balance: bool = False
    label_weights: dict[str, float] | None = None
    speed: tuple[float, float] = (1.0, 1.0)
    rotate: float = 0.0
    flip: bool = False
    start_mix: float = 0.0
    blend: int = 8
    match_phase: bool = False
    match_view: bool = False
    canonical: bool = False

    @classmethod
    def from_options(cls, opts: Any, train: bool) -> MotionAugment:
        """From the ``data:`` options (``motion.MotionOptions``); outside training only ``canonical`` applies."""
        if not train:
            return cls(canonical=opts.canonical)
        speed = tuple(float(v) for v in opts.speed)
        if not 0 < speed[0] <= speed[1]:
            raise ValueError(f"data.speed must be a range [low, high] with 0 < low <= high, got {list(speed)}")
        weights = {str(k): float(v) for k, v in (opts.label_weights or {}).items()}
        if weights and not opts.balance:
            raise ValueError("data.label_weights needs data.balance: true (it weights balance's draw of a label)")
        if any(not np.isfinite(v) or v <= 0 for v in weights.values()):
            raise ValueError(f"data.label_weights must be positive numbers, got {weights}")
        return cls(balance=opts.balance, label_weights=weights or None, speed=speed, rotate=opts.rotate,
                   flip=opts.flip, start_mix=opts.start_mix,
                   blend=opts.blend, match_phase=opts.match_phase,
                   match_view=opts.match_view, canonical=opts.canonical)

    def timing(self, stored: int, frames: int, rng: np.random.Generator) -> tuple[float, float]:
        """A random (speed, first frame) for a ``frames``-long view of a ``stored``-frame window."""
        fastest = (stored - 1) / max(frames - 1, 1)
        lo, hi = min(self.speed[0], fastest), min(self.speed[1], fastest)
        if hi > lo:
            speed = float(np.exp(rng.uniform(np.log(lo), np.log(hi))))
            return speed, rng.uniform(0, max(stored - 1 - speed * (frames - 1), 0))
        if lo == 1:
            return 1.0, float(rng.integers(stored - frames + 1))
        return lo, rng.uniform(0, max(stored - 1 - lo * (frames - 1), 0))

    def window(self, xy: np.ndarray, conf: np.ndarray, frames: int, rng: np.random.Generator,
               start_pose: tuple[np.ndarray, np.ndarray] | None = None,
               timing: tuple[float, float] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """A ``frames``-long augmented view of one stored window (T, J, 2) at ``timing`` (speed, first
        frame; default random, ``timing``); ``start_pose`` (pose (J, 2), conf (J,)) is where it starts when
        given (the caller draws it with probability ``start_mix``)."""
        speed, start = timing or self.timing(len(xy), frames, rng)
        xy, conf = time_warp(xy, conf, speed, frames, start)
        if start_pose is not None:
            xy, conf = start_from(start_pose[0], start_pose[1], xy, conf, self.blend)
        if self.flip and rng.random() < 0.5:
            xy, conf = mirror(xy, conf)
        if self.rotate > 0:
            xy = rotate(xy, conf, rng.uniform(-self.rotate, self.rotate))
        if self.canonical:
            xy = canonical(xy, conf)
        return xy, conf
