"""Image -> latent encoders: BicycleGAN's ResNet encoder ("resnet_256", E_ResNet) with a VAE head."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .blocks import norm_layer


class BasicEncoderBlock(nn.Module):
    """BicycleGAN's encoder block: norm-lrelu-conv3x3-norm-lrelu-conv3x3-avgpool2, plus the shortcut
    avgpool2-conv1x1. (B, in_ch, H, W) -> (B, out_ch, H/2, W/2)."""

    def __init__(self, in_ch: int, out_ch: int, norm: str = "instance"):
        super().__init__()
        self.body = nn.Sequential(norm_layer(norm, in_ch), nn.LeakyReLU(0.2, True), nn.Conv2d(in_ch, in_ch, 3, 1, 1),
                                  norm_layer(norm, in_ch), nn.LeakyReLU(0.2, True), nn.Conv2d(in_ch, out_ch, 3, 1, 1),
                                  nn.AvgPool2d(2, 2))
        self.shortcut = nn.Sequential(nn.AvgPool2d(2, 2), nn.Conv2d(in_ch, out_ch, 1))

    def forward(self, x: Tensor) -> Tensor:
        return self.body(x) + self.shortcut(x)


class ResnetEncoder(nn.Module):
    """(B, in_ch, H, W) -> (mu, logvar), each (B, z_dim).

    A 4x4 stride-2 conv (``base`` channels), ``n_blocks`` ``BasicEncoderBlock`` (channels
    ``base * min(i + 1, max_mult)``), leaky ReLU, global average pooling (BicycleGAN pools a fixed 8x8;
    global pooling works at any size) and two linear heads. H and W must be divisible by
    ``2**(n_blocks + 1)``. ``sample(mu, logvar)`` draws ``mu + eps * exp(logvar / 2)``. ``logvar_init`` is
    the initial bias of the log-variance head (negative: the posterior starts narrow, so that the sampling
    noise does not drown the still tiny means at the start of training).
    """

    def __init__(self, in_ch: int, z_dim: int, base: int = 64, n_blocks: int = 4, max_mult: int = 4,
                 norm: str = "instance", logvar_init: float = 0.0):
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(in_ch, base, 4, 2, 1)]
        ch = base
        for i in range(1, n_blocks + 1):
            out = base * min(i + 1, max_mult)
            layers.append(BasicEncoderBlock(ch, out, norm))
            ch = out
        layers.append(nn.LeakyReLU(0.2, True))
        self.body = nn.Sequential(*layers)
        self.mu = nn.Linear(ch, z_dim)
        self.logvar = nn.Linear(ch, z_dim)
        nn.init.constant_(self.logvar.bias, logvar_init)
        self.z_dim = z_dim
        self.n_down = n_blocks + 1

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        if x.shape[-1] % 2 ** self.n_down or x.shape[-2] % 2 ** self.n_down:
            raise ValueError(f"ResnetEncoder input {tuple(x.shape[-2:])} must be divisible by {2 ** self.n_down}")
        h = F.adaptive_avg_pool2d(self.body(x), 1).flatten(1)
        return self.mu(h), self.logvar(h)

    @staticmethod
    def sample(mu: Tensor, logvar: Tensor) -> Tensor:
        """Reparameterised draw from N(mu, exp(logvar)): (B, z_dim)."""
        return mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
