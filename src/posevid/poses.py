"""``Poses``: a sequence of 2D COCO-18 skeletons in pixel coordinates, with the image size and fps.

Retargeting, smoothing and gap filling live here too; they take and return ``Poses``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .skeleton import FLIP_PERM, NUM_JOINTS


@dataclass
class Poses:
    """T frames of J joints.

    xy: (T, J, 2) float32 pixel coordinates (x right, y down) in an image of ``width`` x ``height``.
    conf: (T, J) float32 confidence in [0, 1]; a missing joint has confidence 0 (and xy 0).
    fps: frames per second of the sequence.
    """

    xy: np.ndarray
    conf: np.ndarray
    width: int
    height: int
    fps: float = 30.0

    def __post_init__(self) -> None:
        self.xy = np.asarray(self.xy, dtype=np.float32)
        self.conf = np.asarray(self.conf, dtype=np.float32)
        if self.xy.ndim == 2:
            self.xy = self.xy[None]
        if self.conf.ndim == 1:
            self.conf = self.conf[None]
        if self.xy.ndim != 3 or self.xy.shape[-1] != 2:
            raise ValueError(f"Poses.xy must be (T, J, 2), got {self.xy.shape}")
        if self.conf.shape != self.xy.shape[:2]:
            raise ValueError(f"Poses.conf must be {self.xy.shape[:2]}, got {self.conf.shape}")
        if not (np.isfinite(self.xy).all() and np.isfinite(self.conf).all()):
            raise ValueError("Poses contain NaN or infinite values")
        self.width, self.height = int(self.width), int(self.height)
        self.fps = float(self.fps)

    @classmethod
    def empty(cls, frames: int, width: int, height: int, fps: float = 30.0, joints: int = NUM_JOINTS) -> Poses:
        """``frames`` frames in which no joint was found (confidence 0)."""
        return cls(np.zeros((frames, joints, 2), np.float32), np.zeros((frames, joints), np.float32),
                   width, height, fps)

    @classmethod
    def concat(cls, items: list[Poses]) -> Poses:
        """Join sequences of the same image size along time (the first one's fps is kept)."""
        if not items:
            raise ValueError("Poses.concat needs at least one sequence")
        first = items[0]
        return cls(np.concatenate([p.xy for p in items]), np.concatenate([p.conf for p in items]),
                   first.width, first.height, first.fps)

    def __len__(self) -> int:
        return self.xy.shape[0]

    def __getitem__(self, index: int | slice | np.ndarray) -> Poses:
        """A sub-sequence; an integer index gives a one-frame ``Poses``."""
        if isinstance(index, (int, np.integer)):
            index = slice(int(index), int(index) + 1 if int(index) != -1 else None)
        return Poses(self.xy[index], self.conf[index], self.width, self.height, self.fps)

    def __iter__(self):
        for t in range(len(self)):
            yield self[t]

    @property
    def num_joints(self) -> int:
        return self.xy.shape[1]

    def visible(self, threshold: float = 0.1) -> np.ndarray:
        """(T, J) bool: joints whose confidence exceeds ``threshold``."""
        return self.conf > threshold

    def copy(self) -> Poses:
        return Poses(self.xy.copy(), self.conf.copy(), self.width, self.height, self.fps)

    def rescale(self, width: int, height: int) -> Poses:
        """The same poses in an image of ``width`` x ``height`` (coordinates scaled per axis)."""
        sx, sy = width / self.width, height / self.height
        xy = self.xy * np.array([sx, sy], np.float32)
        return Poses(xy, self.conf, width, height, self.fps)

    def crop(self, x0: float, y0: float, size_w: float, size_h: float, width: int, height: int) -> Poses:
        """Poses inside the box (x0, y0, size_w, size_h) of this image, resized to width x height.

        Joints that fall outside the box keep their (out-of-range) coordinates and confidence.
        """
        xy = (self.xy - np.array([x0, y0], np.float32)) * np.array([width / size_w, height / size_h], np.float32)
        xy[self.conf <= 0] = 0
        return Poses(xy, self.conf, width, height, self.fps)

    def flip(self) -> Poses:
        """Mirror horizontally: x -> width - 1 - x, with left and right joints swapped."""
        if self.num_joints != NUM_JOINTS:
            raise ValueError("flip needs COCO-18 poses")
        perm = list(FLIP_PERM)
        xy = self.xy[:, perm].copy()
        conf = self.conf[:, perm].copy()
        xy[..., 0] = self.width - 1 - xy[..., 0]
        xy[conf <= 0] = 0
        return Poses(xy, conf, self.width, self.height, self.fps)
