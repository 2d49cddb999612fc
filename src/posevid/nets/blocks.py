"""Conv, residual, up- and down-sampling blocks (reflect padding, instance norm by default)."""

from __future__ import annotations

from typing import Literal

from torch import Tensor, nn

Norm = Literal["instance", "batch", "none"]  # the ``norm`` option of the networks built from these blocks


def norm_layer(kind: str, ch: int) -> nn.Module:
    """A normalisation layer over ``ch`` channels: "instance" (affine), "batch" or "none" (identity)."""
    if kind == "instance":
        return nn.InstanceNorm2d(ch, affine=True)
    if kind == "batch":
        return nn.BatchNorm2d(ch)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"unknown norm {kind!r}; use instance, batch or none")


def act_layer(kind: str) -> nn.Module:
    """An activation: "relu", "lrelu" (slope 0.2), "tanh" or "none"."""
    acts = {"relu": lambda: nn.ReLU(inplace=True), "lrelu": lambda: nn.LeakyReLU(0.2, inplace=True),
            "tanh": nn.Tanh, "none": nn.Identity}
    if kind not in acts:
        raise ValueError(f"unknown activation {kind!r}; use relu, lrelu, tanh or none")
    return acts[kind]()


class ConvBlock(nn.Sequential):
    """Pad (k // 2) -> conv -> norm -> activation. (B, in_ch, H, W) -> (B, out_ch, H / stride, W / stride).

    ``pad="reflect"`` (default) or ``"zero"``; reflect padding falls back to zeros when the input is
    smaller than the padding (tiny feature maps).
    """

    def __init__(self, in_ch: int, out_ch: int, kernel: int = 3, stride: int = 1, norm: str = "instance",
                 act: str = "relu", pad: str = "reflect"):
        if pad not in ("reflect", "zero"):
            raise ValueError(f"unknown padding {pad!r}; use reflect or zero")
        p = kernel // 2
        super().__init__(
            nn.Conv2d(in_ch, out_ch, kernel, stride, padding=p,
                      padding_mode="reflect" if pad == "reflect" and p > 0 else "zeros", bias=norm != "batch"),
            norm_layer(norm, out_ch),
            act_layer(act),
        )


class ResBlock(nn.Module):
    """x + conv-norm-relu-conv-norm(x); shape-preserving (B, ch, H, W)."""

    def __init__(self, ch: int, norm: str = "instance"):
        super().__init__()
        self.body = nn.Sequential(ConvBlock(ch, ch, 3, 1, norm, "relu"), ConvBlock(ch, ch, 3, 1, norm, "none"))

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class UpBlock(nn.Sequential):
    """Nearest x2 upsampling then a 3x3 conv block: (B, in_ch, H, W) -> (B, out_ch, 2H, 2W)."""

    def __init__(self, in_ch: int, out_ch: int, norm: str = "instance", act: str = "relu"):
        super().__init__(nn.Upsample(scale_factor=2, mode="nearest"), ConvBlock(in_ch, out_ch, 3, 1, norm, act))


class DownBlock(ConvBlock):
    """Stride-2 3x3 conv block: (B, in_ch, H, W) -> (B, out_ch, H/2, W/2)."""

    def __init__(self, in_ch: int, out_ch: int, norm: str = "instance", act: str = "relu"):
        super().__init__(in_ch, out_ch, 3, 2, norm, act)
