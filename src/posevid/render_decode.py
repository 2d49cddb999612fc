"""Skeleton renders back to keypoints: OpenPose / DWPose-style stick figures (coloured limbs on a dark
background, as Moore-AnimateAnyone, MimicMotion and MusePose keep their driving motion) decoded frame by frame.

Each of OpenPose's 17 drawn limbs has its own colour (``skeleton.COLORS[k]`` for limb k, at full or at
60% brightness) and each joint its own dot (``COLORS[j]``), all 18 hues 20 degrees apart. A pixel's hue
names the limb it belongs to; each limb's pixels give a segment whose two ends are its joints, and a
joint's dot, where it can be told apart from the limbs (the DWPose look: dim limbs, bright dots), pins
the joint down. Hands (DWPose: 20 bones in hues 18 degrees apart, bright and thin, near the wrists) are
fitted to their bones and dots (``hand_fit``); the white face dots, which carry no identity, as one face
(``face_fit``); the template face placed on them places the head joints they hide.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import cv2
import numpy as np

from .densepose import NUM_IUV_PARTS
from .poses import Poses
from .skeleton import DRAWN_LIMBS, HAND_LIMBS, HAND_POINTS, JOINT, NUM_JOINTS

BODY_HUE_STEP = 20.0  # degrees between the hues of skeleton.COLORS
HAND_HUE_STEP = 360.0 / len(HAND_LIMBS)  # degrees between the hues of render.hand_colors()
HUE_TOLERANCE = 7.0  # degrees a pixel's hue may be off its colour's (video compression)
MIN_SATURATION = 0.55
MIN_VALUE = 70  # darker pixels are background
BRIGHT = 215  # dots and hand bones are drawn at full brightness, OpenPose-style limbs at 60% (153)
MIN_LIMB_PIXELS = 6


@dataclass
class _Segment:
    """A limb's pixels as a segment: its two ends (2, 2) and its half-width, in pixels."""

    ends: np.ndarray
    half_width: float


