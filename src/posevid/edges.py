"""Grey-scale edge maps from classical detectors (stand-ins for the RCF network of the decoupled paper).

``edge_map(rgb)`` returns an (H, W) float32 map in [0, 1], 1 on strong edges: ``sobel`` (default) is
the gradient magnitude of the blurred grey image, normalised by a high percentile, so soft edges stay
grey as RCF's probabilities do; ``canny`` is OpenCV's binary Canny with thresholds from the median.
"""

from __future__ import annotations

import cv2
import numpy as np

EDGE_METHODS = ("sobel", "canny")


def edge_map(rgb: np.ndarray, method: str = "sobel", percentile: float = 99.0) -> np.ndarray:
    """Edges of an (H, W, 3) uint8 RGB image -> (H, W) float32 in [0, 1].

    ``sobel``: |grad| of the 3x3-Gaussian-blurred grey image divided by its ``percentile``-th value
    (clipped to 1); a flat image gives all zeros. ``canny``: {0, 1} edges with hysteresis thresholds
    0.66 and 1.33 times the median grey level.
    """
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"edge_map needs an (H, W, 3) image, got {rgb.shape}")
    grey = cv2.cvtColor(np.ascontiguousarray(rgb, dtype=np.uint8), cv2.COLOR_RGB2GRAY)
    if method == "canny":
        med = float(np.median(grey))
        lo, hi = int(max(0.0, 0.66 * med)), int(min(255.0, max(1.33 * med, 1.0)))
        return (cv2.Canny(grey, lo, hi) > 0).astype(np.float32)
    if method != "sobel":
        raise ValueError(f"unknown edge method {method!r}; use one of {', '.join(EDGE_METHODS)}")
    g = cv2.GaussianBlur(grey.astype(np.float32) / 255.0, (3, 3), 0)
    mag = cv2.magnitude(cv2.Sobel(g, cv2.CV_32F, 1, 0, ksize=3), cv2.Sobel(g, cv2.CV_32F, 0, 1, ksize=3))
    top = float(np.percentile(mag, percentile))
    if top <= 1e-6:
        return np.zeros_like(mag)
    return np.clip(mag / top, 0.0, 1.0).astype(np.float32)
