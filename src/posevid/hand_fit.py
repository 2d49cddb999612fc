"""Hands read back from DWPose-style skeleton renders by fitting the drawing to the pixels.

DWPose draws each hand as 20 thin bones (``render.hand_colors()``: hues 18 degrees apart, 2 pixels wide at
512) and then its 21 points as blue dots (radius 4 at 512) that hide most bones of a hand 20-60 pixels
across. Neither the dots (all one colour) nor the bone fragments (a few pixels each, many hidden) give the
points on their own, so the hand is fitted: a soft rendering of the bones and dots, drawn in the renderer's
order (later bones over earlier ones, dots over all), is matched to each pixel's class (background, dot or
bone k) by gradient descent, from an open template hand at the wrist pointed at the hand's pixels, in both
mirror images and nine turns, or from the previous frame's hand; the best fit wins. A weak prior keeps the
bone lengths near the template's; while the template starts descend, a pull of each bone towards the
visible pixels of its colour (and of the dots towards the blue pixels) leads each finger to its own
fragments from afar, where the likelihood alone would settle a mirrored or crumpled hand.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

from .skeleton import HAND_LIMBS

# The median MediaPipe hand of the real clips in shared/data (611 hands), wrist at (0, 0), middle-finger
# base at (1, 0), thumb on the +y side: an open hand with straight fingers.
TEMPLATE = np.array([
    [0.0, 0.0], [0.31, 0.26], [0.66, 0.37], [0.92, 0.39], [1.11, 0.40], [1.01, 0.13], [1.38, 0.15], [1.56, 0.15],
    [1.72, 0.16], [1.0, 0.0], [1.37, -0.02], [1.56, -0.01], [1.73, 0.01], [0.94, -0.12], [1.30, -0.14],
    [1.49, -0.13], [1.63, -0.12], [0.83, -0.23], [1.10, -0.23], [1.23, -0.23], [1.34, -0.23]], np.float32)
IGNORE, BACKGROUND, DOT = -1, 0, 1  # pixel classes; bone k of skeleton.HAND_LIMBS is class 2 + k
# Radians either side of the direction to the hand's pixels: a long thumb or curled fingers pull that direction
# 50 degrees off the fingers' (animatex_dance_3 frame 80 through an mp4; +-0.6 never started near it).
TURNS = (-1.2, -0.9, -0.6, -0.3, 0.0, 0.3, 0.6, 0.9, 1.2)
KEEP = 4  # placements that descend (the loss as placed tells the turns apart poorly)
FINAL = 2  # of these, the best that descend further (after STEPS[0] the loss still misorders near ties)
STEPS = (25, 45)  # gradient steps of the kept placements, then of the best one
LR = (0.6, 0.05)  # Adam's step size in pixels, first and last
WARM_STEPS, WARM_LR = 20, (0.3, 0.05)  # steps and step sizes from a previous frame's fit (already close)
BONE_WEIGHT = 3.0  # bone pixels are few and say the most: they count this much more than the others
PRIOR_WEIGHT = 0.05
REACH_WEIGHT = 0.5  # of ``_reach`` while the template starts descend (not in the final steps)
REACH_SIZE = 4.0  # dot radii: smaller hands (dots merged into one blob, bones hidden) fit without ``_reach``,
# and larger ones read every other row and column near the hand (half the time; the same PCK on dance_3)
THIN_RADIUS = 5.0  # pixels: dots at least this large are read every other row and column whatever the hand's size
SOFTNESS = 0.6  # pixels over which a soft edge goes from 27% to 73%
FLOOR = 0.03  # least probability of a pixel's class: a mislabelled pixel (video compression bleeds the thin
# bones' hues into their neighbours' and the dots') costs at most -log FLOOR, so a few cannot outweigh the rest

_A = torch.tensor([a for a, _ in HAND_LIMBS])
_B = torch.tensor([b for _, b in HAND_LIMBS])
_TEMPLATE_LENGTHS = torch.from_numpy(np.linalg.norm(TEMPLATE[_B.numpy()] - TEMPLATE[_A.numpy()], axis=1))


def _drawing(points: torch.Tensor, grid: torch.Tensor, radius: float,
             half_line: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """A soft drawing of the hands (bones in order, later over earlier, dots over all).

    points: (B, 21, 2) pixels; grid: (N, 2) pixel centres (x, y). Returns (B, N, 1) the probability that a
    dot covers the pixel, and (B, N, 20) each: that bone k covers it, that no bone after k does, that no bone
    from k on does (bone k shows where no dot is with the first two's product).
    """
    gx, gy = grid[None, :, None, 0], grid[None, :, None, 1]  # (1, N, 1)
    px, py = points[:, None, :, 0], points[:, None, :, 1]  # (B, 1, 21)
    ax, ay, bx, by = px[..., _A], py[..., _A], px[..., _B], py[..., _B]
    dx, dy = bx - ax, by - ay
    rx, ry = gx - ax, gy - ay  # (B, N, 20)
    t = ((rx * dx + ry * dy) / (dx * dx + dy * dy).clamp_min(1e-6)).clamp(0, 1)
    dist = ((rx - t * dx) ** 2 + (ry - t * dy) ** 2 + 1e-6).sqrt()
    line = torch.sigmoid((half_line + 0.5 - dist) / SOFTNESS)
    clear = torch.flip(torch.cumprod(torch.flip(1 - line, [-1]), -1), [-1])  # bones k.. not over the pixel
    above = torch.cat([clear[..., 1:], torch.ones_like(clear[..., :1])], -1)
    each = torch.sigmoid((radius + 0.5 - ((gx - px) ** 2 + (gy - py) ** 2 + 1e-6).sqrt()) / SOFTNESS)
    dot = 1 - torch.prod(1 - each, -1, keepdim=True)
    return dot, line, above, clear


def _probs(points: torch.Tensor, grid: torch.Tensor, radius: float, half_line: float) -> torch.Tensor:
    """Probability of each pixel class under a soft drawing of the hands (``_drawing``).

    points: (B, 21, 2) pixels; grid: (N, 2) pixel centres (x, y). Returns (B, N, 22): background (nothing
    of the hand drawn), dot, bones 0..19.
    """
    dot, line, above, clear = _drawing(points, grid, radius, half_line)
    return torch.cat([(1 - dot) * clear[..., :1], dot, (1 - dot) * (line * above)], -1)


Other = tuple[torch.Tensor, bool]  # another hand's fixed drawing (N, 22) (``_probs``) and whether it lies on top


def _over(upper: torch.Tensor, lower: torch.Tensor) -> torch.Tensor:
    """(..., N, 22) class probabilities of two drawings together (``_probs``): each pixel shows the upper
    drawing, or the lower one where the upper draws nothing."""
    return torch.cat([upper[..., :1] * lower[..., :1], upper[..., 1:] + upper[..., :1] * lower[..., 1:]], -1)


def _label_log_probs(points: torch.Tensor, grid: torch.Tensor, labels: torch.Tensor, radius: float,
                     half_line: float, other: Other | None = None) -> torch.Tensor:
    """(B, N) log-probability of each pixel's class ``labels`` (N,) under a soft drawing of the hands
    (``_probs``, its labelled class only: the same numbers at a fraction of the work), drawn over or under
    ``other`` (the other hand, fixed) where given: each pixel shows the upper drawing, or the lower one where
    the upper draws nothing (``_over``)."""
    dot, line, above, clear = _drawing(points, grid, radius, half_line)
    free = 1 - dot[..., 0]
    background = free * clear[..., 0]
    k = (labels - 2).clamp_min(0)[None, :, None].expand(len(points), -1, 1)
    bone = free * (line.gather(-1, k) * above.gather(-1, k))[..., 0]
    probs = torch.where(labels == BACKGROUND, background, torch.where(labels == DOT, dot[..., 0], bone))
    if other is not None:
        fixed, on_top = other
        under, fixed_empty = fixed.gather(-1, labels[:, None])[:, 0], fixed[:, 0]
        if on_top:
            probs = torch.where(labels == BACKGROUND, fixed_empty * probs, under + fixed_empty * probs)
        else:
            probs = torch.where(labels == BACKGROUND, probs * fixed_empty, probs + background * under)
    return torch.log(probs.clamp_min(FLOOR))


def _reach(points: torch.Tensor, grid: torch.Tensor, labels: torch.Tensor, radius: float,
           half_line: float) -> torch.Tensor:
    """(B,) how far the drawing is from covering the hand's coloured pixels, in dot radii: each bone pixel's
    distance past its own bone's edge and each dot pixel's past the nearest dot's, averaged
    (0 when every such pixel is drawn). Unlike the likelihood, whose pull fades a pixel or two from an
    edge, this pulls each bone towards its visible fragments from anywhere, and so tells the fingers (and
    the mirror images) apart."""
    bone = labels >= 2
    out = points.new_zeros(len(points))
    if bone.any():
        g, k = grid[bone], labels[bone] - 2  # (M, 2), (M,)
        a, b = points[:, _A[k]], points[:, _B[k]]  # (B, M, 2)
        d = b - a
        t = (((g - a) * d).sum(-1) / (d * d).sum(-1).clamp_min(1e-6)).clamp(0, 1)
        dist = ((g - a - t[..., None] * d) ** 2).sum(-1).add(1e-6).sqrt()
        out = out + ((dist - half_line - 0.5).clamp_min(0) / radius).mean(-1)
    dot = labels == DOT
    if dot.any():
        dist = torch.cdist(grid[dot][None].expand(len(points), -1, -1), points).min(-1).values
        out = out + ((dist - radius - 0.5).clamp_min(0) / radius).mean(-1)
    return out


def _loss(points: torch.Tensor, grid: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor, scale: float,
          radius: float, half_line: float, other: Other | None = None, reach: float = 0.0) -> torch.Tensor:
    """(B,) weighted mean negative log-likelihood of the labelled pixels (drawn with ``other``) plus the
    bone-length prior and ``reach`` times ``_reach``."""
    logp = _label_log_probs(points, grid, labels, radius, half_line, other)
    fit = -(logp * weights).sum(-1) / weights.sum()
    lengths = (points[:, _B] - points[:, _A]).norm(dim=-1)
    prior = (((lengths - scale * _TEMPLATE_LENGTHS) / scale) ** 2).sum(-1)
    if reach:
        if other is not None:  # pixels the other hand's drawing shows do not pull this hand
            labels = torch.where(other[0].gather(-1, labels.clamp_min(0)[:, None])[:, 0] >= 0.5, IGNORE, labels)
        return fit + PRIOR_WEIGHT * prior + reach * _reach(points, grid, labels, radius, half_line)
    return fit + PRIOR_WEIGHT * prior


def _descend(points: torch.Tensor, steps: int, *args, lr_range: tuple[float, float] = LR) -> tuple[torch.Tensor,
                                                                                               torch.Tensor]:
    """``steps`` Adam steps (step size ``lr_range`` pixels, cosine-decayed) on the points (B, 21, 2); returns
    them and their final losses (B,)."""
    points = points.clone()
    mean, var = torch.zeros_like(points), torch.zeros_like(points)
    for step in range(1, steps + 1):
        points.requires_grad_(True)
        (grad,) = torch.autograd.grad(_loss(points, *args).sum(), points)
        mean.mul_(0.9).add_(0.1 * grad)
        var.mul_(0.999).add_(0.001 * grad * grad)
        lr = lr_range[1] + (lr_range[0] - lr_range[1]) * 0.5 * (1 + np.cos(np.pi * (step - 1) / steps))
        size = lr * (mean / (1 - 0.9 ** step)) / ((var / (1 - 0.999 ** step)).sqrt() + 1e-8)
        points = (points - size).detach()
    with torch.no_grad():
        return points, _loss(points, *args)


def _pixels(classes: np.ndarray, radius: float, thin: bool) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns of the pixels the fit reads: every bone pixel, the dot and background pixels
    within two dot radii of the hand's pixels (with ``thin``, every other row and column of them: a dot
    still covers several), and every third row and column of the labelled background further out."""
    evidence = (classes >= DOT).astype(np.uint8)
    size = 2 * int(np.ceil(2 * radius)) + 1
    close = cv2.dilate(evidence, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))) > 0
    if thin:
        thin = np.zeros_like(close)
        thin[::2, ::2] = close[::2, ::2]
        close = thin
    sparse = np.zeros_like(close)
    sparse[::3, ::3] = True
    return np.nonzero((classes >= 2) | ((classes != IGNORE) & (close | sparse)))


