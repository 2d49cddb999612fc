"""The decoupled method's declarations: its colour options of ``posevid animate``, ``posevid recolor`` and
``posevid latents``; ``model.Decoupled`` derives from it."""

from __future__ import annotations

from typing import Any

from ..registry import declare
from ..spec import Capabilities, MethodSpec


@declare("decoupled")
class DecoupledSpec(MethodSpec):
    """The decoupled method's declarations."""

    capabilities = Capabilities(trains=True, animates=True)
    implementation = ".model"
    commands = ".cli"

    @classmethod
    def animator_options(cls, values: dict[str, Any]) -> dict[str, Any]:
        """``animator()`` keyword arguments from ``--upper-color`` etc. (``cli.animator_options``)."""
        from .cli import animator_options

        return animator_options(values)
