"""posevid: animate the person in one photo from a driving video, a pose sequence or an action label.

The Python API (imported lazily, so ``import posevid`` is cheap)::

    import posevid
    poses = posevid.estimate_poses("driving.mp4")          # Poses (T, 18, 2) in pixels
    for frame in posevid.animate("photo.jpg", "driving.mp4", method="warp"):
        ...                                                # (H, W, 3) uint8 RGB frames
    pipe = posevid.Pipeline(posevid.AnimateOptions(checkpoint="runs/dwnet"))  # the model, loaded once
    pipe.to_file("photo.jpg", "driving.mp4", "out.mp4")
    posevid.write_poses("driving.npz", poses)
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "Poses": "posevid.poses",
    "PosevidError": "posevid.errors",
    "read_poses": "posevid.posefiles",
    "write_poses": "posevid.posefiles",
    "estimate_poses": "posevid.estimate",
    "animate": "posevid.pipeline",
    "animate_to_file": "posevid.pipeline",
    "AnimateOptions": "posevid.pipeline",
    "Pipeline": "posevid.pipeline",
    "build_method": "posevid.methods.registry",
    "load_method": "posevid.checkpoints",
}
__all__ = sorted(_LAZY)


def lazy_exports(package: str, exports: dict[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` (PEP 562): ``exports`` maps a public name to the module that defines it
    (absolute, or relative to ``package``: ``".model"``), imported on first use, so that importing the
    package stays light (posevid's API, a method's package, ``posevid.inference``)."""

    def getattr_(name: str) -> Any:
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(exports[name], package), name)

    return getattr_


__getattr__ = lazy_exports(__name__, _LAZY)
