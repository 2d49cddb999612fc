"""Decoupled learning for colour-controllable human video (Yang et al., ICASSP 2020).

``model``: the method; ``options``: its ``model:`` options; ``stages``: encoders -> restore -> generator;
``animator``: the animator and its colour options; ``tools``: recolouring clips, latent encoding and the
latent-space plot; ``data``: feature maps and the ``decoupled`` dataset kind; ``nets``: the latent map,
the latent standardiser and the coarse-to-fine generator.
"""

from ... import lazy_exports
from .spec import DecoupledSpec  # registers the method's declarations; the rest is imported on first use

__getattr__ = lazy_exports(__name__, {
    "Decoupled": ".model",
    "DecoupledAnimator": ".animator",
    "encode_photo": ".tools",
    "latents_plot": ".tools",
    "recolor_to_file": ".tools",
})

__all__ = ["Decoupled", "DecoupledAnimator", "DecoupledSpec", "encode_photo", "latents_plot", "recolor_to_file"]
