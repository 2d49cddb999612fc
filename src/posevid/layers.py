"""Layers of the person in a photo: which body part each pixel shows, where a limb is cut free of the body,
what lies under a limb that covers the body, and the parts' depth order in each frame.

Parts are ``skeleton.PART_NAMES`` (0-9) plus ``LOOSE`` (10): person pixels well outside every part's shape
(a skirt, a wide coat), which hang on the body. Shapes come from the pose: capsules along the limbs with
radii measured on the silhouette, the torso polygon and the head ellipse of ``render.part_masks``.
Pixels inside several shapes go to the front-most (``depth_keys``); a limb lying over the torso is
therefore labelled limb, and ``glue`` keeps it joined to the body only at its own joint.
"""

from __future__ import annotations

import cv2
import numpy as np

from .mesh import nearest_known
from .render import MIN_CONF, body_scale, part_masks
from .skeleton import BODY_PARTS, JOINT, NUM_PARTS, PART_NAMES

LOOSE = NUM_PARTS
TORSO, HEAD = PART_NAMES.index("torso"), PART_NAMES.index("head")
LIMBS = tuple(p for p in range(NUM_PARTS) if p not in (TORSO, HEAD))
THIGHS = (PART_NAMES.index("right_upper_leg"), PART_NAMES.index("left_upper_leg"))
SHINS = (PART_NAMES.index("right_lower_leg"), PART_NAMES.index("left_lower_leg"))
LEGS = THIGHS + SHINS
ARMS = tuple(p for p in LIMBS if p not in LEGS)
FOREARMS = (PART_NAMES.index("right_lower_arm"), PART_NAMES.index("left_lower_arm"))
# Chains: the body (head, torso, loose) 0, and each arm and leg 1-4.
_CHAINS = ("body", "right_upper_arm", "left_upper_arm", "right_upper_leg", "left_upper_leg")
CHAIN = np.array([0 if n in ("head", "torso") else _CHAINS.index(n.replace("lower", "upper")) for n in PART_NAMES]
                 + [0])
# Layers that show through each other's soft edges: each limb part, and the body (head, torso, loose) as one.
LAYER = np.array([p if p in LIMBS else TORSO for p in range(NUM_PARTS)] + [TORSO])
# Default capsule radius and extension past the end joint (hand, foot), in body scales.
_LIMB_RADIUS = {"upper_arm": 0.11, "lower_arm": 0.09, "upper_leg": 0.16, "lower_leg": 0.12}
_LIMB_EXTEND = {"upper_arm": 0.0, "lower_arm": 0.4, "upper_leg": 0.0, "lower_leg": 0.25}
# Measured radii stay within this range of the defaults (arms in sleeves, legs in trousers or skirts).
_RADIUS_RANGE = {"upper_arm": (0.6, 1.4), "lower_arm": (0.6, 1.3), "upper_leg": (0.6, 1.6), "lower_leg": (0.6, 1.5)}
# Default depth (in front is higher), body scales: a part's z from the pose (nearer is higher) is added.
_DEPTH_BIAS = {"torso": 0.0, "head": 0.05, "upper_leg": 0.10, "lower_leg": 0.15, "upper_arm": 0.20,
               "lower_arm": 0.25}
_BEHIND = 0.3  # a limb whose nearest joint is this many body scales farther than its chain's root joint
_ROOT = {c: JOINT[n] for c, n in enumerate(("neck", "right_shoulder", "left_shoulder", "right_hip", "left_hip"))}
# Joints where a limb may stay glued to its parent, and how far from the joint (in the limb's radii).
_JOINT_OF = {p: BODY_PARTS[PART_NAMES[p]][0] for p in LIMBS}
_GLUE_REACH = {"upper_arm": 1.7, "lower_arm": 2.5, "upper_leg": 1.6, "lower_leg": 2.5}
SLIVER = 0.3  # of a forearm's radius (a disc of this radius): past a hand, its pieces thinner go
SKIN_TOLERANCE = 30.0  # Lab distance within which a colour is the skin's (the colour at the nose)
FINGER_TOLERANCE = 20.0  # ... and, more strictly, a sliver past a wrist is a finger (pale grey is within 30)
FOOT_RADIUS = 0.5  # of the default shin width: how far a foot's shape reaches past its ankle, heel and toe
ISLAND = 0.015  # square body scales: a part's cut-off piece smaller than this joins what borders it
SCRAP_GAP = 0.06  # body scales: a limb's scrap on the body this far from the rest of the limb is the body's
_BAND_END = 0.1  # of a leg's length: the band under the other leg tapers from this above the ankle to nothing below
_LOOSE_GLUE = frozenset((TORSO, HEAD, LOOSE) + THIGHS)


def _kind(p: int) -> str:
    return PART_NAMES[p].split("_", 1)[1]


def scale_of(xy: np.ndarray, conf: np.ndarray, silhouette: np.ndarray) -> float:
    """The body scale (``render.body_scale``, about the neck-to-hip length) in pixels; from the
    silhouette's height when the pose gives none."""
    s = float(body_scale(xy, conf))
    if s > 0:
        return s
    ys = np.flatnonzero(silhouette.any(1))
    return max(4.0, (ys[-1] - ys[0] + 1) / 3.5) if ys.size else 4.0