def hue_saturation_value(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(H, W, 3) uint8 RGB -> hue in degrees [0, 360) (in steps of 360/256), saturation [0, 1] and
    value 0..255, float32 each."""
    hsv = cv2.cvtColor(np.ascontiguousarray(rgb, np.uint8), cv2.COLOR_RGB2HSV_FULL)
    return (hsv[..., 0].astype(np.float32) * (360 / 256), hsv[..., 1].astype(np.float32) / 255,
            hsv[..., 2].astype(np.float32))


def _hue_index(hue: np.ndarray, step: float, count: int) -> np.ndarray:
    """Index of the nearest of ``count`` hues ``step`` degrees apart, or -1 when further than the tolerance."""
    idx = np.round(hue / step).astype(np.int64)
    off = np.abs(hue - idx * step)
    return np.where(off <= HUE_TOLERANCE, idx % count, -1)


def _segment(ys: np.ndarray, xs: np.ndarray) -> _Segment | None:
    """The segment through a limb's pixels (row and column indices): its main component(s), principal
    axis and extreme projections; None for too few pixels or a round blob."""
    if xs.size < MIN_LIMB_PIXELS:
        return None
    y0, x0 = ys.min(), xs.min()
    mask = np.zeros((ys.max() - y0 + 1, xs.max() - x0 + 1), np.uint8)
    mask[ys - y0, xs - x0] = 1
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    areas = stats[1:, cv2.CC_STAT_AREA]
    keep = np.zeros(count, bool)
    keep[1:] = areas >= max(MIN_LIMB_PIXELS, 0.25 * areas.max())
    kept = keep[labels[ys - y0, xs - x0]]
    pts = np.stack([xs[kept], ys[kept]], 1).astype(np.float32)
    if len(pts) < MIN_LIMB_PIXELS:
        return None
    centre = pts.mean(0)
    _, _, vt = np.linalg.svd(pts - centre, full_matrices=False)
    u = vt[0]
    proj = (pts - centre) @ u
    lo, hi = np.percentile(proj, [0.5, 99.5])
    length = max(float(hi - lo), 1.0)
    half_width = float(len(pts)) / length / 2
    if length < 2.5 * half_width:  # a blob, not a limb
        return None
    return _Segment(np.stack([centre + lo * u, centre + hi * u]), half_width)


def _blobs(ys: np.ndarray, xs: np.ndarray) -> list[tuple[np.ndarray, float]]:
    """Centres (x, y) and areas of the connected blobs of the pixels at rows ``ys``, columns ``xs``."""
    if xs.size == 0:
        return []
    y0, x0 = ys.min(), xs.min()
    mask = np.zeros((ys.max() - y0 + 1, xs.max() - x0 + 1), np.uint8)
    mask[ys - y0, xs - x0] = 1
    count, _, stats, centroids = cv2.connectedComponentsWithStats(mask, connectivity=8)
    return [(centroids[i].astype(np.float32) + [x0, y0], float(stats[i, cv2.CC_STAT_AREA])) for i in range(1, count)
            if stats[i, cv2.CC_STAT_AREA] >= 4]


def _by_index(mask: np.ndarray, idx: np.ndarray, count: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(rows, columns) of the pixels of ``mask`` with each colour index 0..count-1."""
    ys, xs = np.nonzero(mask & (idx >= 0))
    labels = idx[ys, xs]
    order = np.argsort(labels, kind="stable")
    ys, xs, labels = ys[order], xs[order], labels[order]
    bounds = np.searchsorted(labels, np.arange(count + 1))
    return [(ys[bounds[k]:bounds[k + 1]], xs[bounds[k]:bounds[k + 1]]) for k in range(count)]


def _split_dots(coloured: np.ndarray, bright: np.ndarray, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(dot pixels, limb pixels) of a render whose pixels have colour indices ``idx``.

    Two brightness levels (OpenPose / DWPose: limbs at 60%): dots are the bright blobs that survive an
    opening (thin bright hand bones do not), limbs the dim pixels. One level (posevid's thin lines):
    within each colour, dots are the round blobs apart from the lines (a dot on its own colour's line
    stays part of the line).
    """
    dim = coloured & ~bright
    if dim.sum() > 0.3 * coloured.sum():
        disc3 = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
        return cv2.morphologyEx(bright.astype(np.uint8), cv2.MORPH_OPEN, disc3) > 0, dim
    dots = np.zeros_like(coloured)
    for j in np.unique(idx[coloured & (idx >= 0)]):
        count, labels, stats, _ = cv2.connectedComponentsWithStats((coloured & (idx == j)).astype(np.uint8),
                                                                   connectivity=8)
        for c in range(1, count):
            x, y, w, h, area = stats[c]
            if area >= 4 and _round(labels[y:y + h, x:x + w] == c):
                dots[y:y + h, x:x + w] |= labels[y:y + h, x:x + w] == c
    return dots, coloured & ~dots


def _round(mask: np.ndarray) -> bool:
    """Whether a blob is about as long as it is wide (a dot rather than a line)."""
    ys, xs = np.nonzero(mask)
    cov = np.cov(np.stack([xs, ys]).astype(np.float64)) if xs.size > 2 else np.eye(2)
    low, high = np.linalg.eigvalsh(cov)
    return bool(high <= 2.5 * max(low, 1e-6))


def _orient(segments: dict[int, _Segment], limbs: tuple[tuple[int, int], ...], anchors: dict[int, np.ndarray],
            root: int | None) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Which end of each segment is which joint: {limb: (end at joint a, end at joint b)}.

    Limbs are oriented from joints already placed (``anchors``, e.g. dots), then outwards from the
    ``root`` joint (where most segments meet), then from each other, until nothing changes.
    """
    placed: dict[int, list[np.ndarray]] = {j: [p] for j, p in anchors.items()}
    if root is not None and root not in placed:
        ends = [(k, e) for k, seg in segments.items() if root in limbs[k] for e in seg.ends]
        if ends:
            best = min(ends, key=lambda ke: sum(min(np.linalg.norm(e2 - ke[1]) for e2 in segments[k2].ends)
                                                for k2 in {k for k, _ in ends}))
            placed[root] = [best[1]]
    oriented: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    changed = True
    while changed:
        changed = False
        for k, seg in segments.items():
            if k in oriented:
                continue
            a, b = limbs[k]
            cost = []
            for first, second in ((0, 1), (1, 0)):
                terms = [min(np.linalg.norm(seg.ends[first] - p) for p in placed[a])] if a in placed else []
                terms += [min(np.linalg.norm(seg.ends[second] - p) for p in placed[b])] if b in placed else []
                cost.append(sum(terms) / len(terms) if terms else None)
            if cost[0] is None:
                continue
            first, second = (0, 1) if cost[0] <= cost[1] else (1, 0)
            oriented[k] = (seg.ends[first], seg.ends[second])
            placed.setdefault(a, []).append(seg.ends[first])
            placed.setdefault(b, []).append(seg.ends[second])
            changed = True
    return oriented


def _whole_area(dots: dict[int, list[tuple[np.ndarray, float]]]) -> float:
    """Least area (pixels) of a whole joint dot: half the median of all dots' (smaller blobs of a joint's
    hue are fragments: video compression's fringes, other parts' pieces of a near hue)."""
    sizes = [area for found in dots.values() for _, area in found]
    return 0.5 * float(np.median(sizes)) if sizes else 0.0


def _assemble(oriented: dict[int, tuple[np.ndarray, np.ndarray]], segments: dict[int, _Segment],
              limbs: tuple[tuple[int, int], ...], dots: dict[int, list[tuple[np.ndarray, float]]], joints: int,
              prefer_dots: tuple[int, ...] = ()) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Joint positions: the joint's dot nearest the limb ends at it, where one lies within reach (or the
    only dot of its colour when no limb reaches the joint (DWPose's hand dots share the left knee's blue),
    or the one whole dot of a ``prefer_dots`` joint, or the one whole dot within reach of any of the
    limb ends at it), else the mean of those limb ends. Returns (J, 2), (J,)
    with confidence 1 or 0, and (J,) bool: placed on a dot."""
    ends: dict[int, list[tuple[np.ndarray, float]]] = {}
    for k, (ea, eb) in oriented.items():
        a, b = limbs[k]
        ends.setdefault(a, []).append((ea, segments[k].half_width))
        ends.setdefault(b, []).append((eb, segments[k].half_width))
    xy = np.zeros((joints, 2), np.float32)
    conf = np.zeros(joints, np.float32)
    on_dot = np.zeros(joints, bool)
    full = _whole_area(dots)
    for j in range(joints):
        near = ends.get(j, [])
        candidates = dots.get(j, [])
        whole = [d for d in candidates if d[1] >= full]
        # The head's limbs are short and hidden under its dots: one clean dot of the colour places the joint.
        if (not near and len(candidates) == 1) or (j in prefer_dots and len(whole) == 1):
            xy[j], conf[j], on_dot[j] = max(whole or candidates, key=lambda d: d[1])[0], 1, True
            continue
        if not near:
            continue
        estimate = np.mean([e for e, _ in near], 0)
        reach = 3 * max(w for _, w in near) + 3
        best = min(candidates, key=lambda d: float(np.linalg.norm(d[0] - estimate)), default=None)
        use_dot = best is not None and np.linalg.norm(best[0] - estimate) <= reach
        if not use_dot and len(whole) == 1 and min(np.linalg.norm(whole[0][0] - e) for e, _ in near) <= reach:
            best, use_dot = whole[0], True  # a limb end at its one whole dot (the other limb there cut short)
        xy[j], conf[j], on_dot[j] = (best[0] if use_dot else estimate), 1, use_dot
    return xy, conf, on_dot


def decode_skeleton(rgb: np.ndarray, fps: float = 30.0, hands: bool = False, face: bool = False) -> Poses:
    """One OpenPose / DWPose-style skeleton render (H, W, 3) uint8 RGB -> a one-frame ``Poses``.

    Body joints (COCO-18) from the limb colours and joint dots; with ``hands`` (off by default, as the
    CLI's ``--keypoints body``: fitting hands takes most of the time), both hands (21 points each) from
    the bone colours and dots near each wrist when the render has them; with ``face``, the 68 face
    landmarks fitted to the white face dots (``face_fit``). Head joints under the face dots are read near
    their places on the template face placed there (``_head_from_face``, with or without ``face``). Decoded
    points have confidence 1 (a head joint placed by the face where nothing of its dot shows 0.5), the
    rest 0. Works on full-brightness (posevid, thin OpenPose) and 60%-brightness (ControlNet / DWPose)
    limbs. For the frames of a video, ``SkeletonDecoder`` is faster with hands.
    """
    return SkeletonDecoder(hands, face)(rgb, fps)


@dataclass
class _HandFit:
    """One hand's fit in a frame: its points (21, 2) and the body's wrist (2,) in image pixels, its loss and
    the number of frames in a row it was fitted from the previous frame's alone."""

    points: np.ndarray
    wrist: np.ndarray
    loss: float
    warm: int = 0


WARM_MOVE = 0.5  # a hand starts from the previous frame's when its wrist moved under this share of its size
WARM_SLACK = (1.15, 0.03)  # and keeps that fit when its loss is under previous * [0] + [1]
WARM_RUN = 3  # frames in a row; then the template starts are tried again (a wrong fit does not persist)
SHARED = 0.25  # a hand piece both wrists reach is fitted whole by each that is the nearer for this share of it
OFF_DOT = 1.0  # a fitted hand point further than this many dot radii from anything drawn is left out
SPECK = 0.25  # a piece of hand colours under this share of a dot's area is ignored (blended edges)


class SkeletonDecoder:
    """``decode_skeleton`` for the frames of one video, in order: ``decoder(rgb, fps) -> Poses[1]``.

    With ``hands``, each hand's fit starts from the previous frame's hand (moved with its wrist) when the
    wrist moved under ``WARM_MOVE`` of the hand's size, and is kept when its loss is near the previous
    fit's (``WARM_SLACK``); otherwise (and on the first frame, after a hand was lost, and after ``WARM_RUN``
    such frames in a row) the template starts of ``hand_fit.fit_hand`` are tried too and the best fit wins.
    With ``face``, the face (``_decode_face``).
    """

    def __init__(self, hands: bool = False, face: bool = False):
        self.hands, self.face = hands, face
        self._last: list[_HandFit | None] = [None, None]

    def __call__(self, rgb: np.ndarray, fps: float = 30.0) -> Poses:
        height, width = rgb.shape[:2]
        hue, sat, val = hue_saturation_value(rgb)
        coloured = (sat >= MIN_SATURATION) & (val >= MIN_VALUE)
        ys, xs = np.nonzero(coloured)
        if xs.size == 0:
            self._last = [None, None]
            return Poses.empty(1, width, height, fps)
        y0, x0 = max(int(ys.min()) - 2, 0), max(int(xs.min()) - 2, 0)
        box = np.s_[y0:int(ys.max()) + 3, x0:int(xs.max()) + 3]
        hue, coloured, bright = hue[box], coloured[box], coloured[box] & (val[box] >= BRIGHT)
        body_idx = _hue_index(hue, BODY_HUE_STEP, NUM_JOINTS)
        dot_mask, limb_mask = _split_dots(coloured, bright, body_idx)
        segments = _segments(limb_mask, body_idx, len(DRAWN_LIMBS))
        dots = {j: found for j, (ys, xs) in enumerate(_by_index(dot_mask, body_idx, NUM_JOINTS))
                if (found := _blobs(ys, xs))}
        full = _whole_area(dots)  # a joint's one whole dot among fragments of its hue pins it down
        anchors = {j: whole[0][0] for j, found in dots.items()
                   if len(whole := [d for d in found if d[1] >= full or len(found) == 1]) == 1}
        oriented = _orient(segments, DRAWN_LIMBS, anchors, JOINT["neck"])
        xy, conf, on_dot = _assemble(oriented, segments, DRAWN_LIMBS, dots, NUM_JOINTS, HEAD_JOINTS)
        sizes = [area for found in dots.values() for _, area in found]  # the dot radius, for hands and face
        radius = float(np.sqrt(np.median(sizes) / np.pi)) if sizes else max(1.0, min(height, width) / 128)
        _joints_at_short_limbs(xy, conf, on_dot, dots, limb_mask, body_idx, radius)
        offset = np.array([x0, y0], np.float32)
        face_radius = max(1.0, 0.75 * radius)
        white = (sat < 0.3) & (val >= FACE_WHITE)  # the face's dots
        face_dots = _face_dots(white, np.where(conf[:, None] > 0, xy + offset, 0), conf, face_radius)
        hidden = np.zeros(NUM_JOINTS, bool)  # head joints placed under the face's dots, nothing of them showing
        if face_dots is not None:
            hidden = _head_from_face(xy, conf, on_dot, coloured, body_idx, face_dots[3] - offset, radius, white[box])
        groups = {}
        if self.hands:
            last = [None if f is None else _HandFit(f.points - offset, f.wrist - offset, f.loss, f.warm)
                    for f in self._last]
            centres = [centre for found in dots.values() for centre, area in found if area >= full]
            hand_radius = _dot_radius(val[box], centres, radius)
            hand_xy, hand_conf, fits = _decode_hands(hue, sat[box], val[box], xy, np.where(hidden, 0, conf),
                                                     hand_radius, last)  # no dot of a hidden joint under a hand
            self._last = [None if f is None else _HandFit(f.points + offset, f.wrist + offset, f.loss, f.warm)
                          for f in fits]
            if (hand_conf > 0).any():
                hand_xy[hand_conf > 0] += offset
                groups = {"hand_xy": hand_xy[None], "hand_conf": hand_conf[None]}
        xy[conf > 0] += [x0, y0]
        if self.face:
            face_xy, face_conf = _decode_face(face_dots, face_radius)
            groups |= {"face_xy": face_xy[None], "face_conf": face_conf[None]}
        return Poses(xy[None], conf[None], width, height, fps, **groups)


RAYS = 16  # directions from each dot's centre along which its edge is sought (``_dot_radius``)


def _dot_radius(val: np.ndarray, centres: list[np.ndarray], radius: float) -> float:
    """The dots' radius in pixels as ``hand_fit`` draws them (its soft dot is half covered half a pixel past its
    radius): the median over the whole dots (``centres``, (x, y) each) and ``RAYS`` directions of where the
    value (``val`` (H, W), 0..255) first falls below half the dot centre's, less half a pixel; ``radius`` (the
    one from the dots' areas) without any. Video compression blurs a dot's edge, which leaves its half-value
    line where it was but takes the rim off its area (dots of radius 4 read 2.9-3.6 through an h264 mp4,
    4.1-4.3 drawn losslessly)."""
    height, width = val.shape
    value = val.astype(np.float32)
    steps = np.arange(0.0, 3 * radius + 3, 0.25, dtype=np.float32)
    angles = np.linspace(0, 2 * np.pi, RAYS, endpoint=False)
    edges = []
    for centre in centres:
        px = centre[0] + steps[None] * np.cos(angles)[:, None]
        py = centre[1] + steps[None] * np.sin(angles)[:, None]
        inside = (px.min(1) >= 0) & (py.min(1) >= 0) & (px.max(1) <= width - 1) & (py.max(1) <= height - 1)
        if not inside.any():
            continue
        profile = cv2.remap(value, *(np.ascontiguousarray(p[inside], np.float32) for p in (px, py)),
                            cv2.INTER_LINEAR)  # (rays, steps)
        below = profile < 0.5 * profile[:, :1]
        for ray, k in zip(profile, np.argmax(below, axis=1)):
            if k > 0:  # between the last step above half and the first below
                edges.append(steps[k - 1] + 0.25 * (ray[k - 1] - 0.5 * ray[0]) / max(ray[k - 1] - ray[k], 1e-6))
    return max(1.0, float(np.median(edges)) - 0.5) if edges else radius


SHORT_LIMB = 4.0  # dot radii: a limb drawn no longer than this between its joints' centres reads as a blob


def _joints_at_short_limbs(xy: np.ndarray, conf: np.ndarray, on_dot: np.ndarray,
                           dots: dict[int, list[tuple[np.ndarray, float]]], limb_mask: np.ndarray, idx: np.ndarray,
                           radius: float) -> None:
    """In place: a joint left out with several dots of its colour (a fragment of another part's hue among
    them), at the end of a limb too short to read as a segment (a forearm pointing at the camera, its
    wrist under the hand's dots), takes the largest of its dots within ``SHORT_LIMB`` dot radii (``radius``
    pixels) of the limb's other joint that the limb's pixels touch (within two dot radii), when that
    joint is placed and touches them too."""
    for k, (a, b) in enumerate(DRAWN_LIMBS):
        if (conf[a] > 0) == (conf[b] > 0):
            continue
        placed, missing = (a, b) if conf[a] > 0 else (b, a)
        if len(dots.get(missing, [])) < 2:
            continue
        ys, xs = np.nonzero(limb_mask & (idx == k))
        if xs.size < MIN_LIMB_PIXELS:
            continue
        pixels = np.stack([xs, ys], 1).astype(np.float32)
        touching = [d for d in dots[missing] if _gap(pixels, d[0]) <= 2 * radius
                    and np.linalg.norm(d[0] - xy[placed]) <= SHORT_LIMB * radius]
        if touching and _gap(pixels, xy[placed]) <= 2 * radius:
            xy[missing], conf[missing], on_dot[missing] = max(touching, key=lambda d: d[1])[0], 1, True


def _gap(pixels: np.ndarray, point: np.ndarray) -> float:
    """Distance in pixels from ``point`` (x, y) to the nearest of ``pixels`` (N, 2)."""
    return float(np.linalg.norm(pixels - point, axis=1).min())


HEAD_JOINTS = (JOINT["nose"], JOINT["right_eye"], JOINT["left_eye"], JOINT["right_ear"], JOINT["left_ear"])
# Where each head joint lies on the 68-point face (iBUG): the nose tip, the eyes' centres, the ears by the jaw's
# upper ends (MediaPipe's own head joints against its face on the four real clips: within 5% of the body height).
HEAD_ON_FACE = {JOINT["nose"]: (30,), JOINT["right_eye"]: tuple(range(36, 42)), JOINT["left_eye"]: tuple(range(42, 48)),
                JOINT["right_ear"]: (0, 1), JOINT["left_ear"]: (15, 16)}
HEAD_GATE = 0.25  # face sizes (plus a dot radius): a head joint's visible pixels lie this near its place on the face


def _head_from_face(xy: np.ndarray, conf: np.ndarray, on_dot: np.ndarray, coloured: np.ndarray, idx: np.ndarray,
                    face: np.ndarray, radius: float, white: np.ndarray) -> np.ndarray:
    """Head joints under DWPose's white face dots, in place, from the template face placed on them
    (``face`` (68, 2), pixels: ``_face_dots``; ``radius``: the body's dot radius in pixels; ``white`` (H, W)
    bool: the face dots' pixels; ``coloured`` and ``idx`` (H, W): the coloured pixels and their joint colour
    index). Each head joint has its place on the face (``HEAD_ON_FACE``). One placed by limb ends (which the
    face dots cover), or on a dot further than ``HEAD_GATE`` from every face point (a hand's pixel of its
    hue), is dropped; a missing one takes the centre of the visible pixels of its colour within ``HEAD_GATE``
    of its place (confidence 1) or, when none show, the point nearest its place where its whole dot would lie
    under the white dots (confidence 0.5; a face turned away, for which the frontal template is a poor guess,
    puts the far ear's place off the face). Returns (J,) bool: the joints placed so."""
    size = float(np.ptp(face, 0).max())
    gate = HEAD_GATE * size + radius
    depth = cv2.distanceTransform(white.astype(np.uint8), cv2.DIST_L2, 5)
    hidden = np.zeros(len(xy), bool)
    for j, points in HEAD_ON_FACE.items():
        place = face[list(points)].mean(0)
        if conf[j] > 0 and (not on_dot[j] or np.linalg.norm(face - xy[j], axis=1).min() > gate):
            xy[j], conf[j] = 0, 0
        if conf[j] > 0:
            continue
        fy, fx = np.nonzero(coloured & (idx == j))
        near = np.hypot(fx - place[0], fy - place[1]) <= gate
        if near.sum() >= 3:
            xy[j], conf[j] = (fx[near].mean(), fy[near].mean()), 1
        else:
            xy[j], conf[j], hidden[j] = _hidden(place, depth, radius), 0.5, True
    return hidden


def _hidden(place: np.ndarray, depth: np.ndarray, radius: float) -> np.ndarray:
    """The point (x, y) nearest ``place`` where a dot of ``radius`` pixels lies wholly under the white face
    dots (``depth`` (H, W): each pixel's distance in pixels to the nearest one not white): a dot nothing of
    which shows is hidden there. ``place`` itself when it is such a point or there is none."""
    px, py = (int(np.clip(np.round(place[i]), 0, depth.shape[1 - i] - 1)) for i in (0, 1))
    ys, xs = np.nonzero(depth >= radius)
    if depth[py, px] >= radius or xs.size == 0:
        return place
    d = np.hypot(xs - place[0], ys - place[1])
    k = int(np.argmin(d))
    return np.array([xs[k], ys[k]], np.float32)


FACE_POINTS = 68
FACE_WHITE = 180  # value (0-255) of an unsaturated pixel of DWPose's white face dots


def _decode_face(dots: tuple[np.ndarray, int, int, np.ndarray] | None,
                 radius: float) -> tuple[np.ndarray, np.ndarray]:
    """The face (68, 2), (68,) fitted by ``face_fit`` to DWPose's white face dots (``radius`` pixels) as
    ``_face_dots`` finds them, from the template placed there; none (confidence 0) without them. The fit reads
    every other pixel row and column near the white and every fourth further out."""
    from .face_fit import fit_face  # torch: skeleton renders with faces only

    if dots is None:
        return np.zeros((FACE_POINTS, 2), np.float32), np.zeros(FACE_POINTS, np.float32)
    crop, x0, y0, start = dots
    size = 2 * int(np.ceil(2 * radius)) + 1
    near = cv2.dilate(crop, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))) > 0
    near[::4, ::4] = True
    sparse = np.zeros_like(near)
    sparse[::2, ::2] = near[::2, ::2]
    gy, gx = np.nonzero(sparse)
    grid = np.stack([gx + x0, gy + y0], 1).astype(np.float32)
    return fit_face(grid, crop[gy, gx] > 0, start, radius), np.ones(FACE_POINTS, np.float32)


def _face_dots(white: np.ndarray, xy: np.ndarray, conf: np.ndarray,
               radius: float) -> tuple[np.ndarray, int, int, np.ndarray] | None:
    """DWPose's white face dots (``radius`` pixels) in a render (``white`` (H, W) bool: its unsaturated pixels
    of value ``FACE_WHITE`` or more; ``xy``, ``conf``: the body's joints, image pixels): the largest white blob and the
    white pixels around it (within a third of its size): their crop (h, w) uint8 (1 white) and its corner
    (x0, y0), and the template face (68, 2) placed on the white pixels of every other row and column upright
    along neck -> face (``face_fit.place``, by their moments); None without such a blob."""
    white = white.astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(white, connectivity=8)
    if count <= 1 or stats[1:, cv2.CC_STAT_AREA].max() < 4 * np.pi * radius**2:
        return None
    from .face_fit import place  # torch: skeleton renders with faces only

    biggest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    x, y, w, h = stats[biggest, :4]
    pad = int(np.ceil(max(w, h) / 3)) + int(np.ceil(radius)) + 2
    height, width = white.shape
    y0, y1, x0, x1 = max(y - pad, 0), min(y + h + pad, height), max(x - pad, 0), min(x + w + pad, width)
    crop = white[y0:y1, x0:x1]
    gy, gx = np.nonzero(crop[::2, ::2])
    pts = np.stack([2 * gx + x0, 2 * gy + y0], 1).astype(np.float32)
    neck = JOINT["neck"]
    up = pts.mean(0) - xy[neck] if conf[neck] > 0 else np.array([0, -1], np.float32)
    return crop, int(x0), int(y0), place(pts, up, radius)


def _segments(mask: np.ndarray, idx: np.ndarray, count: int) -> dict[int, _Segment]:
    """The segment of each colour index 0..count-1 among the pixels of ``mask``."""
    out = {k: seg for k, (ys, xs) in enumerate(_by_index(mask, idx, count)) if (seg := _segment(ys, xs)) is not None}
    if out:  # slivers between other colours (anti-aliasing, covered limbs) are much thinner than the limbs
        typical = float(np.median([seg.half_width for seg in out.values()]))
        out = {k: seg for k, seg in out.items() if seg.half_width >= 0.4 * typical}
    return out


def _decode_hands(hue: np.ndarray, sat: np.ndarray, val: np.ndarray, xy: np.ndarray, conf: np.ndarray,
                  radius: float, last: list[_HandFit | None]) -> tuple[np.ndarray, np.ndarray, list[_HandFit | None]]:
    """Both hands (2, 21, 2), (2, 21) from the hand dots and bones next to each decoded wrist, by
    ``hand_fit.fit_hand``: the hand's pixels are those of the dot and bone pieces that come within reach
    of the wrist (each piece goes to the nearer wrist; one both reach is split between them for a first fit,
    then read as one hand of either side or both hands drawn together, whichever draws it best:
    ``_one_or_both``); body joints' dots under the hand, other pieces and
    anything not of the hand's colours are ignored; a point fitted onto the background is left out
    (confidence 0). ``radius``: the dot radius in pixels; ``last``: each side's fit in the previous frame
    (or None), to start from (see ``SkeletonDecoder``). Returns the hands and each side's fit (or None)."""
    from .hand_fit import DOT, IGNORE, fit_hand, hand_classes  # torch: skeleton renders with hands only

    hand_xy = np.zeros((2, HAND_POINTS, 2), np.float32)
    hand_conf = np.zeros((2, HAND_POINTS), np.float32)
    fits: list[_HandFit | None] = [None, None]
    classes = hand_classes(hue, sat, val, HAND_HUE_STEP, HUE_TOLERANCE)
    evidence = (classes >= DOT).astype(np.uint8)
    count, labels = cv2.connectedComponents(cv2.dilate(evidence, np.ones((3, 3), np.uint8)), connectivity=8)
    labels[evidence == 0] = 0
    # Specks (under SPECK of a dot's area: the blended edges of the face's white dots and of body limbs and dots,
    # whose hues fall on a hand colour) are no hand's: they widened a hand's reach and so its fitted size.
    speck = np.bincount(labels.ravel(), minlength=count) < SPECK * np.pi * radius ** 2
    speck[0] = False
    classes[speck[labels]] = IGNORE
    labels[speck[labels]] = 0
    if count <= 1:
        return hand_xy, hand_conf, fits
    ys, xs = np.nonzero(labels)
    pieces = labels[ys, xs]
    half_line = max(1, round(radius / 2)) / 2
    sides = [(JOINT["left_shoulder"], JOINT["left_elbow"], JOINT["left_wrist"]),
             (JOINT["right_shoulder"], JOINT["right_elbow"], JOINT["right_wrist"])]
    height, width = hue.shape
    near = np.full((2, count), np.inf)
    dist = np.full((2, len(xs)), np.inf)
    # Pieces holding several dots' pixels (a hand, not a fringe of video compression) reach as far as the upper
    # arm is long too: a forearm seen end-on is short, its hand is not.
    handlike = np.bincount(pieces[classes[ys, xs] == DOT], minlength=count) >= 4 * np.pi * radius ** 2
    for side, (shoulder, elbow, wrist) in enumerate(sides):
        if conf[wrist] > 0:
            forearm = float(np.linalg.norm(xy[wrist] - xy[elbow])) if conf[elbow] > 0 else 0.1 * max(height, width)
            arm = float(np.linalg.norm(xy[elbow] - xy[shoulder])) if conf[elbow] > 0 and conf[shoulder] > 0 else 0.0
            dist[side] = np.hypot(xs - xy[wrist, 0], ys - xy[wrist, 1])
            np.minimum.at(near[side], pieces, dist[side])
            reach = np.where(handlike, max(forearm, arm), forearm)
            near[side, near[side] > np.maximum(3 * radius, 0.6 * reach)] = np.inf  # out of reach
    # A piece within reach of one wrist is that hand's; one within reach of both (hands together) is split
    # pixel by pixel between the nearer wrists for a first fit of each hand, then given whole to both.
    shared = np.isfinite(near).all(0)
    whole: list[np.ndarray | None] = [None, None]
    for side, (_, _, wrist) in enumerate(sides):
        if conf[wrist] <= 0:
            continue
        mine = np.isfinite(near[side]) & ((near[side] <= near[1 - side]) | shared)
        mine[0] = False
        pick = mine[pieces] & (~shared[pieces] | (dist[side] <= dist[1 - side]))
        own = np.zeros(labels.shape, bool)
        own[ys[pick], xs[pick]] = True
        if (own & (classes == DOT)).sum() < 2 * np.pi * radius ** 2:
            continue
        # The pieces both wrists reach, whole, where this wrist is the nearer for a quarter of their pixels.
        nearer = np.bincount(pieces[pick], minlength=count) >= SHARED * np.bincount(pieces, minlength=count)
        whole[side] = own.copy()
        whole[side][ys[(mine & nearer)[pieces]], xs[(mine & nearer)[pieces]]] = True
        start, good, prev = None, -np.inf, last[side]
        if prev is not None and np.linalg.norm(xy[wrist] - prev.wrist) < WARM_MOVE * np.ptp(prev.points, 0).max():
            start = prev.points + (xy[wrist] - prev.wrist)
            good = WARM_SLACK[0] * prev.loss + WARM_SLACK[1] if prev.warm < WARM_RUN else -np.inf
        crop, x0, y0 = _hand_crop(classes, labels, own, xy, conf, radius)
        points, loss = fit_hand(crop, xy[wrist] - [x0, y0], radius, half_line,
                                None if start is None else start - [x0, y0], good)
        fits[side] = _HandFit(points + [x0, y0], xy[wrist].copy(), loss, prev.warm + 1 if loss <= good else 0)
        hand_xy[side], hand_conf[side] = points + [x0, y0], _on_drawing(points, crop, radius)
    blob = np.zeros(labels.shape, bool)
    blob[ys[shared[pieces]], xs[shared[pieces]]] = True
    if (blob & (classes == DOT)).sum() >= 4 * np.pi * radius ** 2:
        # A hand's worth of pieces both wrists reach: one hand of either side or both hands (held together)
        # drawn there, whichever explains those pixels best (``_one_or_both``).
        alone = [np.zeros(labels.shape, bool), np.zeros(labels.shape, bool)]
        for side in (0, 1):
            mine = np.isfinite(near[side]) & (near[side] <= near[1 - side]) & ~shared
            mine[0] = False
            alone[side][ys[mine[pieces]], xs[mine[pieces]]] = True
        firsts = [None if f is None else f.points for f in fits]
        points = _one_or_both(classes, labels, blob, alone, firsts, whole, xy, conf, radius, half_line,
                              [sides[0][2], sides[1][2]])
        for side in (0, 1):
            if points[side] is None:
                fits[side], hand_xy[side], hand_conf[side] = None, 0, 0
                continue
            if fits[side] is None:
                fits[side] = _HandFit(points[side], xy[sides[side][2]].copy(), -np.inf)  # next frame searches again
            fits[side].points = points[side]
            crop, x0, y0 = _hand_crop(classes, labels, alone[side] | blob, xy, conf, radius)
            hand_xy[side], hand_conf[side] = points[side], _on_drawing(points[side] - [x0, y0], crop, radius)
    return hand_xy, hand_conf, fits


PAIR_MARGIN = 0.01  # both hands are read in a blob both wrists reach when they explain it this much better
# (``hand_fit.drawing_cost``) than either hand alone: a second hand on top of the first changes nothing
ONE_HAND = 2.0  # dot radii: two hands whose points lie this close on average are one
WRIST_GAP = 1.5  # hand sizes: a hand read in a blob both wrists reach has its wrist this near its body's wrist
UNDRAWN = 0.1  # a second hand is sought where one hand alone leaves this share of the blob's dot pixels undrawn


def _one_or_both(classes: np.ndarray, labels: np.ndarray, blob: np.ndarray, alone: list[np.ndarray],
                 firsts: list[np.ndarray | None], whole: list[np.ndarray | None], xy: np.ndarray, conf: np.ndarray,
                 radius: float, half_line: float, wrists: list[int]) -> list[np.ndarray | None]:
    """The hands (each (21, 2) image pixels or None; left, right) in the pieces both wrists reach (``blob``,
    (H, W) bool), each side also holding the pieces only it reaches (``alone``): either hand alone (one
    with a first fit, ``firsts``: fitted to the pixels split by the nearer wrist; descended from it) on the
    blob and its own pieces (the other on its own pieces, where they hold a hand), or both hands (the first
    fits; where both take a piece whole (``whole``), refitted together: each to the blob drawn with the
    other, DWPose's right hand on top; a hand the first fits missed, where the other alone leaves
    ``UNDRAWN`` of the blob's dot pixels undrawn, fitted from the template over the other's first fit),
    whichever draws the blob best (``hand_fit.drawing_cost`` over the blob's crop; both only when
    ``PAIR_MARGIN`` better), of the readings whose hands' wrists lie within ``WRIST_GAP`` hand sizes of their
    body's wrists where any do. None of them without a first fit."""
    from .hand_fit import DOT, drawing_cost, fit_hand

    def fit(side: int, pixels: np.ndarray, start: np.ndarray | None = None, good: float = -np.inf,
            other: tuple[np.ndarray, bool] | None = None,
            size: float | None = None, frame: np.ndarray | None = None) -> np.ndarray | None:
        if (pixels & (classes == DOT)).sum() < 2 * np.pi * radius ** 2:
            return None
        crop, x0, y0 = _hand_crop(classes, labels, pixels, xy, conf, radius, frame)
        corner = np.array([x0, y0], np.float32)
        points, _ = fit_hand(crop, xy[wrists[side]] - corner, radius, half_line,
                             None if start is None else start - corner, good,
                             None if other is None else (other[0] - corner, other[1]), size)
        return points + corner

    singles, pairs = [], []
    for side in (0, 1):  # from the first fits (each holds part of the blob): descended only, not searched again
        if firsts[side] is not None:
            one: list[np.ndarray | None] = [None, None]
            one[side] = fit(side, blob | alone[side], firsts[side], np.inf)
            one[1 - side] = fit(1 - side, alone[1 - side], firsts[1 - side], np.inf)
            singles.append(one)
    pair = list(firsts)
    present = [side for side in (0, 1) if pair[side] is not None]
    # One person's hands are of a size: the larger of the first fits (a hand cut at the other's border is the
    # smaller), not the reach of the whole blob, which spans both.
    size = max((float(np.linalg.norm(pair[side][9] - pair[side][0])) for side in present), default=0.0)
    both = blob | alone[0] | alone[1]
    if len(present) == 1:
        # The other hand, where one hand alone leaves the blob's dots undrawn: from the template over this one,
        # which then descends drawn under or over it.
        have = present[0]
        dy, dx = np.nonzero(blob & (classes == DOT))
        gap = np.linalg.norm(np.stack([dx, dy], 1)[:, None] - singles[0][have][None], axis=-1).min(1)
        if (gap > radius + 1).mean() >= UNDRAWN:
            pair[1 - have] = fit(1 - have, blob | alone[1 - have], None, -np.inf, (pair[have], have == 1), size)
            if pair[1 - have] is not None:
                pair[have] = fit(have, whole[have], pair[have], np.inf, (pair[1 - have], have == 0), size, both)
                pairs.append(pair)
    elif len(present) == 2:
        if (whole[0] & whole[1]).any():  # both take a piece whole: refitted together, the upper hand first
            for side in (1, 0):
                pair[side] = fit(side, whole[side], pair[side], -np.inf, (pair[1 - side], side == 0), size, both)
        pairs.append(pair)
    # Two hands fitted onto each other are one hand read twice (a wrist that reaches it holds no hand): the one
    # of the side whose wrist is nearer the hand's (fitted to the whole blob with the other under or over it,
    # unlike the single readings, which only descend from a first fit of part of it).
    for pair in [p for p in pairs if np.linalg.norm(p[0] - p[1], axis=-1).mean() <= ONE_HAND * radius]:
        pairs.remove(pair)
        side = int(np.argmin([np.linalg.norm(pair[s][0] - xy[wrists[s]]) for s in (0, 1)]))
        one = [None, None]
        one[side] = pair[side]
        if firsts[1 - side] is not None:
            one[1 - side] = fit(1 - side, alone[1 - side], firsts[1 - side], np.inf)
        singles.append(one)
    # A hand whose wrist lies far from its body's wrist is the other hand's pixels read for it (MediaPipe's own
    # hands lie within 0.8 of their size of the body's wrist on every frame of the four real clips): readings
    # with one are left out unless every reading has one.
    def near_wrists(hands: list[np.ndarray | None]) -> bool:
        return all(h is None or np.linalg.norm(h[0] - xy[wrists[side]]) <= WRIST_GAP * np.ptp(h, 0).max()
                   for side, h in enumerate(hands))

    if any(near_wrists(h) for h in singles + pairs):
        singles, pairs = [h for h in singles if near_wrists(h)], [h for h in pairs if near_wrists(h)]
    hypotheses = singles + pairs
    if not hypotheses:
        return [None, None]
    crop, x0, y0 = _hand_crop(classes, labels, blob, xy, conf, radius)
    corner = np.array([x0, y0], np.float32)
    costs = [drawing_cost(crop, [p - corner for p in h if p is not None], radius, half_line) for h in hypotheses]
    costs[len(singles):] = [c + PAIR_MARGIN for c in costs[len(singles):]]
    return hypotheses[int(np.argmin(costs))]


def _hand_crop(classes: np.ndarray, labels: np.ndarray, own: np.ndarray, xy: np.ndarray, conf: np.ndarray,
               radius: float, frame: np.ndarray | None = None) -> tuple[np.ndarray, int, int]:
    """The pixel classes of one hand's crop (h, w) and its corner (x0, y0): the box around the pixels of
    ``frame`` (default ``own``: the hand's pixels, (H, W) bool) with a dot radius and 3 pixels to spare, in
    which other hand pieces and the pixels under body joints' dots (all but hand dots; the left knee's dot
    is the hand dots' blue) are ``IGNORE``."""
    from .hand_fit import DOT, IGNORE

    height, width = classes.shape
    oy, ox = np.nonzero(own if frame is None else frame)
    pad = int(np.ceil(radius)) + 3
    y0, x0 = max(int(oy.min()) - pad, 0), max(int(ox.min()) - pad, 0)
    y1, x1 = min(int(oy.max()) + pad + 1, height), min(int(ox.max()) + pad + 1, width)
    crop = classes[y0:y1, x0:x1].copy()
    crop[(labels[y0:y1, x0:x1] > 0) & ~own[y0:y1, x0:x1]] = IGNORE
    gy, gx = np.mgrid[y0:y1, x0:x1]
    under = np.zeros(crop.shape, bool)
    for j in np.flatnonzero(conf > 0):  # body dots the hand is drawn over
        covered = np.hypot(gx - xy[j, 0], gy - xy[j, 1]) <= radius + 2
        crop[covered & ((crop != DOT) | (j == JOINT["left_knee"]))] = IGNORE
        under |= covered
    # A piece without hand dots lying mostly under body dots is one (its blended rim, past the disc, would widen
    # the hand's reach).
    pieces, count = labels[y0:y1, x0:x1], labels.max() + 1
    body = (np.bincount(pieces[under], minlength=count) > 0.5 * np.bincount(pieces.ravel(), minlength=count)) \
        & (np.bincount(pieces[crop == DOT], minlength=count) == 0)
    body[0] = False
    crop[body[pieces]] = IGNORE
    return crop, x0, y0


def _on_drawing(points: np.ndarray, crop: np.ndarray, radius: float) -> np.ndarray:
    """(21,) confidence 1 for each fitted point (crop pixels) within ``OFF_DOT`` dot radii of anything drawn
    in ``crop`` (classes), else 0. A point fitted onto the background further away has no dot of its own
    (DWPose leaves unsure points out); a dot drawn where a nearer one is would touch what is drawn: it is a
    point fitted a little off its dot (video compression blurs and dims a hand's edge)."""
    from .hand_fit import BACKGROUND

    px, py = (np.clip(np.round(points[:, i]), 0, crop.shape[1 - i] - 1).astype(int) for i in (0, 1))
    gap = cv2.distanceTransform((crop == BACKGROUND).astype(np.uint8), cv2.DIST_L2, 3)
    return (gap[py, px] <= OFF_DOT * radius).astype(np.float32)


# ---- DensePose part renders -------------------------------------------------------------------------

# DensePose's 24 part indices (1-based; "left" and "right" are the person's), grouped into the regions
# keypoints are read from.
DENSEPOSE_REGIONS: dict[str, tuple[int, ...]] = {
    "torso": (1, 2), "right_hand": (3,), "left_hand": (4,), "left_foot": (5,), "right_foot": (6,),
    "right_upper_leg": (7, 9), "left_upper_leg": (8, 10), "right_lower_leg": (11, 13), "left_lower_leg": (12, 14),
    "left_upper_arm": (15, 17), "right_upper_arm": (16, 18), "left_lower_arm": (19, 21),
    "right_lower_arm": (20, 22), "head": (23, 24),
}
PART_COLOR_TOLERANCE = 14.0  # RGB distance to the nearest palette colour (video compression)
SLIVER = 0.3  # a shin cut by the frame with under this share of its thigh's pixels is ignored
TINY = 0.1  # and one not cut by the frame with under this share
LEG_REACH = 1.5  # a thigh or shin is at most this many torsos (neck to hip) long
KNEE_SLACK = 0.15  # a knee projects onto hip -> ankle within this much beyond either end


def densepose_palette() -> np.ndarray:
    """(25, 3) uint8 RGB colour of part index 0 (background) .. 24 in DensePose's part visualisation
    (detectron2's fine-segmentation visualiser, as MagicAnimate's driving videos): the viridis colour
    map at ``index * 255 / 24``."""
    lut = cv2.applyColorMap(np.arange(256, dtype=np.uint8)[:, None], cv2.COLORMAP_VIRIDIS)[:, 0, ::-1]
    return lut[np.round(np.arange(25) * 255 / 24).astype(int)]


@functools.lru_cache(maxsize=1)
def _part_table() -> np.ndarray:
    """Nearest palette entry (0 when off the palette) for each colour quantised to 32 levels a channel."""
    grid = np.arange(4, 256, 8)
    cube = np.stack(np.meshgrid(grid, grid, grid, indexing="ij"), -1).reshape(-1, 3).astype(np.int32)
    best, nearest = np.full(len(cube), np.iinfo(np.int32).max), np.zeros(len(cube), np.uint8)
    for index, colour in enumerate(densepose_palette().astype(np.int32)):  # squared distances: exact integers
        square = ((cube - colour) ** 2).sum(1)
        closer = square < best  # ties keep the lower index, as argmin does
        best, nearest = np.where(closer, square, best), np.where(closer, index, nearest).astype(np.uint8)
    return np.where(best <= PART_COLOR_TOLERANCE**2, nearest, 0).astype(np.uint8)


def densepose_parts(rgb: np.ndarray) -> np.ndarray:
    """A DensePose part visualisation (H, W, 3) uint8 RGB -> (H, W) uint8 part index (0 background or
    a colour off the palette), each pixel the nearest palette colour."""
    q = np.ascontiguousarray(rgb, np.uint8) >> 3
    return _part_table()[(q[..., 0].astype(np.int32) << 10) | (q[..., 1].astype(np.int32) << 5) | q[..., 2]]


def _region(parts: np.ndarray, name: str) -> np.ndarray:
    """The cleaned mask of one region (``_clean``)."""
    return _clean(np.isin(parts, DENSEPOSE_REGIONS[name]))


def _clean(mask: np.ndarray) -> np.ndarray:
    """A region's mask cleaned: an opening (5 pixels at 512, less in smaller images) drops the colour
    fringes compression leaves between parts, and pieces under a fifth of the largest (or 30 pixels at
    512) are dropped."""
    side = min(mask.shape[:2])
    k = max(1, int(round(side / 100)))
    mask = mask.astype(np.uint8)
    if k > 1:
        mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if count <= 1:
        return mask > 0
    areas = stats[1:, cv2.CC_STAT_AREA]
    keep = np.zeros(count, bool)
    keep[1:] = (areas >= max(2.0, 30 * (side / 512) ** 2)) & (areas >= 0.2 * areas.max())
    return keep[labels]


def _sides_by_majority(parts: np.ndarray, left: str, right: str) -> tuple[np.ndarray, np.ndarray]:
    """The (left, right) raw masks of a limb part whose two sides have neighbouring palette colours that
    compression speckles into each other: each pixel of either goes to the side most of its neighbours
    (a window of a fiftieth of the image) have."""
    is_left, is_right = (np.isin(parts, DENSEPOSE_REGIONS[n]).astype(np.float32) for n in (left, right))
    k = max(3, int(round(min(parts.shape[:2]) / 50)) | 1)
    to_left = cv2.blur(is_left, (k, k)) > cv2.blur(is_right, (k, k))
    both = (is_left + is_right) > 0
    return both & to_left, both & ~to_left


def _sides_by_contact(left: np.ndarray, right: np.ndarray, left_parent: np.ndarray, right_parent: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray]:
    """The (left, right) masks of a limb part with each connected piece of either given to the side whose
    parent part it touches most (a piece touching neither keeps its colour's side)."""
    both = (left | right).astype(np.uint8)
    count, labels = cv2.connectedComponents(both, connectivity=8)
    if count <= 1:
        return left, right
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (7, 7))
    near_left = np.bincount(labels[cv2.dilate(left_parent.astype(np.uint8), disc) > 0], minlength=count)
    near_right = np.bincount(labels[cv2.dilate(right_parent.astype(np.uint8), disc) > 0], minlength=count)
    own_left = np.bincount(labels[left], minlength=count) >= np.bincount(labels[right], minlength=count)
    to_left = np.where(near_left == near_right, own_left, near_left > near_right)
    to_left[0] = False
    piece = labels > 0
    return piece & to_left[labels], piece & ~to_left[labels]


