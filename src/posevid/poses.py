"""``Poses``: a sequence of 2D COCO-18 skeletons in pixel coordinates, with the image size and fps.

Retargeting, smoothing and gap filling live here too; they take and return ``Poses``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import PosevidError
from .skeleton import DRAWN_LIMBS, FLIP_PERM, NUM_JOINTS

# How ``retarget`` puts the driving motion on the source body.
RETARGET_MODES: tuple[str, ...] = ("bones", "relative", "absolute")


@dataclass
class Poses:
    """T frames of J joints.

    xy: (T, J, 2) float32 pixel coordinates (x right, y down) in an image of ``width`` x ``height``.
    conf: (T, J) float32 confidence in [0, 1]; a missing joint has confidence 0 (and xy 0).
    fps: frames per second of the sequence.
    """

    xy: np.ndarray
    conf: np.ndarray
    width: int
    height: int
    fps: float = 30.0

    def __post_init__(self) -> None:
        self.xy = np.asarray(self.xy, dtype=np.float32)
        self.conf = np.asarray(self.conf, dtype=np.float32)
        if self.xy.ndim == 2:
            self.xy = self.xy[None]
        if self.conf.ndim == 1:
            self.conf = self.conf[None]
        if self.xy.ndim != 3 or self.xy.shape[-1] != 2:
            raise ValueError(f"Poses.xy must be (T, J, 2), got {self.xy.shape}")
        if self.conf.shape != self.xy.shape[:2]:
            raise ValueError(f"Poses.conf must be {self.xy.shape[:2]}, got {self.conf.shape}")
        if not (np.isfinite(self.xy).all() and np.isfinite(self.conf).all()):
            raise ValueError("Poses contain NaN or infinite values")
        self.width, self.height = int(self.width), int(self.height)
        self.fps = float(self.fps)

    @classmethod
    def empty(cls, frames: int, width: int, height: int, fps: float = 30.0, joints: int = NUM_JOINTS) -> Poses:
        """``frames`` frames in which no joint was found (confidence 0)."""
        return cls(np.zeros((frames, joints, 2), np.float32), np.zeros((frames, joints), np.float32),
                   width, height, fps)

    @classmethod
    def concat(cls, items: list[Poses]) -> Poses:
        """Join sequences of the same image size along time (the first one's fps is kept)."""
        if not items:
            raise ValueError("Poses.concat needs at least one sequence")
        first = items[0]
        return cls(np.concatenate([p.xy for p in items]), np.concatenate([p.conf for p in items]),
                   first.width, first.height, first.fps)

    def __len__(self) -> int:
        return self.xy.shape[0]

    def __getitem__(self, index: int | slice | np.ndarray) -> Poses:
        """A sub-sequence; an integer index gives a one-frame ``Poses``."""
        if isinstance(index, (int, np.integer)):
            index = slice(int(index), int(index) + 1 if int(index) != -1 else None)
        return Poses(self.xy[index], self.conf[index], self.width, self.height, self.fps)

    def __iter__(self):
        for t in range(len(self)):
            yield self[t]

    @property
    def num_joints(self) -> int:
        return self.xy.shape[1]

    def visible(self, threshold: float = 0.1) -> np.ndarray:
        """(T, J) bool: joints whose confidence exceeds ``threshold``."""
        return self.conf > threshold

    def copy(self) -> Poses:
        return Poses(self.xy.copy(), self.conf.copy(), self.width, self.height, self.fps)

    def rescale(self, width: int, height: int) -> Poses:
        """The same poses in an image of ``width`` x ``height`` (coordinates scaled per axis)."""
        sx, sy = width / self.width, height / self.height
        xy = self.xy * np.array([sx, sy], np.float32)
        return Poses(xy, self.conf, width, height, self.fps)

    def crop(self, x0: float, y0: float, size_w: float, size_h: float, width: int, height: int) -> Poses:
        """Poses inside the box (x0, y0, size_w, size_h) of this image, resized to width x height.

        Joints that fall outside the box keep their (out-of-range) coordinates and confidence.
        """
        xy = (self.xy - np.array([x0, y0], np.float32)) * np.array([width / size_w, height / size_h], np.float32)
        xy[self.conf <= 0] = 0
        return Poses(xy, self.conf, width, height, self.fps)

    def flip(self) -> Poses:
        """Mirror horizontally: x -> width - 1 - x, with left and right joints swapped."""
        if self.num_joints != NUM_JOINTS:
            raise ValueError("flip needs COCO-18 poses")
        perm = list(FLIP_PERM)
        xy = self.xy[:, perm].copy()
        conf = self.conf[:, perm].copy()
        xy[..., 0] = self.width - 1 - xy[..., 0]
        xy[conf <= 0] = 0
        return Poses(xy, conf, self.width, self.height, self.fps)


# Segments whose lengths add up to a standing person's height, with their typical share of it:
# head (nose-neck), torso (neck-mid hip), thigh (hip-knee), shin (knee-ankle); left/right averaged.
_HEIGHT_SEGMENTS: tuple[tuple[tuple[tuple[int, int], ...], float], ...] = (
    (((0, 1),), 0.12),
    (((1, 8), (1, 11)), 0.34),
    (((8, 9), (11, 12)), 0.28),
    (((9, 10), (12, 13)), 0.26),
)


def _check_coco18(poses: Poses, what: str) -> None:
    if poses.num_joints != NUM_JOINTS:
        raise ValueError(f"{what} needs COCO-18 poses, got {poses.num_joints} joints")


def body_height(poses: Poses) -> np.ndarray:
    """(T,) float32 body size in pixels: the length of the head-torso-leg chain (nose to ankle).

    It is made of limb lengths, so it does not shrink when the person bends; limbs pointing at the
    camera (thighs in a squat) still look shorter in 2D. Segments that are missing are made up from
    the visible ones by typical body proportions; a frame with no visible segment gets 0.
    """
    _check_coco18(poses, "body_height")
    xy, vis = poses.xy, poses.conf > 0
    total = np.zeros(len(poses), np.float64)
    share = np.zeros(len(poses), np.float64)
    for pairs, fraction in _HEIGHT_SEGMENTS:
        lengths = np.stack([np.linalg.norm(xy[:, a] - xy[:, b], axis=-1) for a, b in pairs], axis=1)
        ok = np.stack([vis[:, a] & vis[:, b] for a, b in pairs], axis=1)
        n = ok.sum(axis=1)
        seg = np.where(n > 0, (lengths * ok).sum(axis=1) / np.maximum(n, 1), 0.0)
        total += seg
        share += np.where(n > 0, fraction, 0.0)
    return np.where(share > 0, total / np.maximum(share, 1e-9), 0.0).astype(np.float32)


def bbox(poses: Poses) -> np.ndarray:
    """(T, 4) float32 box (x0, y0, x1, y1) in pixels around the visible joints; zeros for empty frames."""
    vis = poses.conf > 0
    big = np.float32(np.inf)
    x, y = poses.xy[..., 0], poses.xy[..., 1]
    box = np.stack([np.where(vis, x, big).min(1), np.where(vis, y, big).min(1),
                    np.where(vis, x, -big).max(1), np.where(vis, y, -big).max(1)], axis=1)
    box[~vis.any(1)] = 0
    return box.astype(np.float32)


def _center(poses: Poses) -> np.ndarray:
    """(T, 2) body centre: mid-hip, else the neck, else the box centre (0 for empty frames)."""
    vis = poses.conf > 0
    box = bbox(poses)
    out = (box[:, :2] + box[:, 2:]) / 2
    neck = vis[:, 1]
    out[neck] = poses.xy[neck, 1]
    hips = vis[:, 8] & vis[:, 11]
    out[hips] = (poses.xy[hips, 8] + poses.xy[hips, 11]) / 2
    return out


def _reference(poses: Poses, what: str) -> tuple[float, int]:
    """Body size of a sequence (median ``body_height`` of the frames with a body) and the first such frame.

    ``animate`` relies on the median: it passes a reference frame twice beside the current one.
    """
    heights = body_height(poses)
    seen = np.flatnonzero(heights > 0)
    if seen.size == 0:
        raise PosevidError(None, f"no person found in the {what} poses (no visible body segment)")
    return float(np.median(heights[seen])), int(seen[0])


def retarget(driving: Poses, source: Poses, mode: str = "relative") -> Poses:
    """Move the source body (frame 0 of ``source``) with the motion of ``driving`` (T frames).

    ``relative``: each joint of the source moves by the driving joint's displacement from the first
    driving frame with a person in it, scaled by the ratio of body sizes (``body_height``); that frame
    gives the source pose. Joints missing in the source or in that driving frame take the driving pose
    scaled and shifted to match the others in their frame.
    ``bones``: the source skeleton posed like the driver: the neck moves as in ``relative``, and each bone
    of the source (``skeleton.DRAWN_LIMBS``, from the neck outwards) turns by the angle its driving bone
    has turned since that frame and changes length by the same factor (foreshortening, capped at 1.5),
    so the source's proportions are kept. Bones without a measure in the source or the driver keep their
    ``relative`` offset from their parent joint.
    ``absolute``: the driving pose itself, scaled by the ratio of body sizes and moved so that its body
    centre in the first frame lands on the source's; its motion across the frame is scaled likewise.
    Returns (T, 18) poses in the source image's pixels at the driving fps. Raises ``PosevidError`` when
    either sequence has no person in it.
    """
    if mode not in RETARGET_MODES:
        raise ValueError(f"retarget mode must be one of {', '.join(RETARGET_MODES)}, got {mode!r}")
    _check_coco18(driving, "retarget")
    _check_coco18(source, "retarget")
    src = source[0]
    d_height, first = _reference(driving, "driving")
    scale = _reference(src, "source")[0] / d_height
    d_xy, d_c = driving.xy, driving.conf
    if mode == "absolute":
        offset = _center(src)[0] - scale * _center(driving[first])[0]
        xy = scale * d_xy + offset
        conf = d_c.copy()
    else:
        s_xy, s_c = src.xy[0], src.conf[0]
        rel = s_xy + scale * (d_xy - d_xy[first])
        rel_ok = (d_c > 0) & (d_c[first] > 0) & (s_c > 0)
        scaled = scale * d_xy
        n = rel_ok.sum(1, keepdims=True)
        shift = ((rel - scaled) * rel_ok[..., None]).sum(1) / np.maximum(n, 1)
        xy = np.where(rel_ok[..., None], rel, scaled + shift[:, None])
        conf = np.where(rel_ok, np.minimum(d_c, s_c), np.where(n > 0, d_c, 0.0))
        if mode == "bones":
            xy = _turn_bones(xy, conf, d_xy, d_c, first, s_xy, s_c)
    xy = np.where(conf[..., None] > 0, xy, 0.0)
    return Poses(xy, conf, src.width, src.height, driving.fps)


def _turn_bones(rel: np.ndarray, conf: np.ndarray, d_xy: np.ndarray, d_c: np.ndarray, first: int,
                s_xy: np.ndarray, s_c: np.ndarray, max_stretch: float = 1.5) -> np.ndarray:
    """``retarget``'s bones mode: (T, 18, 2) relative-mode joints -> joints whose source bones turn and
    stretch as the driving bones (d_xy (T, 18, 2), d_c (T, 18)) do from frame ``first``."""
    out = rel.copy()
    for p, c in DRAWN_LIMBS:
        v0 = d_xy[first, c] - d_xy[first, p]
        vt = d_xy[:, c] - d_xy[:, p]
        n0, nt = float(np.linalg.norm(v0)), np.linalg.norm(vt, axis=-1)
        ok = (d_c[:, p] > 0) & (d_c[:, c] > 0) & (conf[:, p] > 0) & (conf[:, c] > 0) & (nt > 1e-6)
        ok &= bool(d_c[first, p] > 0 and d_c[first, c] > 0 and s_c[p] > 0 and s_c[c] > 0 and n0 > 1e-6)
        angle = np.arctan2(vt[:, 1], vt[:, 0]) - np.arctan2(v0[1], v0[0])
        cos, sin = np.cos(angle), np.sin(angle)
        bone = (s_xy[c] - s_xy[p])[None] * np.minimum(nt / max(n0, 1e-6), max_stretch)[:, None]
        turned = np.stack([cos * bone[:, 0] - sin * bone[:, 1], sin * bone[:, 0] + cos * bone[:, 1]], -1)
        follow = rel[:, c] + (out[:, p] - rel[:, p])  # no measure: keep the offset from the parent
        out[:, c] = np.where(ok[:, None], out[:, p] + turned, follow)
    return out.astype(rel.dtype)


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) of the runs of True in a 1-D bool array."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(np.int8), [0]])))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist()))