def fit_hand(classes: np.ndarray, wrist: np.ndarray, radius: float, half_line: float,
             start: np.ndarray | None = None, good: float = -np.inf,
             other: tuple[np.ndarray, bool] | None = None, size: float | None = None) -> tuple[np.ndarray, float]:
    """The 21 points of one hand drawn in a crop whose pixels have ``classes`` (h, w) int (``IGNORE``,
    ``BACKGROUND``, ``DOT``, 2 + bone), with its wrist near ``wrist`` (x, y) and dots of ``radius`` and bones
    of ``half_line`` pixels. Returns (21, 2) float32 crop pixels and the fit's loss (lower is better).

    With ``start`` (21, 2) (e.g. the previous frame's hand), that hand descends ``WARM_STEPS`` steps first and
    is kept when its loss is at most ``good``. Otherwise the template hand is placed in ``len(TURNS)`` turns
    and both mirror images; the ``KEEP`` that fit best as placed descend ``STEPS[0]`` steps (pulled towards
    the hand's coloured pixels by ``_reach`` where the hand spans ``REACH_SIZE`` dot radii), the ``FINAL`` best
    of them ``STEPS[1]`` more; the best of these and the started hand wins.

    With ``other`` ((21, 2) crop pixels, on top), the other hand of the pair, fixed and drawn after (``True``:
    DWPose draws the right hand last) or before this one: the pixels show the two drawings together, so a
    hand lying over or under the other is fitted to the pixels neither explains alone. ``size``: the template's
    scale (wrist to middle-finger base, pixels) instead of the one that reaches the furthest of the hand's pixels.
    """
    ey, ex = np.nonzero(classes >= DOT)
    evidence = np.stack([ex, ey], 1).astype(np.float32)
    # The hand's own wrist dot: near the body's wrist (estimators place the two apart). The template is placed a
    # dot radius in from the hand pixel nearest the body's wrist and, where that lies over a dot radius away, from
    # the nearest dot (video compression bleeds the fingers' bone hues into fringes that can lie nearer the body's
    # wrist than the wrist dot does), and where the bones from the wrist converge when that is another dot (the
    # hand's wrist a hand's width from the body's, its fingers nearer: read from the nearest dot, a stretched hand).
    dy, dx = np.nonzero(classes == DOT)
    anchors: list[np.ndarray] = []
    for pixels in (evidence, np.stack([dx, dy], 1).astype(np.float32)):
        if len(pixels):
            first = pixels[np.argmin(np.linalg.norm(pixels - wrist, axis=1))]
            inward = evidence.mean(0) - first
            anchor = first + radius * inward / max(float(np.linalg.norm(inward)), 1e-6)
            if not anchors or np.linalg.norm(anchor - anchors[0]) > radius:
                anchors.append(anchor)
    converge = _wrist_from_bones(classes, radius)
    if converge is not None and np.linalg.norm(converge - anchors[0]) > 2 * radius:
        anchors.append(converge)
    placed = [_placement(evidence, anchor, radius, size) for anchor in anchors]
    large = placed[0][1] >= REACH_SIZE * radius
    ys, xs = _pixels(classes, radius, thin=large or radius >= THIN_RADIUS)
    grid = torch.from_numpy(np.stack([xs, ys], 1).astype(np.float32))
    labels = torch.from_numpy(classes[ys, xs].astype(np.int64))
    weights = torch.where(labels >= 2, BONE_WEIGHT, 1.0)
    fixed = None
    if other is not None:
        with torch.no_grad():
            fixed = (_probs(torch.from_numpy(np.asarray(other[0], np.float32))[None], grid, radius, half_line)[0],
                     other[1])
    args = (grid, labels, weights, placed[0][1], radius, half_line, fixed)
    if start is not None:
        warm, warm_loss = _descend(torch.from_numpy(np.asarray(start, np.float32))[None], WARM_STEPS, *args,
                                   lr_range=WARM_LR)
        if float(warm_loss[0]) <= good:
            return warm[0].numpy().astype(np.float32), float(warm_loss[0])
    found, losses = [], []
    for anchor, scale, angle in placed:
        starts = []
        for mirror in (1.0, -1.0):
            for turn in TURNS:
                c, s = np.cos(angle + turn), np.sin(angle + turn)
                shape = TEMPLATE * [1.0, mirror] * scale
                starts.append(anchor + shape @ np.array([[c, s], [-s, c]], np.float32))
        pull = REACH_WEIGHT if scale >= REACH_SIZE * radius else 0.0
        placement = (grid, labels, weights, scale, radius, half_line, fixed)
        points, loss = _descend(torch.from_numpy(np.stack(starts).astype(np.float32)), 0, *placement, pull)
        for steps, keep, reach in zip(STEPS, (KEEP, FINAL), (pull, 0.0)):
            points, loss = _descend(points[torch.argsort(loss)[:keep]], steps, *placement, reach)
        found.append(points)
        losses.append(loss)
    points, losses = torch.cat(found), torch.cat(losses)
    if start is not None:
        points, losses = torch.cat([points, warm]), torch.cat([losses, warm_loss])
    best = int(torch.argmin(losses))
    return points[best].numpy().astype(np.float32), float(losses[best])