def _contact(a: np.ndarray, b: np.ndarray) -> np.ndarray | None:
    """Centre (x, y) of where two region masks touch, or None."""
    grown = cv2.dilate(a.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (7, 7))) > 0
    ys, xs = np.nonzero(grown & b)
    return np.array([xs.mean(), ys.mean()], np.float32) if xs.size >= 5 else None


def _nearest_part(a: np.ndarray, b: np.ndarray) -> np.ndarray | None:
    """Centre (x, y) of the pixels of region ``a`` nearest region ``b`` (within 3 pixels of the nearest;
    where they touch, their contact), or None when either is empty."""
    if not (a.any() and b.any()):
        return None
    dist = cv2.distanceTransform((~b).astype(np.uint8), cv2.DIST_L2, 5)
    ys, xs = np.nonzero(a)
    d = dist[ys, xs]
    near = d <= d.min() + 3
    return np.array([xs[near].mean(), ys[near].mean()], np.float32)


def _nearest_end(seg: _Segment, point: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(end of ``seg`` nearer ``point``, the other end)."""
    near = int(np.argmin(np.linalg.norm(seg.ends - point, axis=1)))
    return seg.ends[near], seg.ends[1 - near]


def _touches_border(mask: np.ndarray) -> bool:
    """Whether a region reaches the image's edge (within ``_on_border``'s margin)."""
    height, width = mask.shape
    m = int(np.ceil(max(2.0, 0.01 * min(width, height))))
    return bool(mask[:m].any() or mask[-m:].any() or mask[:, :m].any() or mask[:, -m:].any())


def _on_border(point: np.ndarray, width: int, height: int) -> bool:
    """Whether a limb end lies on the image's edge (the limb goes on outside the frame: its end is no joint)."""
    margin = max(2.0, 0.01 * min(width, height))
    x, y = float(point[0]), float(point[1])
    return min(x, y, width - 1 - x, height - 1 - y) <= margin


