"""Faces as a pose: the 68 iBUG landmarks (``Poses.face_xy``), their geometry and their retargeting.

A face is animated relative to the driver's first frame, as first-order-model's relative mode does for
faces: the driver's head motion (a similarity: turn, scale, shift, fitted on the rigid landmarks: nose
and eye corners) and its expression (each landmark's offset from the first frame once the head motion is
taken out, in units of the inter-ocular distance) are applied to the portrait's own landmarks, so the
portrait keeps its face shape. All coordinates are pixels (x right, y down).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from .errors import PosevidError
from .poses import Poses

SUBJECTS: tuple[str, ...] = ("auto", "body", "face")
# Landmarks that move with the skull, not with the expression: nose bridge and tip, the eyes' corners.
RIGID = (27, 28, 29, 30, 31, 33, 35, 36, 39, 42, 45)
OUTER_EYE_CORNERS = (36, 45)  # the inter-ocular distance of 300-W (outer corners)
INNER_LIPS = tuple(range(60, 68))
HEAD_SCALE = (0.9, 1.1)  # the driver's head may grow or shrink this much in the portrait,
HEAD_TURN = np.radians(25.0)  # turn this much in the image plane
HEAD_SHIFT = 0.35  # and move this many of the portrait's inter-ocular distances
CLOSEUP_FACE_HEIGHT = 0.25  # a face at least this fraction of the frame's height makes a close-up


def inter_ocular(face_xy: np.ndarray) -> np.ndarray:
    """(..., 68, 2) landmarks -> (...,) the distance between the outer eye corners, in pixels."""
    xy = np.asarray(face_xy, np.float64)
    return np.linalg.norm(xy[..., OUTER_EYE_CORNERS[0], :] - xy[..., OUTER_EYE_CORNERS[1], :], axis=-1)


def found(poses: Poses) -> np.ndarray:
    """(T,) bool: frames where the face was found (most landmarks have confidence)."""
    if poses.face_conf is None:
        return np.zeros(len(poses), bool)
    return (poses.face_conf > 0).mean(1) > 0.9


def is_face_pose(poses: Poses) -> bool:
    """Whether the one-frame ``poses`` are a face pose: the face found and no body joint (a face close-up)."""
    return bool(found(poses)[0]) and not (poses.conf[0] > 0).any()


def face_only(poses: Poses) -> Poses:
    """``poses`` as a face pose: the body joints dropped (confidence 0), the face kept."""
    return dataclasses.replace(poses, xy=np.zeros_like(poses.xy), conf=np.zeros_like(poses.conf),
                               z=None if poses.z is None else np.zeros_like(poses.z), hand_xy=None, hand_conf=None)


def fit_similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The (2, 3) similarity (turn, uniform scale, shift) taking (N, 2) ``src`` closest to ``dst`` in the
    least-squares sense (Umeyama, no reflection)."""
    src, dst = np.asarray(src, np.float64), np.asarray(dst, np.float64)
    ms, md = src.mean(0), dst.mean(0)
    a, b = src - ms, dst - md
    var = (a ** 2).sum()
    if var < 1e-12:
        return np.array([[1.0, 0.0, md[0] - ms[0]], [0.0, 1.0, md[1] - ms[1]]])
    # Complex least squares: b ~ z a with z = s e^{i theta}.
    ac, bc = a[:, 0] + 1j * a[:, 1], b[:, 0] + 1j * b[:, 1]
    z = (np.conj(ac) * bc).sum() / var
    lin = np.array([[z.real, -z.imag], [z.imag, z.real]])
    return np.concatenate([lin, (md - lin @ ms)[:, None]], 1)


