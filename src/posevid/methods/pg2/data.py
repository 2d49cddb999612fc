"""DeepFashion and Market-1501 pairs in the layout PG2 / PATN / Deformable GAN distribute, as the
``data.kind: pg2_pairs`` dataset.

Layout under the data root (PATN's ``fashion_data`` / ``market_data`` folders as they are)::

    ROOT/train/*.jpg, ROOT/test/*.jpg                 images, named as in the CSVs
    ROOT/<prefix>-pairs-<split>.csv                   "from,to" rows (fasion-resize-pairs-train.csv, ...)
    ROOT/<prefix>-annotation-<split>.csv              "name:keypoints_y:keypoints_x" rows, -1 = missing

Config keys (``data:``): ``size`` (height), ``width`` (default = size), ``flip``, and optionally
``pairs``, ``annotations``, ``images`` (paths relative to ROOT, ``{split}`` is replaced) when the
files are named differently. Items carry the keys of ``ClipDataset`` with T = 1: I_A is ``src``,
I_B is ``frames[0]``; images are resized to height x width and keypoints scaled with them; ``masks`` /
``src_mask`` are PG2 pose masks (these datasets have no person segmentation).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from ...data.augment import flip_item
from ...data.datasets import register_dataset
from ...errors import PosevidError
from ...options import option
from ...posefiles import read_poses
from ...render import pose_mask
from ...tensors import image_to_tensor


def read_pg2_annotations(path: str | Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """A PG2 annotation CSV as {image name: (xy (18, 2) float32 pixels, conf (18,) float32 in {0, 1})}."""
    path = Path(path)
    poses = read_poses(path, "pg2")
    # read_poses checked the header and every row; the names are the rows' first fields, in order.
    lines = [ln for ln in path.read_text().splitlines() if ln.strip()]
    names = [ln.rsplit(":", 2)[0].strip() for ln in lines[1:]]
    return {name: (poses.xy[i], poses.conf[i]) for i, name in enumerate(names)}


def read_pg2_pairs(path: str | Path) -> list[tuple[str, str]]:
    """A PG2 pair list CSV (header ``from,to``) as [(source name, target name), ...]."""
    path = Path(path)
    if not path.is_file():
        raise PosevidError(path, "no such pair list")
    with path.open(newline="") as f:
        rows = [r for r in csv.reader(f) if r and any(c.strip() for c in r)]
    if not rows or [c.strip() for c in rows[0]] != ["from", "to"]:
        raise PosevidError(path, "a PG2 pair list must start with the header 'from,to'")
    pairs = []
    for n, row in enumerate(rows[1:], start=2):
        if len(row) != 2 or not all(c.strip() for c in row):
            raise PosevidError(path, f"line {n}: expected 'source_name,target_name'")
        pairs.append((row[0].strip(), row[1].strip()))
    if not pairs:
        raise PosevidError(path, "the pair list has no pairs")
    return pairs


def _find(root: Path, pattern: str | None, split: str, glob: str, what: str) -> Path:
    """ROOT/pattern (with {split} filled in) if given, else the one file matching ``glob``."""
    if pattern:
        return root / pattern.format(split=split)
    found = sorted(root.glob(glob))
    if len(found) != 1:
        raise PosevidError(root, f"expected one {what} file matching {glob!r}, found {len(found)}"
                                 " (set it in the data config)")
    return found[0]


class PG2PairDataset(Dataset):
    """(I_A, I_B) pairs of one split with the target pose, at ``height`` x ``width``.

    A key is an int (the pair index, also the seed) or ``(index, seed)``; the seed decides the flip.
    """

    def __init__(self, root: str | Path, split: str, height: int = 256, width: int | None = None,
                 flip: bool = False, pairs: str | None = None, annotations: str | None = None,
                 images: str | None = None):
        self.root = Path(root)
        if split not in ("train", "test"):
            raise PosevidError(None, f"split must be train or test, not {split!r}")
        self.height, self.width, self.flip = int(height), int(width or height), bool(flip)
        pairs_path = _find(self.root, pairs, split, f"*pairs-{split}.csv", "pair list")
        ann_path = _find(self.root, annotations, split, f"*annotation-{split}.csv", "annotation")
        self.images = self.root / (images.format(split=split) if images else split)
        if not self.images.is_dir():
            raise PosevidError(self.images, "no such image folder")
        self.pairs = read_pg2_pairs(pairs_path)
        self.poses = read_pg2_annotations(ann_path)
        for a, b in self.pairs:
            for name in (a, b):
                if name not in self.poses:
                    raise PosevidError(pairs_path, f"{name} has no keypoints in {ann_path.name}")

    def __len__(self) -> int:
        return len(self.pairs)

    def image(self, name: str) -> dict[str, torch.Tensor]:
        """One image resized to the dataset size: ``image (3,H,W)`` in [-1, 1], ``xy (18,2)`` pixels,
        ``conf (18,)``, ``mask (1,H,W)`` (pose mask)."""
        path = self.images / name
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None:
            raise PosevidError(path, "missing or unreadable image")
        h, w = bgr.shape[:2]
        if (h, w) != (self.height, self.width):
            bgr = cv2.resize(bgr, (self.width, self.height), interpolation=cv2.INTER_AREA)
        xy, conf = self.poses[name]
        xy = xy * np.array([self.width / w, self.height / h], np.float32)
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        return {"image": image_to_tensor(rgb),
                "xy": torch.from_numpy(xy), "conf": torch.from_numpy(conf.copy()),
                "mask": torch.from_numpy(pose_mask(xy, conf, self.height, self.width))[None]}

    def __getitem__(self, key: int | tuple[int, int]) -> dict[str, torch.Tensor]:
        index, seed = (int(key[0]), int(key[1])) if isinstance(key, (tuple, list)) else (int(key), int(key))
        if not 0 <= index < len(self):
            raise IndexError(index)
        a, b = (self.image(n) for n in self.pairs[index])
        item = {"src": a["image"], "src_xy": a["xy"], "src_conf": a["conf"], "src_mask": a["mask"],
                "frames": b["image"][None], "xy": b["xy"][None], "conf": b["conf"][None], "masks": b["mask"][None]}
        if self.flip and np.random.default_rng(seed).random() < 0.5:
            flip_item(item)
        return item


@dataclass
class PairOptions:
    """``data:`` options of the ``pg2_pairs`` kind (DeepFashion / Market-1501 pair lists)."""

    kind: str = "pg2_pairs"
    size: int = option(256, "image height in pixels", ge=8, le=4096)
    width: int | None = option(None, "image width in pixels (default: size)", ge=8)
    flip: bool = option(False, "mirror half of the training pairs")
    pairs: str | None = option(None, "pair list under the data folder ({split} is filled in); "
                                     "default: the one *pairs-{split}.csv")
    annotations: str | None = option(None, "keypoint annotations under the data folder; "
                                           "default: the one *annotation-{split}.csv")
    images: str | None = option(None, "image folder under the data folder (default: {split})")
    frames: int = option(1, "target images per pair (always 1)", ge=1, le=1)


@register_dataset("pg2_pairs", PairOptions)
def _pg2_pairs(opts: PairOptions, root: Path, split: str) -> PG2PairDataset:
    return PG2PairDataset(root, split, opts.size, opts.width, flip=split == "train" and opts.flip,
                          pairs=opts.pairs, annotations=opts.annotations, images=opts.images)
