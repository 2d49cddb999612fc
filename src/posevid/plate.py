"""The clean plate: the person's alpha refined at its edges, and the photo's background with the person removed.

``refine_alpha`` snaps the segmentation's soft mask to the photo's edges with a guided filter (He et al.
2013; ``cv2.ximgproc.guidedFilter`` from the OpenCV contrib build that mediapipe brings), within a band
around the mask's boundary. ``clean_plate`` fills the person's region, dilated to take in hair, fringes and
the segmentation's misses, by the kind of background around it:

- a smooth background (a studio wall: little fine detail in the ring around the hole, ``TEXTURED``) takes
  OpenCV's Navier-Stokes inpainting (Bertalmio et al. 2001), which continues its shading smoothly;
- a textured one whose structure runs across (``ROWS``: a beach, its horizon, surf, sand and a mat's edges,
  0.98 of its ring's gradient energy in horizontal edges) is filled along its rows (``_row_fill``): each
  row's run through the hole takes the row's own pixels beyond its two ends, mirrored, so the sea stays the
  sea's colour at its height and the mat runs on under the foot (the shift map pasted pale pieces of surf over
  the sea and the sand between the yoga man's legs and broke his mat's end with sand); its hole gives back
  only the ring pixels that are plain background, and takes the strands of hair beyond it that stand out
  against a calm sky (``_strands``: his tuft was left in the sky, smeared);
- another textured one takes xphoto's shift-map completion (He and Sun 2012, "Statistics of
  patch offsets"): the hole is filled with whole pieces of the photo moved by its dominant offsets, so a
  texture runs on through it as texture instead of the smeared streaks a diffusion fill draws across a
  large hole. It runs on the hole's surroundings at ``SHIFTMAP_SIDE``
  pixels (its cost grows fast with size), is scaled back up, and a membrane (the mismatch on the hole's
  rim, spread smoothly inside) hides its seam with the photo; its pasted pieces are shaded towards the
  Navier-Stokes fill (``SHADE``), so a paler piece pasted lower down does not stand out as a pale band;
- a structured one (``STRUCTURED``: a kitchen, a promenade's railing and trees, a studio wall with a
  scaffold, 3.1-4.5 against the beach's 2.2-2.7) takes Navier-Stokes too: there the shift map pasted whole
  objects where they do not belong (the promenade's pavement into the sky beside animatex_dance_2's head,
  the scaffold's lattice into the squats woman's place), and the smooth fill is nearer the background the
  person uncovers (self-reconstruction L1 and ST-LPIPS both lower);
- where the hole covers most of the frame (``LARGE``: the painted and old portraits of ``faces/``, 0.62-0.69
  of it, against 0.08-0.40 for the clips' and photos' people), whatever the background, a push-pull fill
  (``_pull_fill``: the known pixels averaged down a Gaussian pyramid until the hole is covered, then
  blended back up) with the photo's own grain: Navier-Stokes drew streaks across most of the frame, and the
  shift map, run at ``SHIFTMAP_SIDE`` pixels on a hole that large, pasted pieces whose straight edges came
  out as staircase blocks (the brown and orange steps where liveportrait_s3's skirt was) and whose shading
  drew a pale ghost of the head with a stepped outline (liveportrait_s12); the person covers most of such a
  hole in every frame, and what shows beside it reads as a background out of focus;
- a busy one (``BUSY``: the night street of ``animatex_ty_woman.jpg``, 14-17 against the beach's
  2.2-2.7 and the studio walls' 0.3-0.5, at any size) takes Navier-Stokes again: the shift map pasted
  pieces of the street's passers-by and of her own reflection beside her, and BlazePose's segmenter
  then lost much of the animated woman (solidity 0.91 -> 0.69 in ``benchmarks/warp_quality.py``'s
  cross-identity part).

Measured in ``benchmarks/warp_quality.py`` (reconstructing known background: L1, SSIM, ST-LPIPS) and by
eye on the shared photos. Both run once per photo.
"""

from __future__ import annotations

import cv2
import numpy as np

