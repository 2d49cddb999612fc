"""Joint sets and limbs. COCO-18 in OpenPose order is canonical for the body; other layouts convert to it.

Every converter takes ``xy`` of shape (..., J_in, 2) in pixels and ``conf`` of shape (..., J_in)
and returns (..., 18, 2) and (..., 18). A joint made from two others (the neck from the two
shoulders) is their midpoint, with the smaller of the two confidences.

Hands and face are optional keypoint groups beside the body: 21 points per hand in the
OpenPose / MediaPipe hand order (``HAND_NAMES``: wrist, then four points per finger from the thumb
to the little finger, base to tip) and 68 face landmarks in the iBUG 300-W order (jaw 0-16, eyebrows
17-26, nose 27-35, eyes 36-47, mouth 48-67; "right" and "left" are the person's own, so the
person's right eye, 36-41, is on the image's left in a frontal view).
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

# Hands: 21 points (OpenPose and MediaPipe share this order) and the 20 bones drawn between them.
HAND_NAMES: tuple[str, ...] = ("wrist",) + tuple(
    f"{finger}_{joint}" for finger in ("thumb", "index", "middle", "ring", "pinky")
    for joint in (("cmc", "mcp", "ip", "tip") if finger == "thumb" else ("mcp", "pip", "dip", "tip")))
HAND_POINTS = len(HAND_NAMES)
HAND_LIMBS: tuple[tuple[int, int], ...] = tuple(
    (0 if k == 0 else base + k - 1, base + k) for base in (1, 5, 9, 13, 17) for k in range(4))
HAND_SIDES: tuple[str, ...] = ("left", "right")  # index 0 of ``Poses.hand_xy`` is the person's left hand
# Feet: each foot's heel and toe (BlazePose's heel and foot index), index 0 of ``Poses.foot_xy`` the
# person's left foot; BlazePose's landmark indices in that order.
FOOT_NAMES: tuple[str, ...] = ("heel", "toe")
FOOT_POINTS = len(FOOT_NAMES)
BLAZEPOSE_FEET: tuple[tuple[int, ...], ...] = ((29, 31), (30, 32))

# Face: the 68 iBUG landmarks, and the permutation that mirrors them (for horizontal flips).
FACE_POINTS = 68
FACE_FLIP_PERM: tuple[int, ...] = (
    tuple(range(16, -1, -1))                                   # jaw
    + tuple(range(26, 16, -1))                                 # eyebrows
    + (27, 28, 29, 30) + tuple(range(35, 30, -1))              # nose bridge, nostrils
    + (45, 44, 43, 42, 47, 46, 39, 38, 37, 36, 41, 40)         # eyes
    + (54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55)         # outer lips
    + (64, 63, 62, 61, 60, 67, 66, 65))                        # inner lips
# Face contours of the iBUG layout as (first, last, closed) point ranges.
FACE_CONTOURS: tuple[tuple[int, int, bool], ...] = (
    (0, 16, False), (17, 21, False), (22, 26, False), (27, 30, False), (31, 35, False),
    (36, 41, True), (42, 47, True), (48, 59, True), (60, 67, True))

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
# COCO-WholeBody (133 points, also DWPose's output order): COCO-17 body, 6 foot points, 68 face
# landmarks, the left hand, the right hand. Index ranges of each group:
WHOLEBODY_SLICES: dict[str, slice] = {"body": slice(0, 17), "feet": slice(17, 23), "face": slice(23, 91),
                                      "left_hand": slice(91, 112), "right_hand": slice(112, 133)}
WHOLEBODY_POINTS = 133
# COCO-18 -> COCO-17 (drop the neck, reorder).
TO_COCO17: tuple[int, ...] = (0, 15, 14, 17, 16, 5, 2, 6, 3, 7, 4, 11, 8, 12, 9, 13, 10)


def to_coco18(xy: np.ndarray, conf: np.ndarray, layout: str) -> tuple[np.ndarray, np.ndarray]:
    """Convert keypoints in ``layout`` (blazepose33, coco17, body25, coco18) to COCO-18.

    xy: (..., J_in, 2) pixels; conf: (..., J_in) in [0, 1]. Returns float32 (..., 18, 2), (..., 18).
    A joint whose confidence is 0 has its coordinates set to 0.
    """
    xy = np.asarray(xy, dtype=np.float32)
    conf = np.asarray(conf, dtype=np.float32)
    n = _layout_size(layout)
    if xy.shape[-2:] != (n, 2) or conf.shape[-1] != n:
        raise ValueError(f"{layout} needs (..., {n}, 2) keypoints, got {xy.shape} and {conf.shape}")
    out_xy = joint_values_to_coco18(xy, layout)
    out_c = np.zeros(conf.shape[:-1] + (NUM_JOINTS,), np.float32)
    for j, src in enumerate(_FROM[layout]):
        out_c[..., j] = np.minimum(conf[..., src[0]], conf[..., src[1]]) if isinstance(src, tuple) else conf[..., src]
    out_xy[out_c <= 0] = 0
    return out_xy, out_c


def joint_values_to_coco18(values: np.ndarray, layout: str) -> np.ndarray:
    """Any per-joint values (coordinates, depths) in ``layout`` -> COCO-18 order, float32.

    values: (..., J_in, *D) -> (..., 18, *D); the last ``D`` axes (none for a depth, one for (x, y))
    are kept, and a joint made from two others takes their mean. Use the joint axis as in ``to_coco18``:
    pass ``values[..., None]`` for per-joint scalars and drop the axis again.
    """
    values = np.asarray(values, dtype=np.float32)
    n = _layout_size(layout)
    if values.ndim < 2 or values.shape[-2] != n:
        raise ValueError(f"{layout} needs (..., {n}, D) values, got {values.shape}")
    out = np.zeros(values.shape[:-2] + (NUM_JOINTS, values.shape[-1]), np.float32)
    for j, src in enumerate(_FROM[layout]):
        out[..., j, :] = (values[..., src[0], :] + values[..., src[1], :]) / 2 if isinstance(src, tuple) \
            else values[..., src, :]
    return out


def _layout_size(layout: str) -> int:
    if layout not in _FROM:
        raise ValueError(f"unknown keypoint layout {layout!r}; known: {', '.join(_FROM)}")
    return LAYOUT_SIZES[layout]


def coco18_to_coco17(xy: np.ndarray, conf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """COCO-18 (..., 18, 2), (..., 18) -> COCO-17 (..., 17, 2), (..., 17) (the neck is dropped)."""
    idx = list(TO_COCO17)
    return np.asarray(xy)[..., idx, :], np.asarray(conf)[..., idx]
