"""Motion metrics from keypoints estimated on both videos (first-order-model's AKD / MKR protocol)."""

from __future__ import annotations

import math

import numpy as np

MIN_CONF = 0.5  # a joint counts as found when its confidence (BlazePose visibility) exceeds this


def keypoint_errors(gen_xy: np.ndarray, gen_conf: np.ndarray, real_xy: np.ndarray, real_conf: np.ndarray,
                    min_conf: float = MIN_CONF) -> tuple[float, int, int]:
    """Compare one frame's keypoints (J, 2) pixels with confidences (J,); found means conf > ``min_conf``.

    Returns (mean distance in pixels over joints found in both frames or NaN when there are none,
    joints found in the real frame but missing in the generated one, joints found in the real frame).
    """
    found_gen = np.asarray(gen_conf) > min_conf
    found_real = np.asarray(real_conf) > min_conf
    both = found_gen & found_real
    dist = math.nan
    if both.any():
        dist = float(np.linalg.norm(np.asarray(gen_xy)[both] - np.asarray(real_xy)[both], axis=1).mean())
    return dist, int((found_real & ~found_gen).sum()), int(found_real.sum())


def face_landmark_error(gen_xy: np.ndarray, real_xy: np.ndarray) -> float:
    """Mean distance between two faces' (68, 2) iBUG landmarks in pixels, divided by the ``real`` face's
    inter-ocular distance (outer eye corners, as 300-W normalises): 0 for the same landmarks, about 0.05
    between two careful annotations of one face."""
    from ..face import inter_ocular

    real_xy, gen_xy = np.asarray(real_xy, np.float64), np.asarray(gen_xy, np.float64)
    return float(np.linalg.norm(gen_xy - real_xy, axis=1).mean() / max(float(inter_ocular(real_xy)), 1e-6))
