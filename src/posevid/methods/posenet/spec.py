"""The pose network's declarations: it trains, it does not animate.
``model.PoseNetMethod`` derives from it."""

from __future__ import annotations

from ..registry import declare
from ..spec import Capabilities, MethodSpec


@declare("posenet")
class PoseNetSpec(MethodSpec):
    """The pose network's declarations."""

    capabilities = Capabilities(trains=True, animates=False)
    implementation = ".model"
