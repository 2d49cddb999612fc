"""Datasets over a prepared folder (``posevid prepare``), and a registry keyed by ``data.kind``.

``ClipDataset`` items (docs/design.md): ``src (3,H,W)``, ``src_xy (18,2)``, ``src_conf (18,)``,
``src_mask (1,H,W)`` from a random frame i of the clip, and ``frames (T,3,H,W)``, ``xy (T,18,2)``,
``conf (T,18)``, ``masks (T,1,H,W)`` for T consecutive frames j..j+T-1; ``src_iuv (3,H,W)`` and
``iuv (T,3,H,W)`` (raw I, U, V values) when the clip has IUV; ``clip`` and ``start`` (ints).
Images are float32 in [-1, 1], masks in [0, 1], keypoints in pixels of the (resized) frames.

An item's randomness (source frame, flip, colour) comes from a per-item seed: a key may be an int
(seed = the index, deterministic) or ``(index, seed)`` as given by the trainer's sampler, so data
order and augmentation resume exactly.
"""

from __future__ import annotations

import bisect
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from ..errors import PosevidError
from ..posefiles import read_poses
from ..tensors import image_to_tensor
from .augment import color_jitter, flip_item

DATASETS: dict[str, Callable[[dict[str, Any], Path, str], Dataset]] = {}


def register_dataset(kind: str):
    """Decorator for a builder ``fn(data_cfg, root, split) -> Dataset`` selected by ``data.kind``.

    A method module registers its own kinds when imported (``build_method`` imports it first).
    """

    def wrap(fn: Callable[[dict[str, Any], Path, str], Dataset]):
        DATASETS[kind] = fn
        return fn

    return wrap


def build_dataset(data_cfg: dict[str, Any], root: str | Path, split: str) -> Dataset:
    """The dataset of kind ``data_cfg['kind']`` (default "clips") for ``split`` of ``root``."""
    kind = data_cfg.get("kind", "clips")
    if kind not in DATASETS:
        raise PosevidError(None, f"unknown data.kind {kind!r}; known: {', '.join(sorted(DATASETS))}")
    return DATASETS[kind](data_cfg, Path(root), split)


def read_index(root: str | Path) -> dict[str, Any]:
    """``root/index.json`` of a prepared dataset: {"size", "train": [...], "test": [...]}."""
    path = Path(root) / "index.json"
    if not path.is_file():
        raise PosevidError(root, "not a prepared dataset (no index.json; run `posevid prepare`)")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise PosevidError(path, f"broken index ({err.msg})") from None


def _read_png(path: Path, flags: int) -> np.ndarray:
    img = cv2.imread(str(path), flags)
    if img is None:
        raise PosevidError(path, "missing or unreadable image in the prepared dataset")
    return img


