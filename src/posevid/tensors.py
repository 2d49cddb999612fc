"""Conversions between images as uint8 arrays and tensors in [-1, 1], the range every network uses."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor


def image_to_tensor(rgb: np.ndarray, device: torch.device | str | None = None) -> Tensor:
    """(H, W, C) uint8 -> (C, H, W) float32 in [-1, 1] on ``device`` (the CPU when None)."""
    arr = np.ascontiguousarray(rgb, dtype=np.uint8)
    if not arr.flags.writeable:  # e.g. frames decoded by PyAV; torch wants memory it may write
        arr = arr.copy()
    return torch.from_numpy(arr).to(device).permute(2, 0, 1).float() / 127.5 - 1


def tensor_to_image(x: Tensor) -> np.ndarray:
    """(C, H, W) in [-1, 1] (clamped) -> (H, W, C) uint8 on the CPU; the exact inverse of
    ``image_to_tensor`` for images that came from uint8."""
    return ((x.detach().float().clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 0).cpu().numpy()
