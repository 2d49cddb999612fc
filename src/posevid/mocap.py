"""Labelled 3D motion capture -> 2D COCO-18 pose sequences.

Readers: BVH (CMU 31-joint cgspeed files, PyMO/Mixamo-style names, MotionBuilder names) and the
DeepMimic ``humanoid3d`` clips (JSON frames of root position + joint quaternions; the skeleton comes
from ``character_humanoid3d.txt``). Local rotations are resampled to the target fps (slerp), forward
kinematics gives 3D joints in metres (y up, floor at y = 0), the body joints map to COCO-18 and the
face joints (nose, eyes, ears) are placed on a head sphere oriented by the head joint. A camera at a
chosen yaw around the subject (0 = facing the subject's initial front) projects them orthographically
or with weak perspective, and the sequence is fitted into a square image.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import PosevidError
from .poses import Poses
from .skeleton import JOINT, NUM_JOINTS

UP = np.array([0.0, 1.0, 0.0])
STANDING_HEIGHT = 1.7  # metres; BVH files of unknown unit are scaled to this rest height
MAX_FRAMES = 100_000  # a clip longer than this (at the requested fps) is refused as malformed
# Face points on the head sphere, in head radii along (forward, up, subject's right).
_FACE = {"nose": (0.95, -0.15, 0.0), "right_eye": (0.8, 0.25, 0.35), "left_eye": (0.8, 0.25, -0.35),
         "right_ear": (-0.1, 0.1, 0.95), "left_ear": (-0.1, 0.1, -0.95)}
# BVH joint names per COCO-18 body joint, tried in order (case-insensitive). Mixamo/PyMO names come
# first because there "LeftShoulder" is the clavicle, while in CMU files it is the shoulder joint.
_BVH_NAMES = {
    "right_shoulder": ("RightArm", "RightUpArm", "rShldr", "RightShoulder"),
    "right_elbow": ("RightForeArm", "RightLowArm", "rForeArm", "RightElbow"),
    "right_wrist": ("RightHand", "rHand", "RightWrist"),
    "right_hip": ("RightUpLeg", "RightUpperLeg", "rThigh", "RightHip"),
    "right_knee": ("RightLeg", "RightLowLeg", "rShin", "RightKnee"),
    "right_ankle": ("RightFoot", "rFoot", "RightAnkle"),
}
_BVH_NAMES.update({k.replace("right", "left"): tuple(re.sub("^Right", "Left", re.sub("^r", "l", n)) for n in v)
                   for k, v in list(_BVH_NAMES.items())})
_DEEPMIMIC_BODY = ("right_shoulder", "right_elbow", "right_wrist", "right_hip", "right_knee", "right_ankle",
                   "left_shoulder", "left_elbow", "left_wrist", "left_hip", "left_knee", "left_ankle")
# DeepMimic frame layout after [dt, root pos(3), root quat(4)]: (joint name, dofs) in file order.
_DEEPMIMIC_DOFS = (("chest", 4), ("neck", 4), ("right_hip", 4), ("right_knee", 1), ("right_ankle", 4),
                   ("right_shoulder", 4), ("right_elbow", 1), ("left_hip", 4), ("left_knee", 1),
                   ("left_ankle", 4), ("left_shoulder", 4), ("left_elbow", 1))


@dataclass
class _Rig:
    """A skeleton with keyframes: J joints in topological order (parents before children).

    offsets (J, 3) in the parent's frame; times (K,) seconds; root (K, 3) root position; rot (K, J, 4)
    local rotations as xyzw quaternions. ``body`` maps COCO-18 body joint names to joint indices;
    ``head`` is the head joint, ``head_center`` the head sphere's centre in its frame, ``radius`` its size.
    """

    names: list[str]
    parents: list[int]
    offsets: np.ndarray
    times: np.ndarray
    root: np.ndarray
    rot: np.ndarray
    body: dict[str, int]
    head: int
    head_center: np.ndarray
    radius: float
    loop: bool = False


@dataclass
class Motion3D:
    """A 3D COCO-18 motion: joints (T, 18, 3) in metres, y up, floor at y = 0; ``fps``; ``label``.

    ``skeleton`` (T, J, 3) holds every joint of the source rig (for checks such as constant bone
    lengths, with ``parents``); ``forward`` (3,) is the subject's horizontal facing direction at frame 0.
    """

    joints: np.ndarray
    fps: float
    label: str
    skeleton: np.ndarray
    parents: list[int]
    forward: np.ndarray


def _rotation():
    """scipy's ``Rotation`` (scipy.spatial is imported on first use: a fifth of a second of every CLI start)."""
    from scipy.spatial.transform import Rotation

    return Rotation