def apply(affine: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """(2, 3) affine applied to (..., 2) points."""
    return np.asarray(xy, np.float64) @ affine[:, :2].T + affine[:, 2]


def retarget_face(reference: np.ndarray, current: np.ndarray, source: np.ndarray,
                  expression: float = 1.0) -> np.ndarray:
    """The portrait's (68, 2) landmarks moved as the driver's moved from ``reference`` to ``current``.

    reference, current: (68, 2) the driver's landmarks in its first frame and now; source: (68, 2) the
    portrait's. The driver's head motion (a similarity fitted on ``RIGID``) turns and scales the portrait's
    face by the same angle and factor about its own centre and shifts it by the driver's shift scaled to the
    portrait (ratio of inter-ocular distances); the expression (``current`` with the head motion undone,
    minus ``reference``) is added in the portrait's face frame, scaled by that ratio and by ``expression``.
    """
    reference, current, source = (np.asarray(a, np.float64) for a in (reference, current, source))
    motion = fit_similarity(reference[list(RIGID)], current[list(RIGID)])
    undone = apply(_invert(motion), current) - reference  # the expression, in the driver's first frame
    motion = _limit(motion, reference[list(RIGID)])
    # The portrait's face frame against the driver's first frame (turn and scale between the two faces).
    between = fit_similarity(reference[list(RIGID)], source[list(RIGID)])
    local = source + expression * undone @ between[:, :2].T
    lin = motion[:, :2]
    centre_ref = reference[list(RIGID)].mean(0)
    centre_src = source[list(RIGID)].mean(0)
    shift = apply(motion, centre_ref) - centre_ref  # the driver's head shift, in its pixels
    shift = between[:, :2] @ shift  # turned and scaled into the portrait
    limit = HEAD_SHIFT * float(inter_ocular(source))
    shift *= min(1.0, limit / max(float(np.linalg.norm(shift)), 1e-9))
    return (local - centre_src) @ lin.T + centre_src + shift


def _limit(motion: np.ndarray, points: np.ndarray) -> np.ndarray:
    """The head motion with its scale kept within ``HEAD_SCALE`` and its turn within ``HEAD_TURN`` (a 2D
    warp cannot show more; the rest would only stretch the portrait), about the centre of ``points``."""
    scale = float(np.hypot(*motion[:, 0]))
    angle = float(np.arctan2(motion[1, 0], motion[0, 0]))
    scale, angle = float(np.clip(scale, *HEAD_SCALE)), float(np.clip(angle, -HEAD_TURN, HEAD_TURN))
    lin = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    centre = points.mean(0)
    moved = apply(motion, centre)
    return np.concatenate([lin, (moved - lin @ centre)[:, None]], 1)


def _invert(affine: np.ndarray) -> np.ndarray:
    lin = np.linalg.inv(affine[:, :2])
    return np.concatenate([lin, (-lin @ affine[:, 2])[:, None]], 1)


def retarget_face_frame(reference: Poses, current: Poses, source: Poses, expression: float = 1.0) -> Poses:
    """``source`` (one frame with a face) with its face landmarks moved as the driver's face moved from
    ``reference`` to ``current`` (``retarget_face``); a frame without the face keeps the source's."""
    if not (found(reference)[0] and found(current)[0] and found(source)[0]):
        return source
    xy = retarget_face(reference.face_xy[0], current.face_xy[0], source.face_xy[0], expression)
    return dataclasses.replace(source, face_xy=xy[None].astype(np.float32),
                               face_conf=np.ones_like(source.face_conf))


FOREHEAD = 0.55  # the forehead row: this many inter-ocular distances above the brows


def forehead(face_xy: np.ndarray) -> np.ndarray:
    """(10, 2) points of the forehead, above the brows (17-26) along the chin-to-nose-bridge direction; the
    iBUG landmarks stop at the brows."""
    xy = np.asarray(face_xy, np.float64)
    up = xy[27] - xy[8]
    up = up / max(float(np.linalg.norm(up)), 1e-6)
    return xy[17:27] + FOREHEAD * float(inter_ocular(xy)) * up


def face_mask(face_xy: np.ndarray, height: int, width: int) -> np.ndarray:
    """(H, W) float32 mask in {0, 1} of the face: the convex hull of the landmarks and the forehead."""
    import cv2

    hull = cv2.convexHull(np.concatenate([face_xy, forehead(face_xy)]).astype(np.float32))[:, 0]
    mask = np.zeros((height, width), np.uint8)
    cv2.fillPoly(mask, [np.round(hull).astype(np.int32)], 1)
    return mask.astype(np.float32)


def face_box(face_xy: np.ndarray) -> np.ndarray:
    """(68, 2) landmarks -> (4,) the box (x0, y0, x1, y1) of the whole head: the landmarks' box grown up by
    the forehead (the iBUG points stop at the brows)."""
    xy = np.asarray(face_xy, np.float64)
    x0, y0 = xy.min(0)
    x1, y1 = xy.max(0)
    return np.array([x0, y0 - 0.35 * (y1 - y0), x1, y1])


def face_region(pose: Poses) -> np.ndarray | None:
    """(x0, y0, x1, y1) of the head in one frame: the face's box (forehead included) grown by a quarter of its
    size each side (hair, ears, chin); None without a face."""
    if not found(pose)[0]:
        return None
    x0, y0, x1, y1 = face_box(pose.face_xy[0])
    gx, gy = 0.25 * (x1 - x0), 0.25 * (y1 - y0)
    return np.array([x0 - gx, y0 - gy, x1 + gx, y1 + gy])


def is_closeup(poses: Poses) -> bool:
    """Whether the one-frame ``poses`` (with a face) show a face close-up: the face found and at least
    ``CLOSEUP_FACE_HEIGHT`` of the frame's height, or found with no hip in view (head and shoulders)."""
    if not found(poses)[0]:
        return False
    return face_height_share(poses) >= CLOSEUP_FACE_HEIGHT or not full_body(poses)


def check_subject(subject: str) -> str:
    """``subject`` if it is one of ``SUBJECTS``, else a one-line ``PosevidError``."""
    if subject not in SUBJECTS:
        raise PosevidError(f"subject {subject}", f"must be one of {', '.join(SUBJECTS)}")
    return subject


def face_height_share(poses: Poses) -> float:
    """The one-frame face's height (forehead included, ``face_box``) as a share of the frame's; 0 without a face."""
    if not found(poses)[0]:
        return 0.0
    box = face_box(poses.face_xy[0])
    return float((box[3] - box[1]) / poses.height)


def full_body(poses: Poses) -> bool:
    """Whether the one-frame ``poses`` show a body down to the hips at least (not a head and shoulders)."""
    return bool((poses.conf[0, [8, 11]] > 0.3).any())


def wants_face(subject: str, photo: Poses, driver: Poses | None = None, where: str = "source image") -> bool:
    """Whether to animate the photo's face rather than its body.

    subject: ``face``, ``body`` or ``auto``; photo: its one-frame body pose with ``face_xy`` from the face
    mesh; driver: the driving input's first frame, its body pose with ``face_xy`` from the face mesh, when
    known. ``auto`` picks the face when the photo's face is found and either the photo is a face close-up
    (``is_closeup``) and the driver does not show a body down to the hips, or the driver is a face close-up.
    ``face`` without a face in the photo raises ``PosevidError(where, ...)``.
    """
    check_subject(subject)
    if subject == "body":
        return False
    if not found(photo)[0]:
        if subject == "face":
            raise PosevidError(where, "no face found in the photo (--subject body animates the body)")
        return False
    if subject == "face":
        return True
    if driver is None:
        return is_closeup(photo)
    if face_height_share(driver) >= CLOSEUP_FACE_HEIGHT:
        return True
    return is_closeup(photo) and not full_body(driver)


class FaceTargets:
    """The target face pose of each driving frame, streaming: the portrait's face (``source``, a face pose)
    moved as the driver's face moved since the first driving frame where it was found (``retarget_face``).

    ``smoother``: a causal filter of one-frame ``Poses`` (e.g. the pipeline's one-euro filter, in units of the
    portrait's inter-ocular distance) run over the 68 landmarks. Calling with a driving frame's pose gives
    the target, or None before the driver's face was first seen; a frame without the face keeps the last.
    """

    def __init__(self, source: Poses, smoother=None):
        self.source, self.smoother = source, smoother
        self.reference: Poses | None = None
        self.last: Poses | None = None

    def __call__(self, pose: Poses) -> Poses | None:
        if self.reference is None and found(pose)[0]:
            self.reference = pose
        if self.reference is None or not found(pose)[0]:
            return self.last
        target = retarget_face_frame(self.reference, pose, self.source)
        if self.smoother is not None:
            s = target
            face = self.smoother(Poses(s.face_xy, s.face_conf, s.width, s.height, s.fps))
            target = dataclasses.replace(target, face_xy=face.xy, face_conf=face.conf)
        self.last = target
        return target
