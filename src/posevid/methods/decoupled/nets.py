"""Networks of the decoupled method: the tiled latent map, the latent standardiser and the coarse-to-fine
generator (pix2pixHD's global generator + local enhancer with a tiled latent concatenated to the input of
both)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...nets.blocks import ConvBlock, DownBlock, UpBlock
from ...nets.resnet import ResnetBlocks

FEATURE_CH = 4  # channels of F: RGB stick figure + grey edge map


def latent_map(latents: list[Tensor], regions: Tensor) -> Tensor:
    """Each latent (B, D_r) tiled over its body region r of ``regions`` (B, R, H, W) in [0, 1]:
    -> (B, sum D_r, H, W), zero outside the regions.

    The paper tiles z over the whole image; a per-channel constant input is removed exactly by the
    instance normalisation after the first convolution, so we tile each region's latent over that
    region (as pix2pixHD's instance-wise feature maps are tiled over their instances).
    """
    return torch.cat([z[:, :, None, None].to(regions.dtype) * regions[:, r:r + 1] for r, z in enumerate(latents)], 1)


class LatentStandardizer(nn.Module):
    """Centres latents (B, D) and scales each group of dimensions (one per body region) by one number,
    from the moments of every latent it was updated with.

    The frozen VAE encoders give posterior means spread over a small range (the KL term pulls them to
    0); the generator's first convolutions start with small weights that Adam grows by about one
    learning rate per step, so unscaled latents would be ignored for a long time. One scale per group
    (the root mean variance of its dimensions) keeps the dimensions' relative sizes: the few that carry
    the colour stay large and the nearly constant ones small. ``update`` accumulates exact running
    moments (the encoders are frozen, so the distribution is fixed); they are buffers, saved with the model.
    """

    def __init__(self, groups: Sequence[int], eps: float = 1e-6):
        super().__init__()
        self.groups, self.eps = tuple(int(g) for g in groups), eps
        dim = sum(self.groups)
        self.register_buffer("count", torch.zeros((), dtype=torch.float64))
        self.register_buffer("mean", torch.zeros(dim, dtype=torch.float64))
        self.register_buffer("m2", torch.zeros(dim, dtype=torch.float64))

    @torch.no_grad()
    def update(self, z: Tensor) -> None:
        """Add a batch (B, D) to the moments (Chan et al.'s parallel variance update)."""
        z = z.detach().double()
        n, mean = float(z.shape[0]), z.mean(0)
        delta = mean - self.mean
        total = self.count + n
        self.mean += delta * n / total
        self.m2 += ((z - mean) ** 2).sum(0) + delta ** 2 * self.count * n / total
        self.count.fill_(total)

    @property
    def var(self) -> Tensor:
        """Per-dimension variance (D,) float64 (1 before two latents were seen)."""
        if self.count < 2:
            return torch.ones_like(self.mean)
        return self.m2 / (self.count - 1)

    @property
    def scale(self) -> Tensor:
        """(D,) float32: each group's root mean variance, repeated over the group's dimensions."""
        per_group = [v.mean().add(self.eps).sqrt().expand(len(v)) for v in self.var.split(self.groups)]
        return torch.cat(per_group).float()

    def forward(self, z: Tensor) -> Tensor:
        return (z - self.mean.float()) / self.scale

    def sample(self, n: int, rng: np.random.Generator) -> Tensor:
        """``n`` latents (n, D) float32 from the Gaussian with the per-dimension moments."""
        eps = torch.from_numpy(rng.standard_normal((n, len(self.mean))).astype(np.float32))
        return eps * self.var.sqrt().float() + self.mean.float()


class CoarseToFineGenerator(nn.Module):
    """pix2pixHD generator: (x (B, in_ch, H, W), extra (B, extra_ch, H, W)) -> (B, out_ch, H, W) in [-1, 1].

    The global generator G1 (``2 base`` channels after a 7x7 stem, ``n_down`` stride-2 downsamplings,
    ``n_blocks`` residual blocks, upsamplings) runs on the input average-pooled by 2; the local enhancer
    G2 (``base`` channels, one downsampling) adds G1's last features to its own, then ``local_blocks``
    residual blocks, an upsampling and a 7x7 tanh head. Both stems take the whole input, so a latent map
    concatenated to it reaches the coarse and the fine stage; ``extra`` (e.g. the same latent map) is
    also concatenated to the input of the head, the one convolution without normalisation after it.
    H, W must be divisible by ``2**(n_down + 1)``.
    """

    def __init__(self, in_ch: int, out_ch: int, base: int = 32, n_down: int = 4, n_blocks: int = 9,
                 local_blocks: int = 3, norm: str = "instance", extra_ch: int = 0, max_ch: int = 1024):
        super().__init__()
        g = [min(2 * base * 2 ** i, max_ch) for i in range(n_down + 1)]
        self.n_down, self.extra_ch = n_down, extra_ch
        self.global_net = nn.Sequential(
            ConvBlock(in_ch, g[0], 7, 1, norm),
            *[DownBlock(g[i], g[i + 1], norm) for i in range(n_down)],
            ResnetBlocks(g[-1], n_blocks, norm),
            *[UpBlock(g[i + 1], g[i], norm) for i in reversed(range(n_down))])
        self.local_down = nn.Sequential(ConvBlock(in_ch, base, 7, 1, norm), DownBlock(base, g[0], norm))
        self.local_up = nn.Sequential(ResnetBlocks(g[0], local_blocks, norm), UpBlock(g[0], base, norm))
        self.head = ConvBlock(base + extra_ch, out_ch, 7, 1, "none", "tanh")

    def forward(self, x: Tensor, extra: Tensor | None = None) -> Tensor:
        if x.shape[-1] % 2 ** (self.n_down + 1) or x.shape[-2] % 2 ** (self.n_down + 1):
            raise ValueError(f"CoarseToFineGenerator input {tuple(x.shape[-2:])} must be divisible by "
                             f"{2 ** (self.n_down + 1)}")
        if (extra is None) != (self.extra_ch == 0):
            raise ValueError(f"this CoarseToFineGenerator takes {self.extra_ch} extra channels")
        coarse = self.global_net(F.avg_pool2d(x, 3, 2, 1, count_include_pad=False))
        h = self.local_up(self.local_down(x) + coarse)
        return self.head(h if extra is None else torch.cat([h, extra.to(h.dtype)], 1))
