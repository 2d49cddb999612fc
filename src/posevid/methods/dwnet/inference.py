"""DwNet's inference graph: the appearance features of the source once per clip, then one frame per pose.

The frame stage computes what ``DwNet.generate`` computes, rearranged for inference without changing the
result (up to floating-point rounding):

- the two refinement passes (source -> target and previous frame -> target) run as one batch of two;
- the first convolution of the pose encoder E and the pose channels of the first convolution of the
  refinement branch R read the same pose maps, so they run as one convolution (convolutions are linear:
  R's first layer is its conv over [warped image, grid offsets] plus its conv over the pose, the latter
  shared by both passes);
- A(source) comes from the per-clip stage instead of being recomputed.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...inference.graph import InferenceGraph, Stage


def _after(seq: nn.Sequential, start: int, x: Tensor) -> Tensor:
    """``seq`` applied to ``x`` from its layer ``start`` on."""
    for layer in list(seq)[start:]:
        x = layer(x)
    return x


def _reflect_conv(x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
    """A same-size convolution with reflect padding (as ``ConvBlock``'s first layer)."""
    p = weight.shape[-1] // 2
    return F.conv2d(F.pad(x, (p, p, p, p), mode="reflect") if p else x, weight, bias)


class DwNetGraph(InferenceGraph):
    """Stages ``source`` (src (1, 3, S, S) in [-1, 1] -> src_feats = A(src) (1, 4 ngf, S/4, S/4)) and
    ``frame`` (src, src_feats, prev (1, 3, S, S), pose = P(d_t) (1, pose_ch, S, S), grid_src and
    grid_prev (1, S, S, 2) coarse backward grids -> frame (1, 3, S, S) in [-1, 1])."""

    def __init__(self, method):
        super().__init__(amp=method.train_opts.amp)
        self.size, self.pose_ch = method.size, method.pose_ch
        self.pose_enc, self.app_enc, self.refine = method.pose_enc, method.app_enc, method.refine
        self.fuse, self.decoder = method.fuse, method.decoder
        self.register_buffer("identity", method.identity.clone(), persistent=False)
        self.stages = {
            "source": Stage(("src",), ("src_feats",), per_frame=False),
            "frame": Stage(("src", "src_feats", "prev", "pose", "grid_src", "grid_prev"), ("frame",)),
        }

    def example_inputs(self) -> dict[str, Tensor]:
        s, g = self.size, torch.Generator().manual_seed(0)
        grid = self.identity + 0.05 * torch.randn(1, s, s, 2, generator=g)
        ch = self.app_enc[-1][0].out_channels
        return {"src": torch.rand(1, 3, s, s, generator=g) * 2 - 1,
                "src_feats": torch.randn(1, ch, s // 4, s // 4, generator=g),
                "prev": torch.rand(1, 3, s, s, generator=g) * 2 - 1,
                "pose": torch.rand(1, self.pose_ch, s, s, generator=g) * 2 - 1,
                "grid_src": grid, "grid_prev": grid.flip(2)}

    def fp32_layers(self) -> list[nn.Module]:
        return [self.refine.out, self.decoder[-1]]

    def source(self, src: Tensor) -> dict[str, Tensor]:
        with self.lowp():
            return {"src_feats": self.app_enc(src)}

    def _pose_stems(self, pose: Tensor) -> tuple[Tensor, Tensor]:
        """E's first conv and the pose part of R's first conv as one convolution over P(d_t): both
        pre-normalisation, (1, ngf, S, S) each."""
        e_conv, r_conv = self.pose_enc[0][0], self.refine.body[0][0][0]
        lo, hi = 3, 3 + self.pose_ch  # R's input is [warped image (3), pose (pose_ch), grid offsets (2)]
        weight = torch.cat([e_conv.weight, r_conv.weight[:, lo:hi]])
        bias = None
        if e_conv.bias is not None:
            bias = torch.cat([e_conv.bias, torch.zeros_like(e_conv.bias[:r_conv.out_channels])])
        return _reflect_conv(pose, weight, bias).split([e_conv.out_channels, r_conv.out_channels], 1)

    def frame(self, src: Tensor, src_feats: Tensor, prev: Tensor, pose: Tensor, grid_src: Tensor,
              grid_prev: Tensor) -> dict[str, Tensor]:
        with self.fp32():  # eq. 1's inputs: both images warped by their coarse grids, the grid offsets
            coarse = torch.cat([grid_src, grid_prev]).float()
            warped = F.grid_sample(torch.cat([src, prev]).float(), coarse, align_corners=False)
            rel = (coarse - self.identity).permute(0, 3, 1, 2)
            small = F.interpolate(coarse.permute(0, 3, 1, 2), scale_factor=0.25, mode="bilinear",
                                  align_corners=False)
        with self.lowp():
            e0, r_pose = self._pose_stems(pose)
            e = _after(self.pose_enc, 1, _after(self.pose_enc[0], 1, e0))
            prev_feats = self.app_enc(prev)
            r_conv = self.refine.body[0][0][0]
            w = torch.cat([r_conv.weight[:, :3], r_conv.weight[:, 3 + self.pose_ch:]], 1)
            r0 = _reflect_conv(torch.cat([warped, rel], 1), w, r_conv.bias) + r_pose
            r = _after(self.refine.body, 1, _after(self.refine.body[0], 1, _after(self.refine.body[0][0], 1, r0)))
        with self.fp32():
            grids = (small + self.refine.out(r.float())).permute(0, 2, 3, 1)
            feats = torch.cat([src_feats, prev_feats]).float()
            ws, wp = F.grid_sample(feats, grids, align_corners=False).split(1)
        with self.lowp():
            h = self.fuse(torch.cat([e, ws.to(e.dtype), wp.to(e.dtype)], 1))
            for layer in list(self.decoder)[:-1]:
                h = layer(h)
        with self.fp32():
            return {"frame": self.decoder[-1](h.float())}
