"""The ``warp`` method (no training): the source person as a layered, skinned mesh (``posevid.rig``); see ``model``."""

from ... import lazy_exports
from .spec import WarpSpec  # registers the method's declarations; the rest is imported on first use

__getattr__ = lazy_exports(__name__, {
    "WarpAnimator": ".model",
    "WarpMethod": ".model",
})

__all__ = ["WarpAnimator", "WarpMethod", "WarpSpec"]