LOW = 0.05  # alpha above this is the person (for the hole)
BAND = 0.015  # half width of the refined band around the mask's edge, of the person's height
SHARPEN = 2.0  # the guided filter's matte is steepened this much about 0.5: only true edge pixels stay mixed
GROW = 0.03  # the hole is the person dilated by this share of the person's height (hair, fringes, shoes)
INPAINT_RADIUS = 5  # pixels around each filled pixel that the inpainting reads
TEXTURED = 1.0  # mean |grey - its blur| (0-255) in the ring around the hole above which it is textured
STRUCTURED = 3.0  # and above which it is structured (objects, not a texture): Navier-Stokes (docstring)
LARGE = 0.5  # a grown hole over this share of the frame (a portrait) takes the push-pull fill (``_pull_fill``)
BUSY = 8.0  # and above which it is busy (a night street with passers-by): Navier-Stokes again (docstring)
RING = 0.08  # width of that ring, of the hole's height
DETAIL_HEIGHT = 256  # pixels: the hole's height where the detail is measured
SHIFTMAP_SIDE = 144  # pixels: the longer side the shift-map completion runs at
NARROW = 2 / 3  # of ``grow``: the hole of a smooth or structured background's Navier-Stokes fill (``clean_plate``)
EDGE = 0.004  # of the person's height (at least 1 pixel) beyond alpha above LOW: always in the hole (blur, halo)
LIKE = 1.0  # a ring pixel is background when its colour distance to it is under this share of that to the person
SHADOW = 10.0  # Lab lightness (0-255): a ring pixel by the feet this much darker than the background beyond ...
FEET = 0.1  # ... (in the lowest this share of the person's height, or below) stays in the hole: a contact shadow
SHIFTMAP_MARGIN = 0.25  # of the hole's longer side: the photo around the hole the shift map copies from
SHADE = 16.0  # grey levels: the most the shift map's pasted pieces are shaded towards the diffusion fill ...
SHADE_BLUR = 2.0  # ... compared under a blur of this many pixels of the shift map's small image
ROWS = 0.85  # share of the ring's gradient energy in horizontal edges above which a textured background ...
CROSS = 0.5  # ... is filled along its rows (``_row_fill``); of a run: the middle stretch its two ends cross-fade over
UNLIKE = 50.0  # Lab units: a mirrored piece this far from the colour between its run's ends weighs e^-1 as much
PLAIN = 3.0  # Lab units: a ring pixel is background (``_background_ring``, ``plain``) only within this plus ...
SPREAD = 1.5  # ... this many times the background's own variation (``_variation``) of the background beyond it,
CALM = 1.0  # Lab units: where that variation is under this (the sky, a calm sea; not sand, a mat or a wall's grain)
MEDIAN = 0.02  # of the person's height (odd, at least 3 pixels): the median filter a thin strand vanishes in
STRANDS = 0.04  # of the person's height: how far beyond the hole strands of hair over a plain background are taken
PULL = 4.0  # ``_pull_fill``: a coarser level's pixel counts as known by this many times its share of known pixels
GRAIN_SIGMA = 1.5  # pixels: the grain ``_pull_fill`` adds is the photo's detail above a blur of this width


def _person_height(alpha: np.ndarray) -> float:
    """Height in pixels of the box around ``alpha > LOW`` (0 when empty)."""
    rows = np.flatnonzero((alpha > LOW).any(1))
    return float(rows[-1] - rows[0] + 1) if rows.size else 0.0


