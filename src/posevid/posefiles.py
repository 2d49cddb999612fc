"""Pose files: read and write ``Poses`` as native ``.npz``, OpenPose JSON, COCO keypoint JSON or the
PG2/PATN/Deformable-GAN annotation CSV; ``.bvh`` motion capture is handed to ``posevid.mocap``.

Formats (picked from the path when ``fmt`` is None):

- ``npz``: arrays ``xy (T, J, 2)``, ``conf (T, J)``, ``size [width, height]``, ``fps``; lossless.
- ``openpose``: a folder of per-frame ``*_keypoints.json`` files (or one such file), each with a
  ``people`` list holding ``pose_keypoints_2d`` = [x, y, c] * 18 (COCO-18) or * 25 (BODY_25, read only).
  The person with the highest total confidence is kept. The image size is written as ``canvas_width``
  / ``canvas_height`` (as the OpenPose editors do); files without it need ``size``.
- ``coco``: a COCO keypoint JSON (``images``, ``annotations`` with 17 [x, y, v] keypoints,
  ``categories``); one image per frame, ordered by image id; the neck is the mid-shoulder point.
  Visibility v > 0 reads as confidence 1; confidence > 0 writes as v = 2.
- ``pg2``: ``name:keypoints_y:keypoints_x`` rows with COCO-18 lists of integer pixels, -1 for a
  missing joint (PG2, PATN, Deformable GAN). It stores no image size: ``size`` if given, else the
  dataset's (64x128 when the file name says ``market``, 176x256 otherwise), grown to hold all points.
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
from .poses import Poses
from .skeleton import NUM_JOINTS, coco18_to_coco17, to_coco18

FORMATS = ("npz", "openpose", "coco", "pg2", "bvh")
DEFAULT_FPS = 30.0
MAX_SIDE = 65536  # larger image sizes in a pose file are refused as malformed
PG2_HEADER = "name:keypoints_y:keypoints_x"
COCO17_NAMES = ("nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
                "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip",
                "left_knee", "right_knee", "left_ankle", "right_ankle")
COCO17_SKELETON = ((16, 14), (14, 12), (17, 15), (15, 13), (12, 13), (6, 12), (7, 13), (6, 7), (6, 8),
                   (7, 9), (8, 10), (9, 11), (2, 3), (1, 2), (1, 3), (2, 4), (3, 5), (4, 6), (5, 7))
_OPENPOSE_LAYOUTS = {18 * 3: "coco18", 25 * 3: "body25"}

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
    if suffix == ".json" and writing:
        return "coco"
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
    raise PosevidError(path, f"unknown pose file type {suffix or '(no suffix)'!r}; use .npz, .json, .csv, .bvh "
                             "or a folder of OpenPose JSON, or give the format")


def read_poses(path: str | Path, fmt: str | None = None, *, size: Size | None = None,
               fps: float | None = None) -> Poses:
    """Read poses from ``path``: (T, J, 2) pixels and (T, J) confidences, with image size and fps.

    ``size`` = (width, height) of the images the coordinates refer to, for files that do not store it
    (it overrides a stored one); ``fps`` likewise (default 30). Any malformed file raises
    ``PosevidError(path, problem)``. ``.bvh`` goes to ``posevid.mocap.read_bvh`` with its defaults
    (``size`` and ``fps`` do not apply).
    """
    path = Path(path)
    fmt = fmt or detect_format(path)
    if fmt not in FORMATS:
        raise PosevidError(path, f"unknown pose format {fmt!r}; known: {', '.join(FORMATS)}")
    if not path.exists():
        raise PosevidError(path, "no such pose file or folder")
    if fmt == "bvh":
        return _read_bvh(path)
    with _reading(path, fmt):
        poses = {"npz": _read_npz, "openpose": _read_openpose, "coco": _read_coco, "pg2": _read_pg2}[fmt](path, size)
        if fps is not None:
            poses.fps = float(fps)
    if not (0 < min(poses.width, poses.height) and max(poses.width, poses.height) <= MAX_SIDE
            and 0 < poses.fps < math.inf):
        raise PosevidError(path, f"bad image size {poses.width}x{poses.height} or fps {poses.fps}")
    if not ((poses.conf >= 0) & (poses.conf <= 1)).all():
        raise PosevidError(path, "joint confidences must lie in [0, 1]")
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
    if fmt != "npz" and poses.num_joints != NUM_JOINTS:
        raise PosevidError(path, f"{fmt} files hold COCO-18 poses, these have {poses.num_joints} joints")
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


def _fit_size(xy: np.ndarray, conf: np.ndarray, default: Size | None) -> Size:
    """``default`` grown to hold every visible point (the smallest such size when there is no default)."""
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
    if xy.ndim != 3 or xy.shape[2] != 2 or conf.shape != xy.shape[:2]:
        raise PosevidError(path, f"npz pose arrays have shapes xy {xy.shape}, conf {conf.shape}")
    if len(stored) != 2 or min(stored) <= 0:
        raise PosevidError(path, f"npz pose file has a bad image size {stored}")
    width, height = size or stored
    return Poses(xy, conf, width, height, fps)


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
        np.savez(f, xy=poses.xy, conf=poses.conf, size=np.array([poses.width, poses.height], np.int64),
                 fps=np.float64(poses.fps))


# ---- OpenPose --------------------------------------------------------------------------------------

def _frame_key(path: Path) -> tuple[int, str]:
    numbers = re.findall(r"\d+", path.name)
    return (int(numbers[-1]) if numbers else -1, path.name)


def _openpose_frame(path: Path) -> tuple[np.ndarray, np.ndarray, Size | None]:
    """(18, 2), (18,) for the most confident person in one OpenPose JSON file, and its canvas size."""
    try:
        data = json.loads(path.read_text())
        people = data["people"]
        best = None
        for person in people:
            flat = np.asarray(person["pose_keypoints_2d"], np.float32).reshape(-1)
            if flat.size not in _OPENPOSE_LAYOUTS:
                raise ValueError(f"pose_keypoints_2d has {flat.size} numbers, expected 54 (COCO-18) or 75 (BODY_25)")
            kp = flat.reshape(-1, 3)
            xy, conf = to_coco18(kp[:, :2], kp[:, 2], _OPENPOSE_LAYOUTS[flat.size])
            if best is None or conf.sum() > best[1].sum():
                best = (xy, conf)
        canvas = (int(data["canvas_width"]), int(data["canvas_height"])) if "canvas_width" in data else None
    except PosevidError:
        raise
    except (OSError, ValueError, KeyError, TypeError, IndexError, AttributeError, OverflowError,
            RecursionError) as err:
        raise PosevidError(path, f"not a valid OpenPose keypoint file ({_detail(err)})") from None
    if best is None:
        best = (np.zeros((NUM_JOINTS, 2), np.float32), np.zeros(NUM_JOINTS, np.float32))
    return best[0], best[1], canvas


def _read_openpose(path: Path, size: Size | None) -> Poses:
    files = sorted(path.glob("*.json"), key=_frame_key) if path.is_dir() else [path]
    if not files:
        raise PosevidError(path, "folder holds no OpenPose *_keypoints.json files")
    frames = [_openpose_frame(f) for f in files]
    xy = np.stack([f[0] for f in frames])
    conf = np.stack([f[1] for f in frames])
    canvases = {f[2] for f in frames if f[2] is not None}
    if len(canvases) > 1:
        raise PosevidError(path, f"frames disagree on the canvas size: {sorted(canvases)}")
    width, height = size or (canvases.pop() if canvases else _fit_size(xy, conf, None))
    return Poses(xy, conf, width, height, DEFAULT_FPS)


def _write_openpose(tmp: Path, poses: Poses) -> None:
    tmp.mkdir()
    for t in range(len(poses)):
        people = []
        if (poses.conf[t] > 0).any():
            kp = np.concatenate([poses.xy[t], poses.conf[t, :, None]], axis=1)
            people.append({"person_id": [-1], "pose_keypoints_2d": [round(float(v), 3) for v in kp.reshape(-1)],
                           "face_keypoints_2d": [], "hand_left_keypoints_2d": [], "hand_right_keypoints_2d": [],
                           "pose_keypoints_3d": [], "face_keypoints_3d": [], "hand_left_keypoints_3d": [],
                           "hand_right_keypoints_3d": []})
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

def _read_coco(path: Path, size: Size | None) -> Poses:
    data = json.loads(path.read_text())
    images = sorted(data["images"], key=lambda im: im["id"])
    if not images:
        raise PosevidError(path, "COCO file has no images")
    sizes = {(int(im["width"]), int(im["height"])) for im in images}
    if len(sizes) > 1 and size is None:
        raise PosevidError(path, f"images differ in size ({sorted(sizes)[:3]}...); one pose sequence needs one size")
    index = {im["id"]: t for t, im in enumerate(images)}
    kp17 = np.zeros((len(images), 17, 3), np.float32)
    for ann in data["annotations"]:
        if ann["image_id"] not in index:
            raise PosevidError(path, f"annotation {ann.get('id')} refers to unknown image {ann['image_id']}")
        kp = np.asarray(ann["keypoints"], np.float32).reshape(-1)
        if kp.size != 17 * 3:
            raise PosevidError(path, f"annotation {ann.get('id')} has {kp.size} keypoint numbers, expected 51")
        kp = kp.reshape(17, 3)
        t = index[ann["image_id"]]
        if (kp[:, 2] > 0).sum() > (kp17[t, :, 2] > 0).sum():
            kp17[t] = kp
    xy, conf = to_coco18(kp17[..., :2], (kp17[..., 2] > 0).astype(np.float32), "coco17")
    info = data.get("info") or {}
    fps = float(info.get("fps", DEFAULT_FPS)) if isinstance(info, dict) else DEFAULT_FPS
    width, height = size or sizes.pop()
    return Poses(xy, conf, width, height, fps)


def _write_coco(tmp: Path, poses: Poses) -> None:
    xy, conf = coco18_to_coco17(poses.xy, poses.conf)
    images, annotations = [], []
    for t in range(len(poses)):
        images.append({"id": t + 1, "file_name": f"{t:06d}.jpg", "width": poses.width, "height": poses.height})
        vis = conf[t] > 0
        if not vis.any():
            continue
        kp = np.concatenate([np.where(vis[:, None], xy[t], 0), np.where(vis, 2, 0)[:, None]], axis=1)
        x0, y0 = xy[t][vis].min(0)
        x1, y1 = xy[t][vis].max(0)
        annotations.append({"id": t + 1, "image_id": t + 1, "category_id": 1, "iscrowd": 0,
                            "keypoints": [round(float(v), 2) for v in kp.reshape(-1)],
                            "num_keypoints": int(vis.sum()),
                            "bbox": [round(float(v), 2) for v in (x0, y0, x1 - x0, y1 - y0)],
                            "area": round(float((x1 - x0) * (y1 - y0)), 2)})
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
    width, height = size or _fit_size(xy, conf, default)
    return Poses(xy, conf, width, height, DEFAULT_FPS)


def _write_pg2(tmp: Path, poses: Poses) -> None:
    rows = [PG2_HEADER]
    for t in range(len(poses)):
        pix = np.rint(poses.xy[t]).astype(np.int64)
        pix[poses.conf[t] <= 0] = -1
        rows.append(f"{t:06d}.jpg: {pix[:, 1].tolist()}: {pix[:, 0].tolist()}")
    tmp.write_text("\n".join(rows) + "\n")


# ---- motion capture --------------------------------------------------------------------------------

def _read_bvh(path: Path) -> Poses:
    """BVH motion capture, through ``posevid.mocap.read_bvh(path) -> Poses``."""
    try:
        mocap = importlib.import_module("posevid.mocap")
    except ModuleNotFoundError:
        raise PosevidError(path, "reading .bvh needs posevid.mocap, which is not available") from None
    return mocap.read_bvh(path)
