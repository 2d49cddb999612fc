"""The ``warp`` method's declarations: no training; animates bodies and portraits' faces.
``model.WarpMethod`` derives from it."""

from __future__ import annotations

from ..registry import declare
from ..spec import Capabilities, MethodSpec


@declare("warp")
class WarpSpec(MethodSpec):
    """The ``warp`` method's declarations."""

    capabilities = Capabilities(trains=False, animates=True, faces=True)
    implementation = ".model"