def _disk(radius: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


def refine_alpha(rgb: np.ndarray, mask: np.ndarray, radius: int | None = None, eps: float = 1e-3) -> np.ndarray:
    """The person's alpha (H, W) float32 in [0, 1] from a soft segmentation ``mask`` (H, W) in [0, 1] of the
    (H, W, 3) uint8 photo ``rgb``: guided-filtered with the photo as guide (``radius`` pixels, default
    ``BAND`` of the person's height; ``eps`` the regularisation on [0, 1] intensities) and steepened
    (``SHARPEN``), only in a band of that width around the mask's edge: inside it stays 1, outside 0."""
    mask = np.clip(np.asarray(mask, np.float32), 0.0, 1.0)
    height = _person_height(mask)
    if height == 0:
        return mask
    r = radius or max(2, round(BAND * height))
    refined = cv2.ximgproc.guidedFilter(np.ascontiguousarray(rgb), mask, r, eps * 255.0**2)
    hard = (mask > 0.5).astype(np.uint8)
    inside = cv2.erode(hard, _disk(r)).astype(bool)
    outside = ~cv2.dilate(hard, _disk(r)).astype(bool)
    alpha = np.clip((refined - 0.5) * SHARPEN + 0.5, 0.0, 1.0)
    alpha[inside], alpha[outside] = 1.0, 0.0
    return alpha.astype(np.float32)


def person_hole(alpha: np.ndarray, grow: float = GROW, rgb: np.ndarray | None = None) -> np.ndarray:
    """(H, W) bool: the pixels ``clean_plate`` fills: alpha above ``LOW``, dilated by ``grow`` of the
    person's height (at least 2 pixels; not at all with ``grow=0``). Given the photo ``rgb`` (H, W, 3)
    uint8, the grown ring gives back what looks like the background (``_background_ring``), unless the
    background is busy (``BUSY``: a night street, where the colour of the pixel beyond the hole says little
    about a ring pixel, and BlazePose's segmenter lost the moved woman to her reflection in more frames)."""
    person = alpha > LOW
    if grow <= 0:
        return person
    radius = max(2, round(grow * _person_height(alpha)))
    hole = cv2.dilate(person.astype(np.uint8), _disk(radius)).astype(bool)
    if rgb is not None and hole.any():
        hole = _without_background(rgb, alpha, hole, _detail(rgb, hole)[0])
    return hole


def _without_background(rgb: np.ndarray, alpha: np.ndarray, hole: np.ndarray, detail: float) -> np.ndarray:
    """(H, W) bool: the grown ``hole`` less its ring's background (``_background_ring``), unless the
    background's ``detail`` (``_detail``) is busy (over ``BUSY``)."""
    return hole if detail > BUSY else hole & ~_background_ring(rgb, alpha, hole)


def _background_ring(rgb: np.ndarray, alpha: np.ndarray, hole: np.ndarray, plain: bool = False) -> np.ndarray:
    """(H, W) bool: the pixels of the grown ring of ``hole`` (more than ``EDGE`` of the person's height,
    at least a pixel, from alpha above ``LOW``: the person's blur and halo, which shrink with the photo as it is
    scaled; 3 pixels at any size left the kitchen's table and chair edges right beside tfjs_pose_1's dancer,
    272 pixels tall, in the hole) that are background: closer in Lab to the nearest pixel outside the hole
    than ``LIKE`` times their distance to the nearest solid person pixel (alpha above 0.9), by the feet
    (``FEET``) not darker than it by ``SHADOW`` (the contact shadow, which would stay on the floor when the feet
    move; higher up a darker pixel is the background's own: a chair's leg), and joined to the outside by such
    pixels (the background reaches in from outside and stops at the first pixel that looks like the
    person: a strand of hair or a finger the segmenter missed stays in the hole). ``plain``: a ring pixel is
    background only where it also differs from the pixel beyond by under ``PLAIN`` plus ``SPREAD`` times the
    background's own variation there (``_variation``), where that is ``CALM``: over the sky a strand of hair
    thinner than a pixel or the person's tinted halo is nearer the sky's colour than the person's, but it
    stands out against the sky (by a mat's edge the pixel beyond may be sand: the old rule alone); and what is
    thinner than 3 pixels is not (the sunlit specks of a foot on a mat, as pale as the sand beyond)."""
    from .mesh import nearest_known

    solid = alpha > 0.9
    if not solid.any() or hole.all():
        return np.zeros_like(hole)
    near = cv2.dilate((alpha > LOW).astype(np.uint8), _disk(max(1, round(EDGE * _person_height(alpha))))).astype(bool)
    ring = hole & ~near
    lab = cv2.cvtColor(rgb, cv2.COLOR_RGB2Lab).astype(np.float32)
    py, px = nearest_known(solid)
    by, bx = nearest_known(~hole)
    ys, xs = np.nonzero(ring)
    c = lab[ys, xs]
    to_bg = np.linalg.norm(c - lab[by[ys, xs], bx[ys, xs]], axis=1)
    to_person = np.linalg.norm(c - lab[py[ys, xs], px[ys, xs]], axis=1)
    like = np.zeros_like(hole)
    rows = np.flatnonzero((alpha > LOW).any(1))
    feet = ys >= rows[-1] - FEET * (rows[-1] - rows[0])
    shadow = feet & (lab[by[ys, xs], bx[ys, xs], 0] - c[:, 0] >= SHADOW)
    like[ys, xs] = (to_bg < LIKE * to_person) & ~shadow
    if plain:
        spread = _variation(rgb, hole, _person_height(alpha))[1]
        beyond = spread[by[ys, xs], bx[ys, xs]]
        like[ys, xs] &= (to_bg < PLAIN + SPREAD * beyond) | (beyond >= CALM)
        like &= cv2.morphologyEx((like | ~hole).astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8)) > 0
    count, comp = cv2.connectedComponents((like | ~hole).astype(np.uint8), connectivity=4)
    outside = np.zeros(count, bool)
    outside[np.unique(comp[~hole])] = True
    return like & outside[comp]


