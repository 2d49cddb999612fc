"""Decoupled learning for colour-controllable human video (Yang et al., ICASSP 2020).

``model``: the method; ``options``: its ``model:`` options; ``stages``: encoders -> restore -> generator;
``animator``: the animator and its colour options; ``tools``: recolouring clips, latent encoding and the
latent-space plot; ``data``: feature maps and the ``decoupled`` dataset kind; ``nets``: the latent map,
the latent standardiser and the coarse-to-fine generator.
"""

from .animator import DecoupledAnimator
from .model import Decoupled
from .tools import encode_photo, latents_plot, recolor_to_file

__all__ = ["Decoupled", "DecoupledAnimator", "encode_photo", "latents_plot", "recolor_to_file"]
