"""The ``warp`` method: no training; move the source person part by part onto each target pose.

For each target pose a dense backward grid is assembled from per-part affine transforms
(``posevid.warp.dense_grid``); the person (image times mask) and the mask are warped with it and
composited over the clean plate made once from the source (``posevid.plate``: the person's region
inpainted from the background around it).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ...errors import PosevidError
from ...plate import clean_plate, refine_alpha
from ...poses import Poses
from ..base import Animator, Method, register


def _pose_tensors(pose: Poses) -> tuple[torch.Tensor, torch.Tensor]:
    """(1, 18, 2) pixel coordinates and (1, 18) confidences of a one-frame pose."""
    return torch.from_numpy(pose.xy[:1].copy()), torch.from_numpy(pose.conf[:1].copy())


class WarpAnimator(Animator):
    """Part-wise affine warping of the source person onto each target pose, over the clean plate."""

    def __init__(self) -> None:
        self._layers: torch.Tensor | None = None  # (1, 4, H, W): person RGB premultiplied by mask, mask
        self._background: torch.Tensor | None = None  # (3, H, W) float in [0, 255]
        self._src: tuple[torch.Tensor, torch.Tensor] | None = None

    def reset(self, source: np.ndarray, pose: Poses, mask: np.ndarray | None = None) -> None:
        """Take the source (H, W, 3) uint8, its one-frame pose in its pixels and the person mask (H, W) in
        [0, 1]; without a mask, the PG2 pose mask (limbs joined and dilated) stands in for it. The mask is
        refined at its edges and the background made once (``plate.refine_alpha``, ``plate.clean_plate``)."""
        from ...render import pose_mask

        height, width = source.shape[:2]
        if (pose.width, pose.height) != (width, height):
            raise ValueError(f"source pose is for {pose.width}x{pose.height}, the image is {width}x{height}")
        if mask is None:
            mask = pose_mask(pose.xy[0], pose.conf[0], height, width)
        mask = np.clip(np.asarray(mask, np.float32), 0.0, 1.0)
        refined = refine_alpha(source, mask)
        rgb = torch.tensor(source).permute(2, 0, 1).float()
        alpha = torch.from_numpy(refined)[None]
        self._layers = torch.cat([rgb * alpha, alpha])[None]
        background = clean_plate(source, np.maximum(mask, refined))  # the segmentation's soft fringes go too
        self._background = torch.from_numpy(background).permute(2, 0, 1).float()
        self._src = _pose_tensors(pose)

    @torch.inference_mode()
    def step(self, target: Poses) -> np.ndarray:
        """The frame (H, W, 3) uint8 of the source person in the one-frame ``target`` pose (source pixels)."""
        from ... import warp

        if self._layers is None or self._src is None or self._background is None:
            raise RuntimeError("WarpAnimator.step before reset")
        height, width = self._layers.shape[-2:]
        dst_xy, dst_conf = _pose_tensors(target)
        grid = warp.dense_grid(*self._src, dst_xy, dst_conf, height, width)
        moved = warp.warp(self._layers, grid)[0]
        cover = moved[3:].clamp(0.0, 1.0)
        self.alpha = cover[0].numpy().copy()
        out = moved[:3] + self._background * (1.0 - cover)
        return out.clamp_(0, 255).round_().to(torch.uint8).permute(1, 2, 0).contiguous().numpy()


@register("warp")
class WarpMethod(Method):
    """Untrained baseline: part-wise affine warping (the coarse stage of DwNet / the decoupled method)."""

    trainable = False

    def __init__(self, cfg: dict[str, Any] | None = None):
        super().__init__(cfg or {"method": "warp"})

    def train_step(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        """The warp method has no weights; training it is a user error."""
        raise PosevidError("method warp", "has nothing to train (it has no weights); animate with it directly")

    def animator(self) -> WarpAnimator:
        """A fresh animator (it holds no weights, only the current source)."""
        return WarpAnimator()
