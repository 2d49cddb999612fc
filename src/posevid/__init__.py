"""posevid: animate the person in one photo from a driving video, a pose sequence or an action label.

The Python API (imported lazily, so ``import posevid`` is cheap)::

    import posevid
    poses = posevid.estimate_poses("driving.mp4")          # Poses (T, 18, 2) in pixels
    for frame in posevid.animate("photo.jpg", "driving.mp4", method="warp"):
        ...                                                # (H, W, 3) uint8 RGB frames
    posevid.write_poses("driving.npz", poses)
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "Poses": "posevid.poses",
    "PosevidError": "posevid.errors",
    "read_poses": "posevid.posefiles",
    "write_poses": "posevid.posefiles",
    "estimate_poses": "posevid.estimate",
    "animate": "posevid.pipeline",
    "build_method": "posevid.methods.base",
}
__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'posevid' has no attribute {name!r}")
