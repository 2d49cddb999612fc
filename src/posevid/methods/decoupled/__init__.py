"""Decoupled learning for colour-controllable human video (Yang et al., ICASSP 2020).

``model``: the method (stages encoders, restore, generator), its animator and the colour tools
(``recolor_to_file``, ``encode_photo``, ``latents_plot``); ``nets``: feature maps, the ``decoupled``
dataset kind, the latent standardiser and the coarse-to-fine generator.
"""

from .model import Decoupled, DecoupledAnimator, encode_photo, latents_plot, recolor_to_file

__all__ = ["Decoupled", "DecoupledAnimator", "encode_photo", "latents_plot", "recolor_to_file"]