def _placement(evidence: np.ndarray, wrist: np.ndarray, radius: float,
               size: float | None) -> tuple[np.ndarray, float, float]:
    """The template's wrist (x, y), scale (wrist to middle-finger base, pixels: ``size``, or the one that
    reaches the furthest of the hand's pixels ``evidence`` (N, 2) from ``wrist``) and direction (radians,
    towards the pixels' mean)."""
    toward = evidence.mean(0) - wrist
    reach = float(np.linalg.norm(evidence - wrist, axis=1).max())
    scale = max((reach - radius) / float(np.linalg.norm(TEMPLATE, axis=1).max()), 2 * radius) if size is None else size
    angle = float(np.arctan2(toward[1], toward[0])) if np.linalg.norm(toward) > 1e-3 else 0.0
    return wrist.astype(np.float32), scale, angle


WRIST_BONES = tuple(k for k, (a, _) in enumerate(HAND_LIMBS) if a == 0)  # the five bones from the wrist
PARALLEL = 0.05  # least eigenvalue of the lines' summed projections (about the sum of their sin^2 apart)


def _wrist_from_bones(classes: np.ndarray, radius: float) -> np.ndarray | None:
    """Where the bones from the wrist converge (x, y crop pixels): the point nearest (least squares) to the
    lines along the pixels of at least two of them (each at least a dot radius long and twice as long as
    wide), snapped to the nearest dot pixel within a dot radius; None when they do not say (fewer such
    bones, near-parallel ones, or no dot there)."""
    lines = []
    for k in WRIST_BONES:
        ys, xs = np.nonzero(classes == 2 + k)
        if xs.size < 4:
            continue
        pts = np.stack([xs, ys], 1).astype(np.float64)
        centre = pts.mean(0)
        _, spread, vt = np.linalg.svd(pts - centre, full_matrices=False)
        if spread[0] < 2 * max(spread[1], 1e-6) or spread[0] / np.sqrt(len(pts)) * np.sqrt(12) < radius:
            continue
        lines.append((centre, vt[0]))
    if len(lines) < 2:
        return None
    project = [np.eye(2) - np.outer(u, u) for _, u in lines]
    a = sum(project)
    if np.linalg.eigvalsh(a)[0] < PARALLEL:  # near-parallel: no crossing
        return None
    point = np.linalg.solve(a, sum(p @ c for p, (c, _) in zip(project, lines)))
    dy, dx = np.nonzero(classes == DOT)
    if dx.size == 0:
        return None
    dots = np.stack([dx, dy], 1).astype(np.float64)
    gap = np.linalg.norm(dots - point, axis=1)
    if gap.min() > radius:
        return None
    near = dots[gap <= gap.min() + radius]
    return near.mean(0).astype(np.float32)


