"""first-order-model's animation networks at its TaiChi-256 configuration, for speed comparisons only.

Siarohin et al., "First Order Motion Model for Image Animation" (NeurIPS 2019); the published code is
github.com/AliaksandrSiarohin/first-order-model. This module is written for posevid from the paper and a
reading of that code's architecture (``config/taichi-256.yaml``): the same layers, channel counts, sizes
and per-frame work, so that its frame rate with random weights is the frame rate users get from that
model. It is not a port and trains nothing; nothing here is imported by posevid itself.

Per driving frame (as first-order-model's ``demo.py`` animates): the key-point detector on the driving
frame, then the generator on the source image with the source and driving key points (the generator
re-encodes the source every frame, as the published one does). Sizes for a 256x256 input:

- key-point detector: the frame blurred and subsampled to 64x64 (a Gaussian anti-aliasing filter), an
  hourglass (5 down / up blocks, 32 -> 1024 channels) and two 7x7 unpadded heads: 10 key-point heatmaps
  (softmax, temperature 0.1 -> expected coordinates in [-1, 1]) and their 2x2 Jacobians;
- generator: 7x7 stem (64 channels) and 2 down blocks to 256 channels at 64x64; the dense-motion network
  at 64x64 (an hourglass over 11 x (3 + 1) channels: the source warped by each key point's local affine
  motion and the difference of Gaussians of the key points, 64 -> 1024 channels) predicting 11 masks and
  an occlusion map; the features warped by the combined motion and multiplied by the occlusion map;
  6 residual blocks; 2 up blocks; a 7x7 head and a sigmoid. Batch norm everywhere (eval mode).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

# config/taichi-256.yaml's model_params
TAICHI_256 = {
    "num_kp": 10, "channels": 3,
    "detector": {"width": 32, "max_width": 1024, "blocks": 5, "temperature": 0.1, "scale": 0.25},
    "generator": {"width": 64, "max_width": 512, "down": 2, "bottleneck": 6},
    "motion": {"width": 64, "max_width": 1024, "blocks": 5, "scale": 0.25, "kp_variance": 0.01},
}


def _conv_bn_relu(cin: int, cout: int, k: int = 3) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, k, padding=k // 2), nn.BatchNorm2d(cout), nn.ReLU())


class _Down(nn.Sequential):
    """conv 3x3, batch norm, ReLU, 2x2 average pooling."""

    def __init__(self, cin: int, cout: int):
        super().__init__(*_conv_bn_relu(cin, cout), nn.AvgPool2d(2))


class _Up(nn.Module):
    """Nearest 2x upsampling, then conv 3x3, batch norm, ReLU."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.body = _conv_bn_relu(cin, cout)

    def forward(self, x: Tensor) -> Tensor:
        return self.body(F.interpolate(x, scale_factor=2.0))


class _Residual(nn.Module):
    """Pre-activation residual block: (batch norm, ReLU, conv 3x3) twice, plus the input."""

    def __init__(self, ch: int):
        super().__init__()
        self.body = nn.Sequential(nn.BatchNorm2d(ch), nn.ReLU(), nn.Conv2d(ch, ch, 3, padding=1),
                                  nn.BatchNorm2d(ch), nn.ReLU(), nn.Conv2d(ch, ch, 3, padding=1))

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class Hourglass(nn.Module):
    """U-Net of ``blocks`` down blocks (``width`` * 2^(i+1) channels, at most ``max_width``) and as many up
    blocks, each up block's output concatenated with the encoder's map of its size; the output has
    ``width + cin`` channels at the input's size."""

    def __init__(self, cin: int, width: int, max_width: int, blocks: int):
        super().__init__()
        ch = [min(max_width, width * 2 ** i) for i in range(blocks + 1)]
        self.down = nn.ModuleList(_Down(cin if i == 0 else ch[i], ch[i + 1]) for i in range(blocks))
        self.up = nn.ModuleList(_Up(ch[i + 1] * (1 if i == blocks - 1 else 2), ch[i]) for i in reversed(range(blocks)))
        self.out_ch = width + cin

    def forward(self, x: Tensor) -> Tensor:
        maps = [x]
        for block in self.down:
            maps.append(block(maps[-1]))
        out = maps.pop()
        for block in self.up:
            out = torch.cat([block(out), maps.pop()], 1)
        return out


