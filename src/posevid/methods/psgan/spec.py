"""PSGAN's declarations: a motion model; adds ``posevid motion generate`` and ``posevid motion sample``.
``model.PSGAN`` derives from it."""

from __future__ import annotations

from ..registry import declare
from ..spec import Capabilities, MethodSpec


@declare("psgan")
class PSGANSpec(MethodSpec):
    """PSGAN's declarations."""

    capabilities = Capabilities(trains=True, animates=True, generates_motion=True)
    implementation = ".model"
    commands = ".cli"
