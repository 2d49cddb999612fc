"""The ``warp`` method (no training): part-wise affine warping of the source person; see ``model``."""

from .model import WarpAnimator, WarpMethod

__all__ = ["WarpAnimator", "WarpMethod"]