def _inset(end: np.ndarray, other: np.ndarray, seg: _Segment) -> np.ndarray:
    """A limb end moved inwards by half the limb's half-width: joint centres sit inside the rounded ends."""
    axis = (other - end) / max(float(np.linalg.norm(other - end)), 1e-6)
    return end + 0.5 * seg.half_width * axis


def _drop_implausible_legs(xy: np.ndarray, conf: np.ndarray) -> None:
    """In place: a leg's knee and ankle are dropped when its thigh or shin is longer than ``LEG_REACH``
    torsos (neck to that hip) or its knee is not between its hip and ankle (projected on hip -> ankle,
    beyond ``KNEE_SLACK`` of it): pieces of other parts read as a leg. A leg left out is not invented."""
    neck = JOINT["neck"]
    for side in ("left", "right"):
        hip, knee, ankle = (JOINT[f"{side}_{j}"] for j in ("hip", "knee", "ankle"))
        if conf[neck] <= 0 or conf[hip] <= 0:
            continue
        torso = float(np.linalg.norm(xy[hip] - xy[neck]))
        thigh = conf[knee] > 0 and np.linalg.norm(xy[knee] - xy[hip]) > LEG_REACH * torso
        shin = conf[knee] > 0 and conf[ankle] > 0 and np.linalg.norm(xy[ankle] - xy[knee]) > LEG_REACH * torso
        bent = False
        if conf[knee] > 0 and conf[ankle] > 0:
            axis = xy[ankle] - xy[hip]
            t = float((xy[knee] - xy[hip]) @ axis) / max(float(axis @ axis), 1e-6)
            bent = not -KNEE_SLACK <= t <= 1 + KNEE_SLACK
        if thigh or bent:
            conf[[knee, ankle]] = 0
        elif shin:
            conf[ankle] = 0


