"""Joint sets and limbs. COCO-18 in OpenPose order is canonical; other layouts convert to it.

Every converter takes ``xy`` of shape (..., J_in, 2) in pixels and ``conf`` of shape (..., J_in)
and returns (..., 18, 2) and (..., 18). A joint made from two others (the neck from the two
shoulders) is their midpoint, with the smaller of the two confidences.
"""

from __future__ import annotations

import numpy as np

COCO18_NAMES: tuple[str, ...] = (
    "nose", "neck",
    "right_shoulder", "right_elbow", "right_wrist",
    "left_shoulder", "left_elbow", "left_wrist",
    "right_hip", "right_knee", "right_ankle",
    "left_hip", "left_knee", "left_ankle",
    "right_eye", "left_eye", "right_ear", "left_ear",
)
NUM_JOINTS = len(COCO18_NAMES)
JOINT = {name: i for i, name in enumerate(COCO18_NAMES)}

# OpenPose's limb list for COCO-18 (the last two join ears to shoulders and are not drawn).
LIMBS: tuple[tuple[int, int], ...] = (
    (1, 2), (1, 5), (2, 3), (3, 4), (5, 6), (6, 7), (1, 8), (8, 9), (9, 10),
    (1, 11), (11, 12), (12, 13), (1, 0), (0, 14), (14, 16), (0, 15), (15, 17),
    (2, 16), (5, 17),
)
DRAWN_LIMBS = LIMBS[:17]

# OpenPose's colours (RGB), one per joint; limb k is drawn in the colour of joint k.
COLORS: tuple[tuple[int, int, int], ...] = (
    (255, 0, 0), (255, 85, 0), (255, 170, 0), (255, 255, 0), (170, 255, 0), (85, 255, 0),
    (0, 255, 0), (0, 255, 85), (0, 255, 170), (0, 255, 255), (0, 170, 255), (0, 85, 255),
    (0, 0, 255), (85, 0, 255), (170, 0, 255), (255, 0, 255), (255, 0, 170), (255, 0, 85),
)

# Index permutation that swaps left and right joints (for horizontal flips).
FLIP_PERM: tuple[int, ...] = (0, 1, 5, 6, 7, 2, 3, 4, 11, 12, 13, 8, 9, 10, 15, 14, 17, 16)

# The 10 body parts of the decoupled-learning paper, each with the joints that define it.
BODY_PARTS: dict[str, tuple[int, ...]] = {
    "head": (0, 1, 14, 15, 16, 17),
    "torso": (1, 2, 5, 8, 11),
    "right_upper_arm": (2, 3),
    "right_lower_arm": (3, 4),
    "left_upper_arm": (5, 6),
    "left_lower_arm": (6, 7),
    "right_upper_leg": (8, 9),
    "right_lower_leg": (9, 10),
    "left_upper_leg": (11, 12),
    "left_lower_leg": (12, 13),
}
PART_NAMES: tuple[str, ...] = tuple(BODY_PARTS)
NUM_PARTS = len(PART_NAMES)
PART_FLIP_PERM: tuple[int, ...] = (0, 1, 4, 5, 2, 3, 8, 9, 6, 7)

# Source layouts: each COCO-18 joint is one source index or the midpoint of two.
_Source = int | tuple[int, int]
_FROM: dict[str, tuple[_Source, ...]] = {
    # MediaPipe BlazePose (33 landmarks).
    "blazepose33": (0, (11, 12), 12, 14, 16, 11, 13, 15, 24, 26, 28, 23, 25, 27, 5, 2, 8, 7),
    # COCO keypoints (17).
    "coco17": (0, (5, 6), 6, 8, 10, 5, 7, 9, 12, 14, 16, 11, 13, 15, 2, 1, 4, 3),
    # OpenPose BODY_25.
    "body25": (0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18),
    "coco18": tuple(range(18)),
}
LAYOUT_SIZES = {"blazepose33": 33, "coco17": 17, "body25": 25, "coco18": 18}
# COCO-18 -> COCO-17 (drop the neck, reorder).
TO_COCO17: tuple[int, ...] = (0, 15, 14, 17, 16, 5, 2, 6, 3, 7, 4, 11, 8, 12, 9, 13, 10)


def to_coco18(xy: np.ndarray, conf: np.ndarray, layout: str) -> tuple[np.ndarray, np.ndarray]:
    """Convert keypoints in ``layout`` (blazepose33, coco17, body25, coco18) to COCO-18.

    xy: (..., J_in, 2) pixels; conf: (..., J_in) in [0, 1]. Returns float32 (..., 18, 2), (..., 18).
    A joint whose confidence is 0 has its coordinates set to 0.
    """
    if layout not in _FROM:
        raise ValueError(f"unknown keypoint layout {layout!r}; known: {', '.join(_FROM)}")
    xy = np.asarray(xy, dtype=np.float32)
    conf = np.asarray(conf, dtype=np.float32)
    n = LAYOUT_SIZES[layout]
    if xy.shape[-2:] != (n, 2) or conf.shape[-1] != n:
        raise ValueError(f"{layout} needs (..., {n}, 2) keypoints, got {xy.shape} and {conf.shape}")
    out_xy = np.zeros(xy.shape[:-2] + (NUM_JOINTS, 2), np.float32)
    out_c = np.zeros(conf.shape[:-1] + (NUM_JOINTS,), np.float32)
    for j, src in enumerate(_FROM[layout]):
        if isinstance(src, tuple):
            a, b = src
            out_xy[..., j, :] = (xy[..., a, :] + xy[..., b, :]) / 2
            out_c[..., j] = np.minimum(conf[..., a], conf[..., b])
        else:
            out_xy[..., j, :] = xy[..., src, :]
            out_c[..., j] = conf[..., src]
    out_xy[out_c <= 0] = 0
    return out_xy, out_c


def coco18_to_coco17(xy: np.ndarray, conf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """COCO-18 (..., 18, 2), (..., 18) -> COCO-17 (..., 17, 2), (..., 17) (the neck is dropped)."""
    idx = list(TO_COCO17)
    return np.asarray(xy)[..., idx, :], np.asarray(conf)[..., idx]
