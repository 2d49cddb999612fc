"""``model:`` options of the decoupled method (defaults: the paper at 256x256; ``configs/decoupled``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ...losses import LossWeights
from ...nets.blocks import Norm
from ...nets.discriminators import DiscOptions
from ...options import option


@dataclass
class EncoderOptions:
    """The colour encoders E_up and E_down (BicycleGAN's ResNet encoder)."""

    z_up: int = option(16, "latent size of the upper-body encoder", ge=1)
    z_down: int = option(8, "latent size of the lower-body encoder", ge=1)
    base: int = option(64, "channels of the first conv", ge=1)
    n_blocks: int = option(4, "residual blocks", ge=1)
    norm: Norm | None = option(None, "normalisation (default: model.norm)")
    logvar_init: float = option(0.0, "initial bias of the log-variance head (negative: a narrow posterior)")


@dataclass
class BicycleOptions:
    """Stage I's BicycleGAN generator (U-Net) and PatchGAN per region, and their loss weights."""

    base: int = option(64, "channels of the U-Net's first layer", ge=1)
    depth: int = option(7, "downsamplings of the U-Net (7: U-128 at 256 px)", ge=1)
    d_base: int = option(64, "channels of the PatchGAN's first layer", ge=1)
    d_layers: int = option(3, "stride-2 layers of the PatchGAN", ge=1)
    l1: float = option(10.0, "weight of the reconstruction L1", ge=0)
    kl: float = option(0.01, "weight of the KL divergence", ge=0)
    z: float = option(0.5, "weight of the latent regression |z - E(B_hat)|", ge=0)
    grey: bool = option(False, "also give the U-Net the uncoloured frame's grey image (not in the paper)")


@dataclass
class RestoreOptions:
    """The restoration network that fills the cracks of part-wise warped feature maps."""

    enabled: bool = option(True, "use a restoration network (its stage is skipped when false)")
    base: int = option(32, "channels of the U-Net's first layer", ge=1)
    depth: int = option(4, "downsamplings of the U-Net", ge=1)
    d_base: int = option(64, "channels of its PatchGAN's first layer", ge=1)
    d_layers: int = option(3, "stride-2 layers of its PatchGAN", ge=1)
    l1: float = option(10.0, "weight of the L1 to the real target's feature map (our addition)", ge=0)


@dataclass
class GeneratorOptions:
    """Stage II's pix2pixHD generator: a global generator at half size plus the local enhancer."""

    base: int = option(32, "channels of the local enhancer (the global generator has 2 base)", ge=1)
    n_down: int = option(4, "downsamplings of the global generator", ge=1)
    n_blocks: int = option(9, "residual blocks of the global generator", ge=0)
    local_blocks: int = option(3, "residual blocks of the local enhancer", ge=0)


@dataclass
class DecoupledOptions:
    """``model:`` options of the decoupled method."""

    stage: Literal["encoders", "restore", "generator"] = option(
        "generator", "the stage this model trains / was trained in (the trainer sets it for each stage)")
    norm: Norm = option("instance", "normalisation layers")
    encoder: EncoderOptions = option(EncoderOptions(), "the colour encoders")
    bicycle: BicycleOptions = option(BicycleOptions(), "stage I's BicycleGAN networks and losses")
    restore: RestoreOptions = option(RestoreOptions(), "the restoration network (stage restore)")
    generator: GeneratorOptions = option(GeneratorOptions(), "stage II's generator")
    disc: DiscOptions = option(DiscOptions(), "stage II's multi-scale temporal discriminator")
    loss: LossWeights = option(LossWeights(), "stage II's loss weights")
