"""PatchGAN and multi-scale PatchGAN discriminators that return their intermediate features."""

from __future__ import annotations

from dataclasses import dataclass

import torch.nn.functional as F
from torch import Tensor, nn

from ..options import option
from .blocks import norm_layer


@dataclass
class DiscOptions:
    """Options of a (multi-scale) PatchGAN; a method sets its own defaults with ``DiscOptions(num_d=...)``."""

    num_d: int = option(3, "number of scales (full, 1/2, ...)", ge=1)
    base: int = option(64, "channels of the first layer (doubling per layer, capped at 512)", ge=1)
    n_layers: int = option(3, "stride-2 layers per scale", ge=1)


class PatchDiscriminator(nn.Module):
    """pix2pix 70x70 PatchGAN. (B, in_ch, H, W) -> list of features, the patch logits (B, 1, h, w) last.

    ``n_layers`` stride-2 4x4 convs (channels base * 2**i capped at 512), one stride-1 conv, then a
    1-channel conv; leaky ReLU 0.2; no norm on the first layer.
    """

    def __init__(self, in_ch: int, base: int = 64, n_layers: int = 3, norm: str = "instance"):
        super().__init__()
        layers = [nn.Sequential(nn.Conv2d(in_ch, base, 4, 2, 2), nn.LeakyReLU(0.2, True))]
        ch = base
        for i in range(1, n_layers + 1):
            out = min(base * 2 ** i, 512)
            stride = 2 if i < n_layers else 1
            layers.append(nn.Sequential(nn.Conv2d(ch, out, 4, stride, 2), norm_layer(norm, out),
                                        nn.LeakyReLU(0.2, True)))
            ch = out
        layers.append(nn.Conv2d(ch, 1, 4, 1, 2))
        self.layers = nn.ModuleList(layers)

    def forward(self, x: Tensor) -> list[Tensor]:
        feats = []
        for layer in self.layers:
            x = layer(x)
            feats.append(x)
        return feats


class MultiScaleDiscriminator(nn.Module):
    """``num_d`` PatchGANs on the input downsampled 1x, 2x, 4x, ... (3x3 average pooling, stride 2).

    (B, in_ch, H, W) -> list over scales (finest first) of ``PatchDiscriminator`` feature lists.
    """

    def __init__(self, in_ch: int, num_d: int = 3, base: int = 64, n_layers: int = 3, norm: str = "instance"):
        super().__init__()
        self.discs = nn.ModuleList(PatchDiscriminator(in_ch, base, n_layers, norm) for _ in range(num_d))

    def forward(self, x: Tensor) -> list[list[Tensor]]:
        out = []
        for i, disc in enumerate(self.discs):
            if i:
                x = F.avg_pool2d(x, 3, 2, 1, count_include_pad=False)
            out.append(disc(x))
        return out
