"""pix2pixHD global generator: 7x7 stem, stride-2 downsamplings, residual blocks, upsamplings, 7x7 tanh head."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .blocks import ConvBlock, DownBlock, ResBlock, UpBlock


class ResnetBlocks(nn.Sequential):
    """``n`` residual blocks of ``ch`` channels (shape-preserving)."""

    def __init__(self, ch: int, n: int, norm: str = "instance"):
        super().__init__(*[ResBlock(ch, norm) for _ in range(n)])


class GlobalGenerator(nn.Module):
    """(B, in_ch, H, W) -> (B, out_ch, H, W) in [-1, 1]; H, W divisible by 2**n_down.

    ``encode(x)`` gives the (B, bottleneck_ch, H / 2**n_down, W / 2**n_down) features (after the
    downsamplings); ``decode(h)`` runs the residual blocks and the upsampling decoder. With
    ``extra_ch > 0`` the residual blocks take ``bottleneck_ch + extra_ch`` channels (a 1x1 conv
    folds them back), so ``forward(x, extra)`` can inject e.g. a tiled latent at the bottleneck.
    """

    def __init__(self, in_ch: int, out_ch: int, base: int = 64, n_down: int = 4, n_blocks: int = 9,
                 norm: str = "instance", extra_ch: int = 0, max_ch: int = 1024):
        super().__init__()
        chans = [min(base * 2 ** i, max_ch) for i in range(n_down + 1)]
        self.n_down = n_down
        self.extra_ch = extra_ch
        self.bottleneck_ch = chans[-1]
        self.encoder = nn.Sequential(ConvBlock(in_ch, chans[0], 7, 1, norm),
                                     *[DownBlock(chans[i], chans[i + 1], norm) for i in range(n_down)])
        self.fuse = ConvBlock(chans[-1] + extra_ch, chans[-1], 1, 1, norm) if extra_ch else nn.Identity()
        self.blocks = ResnetBlocks(chans[-1], n_blocks, norm)
        self.decoder = nn.Sequential(*[UpBlock(chans[i + 1], chans[i], norm) for i in reversed(range(n_down))],
                                     ConvBlock(chans[0], out_ch, 7, 1, "none", "tanh"))

    def encode(self, x: Tensor) -> Tensor:
        """Input image stack -> bottleneck features (B, bottleneck_ch, H / 2**n_down, W / 2**n_down)."""
        if x.shape[-1] % 2 ** self.n_down or x.shape[-2] % 2 ** self.n_down:
            raise ValueError(f"GlobalGenerator input {tuple(x.shape[-2:])} must be divisible by {2 ** self.n_down}")
        return self.encoder(x)

    def decode(self, h: Tensor, extra: Tensor | None = None) -> Tensor:
        """Bottleneck features (+ ``extra`` (B, extra_ch, h, w) or (B, extra_ch) tiled) -> image in [-1, 1]."""
        if self.extra_ch:
            if extra is None:
                raise ValueError("this GlobalGenerator was built with extra_ch and needs `extra`")
            if extra.dim() == 2:
                extra = extra[:, :, None, None].expand(-1, -1, *h.shape[-2:])
            h = self.fuse(torch.cat([h, extra.to(h.dtype)], 1))
        return self.decoder(self.blocks(h))

    def forward(self, x: Tensor, extra: Tensor | None = None) -> Tensor:
        return self.decode(self.encode(x), extra)
