"""PG²'s single-image pose transfer (``posevid transfer``): the person of a photo in another pose."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ...errors import PosevidError
from ...poses import Poses


def read_target_pose(path: str | Path, frame: int = 0) -> Poses:
    """The one-frame target pose of ``transfer``: frame ``frame`` of a pose file, or the pose estimated
    in an image of another person (its own pixel coordinates)."""
    from ...video import IMAGE_SUFFIXES, read_image

    path = Path(path)
    if path.suffix.lower() in IMAGE_SUFFIXES:
        from ...estimate import estimate_poses

        poses = estimate_poses(read_image(path))
        if not (poses.conf > 0).any():
            raise PosevidError(path, "no person found in the target image")
        return poses
    from ...posefiles import read_poses

    poses = read_poses(path)
    if not -len(poses) <= frame < len(poses):
        raise PosevidError(path, f"has {len(poses)} frames; frame {frame} does not exist")
    if not (poses.conf[frame] > 0).any():
        raise PosevidError(path, f"frame {frame} holds no visible joint")
    return poses[frame]


def transfer(pipeline: Any, source: str | Path | np.ndarray, target: str | Path | Poses,
             frame: int = 0) -> np.ndarray:
    """Single-image pose transfer: the person in ``source`` in the pose of ``target``.

    ``pipeline``: a ``posevid.pipeline.Pipeline`` of the trained model, made with ``mode="absolute"`` (the
    target pose scaled and moved onto the source body) and ``smooth=False``. As ``posevid animate`` does,
    the model works on the square around the person at its training size and the result is pasted back
    into the photo's frame (longer side: the pipeline's ``size``, default the photo's). Works with any
    trained method's animator. ``target``: a pose file (frame ``frame``), an image of another person, or
    one-frame ``Poses``. Returns (H, W, 3) uint8 with the photo's aspect ratio.
    """
    pose = target if isinstance(target, Poses) else read_target_pose(target, frame)
    with pipeline.open(source, pose[:1]) as anim:
        result, _ = next(iter(anim))
    return result
