"""The ``warp`` method (no training): part-wise affine warping of the source person; see ``model``."""

from .model import WarpAnimator, WarpMethod, inpaint_background

__all__ = ["WarpAnimator", "WarpMethod", "inpaint_background"]