def _slerp():
    """scipy's ``Slerp`` (imported on first use, as ``_rotation``)."""
    from scipy.spatial.transform import Slerp

    return Slerp


def label_from_name(path: str | Path) -> str:
    """The action label in a file name: ``humanoid3d_walk.txt`` -> ``walk``, ``jump.bvh`` -> ``jump``."""
    stem = Path(path).stem.lower()
    return stem.removeprefix("humanoid3d_")


# ----------------------------------------------------------------------------------------------- readers
def _parse_bvh(path: Path) -> _Rig:
    text = path.read_text(errors="replace")
    head, sep, motion = text.partition("MOTION")
    if not sep or "ROOT" not in head:
        raise PosevidError(path, "not a BVH file (no HIERARCHY/ROOT or MOTION section)")
    tokens = head.split()
    names: list[str] = []
    parents: list[int] = []
    offsets: list[list[float]] = []
    channels: list[list[str]] = []
    stack: list[int] = []
    pending = -1
    i = 0
    try:
        while i < len(tokens):
            tok = tokens[i]
            if tok in ("ROOT", "JOINT", "End"):
                name = tokens[i + 1] if tok != "End" else f"{names[stack[-1]]}_end"
                names.append(name)
                parents.append(stack[-1] if stack else -1)
                offsets.append([0.0, 0.0, 0.0])
                channels.append([])
                pending = len(names) - 1
                i += 2
            elif tok == "{":
                stack.append(pending)
                i += 1
            elif tok == "}":
                stack.pop()
                i += 1
            elif tok == "OFFSET":
                offsets[stack[-1]] = [float(v) for v in tokens[i + 1:i + 4]]
                i += 4
            elif tok == "CHANNELS":
                n = int(tokens[i + 1])
                if not 0 <= n <= 6 or len(tokens) < i + 2 + n:
                    raise PosevidError(path, f"CHANNELS {tokens[i + 1]} of joint {names[stack[-1]]!r}: a joint has "
                                             "0 to 6 channels, each named")
                channels[stack[-1]] = tokens[i + 2:i + 2 + n]
                i += 2 + n
            else:
                i += 1
        lines = motion.strip().splitlines()
        n_frames = int(lines[0].split(":")[1])
        dt = float(lines[1].split(":")[1])
        data = np.array([[float(v) for v in ln.split()] for ln in lines[2:2 + n_frames] if ln.strip()])
    except (ValueError, IndexError) as err:
        raise PosevidError(path, f"malformed BVH ({err})") from None
    n_ch = sum(len(c) for c in channels)
    if data.ndim != 2 or data.shape[1] != n_ch or len(data) < 2:
        raise PosevidError(path, f"BVH motion has shape {data.shape}, expected (frames >= 2, {n_ch})")
    K, J = len(data), len(names)
    root = np.zeros((K, 3))
    rot = np.zeros((K, J, 4))
    col = 0
    for j, chans in enumerate(channels):
        block = data[:, col:col + len(chans)]
        col += len(chans)
        angles = [(c[0].upper(), block[:, k]) for k, c in enumerate(chans) if c.lower().endswith("rotation")]
        for k, c in enumerate(chans):
            if c.lower().endswith("position") and j == 0:
                root[:, "xyz".index(c[0].lower())] = block[:, k]
        if angles:
            order = "".join(a for a, _ in angles)  # uppercase = intrinsic, BVH's convention
            rot[:, j] = _rotation().from_euler(order, np.stack([v for _, v in angles], 1), degrees=True).as_quat()
        else:
            rot[:, j] = (0, 0, 0, 1)
    if not any(c.lower().endswith("position") for c in channels[0]):
        root[:] = offsets[0]
    lower = {n.lower(): j for j, n in enumerate(names)}
    body = {}
    for coco, options in _BVH_NAMES.items():
        found = [lower[o.lower()] for o in options if o.lower() in lower]
        if not found:
            raise PosevidError(path, f"no joint for {coco} (looked for {', '.join(options)})")
        body[coco] = found[0]
    if "head" not in lower:
        raise PosevidError(path, "no Head joint")
    head = lower["head"]
    end = [j for j, p in enumerate(parents) if p == head]
    center = np.asarray(offsets[end[0]]) / 2 if end else np.array([0.0, 0.0, 0.0])
    rig = _Rig(names, parents, np.asarray(offsets, float), np.arange(K) * dt, root, rot, body, head, center, 0.0)
    _to_metres(rig, path)
    return rig


