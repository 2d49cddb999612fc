"""The person's floor shadow: found in the photo, taken off the clean plate, and drawn under the moved feet.

A cast shadow darkens the floor without changing its hue. On a smooth background (a studio: ``plate``'s
ring detail up to ``plate.TEXTURED``; textured, structured and busy backgrounds are not searched, their
detail is no floor's shading) the floor's lit shade (``floor_shade``, at ``WORK`` pixels of person height)
is the brighter of two envelopes of the plate: down each column a grey closing ``REACH`` of the person's
height tall (the frame's top and bottom rows continued outward, so that a floor darkening towards the
frame's lower edge is the floor's own shade, not a valley), and along each row its ``ROW_LIT`` percentile
(a broad shadow beside the feet, wider than any closing). The plate is a shadow where it is at least
``DARKER`` below that, of its chroma (``CHROMA``), in a dark piece that touches the feet (the lowest
``plate.FEET`` of the person, grown by ``FOOT_REACH``) and reaches no higher than ``FLOOR`` of the
person's height: the shadow on the wall beside the AnimateAnyone catalog people, which runs down to
their feet, is a wall's and stays, as does the dark floor band along their frame's lower edge (no
valley); so does what is of another colour. ``FloorShadow.find`` returns None where there is none.

The plate is divided by the shadow's attenuation (the lit floor shows where the person and her shadow
stood), and each frame multiplies it back in, moved with the feet (``FloorShadow.shade``): each shadow
pixel belongs to the two ankles in inverse proportion to its squared distance to each (its
log-attenuation split between them), and each share is moved by its ankle's move across, and by the
lower foot's move down for both (a lifted foot's shadow stays on the floor): two translated maps and an
exponential a frame. A shadow cut by the frame's side is continued past it along its slope
(``_continued``), so that moved inward it does not end in a straight edge.
"""

from __future__ import annotations

import cv2
import numpy as np

from .plate import FEET, LOW, TEXTURED, _detail, _disk, _person_height, person_hole
from .poses import Poses
from .render import MIN_CONF
from .skeleton import JOINT

WORK = 128  # pixels: the person's height at which the floor's lit shade is found
REACH = 0.25  # of the person's height: the tallest dark band across a column that is taken for a shadow
DARKER = 0.04  # a shadow pixel is at least this share darker than the lit floor ...
CHROMA = 0.03  # ... and its colour's share of each channel within this of the lit floor's
FLOOR = 0.35  # of the person's height above the feet: the highest a floor shadow reaches (else a wall's)
FOOT_REACH = 0.04  # of the person's height: how far from the feet a shadow begins
FEATHER = 0.01  # of the person's height: the blur of the shadow's edge, where its attenuation fades to 1
CONTINUE = 0.5  # of the person's height: how far a shadow cut by the frame's side is continued past it
SLOPE = 0.1  # of the person's height: the columns at that side whose shadow's middle gives its slope
ROW_LIT = 90  # percentile of a row: its lit floor
ANKLES = (JOINT["right_ankle"], JOINT["left_ankle"])


