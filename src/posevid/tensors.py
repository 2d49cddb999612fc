"""Conversions between images as uint8 arrays and tensors in [-1, 1], the range every network uses, and
the one resize used to take images to a model's size and frames back to the caller's. torch is imported
by the conversions, so that a caller of ``resize_image`` alone (the warp method's pipeline) loads none."""

from __future__ import annotations

from typing import TYPE_CHECKING

import cv2
import numpy as np

if TYPE_CHECKING:
    import torch
    from torch import Tensor


def image_to_tensor(rgb: np.ndarray, device: torch.device | str | None = None) -> Tensor:
    """(H, W, C) uint8 -> (C, H, W) float32 in [-1, 1] on ``device`` (the CPU when None)."""
    import torch

    arr = np.ascontiguousarray(rgb, dtype=np.uint8)
    if not arr.flags.writeable:  # e.g. frames decoded by PyAV; torch wants memory it may write
        arr = arr.copy()
    return torch.from_numpy(arr).to(device).permute(2, 0, 1).float() / 127.5 - 1


def tensor_to_image(x: Tensor) -> np.ndarray:
    """(C, H, W) in [-1, 1] (clamped) -> (H, W, C) uint8 on the CPU; the exact inverse of
    ``image_to_tensor`` for images that came from uint8."""
    return ((x.detach().float().clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 0).cpu().numpy()


def resize_image(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """``image`` (H, W[, C]) resized to (height, width[, C]): area averaging when shrinking, bilinear when
    growing; returned as is when it already has that size. Used both ways: to a model's input size and
    back to the output size."""
    h, w = image.shape[:2]
    if (w, h) == (width, height):
        return image
    interp = cv2.INTER_AREA if width * height < w * h else cv2.INTER_LINEAR
    return cv2.resize(image, (int(width), int(height)), interpolation=interp)
