"""DwNet's declarations (a model trained with IUV also ``needs_densepose``: set on the built model).
``model.DwNet`` derives from it."""

from __future__ import annotations

from ..registry import declare
from ..spec import Capabilities, MethodSpec


@declare("dwnet")
class DwNetSpec(MethodSpec):
    """DwNet's declarations."""

    capabilities = Capabilities(trains=True, animates=True)
    implementation = ".model"
