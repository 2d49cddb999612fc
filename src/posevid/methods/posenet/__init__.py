"""``posenet``: the small pose network whose features give SCGAN its semantic-consistency loss."""

from .model import PoseNet, PoseNetMethod

__all__ = ["PoseNet", "PoseNetMethod"]
