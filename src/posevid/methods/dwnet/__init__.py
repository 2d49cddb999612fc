"""DwNet (Zablotskaia et al., BMVC 2019): coarse warp + learned refinement, markovian on the previous
frame; see ``model``."""

from ... import lazy_exports
from .spec import DwNetSpec  # registers the method's declarations; the rest is imported on first use

__getattr__ = lazy_exports(__name__, {
    "DwNet": ".model",
    "DwNetAnimator": ".model",
})

__all__ = ["DwNet", "DwNetAnimator", "DwNetSpec"]
