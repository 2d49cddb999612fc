"""PSGAN's declarations: a motion model; adds ``posevid motion generate`` and ``posevid motion sample``.
``model.PSGAN`` derives from it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..registry import declare
from ..spec import Capabilities, MethodSpec

if TYPE_CHECKING:
    from ...cli_hooks import CommandLine


@declare("psgan")
class PSGANSpec(MethodSpec):
    """PSGAN's declarations."""

    capabilities = Capabilities(trains=True, animates=True, generates_motion=True)
    implementation = ".model"

    @classmethod
    def modify_commandline_options(cls, cli: CommandLine) -> None:
        """``posevid motion generate`` and ``posevid motion sample``."""
        from .cli import add_commands

        add_commands(cli)
