"""The ``warp`` method: no training; the photo's person as a layered, skinned puppet posed by each target.

The person is rigged once per source (``posevid.rig.Rig``: a triangle mesh of the person cut into
layers, with harmonic skinning weights and the body filled in under limbs that covered it); each target
pose deforms the mesh by linear blend skinning and rasterises it in depth order, and the drawn person is
composited over the clean plate made once from the source (``posevid.plate``: the person's region, its
alpha refined at the edges, inpainted from the background around it); a floor shadow the person casts
in the photo is taken off the plate and drawn under the moved feet each frame (``posevid.shadow``).

A face pose (the face landmarks with no body joints, as the pipeline gives for a face close-up: see
``posevid.face``) animates the portrait's face instead: ``facewarp.FaceRig``, a triangle mesh of the face
deformed by the target landmarks, the background and hair kept still.
"""

from __future__ import annotations

import cv2
import numpy as np

from ...face import is_face_pose
from ...facewarp import FaceRig
from ...mesh import nearest_known
from ...plate import clean_plate, person_hole, refine_alpha
from ...poses import Poses
from ...rig import Rig
from ...shadow import FloorShadow
from ..registry import register
from ..spec import Animator
from ..weightless import WeightlessMethod
from .spec import WarpSpec


class WarpAnimator(Animator):
    """The source person rigged as a skinned mesh (``rig.Rig``), posed by each target over the clean
    plate. ``alpha`` holds the drawn person's coverage after each step."""

    def __init__(self) -> None:
        self._rig: Rig | None = None
        self._face: FaceRig | None = None
        self._background: np.ndarray | None = None  # (H, W, 3) float32 in [0, 255]
        self._plate: np.ndarray | None = None  # the same, uint8
        self._shadow: FloorShadow | None = None  # the person's floor shadow, moved with the feet

    def reset(self, source: np.ndarray, pose: Poses, mask: np.ndarray | None = None) -> None:
        """Take the source (H, W, 3) uint8, its one-frame pose in its pixels and the person mask (H, W) in
        [0, 1]; without a mask, the PG2 pose mask (limbs joined and dilated) stands in for it. Raises
        ``PosevidError("source image", ...)`` when the person cannot be rigged (too small, no torso)."""
        from ...render import pose_mask

        height, width = source.shape[:2]
        if (pose.width, pose.height) != (width, height):
            raise ValueError(f"source pose is for {pose.width}x{pose.height}, the image is {width}x{height}")
        if mask is None:
            mask = pose_mask(pose.xy[0], pose.conf[0], height, width)
        self.alpha = None
        if is_face_pose(pose):
            self._rig, self._face = None, FaceRig(source, pose.face_xy[0])
            return
        self._face = None
        mask = np.clip(np.asarray(mask, np.float32), 0.0, 1.0)
        self._rig = Rig.build(source, pose, mask)
        soft = np.maximum(mask, refine_alpha(source, mask))  # with the soft fringes
        plate = clean_plate(source, soft)
        self._shadow = FloorShadow.find(source, soft, plate, pose)
        if self._shadow is not None:  # the plate without the shadow; each frame draws it under the feet
            plate = np.clip(self._shadow.lit + 0.5, 0, 255).astype(np.uint8)
        self._plate, self._background = plate, plate.astype(np.float32)
        self._keys: np.ndarray | None = None  # the depth order of the last frame (it holds against flicker)
        # The plate's hole, each of its pixels with the person's pixel nearest to it (``step``'s stay).
        # (grown: also where the plate fades from its fill to the photo; and the strands of hair it took beyond)
        hole = person_hole(soft) | (plate != source).any(2)
        rows, cols = np.flatnonzero(hole.any(1)), np.flatnonzero(hole.any(0))
        self._hole_box = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1)) if rows.size else None
        if self._hole_box is not None:
            near_y, near_x = nearest_known(mask > 0.5)
            self._hole = hole[self._hole_box]
            self._nearest = (near_y[self._hole_box], near_x[self._hole_box])
            self._photo = source[self._hole_box].astype(np.float32)

    def step(self, target: Poses) -> np.ndarray:
        """The frame (H, W, 3) uint8 of the source person in the one-frame ``target`` pose (source pixels)."""
        if self._face is not None:
            return self._face.render(target.face_xy[0])
        if self._rig is None or self._background is None:
            raise RuntimeError("WarpAnimator.step before reset")
        self._keys = self._rig.depth(target, self._keys)
        person, alpha, stay = self._rig.draw(target, self._keys)
        self.alpha = alpha
        background = self._background
        if self._shadow is not None:
            background = background * self._shadow.shade(target)[..., None]
            out = np.clip(background + 0.5, 0, 255).astype(np.uint8)
        else:
            out = self._plate.copy()  # where nothing is drawn (alpha 0) the plate shows as it is
        rows, cols = np.flatnonzero(alpha.any(1)), np.flatnonzero(alpha.any(0))
        if rows.size:
            box = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
            mixed = person[box] + (1.0 - alpha[box][..., None]) * background[box]
            out[box] = np.clip(mixed + 0.5, 0, 255).astype(np.uint8)
        if self._hole_box is not None and stay.any():
            # Where a piece of the person has not moved, the photo itself shows there and in the plate's
            # hole around it (its soft edge, the fringes the segmenter missed and the background they
            # lie on: the plate's fill is only a guess of that background), unless another piece that
            # moved is drawn over it.
            hb = self._hole_box
            moved_over = alpha[hb] * (1.0 - stay[hb])
            keep = stay[self._nearest] * (1.0 - moved_over) * self._hole
            if keep.any():
                keep = cv2.blur(keep, (3, 3))[..., None]
                mixed = out[hb] * (1.0 - keep) + self._photo * keep
                out[hb] = np.clip(mixed + 0.5, 0, 255).astype(np.uint8)
        return out


@register("warp")
class WarpMethod(WarpSpec, WeightlessMethod):
    """Untrained baseline: the photo's person as a skinned, layered mesh posed by each target (no weights,
    no torch: ``WeightlessMethod``)."""

    def animator(self) -> WarpAnimator:
        """A fresh animator (it holds no weights, only the current source)."""
        return WarpAnimator()
