"""The ``warp`` method: no training; move the source person part by part onto each target pose.

For each target pose a dense backward grid is assembled from per-part affine transforms
(``posevid.warp.dense_grid``); the person (image times mask) and the mask are warped with it and
composited over a background made once from the source, with the person's region inpainted.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
import torch

from ..errors import PosevidError
from ..poses import Poses
from .base import Animator, Method, register


def inpaint_background(source: np.ndarray, mask: np.ndarray, grow: float = 0.02) -> np.ndarray:
    """The source (H, W, 3) uint8 with the person region (mask (H, W) in [0, 1], grown by ``grow`` of the
    image's larger side) filled by OpenCV's Telea inpainting; (H, W, 3) uint8."""
    radius = max(2, round(grow * max(mask.shape)))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    hole = cv2.dilate((mask > 0.1).astype(np.uint8), kernel)
    return cv2.inpaint(np.ascontiguousarray(source), hole, 5, cv2.INPAINT_TELEA)


def _pose_tensors(pose: Poses) -> tuple[torch.Tensor, torch.Tensor]:
    """(1, 18, 2) pixel coordinates and (1, 18) confidences of a one-frame pose."""
    return torch.from_numpy(pose.xy[:1].copy()), torch.from_numpy(pose.conf[:1].copy())


class WarpAnimator(Animator):
    """Part-wise affine warping of the source person onto each target pose, over an inpainted background."""

    def __init__(self) -> None:
        self._layers: torch.Tensor | None = None  # (1, 4, H, W): person RGB premultiplied by mask, mask
        self._background: torch.Tensor | None = None  # (3, H, W) float in [0, 255]
        self._src: tuple[torch.Tensor, torch.Tensor] | None = None

    def reset(self, source: np.ndarray, pose: Poses, mask: np.ndarray | None = None) -> None:
        """Take the source (H, W, 3) uint8, its one-frame pose in its pixels and the person mask (H, W) in
        [0, 1]; without a mask, the PG2 pose mask (limbs joined and dilated) stands in for it."""
        from ..render import pose_mask

        height, width = source.shape[:2]
        if (pose.width, pose.height) != (width, height):
            raise ValueError(f"source pose is for {pose.width}x{pose.height}, the image is {width}x{height}")
        if mask is None:
            mask = pose_mask(pose.xy[0], pose.conf[0], height, width)
        mask = np.clip(np.asarray(mask, np.float32), 0.0, 1.0)
        rgb = torch.tensor(source).permute(2, 0, 1).float()
        alpha = torch.from_numpy(mask)[None]
        self._layers = torch.cat([rgb * alpha, alpha])[None]
        background = inpaint_background(source, mask)
        self._background = torch.from_numpy(background).permute(2, 0, 1).float()
        self._src = _pose_tensors(pose)

    @torch.inference_mode()
    def step(self, target: Poses) -> np.ndarray:
        """The frame (H, W, 3) uint8 of the source person in the one-frame ``target`` pose (source pixels)."""
        from .. import warp

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
