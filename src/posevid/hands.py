"""Hands that follow their keypoints on the skinned mesh of ``rig.Rig``.

The rig moves each hand with its forearm (the hand is the end of the lower-arm part). When the source and
the target poses both have a hand's keypoints (``Poses.hand_xy``), that hand is turned about the target
wrist, and scaled, so that its direction (wrist to the knuckles' centre) becomes the target hand's: mesh
vertices of the lower arm past the source wrist move with it, blending from the forearm's motion at the
wrist to the hand's over ``BLEND`` of the hand's length. (Whatever the rig gave the forearm past the hand,
such as clothing beside the fingertips, turns with it.)
"""

from __future__ import annotations

import numpy as np

from .poses import Poses
from .render import MIN_CONF
from .skeleton import JOINT, PART_NAMES

KNUCKLES = (5, 9, 13, 17)  # index, middle, ring and little finger bases (skeleton.HAND_NAMES)
BLEND = 0.35  # of the hand's length past the wrist over which the hand's motion takes over
SCALE_RANGE = (0.7, 1.4)  # the hand's change of length, bounded (foreshortening, keypoint noise)
_SIDES = (("left", 0), ("right", 1))


def direction(hand_xy: np.ndarray, hand_conf: np.ndarray) -> np.ndarray | None:
    """(2,) vector from the wrist to the centre of the seen knuckles of one hand ((21, 2), (21,)), or None
    with the wrist or fewer than two knuckles missing."""
    seen = [k for k in KNUCKLES if hand_conf[k] > MIN_CONF]
    if hand_conf[0] <= MIN_CONF or len(seen) < 2:
        return None
    vector = hand_xy[seen].mean(0) - hand_xy[0]
    return vector if np.linalg.norm(vector) > 1e-6 else None


def bend(moved: np.ndarray, vertices: np.ndarray, weights: np.ndarray, source: Poses, target: Poses,
         transforms: np.ndarray) -> np.ndarray:
    """Skinned vertices (N, 2) with each hand turned to its target keypoints.

    vertices: (N, 2) the same vertices in the source; weights: (N, 10) their skinning weights; source,
    target: one-frame poses (source pixels) with ``hand_xy`` (hands without keypoints on either side keep
    the forearm's motion); transforms: (10, 2, 3) the per-part affines that skinned them.
    """
    if not (source.has_hands and target.has_hands):
        return moved
    out = moved.copy()
    for side, index in _SIDES:
        part = PART_NAMES.index(f"{side}_lower_arm")
        elbow, wrist = JOINT[f"{side}_elbow"], JOINT[f"{side}_wrist"]
        if min(source.conf[0, elbow], source.conf[0, wrist], target.conf[0, wrist]) <= MIN_CONF:
            continue
        d_src = direction(source.hand_xy[0, index], source.hand_conf[0, index])
        d_dst = direction(target.hand_xy[0, index], target.hand_conf[0, index])
        if d_src is None or d_dst is None:
            continue
        carried = transforms[part, :, :2] @ d_src  # where the forearm alone takes the hand
        turn = np.arctan2(d_dst[1], d_dst[0]) - np.arctan2(carried[1], carried[0])
        scale = float(np.clip(np.linalg.norm(d_dst) / max(np.linalg.norm(carried), 1e-6), *SCALE_RANGE))
        cos, sin = np.cos(turn) * scale, np.sin(turn) * scale
        pivot = transforms[part, :, :2] @ source.xy[0, wrist] + transforms[part, :, 2]
        rel = out - pivot
        turned = pivot + np.stack([cos * rel[:, 0] - sin * rel[:, 1], sin * rel[:, 0] + cos * rel[:, 1]], 1)
        forearm = source.xy[0, wrist] - source.xy[0, elbow]
        along = (vertices - source.xy[0, wrist]) @ (forearm / max(float(np.linalg.norm(forearm)), 1e-6))
        t = np.clip(along / (BLEND * np.linalg.norm(d_src)), 0.0, 1.0)
        share = (t * t * (3 - 2 * t)) * weights[:, part]
        out += share[:, None] * (turned - out)
    return out
