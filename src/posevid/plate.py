"""The clean plate: the person's alpha refined at its edges, and the photo's background with the person removed.

``refine_alpha`` snaps the segmentation's soft mask to the photo's edges with a guided filter (He et al.
2013; ``cv2.ximgproc.guidedFilter`` from the OpenCV contrib build that mediapipe brings), within a band
around the mask's boundary. ``clean_plate`` fills the person's region, dilated to take in hair, fringes and
the segmentation's misses, with OpenCV's Navier-Stokes inpainting (Bertalmio et al. 2001). Of the fills
compared in ``benchmarks/warp_quality.py`` (reconstructing known background: L1, SSIM, ST-LPIPS) it is
the best: better than Telea's fast marching, xphoto's FSR (worse and 30x slower) and a PatchMatch
completion we wrote (real texture, but wrong-coloured patches that the metrics and the eye punish on
studio walls). Both run once per photo.
"""

from __future__ import annotations

import cv2
import numpy as np

LOW = 0.05  # alpha above this is the person (for the hole)
BAND = 0.015  # half width of the refined band around the mask's edge, of the person's height
SHARPEN = 2.0  # the guided filter's matte is steepened this much about 0.5: only true edge pixels stay mixed
GROW = 0.03  # the hole is the person dilated by this share of the person's height (hair, fringes, shoes)
INPAINT_RADIUS = 5  # pixels around each filled pixel that the inpainting reads


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


def person_hole(alpha: np.ndarray, grow: float = GROW) -> np.ndarray:
    """(H, W) bool: the pixels ``clean_plate`` fills: alpha above ``LOW``, dilated by ``grow`` of the
    person's height (at least 2 pixels; not at all with ``grow=0``)."""
    hole = alpha > LOW
    if grow <= 0:
        return hole
    radius = max(2, round(grow * _person_height(alpha)))
    return cv2.dilate(hole.astype(np.uint8), _disk(radius)).astype(bool)


def clean_plate(rgb: np.ndarray, alpha: np.ndarray, grow: float = GROW) -> np.ndarray:
    """The background of the (H, W, 3) uint8 photo with the person (alpha (H, W) in [0, 1]) removed:
    (H, W, 3) uint8, ``rgb`` with ``person_hole(alpha, grow)`` inpainted (Navier-Stokes)."""
    rgb = np.ascontiguousarray(rgb)
    hole = person_hole(alpha, grow)
    if hole.all():  # nothing to continue from: the photo's mean colour
        return np.full_like(rgb, np.round(rgb.reshape(-1, 3).mean(0)).astype(np.uint8))
    return cv2.inpaint(rgb, hole.astype(np.uint8), INPAINT_RADIUS, cv2.INPAINT_NS)