def _to_metres(rig: _Rig, path: Path) -> None:
    """Scale a BVH rig of unknown unit so its rest pose stands ``STANDING_HEIGHT`` tall; head radius from it."""
    rest = _fk(rig.offsets, rig.parents, np.zeros((1, 3)), np.tile([0.0, 0, 0, 1], (1, len(rig.names), 1)))[0][0]
    height = float(rest[:, 1].max() - rest[:, 1].min())
    if height <= 0:
        raise PosevidError(path, "the rest pose has no height (all joints at one level)")
    s = STANDING_HEIGHT / height
    rig.offsets *= s
    rig.root *= s
    rig.head_center *= s
    rig.radius = 0.065 * STANDING_HEIGHT


def _parse_deepmimic(path: Path, character: Path) -> _Rig:
    try:
        clip = json.loads(path.read_text())
        frames = np.asarray(clip["Frames"], float)
    except (ValueError, KeyError, TypeError) as err:
        raise PosevidError(path, f"not a DeepMimic motion file ({err})") from None
    try:
        joints = json.loads(character.read_text())["Skeleton"]["Joints"]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise PosevidError(character, f"not a DeepMimic character file ({err})") from None
    width = 8 + sum(d for _, d in _DEEPMIMIC_DOFS)
    if frames.ndim != 2 or frames.shape[1] != width or len(frames) < 2:
        raise PosevidError(path, f"DeepMimic frames have shape {frames.shape}, expected (frames >= 2, {width})")
    try:
        names = [str(j["Name"]) for j in joints]
        parents = [int(j["Parent"]) for j in joints]
        offsets = np.array([[j["AttachX"], j["AttachY"], j["AttachZ"]] for j in joints], float)
    except (ValueError, KeyError, TypeError, IndexError, OverflowError) as err:
        raise PosevidError(character, f"not a DeepMimic character file ({err!r})") from None
    if (not names or names[0] != "root" or any(n not in names for n, _ in _DEEPMIMIC_DOFS)
            or any(not -1 <= p < j for j, p in enumerate(parents)) or not np.isfinite(offsets).all()):
        raise PosevidError(character, "skeleton does not match the humanoid3d joints")
    K = len(frames)
    rot = np.tile([0.0, 0, 0, 1], (K, len(names), 1))
    wxyz = frames[:, 4:8]
    rot[:, 0] = np.concatenate([wxyz[:, 1:], wxyz[:, :1]], 1)
    col = 8
    for name, dofs in _DEEPMIMIC_DOFS:
        block = frames[:, col:col + dofs]
        col += dofs
        j = names.index(name)
        if dofs == 4:
            rot[:, j] = np.concatenate([block[:, 1:], block[:, :1]], 1)
        else:  # revolute joints turn about their z axis
            rot[:, j] = _rotation().from_rotvec(np.outer(block[:, 0], [0, 0, 1])).as_quat()
    norms = np.linalg.norm(rot, axis=-1, keepdims=True)
    if (norms < 1e-6).any():
        raise PosevidError(path, "a joint rotation quaternion is zero")
    body = {n: names.index(n) for n in _DEEPMIMIC_BODY}
    times = np.concatenate([[0.0], np.cumsum(frames[:-1, 0])])
    return _Rig(names, parents, offsets, times, frames[:, 1:4].copy(), rot / norms,
                body, names.index("neck"), np.array([0.0, 0.175, 0.0]), 0.1025, clip.get("Loop") == "wrap")


