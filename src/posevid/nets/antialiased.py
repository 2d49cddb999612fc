"""The shift-tolerant (anti-aliased) AlexNet and VGG-16 of ST-LPIPS, with weights from ``stlpips-pytorch``.

Ghildyal & Liu, "Shift-tolerant Perceptual Similarity Metric", ECCV 2022. The ``stlpips-pytorch`` wheel
ships the trained networks as ``stlpips_pytorch/weights/vST0.0/{alex,vgg}_shift_tolerant.pth``; its Python
code imports torchvision and IPython, so we never import it: the files are found with
``importlib.util.find_spec`` (which does not run the package) and loaded into the definitions below.

"Shift-tolerant" means, as in the package's ``variant="shift_tolerant"``: every stride-2 step is replaced
by a stride-1 step followed by a blur-pool (reflection padding of 2 on each side, the binomial filter
[1, 2, 1] x [1, 2, 1] / 16, stride 2); AlexNet's first convolution runs at stride 1 and is blurred before
its ReLU; max-pools run at stride 1 and are blurred after. Module indices in ``features`` are the
package's (its ``net.sliceK.N.*`` keys hold index N), so the files load key for key.
"""

from __future__ import annotations

import functools
import importlib.util
import re
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from ..errors import PosevidError

PACKAGE = "stlpips_pytorch"
INSTALL_HINT = "pip install --no-deps stlpips-pytorch==0.0.2 (its own dependencies would pull in torchvision)"
NETS = ("alex", "vgg")
# Index in ``features`` of the ReLU after which ST-LPIPS taps each of its five layers.
LPIPS_TAPS = {"alex": (2, 6, 10, 12, 14), "vgg": (3, 9, 17, 25, 33)}
_VGG16 = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512]


