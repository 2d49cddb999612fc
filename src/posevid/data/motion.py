"""The "motion" dataset kind: labelled 2D pose sequences for PSGAN and the motion metrics.

``write_motion_dataset`` (``posevid motion dataset``) turns mocap clips (BVH, DeepMimic) seen from
several camera yaws, and ``.npz`` pose files (``posevid poses extract``), into windows of ``frames``
poses at ``fps``. Each window is fitted into [-1, 1]^2 (x right, y down; ``mocap.fit``). Layout::

    OUT/index.json     {"kind": "motion", "labels": [...], "fps", "frames", "yaws", "train": N, "test": M,
                        "sources": [...]}
    OUT/sequences.npz  xy (N, T, 18, 2) float32 in [-1, 1], conf (N, T, 18), label (N,) int64,
                       source (N,) int64 (index into "sources"), yaw (N,) float32, test (N,) bool

The test windows of a source are those in its last ``test_fraction`` of frames (at least one
window's worth); training windows end before them. Sources shorter than two windows are all training.
``MotionDataset`` items: ``xy (T, 18, 2)``, ``conf (T, 18)``, ``label`` (int64).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from ..errors import PosevidError
from ..io_utils import NUMPY_LOAD_ERRORS, atomic_path
from ..mocap import MAX_FRAMES, chain_length, fit, label_from_name, load_motion3d, project
from ..options import option
from ..poses import body_height, check_fps, fill_gaps
from ..skeleton import NUM_JOINTS
from .datasets import register_dataset
from .motion_augment import MotionAugment, body_scale, box_center

MOCAP_SUFFIXES = (".bvh", ".txt", ".json")
DEFAULT_YAWS = (0.0, 45.0, 90.0, 135.0, 180.0, 225.0, 270.0, 315.0)


def collect_inputs(paths: Sequence[str | Path]) -> list[Path]:
    """Mocap clips and ``.npz`` pose files among ``paths`` (folders searched recursively, sorted).

    DeepMimic character files (``character_*.txt``) are skipped; a named file that is neither raises.
    """
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out += sorted(f for f in p.rglob("*") if f.is_file() and _usable(f))
        elif p.is_file():
            if p.suffix.lower() not in MOCAP_SUFFIXES + (".npz",):
                raise PosevidError(p, "not a mocap clip (.bvh, DeepMimic .txt/.json) or .npz pose file")
            out.append(p)
        else:
            raise PosevidError(p, "no such file or folder")
    if not out:
        raise PosevidError(", ".join(map(str, paths)), "no mocap clip or .npz pose file found")
    return out


def _usable(f: Path) -> bool:
    return (f.suffix.lower() in MOCAP_SUFFIXES + (".npz",) and not f.name.startswith("character_")
            and not f.name.startswith("."))


def read_labels(path: str | Path | None) -> dict[str, str]:
    """A JSON object mapping file names, stems or default labels to action labels ({} for None)."""
    if path is None:
        return {}
    path = Path(path)
    try:
        labels = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise PosevidError(path, f"cannot read the label file ({err})") from None
    if not isinstance(labels, dict) or not all(isinstance(v, str) and v for v in labels.values()):
        raise PosevidError(path, "the label file must be a JSON object of non-empty strings")
    return labels


def _label(path: Path, labels: dict[str, str]) -> str:
    for key in (str(path), path.name, path.stem, label_from_name(path)):
        if key in labels:
            return labels[key]
    return label_from_name(path)


def _resample_2d(xy: np.ndarray, conf: np.ndarray, src_fps: float, fps: float) -> tuple[np.ndarray, np.ndarray]:
    """Linear resampling of (T, J, 2) / (T, J) from ``src_fps`` to ``fps`` (a joint is kept where both ends are)."""
    if abs(src_fps - fps) < 1e-6:
        return xy, conf
    if (len(xy) - 1) / src_fps * fps + 1 > MAX_FRAMES:
        raise ValueError(f"{len(xy)} poses at {src_fps:g} fps are over {MAX_FRAMES} frames at {fps:g} fps")
    t = np.arange(0, (len(xy) - 1) / src_fps + 1e-9, 1 / fps) * src_fps
    i0 = np.floor(t).astype(int)
    i1 = np.minimum(i0 + 1, len(xy) - 1)
    w = (t - i0)[:, None]
    out = xy[i0] * (1 - w[..., None]) + xy[i1] * w[..., None]
    c = np.where((conf[i0] > 0) & (conf[i1] > 0), conf[i0] * (1 - w) + conf[i1] * w, 0.0)
    return out.astype(np.float32), c.astype(np.float32)


def _sources(path: Path, fps: float, yaws: Sequence[float], projection: str, min_frames: int,
             character: Path | None) -> list[tuple[np.ndarray, np.ndarray, float, float]]:
    """(xy (T, 18, 2), conf (T, 18), body chain length, yaw) per view of one input file."""
    if path.suffix.lower() == ".npz":
        from ..posefiles import read_poses

        poses = fill_gaps(read_poses(path, "npz"))
        if poses.num_joints != NUM_JOINTS:
            raise PosevidError(path, f"needs COCO-18 poses, has {poses.num_joints} joints")
        h = body_height(poses)
        if not (h > 0).any():
            raise PosevidError(path, "no person in the pose file")
        try:
            xy, conf = _resample_2d(poses.xy, poses.conf, poses.fps, fps)
        except ValueError as err:
            raise PosevidError(path, str(err)) from None
        return [(xy, conf, float(np.median(h[h > 0])), float("nan"))]
    motion = load_motion3d(path, fps, character, min_frames=min_frames)
    height = chain_length(motion.joints)
    ones = np.ones(motion.joints.shape[:2], np.float32)
    return [(project(motion, yaw, projection), ones, height, float(yaw)) for yaw in yaws]


def _fit_windows(xy: np.ndarray, conf: np.ndarray, height: float) -> np.ndarray:
    """``mocap.fit`` per window (N, T, J, 2), ignoring missing joints (they come out as 0)."""
    seen = conf > 0
    anchor = np.where(seen[..., None], xy, 0).sum((-3, -2), keepdims=True) / np.maximum(
        seen.sum((-2, -1), keepdims=True)[..., None], 1)
    filled = np.where(seen[..., None], xy, anchor)
    out = fit(filled, height)
    out[~seen] = 0
    return out


def build_motion_arrays(inputs: Sequence[str | Path], labels: dict[str, str] | None = None, fps: float = 30.0,
                        frames: int = 32, yaws: Sequence[float] = DEFAULT_YAWS, stride: int | None = None,
                        projection: str = "orthographic", test_fraction: float = 0.2,
                        character: str | Path | None = None) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The arrays and index of a motion dataset (layout in the module doc), in memory.

    Labels come from ``labels`` (keys: path, file name, stem or default label) else the file name
    (``mocap.label_from_name``). Windows start every ``stride`` frames (default ``frames // 4``);
    wrap-around DeepMimic clips are looped to at least ``4 * frames`` frames.
    """
    fps = check_fps("--fps", fps)
    if not 2 <= frames <= MAX_FRAMES or not 0 <= test_fraction < 1 or not yaws or (stride is not None and stride < 1):
        raise PosevidError(", ".join(map(str, inputs)), f"need 2 <= frames <= {MAX_FRAMES}, stride >= 1, "
                                                         "0 <= test_fraction < 1 and at least one yaw")
    stride = max(1, int(stride or frames // 4))
    files = collect_inputs(inputs)
    char = Path(character) if character else None
    names = sorted({_label(f, labels or {}) for f in files})
    arrays: dict[str, list] = {k: [] for k in ("xy", "conf", "label", "source", "yaw", "test")}
    sources: list[str] = []
    for f in files:
        label = names.index(_label(f, labels or {}))
        for xy, conf, height, yaw in _sources(f, fps, yaws, projection, 4 * frames, char):
            n = len(xy)
            split = min(int(round(n * (1 - test_fraction))), n - frames)
            if test_fraction == 0 or split < frames:  # too short to hold out a window: all train
                split = n
            train = np.arange(0, split - frames + 1, stride)
            held = np.arange(split, n - frames + 1, stride)
            starts = np.concatenate([train, held])
            test = np.arange(len(starts)) >= len(train)
            if starts.size == 0:
                continue
            idx = starts[:, None] + np.arange(frames)
            arrays["xy"].append(_fit_windows(xy[idx], conf[idx], height))
            arrays["conf"].append(conf[idx])
            arrays["label"].append(np.full(len(starts), label))
            arrays["source"].append(np.full(len(starts), len(sources)))
            arrays["yaw"].append(np.full(len(starts), yaw, np.float32))
            arrays["test"].append(test)
        sources.append(str(f))
    if not arrays["xy"]:
        raise PosevidError(inputs[0], f"no input has {frames} frames at {fps} fps")
    data = {k: np.concatenate(v) for k, v in arrays.items()}
    data = {"xy": data["xy"].astype(np.float32), "conf": data["conf"].astype(np.float32),
            "label": data["label"].astype(np.int64), "source": data["source"].astype(np.int64),
            "yaw": data["yaw"].astype(np.float32), "test": data["test"].astype(bool)}
    index = {"kind": "motion", "labels": names, "fps": float(fps), "frames": int(frames),
             "yaws": [float(y) for y in yaws], "projection": projection,
             "train": int((~data["test"]).sum()), "test": int(data["test"].sum()), "sources": sources}
    return data, index


def write_motion_dataset(inputs: Sequence[str | Path], out: str | Path, labels: dict[str, str] | None = None,
                         fps: float = 30.0, frames: int = 32, yaws: Sequence[float] = DEFAULT_YAWS,
                         stride: int | None = None, projection: str = "orthographic", test_fraction: float = 0.2,
                         character: str | Path | None = None) -> dict[str, Any]:
    """Write a motion dataset to folder ``out`` (layout in the module doc; ``build_motion_arrays`` for
    the arguments) and return its index."""
    data, index = build_motion_arrays(inputs, labels, fps, frames, yaws, stride, projection, test_fraction, character)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(out / "sequences.npz") as tmp:
        np.savez_compressed(tmp, **data)
    with atomic_path(out / "index.json") as tmp:
        tmp.write_text(json.dumps(index, indent=1))
    return index


def read_motion_index(root: str | Path) -> dict[str, Any]:
    """``root/index.json`` of a motion dataset."""
    path = Path(root) / "index.json"
    try:
        index = json.loads(path.read_text())
    except (OSError, ValueError):
        raise PosevidError(root, "not a motion dataset (no readable index.json; run `posevid motion dataset`)"
                           ) from None
    if index.get("kind") != "motion":
        raise PosevidError(path, "not a motion dataset (kind is not 'motion')")
    return index


def load_motion_arrays(root: str | Path, split: str | None = None) -> dict[str, np.ndarray]:
    """The arrays of ``sequences.npz`` (all windows, or those of ``split`` "train" / "test")."""
    read_motion_index(root)
    path = Path(root) / "sequences.npz"
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in ("xy", "conf", "label", "source", "yaw", "test")}
    except NUMPY_LOAD_ERRORS as err:
        raise PosevidError(path, f"broken motion dataset ({err})") from None
    if split is not None:
        if split not in ("train", "test"):
            raise PosevidError(None, f"split must be train or test, not {split!r}")
        keep = data["test"] if split == "test" else ~data["test"]
        data = {k: v[keep] for k, v in data.items()}
    return data


class MotionDataset(Dataset):
    """Windows of a motion dataset: ``xy (T, 18, 2)`` in [-1, 1], ``conf (T, 18)``, ``label`` (int64).

    ``root``: a motion dataset folder, or ``arrays``: (data, index) from ``build_motion_arrays``.
    ``labels``: the action names a model uses (``data.labels``); only sequences of these actions are
    kept and ``label`` indexes this list (None = all of the dataset's labels, in its order).
    ``frames``: a random sub-window of that length (None = as stored); ``flip``: mirror half of the
    items (x -> -x, left/right joints swapped); ``augment``: more (``MotionAugment``; its ``flip``
    is or-ed with ``flip``). Keys may be ``(index, seed)`` like ``ClipDataset``.
    """

    def __init__(self, root: str | Path | None, split: str, frames: int | None = None, flip: bool = False,
                 labels: Sequence[str] | None = None, augment: MotionAugment | None = None,
                 arrays: tuple[dict[str, np.ndarray], dict[str, Any]] | None = None):
        where = root if root is not None else "the motion clips"
        if arrays is None:
            self.index = read_motion_index(root)
            data = load_motion_arrays(root, split)
        else:
            data, self.index = arrays
            if split not in ("train", "test"):
                raise PosevidError(None, f"split must be train or test, not {split!r}")
            keep = data["test"] if split == "test" else ~data["test"]
            data = {k: v[keep] for k, v in data.items()}
        stored: list[str] = list(self.index["labels"])
        self.labels: list[str] = list(labels) if labels else stored
        unknown = [name for name in self.labels if name not in stored]
        if unknown:
            raise PosevidError(where, f"actions {', '.join(unknown)} are not in the motion dataset "
                                      f"(it has {', '.join(stored)})")
        remap = np.array([self.labels.index(n) if n in self.labels else -1 for n in stored])
        keep = remap[data["label"]] >= 0
        data = {k: v[keep] for k, v in data.items()}
        data["label"] = remap[data["label"]]
        if len(data["xy"]) == 0:
            raise PosevidError(where, f"the motion dataset has no {split} sequence of {', '.join(self.labels)}")
        stored_frames = data["xy"].shape[1]
        self.frames = int(frames or stored_frames)
        if not 2 <= self.frames <= stored_frames:
            raise PosevidError(where, f"frames must be between 2 and the stored {stored_frames}, got {self.frames}")
        self.xy, self.conf, self.label, self.yaw = data["xy"], data["conf"], data["label"], data["yaw"]
        self.augment = augment or MotionAugment()
        self.augment.flip = self.augment.flip or bool(flip)
        self.flip = self.augment.flip
        self._pools = [np.flatnonzero(self.label == k) for k in range(len(self.labels))]
        self._labelled = [k for k, pool in enumerate(self._pools) if len(pool)]
        self._label_p = None  # balance's probability of each of ``_labelled`` (None: uniform)
        if self.augment.label_weights:
            unknown = sorted(set(self.augment.label_weights) - {self.labels[k] for k in self._labelled})
            if unknown:
                raise PosevidError(where, f"data.label_weights names {', '.join(unknown)}, not an action of the "
                                          f"training windows ({', '.join(self.labels[k] for k in self._labelled)})")
            w = np.array([self.augment.label_weights.get(self.labels[k], 1.0) for k in self._labelled])
            self._label_p = w / w.sum()
        yaws = np.nan_to_num(self.yaw, nan=1e9)
        self._same_yaw = {float(y): np.flatnonzero(yaws == y) for y in np.unique(yaws)}
        self._shapes = None
        if self.augment.match_phase:  # every stored pose scale- and position-free, for phase matching
            chain = body_scale(self.xy[:, :, None], self.conf[:, :, None])  # (N, T)
            self._shapes = (self.xy - box_center(self.xy, self.conf)[..., None, :]) / np.maximum(chain, 1e-6)[
                ..., None, None]

    def __len__(self) -> int:
        return len(self.xy)

    def _nearest_phase(self, same_yaw: np.ndarray, index: int, other: int, t: int,
                       rng: np.random.Generator) -> tuple[int, tuple[float, float]]:
        """The window of ``index``'s action (and yaw, unless ``match_view``), and its (speed, first frame), whose
        first pose is nearest to pose ``t`` of window ``other`` (one of the 3 nearest, at random)."""
        pool = self._pools[self.label[index]] if self.augment.match_view else same_yaw[
            self.label[same_yaw] == self.label[index]]
        speed, _ = self.augment.timing(self.xy.shape[1], self.frames, rng)
        last = int(np.floor(self.xy.shape[1] - 1 - speed * (self.frames - 1) + 1e-6))
        cand = self._shapes[pool, :last + 1]  # (P, S, J, 2)
        d = np.linalg.norm(cand - self._shapes[other, t], axis=-1).mean(-1).ravel()
        best = np.argpartition(d, min(2, len(d) - 1))[:3]
        w, s = np.unravel_index(int(rng.choice(best)), cand.shape[:2])
        return int(pool[w]), (speed, float(s))

    def __getitem__(self, key: int | tuple[int, int]) -> dict[str, torch.Tensor]:
        index, seed = (int(key[0]), int(key[1])) if isinstance(key, (tuple, list)) else (int(key), int(key))
        rng = np.random.default_rng(seed)
        aug = self.augment
        if aug.balance:
            index = int(rng.choice(self._pools[int(rng.choice(self._labelled, p=self._label_p))]))
        start = timing = None
        if aug.start_mix > 0 and rng.random() < aug.start_mix:
            same = self._same_yaw[float(np.nan_to_num(self.yaw[index], nan=1e9))]
            other = int(rng.choice(same))
            t = int(rng.integers(self.xy.shape[1]))
            start = (self.xy[other, t], self.conf[other, t])
            if self._shapes is not None:
                index, timing = self._nearest_phase(same, index, other, t, rng)
        xy, conf = aug.window(self.xy[index], self.conf[index], self.frames, rng, start, timing)
        return {"xy": torch.from_numpy(xy), "conf": torch.from_numpy(conf),
                "label": torch.tensor(int(self.label[index]))}


@dataclass
class MotionOptions:
    """``data:`` options of the ``motion`` kind (``MotionDataset``; the augmentations: ``MotionAugment``)."""

    kind: str = "motion"
    labels: list[str] = option([], "the actions to learn, a subset of the motion dataset's labels "
                                   "(`posevid motion dataset` prints them)")
    frames: int = option(16, "poses per sequence (random sub-windows of the stored ones)", ge=1)
    flip: bool = option(False, "mirror half of the training sequences (left/right joints swapped)")
    fps: float | None = option(None, "the motion dataset's frame rate (checked against it; default: its own)",
                               gt=0)
    build: dict[str, Any] | None = option(None, "--data is a folder of mocap clips, turned into windows in memory "
                                                "with these options of `posevid motion dataset` (frames, yaws, "
                                                "stride, projection, test_fraction, label_map: file name or stem "
                                                "-> action label)")
    balance: bool = option(False, "every action equally often (a label, then one of its windows)")
    label_weights: dict[str, float] | None = option(None, "with balance: these actions drawn that many times as "
                                                          "often as the others (name -> weight, others 1)")
    speed: tuple[float, float] = option((1.0, 1.0), "playback speed range (log-uniform)")
    rotate: float = option(0.0, "in-plane rotation range in degrees", ge=0)
    start_mix: float = option(0.0, "fraction of windows that start from a pose of another window and blend "
                                   "into their own motion", ge=0, le=1)
    blend: int = option(8, "frames over which such a start blends into the motion", ge=1)
    match_phase: bool = option(False, "enter the motion at the frame of that action nearest the start pose")
    match_view: bool = option(False, "match_phase searches that action's windows of every camera yaw (the start "
                                     "pose's facing is kept), not only the start pose's yaw")
    canonical: bool = option(False, "scale each window to body chain 1 and centre its first frame "
                                    "(coordinates may leave [-1, 1])")


def _augment(opts: MotionOptions, split: str) -> MotionAugment:
    try:
        return MotionAugment.from_options(opts, split == "train")
    except (TypeError, ValueError) as err:
        raise PosevidError("data", str(err)) from None


@register_dataset("motion", MotionOptions)
def _motion(opts: MotionOptions, root: Path, split: str) -> MotionDataset:
    """A motion dataset folder, or (with ``data.build``) a folder of mocap clips turned into one in memory."""
    arrays = None
    if opts.build and not (root / "index.json").is_file():
        build = dict(opts.build)
        build["labels"] = build.pop("label_map", None)
        build.setdefault("fps", opts.fps or 30.0)
        try:
            arrays = build_motion_arrays([root], **build)
        except TypeError as err:
            raise PosevidError("data.build", str(err)) from None
        fps = arrays[1]["fps"]
    else:
        fps = read_motion_index(root)["fps"]
    if opts.fps is not None and abs(opts.fps - float(fps)) > 1e-6:
        raise PosevidError(root, f"the motion dataset is at {fps:g} fps, the config says data.fps={opts.fps:g}")
    return MotionDataset(root, split, frames=opts.frames, labels=opts.labels or None, augment=_augment(opts, split),
                         arrays=arrays)
