"""PG2's own networks (Ma et al. 2017, sec. 3.3): the G1 U-Net with a fully connected bottleneck, the
fully convolutional G2 U-Net that predicts a difference map, and the DCGAN discriminator on image pairs.

No batch norm or dropout in the generators; 3x3 convolutions; ReLU after every layer except the fully
connected ones and the output convolution; filters grow linearly per block (``hidden * (i + 1)``).
Images are (B, 3, H, W) in [-1, 1]; H and W must be divisible by 2 ** (blocks - 1).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

POSE_EMBEDDINGS = ("heatmap", "coordinate", "heatmap_encoder")


def conv_relu(in_ch: int, out_ch: int, stride: int = 1) -> nn.Sequential:
    """3x3 conv (zero padding) + ReLU: (B, in_ch, H, W) -> (B, out_ch, H / stride, W / stride)."""
    return nn.Sequential(nn.Conv2d(in_ch, out_ch, 3, stride, 1), nn.ReLU(inplace=True))


class SimpleResBlock(nn.Module):
    """PG2's simplified residual block: x + relu(conv(relu(conv(x)))), shape-preserving (B, ch, H, W)."""

    def __init__(self, ch: int):
        super().__init__()
        self.body = nn.Sequential(conv_relu(ch, ch), conv_relu(ch, ch))

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class Encoder(nn.Module):
    """A stem conv, then ``blocks`` residual blocks of ``hidden * (i + 1)`` filters, each but the last
    followed by a stride-2 conv. ``forward`` returns the features after every block (the U-Net skips),
    finest first; the last one (B, hidden * blocks, H / 2 ** (blocks - 1), W / ...) is the bottleneck."""

    def __init__(self, in_ch: int, hidden: int, blocks: int):
        super().__init__()
        self.stem = conv_relu(in_ch, hidden)
        self.res = nn.ModuleList(SimpleResBlock(hidden * (i + 1)) for i in range(blocks))
        self.down = nn.ModuleList(conv_relu(hidden * (i + 1), hidden * (i + 2), stride=2) for i in range(blocks - 1))

    def forward(self, x: Tensor) -> list[Tensor]:
        x = self.stem(x)
        skips = []
        for i, res in enumerate(self.res):
            x = res(x)
            skips.append(x)
            if i < len(self.down):
                x = self.down[i](x)
        return skips


class Decoder(nn.Module):
    """Mirror of ``Encoder``: at each level (coarsest first) concatenate the skip, merge with a conv,
    a residual block, then nearest x2 upsampling and a conv to the next level's width; a final 3x3
    conv (no activation) gives ``out_ch`` channels at full resolution."""

    def __init__(self, out_ch: int, hidden: int, blocks: int):
        super().__init__()
        widths = [hidden * (i + 1) for i in reversed(range(blocks))]
        self.merge = nn.ModuleList(conv_relu(2 * w, w) for w in widths)
        self.res = nn.ModuleList(SimpleResBlock(w) for w in widths)
        self.up = nn.ModuleList(nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), conv_relu(w, w - hidden))
                                for w in widths[:-1])
        self.out = nn.Conv2d(hidden, out_ch, 3, 1, 1)

    def forward(self, x: Tensor, skips: list[Tensor]) -> Tensor:
        for i, skip in enumerate(reversed(skips)):
            x = self.res[i](self.merge[i](torch.cat([x, skip], 1)))
            if i < len(self.up):
                x = self.up[i](x)
        return self.out(x)


def pose_vector(xy: Tensor, conf: Tensor, height: int, width: int) -> Tensor:
    """Keypoints as a flat vector for coordinate embedding: (B, 18, 2) pixels + (B, 18) -> (B, 54),
    coordinates scaled to [-1, 1], missing joints (conf 0) zeroed, the confidence appended."""
    scale = xy.new_tensor([2.0 / width, 2.0 / height])
    present = (conf > 0).to(xy.dtype)[..., None]
    norm = (xy * scale - 1) * present
    return torch.cat([norm, conf[..., None]], -1).flatten(1)


