"""SCGAN's declarations (a model trained on faces animates faces only: set on the built model).
``model.SCGAN`` derives from it."""

from __future__ import annotations

from ..registry import declare
from ..spec import Capabilities, MethodSpec


@declare("scgan")
class SCGANSpec(MethodSpec):
    """SCGAN's declarations."""

    capabilities = Capabilities(trains=True, animates=True)
    implementation = ".model"
