"""DensePose IUV images and DwNet's coarse warp grid between two of them.

An IUV image is (H, W, 3) uint8: channel 0 is the body part index I (0 = background, 1..24 the
DensePose/SMPL parts), channels 1 and 2 are the part's U and V surface coordinates scaled to 0..255
(DensePose's own ``*_IUV.png`` files store them in that order after an RGB read of a BGR write, so
check with ``iuv[..., 0].max() <= 24``).

The coarse grid follows the DwNet paper (sec. 3.1): for each pixel of the target image, the nearest
pixel in UV space of the source image that belongs to the same body part, found with a KD-tree.
Computed on the CPU in numpy; not differentiable (the refinement branch learns the correction). torch is
imported by the tensor helpers only (reading IUV files and decoding driving renders need none).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .errors import PosevidError

if TYPE_CHECKING:
    import torch

NUM_IUV_PARTS = 24
# Grid value for target pixels with nothing to read in the source (a part the source does not show,
# or background uncovered by the source body): outside [-1, 1], so grid_sample reads zeros there.
OCCLUDED = -2.0


def check_iuv(iuv: np.ndarray, where: str | Path | None = None) -> np.ndarray:
    """Validate an IUV image: (H, W, 3) integer, part index <= 24. Returns it as uint8."""
    iuv = np.asarray(iuv)
    if iuv.ndim != 3 or iuv.shape[-1] != 3:
        raise PosevidError(where, f"a DensePose IUV image must be (H, W, 3), got {iuv.shape}")
    if iuv.dtype != np.uint8:
        if not np.issubdtype(iuv.dtype, np.integer) or iuv.min() < 0 or iuv.max() > 255:
            raise PosevidError(where, f"a DensePose IUV image must hold integers 0..255, got {iuv.dtype}")
        iuv = iuv.astype(np.uint8)
    if int(iuv[..., 0].max()) > NUM_IUV_PARTS:
        raise PosevidError(where, f"IUV part index (channel 0) goes up to {int(iuv[..., 0].max())}, "
                                  f"expected 0..{NUM_IUV_PARTS}; is the file in (I, U, V) channel order?")
    return iuv


def pixel_grid(height: int, width: int) -> np.ndarray:
    """(H, W, 2) float32 identity grid: pixel centres in grid_sample's [-1, 1] (align_corners=False)."""
    xs = (2 * np.arange(width, dtype=np.float32) + 1) / width - 1
    ys = (2 * np.arange(height, dtype=np.float32) + 1) / height - 1
    return np.stack(np.meshgrid(xs, ys), axis=-1)


def iuv_grid(src_iuv: np.ndarray, dst_iuv: np.ndarray) -> np.ndarray:
    """Coarse backward warp grid from source to target by nearest UV neighbours within each part.

    src_iuv, dst_iuv: (H, W, 3) uint8 IUV images of the same size. Returns (H, W, 2) float32 in
    [-1, 1] (x, y), align_corners=False: for each target pixel, where to read in the source.
    Target body pixels read the source pixel of the same part with the closest (U, V); background
    pixels keep the identity, except where the source body lies (its background is hidden there);
    pixels with nothing to read get ``OCCLUDED``.
    """
    if src_iuv.shape != dst_iuv.shape:
        raise ValueError(f"IUV images differ in size: {src_iuv.shape} vs {dst_iuv.shape}")
    h, w = src_iuv.shape[:2]
    ident = pixel_grid(h, w)
    grid = ident.copy()
    src_part, dst_part = src_iuv[..., 0], dst_iuv[..., 0]
    grid[src_part > 0] = OCCLUDED
    from scipy.spatial import cKDTree  # here: scipy.spatial is a fifth of a second of every CLI start

    src_uv = src_iuv[..., 1:].astype(np.float32)
    dst_uv = dst_iuv[..., 1:].astype(np.float32)
    for part in np.unique(dst_part):
        if part == 0:
            continue
        dst_mask = dst_part == part
        src_mask = src_part == part
        if not src_mask.any():
            grid[dst_mask] = OCCLUDED
            continue
        _, nearest = cKDTree(src_uv[src_mask]).query(dst_uv[dst_mask])
        grid[dst_mask] = ident[src_mask][nearest]
    return grid


def iuv_grids(src_iuv: torch.Tensor, dst_iuv: torch.Tensor) -> torch.Tensor:
    """Batched ``iuv_grid`` on tensors: (B, 3, H, W) IUV values (I 0..24, U and V 0..255, any dtype)
    -> (B, H, W, 2) float32 grids on the input's device."""
    import torch

    src = src_iuv.detach().round().clamp(0, 255).to("cpu", torch.uint8).permute(0, 2, 3, 1).numpy()
    dst = dst_iuv.detach().round().clamp(0, 255).to("cpu", torch.uint8).permute(0, 2, 3, 1).numpy()
    grids = np.stack([iuv_grid(s, d) for s, d in zip(src, dst)])
    return torch.from_numpy(grids).to(src_iuv.device)


def iuv_input(iuv: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) IUV values (I 0..24, U and V 0..255) -> network input (B, 3, H, W) in [-1, 1]."""
    scale = iuv.new_tensor([NUM_IUV_PARTS, 255.0, 255.0]).view(1, 3, 1, 1)
    return iuv.float() / scale * 2 - 1


def iuv_tensor(iuv: np.ndarray) -> torch.Tensor:
    """One (H, W, 3) uint8 IUV image -> (1, 3, H, W) float32 tensor of its raw values."""
    import torch

    return torch.from_numpy(np.array(iuv, np.float32)).permute(2, 0, 1)[None]  # a copy: frames may be read-only
