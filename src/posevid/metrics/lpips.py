"""LPIPS (Zhang et al. 2018, v0.1) with our own AlexNet / VGG-16 definitions; weights come from a file.

Nothing is downloaded. The file is one state dict holding the backbone and the five linear heads, in
either layout:

- the ``lpips`` package's model (``torch.save(lpips.LPIPS(net="alex").state_dict(), F)``): keys
  ``net.slice{1..5}.N.weight/bias`` and ``lin{0..4}.model.1.weight``;
- torchvision's ``features.N.weight/bias`` plus the ``lin{0..4}.model.1.weight`` heads of the lpips
  weights (``alex.pth`` / ``vgg.pth``) merged into one dict.

The backbone (AlexNet or VGG-16) is recognised from the first convolution's kernel size.
"""

from __future__ import annotations

import re
from pathlib import Path

import torch
from torch import Tensor, nn

from ..errors import PosevidError
from ..io_utils import load_state_file
from ..nets.vgg import vgg_layers

# torchvision ``features`` layouts: (in, out, kernel, stride, padding) convs and "M" max pools (kernel 3
# stride 2 for AlexNet, 2 / 2 for VGG); LPIPS taps the ReLU after these ``features`` indices.
_ALEX = [(3, 64, 11, 4, 2), "M", (64, 192, 5, 1, 2), "M", (192, 384, 3, 1, 1), (384, 256, 3, 1, 1),
         (256, 256, 3, 1, 1)]
_ALEX_TAPS = (1, 4, 7, 9, 11)
_VGG16 = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512]
_VGG16_TAPS = (3, 8, 15, 22, 29)
_SHIFT = (-0.030, -0.088, -0.188)
_SCALE = (0.458, 0.448, 0.450)


def _alexnet() -> nn.Sequential:
    layers: list[nn.Module] = []
    for spec in _ALEX:
        if spec == "M":
            layers.append(nn.MaxPool2d(3, 2))
        else:
            cin, cout, k, s, p = spec
            layers += [nn.Conv2d(cin, cout, k, s, p), nn.ReLU()]
    return nn.Sequential(*layers)


def _features_state(state: dict[str, Tensor]) -> dict[str, Tensor]:
    """Backbone tensors keyed ``N.weight`` (torchvision index N) from either supported layout."""
    out = {}
    for key, value in state.items():
        m = re.fullmatch(r"(?:features|net\.slice\d)\.(\d+)\.(weight|bias)", key)
        if m:
            out[f"{m.group(1)}.{m.group(2)}"] = value
    return out


class LPIPS(nn.Module):
    """Learned perceptual distance: ``forward(a, b)`` with (B, 3, H, W) in [-1, 1] -> (B,) (0 = identical)."""

    def __init__(self, backbone: str = "alex"):
        super().__init__()
        if backbone not in ("alex", "vgg"):
            raise ValueError(f"backbone must be 'alex' or 'vgg', not {backbone!r}")
        self.backbone = backbone
        self.features = _alexnet() if backbone == "alex" else vgg_layers(_VGG16)
        self.taps = _ALEX_TAPS if backbone == "alex" else _VGG16_TAPS
        widths = [self.features[t - 1].out_channels for t in self.taps]  # the conv before each tapped ReLU
        self.heads = nn.ModuleList(nn.Conv2d(c, 1, 1, bias=False) for c in widths)
        self.register_buffer("shift", torch.tensor(_SHIFT).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("scale", torch.tensor(_SCALE).view(1, 3, 1, 1), persistent=False)
        self.requires_grad_(False)
        self.eval()

    def _taps(self, x: Tensor) -> list[Tensor]:
        x = (x - self.shift) / self.scale
        out = []
        for i, layer in enumerate(self.features[: self.taps[-1] + 1]):
            x = layer(x)
            if i in self.taps:
                out.append(x)
        return out

    @torch.no_grad()
    def forward(self, a: Tensor, b: Tensor) -> Tensor:
        return head_distance(self.heads, self._taps(a.float()), self._taps(b.float()))


def head_distance(heads: nn.ModuleList, taps_a: list[Tensor], taps_b: list[Tensor]) -> Tensor:
    """The LPIPS sum over layers: each tap unit-normalised over channels, squared difference, weighted by
    its 1x1 head, averaged over space. Taps (B, C_k, H_k, W_k) -> (B,)."""
    total = taps_a[0].new_zeros(taps_a[0].shape[0])
    for head, fa, fb in zip(heads, taps_a, taps_b, strict=True):
        fa = fa / (fa.pow(2).sum(dim=1, keepdim=True).sqrt() + 1e-10)
        fb = fb / (fb.pow(2).sum(dim=1, keepdim=True).sqrt() + 1e-10)
        total = total + head((fa - fb) ** 2).mean(dim=(1, 2, 3))
    return total


def load_lpips(path: str | Path) -> LPIPS:
    """An LPIPS model with the backbone and heads of the state-dict file ``path`` (see the module doc)."""
    path = Path(path)
    state = load_state_file(path, "LPIPS weights")
    feats = _features_state(state)
    first = feats.get("0.weight")
    if first is None:
        raise PosevidError(path, "no backbone weights (features.N.* or net.sliceK.N.* keys)")
    model = LPIPS("alex" if first.shape[-1] == 11 else "vgg")
    heads = {}
    for k in range(len(model.heads)):
        w = state.get(f"lin{k}.model.1.weight", state.get(f"lin{k}.weight"))
        if w is None:
            raise PosevidError(path, f"no linear head lin{k}.model.1.weight: the file needs the LPIPS heads too")
        heads[f"{k}.weight"] = w
    try:
        model.features.load_state_dict(feats, strict=True)
        model.heads.load_state_dict(heads, strict=True)
    except RuntimeError as err:
        raise PosevidError(path, f"weights do not fit an LPIPS-{model.backbone} network") from err
    return model