def _segment_distance(px: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Distance of points (..., 2) to the segment a-b (in the points' float type)."""
    (ax, ay), (bx, by) = (float(v) for v in a), (float(v) for v in b)
    ux, uy = bx - ax, by - ay
    dx, dy = px[..., 0] - ax, px[..., 1] - ay
    t = np.clip((dx * ux + dy * uy) / max(ux * ux + uy * uy, 1e-9), 0.0, 1.0)
    return np.hypot(dx - t * ux, dy - t * uy)


def _pixels(height: int, width: int) -> np.ndarray:
    """(H, W, 2) float32 pixel centres (x, y)."""
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    return np.stack([xs, ys], -1)


def _limb_segment(xy: np.ndarray, p: int, scale: float) -> tuple[np.ndarray, np.ndarray]:
    a, b = (xy[j].astype(np.float64) for j in BODY_PARTS[PART_NAMES[p]])
    bone = b - a
    end = b + bone * (_LIMB_EXTEND[_kind(p)] * scale / max(float(np.linalg.norm(bone)), 1e-6))
    return a, end


def limb_radii(xy: np.ndarray, conf: np.ndarray, silhouette: np.ndarray, scale: float) -> np.ndarray:
    """(10,) capsule radius of each limb in pixels (0 for head and torso), measured as the silhouette's
    half width (its distance transform) along the bone where the limb is clear of the torso and of the
    other limbs (legs pressed together measure as one), within
    ``_RADIUS_RANGE`` of the default proportion of the body scale."""
    vis = conf > MIN_CONF
    inside = cv2.distanceTransform(silhouette.astype(np.uint8), cv2.DIST_L2, 5)
    h, w = silhouette.shape
    torso = part_masks(xy, conf, h, w)[TORSO] > 0
    radii = np.zeros(NUM_PARTS)
    for p in LIMBS:
        default = _LIMB_RADIUS[_kind(p)] * scale
        radii[p] = default
        a, b = BODY_PARTS[PART_NAMES[p]]
        if not (vis[a] and vis[b]):
            continue
        t = np.linspace(0.25, 0.75, 11)[:, None]
        pts = np.round(xy[a] + t * (xy[b] - xy[a])).astype(int)
        ok = (pts[:, 0] >= 0) & (pts[:, 0] < w) & (pts[:, 1] >= 0) & (pts[:, 1] < h)
        pts = pts[ok]
        near = np.zeros(len(pts), bool)
        for q in LIMBS:
            qa, qb = BODY_PARTS[PART_NAMES[q]]
            if q != p and vis[qa] and vis[qb] and not {qa, qb} & {a, b}:
                near |= _segment_distance(pts.astype(np.float64), xy[qa], xy[qb]) < 2.2 * _LIMB_RADIUS[_kind(q)] * scale
        free = pts[~torso[pts[:, 1], pts[:, 0]] & ~near] if len(pts) else pts
        widths = inside[free[:, 1], free[:, 0]] if len(free) else np.zeros(0)
        widths = widths[widths > 0]
        if len(widths) >= 3:
            radii[p] = float(np.clip(np.percentile(widths, 70), *(np.array(_RADIUS_RANGE[_kind(p)]) * default)))
    return radii


def part_distances(xy: np.ndarray, conf: np.ndarray, radii: np.ndarray, scale: float, height: int,
                   width: int, hands: tuple[np.ndarray, np.ndarray] | None = None,
                   reach: dict[int, float] | None = None,
                   feet: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """(10, H, W) float32 signed distance in pixels to each part's shape (negative inside; +inf for a part
    the pose does not define): limb capsules of ``radii``, the lower limbs' extended past the wrist and the
    ankle by a capsule at least as wide as the default forearm or shin (a hand is wider than a thin wrist),
    and the torso and head of ``render.part_masks``. With the pose's hand keypoints ``hands`` (``Poses``'
    ``hand_xy`` (2, 21, 2) and ``hand_conf`` (2, 21) of one frame), a hand seen by three points or more is
    the capsule from the wrist to its farthest point, as wide as its points spread (at least the default).
    With the pose's feet ``feet`` (``Poses``' ``foot_xy`` (2, 2, 2) and ``foot_conf`` (2, 2) of one frame), a
    foot whose toe is seen is the polygon of the ankle, heel, toe and sole grown by ``FOOT_RADIUS`` of the
    default width (``_foot_distance``): the shoe's own direction and size, not the shin's (a front shoe's
    toe lay past the shin's extension, inside the back foot's, and went with the back leg).
    ``reach``: for some forearms, how far past the wrist (pixels, the capsule's end included) the hand
    reaches instead (``hand_reach``)."""
    vis = conf > MIN_CONF
    out = np.full((NUM_PARTS, height, width), np.inf, np.float32)
    masks = part_masks(xy, conf, height, width)
    for p in (TORSO, HEAD):
        m = (masks[p] > 0).astype(np.uint8)
        if m.any():
            out[p] = cv2.distanceTransform(1 - m, cv2.DIST_L2, 5) - cv2.distanceTransform(m, cv2.DIST_L2, 5)
    px = _pixels(height, width)
    for p in LIMBS:
        a, b = BODY_PARTS[PART_NAMES[p]]
        if vis[a] and vis[b]:
            start, end = _limb_segment(xy, p, scale)
            out[p] = _segment_distance(px, start, xy[b]) - radii[p]
            if _LIMB_EXTEND[_kind(p)]:
                wide = max(radii[p], _LIMB_RADIUS[_kind(p)] * scale)
                if reach and p in reach:
                    bone = xy[b] - xy[a]
                    end = xy[b] + bone * max(0.0, reach[p] - wide) / max(float(np.linalg.norm(bone)), 1e-6)
                foot = foot_points(feet, p)
                if foot is not None:
                    out[p] = np.minimum(out[p], _foot_distance(px, xy[b], foot, FOOT_RADIUS * wide))
                    continue
                points = hand_points(hands, p)
                if points is not None:
                    end = points[np.argmax(np.linalg.norm(points - xy[b], axis=1))].astype(np.float64)
                    wide = max(wide, float(_segment_distance(points.astype(np.float64), xy[b].astype(np.float64),
                                                             end).max()) + 0.25 * wide)
                out[p] = np.minimum(out[p], _segment_distance(px, xy[b].astype(np.float64), end) - wide)
    return out


def _forearm_axis(xy: np.ndarray, conf: np.ndarray, p: int) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Forearm ``p``'s elbow and wrist (2,) float64 and the unit vector from the one to the other; None when
    either is not seen."""
    e, w = BODY_PARTS[PART_NAMES[p]]
    if not (conf[e] > MIN_CONF and conf[w] > MIN_CONF):
        return None
    a, b = xy[e].astype(np.float64), xy[w].astype(np.float64)
    return a, b, (b - a) / max(float(np.linalg.norm(b - a)), 1e-6)


HAND_FREE = (0.3, 0.9)  # a hand whose skin past its wrist ends within this share of the default reach is free


def hand_reach(rgb: np.ndarray, silhouette: np.ndarray, xy: np.ndarray, conf: np.ndarray, radii: np.ndarray,
               scale: float, hands_seen: tuple[int, ...] = ()) -> dict[int, float]:
    """How far past its wrist (pixels) a hand reaches, for a forearm whose hand cannot be told from the
    skin it lies on: its skin-coloured pixels (within ``SKIN_TOLERANCE`` of the nose's colour, in the
    ``silhouette`` (H, W) bool, across the hand's capsule) run on to the end of the default reach (the
    forearm's extension plus the hand's width) while the other hand's end within ``HAND_FREE`` of it (a
    hand against the background or clothes). Then the first takes the other's length, plus 2 pixels: the
    AnimateAnyone woman's right hand lies on her bare thigh, and the default reach (0.4 body scales and
    the hand's width, 49 pixels at 384 px; her hands are 28) took a slab of the thigh along with the arm.
    Empty without the skin's colour, or when neither or both hands are free (the silhouette and colour
    bound them); not for the forearms in ``hands_seen`` (hand keypoints)."""
    lab, skin = _lab_and_skin(rgb, xy, scale)
    if skin is None:
        return {}
    px = _pixels(*silhouette.shape)
    extents, limits = {}, {}
    for p in FOREARMS:
        axis = None if p in hands_seen else _forearm_axis(xy, conf, p)
        if axis is None:
            continue
        b, unit = (v.astype(np.float32) for v in axis[1:])
        wide = max(radii[p], _LIMB_RADIUS[_kind(p)] * scale)
        limit = _LIMB_EXTEND[_kind(p)] * scale + wide
        along = (px - b) @ unit
        across = np.abs((px - b) @ np.array([-unit[1], unit[0]], np.float32))
        zone = silhouette & (across <= wide) & (along >= 0) & (along <= limit)
        if not zone.any():
            continue
        found = zone.copy()
        found[zone] = _colour_distance(lab[zone], skin) < SKIN_TOLERANCE
        steps = np.bincount(np.round(along[found]).astype(int), minlength=int(limit) + 1)
        start = np.flatnonzero(steps)
        if not start.size or start[0] > 0.1 * limit:
            continue
        gaps = np.flatnonzero(steps[start[0]:] == 0)  # the first step along the hand with no skin across it
        extents[p], limits[p] = float(start[0] + gaps[0] if gaps.size else len(steps)), limit
    free = {p: HAND_FREE[0] * limits[p] <= x <= HAND_FREE[1] * limits[p] for p, x in extents.items()}
    out = {}
    for p, q in (FOREARMS, FOREARMS[::-1]):
        if p in extents and q in extents and extents[p] >= limits[p] - 1 and free[q]:
            out[p] = extents[q] + 2.0
    return out


_HAND_OF = {PART_NAMES.index("left_lower_arm"): 0, PART_NAMES.index("right_lower_arm"): 1}  # Poses.hand_xy order


def hand_points(hands: tuple[np.ndarray, np.ndarray] | None, p: int) -> np.ndarray | None:
    """(K, 2) the seen keypoints of the hand at the end of forearm ``p`` (None: no hand data or < 3 points)."""
    if hands is None or p not in _HAND_OF:
        return None
    hxy, hconf = hands
    seen = hconf[_HAND_OF[p]] > MIN_CONF
    return hxy[_HAND_OF[p]][seen] if seen.sum() >= 3 else None


_FOOT_OF = {PART_NAMES.index("left_lower_leg"): 0, PART_NAMES.index("right_lower_leg"): 1}  # Poses.foot_xy order


def _foot_distance(px: np.ndarray, ankle: np.ndarray, foot: np.ndarray, grow: float) -> np.ndarray:
    """(H, W) float32 signed distance of the pixels ``px`` (H, W, 2) to a foot's shape, grown by ``grow``
    pixels: the polygon of the ``ankle`` (2,), the heel and the toe (``foot`` (2, 2)) and the sole, the
    heel-to-toe line moved ``grow`` away from the ankle (BlazePose puts heel and toe on the shoe's upper: the
    back shoe's sole lay 10 pixels below them at 384 px); with the toe alone (``foot`` (1, 2)), the capsule
    from the ankle to it."""
    corners = np.vstack([ankle[None], foot]).astype(np.float64)
    if len(foot) == 2:
        heel, toe = corners[1], corners[2]
        normal = np.array([heel[1] - toe[1], toe[0] - heel[0]]) / max(float(np.linalg.norm(toe - heel)), 1e-6)
        normal *= -1.0 if float((ankle - heel) @ normal) > 0 else 1.0
        corners = np.vstack([ankle[None], heel, heel + grow * normal, toe + grow * normal, toe])
    edge = np.min([_segment_distance(px, corners[i], corners[(i + 1) % len(corners)])
                   for i in range(len(corners))], axis=0)
    inside = np.zeros(px.shape[:2], np.uint8)
    if len(corners) >= 3:
        cv2.fillPoly(inside, [np.round(corners).astype(np.int32)], 1)
    return np.where(inside > 0, -edge - grow, edge - grow).astype(np.float32)


def foot_points(feet: tuple[np.ndarray, np.ndarray] | None, p: int) -> np.ndarray | None:
    """(K, 2) the seen points of the foot at the end of shin ``p``, the toe last (None: no foot data or its toe
    is not seen)."""
    if feet is None or p not in _FOOT_OF:
        return None
    fxy, fconf = feet
    seen = fconf[_FOOT_OF[p]] > MIN_CONF
    return fxy[_FOOT_OF[p]][seen] if seen[-1] else None


def depth_keys(xy: np.ndarray, conf: np.ndarray, z: np.ndarray | None, scale: float) -> np.ndarray:
    """(11,) depth key per part and ``LOOSE`` (higher is in front): the default order (lower arms, upper
    arms, lower legs, upper legs, head, torso from front to back; of two legs the one whose ankle is lower
    in the image in front), shifted by the pose's depth ``z`` (18,) when given: nearer limbs come forward,
    and a limb whose nearest joint lies more than ``_BEHIND`` body scales behind the root of its chain (its
    shoulder or hip: a forearm behind the back; never an upper arm or thigh, whose nearest joint is at most
    the root's depth, nor a hanging arm whose elbow BlazePose puts behind the torso's mean depth, which its
    turned shoulders pull forward) goes behind it. Loose pixels share the
    torso's depth."""
    vis = conf > MIN_CONF
    keys = np.array([_DEPTH_BIAS["torso" if p == TORSO else "head" if p == HEAD else _kind(p)]
                     for p in range(NUM_PARTS)] + [0.0])
    ra, la = JOINT["right_ankle"], JOINT["left_ankle"]
    if vis[ra] and vis[la]:  # the foot lower in the picture is nearer (on a floor seen from above)
        lower = 0.05 * (xy[ra, 1] - xy[la, 1]) / max(scale, 1e-6)
        keys[[THIGHS[0], SHINS[0]]] += lower
        keys[[THIGHS[1], SHINS[1]]] -= lower
    keys -= 1e-4 * np.arange(NUM_PARTS + 1)  # strict order: of two equal parts, the first (right) in front
    if z is None:
        return keys
    torso_joints = [j for j in BODY_PARTS["torso"] if vis[j]]
    if not torso_joints:
        return keys
    zt = float(np.mean(z[torso_joints]))
    for p in LIMBS:
        joints = [j for j in BODY_PARTS[PART_NAMES[p]] if vis[j]]
        if not joints:
            continue
        rel = (float(np.mean(z[joints])) - zt) / max(scale, 1e-6)
        root = _ROOT[CHAIN[p]]
        nearest = (float(np.min(z[joints])) - float(z[root])) / max(scale, 1e-6) if vis[root] else rel
        keys[p] -= 0.1 * rel + (10.0 if nearest > _BEHIND else 0.0)
    return keys


def label_parts(distances: np.ndarray, region: np.ndarray, keys: np.ndarray, radii: np.ndarray,
                scale: float, rgb: np.ndarray | None = None, xy: np.ndarray | None = None,
                hands_seen: tuple[int, ...] = ()) -> np.ndarray:
    """(H, W) int64 part label of every pixel.

    A pixel inside one or more part shapes takes the front-most (``keys``), except between two limbs side
    by side (``_side_by_side``: legs pressed together, an elbow's two bones; not an arm beside a leg, where
    the arm in front keeps the hand that hangs over the thigh's shape), which split their overlap
    by the distance to their bones in radii. The pixels of ``region``
    (H, W) bool outside every shape form pieces; each piece's pixels go to the nearest, in units of its
    reach (``_reach``: a limb's radius, a third of the body scale for torso and head), of the parts that
    the piece touches (so spread fingers that touch only the forearm move with it, and a coat's flap
    beside a folded arm stays with the torso), becoming ``LOOSE`` beyond the torso's or a thigh's reach
    (a skirt, a wide coat). With the photo ``rgb`` (H, W, 3) uint8 and the pose's joints ``xy`` (18, 2),
    ``refine_by_colour`` then settles the pixels near each limb by colour (``hands_seen``: forearms whose
    hands, and shins whose feet, come from keypoints). Pixels outside
    ``region`` get the label of the nearest region pixel (so any lookup near the person is defined).
    """
    inside = distances <= 0
    in_any = inside.any(0)
    ranked = np.where(inside, keys[:NUM_PARTS, None, None], -np.inf)
    label = np.where(in_any, ranked.argmax(0), distances.argmin(0))
    reach = _reach(radii, scale)
    if xy is not None:  # two limbs side by side (not crossing) split their overlap down the middle
        np.put_along_axis(ranked, label[None], -np.inf, 0)
        second, other = ranked.max(0), ranked.argmax(0)
        both = in_any & np.isfinite(second)
        h, w = region.shape
        px = _pixels(h, w)
        bone, hand = {}, {}  # distance to each limb's bone in its radii; where its hand or foot is
        for p in LIMBS:
            if np.isfinite(distances[p]).any():
                a, b = (xy[j].astype(np.float64) for j in BODY_PARTS[PART_NAMES[p]])
                bone[p] = _segment_distance(px, a, b) / radii[p]
                hand[p] = distances[p] < (bone[p] - 1) * radii[p] - 1e-3
        for p in bone:  # the front limb's hand or foot keeps its pixels; the other's does not claim any
            for q in bone:
                if p == q or (p in ARMS) != (q in ARMS) or not _side_by_side(xy, p, q):
                    continue
                pair = both & (label == p) & (other == q) & ~hand[p] & ~hand[q]
                label[pair & (bone[q] < bone[p])] = q
    rest = (region & ~in_any).astype(np.uint8)
    # legs apart in trousers or shorts (background between them below the crotch), not a skirt or a coat
    apart = xy is not None and leg_gap_top(xy, xy.any(1).astype(np.float32), region) is not None
    count, comp, stats, _ = cv2.connectedComponentsWithStats(rest, connectivity=8)
    h, w = region.shape
    for c in range(1, count):
        x, y, bw, bh = stats[c, :4]
        x0, y0, x1, y1 = max(x - 1, 0), max(y - 1, 0), min(x + bw + 1, w), min(y + bh + 1, h)
        piece = comp[y0:y1, x0:x1] == c
        ring = cv2.dilate(piece.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool) & ~piece
        ring &= in_any[y0:y1, x0:x1]
        touched = np.unique(label[y0:y1, x0:x1][ring])
        candidates = touched if touched.size else np.arange(NUM_PARTS)
        d = distances[candidates, y0:y1, x0:x1]
        best = candidates[(d / reach[candidates, None, None]).argmin(0)]
        if xy is not None:
            best = _limb_rims(best, distances[:, y0:y1, x0:x1], candidates, radii, reach)
            if apart:
                best = _crotch(best, distances[:, y0:y1, x0:x1], candidates, reach, xy, x0, y0)
        far = np.take_along_axis(distances[:, y0:y1, x0:x1], best[None], 0)[0] > reach[best]
        best = np.where(far & np.isin(best, (TORSO,) + THIGHS), LOOSE, best)
        sub = label[y0:y1, x0:x1]
        sub[piece] = best[piece]
    if rgb is not None and xy is not None:
        label = refine_by_colour(label, rgb, distances, xy, radii, scale, region, hands_seen=hands_seen)
    if xy is not None:
        label = _past_the_tips(label, distances, region, xy, radii, scale)
    label = _attach_islands(_majority(label, region), region, scale)
    if rgb is not None and xy is not None:
        label = _drop_limb_scraps(label, region, scale, *_lab_and_skin(rgb, xy, scale))
    if region.any() and not region.all():
        iy, ix = nearest_known(region)
        label = label[iy, ix]
    return label.astype(np.int64)


def _past_the_tips(label: np.ndarray, distances: np.ndarray, region: np.ndarray, xy: np.ndarray,
                   radii: np.ndarray, scale: float) -> np.ndarray:
    """Labels where a forearm's pixels of ``region`` (H, W) bool that lie farther past its wrist, along the
    bone, than its own shape in ``distances`` (10, H, W) reaches (the hand's end: ``_LIMB_EXTEND``,
    ``hand_reach``, the hand's keypoints) go to the body part nearest them
    in units of its reach (``_reach``: torso, head, thighs), ``LOOSE`` beyond the torso's or a thigh's
    reach, as ``label_parts``' pieces outside every shape do. A piece outside every shape that touches
    only the forearm went to it however far it ran: the painted lady of liveportrait_s0.jpg rests her
    hand on the armchair, and the chair and dress below it down to the frame's edge, 135 pixels past her
    wrist (a hand is about 40 there), flew up with her raised forearm as a dark brown parallelogram.
    Not the shins: past a foot's shape lie the shoe's tip and its sole, which must go with the foot.
    ``xy`` (18, 2) the pose's joints in pixels."""
    out = label.copy()
    px = _pixels(*label.shape)
    body = np.array((TORSO, HEAD) + THIGHS)
    reach = _reach(radii, scale)
    for p in FOREARMS:
        if not np.isfinite(distances[p]).any():
            continue
        a, b = (xy[j].astype(np.float64) for j in BODY_PARTS[PART_NAMES[p]])
        unit = (b - a) / max(float(np.linalg.norm(b - a)), 1e-6)
        along = ((px - b) @ unit).astype(np.float32)
        inside = distances[p] <= 0
        if not inside.any():
            continue
        past = (label == p) & region & (along > along[inside].max())
        if not past.any():
            continue
        d = distances[body][:, past]
        pick = (d / reach[body, None]).argmin(0)
        best = body[pick]
        far = np.take_along_axis(d, pick[None], 0)[0] > reach[best]
        out[past] = np.where(far & (best != HEAD), LOOSE, best)
    return out


def _limb_rims(best: np.ndarray, distances: np.ndarray, candidates: np.ndarray, radii: np.ndarray,
               reach: np.ndarray) -> np.ndarray:
    """``best`` (h, w) part per pixel of a piece outside every shape (``distances`` (10, h, w) there), with
    the body's (torso's, head's) pixels that are a limb's rim given to that limb: within one radius of its
    shape and nearer to it than to the body's shape (the nearest such limb of ``candidates``, in reaches).
    A limb thicker than its capsule (an upper arm widening into the shoulder) left its edge to the torso,
    whose reach is larger, and that edge stayed as a thin dark spike beside the body when the limb moved."""
    body = np.isin(best, (TORSO, HEAD))
    own = np.take_along_axis(distances, best[None], 0)[0]
    score = np.full(best.shape, np.inf)
    out = best.copy()
    for q in (q for q in candidates if q in LIMBS):
        rim = body & (distances[q] <= radii[q]) & (distances[q] < own) & (distances[q] / reach[q] < score)
        out[rim], score[rim] = q, (distances[q] / reach[q])[rim]
    return out


def _crotch(best: np.ndarray, distances: np.ndarray, candidates: np.ndarray, reach: np.ndarray, xy: np.ndarray,
            x0: int, y0: int) -> np.ndarray:
    """``best`` (h, w) part per pixel of a piece outside every shape (``distances`` (10, h, w) there, the
    piece's box at x0, y0 in the pose ``xy`` (18, 2)), with the torso's pixels below the line through the
    hips (towards the knees) given to the nearer thigh of ``candidates`` (in ``reach``): the cloth between
    the yoga man's spread thighs, outside both capsules, went to the torso, whose reach is larger, and hung
    below it as a dark wedge between his thighs once they closed (the squat, a raised knee). For legs apart
    (``leg_gap_top``: not a skirt or coat, nor legs pressed together down to the ankles)."""
    thighs = [q for q in THIGHS if q in candidates]
    rh, lh, rk, lk = (JOINT[n] for n in ("right_hip", "left_hip", "right_knee", "left_knee"))
    if not thighs or not (xy[[rh, lh, rk, lk]].any(1)).all():
        return best
    hip = (xy[rh] + xy[lh]) / 2
    down = (xy[rk] + xy[lk]) / 2 - hip
    h, w = best.shape
    px = _pixels(h, w) + np.array([x0, y0], np.float32)
    below = ((px - hip) @ down > 0) & (best == TORSO)
    if not below.any():
        return best
    nearer = np.array(thighs)[np.argmin([distances[q] / reach[q] for q in thighs], axis=0)]
    return np.where(below, nearer, best)


def _side_by_side(xy: np.ndarray, p: int, q: int, folded: float = 45.0) -> bool:
    """Whether limbs p and q lie side by side rather than one across the other: their bones do not cross,
    or, for a limb and the next one down its chain, the joint between them is bent by less than 180 minus
    ``folded`` degrees (a forearm folded onto its upper arm lies across it)."""
    (a1, b1), (a2, b2) = BODY_PARTS[PART_NAMES[p]], BODY_PARTS[PART_NAMES[q]]
    shared = {a1, b1} & {a2, b2}
    if shared:
        j = shared.pop()
        u = xy[a1 if b1 == j else b1] - xy[j]
        v = xy[a2 if b2 == j else b2] - xy[j]
        cos = float(u @ v) / max(float(np.linalg.norm(u) * np.linalg.norm(v)), 1e-9)
        return cos < np.cos(np.radians(folded))

    def side(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> float:
        return float((b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0]))

    crosses = (side(xy[a1], xy[b1], xy[a2]) * side(xy[a1], xy[b1], xy[b2]) < 0
               and side(xy[a2], xy[b2], xy[a1]) * side(xy[a2], xy[b2], xy[b1]) < 0)
    return not crosses


def _palette(lab: np.ndarray, k: int = 3, most: int = 3000) -> np.ndarray | None:
    """(k, C) k-means colour centres of pixels (N, C) (Lab, or its chroma; None for fewer than 30 pixels)."""
    if len(lab) < 30:
        return None
    if len(lab) > most:
        lab = lab[np.random.default_rng(0).choice(len(lab), most, replace=False)]
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 20, 0.5)
    cv2.setRNGSeed(0)
    _, _, centres = cv2.kmeans(np.ascontiguousarray(lab, np.float32), k, None, criteria, 2, cv2.KMEANS_PP_CENTERS)
    return centres


def _colour_distance(lab: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """(N,) distance of Lab pixels (N, 3) to the nearest of the centres (k, 3)."""
    return np.sqrt(((lab[:, None] - centres[None]) ** 2).sum(-1)).min(1)


def refine_by_colour(labels: np.ndarray, rgb: np.ndarray, distances: np.ndarray, xy: np.ndarray,
                     radii: np.ndarray, scale: float, region: np.ndarray, ratio: float = 0.5,
                     least: float = 12.0, hands_seen: tuple[int, ...] = ()) -> np.ndarray:
    """Labels near each limb settled by colour.

    A pixel of a limb within 2 radii of its bone but off the bone's core (0.6 radii around it) goes to the
    nearest of torso, head and loose cloth (in units of reach) when its colour (CIE Lab) is much closer to
    that part's colours near the limb than to the core's (distances to the nearest of 3 k-means colours:
    under ``ratio`` times, the core's over ``least``). So a bare arm over a white dress or against dark hair
    takes only the arm, while same-coloured parts (an arm in a sleeve over its jacket) keep the geometric
    labels. Past the wrist or ankle (within 3 of its radii of the hand's or foot's axis) the limb's colours
    are its core's plus, for a hand, the skin at the nose: a strip of the shorts a hanging hand lies on goes
    to the thigh, the hand stays (not for the limbs in ``hands_seen``, whose hands or feet come from keypoints).
    Colour only takes pixels from limbs; what it takes from an arm goes to the other arm instead of the body
    where that arm's shape is within one reach (``_colour_vote``: a folded forearm's sleeve edge), and never
    gives the torso a pixel on the limb's far side (``_far_side``); such a pixel stays with the limb but is
    no part's colour past a wrist or ankle (it is the background's rim).
    """
    lab = cv2.cvtColor(np.ascontiguousarray(rgb, np.uint8), cv2.COLOR_RGB2LAB).astype(np.float32)
    h, w = labels.shape
    px = _pixels(h, w)
    alone = (distances <= 0).sum(0) <= 1
    cores = {}
    for p in range(NUM_PARTS + 1):
        if p in LIMBS:
            if not np.isfinite(distances[p]).any():
                continue
            a, b = (xy[j].astype(np.float64) for j in BODY_PARTS[PART_NAMES[p]])
            core = _segment_distance(px, a, b) <= 0.6 * radii[p]
        elif p == LOOSE:
            core = cv2.erode((labels == LOOSE).astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
        else:
            core = distances[p] <= -(0.15 if p == TORSO else 0.1) * scale
        cores[p] = core & (labels == p) & region & (alone | (p in LIMBS) | (p == LOOSE))
    reach = np.append(_reach(radii, scale), 0.33 * scale)

    def _colour_vote(pix: np.ndarray, own: np.ndarray, palettes: dict, near: np.ndarray, first: tuple[int, ...] = ()
                     ) -> tuple[np.ndarray, np.ndarray] | None:
        """For pixels (N, 3) Lab: the nearest part with colours (``near`` (11, N) distances in reaches) and
        whether its colours are much closer than ``own``; None when no part has colours or no pixel. A pixel
        so taken goes instead to the nearest of the parts ``first`` when it lies outside their shapes but
        within one reach of one and their colours too are closer than ``own`` (where the arms cross, a
        sleeve's edge outside the other forearm's capsule goes to that arm, not to the torso, which would
        keep it when the arms part)."""
        others = np.array([q for q, c in palettes.items() if c is not None and q not in first])
        if not others.size or not len(pix):
            return None
        dp = _colour_distance(pix, own)

        def pick(parts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            alt = parts[near[parts].argmin(0)]
            dq = np.zeros_like(dp)
            for q in np.unique(alt):
                dq[alt == q] = _colour_distance(pix[alt == q], palettes[q])
            return alt, dq

        alt, dq = pick(others)
        closer = (dq < ratio * dp) & (dp > least)
        firsts = np.array([q for q in first if palettes.get(q) is not None])
        if firsts.size and closer.any():
            alt_f, dq_f = pick(firsts)
            gap = near[firsts].min(0)
            alt = np.where(closer & (gap > 0.0) & (gap <= 1.0) & (dq_f < dp), alt_f, alt)
        return alt, closer

    dist = np.concatenate([distances[:NUM_PARTS], np.where(labels == LOOSE, 0.0, np.inf)[None]])
    out = labels.copy()
    rim = np.zeros_like(region)  # pixels kept on a limb by ``_far_side``: they are not its colours
    inner = cv2.erode(region.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0  # not the outline's rim
    skin = _skin(lab, xy, scale)
    for p in LIMBS:
        whole = _palette(lab[cores[p]]) if p in cores else None
        if whole is None:
            continue
        near = distances[p] <= 3 * radii[p]  # other parts' colours are taken near the limb only
        palettes = {q: _palette(lab[c & near]) for q, c in cores.items() if q in (TORSO, HEAD, LOOSE) + _crossing(p)}
        a, b = (xy[j].astype(np.float64) for j in BODY_PARTS[PART_NAMES[p]])
        # past the wrist or ankle the whole core's colours (a hand's shadows are the shorts' colours too)
        past = ((px - b.astype(np.float32)) @ (b - a).astype(np.float32)) > 0
        # An arm's core may hold the body's colours it lay against; a leg's are its own (a band round the
        # knees of the torso's pink stays on the legs in a squat).
        own, foreign = (whole, np.zeros(int(cores[p].sum()), bool)) if p in LEGS else _own_colours(
            lab[cores[p]], (inner & ~past)[cores[p]], whole,
            [c for q, c in palettes.items() if c is not None and q not in _crossing(p)], ratio, least, skin)
        voted = ~cores[p]  # the core's pixels of the body's colours are put to the vote too
        voted[cores[p]] = foreign
        off_bone = _segment_distance(px, a, b)
        crossing = _crossing(p)  # the other arm claims none of the limb's own capsule (a hand lying on it)
        for band, colours in ((region & (off_bone <= 2 * radii[p]) & voted & ~past, own),
                              (region & (off_bone <= 2 * radii[p]) & voted & past, whole)):
            near_band = dist[:, band] / reach[:, None]
            near_band[list(crossing)] = np.where(off_bone[band] <= radii[p], np.inf, near_band[list(crossing)])
            vote = _colour_vote(lab[band], colours, palettes, near_band, crossing)
            if vote is None:
                continue
            alt, closer = vote
            # not to the torso from the limb's far side (outside the torso's shape and farther from it than
            # the bone beside the pixel): the soft rim of background on an arm's outer side went to the
            # torso and stayed as white notches at the top's edge when the arm rose
            beyond = (alt == TORSO) & _far_side(distances[TORSO], band, a, b)
            cur = out[band]
            out[band] = np.where((cur == p) & closer & ~beyond, alt, cur)
            rim[band] |= (cur == p) & closer & beyond
    for p in LIMBS:  # past the wrist or ankle: what is neither the limb's colours (or skin) nor the body's
        if not _LIMB_EXTEND[_kind(p)] or p not in cores or p in hands_seen:
            continue
        a, b = (xy[j].astype(np.float64) for j in BODY_PARTS[PART_NAMES[p]])
        # the whole core's colours, the body's among them (the dark corner of the shorts by a hanging hand
        # stays with it: without it the fingers beside it were left on the thigh as slivers)
        own = _palette(lab[cores[p] & region])
        if own is None:
            continue
        if skin is not None and "arm" in _kind(p):
            own = np.concatenate([own, skin])
        end = _limb_segment(xy, p, scale)[1]
        wide = max(radii[p], _LIMB_RADIUS[_kind(p)] * scale)
        axis = _segment_distance(px, b, end)
        past = ((px - b.astype(np.float32)) @ (b - a).astype(np.float32)) > 0
        zone = region & (out == p) & past & (axis <= 3 * wide)
        # (not the rim kept on a thigh: its pale background took one of the thigh's 3 colours, and the dark
        # jeans by her fingertips stayed with the hand, a fleck floating beyond it as the arm swung)
        around = region & ~rim & (axis <= 3 * wide) & (axis > 1.2 * wide)
        palettes = {q: _palette(lab[(out == q) & around]) for q in (TORSO, HEAD, LOOSE) + LEGS + _crossing(p)}
        vote = _colour_vote(lab[zone], own, palettes, dist[:, zone] / reach[:, None], _crossing(p))
        if vote is None:
            continue
        alt, closer = vote
        out[zone] = np.where(closer, alt, p)
        # Slivers left past the hand (a blurred edge of the shorts beside it, which would stretch into a
        # thin spike when the arm rises) go too: an opening by a disc of ``SLIVER`` of the hand's width
        # (5 pixels across for a foot: a shoe seen from the side is thin and stays). Not skin past a
        # wrist: fingers are thinner than the disc (3 pixels at 384 px), and went to the thigh under them.
        kept = (out == p) & zone
        k = max(2, int(round(SLIVER * wide))) if p in ARMS else 2
        disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * k + 1, 2 * k + 1))
        opened = cv2.morphologyEx(kept.astype(np.uint8), cv2.MORPH_OPEN, disc) > 0
        sliver = kept & ~opened
        if skin is not None and "arm" in _kind(p):  # (not the region's 2-pixel margin: pale background)
            finger = sliver & inner
            finger[finger] = _colour_distance(lab[finger], skin) < FINGER_TOLERANCE
            sliver &= ~finger
        full_alt = np.full(out.shape, -1)
        full_alt[zone] = alt
        out[sliver] = full_alt[sliver]
    return out


MAIN_COLOUR = 0.2  # a limb's colour centre holding this share of its core's pixels is its own for sure


def _own_colours(pix: np.ndarray, inside: np.ndarray, centres: np.ndarray, others: list[np.ndarray], ratio: float,
                 least: float, skin: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """A limb's colour centres from its core's Lab pixels (N, 3) without the pixels of the body's colours
    (``others``, each (k, 3)), and (N,) bool which those are: the pixels inside the person (``inside`` (N,)
    bool: not on the outline's rim, whose blend with the background matches any pale part: the catalog
    man's pale arm rim went to the torso) much nearer (under ``ratio`` times, over ``least``) to a body
    part's centre than to the limb's main centres (``centres`` (k, 3) holding ``MAIN_COLOUR`` of the
    pixels), and not of the ``skin`` colours (k, 3) (within ``SKIN_TOLERANCE``: a bare forearm below a
    sleeve is the arm's). A bare forearm hanging against the shorts has the shorts' dark edge and the hair
    at its elbow in its core; a centre of theirs among the forearm's kept a strip of the shorts on the
    forearm when it rose."""
    share = np.bincount(_nearest(pix, centres), minlength=len(centres)) / max(len(pix), 1)
    main = centres[share >= MAIN_COLOUR]
    none = np.zeros(len(pix), bool)
    if len(main) in (0, len(centres)) or not others:
        return centres, none
    d_main = _colour_distance(pix, main)
    foreign = (np.min([_colour_distance(pix, c) for c in others], axis=0) < ratio * d_main) & (d_main > least)
    foreign &= inside if skin is None else inside & (_colour_distance(pix, skin) >= SKIN_TOLERANCE)
    kept = _palette(pix[~foreign])
    return (centres, none) if kept is None else (kept, foreign)


def _nearest(pix: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """(N,) index of the nearest of the centres (k, 3) to each Lab pixel (N, 3)."""
    return ((pix[:, None] - centres[None]) ** 2).sum(-1).argmin(1)


def _far_side(distance: np.ndarray, where: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N,) bool for the N pixels of ``where`` (H, W) bool: outside a shape (its signed ``distance`` (H, W)
    positive) and farther from it than the nearest point of the bone a-b (2,)."""
    ys, xs = np.nonzero(where)
    u = b - a
    t = np.clip(((xs - a[0]) * u[0] + (ys - a[1]) * u[1]) / max(float(u @ u), 1e-9), 0.0, 1.0)
    h, w = distance.shape
    bx = np.clip(np.round(a[0] + t * u[0]).astype(int), 0, w - 1)
    by = np.clip(np.round(a[1] + t * u[1]).astype(int), 0, h - 1)
    own = distance[ys, xs]
    return (own > 0) & (own > distance[by, bx])


def _crossing(p: int) -> tuple[int, ...]:
    """The arm parts of the other arm than limb ``p``'s (none for a leg's part)."""
    return tuple(q for q in ARMS if CHAIN[q] != CHAIN[p]) if p in ARMS else ()


def _skin(lab: np.ndarray, xy: np.ndarray, scale: float) -> np.ndarray | None:
    """(2, 3) Lab colours of the person's skin from a disc around the nose (None when it is not seen)."""
    h, w = lab.shape[:2]
    x, y = np.round(xy[JOINT["nose"]]).astype(int)
    r = max(1, int(round(0.04 * scale)))
    if not xy[JOINT["nose"]].any() or not (r <= x < w - r and r <= y < h - r):
        return None
    disc = lab[y - r:y + r + 1, x - r:x + r + 1].reshape(-1, 3)
    return _palette(disc, k=2) if len(disc) >= 30 else disc.mean(0, keepdims=True)


def _reach(radii: np.ndarray, scale: float) -> np.ndarray:
    """(10,) how far past its shape a part plausibly extends: limbs their radius, torso and head a third of
    the body scale."""
    reach = np.maximum(radii, 1.0)
    reach[[TORSO, HEAD]] = max(0.33 * scale, 1.0)
    return reach


def _attach_islands(label: np.ndarray, region: np.ndarray, scale: float) -> np.ndarray:
    """Labels where each small piece of the torso, loose cloth or head cut off from the rest of it (smaller
    than ``ISLAND`` square body scales: a scrap of the shorts between a hand and the hip; a fist raised by
    the head, which the head's shape and colours took, and which stayed floating beside the head when the
    arm moved) takes the label that borders it most, so it moves with the arm around it instead of floating
    beside the body. Limbs keep their pieces here (fingers parted from the forearm by a gap still move with
    it; ``_drop_limb_scraps`` sees to the others), and loose cloth its pieces by a leg, the torso its pieces
    between the legs (bordered by both); a piece of the torso on one leg's rim goes to that leg (the catalog
    woman's thighs' soft edges, pale blends of denim and white that ``refine_by_colour`` gave the torso,
    stayed behind as thin dark marks beside the moved legs)."""
    label = label.copy()
    ring = np.ones((3, 3), np.uint8)
    for v in (TORSO, LOOSE, HEAD):
        count, comp, stats, _ = cv2.connectedComponentsWithStats(((label == v) & region).astype(np.uint8),
                                                                 connectivity=4)
        if count <= 2:
            continue
        areas = stats[1:, cv2.CC_STAT_AREA]
        for c in np.flatnonzero(areas < ISLAND * scale**2) + 1:
            if c == 1 + np.argmax(areas):
                continue
            x, y, bw, bh = stats[c, :4]
            box = (slice(max(0, y - 1), y + bh + 1), slice(max(0, x - 1), x + bw + 1))
            piece = comp[box] == c
            border = (cv2.dilate(piece.astype(np.uint8), ring) > 0) & ~piece & region[box]
            around = label[box][border]
            around = around[around != v]
            best = np.bincount(around).argmax() if around.size else -1
            if best >= 0 and (best not in LEGS or (v == TORSO and not _both_legs(around))):
                label[box][piece] = best  # (a crotch, between the two legs, stays torso)
    return label


def _both_legs(labels: np.ndarray) -> bool:
    """Whether ``labels`` (any shape) hold a part of each leg (thigh or shin)."""
    return bool(np.isin(labels, (THIGHS[0], SHINS[0])).any() and np.isin(labels, (THIGHS[1], SHINS[1])).any())


def _drop_limb_scraps(label: np.ndarray, region: np.ndarray, scale: float, lab: np.ndarray,
                      skin: np.ndarray | None) -> np.ndarray:
    """Labels where each small piece of a limb cut off from the rest of it (smaller than ``ISLAND`` square
    body scales, not touching it even at a corner) that lies on the head, torso or loose cloth takes the
    label that borders it most when it is more than ``SCRAP_GAP`` body scales from the rest of the limb, or
    nearer but not the skin's colour (``SKIN_TOLERANCE`` in Lab from ``skin`` (K, 3), the colours at the
    nose; no skin seen (None): only the far pieces): with her fists raised by her head, pieces of
    animatex_dance_2's dancer's cheeks inside the forearms' capsules flew off with the hands as skin and
    hair scraps when her arms opened. Fingers parted from the hand by a narrow gap are skin and stay.
    ``lab`` (H, W, 3) float32 is the photo in Lab."""
    label = label.copy()
    ring = np.ones((3, 3), np.uint8)
    for v in LIMBS:
        count, comp, stats, _ = cv2.connectedComponentsWithStats(((label == v) & region).astype(np.uint8),
                                                                 connectivity=8)
        if count <= 2:
            continue
        areas = stats[1:, cv2.CC_STAT_AREA]
        main = 1 + np.argmax(areas)
        scraps = [c for c in np.flatnonzero(areas < ISLAND * scale**2) + 1 if c != main]
        if not scraps:
            continue
        gap = cv2.distanceTransform((comp != main).astype(np.uint8), cv2.DIST_L2, 3)
        for c in scraps:
            x, y, bw, bh = stats[c, :4]
            box = (slice(max(0, y - 1), y + bh + 1), slice(max(0, x - 1), x + bw + 1))
            piece = comp[box] == c
            border = (cv2.dilate(piece.astype(np.uint8), ring) > 0) & ~piece & region[box]
            around = label[box][border]
            if not around.size or (best := np.bincount(around).argmax()) not in (TORSO, HEAD, LOOSE):
                continue
            far = gap[box][piece].min() > SCRAP_GAP * scale
            if far or (skin is not None and
                       _colour_distance(lab[box][piece].mean(0, keepdims=True), skin)[0] > SKIN_TOLERANCE):
                label[box][piece] = best
    return label


def _majority(label: np.ndarray, region: np.ndarray, sigma: float = 1.0) -> np.ndarray:
    """Labels smoothed by a Gaussian-weighted vote over the region's pixels (no staircase specks)."""
    votes = np.stack([cv2.GaussianBlur(((label == v) & region).astype(np.float32), (0, 0), sigma)
                      for v in range(LOOSE + 1)])
    return np.where(region, votes.argmax(0), label)


def body_under_limbs(labels: np.ndarray, distances: np.ndarray, region: np.ndarray,
                     xy: np.ndarray | None = None) -> np.ndarray:
    """(H, W) int64: for each limb pixel lying over the body in the photo, the body part under it, else -1.
    Over the body means inside the torso's shape (then the torso is under it) or a thigh's (that thigh):
    the body's extent that the pose implies, so a forearm across the chest has chest under it while an arm
    hanging beside the body has nothing. Given the pose's joints ``xy`` (18, 2), a thigh is not under the
    other leg where the legs lie side by side (as in ``limbs_under_limbs``)."""
    out = np.full(labels.shape, -1, np.int64)
    limb = np.isin(labels, LIMBS) & region
    for p in THIGHS + (TORSO,):  # the torso last: it wins where a thigh's shape overlaps it
        over = limb & (distances[p] <= 0) & (labels != p)
        if xy is not None and p in THIGHS:
            over &= ~np.isin(labels, _beside(xy, p))
        out[over] = p
    return out


BARE_ARM = 0.3  # an arm part with at least this share of its pixels of the skin's colours is bare, not sleeved


def beside_the_torso(labels: np.ndarray, distances: np.ndarray, region: np.ndarray, rgb: np.ndarray,
                     xy: np.ndarray, scale: float, over: np.ndarray | None = None,
                     person: np.ndarray | None = None) -> np.ndarray:
    """(H, W) bool: the pixels of bare arms (``BARE_ARM``; skin from ``_skin`` of ``rgb`` (H, W, 3) uint8 and
    the pose ``xy`` (18, 2)) that ``body_under_limbs`` puts over the torso (inside its padded shape,
    ``distances`` (10, H, W)) but that lie outside the torso's own outline, the convex hull of the torso's and
    the loose cloth's pixels in ``region`` (``labels`` (H, W) int): that outline seen above and below an arm,
    continued straight beneath it (grown 2 pixels outside it, over the arm's soft rim). A bare arm hanging
    beside the body covers a band of background there, which the torso's fill painted as a flat strip of
    cloth beside her torso once the arm rose; a sleeve may hide more of its own jacket there, and is left.
    The hair and cloth that lay over an arm (``over`` (H, W) int >= 0, ``overlays_on_arms``) are not the
    torso's outline (her hair over her arm widened it, and the fill beside her waist showed as skin). Given
    the ``person`` (H, W) bool (the silhouette), any arm's pixels past a gap of background beside the torso
    (``_past_a_gap``) are clear too."""
    lab, skin = _lab_and_skin(rgb, xy, scale)
    own = np.isin(labels, (TORSO, LOOSE)) & region
    if over is not None:
        own &= over < 0
    points = np.argwhere(own)[:, ::-1].astype(np.int32)
    gap = np.zeros(labels.shape, bool) if person is None else _past_a_gap(labels, distances, region, person, xy)
    if skin is None or len(points) < 3:
        return gap
    bare = [p for p in ARMS if ((labels == p) & region).any()
            and (_colour_distance(lab[(labels == p) & region], skin) < SKIN_TOLERANCE).mean() >= BARE_ARM]
    hull = np.zeros(labels.shape, np.uint8)
    cv2.fillConvexPoly(hull, cv2.convexHull(points), 1)
    out = (np.isin(labels, bare) & region & (distances[TORSO] <= 0) & (hull == 0)).astype(np.uint8)
    out = (cv2.dilate(out, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))) > 0) & (hull == 0)
    return out | gap


def _past_a_gap(labels: np.ndarray, distances: np.ndarray, region: np.ndarray, person: np.ndarray,
                xy: np.ndarray) -> np.ndarray:
    """(H, W) bool: the arms' pixels over the torso's padded shape (``distances`` (10, H, W)) from which the
    straight way to the spine (neck to the hips' midpoint of the pose ``xy`` (18, 2)) crosses the photo's
    background (outside ``person`` (H, W) bool): beyond the gap between an arm and the waist the torso does
    not reach, and its fill drew a pink strip where the catalog woman's bent arm had been once it rose.
    Those pixels and the 2 pixels around them in the arm (its soft rim)."""
    neck, hips = xy[JOINT["neck"]], (xy[JOINT["right_hip"]] + xy[JOINT["left_hip"]]) / 2
    out = np.zeros(labels.shape, bool)
    if not (neck.any() and xy[JOINT["right_hip"]].any() and xy[JOINT["left_hip"]].any()):
        return out
    ys, xs = np.nonzero(np.isin(labels, ARMS) & region & (distances[TORSO] <= 0))
    if not len(ys):
        return out
    spine = hips - neck
    t = np.clip(((xs - neck[0]) * spine[0] + (ys - neck[1]) * spine[1]) / max(float(spine @ spine), 1e-9), 0, 1)
    tx, ty = neck[0] + t * spine[0] - xs, neck[1] + t * spine[1] - ys
    far = int(np.ceil(np.hypot(tx, ty).max())) + 1
    h, w = labels.shape
    crossed = np.zeros(len(ys), bool)
    for f in np.linspace(0.0, 1.0, far + 1)[1:]:
        cx = np.clip(np.round(xs + f * tx).astype(int), 0, w - 1)
        cy = np.clip(np.round(ys + f * ty).astype(int), 0, h - 1)
        crossed |= ~person[cy, cx]
    out[ys[crossed], xs[crossed]] = True
    grown = cv2.dilate(out.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))) > 0
    return grown & np.isin(labels, ARMS) & (distances[TORSO] <= 0)


