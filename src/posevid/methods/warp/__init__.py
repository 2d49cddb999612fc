"""The ``warp`` method (no training): the source person as a layered, skinned mesh (``posevid.rig``); see ``model``."""

from .model import WarpAnimator, WarpMethod, inpaint_background

__all__ = ["WarpAnimator", "WarpMethod", "inpaint_background"]
