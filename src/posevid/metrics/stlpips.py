"""ST-LPIPS (Ghildyal & Liu, "Shift-tolerant Perceptual Similarity Metric", ECCV 2022), offline.

The anti-aliased AlexNet / VGG-16 backbones and their calibrated linear heads come from the
``stlpips-pytorch`` wheel (see ``posevid.nets.antialiased``). The numbers match the package's
``stlpips.LPIPS(net=..., variant="shift_tolerant")``; they are not comparable with LPIPS numbers
(other backbones, other heads).
"""

from __future__ import annotations

import functools

import numpy as np
import torch
from torch import Tensor, nn

from ..nets.antialiased import ShiftTolerantFeatures, stlpips_state
from .lpips import head_distance

CITATION = "ST-LPIPS (Ghildyal & Liu, ECCV 2022); not comparable with LPIPS"


class STLPIPS(nn.Module):
    """Shift-tolerant LPIPS: ``forward(a, b)`` with (B, 3, H, W) in [-1, 1] -> (B,) (0 = identical).

    ``net``: "alex" or "vgg". Differentiable in its inputs; the parameters are frozen.
    """

    def __init__(self, net: str = "alex", device: torch.device | str | None = None):
        super().__init__()
        self.net = net
        self.backbone = ShiftTolerantFeatures(net)
        widths = [self._width(i) for i in self.backbone.taps]
        self.heads = nn.ModuleList(nn.Conv2d(c, 1, 1, bias=False) for c in widths)
        state = stlpips_state(net)
        self.heads.load_state_dict({k[len("heads."):]: v for k, v in state.items() if k.startswith("heads.")})
        self.requires_grad_(False)
        self.eval()
        self.to(device)

    def _width(self, tap: int) -> int:
        """Channels of the tap: those of the last convolution before it."""
        convs = [m for m in self.backbone.features[:tap] if isinstance(m, nn.Conv2d)]
        return convs[-1].out_channels

    def train(self, mode: bool = True) -> STLPIPS:
        """Always stays in eval mode (frozen)."""
        return super().train(False)

    def forward(self, a: Tensor, b: Tensor) -> Tensor:
        if a.shape != b.shape:
            raise ValueError(f"ST-LPIPS needs images of one shape, got {tuple(a.shape)} and {tuple(b.shape)}")
        return head_distance(self.heads, self.backbone(a.float()), self.backbone(b.float()))


@functools.lru_cache(maxsize=4)
def load_st_lpips(net: str = "alex", device: str = "cpu") -> STLPIPS:
    """The ST-LPIPS model ``net`` on ``device``, built once per process and reused."""
    return STLPIPS(net, device)


@torch.no_grad()
def st_lpips(a: Tensor, b: Tensor, net: str = "alex", batch: int = 16) -> Tensor:
    """ST-LPIPS between image batches a, b (B, 3, H, W) in [-1, 1] -> (B,) float32, on a's device,
    evaluated ``batch`` images at a time."""
    model = load_st_lpips(net, str(a.device))
    return torch.cat([model(a[i:i + batch], b[i:i + batch]) for i in range(0, len(a), batch)])


def st_lpips_images(a: np.ndarray, b: np.ndarray, net: str = "alex",
                    device: torch.device | str | None = None) -> np.ndarray:
    """ST-LPIPS between uint8 RGB images (H, W, 3) or batches (B, H, W, 3) -> (B,) float64 (B = 1 for one
    image), computed on ``device`` (the CPU when None)."""
    def tensor(x: np.ndarray) -> Tensor:
        x = np.asarray(x)
        if x.dtype != np.uint8 or x.shape[-1] != 3 or x.ndim not in (3, 4):
            raise ValueError(f"expected uint8 (H, W, 3) or (B, H, W, 3) images, got {x.dtype} {x.shape}")
        t = torch.from_numpy(np.ascontiguousarray(x.reshape((-1, *x.shape[-3:]))))
        return t.to(device).permute(0, 3, 1, 2).float() / 127.5 - 1

    return st_lpips(tensor(a), tensor(b), net).double().cpu().numpy()