class OneEuroFilter:
    """One-euro filter (Casiez et al. 2012) over a stream of one-frame poses, joint by joint: the one
    implementation behind both the streaming smoothing of ``posevid animate`` and ``smooth(...,
    "one_euro")``.

    Coordinates are filtered in units of ``unit`` pixels (a body height), so the defaults do not depend
    on the image size: ``min_cutoff`` and ``d_cutoff`` in Hz, ``beta`` per body height per second (higher
    follows fast motion more closely). A joint that goes missing keeps its last position for up to
    ``max_gap`` frames; seen again after that, it starts afresh.
    """

    def __init__(self, fps: float, unit: float, min_cutoff: float = 1.0, beta: float = 5.0,
                 d_cutoff: float = 1.0, max_gap: int = 5):
        self.fps, self.unit, self.max_gap = fps, max(unit, 1e-6), max_gap
        self.min_cutoff, self.beta = min_cutoff, beta
        self.a_d = self._alpha(d_cutoff)
        self.x: np.ndarray | None = None  # (J, 2) filtered position, body-height units
        self.dx = self.conf = self.gap = self.live = None

    def _alpha(self, cutoff: np.ndarray | float) -> np.ndarray | float:
        return 1.0 / (1.0 + self.fps / (2 * np.pi * cutoff))

    def __call__(self, pose: Poses) -> Poses:
        """The filtered one-frame pose (same image size and fps)."""
        xy, conf = pose.xy[0].astype(np.float64) / self.unit, pose.conf[0].astype(np.float64)
        seen = conf > 0
        if self.x is None:
            self.x, self.dx, self.conf = xy.copy(), np.zeros_like(xy), conf.copy()
            self.gap, self.live = np.zeros(len(conf), int), seen.copy()
        new = seen & ~self.live
        cont = seen & self.live
        self.x[new], self.dx[new] = xy[new], 0.0
        dx = self.a_d * (xy - self.x) * self.fps + (1 - self.a_d) * self.dx
        a = self._alpha(self.min_cutoff + self.beta * np.linalg.norm(dx, axis=1))[:, None]
        self.x[cont] = (a * xy + (1 - a) * self.x)[cont]
        self.dx[cont] = dx[cont]
        self.conf[seen], self.gap[seen] = conf[seen], 0
        self.gap[~seen] += 1
        self.live = seen | (self.live & (self.gap <= self.max_gap))
        out_conf = np.where(self.live, self.conf, 0.0)
        out_xy = np.where(self.live[:, None], self.x * self.unit, 0.0)
        return Poses(out_xy[None], out_conf[None], pose.width, pose.height, pose.fps)