UPPER_ARMS = (PART_NAMES.index("right_upper_arm"), PART_NAMES.index("left_upper_arm"))
NEAR_ARM = 0.3  # body scales: the torso's and head's colours are taken this near an upper arm's shape
SKIN_HUE = 12.0  # degrees in Lab a*b*: a colour of the skin's hue within this ...
SHADE = 0.6  # ... and at least this share of its lightness is the skin in shadow
SLEEVE_COVER = 0.9  # a piece over this share of an arm's width all along ...
SLEEVE_LENGTH = 0.1  # ... this share of its bone wraps the arm: a sleeve


def _skin_or_shade(lab: np.ndarray, skin: np.ndarray) -> np.ndarray:
    """(...) bool: which Lab pixels (..., 3) are the skin's lightest colour (of ``skin`` (K, 3)) lit or in
    shadow: within ``SKIN_TOLERANCE`` of it, or of its hue (within ``SKIN_HUE`` degrees in a*b*, chroma
    0.8-2.5 times its own) and at least ``SHADE`` of its lightness. Skin in shadow is darker and more
    saturated: as far from the lit skin in Lab as hair is, and nearer the nose's shadow (the other centre)."""
    lit = skin[skin[:, 0].argmax()]
    ab, lit_ab = lab[..., 1:] - 128.0, lit[1:] - 128.0
    chroma = np.linalg.norm(ab, axis=-1) / max(float(np.linalg.norm(lit_ab)), 1e-6)
    turn = np.degrees(np.arctan2(ab[..., 1], ab[..., 0]) - np.arctan2(lit_ab[1], lit_ab[0]))
    turn = np.abs((turn + 180.0) % 360.0 - 180.0)
    hue = (turn < SKIN_HUE) & (chroma > 0.8) & (chroma < 2.5)
    return (np.linalg.norm(lab - lit, axis=-1) < SKIN_TOLERANCE) | (hue & (lab[..., 0] >= SHADE * lit[0]))