# ----------------------------------------------------------------------------------------- kinematics
def _fk(offsets: np.ndarray, parents: list[int], root: np.ndarray, rot: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Forward kinematics: positions (T, J, 3) and global rotation matrices (T, J, 3, 3)."""
    T, J = rot.shape[:2]
    local = _rotation().from_quat(rot.reshape(-1, 4)).as_matrix().reshape(T, J, 3, 3)
    pos = np.zeros((T, J, 3))
    glob = np.zeros((T, J, 3, 3))
    for j, p in enumerate(parents):
        if p < 0:
            pos[:, j] = root
            glob[:, j] = local[:, j]
        else:
            pos[:, j] = pos[:, p] + np.einsum("tij,j->ti", glob[:, p], offsets[j])
            glob[:, j] = glob[:, p] @ local[:, j]
    return pos, glob


def _heading(rot_root: np.ndarray) -> np.ndarray:
    """Yaw angle (radians, about +y) of the root's x axis for quaternions (K, 4)."""
    x = _rotation().from_quat(rot_root).apply([1.0, 0, 0])
    return np.arctan2(x[:, 2], x[:, 0])


def _loop(rig: _Rig, cycles: int) -> None:
    """Repeat a wrap-around clip ``cycles`` times; each cycle continues from where the last one ended."""
    if cycles <= 1:
        return
    turn = _heading(rig.rot[-1:, 0])[0] - _heading(rig.rot[:1, 0])[0]
    r0 = rig.root[0] * [1, 0, 1]
    times, roots, rots = [rig.times], [rig.root], [rig.rot]
    for c in range(1, cycles):
        step = _rotation().from_rotvec([0, -turn * c, 0])  # DeepMimic heading increases clockwise about y
        prev_end = roots[-1][-1] * [1, 0, 1]
        root = step.apply(rig.root[1:] - r0) + prev_end
        rot = rig.rot[1:].copy()
        rot[:, 0] = (step * _rotation().from_quat(rig.rot[1:, 0])).as_quat()
        times.append(rig.times[1:] + rig.times[-1] * c)
        roots.append(root)
        rots.append(rot)
    rig.times, rig.root, rig.rot = np.concatenate(times), np.concatenate(roots), np.concatenate(rots)


def _resample(rig: _Rig, fps: float) -> None:
    """Resample keyframes to ``fps``: slerp for rotations, linear for the root position."""
    count = int(np.floor(rig.times[-1] * fps + 0.01)) + 1  # tolerate frame times rounded in the file
    new = np.minimum(np.arange(count) / fps, rig.times[-1])
    rot = np.zeros((len(new), rig.rot.shape[1], 4))
    for j in range(rig.rot.shape[1]):
        rot[:, j] = _slerp()(rig.times, _rotation().from_quat(rig.rot[:, j]))(new).as_quat()
    rig.root = np.stack([np.interp(new, rig.times, rig.root[:, k]) for k in range(3)], 1)
    rig.rot, rig.times = rot, new


def _coco18(rig: _Rig, pos: np.ndarray, glob: np.ndarray) -> np.ndarray:
    """(T, 18, 3) COCO-18 joints: body joints from the rig, neck = mid-shoulders, face on the head sphere."""
    out = np.zeros((len(pos), NUM_JOINTS, 3))
    for name, j in rig.body.items():
        out[:, JOINT[name]] = pos[:, j]
    out[:, JOINT["neck"]] = (out[:, JOINT["right_shoulder"]] + out[:, JOINT["left_shoulder"]]) / 2
    rest, _ = _fk(rig.offsets, rig.parents, np.zeros((1, 3)), np.tile([0.0, 0, 0, 1], (1, len(rig.names), 1)))
    right = rest[0, rig.body["right_shoulder"]] - rest[0, rig.body["left_shoulder"]]
    right = right - right @ UP * UP
    right /= np.linalg.norm(right)
    forward = np.cross(UP, right)
    g = glob[:, rig.head]
    center = pos[:, rig.head] + g @ rig.head_center
    axes = [g @ forward, g @ UP, g @ right]
    for name, coef in _FACE.items():
        out[:, JOINT[name]] = center + rig.radius * sum(c * a for c, a in zip(coef, axes))
    return out


def _facing(joints: np.ndarray) -> np.ndarray:
    """Horizontal unit facing direction (3,) of the first frame, from the hips and shoulders."""
    right = (joints[0, JOINT["right_hip"]] - joints[0, JOINT["left_hip"]]
             + joints[0, JOINT["right_shoulder"]] - joints[0, JOINT["left_shoulder"]])
    f = np.cross(UP, right)
    f[1] = 0
    n = np.linalg.norm(f)
    return f / n if n > 1e-9 else np.array([0.0, 0.0, 1.0])


def load_motion3d(path: str | Path, fps: float | None = 30.0, character: str | Path | None = None,
                  min_frames: int = 0, label: str | None = None) -> Motion3D:
    """Read a BVH or DeepMimic clip and return its COCO-18 3D motion resampled to ``fps`` (None: the file's).

    DeepMimic files need their character (``character_humanoid3d.txt``; by default looked for beside the
    clip). Wrap-around DeepMimic clips are repeated until they have at least ``min_frames`` frames.
    The label defaults to ``label_from_name(path)``.
    """
    path = Path(path)
    if not path.is_file():
        raise PosevidError(path, "no such file")
    if fps is not None and fps <= 0:
        raise PosevidError(path, f"fps must be positive, got {fps}")
    try:
        return _load_motion3d(path, fps, character, min_frames, label)
    except (ValueError, TypeError, KeyError, IndexError, OverflowError, ZeroDivisionError, UnicodeError) as err:
        raise PosevidError(path, f"malformed motion data ({type(err).__name__}: {err})") from None


def _check_rig(rig: _Rig, path: Path, fps: float | None) -> None:
    """Finite numbers, increasing frame times, and at most ``MAX_FRAMES`` frames at ``fps`` (None: the file's)."""
    if not all(np.isfinite(a).all() for a in (rig.offsets, rig.times, rig.root, rig.rot)):
        raise PosevidError(path, "the motion holds NaN or infinite numbers")
    step = np.diff(rig.times)
    if not (step > 0).all():
        raise PosevidError(path, "frame times must be positive")
    if fps is not None and rig.times[-1] * fps + 1 > MAX_FRAMES:
        raise PosevidError(path, f"the motion lasts {rig.times[-1]:.4g} s: over {MAX_FRAMES} frames at {fps:g} fps")


def _load_motion3d(path: Path, fps: float | None, character: str | Path | None, min_frames: int,
                   label: str | None) -> Motion3D:
    if path.suffix.lower() == ".bvh":
        rig = _parse_bvh(path)
    else:
        char = Path(character) if character else path.with_name("character_humanoid3d.txt")
        if not char.is_file():
            raise PosevidError(char, "DeepMimic character file not found (give it with character=)")
        rig = _parse_deepmimic(path, char)
    native = fps is None
    _check_rig(rig, path, fps)
    fps = fps or round(1.0 / float(np.median(np.diff(rig.times))), 3)
    if not 0 < fps < 1e5:
        raise PosevidError(path, f"frame rate {fps:g} fps is out of range")
    if rig.loop and min_frames:
        _loop(rig, int(np.ceil(min_frames / max(rig.times[-1] * fps, 1.0))))
    if not native:
        _resample(rig, fps)
    pos, glob = _fk(rig.offsets, rig.parents, rig.root, rig.rot)
    joints = _coco18(rig, pos, glob)
    if path.suffix.lower() == ".bvh":  # unknown floor: the lowest foot point, robust to outliers
        feet = [j for j in range(len(rig.names)) if _below(rig.parents, j, {rig.body["right_ankle"],
                                                                          rig.body["left_ankle"]})]
        floor = float(np.percentile(pos[:, feet, 1].min(1), 2))
        joints[..., 1] -= floor
        pos[..., 1] -= floor
    return Motion3D(joints.astype(np.float32), float(fps), label or label_from_name(path),
                    pos.astype(np.float32), rig.parents, _facing(joints))


def _below(parents: list[int], j: int, roots: set[int]) -> bool:
    """Whether joint ``j`` is one of ``roots`` or a descendant of one."""
    while j >= 0:
        if j in roots:
            return True
        j = parents[j]
    return False


# ----------------------------------------------------------------------------------------- projection
def project(motion: Motion3D, yaw: float = 0.0, projection: str = "orthographic", distance: float = 4.0) -> np.ndarray:
    """Project onto the image plane of a camera at ``yaw`` degrees around the subject.

    yaw 0 faces the subject's front at frame 0, 90 looks at its left side. Returns (T, 18, 2) in metres
    (x right, y down, origin at the first frame's root). ``projection`` is "orthographic" or "weak"
    (weak perspective: each frame scaled by distance / depth of its root, camera ``distance`` m away).
    """
    if projection not in ("orthographic", "weak"):
        raise ValueError(f"unknown projection {projection!r}; use orthographic or weak")
    a = np.deg2rad(yaw)
    toward_camera = _rotation().from_rotvec(UP * a).apply(motion.forward)
    view = -toward_camera
    right = np.cross(view, UP)
    hips = (motion.joints[:, JOINT["right_hip"]] + motion.joints[:, JOINT["left_hip"]]) / 2
    p = motion.joints - hips[:1, None]
    xy = np.stack([p @ right, -(p @ UP)], -1)
    if projection == "weak":
        depth = distance + (hips - hips[:1]) @ view
        xy = xy * (distance / np.maximum(depth, 0.1 * distance))[:, None, None]
    return xy.astype(np.float32)


def chain_length(joints: np.ndarray) -> float:
    """Median nose-neck-hip-knee-ankle chain length of (T, 18, 2 or 3) joints (``poses.body_height`` in 3D)."""
    segs = [((0, 1),), ((1, 8), (1, 11)), ((8, 9), (11, 12)), ((9, 10), (12, 13))]
    total = sum(np.mean([np.linalg.norm(joints[:, a] - joints[:, b], axis=-1) for a, b in pairs], 0) for pairs in segs)
    return float(np.median(total))


def fit(xy: np.ndarray, height: float, fill: float = 0.5, margin: float = 0.05) -> np.ndarray:
    """Fit 2D sequences (..., T, J, 2) into the square [-1, 1]^2, one scale and shift per sequence.

    A body ``height`` (input units; the nose-to-ankle chain, see ``chain_length``) spans ``fill`` of the
    square's side, centred on the sequence's bounding box; the scale shrinks when the sequence would
    leave [-1 + margin, 1 - margin].
    """
    lo, hi = xy.min(axis=(-3, -2), keepdims=True), xy.max(axis=(-3, -2), keepdims=True)
    extent = (hi - lo).max(axis=-1, keepdims=True)
    scale = np.minimum(2 * fill / height, 2 * (1 - margin) / np.maximum(extent, 1e-6))
    return ((xy - (lo + hi) / 2) * scale).astype(np.float32)


def load_mocap(path: str | Path, yaw: float = 0.0, fps: float | None = 30.0, size: int = 256,
               projection: str = "orthographic", character: str | Path | None = None,
               label: str | None = None) -> tuple[Poses, str]:
    """A mocap clip as 2D COCO-18 ``Poses`` in a ``size`` x ``size`` image, and its action label.

    Every joint is present (confidence 1); the whole clip is fitted into the image (see ``fit``).
    """
    motion = load_motion3d(path, fps, character, label=label)
    height = chain_length(motion.joints)
    if not height > 0:
        raise PosevidError(path, "the body has no height (nose, hips and ankles coincide)")
    xy = fit(project(motion, yaw, projection), height)
    pix = (xy + 1) / 2 * size - 0.5
    if not np.isfinite(pix).all():
        raise PosevidError(path, "the projected motion holds NaN or infinite coordinates")
    return Poses(pix, np.ones(pix.shape[:2], np.float32), size, size, motion.fps), motion.label


def read_bvh(path: str | Path, yaw: float = 0.0, size: int = 256) -> Poses:
    """A BVH file as 2D COCO-18 ``Poses`` at the file's frame rate, seen from ``yaw`` (see ``load_mocap``)."""
    return load_mocap(path, yaw, fps=None, size=size)[0]