def decode_densepose_parts(rgb: np.ndarray, fps: float = 30.0) -> Poses:
    """One DensePose part visualisation (H, W, 3) uint8 RGB -> a one-frame ``Poses`` (COCO-18 body),
    by ``keypoints_from_parts(densepose_parts(rgb))``."""
    return keypoints_from_parts(densepose_parts(rgb), fps)


def keypoints_from_parts(parts: np.ndarray, fps: float = 30.0) -> Poses:
    """A DensePose part index map (H, W) (0 background, 1..24; a visualisation's ``densepose_parts`` or
    an IUV image's first channel) -> a one-frame ``Poses`` (COCO-18 body).

    Joints come from the part regions: the neck between the shoulders (or where the torso meets, or comes
    nearest, the head),
    the nose at the head's centre, each elbow and knee where the upper and lower limb parts meet (or
    between their nearest ends), shoulders at the upper arms' ends nearer the head, hips where the thighs
    meet (or come nearest) the torso, wrists and ankles where the lower parts meet the hands and feet, or
    at their far ends; none of these on the image's edge (a limb cut by the frame), and none from a lower
    limb cut by the frame that shows under ``SLIVER`` of its upper limb's size (a shin under ``TINY`` of
    its thigh's anywhere). Left and right leg parts, whose palette colours neighbour each other, go by the
    majority around each pixel; a leg whose thigh or shin is over ``LEG_REACH`` torsos long, or whose
    knee is not between hip and ankle, keeps only its hip. Eyes and ears are not decoded (confidence 0).
    """
    height, width = parts.shape[:2]
    xy = np.zeros((NUM_JOINTS, 2), np.float32)
    conf = np.zeros(NUM_JOINTS, np.float32)
    regions = {name: _region(parts, name) for name in DENSEPOSE_REGIONS}
    for limb in ("upper_leg", "lower_leg", "foot"):
        left, right = _sides_by_majority(parts, f"left_{limb}", f"right_{limb}")
        regions[f"left_{limb}"], regions[f"right_{limb}"] = _clean(left), _clean(right)
    # Left and right lower legs and feet have neighbouring palette colours that compression mixes up: each
    # piece goes with the side it is attached to (thigh, then shin).
    for child, parent in (("lower_leg", "upper_leg"), ("foot", "lower_leg")):
        left, right = _sides_by_contact(regions[f"left_{child}"], regions[f"right_{child}"],
                                        regions[f"left_{parent}"], regions[f"right_{parent}"])
        regions[f"left_{child}"], regions[f"right_{child}"] = left, right
    if not regions["torso"].any():
        return Poses(xy[None], conf[None], width, height, fps)

    def put(joint: str, p: np.ndarray | None) -> None:
        if p is not None:
            xy[JOINT[joint]], conf[JOINT[joint]] = p, 1

    def inside(p: np.ndarray | None) -> np.ndarray | None:
        return None if p is None or _on_border(p, width, height) else p

    ty, tx = np.nonzero(regions["torso"])
    torso_centre = np.array([tx.mean(), ty.mean()], np.float32)
    top = np.array([tx.mean(), ty.min()], np.float32)  # the shoulders lie near the head, not the torso's middle
    head = regions["head"]
    if head.any():
        hy, hx = np.nonzero(head)
        top = np.array([hx.mean(), hy.mean()], np.float32)
        put("nose", top)
        put("neck", _nearest_part(regions["torso"], head))  # where the torso meets (or comes nearest) the head
    for side in ("left", "right"):
        for upper, lower, extremity, (root, middle, tip), anchor in (
                ("upper_arm", "lower_arm", "hand", ("shoulder", "elbow", "wrist"), top),
                ("upper_leg", "lower_leg", "foot", ("hip", "knee", "ankle"), torso_centre)):
            up_mask, low_mask, end_mask = (regions[f"{side}_{n}"] for n in (upper, lower, extremity))
            cut = _touches_border(low_mask)
            if low_mask.sum() < (SLIVER if cut else TINY) * up_mask.sum() and (cut or root == "hip"):
                low_mask = np.zeros_like(low_mask)  # a sliver of a limb going on out of the frame: no joint in it
            up, low = _segment(*np.nonzero(up_mask)), _segment(*np.nonzero(low_mask))
            if up is not None:
                root_end, far = _nearest_end(up, anchor)
                if root == "hip":  # where the thigh meets the torso; none on the frame's edge
                    put(f"{side}_{root}", inside(_nearest_part(up_mask, regions["torso"])))
                else:
                    put(f"{side}_{root}", _inset(root_end, far, up))
            meet = _contact(up_mask, low_mask) if up is not None and low is not None else None
            if up is not None and low is not None and meet is None:
                _, a, b = min(((np.linalg.norm(a - b), a, b) for a in up.ends for b in low.ends), key=lambda g: g[0])
                meet = (a + b) / 2
            if meet is not None:
                put(f"{side}_{middle}", inside(meet))
            if low is not None:
                touch = _contact(low_mask, end_mask) if end_mask.any() else None
                if meet is not None:
                    put(f"{side}_{tip}", touch if touch is not None else inside(_nearest_end(low, meet)[1]))
                elif touch is not None:
                    put(f"{side}_{tip}", touch)
                    put(f"{side}_{middle}", inside(_nearest_end(low, touch)[1]))
    shoulders = [JOINT["left_shoulder"], JOINT["right_shoulder"]]
    if (conf[shoulders] > 0).all():  # the neck as the estimator makes it: between the shoulders
        put("neck", xy[shoulders].mean(0))
    _drop_implausible_legs(xy, conf)
    xy[conf <= 0] = 0
    return Poses(xy[None], conf[None], width, height, fps)