def smooth(poses: Poses, method: str = "one_euro", *, min_cutoff: float = 1.0, beta: float = 5.0,
           d_cutoff: float = 1.0, window: int = 7, order: int = 2) -> Poses:
    """Temporal smoothing of each joint over its runs of visible frames (missing joints stay missing).

    ``one_euro``: ``OneEuroFilter`` run over the sequence, in units of its median body height, each run
    of visible frames of a joint filtered on its own. ``savgol``: Savitzky-Golay filter with an odd
    ``window`` (frames) and polynomial ``order``; runs shorter than the window use the largest odd window
    that fits.
    """
    if method not in ("one_euro", "savgol"):
        raise ValueError(f"smooth method must be 'one_euro' or 'savgol', got {method!r}")
    heights = body_height(poses) if poses.num_joints == NUM_JOINTS else np.zeros(0)
    unit = float(np.median(heights[heights > 0])) if (heights > 0).any() else float(max(poses.width, poses.height))
    if method == "one_euro":
        f = OneEuroFilter(poses.fps, unit, min_cutoff, beta, d_cutoff, max_gap=0)
        out = Poses.concat([f(p) for p in poses])
        xy = np.where(poses.conf[..., None] > 0, out.xy, poses.xy)
        return Poses(xy.astype(np.float32), poses.conf, poses.width, poses.height, poses.fps)
    from scipy.signal import savgol_filter

    xy = poses.xy.astype(np.float64) / unit
    out = xy.copy()
    for j in range(poses.num_joints):
        for a, b in _runs(poses.conf[:, j] > 0):
            w = min(window, (b - a) if (b - a) % 2 else (b - a - 1))
            if w > order:
                out[a:b, j] = savgol_filter(xy[a:b, j], w, order, axis=0, mode="interp")
    return Poses((out * unit).astype(np.float32), poses.conf, poses.width, poses.height, poses.fps)


def fill_gaps(poses: Poses, max_gap: int = 5) -> Poses:
    """Fill runs of at most ``max_gap`` frames where a joint is missing, between two frames where it is seen.

    Coordinates and confidence are interpolated linearly between the two frames; longer gaps and gaps
    at the start or end of the sequence stay missing.
    """
    xy, conf = poses.xy.copy(), poses.conf.copy()
    for j in range(poses.num_joints):
        for a, b in _runs(poses.conf[:, j] <= 0):
            if a == 0 or b == len(poses) or b - a > max_gap:
                continue
            w = (np.arange(a, b) - (a - 1)) / (b - (a - 1))
            xy[a:b, j] = (1 - w)[:, None] * xy[a - 1, j] + w[:, None] * xy[b, j]
            conf[a:b, j] = (1 - w) * conf[a - 1, j] + w * conf[b, j]
    return Poses(xy, conf, poses.width, poses.height, poses.fps)