class AntiAliasDown(nn.Module):
    """Gaussian blur (sigma = (1 / scale - 1) / 2, a depthwise kernel of 2 round(4 sigma) + 1 taps) and
    subsampling by 1 / scale."""

    def __init__(self, channels: int, scale: float):
        super().__init__()
        sigma = (1 / scale - 1) / 2
        size = 2 * round(sigma * 4) + 1
        t = torch.arange(size, dtype=torch.float32) - (size - 1) / 2
        g = torch.exp(-t ** 2 / (2 * sigma ** 2))
        kernel = g[:, None] * g[None, :]
        self.register_buffer("kernel", (kernel / kernel.sum()).expand(channels, 1, size, size).clone())
        self.pad, self.step = size // 2, int(1 / scale)

    def forward(self, x: Tensor) -> Tensor:
        x = F.conv2d(F.pad(x, (self.pad,) * 4), self.kernel, groups=x.shape[1])
        return x[:, :, ::self.step, ::self.step]


def coordinate_grid(h: int, w: int, like: Tensor) -> Tensor:
    """(h, w, 2) (x, y) in [-1, 1], corners at -1 and 1."""
    y = torch.linspace(-1, 1, h, dtype=like.dtype, device=like.device)
    x = torch.linspace(-1, 1, w, dtype=like.dtype, device=like.device)
    return torch.stack([x.expand(h, w), y[:, None].expand(h, w)], -1)


class KeypointDetector(nn.Module):
    """Image (B, 3, H, W) in [0, 1] -> key points ``value`` (B, K, 2) in [-1, 1] and ``jacobian`` (B, K, 2, 2)."""

    def __init__(self, num_kp: int, channels: int, width: int, max_width: int, blocks: int, temperature: float,
                 scale: float):
        super().__init__()
        self.down = AntiAliasDown(channels, scale)
        self.hourglass = Hourglass(channels, width, max_width, blocks)
        self.heatmaps = nn.Conv2d(self.hourglass.out_ch, num_kp, 7)
        self.jacobians = nn.Conv2d(self.hourglass.out_ch, 4 * num_kp, 7)
        self.temperature = temperature

    def forward(self, image: Tensor) -> dict[str, Tensor]:
        feats = self.hourglass(self.down(image))
        logits = self.heatmaps(feats)
        b, k, h, w = logits.shape
        prob = F.softmax(logits.flatten(2) / self.temperature, 2)
        value = prob @ coordinate_grid(h, w, prob).view(h * w, 2)
        jac = (self.jacobians(feats).view(b, k, 4, h * w) * prob[:, :, None]).sum(-1)
        return {"value": value, "jacobian": jac.view(b, k, 2, 2)}


class DenseMotion(nn.Module):
    """Source (B, 3, H, W) and key points -> ``deformation`` (B, h, w, 2) backward grid and ``occlusion``
    (B, 1, h, w) at the motion scale."""

    def __init__(self, num_kp: int, channels: int, width: int, max_width: int, blocks: int, scale: float,
                 kp_variance: float):
        super().__init__()
        self.down = AntiAliasDown(channels, scale)
        self.hourglass = Hourglass((num_kp + 1) * (channels + 1), width, max_width, blocks)
        self.masks = nn.Conv2d(self.hourglass.out_ch, num_kp + 1, 7, padding=3)
        self.occlusion = nn.Conv2d(self.hourglass.out_ch, 1, 7, padding=3)
        self.num_kp, self.kp_variance = num_kp, kp_variance

    def gaussians(self, kp: Tensor, grid: Tensor) -> Tensor:
        """(B, K, h, w) Gaussians of variance ``kp_variance`` at the key points (B, K, 2)."""
        return torch.exp(-0.5 * ((grid[None, None] - kp[:, :, None, None]) ** 2).sum(-1) / self.kp_variance)

    def forward(self, source: Tensor, kp_src: dict[str, Tensor], kp_drv: dict[str, Tensor]) -> dict[str, Tensor]:
        small = self.down(source)
        b, c, h, w = small.shape
        k = self.num_kp
        grid = coordinate_grid(h, w, small)
        heat = self.gaussians(kp_drv["value"], grid) - self.gaussians(kp_src["value"], grid)
        heat = torch.cat([heat.new_zeros(b, 1, h, w), heat], 1)[:, :, None]  # (B, K + 1, 1, h, w)
        # each key point's first-order motion: z -> J_src J_drv^-1 (z - p_drv) + p_src; the background: identity
        affine = kp_src["jacobian"] @ torch.inverse(kp_drv["jacobian"])  # (B, K, 2, 2)
        rel = grid[None, None] - kp_drv["value"][:, :, None, None]  # (B, K, h, w, 2)
        moved = torch.einsum("bkij,bkhwj->bkhwi", affine, rel) + kp_src["value"][:, :, None, None]
        motions = torch.cat([grid.expand(b, 1, h, w, 2), moved], 1)  # (B, K + 1, h, w, 2)
        warped = F.grid_sample(small.repeat_interleave(k + 1, 0), motions.flatten(0, 1), align_corners=True)
        x = torch.cat([heat, warped.view(b, k + 1, c, h, w)], 2).flatten(1, 2)
        feats = self.hourglass(x)
        masks = F.softmax(self.masks(feats), 1)
        deformation = (motions * masks[..., None]).sum(1)
        return {"deformation": deformation, "occlusion": torch.sigmoid(self.occlusion(feats))}


