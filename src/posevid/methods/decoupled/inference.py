"""The decoupled method's inference graph: the colour encoders once per clip (per photo or colour they
encode), the restoration network and the coarse-to-fine generator per frame.

The part-wise warp of the source feature map (eq. 1), the latent standardisation and its tiling over the
body regions stay in the animator (they are cheap and need the pose).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...inference.graph import InferenceGraph, Stage
from .nets import FEATURE_CH


class DecoupledGraph(InferenceGraph):
    """Stages ``encode`` (image (1, 3, S, S) in [-1, 1] -> z (1, z_up + z_down): both encoders' means) and
    ``frame`` (feat (1, 4, S, S): the warped source feature map in [-1, 1], before restoration; zmap
    (1, z_up + z_down, S, S): the standardised latents tiled over the target's body regions; prev
    (1, 3, S, S): the previous frame -> frame (1, 3, S, S) in [-1, 1], clamped)."""

    def __init__(self, method):
        super().__init__(amp=method.train_opts.amp)
        self.enc_up, self.enc_down = method.enc_up, method.enc_down
        self.restorer, self.generator = method.restorer, method.generator
        self.size, self.z_dim = method.size, sum(method.z_dims)
        self.stages = {"encode": Stage(("image",), ("z",), per_frame=False),
                       "frame": Stage(("feat", "zmap", "prev"), ("frame",))}

    def fp32_layers(self) -> list[nn.Module]:
        # The encoders run once per clip, and their latent reaches every layer (and the head directly).
        return [self.generator.head, self.enc_up, self.enc_down]

    def example_inputs(self) -> dict[str, Tensor]:
        s, g = self.size, torch.Generator().manual_seed(0)
        regions = (torch.rand(1, 1, s, s, generator=g) > 0.5).float()
        return {"image": torch.rand(1, 3, s, s, generator=g) * 2 - 1,
                "feat": torch.rand(1, FEATURE_CH, s, s, generator=g) * 2 - 1,
                "zmap": torch.randn(1, self.z_dim, 1, 1, generator=g) * regions,
                "prev": torch.rand(1, 3, s, s, generator=g) * 2 - 1}

    def encode(self, image: Tensor) -> dict[str, Tensor]:
        with self.fp32():
            return {"z": torch.cat([self.enc_up(image)[0], self.enc_down(image)[0]], 1)}

    def frame(self, feat: Tensor, zmap: Tensor, prev: Tensor) -> dict[str, Tensor]:
        g = self.generator
        with self.lowp():
            if self.restorer is not None:
                delta = self.restorer(feat)
                with self.fp32():
                    feat = (feat + 2 * delta.float()).clamp(-1, 1)
            x = torch.cat([feat, prev, zmap], 1)
            coarse = g.global_net(F.avg_pool2d(x, 3, 2, 1, count_include_pad=False))
            h = g.local_up(g.local_down(x) + coarse)
        with self.fp32():
            return {"frame": g.head(torch.cat([h.float(), zmap], 1)).clamp(-1, 1)}