# ---- what a driving video holds ----------------------------------------------------------------------

DRIVING_KINDS: tuple[str, ...] = ("rgb", "skeleton", "densepose")


def frame_kind(rgb: np.ndarray) -> str:
    """What one (H, W, 3) uint8 RGB frame shows: ``skeleton`` (an OpenPose/DWPose-style render: mostly
    dark, the rest saturated colours on the skeleton hues or white face dots), ``iuv`` (a raw DensePose
    IUV image: part index <= 24 in the first channel, U and V spread in the others), ``densepose`` (a
    DensePose part visualisation: nearly every pixel on the viridis part palette, with a background)
    or ``rgb`` (anything else: a camera frame)."""
    rgb = np.ascontiguousarray(rgb, np.uint8)
    small = rgb[:: max(1, rgb.shape[0] // 256), :: max(1, rgb.shape[1] // 256)]  # a sample is enough
    i_channel = small[..., 0]
    body = i_channel > 0
    if (i_channel <= NUM_IUV_PARTS + 2).mean() >= 0.995 and body.mean() >= 0.01:
        low, high = np.percentile(small[..., 1:][body], [5, 95])
        if high - low >= 50:  # U and V spread over the body (a dark photo is dark in every channel)
            return "iuv"
    parts = densepose_parts(small)
    if (parts > 0).mean() >= 0.01 and (parts == 0).mean() >= 0.2:
        on_palette = np.linalg.norm(small.astype(np.float32) - densepose_palette()[parts].astype(np.float32),
                                    axis=-1) <= PART_COLOR_TOLERANCE
        if on_palette.mean() >= 0.9 and len(np.unique(parts[parts > 0])) >= 3:
            return "densepose"
    hue, sat, val = hue_saturation_value(small)
    dark = val < 40
    drawn = val >= MIN_VALUE
    if dark.mean() >= 0.7 and drawn.mean() >= 0.002:
        body_hue = _hue_index(hue, BODY_HUE_STEP, NUM_JOINTS) >= 0
        hand_hue = _hue_index(hue, HAND_HUE_STEP, len(HAND_LIMBS)) >= 0
        skeletal = ((sat >= MIN_SATURATION) & (body_hue | hand_hue)) | (sat < 0.25)
        if skeletal[drawn].mean() >= 0.8 and (sat[drawn] >= MIN_SATURATION).mean() >= 0.3:
            return "skeleton"
    return "rgb"


def guess_driving_kind(frames: list[np.ndarray]) -> str:
    """The driving kind (``DRIVING_KINDS``) most of ``frames`` show; an IUV video counts as ``densepose``."""
    votes = [("densepose" if kind == "iuv" else kind) for kind in map(frame_kind, frames)]
    return max(DRIVING_KINDS, key=votes.count) if votes else "rgb"