def drawing_cost(classes: np.ndarray, hands: list[np.ndarray], radius: float, half_line: float) -> float:
    """How well ``hands`` (each (21, 2) crop pixels, in drawing order: later over earlier) explain a crop's
    pixel classes (h, w) (``hand_classes``): ``fit_hand``'s weighted mean negative log-likelihood without the
    bone-length prior, over every labelled pixel near the hand pixels and every third row and column
    further out, so that fits of one hand, of the other or of both to the same crop compare."""
    ys, xs = _pixels(classes, radius, thin=False)
    grid = torch.from_numpy(np.stack([xs, ys], 1).astype(np.float32))
    labels = torch.from_numpy(classes[ys, xs].astype(np.int64))
    probs = torch.zeros(len(grid), 2 + len(HAND_LIMBS))
    probs[:, 0] = 1
    with torch.no_grad():
        for points in hands:
            probs = _over(_probs(torch.from_numpy(np.asarray(points, np.float32))[None], grid, radius, half_line)[0],
                          probs)
    weights = torch.where(labels >= 2, BONE_WEIGHT, 1.0)
    logp = torch.log(probs.clamp_min(FLOOR)).gather(-1, labels[:, None])[:, 0]
    return float(-(logp * weights).sum() / weights.sum())


def hand_classes(hue: np.ndarray, sat: np.ndarray, val: np.ndarray, step: float, tolerance: float) -> np.ndarray:
    """Pixel classes (``IGNORE``, ``BACKGROUND``, ``DOT``, 2 + bone) of a DWPose-style render from its
    hue (degrees), saturation (0..1) and value (0..255), (h, w) each: dark pixels are background, saturated
    bright ones a hand dot (pure blue) or the bone whose hue (``step`` degrees apart) is nearest within
    ``tolerance``; the rest (dim body limbs, white face dots, blurred edges) are ignored."""
    out = np.full(hue.shape, IGNORE, np.int8)
    out[val < 40] = BACKGROUND
    vivid = (sat >= 0.5) & (val >= 170)
    bone = np.round(hue / step).astype(np.int64)
    bone_off = np.abs(hue - bone * step)
    dot_off = np.abs(hue - 240.0)
    is_dot = vivid & (dot_off <= tolerance) & (dot_off < bone_off)
    is_bone = vivid & ~is_dot & (bone_off <= tolerance)
    out[is_bone] = 2 + bone[is_bone] % len(HAND_LIMBS)
    out[is_dot] = DOT
    return out

