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
import difflib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from ..errors import PosevidError
from ..options import option, parse
from ..poses import Poses
from ..tensors import image_to_tensor
from .augment import color_jitter, flip_item
from .prepared import FRAMES, IUV, MASKS, image_path, read_clip_poses, read_index, read_meta, read_png


@dataclass
class ClipOptions:
    """``data:`` options of the ``clips`` kind (``ClipDataset`` over a prepared folder)."""

    kind: str = "clips"
    size: int | None = option(None, "side of the square images in pixels (resized on load); "
                                    "default: the prepared dataset's size", ge=16, le=4096)
    frames: int = option(1, "consecutive target frames per item (T)", ge=1)
    source: bool = option(True, "also give a random source frame of the same clip")
    flip: bool = option(False, "mirror half of the training items (left/right joints swapped)")
    color: float = option(0.0, "colour jitter strength of training items (0: off)", ge=0)
    keypoints: Literal["body", "face"] = option("body", "the pose of each item: the 18 body joints, or the 68 face "
                                                        "landmarks of a face dataset (prepare --subject face)")


@dataclass(frozen=True)
class DatasetKind:
    """A registered ``data.kind``: ``build(options, root, split) -> Dataset`` and its options dataclass
    (None: the ``data:`` mapping is passed as it is, unchecked)."""

    build: Callable[[Any, Path, str], Dataset]
    options: type | None


DATASETS: dict[str, DatasetKind] = {}


def register_dataset(kind: str, options: type | None = None):
    """Decorator for a builder ``fn(data_options, root, split) -> Dataset`` selected by ``data.kind``.

    ``options``: the dataclass of this kind's ``data:`` options (checked, defaults filled in, and handed to
    the builder); without it the builder gets the ``data:`` mapping unchecked. A method package registers
    its own kinds when imported (the registry imports it before its config is checked).
    """

    def wrap(fn: Callable[[Any, Path, str], Dataset]):
        DATASETS[kind] = DatasetKind(fn, options)
        return fn

    return wrap


def dataset_options(kind: Any) -> type | None:
    """The options dataclass of ``data.kind``, None for a kind registered without one (``PosevidError``
    naming the nearest kind when unknown)."""
    if kind not in DATASETS:
        near = difflib.get_close_matches(str(kind), list(DATASETS), n=1)
        hint = f"did you mean {near[0]!r}? " if near else ""
        raise PosevidError("data.kind", f"unknown kind {kind!r:.40}; {hint}known: {', '.join(sorted(DATASETS))}")
    return DATASETS[kind].options


def build_dataset(data_cfg: dict[str, Any], root: str | Path, split: str) -> Dataset:
    """The dataset of kind ``data_cfg['kind']`` (default "clips") for ``split`` of ``root``."""
    kind = data_cfg.get("kind", "clips")
    options = dataset_options(kind)
    return DATASETS[kind].build(parse(options, data_cfg, "data") if options else data_cfg, Path(root), split)


class ClipDataset(Dataset):
    """Windows of ``frames`` consecutive frames over every clip of ``split`` (one item per start j).

    ``source``: also give a random source frame of the same clip. ``flip``: mirror half of the items
    (left/right joints and IUV parts swapped). ``size``: resize on load (None = as prepared).
    ``color``: colour jitter strength (0 = off). Clips shorter than ``frames`` are skipped. ``keypoints``
    ``face``: ``xy`` / ``conf`` hold the 68 face landmarks (a face dataset) instead of the body's 18 joints.
    """

    def __init__(self, root: str | Path, split: str, frames: int = 1, source: bool = True, flip: bool = False,
                 size: int | None = None, color: float = 0.0, keypoints: str = "body"):
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
            meta = read_meta(self.root, name)
            if int(meta["frames"]) < self.frames:
                continue
            poses = read_clip_poses(self.root, name)
            if keypoints == "face":  # the 68 landmarks take the joints' place in the items
                if poses.face_xy is None:
                    raise PosevidError(self.root / name, "has no face landmarks (make it with prepare --subject face)")
                poses = Poses(poses.face_xy, poses.face_conf, poses.width, poses.height, poses.fps)
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
        img = read_png(image_path(self.root, self.clips[c], sub, t), flags)
        if img.shape[0] != self.size:
            interp = cv2.INTER_NEAREST if sub == IUV else cv2.INTER_AREA
            img = cv2.resize(img, (self.size, self.size), interpolation=interp)
        return img

    def frame(self, c: int, t: int) -> dict[str, torch.Tensor]:
        """Frame ``t`` of clip ``c``: ``image (3,H,W)`` in [-1, 1], ``xy (18,2)``, ``conf (18,)``,
        ``mask (1,H,W)`` in [0, 1] and ``iuv (3,H,W)`` raw values when present."""
        rgb = cv2.cvtColor(self._image(c, FRAMES, t, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        mask = self._image(c, MASKS, t, cv2.IMREAD_GRAYSCALE)
        out = {"image": image_to_tensor(rgb),
               "xy": torch.from_numpy(self.poses[c].xy[t].copy()),
               "conf": torch.from_numpy(self.poses[c].conf[t].copy()),
               "mask": torch.from_numpy(mask).float()[None] / 255}
        if self.has_iuv[c]:
            iuv = cv2.cvtColor(self._image(c, IUV, t, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
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


@register_dataset("clips", ClipOptions)
def _clips(opts: ClipOptions, root: Path, split: str) -> ClipDataset:
    train = split == "train"
    return ClipDataset(root, split, frames=opts.frames, source=opts.source, flip=train and opts.flip,
                       size=opts.size, color=opts.color if train else 0.0, keypoints=opts.keypoints)