class OcclusionAwareGenerator(nn.Module):
    """Source (B, 3, H, W) in [0, 1] and key points -> ``prediction`` (B, 3, H, W) in [0, 1] and the
    source ``deformed`` by the dense motion."""

    def __init__(self, num_kp: int, channels: int, width: int, max_width: int, down: int, bottleneck: int,
                 motion: dict):
        super().__init__()
        ch = [min(max_width, width * 2 ** i) for i in range(down + 1)]
        self.motion = DenseMotion(num_kp, channels, **motion)
        self.stem = _conv_bn_relu(channels, width, 7)
        self.down = nn.Sequential(*[_Down(ch[i], ch[i + 1]) for i in range(down)])
        self.bottleneck = nn.Sequential(*[_Residual(ch[-1]) for _ in range(bottleneck)])
        self.up = nn.Sequential(*[_Up(ch[i + 1], ch[i]) for i in reversed(range(down))])
        self.head = nn.Conv2d(width, channels, 7, padding=3)

    @staticmethod
    def _deform(x: Tensor, grid: Tensor) -> Tensor:
        if grid.shape[1:3] != x.shape[2:]:
            grid = F.interpolate(grid.permute(0, 3, 1, 2), size=x.shape[2:], mode="bilinear").permute(0, 2, 3, 1)
        return F.grid_sample(x, grid, align_corners=True)

    def forward(self, source: Tensor, kp_src: dict[str, Tensor], kp_drv: dict[str, Tensor]) -> dict[str, Tensor]:
        feats = self.down(self.stem(source))
        motion = self.motion(source, kp_src, kp_drv)
        occlusion = motion["occlusion"]
        if occlusion.shape[2:] != feats.shape[2:]:
            occlusion = F.interpolate(occlusion, size=feats.shape[2:], mode="bilinear")
        feats = self._deform(feats, motion["deformation"]) * occlusion
        out = torch.sigmoid(self.head(self.up(self.bottleneck(feats))))
        return {"prediction": out, "deformed": self._deform(source, motion["deformation"])}


class FirstOrderModel(nn.Module):
    """Detector + generator of ``params`` (default ``TAICHI_256``), random weights, eval mode.
    ``animate(source, driving_frame)`` -> (B, 3, H, W) in [0, 1]; the source's key points are computed
    once per source (``set_source``), as ``demo.py`` does."""

    def __init__(self, params: dict | None = None):
        super().__init__()
        p = params or TAICHI_256
        common = {"num_kp": p["num_kp"], "channels": p["channels"]}
        self.detector = KeypointDetector(**common, **p["detector"])
        self.generator = OcclusionAwareGenerator(**common, **p["generator"], motion=p["motion"])
        self.eval()
        self.kp_source: dict[str, Tensor] | None = None
        self.source: Tensor | None = None

    @torch.no_grad()
    def set_source(self, source: Tensor) -> None:
        self.source, self.kp_source = source, self.detector(source)

    @torch.no_grad()
    def animate(self, driving: Tensor) -> Tensor:
        return self.generator(self.source, self.kp_source, self.detector(driving))["prediction"]
