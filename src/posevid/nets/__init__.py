"""Shared network parts: conv blocks, U-Net, pix2pixHD generator, PatchGAN discriminators, VGG-19,
the shift-tolerant VGG-16 / AlexNet of ST-LPIPS."""

from .antialiased import ShiftTolerantFeatures
from .blocks import ConvBlock, DownBlock, ResBlock, UpBlock, norm_layer
from .discriminators import MultiScaleDiscriminator, PatchDiscriminator
from .resnet import GlobalGenerator, ResnetBlocks
from .unet import UNet
from .vgg import VGG19Features

__all__ = ["ConvBlock", "DownBlock", "GlobalGenerator", "MultiScaleDiscriminator", "PatchDiscriminator",
           "ResBlock", "ResnetBlocks", "ShiftTolerantFeatures", "UNet", "UpBlock", "VGG19Features", "norm_layer"]
