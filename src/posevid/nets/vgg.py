"""VGG-19 feature extractor with torchvision's ``features`` layout, loaded from a local weights file."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor, nn

from ..errors import PosevidError
from ..io_utils import load_state_file

# torchvision's vgg19 "E" configuration: numbers are conv widths, "M" max pooling.
_CFG = [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512]
# Indices in ``features`` after which relu1_1, relu2_1, relu3_1, relu4_1, relu5_1 are taken.
_TAPS = (1, 6, 11, 20, 29)


def vgg_layers(cfg: list[int | str]) -> nn.Sequential:
    """torchvision's VGG ``features``: for each entry of ``cfg`` a 3x3 conv (padding 1) with that many
    output channels and a ReLU, or a 2x2 max-pool for "M" (module indices match torchvision's keys)."""
    layers: list[nn.Module] = []
    ch = 3
    for v in cfg:
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(ch, int(v), 3, padding=1), nn.ReLU()]
            ch = int(v)
    return nn.Sequential(*layers)


class VGG19Features(nn.Module):
    """Frozen VGG-19 conv layers. (B, 3, H, W) in [-1, 1] -> [relu1_1, relu2_1, relu3_1, relu4_1, relu5_1].

    ``weights_path`` is a torchvision-compatible state dict (e.g. ``vgg19-dcbb9e9d.pth``: keys
    ``features.N.weight``; ``classifier.*`` keys are ignored). ImageNet normalisation happens inside.
    """

    def __init__(self, weights_path: str | Path):
        super().__init__()
        self.features = vgg_layers(_CFG)
        self.load_weights(weights_path)
        self.requires_grad_(False)
        self.eval()
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1), persistent=False)

    def load_weights(self, path: str | Path) -> None:
        """Load ``features.*`` tensors from a torchvision VGG-19 state dict file."""
        path = Path(path)
        state = load_state_file(path, "VGG-19 weights")
        feats = {k[len("features."):]: v for k, v in state.items() if k.startswith("features.")}
        try:
            self.features.load_state_dict(feats, strict=True)
        except RuntimeError as err:
            raise PosevidError(path, "not a torchvision VGG-19 state dict (features.N.weight keys)") from err

    def train(self, mode: bool = True) -> VGG19Features:
        """Always stays in eval mode (frozen)."""
        return super().train(False)

    def forward(self, x: Tensor) -> list[Tensor]:
        x = ((x + 1) / 2 - self.mean.to(x.dtype)) / self.std.to(x.dtype)
        out = []
        for i, layer in enumerate(self.features[: _TAPS[-1] + 1]):
            x = layer(x)
            if i in _TAPS:
                out.append(x)
        return out
