"""PG²'s declarations; adds ``posevid transfer``. ``model.PG2`` derives from it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..registry import declare
from ..spec import Capabilities, MethodSpec

if TYPE_CHECKING:
    from ...cli_hooks import CommandLine


@declare("pg2")
class PG2Spec(MethodSpec):
    """PG²'s declarations; adds ``posevid transfer``."""

    capabilities = Capabilities(trains=True, animates=True)
    implementation = ".model"

    @classmethod
    def modify_commandline_options(cls, cli: CommandLine) -> None:
        """``posevid transfer``: single-image pose transfer."""
        from .cli import add_commands

        add_commands(cli)
