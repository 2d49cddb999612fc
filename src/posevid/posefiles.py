"""Pose files: read and write ``Poses`` as native ``.npz``, OpenPose JSON, COCO keypoint JSON or the
PG2/PATN/Deformable-GAN annotation CSV; ``.bvh`` motion capture is handed to ``posevid.mocap``.

Formats (picked from the path when ``fmt`` is None):

- ``npz``: arrays ``xy (T, J, 2)``, ``conf (T, J)``, ``size [width, height]``, ``fps``, and when the
  poses have them ``z``, ``hand_xy``, ``hand_conf``, ``face_xy``, ``face_conf``, ``foot_xy``, ``foot_conf``
  (see ``Poses``); lossless.
- ``openpose``: a folder of per-frame ``*_keypoints.json`` files (or one such file), each with a
  ``people`` list holding ``pose_keypoints_2d`` = [x, y, c] * 18 (COCO-18) or * 25 (BODY_25, read only),
  and optionally ``hand_left_keypoints_2d`` / ``hand_right_keypoints_2d`` ([x, y, c] * 21) and
  ``face_keypoints_2d`` ([x, y, c] * 70 as OpenPose writes, the last two being the right and left
  pupils, or * 68 as DWPose writes; read as the 68 iBUG points; written as 70 with each pupil at the
  centre of its eye's contour). The person with the highest total body confidence is kept. The image
  size is written as ``canvas_width`` / ``canvas_height`` (as the OpenPose editors do); files without
  it need ``size``. Depth (``z``) is not stored.
- ``coco``: a COCO keypoint JSON (``images``, ``annotations`` with 17 [x, y, v] keypoints,
  ``categories``); one image per frame, ordered by image id; the neck is the mid-shoulder point.
  Visibility v > 0 reads as confidence 1; confidence > 0 writes as v = 2. The COCO-WholeBody layout
  is read and written too: ``lefthand_kpts`` / ``righthand_kpts`` (21 [x, y, v]), ``face_kpts``
  (68), ``foot_kpts`` (6; written as missing, not read), with ``*_valid`` flags and ``*_box`` boxes;
  an annotation whose ``keypoints`` hold all 133 whole-body points (DWPose's order) is read as well.
- ``pg2``: ``name:keypoints_y:keypoints_x`` rows with COCO-18 lists of integer pixels, -1 for a
  missing joint (PG2, PATN, Deformable GAN). It stores no image size: ``size`` if given, else the
  dataset's (64x128 when the file name says ``market``, 176x256 otherwise), grown to hold all points.
- ``bvh`` and ``deepmimic`` (read only): motion capture (BVH, or DeepMimic's JSON ``.txt`` with its
  character file beside it), projected to 2D by ``posevid.mocap`` (front view, 256 x 256, 30 fps for
  DeepMimic, the file's rate for BVH).
"""

from __future__ import annotations

import contextlib
import csv
import importlib
import json
import math
import re
import shutil
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from .errors import PosevidError
from .io_utils import NUMPY_LOAD_ERRORS, atomic_path
from .poses import Poses, check_fps
from .skeleton import (
    FACE_POINTS,
    HAND_POINTS,
    NUM_JOINTS,
    WHOLEBODY_POINTS,
    WHOLEBODY_SLICES,
    coco18_to_coco17,
    to_coco18,
)

FORMATS = ("npz", "openpose", "coco", "pg2", "bvh", "deepmimic")
ACCEPTED = ".npz, OpenPose or COCO .json, PG2 .csv, .bvh, DeepMimic .txt or a folder of OpenPose JSON"
DEFAULT_FPS = 30.0
MAX_SIDE = 65536  # larger image sizes in a pose file are refused as malformed
MAX_COORD = 16 * MAX_SIDE  # keypoints farther out (in pixels) are refused as malformed
PG2_HEADER = "name:keypoints_y:keypoints_x"
COCO17_NAMES = ("nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
                "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip",
                "left_knee", "right_knee", "left_ankle", "right_ankle")