class ClipDataset(Dataset):
    """Windows of ``frames`` consecutive frames over every clip of ``split`` (one item per start j).

    ``source``: also give a random source frame of the same clip. ``flip``: mirror half of the items
    (left/right joints and IUV parts swapped). ``size``: resize on load (None = as prepared).
    ``color``: colour jitter strength (0 = off). Clips shorter than ``frames`` are skipped.
    """

    def __init__(self, root: str | Path, split: str, frames: int = 1, source: bool = True, flip: bool = False,
                 size: int | None = None, color: float = 0.0):
        self.root = Path(root)
        index = read_index(self.root)
        if split not in ("train", "test"):
            raise PosevidError(None, f"split must be train or test, not {split!r}")
        self.prepared_size = int(index["size"])
        self.size = int(size) if size else self.prepared_size
        self.frames, self.source, self.flip, self.color = int(frames), bool(source), bool(flip), float(color)
        self.clips: list[str] = []
        self.poses = []
        self.has_iuv: list[bool] = []
        for name in index.get(split, []):
            meta_path = self.root / name / "meta.json"
            if not meta_path.is_file():
                raise PosevidError(self.root / name, "clip is listed in index.json but not finished (no meta.json)")
            meta = json.loads(meta_path.read_text())
            if int(meta["frames"]) < self.frames:
                continue
            poses = read_poses(self.root / name / "poses.npz", "npz")
            self.clips.append(name)
            self.poses.append(poses.rescale(self.size, self.size) if self.size != poses.width else poses)
            self.has_iuv.append(bool(meta.get("iuv")))
        if not self.clips:
            raise PosevidError(self.root, f"no {split} clip with at least {self.frames} frames")
        self._starts = np.cumsum([0] + [len(p) - self.frames + 1 for p in self.poses]).tolist()

    def __len__(self) -> int:
        return self._starts[-1]

    def clip_length(self, c: int) -> int:
        """Number of frames of clip ``c``."""
        return len(self.poses[c])

    def _image(self, c: int, sub: str, t: int, flags: int) -> np.ndarray:
        img = _read_png(self.root / self.clips[c] / sub / f"{t:06d}.png", flags)
        if img.shape[0] != self.size:
            interp = cv2.INTER_NEAREST if sub == "iuv" else cv2.INTER_AREA
            img = cv2.resize(img, (self.size, self.size), interpolation=interp)
        return img

    def frame(self, c: int, t: int) -> dict[str, torch.Tensor]:
        """Frame ``t`` of clip ``c``: ``image (3,H,W)`` in [-1, 1], ``xy (18,2)``, ``conf (18,)``,
        ``mask (1,H,W)`` in [0, 1] and ``iuv (3,H,W)`` raw values when present."""
        rgb = cv2.cvtColor(self._image(c, "frames", t, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        mask = self._image(c, "masks", t, cv2.IMREAD_GRAYSCALE)
        out = {"image": image_to_tensor(rgb),
               "xy": torch.from_numpy(self.poses[c].xy[t].copy()),
               "conf": torch.from_numpy(self.poses[c].conf[t].copy()),
               "mask": torch.from_numpy(mask).float()[None] / 255}
        if self.has_iuv[c]:
            iuv = cv2.cvtColor(self._image(c, "iuv", t, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
            out["iuv"] = torch.from_numpy(iuv).permute(2, 0, 1).float()
        return out

    def __getitem__(self, key: int | tuple[int, int]) -> dict[str, torch.Tensor]:
        index, seed = (int(key[0]), int(key[1])) if isinstance(key, (tuple, list)) else (int(key), int(key))
        if not 0 <= index < len(self):
            raise IndexError(index)
        rng = np.random.default_rng(seed)
        c = bisect.bisect_right(self._starts, index) - 1
        j = index - self._starts[c]
        window = [self.frame(c, j + k) for k in range(self.frames)]
        item = {"frames": torch.stack([f["image"] for f in window]), "xy": torch.stack([f["xy"] for f in window]),
                "conf": torch.stack([f["conf"] for f in window]), "masks": torch.stack([f["mask"] for f in window]),
                "clip": torch.tensor(c), "start": torch.tensor(j)}
        if self.has_iuv[c]:
            item["iuv"] = torch.stack([f["iuv"] for f in window])
        if self.source:
            src = self.frame(c, int(rng.integers(self.clip_length(c))))
            item.update(src=src["image"], src_xy=src["xy"], src_conf=src["conf"], src_mask=src["mask"])
            if "iuv" in src:
                item["src_iuv"] = src["iuv"]
        if self.flip and rng.random() < 0.5:
            flip_item(item)
        return color_jitter(item, rng, self.color)


@register_dataset("clips")
def _clips(cfg: dict[str, Any], root: Path, split: str) -> ClipDataset:
    train = split == "train"
    return ClipDataset(root, split, frames=int(cfg.get("frames", 1)), source=bool(cfg.get("source", True)),
                       flip=train and bool(cfg.get("flip", False)), size=cfg.get("size"),
                       color=float(cfg.get("color", 0.0)) if train else 0.0)