class G1(nn.Module):
    """Stage-I generator: U-Net with a fully connected bottleneck.

    ``embedding="heatmap"``: input is [I_A, 18 heatmaps of P_B] (21 channels).
    ``"coordinate"`` (CE): input is I_A; keypoints pass through two FC layers and are concatenated with
    the image code at the bottleneck. ``"heatmap_encoder"`` (HME): the heatmaps pass through their own
    encoder + FC and that code is concatenated at the bottleneck.
    forward(image (B, 3, H, W), heatmaps (B, 18, H, W), keypoints (B, 54)) -> (B, 3, H, W).
    """

    def __init__(self, height: int, width: int, blocks: int = 6, hidden: int = 128, z_dim: int = 64,
                 embedding: str = "heatmap", joints: int = 18):
        super().__init__()
        if embedding not in POSE_EMBEDDINGS:
            raise ValueError(f"unknown pose embedding {embedding!r}; use {', '.join(POSE_EMBEDDINGS)}")
        check_size(height, width, blocks)
        self.embedding = embedding
        f = 2 ** (blocks - 1)
        self.bottleneck = (hidden * blocks, height // f, width // f)
        flat = math.prod(self.bottleneck)
        self.encoder = Encoder(3 + (joints if embedding == "heatmap" else 0), hidden, blocks)
        self.fc_in = nn.Linear(flat, z_dim)
        extra = 0
        if embedding == "coordinate":
            self.pose_fc = nn.Sequential(nn.Linear(joints * 3, z_dim), nn.ReLU(inplace=True), nn.Linear(z_dim, z_dim))
            extra = z_dim
        elif embedding == "heatmap_encoder":
            self.pose_encoder = Encoder(joints, hidden, blocks)
            self.pose_fc = nn.Linear(flat, z_dim)
            extra = z_dim
        self.fc_out = nn.Linear(z_dim + extra, flat)
        self.decoder = Decoder(3, hidden, blocks)

    def forward(self, image: Tensor, heatmaps: Tensor, keypoints: Tensor) -> Tensor:
        x = torch.cat([image, heatmaps], 1) if self.embedding == "heatmap" else image
        skips = self.encoder(x)
        z = self.fc_in(skips[-1].flatten(1))
        if self.embedding == "coordinate":
            z = torch.cat([z, self.pose_fc(keypoints.to(z.dtype))], 1)
        elif self.embedding == "heatmap_encoder":
            z = torch.cat([z, self.pose_fc(self.pose_encoder(heatmaps)[-1].flatten(1))], 1)
        x = self.fc_out(z).view(-1, *self.bottleneck)
        return self.decoder(x, skips)


class G2(nn.Module):
    """Stage-II generator: the U-Net without the FC layer over [I_A, I_B1]; returns the difference map
    (B, 3, H, W) that is added to I_B1. ``blocks`` is N - 2 for the paper's N. The output conv starts
    near zero (weights scaled by 0.01, bias 0), so training starts from I_B2 ~ I_B1 (the paper's
    "reasonable result") while every layer still gets gradients."""

    def __init__(self, height: int, width: int, blocks: int = 4, hidden: int = 128):
        super().__init__()
        check_size(height, width, blocks)
        self.encoder = Encoder(6, hidden, blocks)
        self.decoder = Decoder(3, hidden, blocks)
        with torch.no_grad():
            self.decoder.out.weight.mul_(0.01)
            self.decoder.out.bias.zero_()

    def forward(self, image: Tensor, coarse: Tensor) -> Tensor:
        skips = self.encoder(torch.cat([image, coarse], 1))
        return self.decoder(skips[-1], skips)


class PairDiscriminator(nn.Module):
    """DCGAN discriminator on (I_A, I_B) pairs concatenated on channels (B, 6, H, W) -> logits (B,).

    Stride-2 4x4 convs (LeakyReLU 0.2, batch norm after the first) halve the size until the shorter
    side is 4, widths ``base * 2 ** i`` capped at ``8 * base``; a linear layer gives one logit.
    """

    def __init__(self, height: int, width: int, base: int = 64):
        super().__init__()
        layers: list[nn.Module] = []
        ch, h, w, i = 6, height, width, 0
        while min(h, w) > 4:
            out = base * min(2 ** i, 8)
            layers.append(nn.Conv2d(ch, out, 4, 2, 1, bias=i == 0))
            if i > 0:
                layers.append(nn.BatchNorm2d(out))
            layers.append(nn.LeakyReLU(0.2, inplace=True))
            ch, h, w, i = out, h // 2, w // 2, i + 1
        self.features = nn.Sequential(*layers)
        self.fc = nn.Linear(ch * h * w, 1)

    def forward(self, condition: Tensor, image: Tensor) -> Tensor:
        return self.fc(self.features(torch.cat([condition, image], 1)).flatten(1)).squeeze(1)


def check_size(height: int, width: int, blocks: int) -> None:
    """Raise ValueError unless ``blocks`` >= 1 and both sides divide by 2 ** (blocks - 1)."""
    f = 2 ** (blocks - 1)
    if blocks < 1 or height % f or width % f:
        raise ValueError(f"image size {height}x{width} must be divisible by 2**(blocks-1) = {f} (blocks={blocks})")


def default_blocks(height: int, width: int) -> int:
    """The paper's N for an input size: 6 at 256x256, 5 at 128x64, 4 at 64x64 (longer bottleneck side 8)."""
    side = max(height, width)
    return int(math.log2(side // 8)) + 1 if side >= 16 else 1
