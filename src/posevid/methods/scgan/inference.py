"""SCGAN's inference graph: the appearance encoder runs once per clip, the rest once per frame.

G's appearance encoder reads only the source image and its pose maps, and its features reach the rest of
G unchanged for every target pose (the two encoders are joined only after each level), so the per-clip
stage computes them once and the frame stage runs the pose encoder, the residual blocks and the decoder.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ...inference.graph import InferenceGraph, Stage


class SCGANGraph(InferenceGraph):
    """Stages ``source`` (source (1, 3, S, S) in [-1, 1], source_maps (1, 18, S, S) -> app3, the appearance
    features at S/16, and with ``model.skips`` also app0 .. app2 at S/2 .. S/8) and ``frame`` (those,
    target_maps (1, 18, S, S) -> frame (1, 3, S, S) in [-1, 1])."""

    def __init__(self, method):
        super().__init__(amp=method.train_opts.amp)
        self.G, self.size = method.G, method.size
        self.joints = method.G.pose[0][0].in_channels
        n = len(self.G.app)  # without skips only the deepest level reaches the rest of G
        self.levels = [f"app{i}" for i in (range(n) if self.G.skips else [n - 1])]
        levels = self.levels
        self.stages = {"source": Stage(("source", "source_maps"), tuple(levels), per_frame=False),
                       "frame": Stage((*levels, "target_maps"), ("frame",))}

    def fp32_layers(self) -> list[nn.Module]:
        return [self.G.out, self.G.app]  # the appearance encoder runs once per clip

    def example_inputs(self) -> dict[str, Tensor]:
        s, g = self.size, torch.Generator().manual_seed(0)
        out = {"source": torch.rand(1, 3, s, s, generator=g) * 2 - 1,
               "source_maps": torch.rand(1, self.joints, s, s, generator=g),
               "target_maps": torch.rand(1, self.joints, s, s, generator=g)}
        for i, enc in enumerate(self.G.app):
            side = s // 2 ** (i + 1)
            if f"app{i}" in self.levels:
                out[f"app{i}"] = torch.rand(1, enc[0].out_channels, side, side, generator=g)
        return out

    def source(self, source: Tensor, source_maps: Tensor) -> dict[str, Tensor]:
        out, a = {}, torch.cat([source, source_maps], 1)
        with self.fp32():
            for i, enc in enumerate(self.G.app):
                a = enc(a)
                out[f"app{i}"] = a
        return {k: out[k] for k in self.levels}

    def frame(self, target_maps: Tensor, **app: Tensor) -> dict[str, Tensor]:
        G, p, feats = self.G, target_maps, []
        with self.lowp():
            for i, enc in enumerate(G.pose):
                p = enc(p)
                feats.append(torch.cat([app[f"app{i}"].to(p.dtype), p], 1) if f"app{i}" in app else p)
            h = G.decode(feats)
        with self.fp32():
            return {"frame": G.out(h.float())}
