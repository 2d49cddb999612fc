"""PG²'s declarations; adds ``posevid transfer``. ``model.PG2`` derives from it."""

from __future__ import annotations

from ..registry import declare
from ..spec import Capabilities, MethodSpec


@declare("pg2")
class PG2Spec(MethodSpec):
    """PG²'s declarations; adds ``posevid transfer``."""

    capabilities = Capabilities(trains=True, animates=True)
    implementation = ".model"
    commands = ".cli"