def _variation(rgb: np.ndarray, hole: np.ndarray, height: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """How far each pixel of ``rgb`` (H, W, 3) uint8 stands out from its surroundings, and how much the
    background varies around ``hole`` (H, W) bool: ((H, W), (H, W)) float32 in Lab units, and the band beyond
    the hole strands are looked for in ((H, W) bool: ``STRANDS`` of the person's ``height``, pixels). The first
    is the Lab distance to the photo's median filter (``MEDIAN`` of the height: a thin strand or a speck
    vanishes in it); the second its mean over the pixels beyond that band (what the strands stand against,
    not the strands) in a box twice the band's width each way."""
    size = max(3, round(MEDIAN * height)) | 1
    reach = max(2, round(STRANDS * height))
    lab = cv2.cvtColor(rgb, cv2.COLOR_RGB2Lab)
    out = np.linalg.norm(lab.astype(np.float32) - cv2.medianBlur(lab, size), axis=2)
    band = cv2.dilate(hole.astype(np.uint8), _disk(reach)).astype(bool)
    box, beyond = (4 * reach + 1, 4 * reach + 1), (~band).astype(np.float32)
    weight = cv2.blur(beyond, box)
    spread = np.where(weight > 0, cv2.blur(out * beyond, box) / np.maximum(weight, 1e-6), np.inf)
    return out, spread.astype(np.float32), band & ~hole


def _strands(rgb: np.ndarray, alpha: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """(H, W) bool: ``hole`` with the strands beyond it (hair the segmenter's alpha misses, over a plain
    background: the yoga man's tuft over the sky): the pixels within ``STRANDS`` of the person's height of the
    hole, joined to it by such pixels, that stand out from their surroundings by over ``PLAIN`` plus
    ``SPREAD`` times the background's own variation (``_variation``) where that is ``CALM``, and a pixel
    around them (their blend with the sky). Over sand, a mat or a wall's grain nothing is taken: their own
    specks stand out as much."""
    out, spread, near = _variation(rgb, hole, _person_height(alpha))
    odd = (near & (spread < CALM) & (out > PLAIN + SPREAD * spread)) | hole
    count, comp = cv2.connectedComponents(odd.astype(np.uint8), connectivity=8)
    joined = np.zeros(count, bool)
    joined[np.unique(comp[hole])] = True
    strands = joined[comp] & odd & ~hole
    return hole | cv2.dilate(strands.astype(np.uint8), _disk(1)).astype(bool)


def _row_fill(rgb: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """``rgb`` (H, W, 3) uint8 with ``hole`` (H, W) bool filled along its rows, for a background whose
    structure runs across (a beach: the horizon, the surf, the sand and a mat's edges). Each run of hole
    pixels in a row takes the row's pixels beyond its two ends, mirrored about them (the pixel next to an end
    continues it; the texture keeps its own height, so no paler piece from another height is pasted in),
    cross-faded by a smoothstep over the middle ``CROSS`` of the run. A run at the frame's edge, or whose
    mirrored pixel falls in the hole, takes the other end's; what neither end reaches, Navier-Stokes fills."""
    rows = np.flatnonzero(hole.any(1))
    y0, y1 = rows[0], rows[-1] + 1
    image, inside = rgb[y0:y1].astype(np.float32), hole[y0:y1]
    h, w = inside.shape
    x = np.broadcast_to(np.arange(w), (h, w))
    y = np.broadcast_to(np.arange(h)[:, None], (h, w))
    known = ~inside
    left = np.maximum.accumulate(np.where(known, x, -1), axis=1)  # the last known pixel at or left of x, or -1
    right = w - 1 - np.maximum.accumulate(np.where(known, w - 1 - x, -1)[:, ::-1], axis=1)[:, ::-1]  # or w
    from_left, from_right = 2 * left + 1 - x, 2 * right - 1 - x  # mirrored about the run's ends
    ok_left = (left >= 0) & (from_left >= 0) & known[y, np.clip(from_left, 0, w - 1)]
    ok_right = (right < w) & (from_right < w) & known[y, np.clip(from_right, 0, w - 1)]
    xl, xr = np.clip(from_left, 0, w - 1), np.clip(from_right, 0, w - 1)
    share = (x - left) / np.maximum(right - left, 1)
    t = np.clip((share - 0.5) / CROSS + 0.5, 0.0, 1.0)
    # each end's piece weighed by how near it is to the colour between the ends' (the mat's, where the mat
    # runs on at both ends; a piece mirrored past the mat's tip is the sand's)
    lab = cv2.GaussianBlur(cv2.cvtColor(rgb[y0:y1], cv2.COLOR_RGB2Lab).astype(np.float32), (0, 0), 1.0)
    ends = lab[y, np.clip(left, 0, w - 1)], lab[y, np.clip(right, 0, w - 1)]
    between = (1 - share[..., None]) * ends[0] + share[..., None] * ends[1]
    fits = [np.exp(-(np.linalg.norm(lab[y, at] - between, axis=2) / UNLIKE) ** 2) + 1e-3 for at in (xl, xr)]
    t = t * t * (3 - 2 * t)  # (both far from it: the plain cross-fade)
    t = np.where(ok_left & ok_right, t * fits[1] / ((1 - t) * fits[0] + t * fits[1]), ok_right)[..., None]
    fill = (1 - t) * image[y, xl] + t * image[y, xr]
    filled = inside & (ok_left | ok_right)
    image[filled] = fill[filled]
    out = rgb.copy()
    out[y0:y1] = np.clip(image + 0.5, 0, 255).astype(np.uint8)
    missed = inside & ~filled
    if missed.any():
        out[y0:y1] = cv2.inpaint(out[y0:y1], missed.astype(np.uint8), INPAINT_RADIUS, cv2.INPAINT_NS)
    return out


def _pull_fill(rgb: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """``rgb`` (H, W, 3) uint8 with ``hole`` (H, W) bool filled by push-pull (Gortler et al. 1996's pull-push)
    with grain: the known pixels, each weighed by how much of it is known, are averaged down a Gaussian
    pyramid (``cv2.pyrDown``; a coarser pixel counts as known by ``PULL`` times its share of known pixels)
    until the hole is covered, then each level is blended over the one below where that one is unknown
    (``cv2.pyrUp``): a smooth fill with no straight edge anywhere, continuing the colours around the hole.
    Over it, a fixed noise (seed 0, so a photo always gets the same plate) with the spread of the photo's
    detail above a ``GRAIN_SIGMA`` blur in a ring around the hole (``RING`` of its height; per channel, one
    noise for all three: the grain of an old photograph or a painting's canvas; the median absolute
    deviation's, which the edges of a chair's flowers in the ring do not swell), so that the fill does not
    stand out as a smooth region in the shape of the person."""
    image, known = rgb.astype(np.float32), (~hole).astype(np.float32)
    images, weights = [image], [known]
    while min(images[-1].shape[:2]) > 4 and weights[-1].min() < 1:
        summed, weight = cv2.pyrDown(images[-1] * weights[-1][..., None]), cv2.pyrDown(weights[-1])
        images.append(summed / np.maximum(weight, 1e-6)[..., None])
        weights.append(np.clip(PULL * weight, 0.0, 1.0))
    fill, weight = images[-1], weights[-1]
    mean = (fill * weight[..., None]).sum((0, 1)) / max(float(weight.sum()), 1e-6)  # (what no level reaches)
    fill = np.where(weight[..., None] > 0, fill, mean)
    for level, weight in zip(images[-2::-1], weights[-2::-1]):
        fill = weight[..., None] * level + (1 - weight[..., None]) * cv2.pyrUp(fill, dstsize=level.shape[1::-1])
    rows = np.flatnonzero(hole.any(1))
    reach = max(3, round(RING * (rows[-1] - rows[0] + 1)))
    ring = cv2.dilate(hole.astype(np.uint8), _disk(reach)).astype(bool) & ~hole
    detail = image - cv2.GaussianBlur(image, (0, 0), GRAIN_SIGMA)
    noise = np.random.default_rng(0).standard_normal(hole.shape).astype(np.float32)
    noise -= cv2.GaussianBlur(noise, (0, 0), GRAIN_SIGMA)
    noise *= 1.0 / max(float(noise.std()), 1e-6)
    spread = 1.4826 * np.median(np.abs(detail[ring]), axis=0) if ring.any() else 0.0  # robust: not the edges'
    fill += noise[..., None] * spread
    out = rgb.copy()
    out[hole] = np.clip(fill + 0.5, 0, 255).astype(np.uint8)[hole]
    return out


def _detail(rgb: np.ndarray, hole: np.ndarray) -> tuple[float, float]:
    """The background's fine detail in a ring around ``hole`` (``RING`` of its height): mean |grey - its
    Gaussian blur| (0-255), measured with the photo scaled so that the hole is ``DETAIL_HEIGHT`` pixels
    tall (the same scene gives the same answer at any size); 0 without a ring. And the share of the ring's
    gradient energy (Sobel, squared) in horizontal edges, clear of the person's own edge (1: it all runs
    across, as a beach's horizon, surf and sand do; 0.5 without a ring)."""
    rows = np.flatnonzero(hole.any(1))
    factor = DETAIL_HEIGHT / (rows[-1] - rows[0] + 1)
    size = (max(1, round(hole.shape[1] * factor)), max(1, round(hole.shape[0] * factor)))
    grey = cv2.resize(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), size, interpolation=cv2.INTER_AREA).astype(np.float32)
    small = cv2.resize(hole.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST)
    blur = cv2.GaussianBlur(grey, (0, 0), 1.5)
    detail = np.abs(grey - blur)
    radius = max(3, round(RING * DETAIL_HEIGHT))
    ring = cv2.dilate(small, _disk(radius)).astype(bool) & ~small.astype(bool)
    if not ring.any():
        return 0.0, 0.5
    clear = ring & ~cv2.dilate(small, _disk(4)).astype(bool)  # beyond the person's own edge under the blur
    if not clear.any():
        return float(detail[ring].mean()), 0.5
    across = float((cv2.Sobel(blur, cv2.CV_32F, 0, 1)[clear] ** 2).sum())
    along = float((cv2.Sobel(blur, cv2.CV_32F, 1, 0)[clear] ** 2).sum())
    return float(detail[ring].mean()), across / max(across + along, 1e-6)


def _shift_map(rgb: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """``rgb`` (H, W, 3) uint8 with ``hole`` (H, W) bool filled by xphoto's shift-map completion, run on the
    hole's box (grown by ``SHIFTMAP_MARGIN``) at ``SHIFTMAP_SIDE`` pixels in Lab, scaled back up; the
    mismatch with the photo on the hole's rim (the completion covers a rim beyond the hole) is spread
    inside by a Navier-Stokes membrane so that no seam shows. The pasted pieces come from anywhere around the
    hole, a paler stretch of a boardwalk or of a wall among them, so the fill is then shaded towards the
    Navier-Stokes fill of the same hole: by their difference under a blur of ``SHADE_BLUR`` small-image
    pixels, clipped to ``SHADE`` grey levels (their shading, not the diffusion's smear of strong edges)."""
    h, w = hole.shape
    ys, xs = np.nonzero(hole)
    margin = max(4, round(SHIFTMAP_MARGIN * max(np.ptp(ys), np.ptp(xs))))
    y0, y1 = max(0, ys.min() - margin), min(h, ys.max() + margin + 1)
    x0, x1 = max(0, xs.min() - margin), min(w, xs.max() + margin + 1)
    crop, inside = rgb[y0:y1, x0:x1], hole[y0:y1, x0:x1]
    scale = min(1.0, SHIFTMAP_SIDE / max(crop.shape[:2]))
    small_size = (max(8, round(crop.shape[1] * scale)), max(8, round(crop.shape[0] * scale)))
    small = cv2.cvtColor(cv2.resize(crop, small_size, interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2Lab)
    small_hole = cv2.resize(inside.astype(np.uint8), small_size, interpolation=cv2.INTER_AREA) > 0
    small_hole = cv2.dilate(small_hole.astype(np.uint8), _disk(2))  # the rim the membrane matches on
    filled = np.zeros_like(small)
    cv2.xphoto.inpaint(small, (1 - small_hole) * 255, filled, cv2.xphoto.INPAINT_SHIFTMAP)
    smooth = cv2.inpaint(crop, inside.astype(np.uint8), INPAINT_RADIUS, cv2.INPAINT_NS)
    # pixels the shift map leaves as they were (zero: a = b = -128, a saturated blue; 1919 of a painted
    # portrait's 10585 where her dress met the frame's lower edge) take the Navier-Stokes fill
    missed = small_hole.astype(bool) & (filled[..., 1] == 0) & (filled[..., 2] == 0)
    if missed.any():
        filled[missed] = cv2.cvtColor(cv2.resize(smooth, small_size, interpolation=cv2.INTER_AREA),
                                      cv2.COLOR_RGB2Lab)[missed]
    fill = cv2.resize(cv2.cvtColor(filled, cv2.COLOR_Lab2RGB), crop.shape[1::-1], interpolation=cv2.INTER_CUBIC)
    mismatch = cv2.GaussianBlur(crop.astype(np.float32), (0, 0), 1.0) - fill.astype(np.float32)
    membrane = np.stack([cv2.inpaint(np.ascontiguousarray(mismatch[..., c]), inside.astype(np.uint8), INPAINT_RADIUS,
                                     cv2.INPAINT_NS) for c in range(3)], -1)
    pasted = fill.astype(np.float32) + membrane
    smooth = smooth.astype(np.float32)
    if missed.any():  # and no staircase of the small image's pixels between the two fills
        weight = cv2.GaussianBlur(cv2.resize(missed.astype(np.float32), crop.shape[1::-1]), (0, 0), 1 / scale)
        pasted += weight[..., None] * (smooth - pasted)
    pasted[~inside] = crop[~inside]  # both are the photo outside the hole, so the blurred difference fades there
    sigma = SHADE_BLUR / scale
    shade = np.clip(cv2.GaussianBlur(smooth, (0, 0), sigma) - cv2.GaussianBlur(pasted, (0, 0), sigma), -SHADE, SHADE)
    out = rgb.copy()
    patch = out[y0:y1, x0:x1]
    patch[inside] = np.clip(pasted + shade + 0.5, 0, 255).astype(np.uint8)[inside]
    return out


def clean_plate(rgb: np.ndarray, alpha: np.ndarray, grow: float = GROW) -> np.ndarray:
    """The background of the (H, W, 3) uint8 photo with the person (alpha (H, W) in [0, 1]) removed: (H, W, 3) uint8,
    ``rgb`` with ``plate_hole(rgb, alpha, grow)`` filled: by push-pull with the photo's grain where the grown hole
    covers over ``LARGE`` of the frame, else along its rows where the background around the grown hole
    is textured and runs across, by the shift map where it is otherwise textured, by Navier-Stokes inpainting where
    it is smooth, structured or busy (module docstring). A smooth or structured background's hole is grown by only
    ``NARROW`` of ``grow``: what lies beside the person, but for her blur (``EDGE``), is more often the background
    itself (tfjs_pose_1's laptop by her elbow, as dark as her jacket, was filled over) than her fringes; the shift
    map keeps the wider ring, whose pieces it matches its pasted ones to (a narrower one on the painted portrait
    ``faces/liveportrait_s3.jpg`` spread its black dress's rim into a dark blue block, on animatex_dance_2 the sky
    between her arm and head into a pale ghost of them). The grown ring's pixels that are background stay the
    photo's own, and the fill continues the background from them, the nearest it has: filled from the whole grown
    hole's rim, clear of them, the fill lost what lies right beside the person (the dark oven by tfjs_pose_1's head
    came out as the white wall further off) and was shifted onto them by a membrane (self-reconstruction ST-LPIPS
    0.0688 -> 0.0644 there)."""
    rgb = np.ascontiguousarray(rgb)
    hole, fill = _plan(rgb, alpha, grow)
    if not hole.any():
        return rgb.copy()
    if hole.all():  # nothing to continue from: the photo's mean colour
        return np.full_like(rgb, np.round(rgb.reshape(-1, 3).mean(0)).astype(np.uint8))
    wide = min(np.ptp(np.flatnonzero(hole.any(0))), np.ptp(np.flatnonzero(hole.any(1)))) >= 8
    if wide and fill == "rows":
        return _row_fill(rgb, hole)
    if wide and fill == "shift":
        return _shift_map(rgb, hole)
    if fill == "pull":
        return _pull_fill(rgb, hole)
    return cv2.inpaint(rgb, hole.astype(np.uint8), INPAINT_RADIUS, cv2.INPAINT_NS)


def plate_hole(rgb: np.ndarray, alpha: np.ndarray, grow: float = GROW) -> np.ndarray:
    """(H, W) bool: the pixels ``clean_plate(rgb, alpha, grow)`` fills (elsewhere the plate is the photo)."""
    return _plan(np.ascontiguousarray(rgb), alpha, grow)[0]


def _plan(rgb: np.ndarray, alpha: np.ndarray, grow: float) -> tuple[np.ndarray, str]:
    """``clean_plate``'s hole (H, W) bool and what fills it: ``"pull"`` (``_pull_fill``: a grown hole over
    ``LARGE`` of the frame, whatever the background), ``"rows"`` (``_row_fill``: a textured background whose
    structure runs across, over ``ROWS``, with the hole's ring given back only where it is plain background
    and the strands of hair beyond it taken), ``"shift"`` (the shift map: another textured background) or
    ``"smooth"`` (Navier-Stokes); see its docstring."""
    grown = person_hole(alpha, grow)
    if not grown.any() or grown.all():
        return grown, "smooth"
    detail, across = _detail(rgb, grown)  # textured (the shift map) above TEXTURED, structured and busy above
    textured = TEXTURED < detail <= STRUCTURED
    large = grown.mean() > LARGE
    if textured and across > ROWS and not large:
        if grow <= 0:
            return grown, "rows"
        return _strands(rgb, alpha, grown & ~_background_ring(rgb, alpha, grown, plain=True)), "rows"
    if grow > 0 and not textured and not large and detail <= BUSY:  # the Navier-Stokes fill of a narrower hole
        grown = person_hole(alpha, NARROW * grow)
    hole = _without_background(rgb, alpha, grown, detail) if grow > 0 else grown  # = person_hole(alpha, grow, rgb)
    return hole, "pull" if large else "shift" if textured else "smooth"