def _near_skin(lab: np.ndarray, skin: np.ndarray) -> np.ndarray:
    """(H, W) bool: the Lab pixels (H, W, 3) within ``SKIN_TOLERANCE`` of one of the skin's colours ``skin`` (K, 3)."""
    return (_colour_distance(lab.reshape(-1, 3), skin) < SKIN_TOLERANCE).reshape(lab.shape[:2])


def _skin_like(lab: np.ndarray, skin: np.ndarray) -> np.ndarray:
    """(H, W) bool: the Lab pixels (H, W, 3) of the skin's colours ``skin`` (K, 3), lit or in shadow
    (``_near_skin`` or ``_skin_or_shade``)."""
    return _near_skin(lab, skin) | _skin_or_shade(lab, skin)


def _wraps(piece: np.ndarray, arm: np.ndarray, a: np.ndarray, b: np.ndarray) -> bool:
    """Whether ``piece`` (H, W) bool covers over ``SLEEVE_COVER`` of the ``arm``'s (H, W) bool pixels across
    it at every step (one pixel) of a stretch of the bone a-b (2,) at least ``SLEEVE_LENGTH`` of its length
    long: a sleeve wraps the arm (the squats woman's short sleeve, 0.93-1.0 of her upper arm's width down
    to its hem); hair or a ruffle lying over it leaves its skin showing beside them (the AnimateAnyone
    woman's hair, at most 0.8)."""
    ys, xs = np.nonzero(arm)
    length = float(np.linalg.norm(b - a))
    if not len(ys) or length < 1.0:
        return False
    step = np.floor(((xs - a[0]) * (b[0] - a[0]) + (ys - a[1]) * (b[1] - a[1])) / length).astype(int)
    on = (step >= 0) & (step <= length)
    total = np.bincount(step[on], minlength=int(length) + 1)
    covered = np.bincount(step[on], weights=piece[ys[on], xs[on]].astype(np.float64), minlength=len(total))
    wrapped = np.concatenate([[0], ((total > 0) & (covered >= SLEEVE_COVER * total)).astype(np.int8), [0]])
    edges = np.flatnonzero(np.diff(wrapped))  # starts and ends of the wrapped stretches
    return bool(len(edges)) and int((edges[1::2] - edges[::2]).max()) >= max(2.0, SLEEVE_LENGTH * length)


