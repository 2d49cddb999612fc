"""``posenet``: the small pose network whose features give SCGAN its semantic-consistency loss."""

from ... import lazy_exports
from .spec import PoseNetSpec  # registers the method's declarations; the rest is imported on first use

__getattr__ = lazy_exports(__name__, {
    "PoseNet": ".model",
    "PoseNetMethod": ".model",
})

__all__ = ["PoseNet", "PoseNetMethod", "PoseNetSpec"]