COCO17_SKELETON = ((16, 14), (14, 12), (17, 15), (15, 13), (12, 13), (6, 12), (7, 13), (6, 7), (6, 8),
                   (7, 9), (8, 10), (9, 11), (2, 3), (1, 2), (1, 3), (2, 4), (3, 5), (4, 6), (5, 7))
_OPENPOSE_LAYOUTS = {18 * 3: "coco18", 25 * 3: "body25"}
_EXTRA_ARRAYS = ("z", "hand_xy", "hand_conf", "face_xy", "face_conf", "foot_xy", "foot_conf")  # optional npz arrays
_OPENPOSE_HANDS = ("hand_left_keypoints_2d", "hand_right_keypoints_2d")  # in ``HAND_SIDES`` order
_COCO_HANDS = ("lefthand", "righthand")
OPENPOSE_FACE_POINTS = 70  # the 68 iBUG landmarks, then the right and left pupils

Size = tuple[int, int]


def detect_format(path: str | Path, *, writing: bool = False) -> str:
    """The format of ``path`` from its suffix; for reading ``.json``, from its content (OpenPose or COCO).

    A folder (or, for writing, a path without suffix) is OpenPose; a ``.json`` written is COCO.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if path.is_dir() or (writing and not suffix):
        return "openpose"
    if suffix in (".npz", ".csv", ".bvh"):
        return {".npz": "npz", ".csv": "pg2", ".bvh": "bvh"}[suffix]
    if suffix == ".txt" and not writing and path.is_file():
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError, RecursionError):
            data = None
        if isinstance(data, dict) and "Frames" in data:
            return "deepmimic"
        raise PosevidError(path, "a .txt pose file must be a DeepMimic motion (JSON with 'Frames'), and this is "
                                 f"not one; accepted pose files: {ACCEPTED}")
    if suffix == ".json" and writing:
        return "coco"
    if (suffix and suffix != ".json") or writing:
        also = "" if writing else ", DeepMimic .txt"
        raise PosevidError(path, f"unknown pose file type {suffix or '(no suffix)'!r}; use .npz, .json, .csv, "
                                 f".bvh{also} or a folder{'' if writing else ' of OpenPose JSON'}, or give the format")
    if suffix == ".json" and path.is_file():
        with _reading(path, "JSON"):
            data = json.loads(path.read_text())
        if isinstance(data, dict) and "people" in data:
            return "openpose"
        if isinstance(data, dict) and "annotations" in data:
            return "coco"
        raise PosevidError(path, "JSON is neither OpenPose (no 'people') nor COCO keypoints (no 'annotations')")
    if not path.exists():
        raise PosevidError(path, "no such pose file or folder")
    raise PosevidError(path, f"unknown pose file type {suffix or '(no suffix)'!r}; use {ACCEPTED}, or give the format")


def read_poses(path: str | Path, fmt: str | None = None, *, size: Size | None = None,
               fps: float | None = None) -> Poses:
    """Read poses from ``path``: (T, J, 2) pixels and (T, J) confidences, with image size and fps.

    ``size`` = (width, height) of the images the coordinates refer to, for files that do not store it
    (it overrides a stored one); ``fps`` likewise (default 30). Any malformed file raises
    ``PosevidError(path, problem)``. ``.bvh`` and DeepMimic ``.txt`` go to ``posevid.mocap`` with its
    defaults (``size`` and ``fps`` do not apply).
    """
    path = Path(path)
    fmt = fmt or detect_format(path)
    if fmt not in FORMATS:
        raise PosevidError(path, f"unknown pose format {fmt!r}; known: {', '.join(FORMATS)}")
    if not path.exists():
        raise PosevidError(path, "no such pose file or folder")
    if fmt in ("bvh", "deepmimic"):
        return check_poses(path, _read_mocap(path, fmt))
    with _reading(path, fmt):
        poses = {"npz": _read_npz, "openpose": _read_openpose, "coco": _read_coco, "pg2": _read_pg2}[fmt](path, size)
        if fps is not None:
            poses.fps = float(fps)
    return check_poses(path, poses)


def require_coco18(where: str | Path, poses: Poses, use: str) -> Poses:
    """``poses`` if they are COCO-18 (``NUM_JOINTS`` joints), else a one-line ``PosevidError``: ``use`` says what
    needs them (e.g. "animating")."""
    if poses.num_joints != NUM_JOINTS:
        raise PosevidError(where, f"holds {poses.num_joints} joints per pose; {use} needs COCO-18 poses "
                                  f"({NUM_JOINTS} joints)")
    return poses


def check_poses(where: str | Path, poses: Poses) -> Poses:
    """``poses`` if usable, else one ``PosevidError`` naming ``where``: an image size in 1..``MAX_SIDE``, a
    frame rate in ``poses.MIN_FPS``..``poses.MAX_FPS``, coordinates within ``MAX_COORD`` pixels, confidences in
    [0, 1]."""
    if not (0 < min(poses.width, poses.height) and max(poses.width, poses.height) <= MAX_SIDE):
        raise PosevidError(where, f"bad image size {poses.width}x{poses.height} (1 to {MAX_SIDE} pixels a side)")
    check_fps(where, poses.fps)
    for xy in (poses.xy, poses.hand_xy, poses.face_xy):
        if xy is not None and xy.size and float(np.abs(xy).max()) > MAX_COORD:
            raise PosevidError(where, f"a keypoint lies {float(np.abs(xy).max()):.3g} pixels away; coordinates "
                                      f"must be within {MAX_COORD:g} pixels")
    for c in (poses.conf, poses.hand_conf, poses.face_conf):
        if c is not None and not ((c >= 0) & (c <= 1)).all():
            raise PosevidError(where, "keypoint confidences must lie in [0, 1]")
    return poses


def write_poses(path: str | Path, poses: Poses, fmt: str | None = None) -> None:
    """Write ``poses`` to ``path`` atomically (a temporary name renamed on success).

    ``openpose`` writes a folder (an existing folder is replaced only if it holds nothing but
    ``*_keypoints.json`` files); ``openpose``, ``coco`` and ``pg2`` need COCO-18 poses.
    """
    path = Path(path)
    fmt = fmt or detect_format(path, writing=True)
    writers = {"npz": _write_npz, "openpose": _write_openpose, "coco": _write_coco, "pg2": _write_pg2}
    if fmt not in writers:
        raise PosevidError(path, f"cannot write pose format {fmt!r}; writable: {', '.join(writers)}")
    if fmt != "npz":
        require_coco18(path, poses, f"writing {fmt}")
    try:
        with atomic_path(path) as tmp:
            writers[fmt](tmp, poses)
            if fmt == "openpose" and path.exists():
                _remove_openpose_folder(path)
    except OSError as err:
        raise PosevidError(path, f"cannot write the pose file ({err.strerror or err})") from None


@contextlib.contextmanager
def _reading(path: Path, fmt: str) -> Iterator[None]:
    """Turn any parsing failure into a one-line ``PosevidError`` naming the file."""
    try:
        yield
    except PosevidError:
        raise
    except (*NUMPY_LOAD_ERRORS, TypeError, IndexError, AttributeError, OverflowError, RecursionError, MemoryError,
            csv.Error) as err:
        raise PosevidError(path, f"not a valid {fmt} pose file ({_detail(err)})") from None


def _detail(err: Exception) -> str:
    """A short description of a parsing failure."""
    if isinstance(err, KeyError):
        return f"missing {err.args[0]!r}"
    return getattr(err, "strerror", None) or str(err) or type(err).__name__


def _fit_size(points: tuple[np.ndarray, np.ndarray], default: Size | None) -> Size:
    """``default`` grown to hold every visible point of ``points`` = (xy (..., 2), conf (...)) (the
    smallest such size when there is no default)."""
    xy, conf = points
    pts = xy[conf > 0]
    width, height = default or (1, 1)
    if pts.size:
        width = max(width, math.ceil(float(pts[:, 0].max()) + 1))
        height = max(height, math.ceil(float(pts[:, 1].max()) + 1))
    return int(width), int(height)


def _array(value: object, shape_tail: tuple[int, ...], what: str) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float32)
    if arr.ndim != len(shape_tail) + 1 or arr.shape[1:] != shape_tail:
        raise ValueError(f"{what} has shape {arr.shape}, expected (T, {', '.join(map(str, shape_tail))})")
    return arr


# ---- npz -------------------------------------------------------------------------------------------

def _read_npz(path: Path, size: Size | None) -> Poses:
    if not zipfile.is_zipfile(path):
        raise PosevidError(path, "not an npz pose file (not a zip archive, or truncated)")
    _check_npz_sizes(path)
    with np.load(path, allow_pickle=False) as data:
        missing = {"xy", "conf", "size", "fps"} - set(data.files)
        if missing:
            raise PosevidError(path, f"npz pose file lacks {', '.join(sorted(missing))}")
        xy = np.asarray(data["xy"], np.float32)
        conf = np.asarray(data["conf"], np.float32)
        stored = [int(v) for v in np.asarray(data["size"]).reshape(-1)]
        fps = float(data["fps"])
        extras = {n: np.asarray(data[n], np.float32) for n in _EXTRA_ARRAYS if n in data.files}
    if xy.ndim != 3 or xy.shape[2] != 2 or conf.shape != xy.shape[:2]:
        raise PosevidError(path, f"npz pose arrays have shapes xy {xy.shape}, conf {conf.shape}")
    if len(stored) != 2 or min(stored) <= 0:
        raise PosevidError(path, f"npz pose file has a bad image size {stored}")
    width, height = size or stored
    return Poses(xy, conf, width, height, fps, **extras)


def _check_npz_sizes(path: Path) -> None:
    """Refuse arrays whose header promises more data than the archive holds (before numpy allocates it)."""
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            with archive.open(info) as f:
                version = np.lib.format.read_magic(f)
                fmt = np.lib.format
                shape, _, dtype = (fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0)(f)
            if math.prod(shape) * dtype.itemsize > info.file_size:
                raise PosevidError(path, f"array {info.filename} promises shape {shape}, more than the file holds")


def _write_npz(tmp: Path, poses: Poses) -> None:
    with open(tmp, "wb") as f:
        extras = {n: getattr(poses, n) for n in _EXTRA_ARRAYS if getattr(poses, n) is not None}
        np.savez(f, xy=poses.xy, conf=poses.conf, size=np.array([poses.width, poses.height], np.int64),
                 fps=np.float64(poses.fps), **extras)


# ---- OpenPose --------------------------------------------------------------------------------------

def _frame_key(path: Path) -> tuple[int, str]:
    numbers = re.findall(r"\d+", path.name)
    return (int(numbers[-1]) if numbers else -1, path.name)


_Frame = dict[str, np.ndarray]  # one frame's arrays: xy, conf and any of hand_xy, hand_conf, face_xy, face_conf


def _openpose_group(person: dict, key: str, sizes: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray] | None:
    """(N, 2), (N,) from one person's ``key`` list of [x, y, c] triples (None when absent or empty);
    the list must hold one of ``sizes`` points, and only the first ``sizes[0]`` are kept."""
    flat = np.asarray(person.get(key) or [], np.float32).reshape(-1)
    if flat.size == 0:
        return None
    if flat.size not in [3 * n for n in sizes]:
        raise ValueError(f"{key} has {flat.size} numbers, expected {' or '.join(str(3 * n) for n in sizes)}")
    kp = flat.reshape(-1, 3)[: sizes[0]]
    conf = kp[:, 2].copy()
    return np.where(conf[:, None] > 0, kp[:, :2], 0.0), conf


def _openpose_person(person: dict) -> _Frame:
    flat = np.asarray(person["pose_keypoints_2d"], np.float32).reshape(-1)
    if flat.size not in _OPENPOSE_LAYOUTS:
        raise ValueError(f"pose_keypoints_2d has {flat.size} numbers, expected 54 (COCO-18) or 75 (BODY_25)")
    kp = flat.reshape(-1, 3)
    xy, conf = to_coco18(kp[:, :2], kp[:, 2], _OPENPOSE_LAYOUTS[flat.size])
    frame = {"xy": xy, "conf": conf}
    hands = [_openpose_group(person, key, (HAND_POINTS,)) for key in _OPENPOSE_HANDS]
    if any(h is not None for h in hands):
        hands = [h or (np.zeros((HAND_POINTS, 2), np.float32), np.zeros(HAND_POINTS, np.float32)) for h in hands]
        frame["hand_xy"], frame["hand_conf"] = np.stack([h[0] for h in hands]), np.stack([h[1] for h in hands])
    face = _openpose_group(person, "face_keypoints_2d", (FACE_POINTS, OPENPOSE_FACE_POINTS))
    if face is not None:
        frame["face_xy"], frame["face_conf"] = face
    return frame


def _openpose_frame(path: Path) -> tuple[_Frame, Size | None]:
    """The arrays of the most confident person in one OpenPose JSON file (body (18, 2), (18,), and the
    hands and face it has), and its canvas size."""
    try:
        data = json.loads(path.read_text())
        people = [_openpose_person(person) for person in data["people"]]
        canvas = (int(data["canvas_width"]), int(data["canvas_height"])) if "canvas_width" in data else None
    except PosevidError:
        raise
    except (OSError, ValueError, KeyError, TypeError, IndexError, AttributeError, OverflowError,
            RecursionError) as err:
        raise PosevidError(path, f"not a valid OpenPose keypoint file ({_detail(err)})") from None
    if not people:
        return {"xy": np.zeros((NUM_JOINTS, 2), np.float32), "conf": np.zeros(NUM_JOINTS, np.float32)}, canvas
    return max(people, key=lambda f: (f["conf"].sum(), sum(a.sum() for k, a in f.items() if k.endswith("conf")))), \
        canvas


def _stack_frames(frames: list[_Frame]) -> dict[str, np.ndarray]:
    """Per-frame arrays stacked along time; a group some frames lack is missing (zeros) there, and a
    group no frame has is left out."""
    names = {n for f in frames for n in f}
    out = {}
    for name in names:
        shape = next(f[name].shape for f in frames if name in f)
        out[name] = np.stack([f.get(name, np.zeros(shape, np.float32)) for f in frames]).astype(np.float32)
    return out


def _read_openpose(path: Path, size: Size | None) -> Poses:
    files = sorted(path.glob("*.json"), key=_frame_key) if path.is_dir() else [path]
    if not files:
        raise PosevidError(path, "folder holds no OpenPose *_keypoints.json files")
    frames = [_openpose_frame(f) for f in files]
    arrays = _stack_frames([f[0] for f in frames])
    canvases = {f[1] for f in frames if f[1] is not None}
    if len(canvases) > 1:
        raise PosevidError(path, f"frames disagree on the canvas size: {sorted(canvases)}")
    width, height = size or (canvases.pop() if canvases else _fit_size(_all_points(arrays), None))
    return Poses(width=width, height=height, fps=DEFAULT_FPS, **arrays)


def _all_points(arrays: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Every body, hand and face point of stacked arrays as (N, 2), (N,)."""
    pairs = [(arrays[x], arrays[c]) for x, c in (("xy", "conf"), ("hand_xy", "hand_conf"), ("face_xy", "face_conf"))
             if x in arrays]
    return np.concatenate([x.reshape(-1, 2) for x, _ in pairs]), np.concatenate([c.reshape(-1) for _, c in pairs])


