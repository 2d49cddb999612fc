"""U-Net generator with skip connections (PG2's G1 style): image-to-image at any size divisible by 2**depth."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .blocks import ConvBlock, DownBlock, ResBlock, UpBlock


class UNet(nn.Module):
    """(B, in_ch, H, W) -> (B, out_ch, H, W) in [-1, 1] (tanh).

    ``depth`` stride-2 downsamplings (channels base * 2**i capped at ``max_ch``), a residual block at the
    bottleneck, then nearest-upsampling blocks fed with the matching encoder features (concatenated).
    H and W must be divisible by 2**depth.
    """

    def __init__(self, in_ch: int, out_ch: int, base: int = 64, depth: int = 4, norm: str = "instance",
                 max_ch: int = 512):
        super().__init__()
        chans = [min(base * 2 ** i, max_ch) for i in range(depth + 1)]
        self.depth = depth
        self.stem = ConvBlock(in_ch, chans[0], 7, 1, norm, "relu")
        self.downs = nn.ModuleList(DownBlock(chans[i], chans[i + 1], norm) for i in range(depth))
        self.mid = ResBlock(chans[-1], norm)
        self.ups = nn.ModuleList(UpBlock(chans[i + 1] * (1 if i == depth - 1 else 2), chans[i], norm)
                                 for i in reversed(range(depth)))
        self.head = ConvBlock(chans[0] * 2, out_ch, 7, 1, "none", "tanh")

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[-1] % 2 ** self.depth or x.shape[-2] % 2 ** self.depth:
            raise ValueError(f"UNet input {tuple(x.shape[-2:])} must be divisible by {2 ** self.depth}")
        skips = [self.stem(x)]
        for down in self.downs:
            skips.append(down(skips[-1]))
        h = self.mid(skips.pop())
        for up in self.ups:
            h = torch.cat([up(h), skips.pop()], 1)
        return self.head(h)
