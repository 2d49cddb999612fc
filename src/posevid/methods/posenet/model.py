"""``posenet``: the small pose network whose features give SCGAN its semantic-consistency loss.

The paper uses a pretrained pose estimator; ours is a heatmap regressor trained on the prepared
dataset's own frames and poses (``configs/posenet/*.yaml``), then frozen inside SCGAN. Network: a 7x7
conv, two stride-2 3x3 convs, residual blocks, a 1x1 conv to 18 heatmaps at 1/4 resolution; instance
norm, ReLU. Loss: mean squared error to Gaussian target maps (a missing joint's map is all zero).
Options: ``PoseNetOptions``.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ... import render
from ...errors import PosevidError
from ...nets.blocks import ConvBlock, DownBlock, ResBlock
from ...options import option
from ...skeleton import NUM_JOINTS
from ..base import Animator, Method, register
from .spec import PoseNetSpec

STRIDE = 4


class PoseNet(nn.Module):
    """(B, 3, H, W) in [-1, 1] -> features: [stride-2 features, residual features, heatmaps (B, 18, H/4, W/4)]."""

    def __init__(self, base: int = 32, blocks: int = 2, joints: int = NUM_JOINTS):
        super().__init__()
        self.stem = nn.Sequential(ConvBlock(3, base, 7), DownBlock(base, base * 2))
        self.down = DownBlock(base * 2, base * 4)
        self.res = nn.Sequential(*[ResBlock(base * 4) for _ in range(blocks)])
        self.head = nn.Conv2d(base * 4, joints, 1)

    def forward(self, x: Tensor) -> list[Tensor]:
        a = self.stem(x)
        b = self.res(self.down(a))
        return [a, b, self.head(b)]


def target_maps(xy: Tensor, conf: Tensor, height: int, width: int, sigma: float) -> Tensor:
    """Gaussian maps at 1/STRIDE resolution for keypoints (B, 18, 2) in full-resolution pixels."""
    low = (xy.float() + 0.5) / STRIDE - 0.5
    return render.heatmaps(low, conf, height // STRIDE, width // STRIDE, kind="gaussian", sigma=sigma)


def peaks(maps: Tensor, height: int, width: int) -> tuple[Tensor, Tensor]:
    """Keypoints of heatmaps (B, 18, h, w): argmax location in full-resolution pixels (B, 18, 2) and
    the peak value (B, 18) as confidence."""
    B, J, h, w = maps.shape
    val, idx = maps.float().flatten(2).max(-1)
    xy = torch.stack([(idx % w).float(), (idx // w).float()], -1)
    return (xy + 0.5) * torch.tensor([width / w, height / h], device=maps.device) - 0.5, val


@dataclass
class PoseNetOptions:
    """``model:`` options of the pose network (also SCGAN's ``model.posenet``)."""

    base: int = option(32, "channels of the 7x7 stem (x2 and x4 after the two stride-2 convs)", ge=1)
    blocks: int = option(2, "residual blocks at 1/4 resolution", ge=0)
    sigma: float = option(1.5, "sigma of the target heatmaps, in 1/4-resolution pixels", gt=0)


def posenet_loss(net: PoseNet, images: Tensor, xy: Tensor, conf: Tensor, sigma: float,
                 autocast: contextlib.AbstractContextManager) -> tuple[Tensor, Tensor, Tensor]:
    """The pose network's loss on images (B, 3, H, W) with keypoints (B, 18, 2) px, (B, 18): 100 x the mean
    squared error to Gaussian target maps. Returns (loss, predicted maps, target maps) at 1/4 resolution."""
    H, W = images.shape[-2:]
    target = target_maps(xy, conf, H, W, sigma).to(images.device)
    with autocast:
        maps = net(images)[-1]
    return F.mse_loss(maps.float(), target) * 100, maps, target


def joint_error(maps: Tensor, xy: Tensor, conf: Tensor, height: int, width: int) -> Tensor:
    """Mean pixel distance between the heatmap peaks and the visible keypoints (0 when none is visible)."""
    with torch.no_grad():
        found, _ = peaks(maps, height, width)
        vis = conf > 0
        return (found - xy.float()).norm(dim=-1)[vis].mean() if vis.any() else torch.zeros(())


@register("posenet")
class PoseNetMethod(PoseNetSpec, Method):
    """Trains ``PoseNet`` on ``ClipDataset`` frames (batch keys ``frames``, ``xy``, ``conf``; T frames each)."""

    Options = PoseNetOptions
    opts: PoseNetOptions

    def __init__(self, cfg: dict[str, Any]):
        super().__init__(cfg)
        size = self.image_size()
        if size % STRIDE:
            raise PosevidError("data.size", f"posenet needs data.size divisible by {STRIDE}, got {size}")
        self.net = PoseNet(self.opts.base, self.opts.blocks)
        self.sigma = self.opts.sigma
        self.adam("net", self.net.parameters())

    def train_step(self, batch: dict[str, Tensor]) -> dict[str, float]:
        images = batch["frames"].flatten(0, 1).float()
        xy, conf = batch["xy"].flatten(0, 1), batch["conf"].flatten(0, 1)
        loss, maps, target = posenet_loss(self.net, images, xy, conf, self.sigma, self.autocast())
        self.optimize("net", loss)
        err = joint_error(maps, xy, conf, *images.shape[-2:])
        self._visuals = {"image": images[:4], "maps": maps.detach()[:4].amax(1, keepdim=True).clamp(0, 1) * 2 - 1,
                         "target": target[:4].amax(1, keepdim=True) * 2 - 1}
        return {"mse": loss.item(), "joint_error_px": err.item()}

    def features(self, images: Tensor) -> list[Tensor]:
        """The network's features of images (B, 3, H, W) in [-1, 1] (see ``PoseNet``)."""
        with self.autocast():
            return self.net(images)

    def animator(self) -> Animator:
        raise PosevidError(None, "posenet is a pose network for SCGAN's semantic loss and does not animate; "
                                 "SCGAN trains its own as its first stage")
