"""Temporal consistency: the warping error of Lai et al. (2018) with OpenCV Farneback optical flow.

For consecutive frames (t, t+1) of one video, frame t+1 is warped back onto frame t with the flow
estimated between them; the error is the mean squared difference (values in [0, 1], averaged over
RGB) over pixels that pass a forward-backward consistency check (non-occluded, inside the frame).
"""

from __future__ import annotations

import math

import cv2
import numpy as np


def _flow(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Dense flow (H, W, 2) in pixels from grey frame a to b: a(y, x) ~ b(y + fy, x + fx)."""
    return cv2.calcOpticalFlowFarneback(a, b, None, pyr_scale=0.5, levels=3, winsize=15, iterations=3,
                                        poly_n=5, poly_sigma=1.2, flags=0)


def warp_error(prev: np.ndarray, nxt: np.ndarray) -> float:
    """Warping error between two consecutive (H, W, 3) uint8 frames; NaN if every pixel is occluded."""
    grey_a = cv2.cvtColor(prev, cv2.COLOR_RGB2GRAY)
    grey_b = cv2.cvtColor(nxt, cv2.COLOR_RGB2GRAY)
    fwd = _flow(grey_a, grey_b)
    bwd = _flow(grey_b, grey_a)
    h, w = grey_a.shape
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    map_x, map_y = xs + fwd[..., 0], ys + fwd[..., 1]
    warped = cv2.remap(nxt, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    bwd_at = cv2.remap(bwd, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    inside = (map_x >= 0) & (map_x <= w - 1) & (map_y >= 0) & (map_y <= h - 1)
    loop = ((fwd + bwd_at) ** 2).sum(-1)
    consistent = loop < 0.01 * ((fwd**2).sum(-1) + (bwd_at**2).sum(-1)) + 0.5
    mask = inside & consistent
    if not mask.any():
        return math.nan
    diff = ((prev.astype(np.float32) - warped.astype(np.float32)) / 255.0) ** 2
    return float(diff.mean(-1)[mask].mean())
