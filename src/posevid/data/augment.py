"""Data augmentation that keeps images, keypoints, masks and IUV consistent.

``flip_item`` mirrors every image of a dataset item and swaps left and right joints (``Poses.flip``
semantics: x -> width - 1 - x) and left/right DensePose parts. ``color_jitter`` changes brightness,
contrast and saturation of all images of an item by the same random amounts.
"""

from __future__ import annotations

import numpy as np
import torch

from ..skeleton import FACE_FLIP_PERM, FLIP_PERM

# DensePose part index (1..24) -> its mirror part (hands, feet, legs, arms and head sides swap).
_IUV_FLIP = np.array([0, 1, 2, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15, 18, 17, 20, 19, 22, 21, 24, 23],
                     dtype=np.float32)
_IMAGE_KEYS = ("src", "src_mask", "frames", "masks")
_IUV_KEYS = ("src_iuv", "iuv")


def flip_keypoints(xy: torch.Tensor, conf: torch.Tensor, width: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Mirror COCO-18 keypoints (or the 68 iBUG face landmarks): xy (..., J, 2) pixels, conf (..., J) -> flipped
    copies.

    Left and right joints swap, x -> width - 1 - x, missing joints (conf 0) stay at 0.
    """
    perm = list(FACE_FLIP_PERM if xy.shape[-2] == len(FACE_FLIP_PERM) else FLIP_PERM)
    xy, conf = xy[..., perm, :].clone(), conf[..., perm].clone()
    xy[..., 0] = width - 1 - xy[..., 0]
    xy[conf <= 0] = 0
    return xy, conf


def flip_iuv(iuv: torch.Tensor) -> torch.Tensor:
    """Mirror IUV images (..., 3, H, W) of raw values: flip width, swap left/right part indices.

    U and V are kept: correspondences between two images flipped together stay valid.
    """
    out = iuv.flip(-1).clone()
    parts = out[..., 0, :, :].round().clamp(0, 24).long()
    out[..., 0, :, :] = torch.from_numpy(_IUV_FLIP).to(out)[parts]
    return out


def flip_item(item: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Horizontally flip a dataset item in place (images, masks, IUV, keypoints) and return it."""
    width = None
    for key in _IMAGE_KEYS:
        if key in item:
            item[key] = item[key].flip(-1)
            width = item[key].shape[-1]
    for key in _IUV_KEYS:
        if key in item:
            item[key] = flip_iuv(item[key])
    if width is None:
        raise ValueError("flip_item needs at least one image in the item")
    for prefix in ("src_", ""):
        if prefix + "xy" in item:
            item[prefix + "xy"], item[prefix + "conf"] = flip_keypoints(item[prefix + "xy"], item[prefix + "conf"],
                                                                        width)
    return item


def color_jitter(item: dict[str, torch.Tensor], rng: np.random.Generator, strength: float) -> dict[str, torch.Tensor]:
    """Same random brightness/contrast/saturation change (each up to +-strength) on ``src`` and ``frames``.

    Images are in [-1, 1] and stay clipped there. ``strength`` 0 leaves the item unchanged.
    """
    if strength <= 0:
        return item
    b, c, s = (1 + rng.uniform(-strength, strength, 3)).tolist()
    for key in ("src", "frames"):
        if key in item:
            img = (item[key] + 1) / 2 * b
            mean = img.mean(dim=(-3, -2, -1), keepdim=True)
            img = (img - mean) * c + mean
            grey = img.mean(dim=-3, keepdim=True)
            img = (img - grey) * s + grey
            item[key] = (img.clamp(0, 1) * 2 - 1).contiguous()
    return item
