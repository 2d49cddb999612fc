"""The ``warp`` method (no training): the source person as a layered, skinned mesh (``posevid.rig``); see ``model``."""

from .model import WarpAnimator, WarpMethod

__all__ = ["WarpAnimator", "WarpMethod"]
