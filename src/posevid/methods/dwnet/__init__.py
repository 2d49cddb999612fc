"""DwNet (Zablotskaia et al., BMVC 2019): coarse warp + learned refinement, markovian on the previous
frame; see ``model``."""

from .model import DwNet, DwNetAnimator

__all__ = ["DwNet", "DwNetAnimator"]