class FloorShadow:
    """A shadow found on the photo's floor: ``lit`` the plate without it (H, W, 3) float32 in [0, 255];
    ``share`` (2, h, w) float32 the log-attenuation of each ankle's share (0 outside the shadow), its
    top left corner at ``origin`` (x, y) in the frame (a shadow cut by the frame's side goes on past it:
    ``_continued``), ``ankles`` (2, 2) the photo's ankles (x, y) in pixels."""

    def __init__(self, lit: np.ndarray, share: np.ndarray, origin: tuple[int, int], ankles: np.ndarray):
        self.lit, self.share, self.origin, self.ankles = lit, share, origin, ankles

    @classmethod
    def find(cls, rgb: np.ndarray, alpha: np.ndarray, plate: np.ndarray, pose: Poses) -> FloorShadow | None:
        """The floor shadow of the person (``alpha`` (H, W) in [0, 1], one-frame ``pose`` in pixels) in the
        photo ``rgb`` (H, W, 3) uint8 whose clean plate is ``plate`` (H, W, 3) uint8; None where there is
        none (module docstring), or where neither ankle is seen (nothing to move it with)."""
        seen = pose.conf[0, list(ANKLES)] > MIN_CONF
        tall = _person_height(alpha)
        if not seen.any() or tall < 8 or _detail(rgb, person_hole(alpha))[0] > TEXTURED:
            return None
        attenuation = floor_shade(plate, alpha, tall)
        if attenuation is None:
            return None
        ankles = pose.xy[0, list(ANKLES)].astype(np.float64)
        if not seen.all():  # one ankle seen: the whole shadow moves with it
            ankles[~seen] = ankles[seen]
        lit = plate.astype(np.float32) / attenuation[..., None]
        rows, cols = np.flatnonzero((attenuation < 1).any(1)), np.flatnonzero((attenuation < 1).any(0))
        box = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
        ys, xs = np.mgrid[box]
        d = [(xs - x) ** 2 + (ys - y) ** 2 + 1.0 for x, y in ankles]
        log = np.log(attenuation[box])
        share = np.stack([log * d[1] / (d[0] + d[1]), log * d[0] / (d[0] + d[1])]).astype(np.float32)
        share, x0 = _continued(share, box[1].start, box[1].stop, plate.shape[1], tall)
        return cls(np.minimum(lit, 255.0), share, (x0, box[0].start), ankles)

    def shade(self, target: Poses) -> np.ndarray:
        """(H, W) float32 in (0, 1]: the shadow's attenuation under the one-frame ``target`` pose's feet."""
        h, w = self.lit.shape[:2]
        xy, conf = target.xy[0, list(ANKLES)], target.conf[0, list(ANKLES)] > MIN_CONF
        move = np.where(conf[:, None], xy - self.ankles, np.nan)
        if np.isnan(move).all():
            move[:] = 0.0
        move = np.where(np.isnan(move), np.nanmean(move, axis=0), move)
        down = move[:, 1].max()  # a lifted foot's shadow stays on the floor
        log = np.zeros((h, w), np.float32)
        x0, y0 = self.origin
        for share, (dx, _) in zip(self.share, move):
            m = np.float32([[1, 0, x0 + dx], [0, 1, y0 + down]])
            log += cv2.warpAffine(share, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        return np.exp(log)


def _continued(share: np.ndarray, x0: int, x1: int, width: int, tall: float) -> tuple[np.ndarray, int]:
    """``share`` (2, h, w) (columns ``x0``..``x1`` of a frame ``width`` wide) continued past the frame's
    side where it reaches it, by ``CONTINUE`` of the person's height ``tall``: the side column shifted up or
    down as the shadow's middle (its log-attenuation's centroid down each column) runs over the last
    ``SLOPE`` of the height of columns (a cast shadow is a straight band). Returns it and its new ``x0``."""
    h = share.shape[1]
    n, m = max(1, round(CONTINUE * tall)), max(2, min(share.shape[2], round(SLOPE * tall)))
    rows = np.arange(h, dtype=np.float64)
    total = -share.sum(0).astype(np.float64)  # (h, w) >= 0
    parts = [share]
    for side in [side for side, cut in (("left", x0 <= 0), ("right", x1 >= width)) if cut]:
        cols = total[:, :m] if side == "left" else total[:, -m:]
        mass = cols.sum(0)
        slope = 0.0
        if (mass > 1e-6).sum() >= 2:
            keep = mass > 1e-6
            centre = (rows[:, None] * cols).sum(0)[keep] / mass[keep]
            slope = float(np.polyfit(np.flatnonzero(keep), centre, 1)[0])  # rows per column, rightward
        edge = share[:, :, 0] if side == "left" else share[:, :, -1]
        steps = np.arange(n, 0, -1) if side == "left" else np.arange(1, n + 1)
        shift = -slope * steps if side == "left" else slope * steps  # how far down the middle lies there
        ext = np.stack([[np.interp(rows - d, rows, e, left=e[0], right=e[-1]) for d in shift] for e in edge])
        ext = ext.transpose(0, 2, 1).astype(np.float32)  # (2, h, n)
        parts = [ext, *parts] if side == "left" else [*parts, ext]
        if side == "left":
            x0 -= n
    return np.concatenate(parts, axis=2), x0


def floor_shade(plate: np.ndarray, alpha: np.ndarray, tall: float) -> np.ndarray | None:
    """(H, W) float32 in (0, 1]: the floor shadow's attenuation in the (H, W, 3) uint8 ``plate`` of a person
    ``tall`` pixels tall (``alpha`` (H, W)), 1 off the shadow; None without one (module docstring)."""
    h, w = alpha.shape
    f = WORK / tall
    size = (max(8, round(w * f)), max(8, round(h * f)))
    small = cv2.resize(plate, size, interpolation=cv2.INTER_AREA).astype(np.float32)
    r = max(2, round(REACH * WORK / 2))
    pad = 2 * r  # the top and bottom rows continued: a band along an edge is no valley
    closed = cv2.morphologyEx(cv2.copyMakeBorder(small, pad, pad, 0, 0, cv2.BORDER_REPLICATE), cv2.MORPH_CLOSE,
                              np.ones((2 * r + 1, 1), np.uint8))[pad:-pad]
    # smoothed across the columns only: down them it would carry a lit floor into a band along the edge
    lit = np.maximum(cv2.GaussianBlur(closed, (0, 1), sigmaX=r / 2, sigmaY=0.1), small)
    rowlit = cv2.GaussianBlur(np.percentile(small, ROW_LIT, axis=1)[:, None, :], (1, 0), sigmaX=0.1, sigmaY=r / 4)
    lit = np.maximum(lit, rowlit)
    ratio = small.sum(-1) / np.maximum(lit.sum(-1), 1.0)
    hue = np.abs(small / np.maximum(small.sum(-1, keepdims=True), 1.0)
                 - lit / np.maximum(lit.sum(-1, keepdims=True), 1.0)).max(-1)
    dark = ((ratio < 1 - DARKER) & (hue < CHROMA)).astype(np.uint8)
    person = cv2.resize((alpha > LOW).astype(np.uint8), size, interpolation=cv2.INTER_NEAREST)
    rows = np.flatnonzero(person.any(1))
    if not rows.size:
        return None
    feet = person.copy()
    feet[: max(0, round(rows[-1] - FEET * (rows[-1] - rows[0])))] = 0
    feet = cv2.dilate(feet, _disk(max(1, round(FOOT_REACH * WORK)))).astype(bool)
    count, comp, stats, _ = cv2.connectedComponentsWithStats(dark, connectivity=8)
    touching = np.unique(comp[feet & dark.astype(bool)])
    floor = rows[-1] - FLOOR * (rows[-1] - rows[0])  # a shadow reaching above it stands on a wall
    touching = [c for c in touching if c > 0 and stats[c, cv2.CC_STAT_TOP] >= floor]
    region = np.isin(comp, touching)
    if not region.any():
        return None
    sigma = max(0.5, FEATHER * WORK)
    weight = cv2.GaussianBlur(cv2.dilate(region.astype(np.float32), _disk(max(1, round(2 * sigma)))), (0, 0), sigma)
    weight = cv2.resize(weight, (w, h), interpolation=cv2.INTER_LINEAR)
    lit = cv2.resize(lit, (w, h), interpolation=cv2.INTER_LINEAR)  # the ratio at full size keeps the shadow's edge
    ratio = np.minimum(plate.astype(np.float32).sum(-1) / np.maximum(lit.sum(-1), 1.0), 1.0)
    out = np.clip(1.0 - weight * (1.0 - ratio), 0.05, 1.0).astype(np.float32)
    out[weight < 1e-3] = 1.0
    return out