def overlays_on_arms(labels: np.ndarray, rgb: np.ndarray, distances: np.ndarray, region: np.ndarray,
                     xy: np.ndarray, scale: float, ratio: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Hair and cloth that lie over a bare upper arm in the photo given to the part they hang from.

    ``labels`` (H, W) int, the photo ``rgb`` (H, W, 3) uint8, ``distances`` (10, H, W) the parts' signed
    distances, ``region`` (H, W) bool, the pose ``xy`` (18, 2), ``scale`` the body scale (pixels). On a
    bare upper arm (``BARE_ARM`` of its pixels of the skin's colours, ``_skin``), the pixels that are no
    skin, lit or shaded (``_skin_or_shade``), and much nearer (under ``ratio`` times) to the torso's or the
    head's colours that are no skin (within ``NEAR_ARM`` of the arm) than to the lit skin, closed over
    one-pixel gaps, form pieces, each with its edge blended into the skin (within 2 pixels, nearer those
    colours than the skin's); a piece that touches the torso or the head is the part it touches most:
    strands of the AnimateAnyone woman's hair and the ruffle of her top lie over her upper arms and went
    with the arms as dark bands and a grey wing when they rose. An arm where such a piece reaches its
    outline on its far side from the torso (``_far_side``) or wraps it (``_wraps``) is sleeved and left
    whole: a short sleeve of the top's colour wraps the arm (the woman in pink's sleeves, her pinkish skin
    below them and a strip of her top at the armpit would have gone, the strip leaving a dark rim under her
    raised arm; the squats woman's sleeve, 1 pixel short of her outline's rim, went to the torso with the
    shaded skin below it, whose hue is 20 degrees off her face's). Returns the
    labels and (H, W) int64: the upper arm whose shape runs on beneath such a piece (``limbs_beneath``
    draws it there, textured by the arm's own fill), else -1."""
    out = labels.copy()
    under = np.full(labels.shape, -1, np.int64)
    lab, skin, inner = _lab_skin_inner(rgb, xy, scale, region)
    if skin is None:
        return out, under
    skin_near = _near_skin(lab, skin)
    shaded = _skin_or_shade(lab, skin)  # (not the nose's shadow's colours: dark hair and grey cloth are)
    d_lit = np.linalg.norm(lab - skin[skin[:, 0].argmax()], axis=-1)  # to the lit skin
    ring = np.ones((3, 3), np.uint8)
    edge = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
    for p in UPPER_ARMS:
        arm = (labels == p) & region
        if not arm.any() or skin_near[arm].mean() < BARE_ARM:
            continue
        near = distances[p] <= NEAR_ARM * scale
        best = np.full(labels.shape, np.inf)
        for q in (TORSO, HEAD):
            colours = _palette(lab[(labels == q) & region & inner & ~shaded & near])
            if colours is not None:
                best[arm] = np.minimum(best[arm], _colour_distance(lab[arm], colours))
        candidate = (arm & ~shaded & (best < ratio * d_lit)).astype(np.uint8)
        candidate = (cv2.morphologyEx(candidate, cv2.MORPH_CLOSE, ring) > 0) & arm
        blend = arm & ~shaded & (best < d_lit)  # its edge, blended with the skin, within 2 pixels of it
        # a sleeve reaches the arm's outline on its far side from the torso; hair and a ruffle lie over it
        outline = arm & ~(cv2.erode(region.astype(np.uint8), ring) > 0)
        a, b = (xy[j].astype(np.float64) for j in BODY_PARTS[PART_NAMES[p]])
        outline[outline] = _far_side(distances[TORSO], outline, a, b)
        count, comp = cv2.connectedComponents(candidate.astype(np.uint8), connectivity=8)
        pieces = [(comp == c) | ((cv2.dilate((comp == c).astype(np.uint8), edge) > 0) & blend)
                  for c in range(1, count)]
        if any((piece & outline).any() or _wraps(piece, arm & inner, a, b) for piece in pieces):
            continue
        for piece in pieces:
            border = (cv2.dilate(piece.astype(np.uint8), ring) > 0) & ~piece & region
            touched = labels[border & np.isin(labels, (TORSO, HEAD))]
            if touched.size:
                out[piece] = np.bincount(touched).argmax()
                under[piece & (distances[p] <= 0)] = p
    return out, under


SLEEVE_CHROMA = 8.0  # Lab a*b*: a colour of the torso this far from the skin's tells cloth from skin on an arm
HEM_WIDTH = 0.3  # of the upper arm's radius: the sleeve ends where the arm's skin shows this wide across it ...
HEM_RUN = 0.05  # body scales: ... for at least this stretch along the arm
SLEEVE_SLACK = 0.25  # of the upper arm's radius: a sleeve reaches this far past the bare arm's inner edge
MARGIN_DEEP = 4.0  # pixels inside the person's region (2 outside the silhouette): no blend with the background
BENEATH_GROW = 0.2  # of its radius: an arm behind the top runs on beneath it this much wider than its skin's 10-90%
HIDDEN_SLEEVE = 1.5  # a sleeve this many times longer (of its upper arm) than the other arm's ends where that one does


def _arm_frame(xy: np.ndarray, upper: int, ys: np.ndarray, xs: np.ndarray, on_upper: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """For arm pixels (rows ``ys``, columns ``xs``, (N,) each; ``on_upper`` (N,) bool: the upper arm's, else
    the forearm's) of the arm whose upper arm is ``upper`` in the pose ``xy`` (18, 2): how far along the arm
    from the shoulder (through the elbow), across its bone (positive towards the torso: the side of the
    midpoint of the neck and the hips) and along the forearm past the wrist, each (N,) float64 pixels; and
    the upper arm's length."""
    s, e = BODY_PARTS[PART_NAMES[upper]]
    a, b, c = (xy[j].astype(np.float64) for j in (s, e, BODY_PARTS[PART_NAMES[upper + 1]][1]))
    length, fore = float(np.linalg.norm(b - a)), max(float(np.linalg.norm(c - b)), 1e-6)
    u1, u2 = (b - a) / max(length, 1e-6), (c - b) / fore
    mid = (xy[JOINT["neck"]] + (xy[JOINT["right_hip"]] + xy[JOINT["left_hip"]]) / 2) / 2
    n1, n2 = (np.array([-u[1], u[0]]) * (np.sign(float((mid - j) @ np.array([-u[1], u[0]]))) or 1.0)
              for u, j in ((u1, a), (u2, b)))
    rel = np.stack([xs, ys], 1) - np.where(on_upper[:, None], a, b)
    along = np.where(on_upper, rel @ u1, length + rel @ u2)
    return along, np.where(on_upper, rel @ n1, rel @ n2), np.where(on_upper, -np.inf, rel @ u2 - fore), length


def top_off_arms(labels: np.ndarray, rgb: np.ndarray, distances: np.ndarray, xy: np.ndarray, conf: np.ndarray,
                 radii: np.ndarray, scale: float, region: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labels (H, W) where the torso's cloth that a short-sleeved arm's shape took goes back to the torso;
    (H, W) int64, the upper arm that runs on beneath the torso there (-1: none), and (H, W) bool, that arm's
    sleeve, which its fill does not copy. ``rgb`` (H, W, 3) uint8, ``distances`` (10, H, W) the parts'
    signed distances, the pose ``xy`` (18, 2) and ``conf`` (18,), ``radii`` (10,) the limbs' radii, ``scale``
    the body scale (pixels), ``region`` (H, W) bool the person.

    An arm pixel is cloth when its Lab chroma (a*, b*: lightness is shading) is nearer the colours of the
    torso within ``NEAR_ARM`` of the upper arm that lie over ``SLEEVE_CHROMA`` from the skin's (``_skin``)
    than the skin's, and within ``SKIN_TOLERANCE`` of them in Lab: the catalog woman's pink top is within
    ``SKIN_TOLERANCE`` of her skin in Lab, but 20 units from it in chroma. Along the upper arm from the
    shoulder, the sleeve's hem is where the arm's skin inside the outline first shows ``HEM_WIDTH`` of its
    radius wide for ``HEM_RUN`` body scales (no hem, or the skin from the shoulder on: a long sleeve or none,
    and the arm is left as it is). The cloth past the bare arm's inner edge (towards the torso; the upper
    arm's below the hem, the forearm's before its wrist) goes to the torso, and on the sleeve the cloth over
    ``SLEEVE_SLACK`` of the radius past it (a short sleeve wraps the arm; the top beside it is the torso's),
    in pieces touching the body, ``MARGIN_DEEP`` pixels inside the region (a bare arm's rim along a gap is
    a blend with the background). The arm's capsule took a strip of her top with her short sleeve and the
    side of her top along her forearm: torn pink scraps along her raised arm. A sleeve over ``HIDDEN_SLEEVE``
    times as long (in shares of the upper arm) as the other arm's ends where that one does: her right arm
    hangs behind her top, its skin showing only near the elbow, and its label held the side of her top with
    its print. Between there and its hem all but its skin goes (the print's specks left on the arm join the
    body, ``_drop_limb_scraps``), and the arm runs on beneath the torso there (``limbs_beneath``), as wide as
    its skin below (its 10-90% across, grown by ``BENEATH_GROW`` of the radius): without it the raised upper
    arm was a torn shred between sleeve and skin. Its fill (``rig._atlas``) copies its skin, not its sleeve:
    from the sleeve it drew a pink flap hanging along the raised arm."""
    under, sleeves = np.full(labels.shape, -1, np.int64), np.zeros(labels.shape, bool)
    lab, skin, inner = _lab_skin_inner(rgb, xy, scale, region)
    if skin is None:
        return labels, under, sleeves
    skin_like = _skin_like(lab, skin)
    arms, share = {}, {}
    for upper in UPPER_ARMS:
        ys, xs = np.nonzero(np.isin(labels, (upper, upper + 1)) & region)
        joints = list(BODY_PARTS[PART_NAMES[upper]] + BODY_PARTS[PART_NAMES[upper + 1]])
        colours = _palette(lab[(labels == TORSO) & inner & (distances[upper] <= NEAR_ARM * scale)], k=4)
        if not len(ys) or not (conf[joints] > MIN_CONF).all() or colours is None:
            continue
        colours = colours[_colour_distance(colours[:, 1:], skin[:, 1:]) > SLEEVE_CHROMA]
        on_upper = labels[ys, xs] == upper
        along, across, past, length = _arm_frame(xy, upper, ys, xs, on_upper)
        if not len(colours) or length < 2:
            continue
        pix = lab[ys, xs]
        cloth = _colour_distance(pix[:, 1:], colours[:, 1:]) < _colour_distance(pix[:, 1:], skin[:, 1:])
        cloth &= _colour_distance(pix, colours) < SKIN_TOLERANCE
        steps = np.floor(np.clip(along, 0, None)).astype(int)
        bare = ~cloth & skin_like[ys, xs] & inner[ys, xs]  # the arm's skin inside its outline
        shows = np.bincount(steps[bare & on_upper & (steps <= length)], minlength=int(length) + 2)
        shows = shows >= max(2.0, HEM_WIDTH * radii[upper])
        run = max(2, int(round(HEM_RUN * scale)))
        hem = next((i for i in range(int(length) - run + 1) if shows[i:i + run].all()), None)
        if hem is not None and hem >= run:
            arms[upper] = (ys, xs, on_upper, along, across, past, cloth, bare, hem)
            share[upper] = hem / length
    out = labels.copy()
    body = cv2.dilate(np.isin(labels, (TORSO, LOOSE)).astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    deep = cv2.distanceTransform(region.astype(np.uint8), cv2.DIST_L2, 3) > MARGIN_DEEP
    for upper, (ys, xs, on_upper, along, across, past, cloth, bare, hem) in arms.items():
        other = min(share.values())
        sleeve = hem * (other / share[upper] if share[upper] > HIDDEN_SLEEVE * other else 1.0)
        below, fore = bare & on_upper & (along > hem), bare & ~on_upper & (past <= 0)
        inside, edge = np.percentile(across[below], [10, 90]) if below.sum() >= 10 else (-np.inf, np.inf)
        fore_edge = np.percentile(across[fore], 90) if fore.sum() >= 10 else np.inf
        slack = np.where(along > sleeve, 1.0, SLEEVE_SLACK * radii[upper])
        beyond = np.where(on_upper, across - edge - slack, across - fore_edge - 1.0) > 0
        hidden = on_upper & (along > sleeve) & (along <= hem)  # the arm behind the top: all but skin goes
        take = cloth & (past <= 0) & beyond & deep[ys, xs] | hidden & ~bare
        moved = np.zeros(labels.shape, bool)
        moved[ys[take], xs[take]] = True
        _, comp = cv2.connectedComponents(moved.astype(np.uint8), connectivity=8)
        touching = np.unique(comp[moved & body])
        moved = np.isin(comp, touching[touching > 0])
        out[moved] = TORSO
        if sleeve < hem:  # the arm runs on beneath the top there, its skin from below (not its sleeve)
            beneath = np.zeros(labels.shape, bool)
            grow = BENEATH_GROW * radii[upper]  # (the percentiles of its skin's width: its edges too)
            beneath[ys, xs] = hidden & (across >= inside - grow) & (across <= edge + grow)
            under[beneath & (out == TORSO)] = upper
            sleeves[ys, xs] = on_upper & (along <= sleeve) & (out[ys, xs] == upper)
    # the print's and the outline's specks left on the arm there join the body (``_drop_limb_scraps``)
    return (_drop_limb_scraps(out, region, scale, lab, skin) if (out != labels).any() else out), under, sleeves


def _beside(xy: np.ndarray, p: int) -> tuple[int, ...]:
    """The parts of the other leg that lie side by side with leg part ``p`` (``_side_by_side``): the two
    legs' overlap is split down the middle between them (``label_parts``), neither lies under the other."""
    return tuple(q for q in LEGS if CHAIN[q] != CHAIN[p] and _side_by_side(xy, p, q))


def _leg_band(shape: tuple[int, int], xy: np.ndarray, radii: np.ndarray, p: int) -> np.ndarray:
    """(H, W) bool: the whole leg of leg part ``p`` as one tapered tube: within a width of the bones from
    hip through knee to ankle that goes smoothly from the thigh's radius (``radii``) at the hip to the
    shin's at the ankle, and to nothing from ``_BAND_END`` of the leg's length above the ankle to as far
    below it. One smooth outline across the knee and into the ankle, where the thigh's, shin's and foot's
    capsules, whose radii differ, stepped."""
    thigh = THIGHS[SHINS.index(p)] if p in SHINS else p
    shin = SHINS[THIGHS.index(thigh)]
    hip, knee = (xy[j].astype(np.float64) for j in BODY_PARTS[PART_NAMES[thigh]])
    ankle = xy[BODY_PARTS[PART_NAMES[shin]][1]].astype(np.float64)
    px = _pixels(*shape)
    upper, lower = np.linalg.norm(knee - hip), np.linalg.norm(ankle - knee)
    t_up = np.clip((px - hip) @ (knee - hip) / max(upper, 1e-6) ** 2, 0.0, 1.0) * upper
    t_low = upper + np.clip((px - knee) @ (ankle - knee) / max(lower, 1e-6) ** 2, 0.0, 1.5) * lower
    to_upper, to_lower = _segment_distance(px, hip, knee), _segment_distance(px, knee, ankle)
    t = np.where(to_upper <= to_lower, t_up, t_low) / max(upper + lower, 1e-6)
    width = radii[thigh] + (radii[shin] - radii[thigh]) * np.clip(t, 0.0, 1.0)
    width *= np.clip((1.0 + _BAND_END - t) / (2 * _BAND_END), 0.0, 1.0)
    return np.minimum(to_upper, to_lower) <= width


def limbs_under_limbs(labels: np.ndarray, distances: np.ndarray, keys: np.ndarray, region: np.ndarray,
                      xy: np.ndarray | None = None) -> np.ndarray:
    """(H, W) int64: where a limb's shape runs under another part in front of it (a forearm folded under
    the other one, the far leg behind the near one, an arm behind the body), that hidden limb (the
    front-most of them), else -1. Given the pose's joints ``xy`` (18, 2), a leg does not run under the
    other leg's parts that lie side by side with it (``_beside``: ``label_parts`` split their overlap down
    the middle): its capsule's half of the other leg, a strip with straight sides that stepped at the knee
    and the ankle where thigh, shin and foot differ in width, stayed on its inner edge when the legs parted
    (the demo man's legs pressed together in dark trousers: a staircase up the gap between them)."""
    out = np.full(labels.shape, -1, np.int64)
    best = np.full(labels.shape, -np.inf)
    for p in LIMBS:
        hidden = (distances[p] <= 0) & region & (labels != p) & (keys[labels] > keys[p])
        hidden &= np.isin(labels, LIMBS + (TORSO, HEAD))
        if xy is not None and p in LEGS:
            hidden &= ~np.isin(labels, _beside(xy, p))
        take = hidden & (keys[p] > best)
        out[take], best[take] = p, keys[p]
    return out


BENEATH_COLOUR = 12.0  # Lab: a limb runs on beneath the torso where the torso's pixels are within this of its colours


def limbs_beneath(labels: np.ndarray, distances: np.ndarray, keys: np.ndarray, region: np.ndarray,
                  xy: np.ndarray, rgb: np.ndarray, over: np.ndarray | None = None) -> np.ndarray:
    """(H, W) int64: where a limb's shape lies on a part behind it that holds those pixels, that limb, else
    -1; a layer of its own, drawn just beneath that part (``rig.Rig.build``), so the photo's own pose shows
    the photo and a limb moved away takes its whole shape. The parts: the other bone of an elbow or a knee
    (``label_parts`` splits their overlap at the midline, ``_side_by_side``; the back one runs on under the
    front one in ``limbs_under_limbs``, the front one did not, and a white notch opened at the joint's outer
    side when it straightened), and the torso where its pixels there are of the limb's colours (within
    ``BENEATH_COLOUR`` in Lab of its palette: a sleeve over a jacket of its colour, whose edge the labels'
    vote gave the torso in places; the demo man's folded forearms, moved out, were notched and stepped out
    to their full width where their copy under the other arm began). Not a bare arm's shape over a dress:
    colour gave the dress to the body. ``over`` (H, W) int (``overlays_on_arms``): the upper arm that runs
    on beneath the hair or cloth given from it to the body there (-1: none)."""
    out = np.full(labels.shape, -1, np.int64)
    lab = cv2.cvtColor(np.ascontiguousarray(rgb, np.uint8), cv2.COLOR_RGB2LAB).astype(np.float32)
    for upper, lower in zip(ARMS[::2] + THIGHS, ARMS[1::2] + SHINS):
        if not (np.isfinite(distances[upper]).any() and np.isfinite(distances[lower]).any()):
            continue
        if _side_by_side(xy, upper, lower):
            front, back = (upper, lower) if keys[upper] > keys[lower] else (lower, upper)
            out[(distances[front] <= 0) & (labels == back) & region] = front
    for p in ARMS:
        if not np.isfinite(distances[p]).any() or keys[p] <= keys[TORSO]:
            continue
        own = _palette(lab[(labels == p) & region])
        body = (distances[p] <= 0) & (labels == TORSO) & region & (out < 0)
        if own is None or not body.any():
            continue
        body[body] = _colour_distance(lab[body], own) < BENEATH_COLOUR
        out[body] = p
    if over is not None:
        take = (over >= 0) & (out < 0) & region
        out[take] = over[take]
    return out


def legs_under_legs(labels: np.ndarray, distances: np.ndarray, keys: np.ndarray, region: np.ndarray,
                    xy: np.ndarray, radii: np.ndarray, scale: float) -> np.ndarray:
    """(H, W) int64: where a leg runs under the other leg's parts that lie side by side with it
    (``_beside``) and are in front of it, that leg's part (its thigh or shin, whichever is nearer, when
    that one is behind the part there), else -1: a hidden layer of its own, beside ``limbs_under_limbs``'s.

    ``label_parts`` splits legs pressed together down the middle, so the leg behind drew only its visible
    half, visibly thinner than the front one when they parted (the demo man; BlazePose then placed its
    knee 17.6 -> 25.4 pixels off). Under the front leg it now runs on within its tube (``_leg_band``: one
    smooth outline, no step at knee or ankle as its capsules had: their strip stayed on its inner edge as
    a staircase up the gap between the legs). Its own layer, because there the front leg's knee has its
    thigh or shin under it (``limbs_under_limbs``, the front-most hidden limb): left out, that left a
    round white notch at the back knee; taking its place, the front knee lost its own. Under ``ISLAND``
    square body scales (``scale`` pixels) in all, there is none: legs that only touch keep what they have.
    Where the nearer part is in front of the other leg (animatex_dance_2's dancer: her right shin before
    her left), nothing of the leg is hidden there: its thigh took that stretch of the shin's tube, and
    skinned with the thigh it hung from her knee as a blade of skin once her left shin moved."""
    out = np.full(labels.shape, -1, np.int64)
    best = np.full(labels.shape, -np.inf)
    for p in LEGS:
        beside = np.isin(labels, _beside(xy, p)) & region & (keys[labels] > keys[p])
        if not beside.any():
            continue
        other = SHINS[THIGHS.index(p)] if p in THIGHS else THIGHS[SHINS.index(p)]
        nearer = distances[p] <= distances[other]
        take = beside & nearer & _leg_band(labels.shape, xy, radii, p) & (keys[p] > best)
        out[take], best[take] = p, keys[p]
    return out if (out >= 0).sum() >= ISLAND * scale**2 else np.full(labels.shape, -1, np.int64)


def leg_gap_top(xy: np.ndarray, conf: np.ndarray, silhouette: np.ndarray) -> float | None:
    """How far down the legs (in pixels along the body's down direction from the hip centre) the first
    background pixel between the two legs lies: above it the legs are one piece of cloth (a skirt, a coat).
    None when the hips or knees are not seen, and when the ankles are seen with no background between the
    legs down to them: legs pressed together in trousers (the demo man), which glued into one tapering
    sack when a knee rose; a skirt or coat shows background below its hem."""
    vis = conf > MIN_CONF
    rh, lh, rk, lk = JOINT["right_hip"], JOINT["left_hip"], JOINT["right_knee"], JOINT["left_knee"]
    ra, la = JOINT["right_ankle"], JOINT["left_ankle"]
    if not (vis[rh] and vis[lh] and vis[rk] and vis[lk]):
        return None
    hip = (xy[rh] + xy[lh]) / 2
    lower = [(xy[rk] + xy[lk]) / 2]
    if vis[ra] and vis[la]:
        lower.append((xy[ra] + xy[la]) / 2)
    end = lower[-1]
    down = end - hip
    length = float(np.linalg.norm(down))
    if length < 2:
        return None
    h, w = silhouette.shape
    # Walk down the midline between the legs (through the knees' midpoint).
    path = [hip, *lower]
    travelled = 0.0
    for a, b in zip(path[:-1], path[1:]):
        seg = float(np.linalg.norm(b - a))
        for t in np.arange(0.0, seg, 1.0):
            x, y = np.round(a + (b - a) * t / max(seg, 1e-6)).astype(int)
            if 0 <= x < w and 0 <= y < h and not silhouette[y, x]:
                return travelled + t
        travelled += seg
    return None if len(lower) == 2 else travelled


def glue(label_a: np.ndarray, label_b: np.ndarray, points: np.ndarray, xy: np.ndarray, radii: np.ndarray,
         gap_top: float | None) -> np.ndarray:
    """Whether mesh edges between parts ``label_a`` and ``label_b`` (E,) at ``points`` (E, 2) stay joined.

    Joined: within a part; head and torso; loose cloth with the body and thighs; a limb and its parent
    near the joint between them (``_GLUE_REACH`` limb radii); the two legs above ``gap_top`` (pixels down
    from the hip centre; skirts). Everything else is cut: an arm lying along the body is free of it.
    """
    a, b = np.minimum(label_a, label_b), np.maximum(label_a, label_b)
    out = a == b
    out |= (a == min(TORSO, HEAD)) & (b == max(TORSO, HEAD))
    loose_a = np.isin(a, tuple(_LOOSE_GLUE))
    out |= (b == LOOSE) & loose_a
    for p in LIMBS:
        parent = TORSO if _kind(p).startswith("upper") else p - 1
        joint = xy[_JOINT_OF[p]]
        near = np.linalg.norm(points - joint, axis=1) <= _GLUE_REACH[_kind(p)] * radii[p]
        pair = ((a == min(p, parent)) & (b == max(p, parent)))
        out |= pair & near
    if gap_top is not None:
        rh, lh = JOINT["right_hip"], JOINT["left_hip"]
        rk, lk = JOINT["right_knee"], JOINT["left_knee"]
        hip = (xy[rh] + xy[lh]) / 2
        down = (xy[rk] + xy[lk]) / 2 - hip
        down = down / max(float(np.linalg.norm(down)), 1e-6)
        above = (points - hip) @ down <= gap_top
        both_legs = np.isin(a, LEGS) & np.isin(b, LEGS) & (CHAIN[a] != CHAIN[b])
        out |= both_legs & above
    return out



ACROSS = 4.0  # a limb's fill seeks its source pixel this many times farther across the limb than along it
ACROSS_FROM = 0.2  # ... from this far down the bone (of its length; nearer its root the body's cloth lies on it)
SAME_CLOTH = 10.0  # Lab chroma: the known pixel along a limb is its cloth across it, shaded otherwise, within this
CLOTH_WEIGHT = 1.0  # pixels of distance per unit of Lab chroma in the search along a limb
CLOTH_APART = 20.0  # Lab chroma: a limb's known pixels whose two colour centres lie this far apart show two cloths


def _nearest_across(known: np.ndarray, bone: tuple[np.ndarray, np.ndarray], across: float = ACROSS,
                    start: float = ACROSS_FROM, cloth: tuple[np.ndarray, np.ndarray] | None = None
                    ) -> tuple[np.ndarray, np.ndarray]:
    """``nearest_known`` with distances along the ``bone`` (a, b) (2,) (x, y) counted ``across`` times, for
    the pixels ``start`` of its length or more past a: for each pixel of ``known`` (H, W) bool, the row
    and column (H, W) int of the known pixel nearest it across the limb (nearest it, nearer the root).
    ``across`` under 1 seeks it along the limb instead. ``cloth``: (H, W, 2) Lab chroma of the known pixels
    and (H, W, 2) the chroma sought at each pixel; each unit of difference counts ``CLOTH_WEIGHT`` pixels.
    Pixels over the bone's length from every known pixel keep the nearest one."""
    from scipy.spatial import cKDTree

    h, w = known.shape
    a, b = (np.asarray(v, np.float64) for v in bone)
    u = (b - a) / max(float(np.linalg.norm(b - a)), 1e-9)
    ys, xs = np.nonzero(known)
    iy, ix = nearest_known(known)
    rows, cols = np.indices((h, w))
    length = float(np.linalg.norm(b - a))
    down = ((cols - a[0]) * u[0] + (rows - a[1]) * u[1]) >= start * length
    down &= ~known & ((rows - iy) ** 2 + (cols - ix) ** 2 <= length ** 2)  # (not the far background)

    def warped(x: np.ndarray, y: np.ndarray, colour: np.ndarray | None) -> np.ndarray:
        place = np.stack([x * -u[1] + y * u[0], across * (x * u[0] + y * u[1])], 1)
        return place if colour is None else np.concatenate([place, CLOTH_WEIGHT * colour], 1)

    have, want = (None, None) if cloth is None else (cloth[0][known], cloth[1][down])
    idx = cKDTree(warped(xs, ys, have)).query(warped(cols[down], rows[down], want))[1]
    iy[down], ix[down] = ys[idx], xs[idx]
    return iy, ix


def fill_from(rgb: np.ndarray, known: np.ndarray, sigma: float = 2.5,
              bone: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """(H, W, C) float32 image whose unknown pixels take the colour of the ``known`` (H, W) bool pixel
    mirrored across the nearest known one (or of that nearest one where the mirrored pixel is not known),
    blurred by ``sigma`` pixels (so the seams between neighbouring sources soften): a hand that lay on a bare
    thigh below the shorts leaves skin, not a mix of skin and denim; the cloth's pattern runs on into the
    fill (a belt round the waist) instead of the shading along its edge drawn across the whole fill. Given a
    limb's ``bone`` (its joints a, b, each (2,) (x, y)), the nearest known pixel is sought across the limb
    first (``_nearest_across``): a pixel takes the cloth at its own place along the limb, so the hem of the
    AnimateAnyone woman's shorts under her hanging hand runs on across her thigh instead of the fill fading
    from the denim above it to the skin below (not by the limb's root, where the catalog man's jacket hem
    lies on his thigh's label and was drawn across the fill as a pale smear). But a limb is lit across its
    width and alike along it: where the known pixel nearest along the limb (from its root; distances across
    counted ``ACROSS`` times) is of the same cloth as the one across it (an RGB ``rgb``'s Lab chroma within
    ``SAME_CLOTH``), its shade is taken: the 3D-rendered woman's hand lay over her thigh's lit outer side,
    and the shaded inner side beside it was drawn across the whole hole, a flat dark patch on her jeans.
    The blur that softens the seams drew a hem as a fade from one cloth to the other (her shorts under her
    hand, 10 pixels tall at 384): a limb's known pixels of two cloths (``_cloths``) are blurred each among
    its own."""
    rgb = np.asarray(rgb, np.float32)
    if bone is None or not known.any():
        return _mirrored_fill(rgb, known, *nearest_known(known), sigma)
    if rgb.ndim != 3 or rgb.shape[-1] != 3:
        return _mirrored_fill(rgb, known, *_nearest_across(known, bone), sigma)
    have = _chroma(rgb)
    cloths = _cloths(have, known)
    out = _mirrored_fill(rgb, known, *_nearest_across(known, bone), sigma, cloths)
    across = _chroma(out)
    along = _mirrored_fill(rgb, known, *_nearest_across(known, bone, 1.0 / ACROSS, 0.0, (have, across)), sigma,
                           cloths)
    same = (np.linalg.norm(across - _chroma(along), axis=-1) < SAME_CLOTH) & ~known
    return np.where(same[..., None], along, out)


def _cloths(chroma: np.ndarray, known: np.ndarray) -> np.ndarray | None:
    """(H, W) int: which of two cloths each ``known`` (H, W) bool pixel shows, by its Lab ``chroma`` (H, W, 2)
    (2-means); None when the two centres lie under ``CLOTH_APART`` apart (one cloth, shaded)."""
    centres = _palette(chroma[known], k=2)
    if centres is None or float(np.linalg.norm(centres[0] - centres[1])) < CLOTH_APART:
        return None
    return np.linalg.norm(chroma[..., None, :] - centres, axis=-1).argmin(-1)


def _chroma(rgb: np.ndarray) -> np.ndarray:
    """(H, W, 2) float32: the Lab chroma (a, b; 0-255, 128 grey) of ``rgb`` (H, W, 3) RGB, clipped to 0-255."""
    return cv2.cvtColor(np.clip(rgb, 0, 255).astype(np.uint8), cv2.COLOR_RGB2LAB)[..., 1:].astype(np.float32)


def _mirrored_fill(rgb: np.ndarray, known: np.ndarray, iy: np.ndarray, ix: np.ndarray, sigma: float,
                   cloths: np.ndarray | None = None) -> np.ndarray:
    """``fill_from``'s fill of ``rgb`` (H, W, C) float32 outside ``known`` (H, W) bool, given each pixel's
    nearest known pixel (rows ``iy``, columns ``ix``, (H, W) int): the known pixel mirrored across it (or
    it), blurred by ``sigma`` pixels; with ``cloths`` (H, W) int (``_cloths``), each cloth's pixels blurred
    among themselves only, so the line between two cloths (a hem across a thigh) stays a line."""
    h, w = known.shape
    ys, xs = np.mgrid[0:h, 0:w]
    my, mx = np.clip(2 * iy - ys, 0, h - 1), np.clip(2 * ix - xs, 0, w - 1)
    mirrored = known[my, mx]
    my, mx = np.where(mirrored, my, iy), np.where(mirrored, mx, ix)
    source = np.ascontiguousarray(rgb[my, mx])
    soft = cv2.GaussianBlur(source, (0, 0), sigma).reshape(rgb.shape)
    if cloths is not None:
        which = cloths[my, mx]
        for c in np.unique(which):
            mine = (which == c).astype(np.float32)
            weight = cv2.GaussianBlur(mine, (0, 0), sigma)
            part = cv2.GaussianBlur(source * mine[..., None], (0, 0), sigma) / np.maximum(weight, 1e-6)[..., None]
            soft = np.where((which == c)[..., None], part, soft)
    return np.where(known[..., None], rgb, soft)


def _lab_and_skin(rgb: np.ndarray, xy: np.ndarray, scale: float) -> tuple[np.ndarray, np.ndarray | None]:
    """The photo (H, W, 3) uint8 in CIE Lab (float32) and the skin's colours (``_skin``; None unseen)."""
    lab = cv2.cvtColor(np.ascontiguousarray(rgb, np.uint8), cv2.COLOR_RGB2LAB).astype(np.float32)
    return lab, _skin(lab, xy, scale)


def _lab_skin_inner(rgb: np.ndarray, xy: np.ndarray, scale: float, region: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """``_lab_and_skin`` and (H, W) bool: the ``region``'s pixels 2 inside its outline (not its blended rim)."""
    lab, skin = _lab_and_skin(rgb, xy, scale)
    return lab, skin, cv2.erode(region.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0


def _hands_setup(rgb: np.ndarray, labels: np.ndarray, xy: np.ndarray, scale: float
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    """For the hand passes over ``labels``: the photo in Lab, the skin's colours, a copy of the labels and
    the pixel centres; None when the skin is not seen."""
    lab, skin = _lab_and_skin(rgb, xy, scale)
    if skin is None:
        return None
    return lab, skin, labels.copy(), _pixels(*labels.shape)


def _hand_zone(xy: np.ndarray, conf: np.ndarray, p: int, radii: np.ndarray, scale: float, px: np.ndarray,
               reach: float = 2.0) -> np.ndarray | None:
    """(H, W) bool: past the wrist of forearm ``p`` (from a hand width before it: the wrist's skin) and
    within ``reach`` hand widths of the hand's axis (None when the forearm is not seen)."""
    axis = _forearm_axis(xy, conf, p)
    if axis is None:
        return None
    _, b, unit = axis
    end = _limb_segment(xy, p, scale)[1]
    wide = max(radii[p], _LIMB_RADIUS[_kind(p)] * scale)
    past = ((px - b.astype(np.float32)) @ unit.astype(np.float32)) > -wide
    return past & (_segment_distance(px, b, end) <= reach * wide)


def skin_coloured(rgb: np.ndarray, xy: np.ndarray, scale: float) -> np.ndarray:
    """(H, W) bool: the pixels of ``rgb`` (H, W, 3) uint8 of the skin's colours, lit or in shadow (within
    ``SKIN_TOLERANCE`` in Lab of ``_skin``'s, at the nose of the pose ``xy`` (18, 2), body scale ``scale``,
    or ``_skin_or_shade``); none when the skin is not seen."""
    lab, skin = _lab_and_skin(rgb, xy, scale)
    return np.zeros(rgb.shape[:2], bool) if skin is None else _skin_like(lab, skin)


def hands_on(on: np.ndarray, xy: np.ndarray, conf: np.ndarray, radii: np.ndarray, scale: float) -> np.ndarray:
    """(H, W) bool: the zones (``_hand_zone``) of the hands seen that hold a pixel of ``on`` (H, W) bool."""
    px = _pixels(*on.shape)
    out = np.zeros(on.shape, bool)
    for p in FOREARMS:
        zone = _hand_zone(xy, conf, p, radii, scale, px)
        if zone is not None and (zone & on).any():
            out |= zone
    return out


CLOTHED = (TORSO, LOOSE) + THIGHS  # the body parts a hand may lie on
HAND_ISLAND = 0.8  # a piece of skin on the body is the hand's when at least this share of it lies by the hand
FINGER_REACH = 3.0  # hand widths: skin on the body touching the hand within this reach of its axis is its fingers
HIDDEN_HAND = 0.1  # a forearm with less skin than this share past its wrist has its hand hidden ...
HIDDEN_REACH = 0.08  # ... and keeps this many body scales past the wrist
CLOTHED_AROUND = 0.03  # body scales: how far around a hand's rim its part's colours say whether it is clothed there


def _skin_on_clothes(lab: np.ndarray, labels: np.ndarray, zone: np.ndarray, skin: np.ndarray,
                     tolerance: float, parts: tuple[int, ...] = CLOTHED) -> np.ndarray:
    """(H, W) bool: pieces of skin (within ``tolerance`` in Lab of ``skin``) that the body parts
    (``parts``, default ``CLOTHED``) hold, lying by the hand: at least ``HAND_ISLAND`` of each piece's pixels
    in ``zone`` (fingers on the jeans, a hand tucked under an arm; a bare thigh or midriff runs on far past
    the hand and keeps its pixels)."""
    body = np.isin(labels, parts)
    near = cv2.dilate(zone.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    ys, xs = np.nonzero(near & body)
    out = np.zeros(labels.shape, bool)
    if not len(ys):
        return out
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    pad = max(y1 - y0, x1 - x0)  # look around the zone far enough to see a piece run on
    box = (slice(max(0, y0 - pad), y1 + pad), slice(max(0, x0 - pad), x1 + pad))
    sub = body[box]
    is_skin = np.zeros(sub.shape, bool)
    is_skin[sub] = _colour_distance(lab[box][sub], skin) < tolerance
    count, comp = cv2.connectedComponents(is_skin.astype(np.uint8), connectivity=8)
    total = np.bincount(comp.ravel(), minlength=count)
    inside = np.bincount(comp[zone[box]].ravel(), minlength=count)
    keep = (inside >= HAND_ISLAND * total) & (inside > 0)
    keep[0] = False
    out[box] = keep[comp] & zone[box]
    return out


def _hand_rim(labels: np.ndarray, p: int, zone: np.ndarray, width: int = 2) -> np.ndarray:
    """(H, W) bool: the body pixels (``CLOTHED``) of ``zone`` within ``width`` pixels of forearm ``p``'s."""
    hand = cv2.dilate((labels == p).astype(np.uint8), np.ones((2 * width + 1,) * 2, np.uint8)) > 0
    return hand & zone & np.isin(labels, CLOTHED)


def claim_hands(rgb: np.ndarray, labels: np.ndarray, xy: np.ndarray, conf: np.ndarray, radii: np.ndarray,
                scale: float, tolerance: float = SKIN_TOLERANCE, region: np.ndarray | None = None) -> np.ndarray:
    """Labels where skin past a wrist that the body's shapes took (a hand on the hip turned inwards,
    outside its forearm's capsule; the fingers spread over the jeans) joins the forearm when it touches the
    forearm's pixels: so the hand moves with the arm and leaves no print on the clothes (``body_under_limbs``
    fills the clothes in under it). Skin is the colour at the nose (``_skin``), within ``tolerance`` in Lab,
    in pieces lying by the hand (``_skin_on_clothes``); small pieces of the body that the hand encloses
    inside the person's ``region`` (H, W) bool join it too (``_enclosed_by_hand``)."""
    setup = _hands_setup(rgb, labels, xy, scale)
    if setup is None:
        return labels
    lab, skin, labels, px = setup
    for p in FOREARMS:
        zone = _hand_zone(xy, conf, p, radii, scale, px)
        if zone is None:
            continue
        before = labels.copy()
        cand = _skin_on_clothes(lab, labels, zone, skin, tolerance)
        if cand.any():
            count, comp = cv2.connectedComponents(cand.astype(np.uint8), connectivity=8)
            touch = cv2.dilate((labels == p).astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
            joined = np.unique(comp[touch & cand])
            labels[np.isin(comp, joined[joined > 0])] = p
        _enclosed_by_hand(labels, p, zone, scale, region)
        # what joined the hand in strips thinner than ``SLIVER`` of its width goes back (refine_by_colour)
        k = max(2, int(round(SLIVER * max(radii[p], _LIMB_RADIUS[_kind(p)] * scale))))
        hand = ((labels == p) & zone).astype(np.uint8)
        opened = cv2.morphologyEx(hand, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * k + 1,) * 2))
        back = (labels != before) & ~opened.astype(bool)
        labels[back] = before[back]
    return labels


def hidden_hands(rgb: np.ndarray, labels: np.ndarray, person: np.ndarray, xy: np.ndarray, conf: np.ndarray,
                 distances: np.ndarray, radii: np.ndarray, scale: float, hands_seen: tuple[int, ...] = (),
                 tolerance: float = SKIN_TOLERANCE) -> tuple[np.ndarray, np.ndarray, tuple[int, ...]]:
    """Labels (H, W), part distances (10, H, W) and the forearms (a tuple) whose hand does not show: under
    ``HIDDEN_HAND`` of their pixels past the wrist on the ``person`` (H, W) bool have the skin's colour (a hand
    tucked under a folded arm, in a pocket, behind the back). Such a forearm ends as a sleeve does: its shape
    is the capsule of its radius (``radii``) from the elbow to ``HIDDEN_REACH`` body scales past its wrist,
    round at that end; its pixels past the wrist outside it (there, clothes of the sleeve's colour: the demo
    man's jacket, which went with his arms as ragged black pieces when they hung down) go to the nearest
    other part's shape. The forearm's hidden layer
    under the parts in front of it (``limbs_under_limbs``) then ends there too; it ran to the end of the
    shape's extension past the wrist (the silhouette's edge beyond the other folded arm), and the labels were
    cut square across the forearm, so a folded forearm moved off the chest as a long block with a square,
    stepped end. ``rig.Rig.build`` draws such a forearm a hand (``drawn_hand``). Not for the forearms in
    ``hands_seen`` (hand keypoints), nor without the skin's colour (``_skin``). ``distances`` is not changed
    (a copy is)."""
    setup = _hands_setup(rgb, labels, xy, scale)
    if setup is None:
        return labels, distances, ()
    lab, skin, labels, px = setup
    hidden = []
    for p in FOREARMS:
        axis = None if p in hands_seen else _forearm_axis(xy, conf, p)
        if axis is None:
            continue
        a, b, unit = axis
        along = (px - b.astype(np.float32)) @ unit.astype(np.float32)
        past = (labels == p) & (along > 0) & person
        if past.sum() < 20:
            continue
        if (_colour_distance(lab[past], skin) < tolerance).mean() >= HIDDEN_HAND:
            continue
        end = b + unit * max(0.0, HIDDEN_REACH * scale - radii[p])
        sleeve = (_segment_distance(px, a, end) - radii[p]).astype(np.float32)
        distances = distances.copy()
        distances[p] = sleeve
        hidden.append(p)
        far = (labels == p) & (along > 0) & (sleeve > 0)
        if far.any():
            others = np.delete(np.arange(NUM_PARTS), p)
            labels[far] = others[distances[others][:, far].argmin(0)]
    return labels, distances, tuple(hidden)


HAND_LENGTH = 0.3  # body scales: wrist to fingertips of a hand drawn for one the photo hides (~10% of the height)
HAND_WIDTH = 0.065  # body scales: that hand's half width across the palm


def drawn_hand(xy: np.ndarray, conf: np.ndarray, p: int, scale: float, points: int = 8) -> np.ndarray | None:
    """(K, 2) float64 outline (a closed polygon) of a hand drawn for
    forearm ``p`` whose hand the photo hides (``hidden_hands``): from the wrist on along the forearm,
    ``HAND_LENGTH`` body scales long, ``HAND_WIDTH`` half wide at the palm, narrower at the wrist (under the
    sleeve's end) and round at the fingertips; None when the forearm is not seen. ``points`` per side."""
    axis = _forearm_axis(xy, conf, p)
    if axis is None:
        return None
    _, b, unit = axis
    normal = np.array([-unit[1], unit[0]])
    length, wide = HAND_LENGTH * scale, HAND_WIDTH * scale
    tip = 0.8 * wide
    t = np.linspace(0.0, length - tip, points)
    half = np.interp(t, [0.0, 0.35 * length, 0.6 * length, length - tip], [0.75 * wide, wide, 0.95 * wide, tip])
    side = b + t[:, None] * unit
    turn = np.linspace(-np.pi / 2, np.pi / 2, points + 2)[1:-1]
    arc = side[-1] + tip * (np.cos(turn)[:, None] * unit + np.sin(turn)[:, None] * normal)
    return np.concatenate([side - half[:, None] * normal, arc, (side + half[:, None] * normal)[::-1]])


def hand_colour(rgb: np.ndarray, person: np.ndarray, xy: np.ndarray, scale: float,
                tolerance: float = FINGER_TOLERANCE) -> np.ndarray | None:
    """(3,) float32 RGB of a hand drawn where the photo hides it: the median of the lit half (the lighter
    half in Lab) of the ``person`` (H, W) bool's pixels within ``tolerance`` in Lab of the skin's colour
    (``_skin``: the face, the neck, hands that show; their median, shadows and all, drew a dull brown hand
    against the demo man's black sleeves); None without the skin's colour."""
    lab, skin = _lab_and_skin(rgb, xy, scale)
    if skin is None:
        return None
    bare = person.copy()
    bare[person] = _colour_distance(lab[person], skin) < tolerance
    if bare.sum() < 10:
        return None
    light = lab[bare][:, 0]
    return np.median(rgb[bare][light >= np.median(light)].astype(np.float32), 0)


def _enclosed_by_hand(labels: np.ndarray, p: int, zone: np.ndarray, scale: float,
                      region: np.ndarray | None = None) -> None:
    """In place: small pieces of the body's labels (``CLOTHED``, under ``ISLAND`` square body scales) in
    ``zone`` that forearm ``p`` borders on most of their rim (the shadows between fingers that colour gave
    to the thigh) join the forearm; with ``region``, not those that touch its outline (the dark corner of
    the shorts between a hanging hand and the background stays on the shorts)."""
    ring = np.ones((3, 3), np.uint8)
    ys, xs = np.nonzero(zone)
    if not len(ys):
        return
    # The zone's box grown so that a piece running on beyond it (the shorts' edge along the forearm, cut
    # off by the box's top) is seen whole, touches the box's edge and is no enclosed piece.
    pad = int(np.ceil(np.sqrt(ISLAND) * scale)) + 1
    box = (slice(max(ys.min() - pad, 0), ys.max() + pad + 1), slice(max(xs.min() - pad, 0), xs.max() + pad + 1))
    sub, inside = labels[box], zone[box]
    person = np.ones(sub.shape, bool) if region is None else region[box]
    edge = np.ones(sub.shape, bool)
    edge[1:-1, 1:-1] = False
    for q in CLOTHED:
        count, comp, stats, _ = cv2.connectedComponentsWithStats((sub == q).astype(np.uint8), connectivity=4)
        for c in np.flatnonzero(stats[1:, cv2.CC_STAT_AREA] < ISLAND * scale**2) + 1:
            piece = comp == c
            if not (piece & inside).any() or (piece & edge).any():
                continue
            border = (cv2.dilate(piece.astype(np.uint8), ring) > 0) & ~piece
            if person[border].all() and (sub[border] == p).mean() > 0.5:
                sub[piece] = p


def _clothed_around(lab: np.ndarray, part: np.ndarray, hugging: np.ndarray, skin: np.ndarray, tolerance: float,
                    scale: float) -> np.ndarray:
    """(H, W) bool: where most of ``part``'s pixels (H, W) bool within ``CLOTHED_AROUND`` body scales, not
    counting the hand's rim ``hugging``, are not of skin colour: the shorts' edge beside a hand that hung
    over the hem, on a thigh that is bare below it."""
    own = part & ~hugging
    bare = np.zeros(part.shape, np.float32)
    bare[own] = _colour_distance(lab[own], skin) < tolerance
    sigma = CLOTHED_AROUND * scale
    share = cv2.GaussianBlur(bare, (0, 0), sigma) / np.maximum(cv2.GaussianBlur(own.astype(np.float32), (0, 0),
                                                                               sigma), 1e-6)
    return share < 0.5


def stray_skin(rgb: np.ndarray, labels: np.ndarray, xy: np.ndarray, conf: np.ndarray, radii: np.ndarray,
               scale: float, tolerance: float = SKIN_TOLERANCE, person: np.ndarray | None = None,
               drawn: tuple[int, ...] = ()) -> tuple[np.ndarray, np.ndarray]:
    """Two (H, W) bool: body pixels (torso, loose cloth, thighs) of skin colour past a wrist, where its hand
    would be (within 2 hand widths of the hand's axis), in pieces lying by the hand (``_skin_on_clothes``:
    hands tucked under folded arms, fingers on the jeans apart from their hand) and within 2 pixels of the
    hand where the part there has no skin colour of its own, which the body would otherwise keep, and
    spread into its fills, when the arms move; and the 2-pixel rim of body pixels around them and of
    clothes around the hand there (where skin and cloth blur together), which the fills should not copy
    either. A bare midriff or
    neckline beside the hands is not past a wrist, a bare thigh's own colours are skin; but on a part bare
    in places (a thigh below the shorts) the hand's skin-coloured rim goes too where the part is clothed
    around it (``_clothed_around``), given the ``person`` (H, W) bool, 2 pixels inside its outline (a hand's
    pixel painted on the outline left the plate beside it in the photo's own pose: no stay map there). For
    the forearms in ``drawn`` (a hand the photo hides, drawn by the rig), such pieces on any part but that
    forearm and the head: the demo man's fingers peeping out under the other arm's sleeve stayed on it as a
    skin-coloured fleck when the arms unfolded, beside the drawn hand. Pieces touching the hand within
    ``FINGER_REACH`` hand widths of its axis are its fingers too (the catalog woman's index finger, spread
    sideways on her jeans, ran out of the zone and stayed there), and on a part with no skin colour of its
    own the 2-pixel rim around the pieces (the fingers' blurred edges and shadows) is painted as well: left
    there it stayed on the jeans as dark and orange flecks."""
    lab, skin = _lab_and_skin(rgb, xy, scale)
    out, rim = np.zeros(labels.shape, bool), np.zeros(labels.shape, bool)
    if skin is None:
        return out, rim
    px = _pixels(*labels.shape)
    inside = None if person is None else cv2.erode(person.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    for p in FOREARMS:
        zone = _hand_zone(xy, conf, p, radii, scale, px)
        if zone is None:
            continue
        found = _skin_on_clothes(lab, labels, zone, skin, tolerance)
        # fingers spread sideways from the hand run out of its zone: the pieces touching it, farther out
        wide = _hand_zone(xy, conf, p, radii, scale, px, FINGER_REACH)  # (seen when ``zone`` is)
        touch = cv2.dilate((labels == p).astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
        fingers = _skin_on_clothes(lab, labels, wide, skin, tolerance) & (True if inside is None else inside)
        count, comp = cv2.connectedComponents(fingers.astype(np.uint8), connectivity=8)
        joined = np.unique(comp[touch & fingers])
        found |= np.isin(comp, joined[joined > 0])
        if p in drawn:
            found |= _skin_on_clothes(lab, labels, zone, skin, tolerance,
                                      tuple(q for q in range(NUM_PARTS + 1) if q not in (p, HEAD)))
        # the hand's blurred edge: skin there goes too where the part under it is clothed all round (not a
        # bare thigh, whose skin the fills may copy); the rest of it is not copied into the fills
        hugging = _hand_rim(labels, p, zone)
        skin_like = np.zeros_like(hugging)
        skin_like[hugging] = _colour_distance(lab[hugging], skin) < tolerance
        covered = np.zeros_like(found)  # the parts here with no skin colour of their own
        for q in CLOTHED:
            own = _palette(lab[(labels == q) & ~zone])
            if own is not None and _colour_distance(own, skin).min() >= tolerance:
                found |= skin_like & (labels == q)
                covered |= labels == q
            elif own is not None and inside is not None:  # bare in places (a thigh below the shorts)
                found |= skin_like & inside & (labels == q) & _clothed_around(lab, labels == q, hugging, skin,
                                                                            tolerance, scale)
        around = (cv2.dilate(found.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0) & (zone | wide)
        # on cloth with no skin colour the blurred edge of the fingers found (skin and its shadows mixed
        # into the cloth) is painted too: left there it stayed on the jeans as dark and pale flecks
        blurred = around & covered & ~found & (True if inside is None else inside)
        out |= found | blurred
        rim |= ((hugging & ~skin_like) | around) & ~found & ~blurred
    rim &= np.isin(labels, CLOTHED)
    return out, rim


def cloth_off_hands(rgb: np.ndarray, labels: np.ndarray, xy: np.ndarray, conf: np.ndarray, radii: np.ndarray,
                    scale: float, person: np.ndarray, region: np.ndarray, skip: tuple[int, ...] = ()
                    ) -> np.ndarray:
    """Labels (H, W) where the cloth that a seen hand's forearm took past its wrist goes to the body part
    nearest it (``CLOTHED``). The forearm's shape runs ``_LIMB_EXTEND`` past the wrist, so a hand resting
    on the clothes took the cloth beyond its fingertips: the catalog woman's left hand on her jeans carried
    a blue scrap of them wherever it went (on her raised hand, on her cheek). Cloth here: pixels of the
    ``person`` (H, W) bool past the wrist of the skin's colours neither lit nor in shadow (``skin_coloured``),
    nearer the body's colours than the forearm's own before its wrist (a sleeve's cuff stays), in pieces
    wider than ``SLIVER`` of the forearm's width (the hand's blurred edge and the shadows between its
    fingers stay its own); the forearm's pixels of the ``region`` (H, W) bool outside the person beside them
    go with them. Not for the forearms in ``skip``: a hand the photo hides (``hidden_hands``: its forearm
    ends as a sleeve) or one placed by hand keypoints (``part_distances``: the keypoints say where it is)."""
    setup = _hands_setup(rgb, labels, xy, scale)
    if setup is None:
        return labels
    lab, skin, labels, px = setup
    body = np.isin(labels, CLOTHED) & person
    skin_like = _skin_like(lab, skin)
    near_body = None
    for p in FOREARMS:
        axis = None if p in skip else _forearm_axis(xy, conf, p)
        if axis is None:
            continue
        _, b, unit = axis
        past = (labels == p) & (((px - b.astype(np.float32)) @ unit.astype(np.float32)) > 0)
        cloth = past & person & ~skin_like
        own = _palette(lab[(labels == p) & person & ~past])
        if not cloth.any() or own is None:
            continue
        theirs = _palette(lab[body & ~past])
        if theirs is None:
            continue
        cloth[cloth] = _colour_distance(lab[cloth], theirs) < _colour_distance(lab[cloth], own)
        k = max(2, int(round(SLIVER * max(radii[p], _LIMB_RADIUS[_kind(p)] * scale))))
        disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * k + 1,) * 2)
        move = cv2.morphologyEx(cloth.astype(np.uint8), cv2.MORPH_OPEN, disc) > 0
        if not move.any():
            continue
        move |= (cv2.dilate(move.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0) & past & region & ~person
        # and the specks of cloth this cuts off the hand (its rim the opening left)
        count, comp = cv2.connectedComponents(((labels == p) & region & ~move).astype(np.uint8), connectivity=8)
        size = np.bincount(comp.ravel(), minlength=count)
        size[0] = 0
        bare = np.bincount(comp[skin_like & person], minlength=count)
        speck = (np.arange(count) != size.argmax()) & (bare < 0.5 * size) & (size < ISLAND * scale**2)
        speck[0] = False
        move |= speck[comp] & past
        if near_body is None:
            near_body = nearest_known(body)
        labels[move] = labels[near_body[0][move], near_body[1][move]]
    return labels