class BlurPool(nn.Module):
    """Anti-aliased stride-2 downsampling: reflection pad 2, depthwise [1, 2, 1]^T [1, 2, 1] / 16, stride 2.

    (B, C, H, W) -> (B, C, H // 2 + 1, W // 2 + 1); needs H, W >= 3 (reflection padding).
    """

    def __init__(self, channels: int):
        super().__init__()
        a = torch.tensor([1.0, 2.0, 1.0])
        filt = a[:, None] * a[None, :]
        self.register_buffer("filt", (filt / filt.sum()).expand(channels, 1, 3, 3).contiguous(), persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        return F.conv2d(F.pad(x, (2, 2, 2, 2), mode="reflect"), self.filt.to(x.dtype), stride=2, groups=x.shape[1])


def st_alexnet() -> nn.Sequential:
    """The shift-tolerant AlexNet ``features`` (15 modules; ReLUs at 2, 6, 10, 12, 14)."""
    return nn.Sequential(
        nn.Conv2d(3, 64, 11, 1, 2), BlurPool(64), nn.ReLU(),
        nn.MaxPool2d(3, 1), BlurPool(64), nn.Conv2d(64, 192, 5, padding=2), nn.ReLU(),
        nn.MaxPool2d(3, 1), BlurPool(192), nn.Conv2d(192, 384, 3, padding=1), nn.ReLU(),
        nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(),
        nn.Conv2d(256, 256, 3, padding=1), nn.ReLU(),
    )


def st_vgg16() -> nn.Sequential:
    """The shift-tolerant VGG-16 ``features`` up to relu5_3 (34 modules): each "M" of VGG-16 becomes a
    2x2 max-pool at stride 1 and a ``BlurPool``."""
    layers: list[nn.Module] = []
    ch = 3
    for v in _VGG16:
        if v == "M":
            layers += [nn.MaxPool2d(2, 1), BlurPool(ch)]
        else:
            layers += [nn.Conv2d(ch, int(v), 3, padding=1), nn.ReLU()]
            ch = int(v)
    return nn.Sequential(*layers)


def layer_names(net: str) -> dict[str, int]:
    """Tap name -> index in ``features``: VGG-16 ``relu{block}_{n}`` (relu1_1 ... relu5_3); AlexNet relu1..relu5."""
    if net == "alex":
        return {f"relu{k + 1}": i for k, i in enumerate(LPIPS_TAPS["alex"])}
    names, block, n = {}, 1, 0
    for i, layer in enumerate(st_vgg16()):
        if isinstance(layer, BlurPool):
            block, n = block + 1, 0
        elif isinstance(layer, nn.ReLU):
            n += 1
            names[f"relu{block}_{n}"] = i
    return names


def weights_path(net: str) -> Path:
    """The ``.pth`` of the ST-LPIPS network ``net`` ("alex" or "vgg") inside the installed wheel."""
    if net not in NETS:
        raise ValueError(f"net must be one of {NETS}, not {net!r}")
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise PosevidError("stlpips-pytorch", f"package not installed ({INSTALL_HINT})")
    path = Path(next(iter(spec.submodule_search_locations))) / "weights" / "vST0.0" / f"{net}_shift_tolerant.pth"
    if not path.is_file():
        raise PosevidError(path, "missing from stlpips-pytorch (reinstall stlpips-pytorch==0.0.2)")
    return path


@functools.lru_cache(maxsize=2)
def stlpips_state(net: str) -> dict[str, Tensor]:
    """The wheel's state dict for ``net``, renamed: ``features.N.*`` (backbone), ``heads.K.weight`` (lin K),
    ``shift`` / ``scale`` (the input scaling layer). Blur filters are checked against ours and dropped."""
    path = weights_path(net)
    try:
        raw = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # a damaged install is a user-facing problem
        raise PosevidError(path, f"cannot read the ST-LPIPS weights ({type(err).__name__})") from err
    out: dict[str, Tensor] = {}
    for key, value in raw.items():
        if m := re.fullmatch(r"net\.slice\d\.(\d+)\.(weight|bias|filt)", key):
            if m.group(2) == "filt":
                if not torch.allclose(value, BlurPool(value.shape[0]).filt):
                    raise PosevidError(path, f"{key} is not the [1, 2, 1] blur filter this loader expects")
                continue
            out[f"features.{m.group(1)}.{m.group(2)}"] = value
        elif m := re.fullmatch(r"lin(\d)\.model\.1\.weight", key):
            out[f"heads.{m.group(1)}.weight"] = value
        elif m := re.fullmatch(r"scaling_layer\.(shift|scale)", key):
            out[m.group(1)] = value.reshape(1, 3, 1, 1)
    return out


def _min_size(layers: Sequence[nn.Module]) -> int:
    """The smallest square input side that every layer accepts (reflection padding needs side >= 3)."""
    for side in range(1, 512):
        n = side
        for layer in layers:
            if isinstance(layer, BlurPool):
                if n < 3:
                    break
                n = (n + 1) // 2 + 1
            elif isinstance(layer, nn.Conv2d | nn.MaxPool2d):
                k, s, p = (layer.kernel_size, layer.stride, layer.padding)
                k, s, p = (v[0] if isinstance(v, tuple) else v for v in (k, s, p))
                n = (n + 2 * p - k) // s + 1
            if n < 1:
                break
        else:
            return side
    raise ValueError("no input size fits these layers")


class ShiftTolerantFeatures(nn.Module):
    """Frozen ST-LPIPS backbone: (B, 3, H, W) in [-1, 1] -> the activations of ``layers``, in the order given.

    ``net``: "vgg" (anti-aliased VGG-16; layers ``relu1_1`` ... ``relu5_3``) or "alex" (``relu1`` ...
    ``relu5``). Inputs are scaled as ST-LPIPS does ((x - shift) / scale, the LPIPS v0.1 scaling layer).
    Gradients flow to the input (for losses); the parameters never train. Only the layers up to the
    deepest tap run. Inputs smaller than ``min_size`` on a side are refused.
    """

    def __init__(self, net: str = "vgg", layers: Sequence[str] | None = None,
                 device: torch.device | str | None = None):
        super().__init__()
        if net not in NETS:
            raise ValueError(f"net must be one of {NETS}, not {net!r}")
        names = layer_names(net)
        layers = list(layers) if layers is not None else [n for n, i in names.items() if i in LPIPS_TAPS[net]]
        unknown = [n for n in layers if n not in names]
        if unknown or not layers:
            raise ValueError(f"unknown {net} layers {unknown or layers}; choose from {', '.join(names)}")
        self.net, self.layers = net, tuple(layers)
        self.taps = [names[n] for n in layers]
        full = st_alexnet() if net == "alex" else st_vgg16()
        self.features = full[: max(self.taps) + 1]
        state = stlpips_state(net)
        feats = {k[len("features."):]: v for k, v in state.items()
                 if k.startswith("features.") and int(k.split(".")[1]) < len(self.features)}
        self.features.load_state_dict(feats, strict=True)
        self.register_buffer("shift", state["shift"].clone(), persistent=False)
        self.register_buffer("scale", state["scale"].clone(), persistent=False)
        self.min_size = _min_size(self.features)
        self.requires_grad_(False)
        self.eval()
        self.to(device)

    def train(self, mode: bool = True) -> ShiftTolerantFeatures:
        """Always stays in eval mode (frozen)."""
        return super().train(False)

    def forward(self, x: Tensor) -> list[Tensor]:
        if min(x.shape[-2:]) < self.min_size:
            raise ValueError(f"ST-LPIPS {self.net} needs images of at least {self.min_size}x{self.min_size} "
                             f"pixels, got {x.shape[-1]}x{x.shape[-2]}")
        x = (x - self.shift.to(x.dtype)) / self.scale.to(x.dtype)
        acts = {}
        for i, layer in enumerate(self.features):
            x = layer(x)
            if i in self.taps:
                acts[i] = x
        return [acts[i] for i in self.taps]
