"""The prepared-dataset layout (``posevid prepare`` writes it; training, evaluation and the tools read it),
written once (``data.layouts`` is about the layouts of the datasets ``prepare`` reads)::

    DATA/index.json                 {"size": 256, "train": ["clipA", ...], "test": ["clipB", ...]}
    DATA/<clip>/frames/000000.png   RGB, size x size
    DATA/<clip>/masks/000000.png    person mask, uint8 0/255
    DATA/<clip>/iuv/000000.png      optional DensePose IUV (I, U, V in the three channels)
    DATA/<clip>/poses.npz           Poses in the crop's pixel coordinates
    DATA/<clip>/meta.json           source video, crop box, fps, frame count (written last: the clip is done)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ..errors import PosevidError
from ..posefiles import read_poses
from ..poses import Poses

INDEX, META, POSES = "index.json", "meta.json", "poses.npz"
FRAMES, MASKS, IUV = "frames", "masks", "iuv"  # the image folders of a clip


def image_name(t: int) -> str:
    """The file name of frame ``t`` (from 0) in a clip's image folders."""
    return f"{t:06d}.png"


def image_path(root: str | Path, clip: str, folder: str, t: int) -> Path:
    """``root/clip/folder/<t>.png`` (``folder``: ``FRAMES``, ``MASKS`` or ``IUV``)."""
    return Path(root) / clip / folder / image_name(t)


def read_index(root: str | Path) -> dict[str, Any]:
    """``root/index.json`` of a prepared dataset: {"size", "train": [...], "test": [...]}."""
    path = Path(root) / INDEX
    if not path.is_file():
        raise PosevidError(root, "not a prepared dataset (no index.json; run `posevid prepare`)")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise PosevidError(path, f"broken index ({err.msg})") from None


def read_meta(root: str | Path, clip: str) -> dict[str, Any]:
    """A listed clip's ``meta.json`` (``PosevidError`` when the clip was never finished)."""
    path = Path(root) / clip / META
    if not path.is_file():
        raise PosevidError(Path(root) / clip, "clip is listed in index.json but not finished (no meta.json)")
    return json.loads(path.read_text())


def read_clip_poses(root: str | Path, clip: str) -> Poses:
    """A clip's poses (T, 18, 2) in its frames' pixels."""
    return read_poses(Path(root) / clip / POSES, "npz")


def read_png(path: Path, flags: int = cv2.IMREAD_COLOR) -> np.ndarray:
    """One image of the dataset as OpenCV reads it (``PosevidError`` naming it when missing or damaged)."""
    img = cv2.imread(str(path), flags)
    if img is None:
        raise PosevidError(path, "missing or unreadable image in the prepared dataset")
    return img


def read_mask(root: str | Path, clip: str, t: int) -> np.ndarray:
    """Frame ``t``'s person mask, (H, W) float32 in [0, 1]."""
    return read_png(image_path(root, clip, MASKS, t), cv2.IMREAD_GRAYSCALE).astype(np.float32) / 255.0