def _triples(xy: np.ndarray, conf: np.ndarray) -> list[float]:
    """(N, 2), (N,) -> [x, y, c] * N, rounded for JSON."""
    return [round(float(v), 3) for v in np.concatenate([xy, conf[:, None]], axis=1).reshape(-1)]


def _with_pupils(xy: np.ndarray, conf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """68 face landmarks -> OpenPose's 70: the right and left pupils at the centres of the eye contours."""
    eyes = [list(range(36, 42)), list(range(42, 48))]
    p_xy = np.stack([xy[e].mean(0) for e in eyes])
    p_c = np.array([conf[e].min() for e in eyes], np.float32)
    return np.concatenate([xy, np.where(p_c[:, None] > 0, p_xy, 0)]), np.concatenate([conf, p_c])


def _write_openpose(tmp: Path, poses: Poses) -> None:
    tmp.mkdir()
    for t in range(len(poses)):
        people = []
        seen = [c[t] for c in (poses.conf, poses.hand_conf, poses.face_conf) if c is not None]
        if any((c > 0).any() for c in seen):
            person = {"person_id": [-1], "pose_keypoints_2d": _triples(poses.xy[t], poses.conf[t]),
                      "face_keypoints_2d": [], "hand_left_keypoints_2d": [], "hand_right_keypoints_2d": [],
                      "pose_keypoints_3d": [], "face_keypoints_3d": [], "hand_left_keypoints_3d": [],
                      "hand_right_keypoints_3d": []}
            if poses.hand_xy is not None:
                for key, h_xy, h_c in zip(_OPENPOSE_HANDS, poses.hand_xy[t], poses.hand_conf[t]):
                    person[key] = _triples(h_xy, h_c) if (h_c > 0).any() else []
            if poses.face_xy is not None and (poses.face_conf[t] > 0).any():
                person["face_keypoints_2d"] = _triples(*_with_pupils(poses.face_xy[t], poses.face_conf[t]))
            people.append(person)
        frame = {"version": 1.3, "people": people, "canvas_width": poses.width, "canvas_height": poses.height}
        (tmp / f"frame_{t:012d}_keypoints.json").write_text(json.dumps(frame))


def _remove_openpose_folder(path: Path) -> None:
    """Delete an old OpenPose output folder before the new one takes its name; refuse any other folder."""
    if not path.is_dir():
        raise PosevidError(path, "exists and is not a folder; cannot write OpenPose frames there")
    strangers = [p.name for p in path.iterdir() if not p.name.endswith("_keypoints.json")]
    if strangers:
        raise PosevidError(path, f"folder holds other files ({strangers[0]}, ...); not replacing it")
    shutil.rmtree(path)


# ---- COCO keypoint JSON ----------------------------------------------------------------------------

def _coco_group(ann: dict, key: str, n: int) -> tuple[np.ndarray, np.ndarray] | None:
    """(n, 2) and (n,) confidence (v > 0 -> 1) from a COCO-WholeBody ``key`` list; None when absent,
    empty or marked not valid."""
    values = ann.get(f"{key}_kpts")
    if not values or ann.get(f"{key}_valid") is False:
        return None
    kp = np.asarray(values, np.float32).reshape(-1)
    if kp.size != 3 * n:
        raise ValueError(f"annotation {ann.get('id')} has {kp.size} {key}_kpts numbers, expected {3 * n}")
    kp = kp.reshape(n, 3)
    conf = (kp[:, 2] > 0).astype(np.float32)
    return np.where(conf[:, None] > 0, kp[:, :2], 0.0), conf


def _coco_annotation(ann: dict) -> _Frame:
    """One COCO (or COCO-WholeBody) annotation -> body (18, 2), (18,) and the hands and face it has."""
    kp = np.asarray(ann["keypoints"], np.float32).reshape(-1)
    if kp.size == 3 * WHOLEBODY_POINTS:  # all whole-body points in one list: split them into the named groups
        whole = kp.reshape(WHOLEBODY_POINTS, 3)
        ann = {**ann, **{f"{name}_kpts": whole[WHOLEBODY_SLICES[part]].reshape(-1).tolist()
                         for name, part in (*zip(_COCO_HANDS, ("left_hand", "right_hand")), ("face", "face"))}}
        kp = whole[WHOLEBODY_SLICES["body"]].reshape(-1)
    if kp.size != 17 * 3:
        raise ValueError(f"annotation {ann.get('id')} has {kp.size} keypoint numbers, expected 51 (COCO) "
                         f"or {3 * WHOLEBODY_POINTS} (COCO-WholeBody)")
    kp = kp.reshape(17, 3)
    xy, conf = to_coco18(kp[:, :2], (kp[:, 2] > 0).astype(np.float32), "coco17")
    frame = {"xy": xy, "conf": conf}
    hands = [_coco_group(ann, key, HAND_POINTS) for key in _COCO_HANDS]
    if any(h is not None for h in hands):
        hands = [h or (np.zeros((HAND_POINTS, 2), np.float32), np.zeros(HAND_POINTS, np.float32)) for h in hands]
        frame["hand_xy"], frame["hand_conf"] = np.stack([h[0] for h in hands]), np.stack([h[1] for h in hands])
    face = _coco_group(ann, "face", FACE_POINTS)
    if face is not None:
        frame["face_xy"], frame["face_conf"] = face
    return frame


def _read_coco(path: Path, size: Size | None) -> Poses:
    data = json.loads(path.read_text())
    images = sorted(data["images"], key=lambda im: im["id"])
    if not images:
        raise PosevidError(path, "COCO file has no images")
    sizes = {(int(im["width"]), int(im["height"])) for im in images}
    if len(sizes) > 1 and size is None:
        raise PosevidError(path, f"images differ in size ({sorted(sizes)[:3]}...); one pose sequence needs one size")
    index = {im["id"]: t for t, im in enumerate(images)}
    empty = {"xy": np.zeros((NUM_JOINTS, 2), np.float32), "conf": np.zeros(NUM_JOINTS, np.float32)}
    frames: list[_Frame] = [empty] * len(images)
    for ann in data["annotations"]:
        if ann["image_id"] not in index:
            raise PosevidError(path, f"annotation {ann.get('id')} refers to unknown image {ann['image_id']}")
        frame = _coco_annotation(ann)
        t = index[ann["image_id"]]
        if (frame["conf"] > 0).sum() > (frames[t]["conf"] > 0).sum():
            frames[t] = frame
    info = data.get("info") or {}
    fps = float(info.get("fps", DEFAULT_FPS)) if isinstance(info, dict) else DEFAULT_FPS
    width, height = size or sizes.pop()
    return Poses(width=width, height=height, fps=fps, **_stack_frames(frames))


def _coco_box(xy: np.ndarray, vis: np.ndarray) -> list[float]:
    """[x, y, w, h] around the visible points (zeros when none)."""
    if not vis.any():
        return [0.0, 0.0, 0.0, 0.0]
    (x0, y0), (x1, y1) = xy[vis].min(0), xy[vis].max(0)
    return [round(float(v), 2) for v in (x0, y0, x1 - x0, y1 - y0)]


def _coco_points(xy: np.ndarray, conf: np.ndarray) -> list[float]:
    """(N, 2), (N,) -> [x, y, v] * N with v = 2 for a visible point, 0 (and x = y = 0) for a missing one."""
    vis = conf > 0
    kp = np.concatenate([np.where(vis[:, None], xy, 0), np.where(vis, 2, 0)[:, None]], axis=1)
    return [round(float(v), 2) for v in kp.reshape(-1)]


def _write_coco(tmp: Path, poses: Poses) -> None:
    xy, conf = coco18_to_coco17(poses.xy, poses.conf)
    images, annotations = [], []
    for t in range(len(poses)):
        images.append({"id": t + 1, "file_name": f"{t:06d}.jpg", "width": poses.width, "height": poses.height})
        vis = conf[t] > 0
        groups = [c[t] for c in (poses.hand_conf, poses.face_conf) if c is not None]
        if not vis.any() and not any((c > 0).any() for c in groups):
            continue
        box = _coco_box(xy[t], vis)
        ann = {"id": t + 1, "image_id": t + 1, "category_id": 1, "iscrowd": 0,
               "keypoints": _coco_points(xy[t], conf[t]), "num_keypoints": int(vis.sum()),
               "bbox": box, "area": round(box[2] * box[3], 2)}
        if poses.hand_xy is not None or poses.face_xy is not None:
            ann.update(foot_kpts=[0.0] * 18, foot_valid=False)
            parts = [(key, poses.hand_xy, poses.hand_conf, side) for side, key in enumerate(_COCO_HANDS)]
            parts.append(("face", poses.face_xy, poses.face_conf, None))
            for key, g_xy, g_c, side in parts:
                n = HAND_POINTS if side is not None else FACE_POINTS
                p_xy = np.zeros((n, 2), np.float32) if g_xy is None else g_xy[t] if side is None else g_xy[t, side]
                p_c = np.zeros(n, np.float32) if g_c is None else g_c[t] if side is None else g_c[t, side]
                ann.update({f"{key}_kpts": _coco_points(p_xy, p_c), f"{key}_valid": bool((p_c > 0).any()),
                            f"{key}_box": _coco_box(p_xy, p_c > 0)})
        annotations.append(ann)
    data = {"info": {"description": "posevid poses", "fps": poses.fps}, "images": images,
            "annotations": annotations,
            "categories": [{"id": 1, "name": "person", "supercategory": "person", "keypoints": list(COCO17_NAMES),
                            "skeleton": [list(s) for s in COCO17_SKELETON]}]}
    tmp.write_text(json.dumps(data))


# ---- PG2 / PATN annotation CSV ---------------------------------------------------------------------

def _read_pg2(path: Path, size: Size | None) -> Poses:
    lines = [ln for ln in path.read_text().splitlines() if ln.strip()]
    if not lines or lines[0].replace(" ", "") != PG2_HEADER:
        raise PosevidError(path, f"PG2 annotation CSV must start with the header {PG2_HEADER!r}")
    ys, xs = [], []
    for n, line in enumerate(lines[1:], start=2):
        parts = line.rsplit(":", 2)
        if len(parts) != 3:
            raise PosevidError(path, f"line {n}: expected 'name: [y...]: [x...]'")
        y, x = json.loads(parts[1]), json.loads(parts[2])
        if not (isinstance(y, list) and isinstance(x, list) and len(y) == len(x) == NUM_JOINTS):
            raise PosevidError(path, f"line {n}: keypoint lists must hold {NUM_JOINTS} numbers each")
        ys.append(y)
        xs.append(x)
    if not ys:
        raise PosevidError(path, "PG2 annotation CSV has no rows")
    xy = np.stack([np.asarray(xs, np.float32), np.asarray(ys, np.float32)], axis=-1)
    conf = ((xy[..., 0] != -1) & (xy[..., 1] != -1)).astype(np.float32)
    xy[conf == 0] = 0
    default = (64, 128) if "market" in path.name.lower() else (176, 256)
    width, height = size or _fit_size((xy, conf), default)
    return Poses(xy, conf, width, height, DEFAULT_FPS)


def _write_pg2(tmp: Path, poses: Poses) -> None:
    rows = [PG2_HEADER]
    for t in range(len(poses)):
        pix = np.rint(poses.xy[t]).astype(np.int64)
        pix[poses.conf[t] <= 0] = -1
        rows.append(f"{t:06d}.jpg: {pix[:, 1].tolist()}: {pix[:, 0].tolist()}")
    tmp.write_text("\n".join(rows) + "\n")


# ---- motion capture --------------------------------------------------------------------------------

def _read_mocap(path: Path, fmt: str) -> Poses:
    """BVH or DeepMimic motion capture, through ``posevid.mocap`` (``read_bvh``, ``load_mocap``)."""
    try:
        mocap = importlib.import_module("posevid.mocap")
    except ModuleNotFoundError:
        raise PosevidError(path, f"reading {fmt} motion needs posevid.mocap, which is not available") from None
    return mocap.read_bvh(path) if fmt == "bvh" else mocap.load_mocap(path, fps=DEFAULT_FPS)[0]
