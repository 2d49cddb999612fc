"""The decoupled method's declarations: its colour options of ``posevid animate``, ``posevid recolor`` and
``posevid latents``; ``model.Decoupled`` derives from it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..registry import declare
from ..spec import Capabilities, MethodSpec

if TYPE_CHECKING:
    from ...cli_hooks import CommandLine


@declare("decoupled")
class DecoupledSpec(MethodSpec):
    """The decoupled method's declarations."""

    capabilities = Capabilities(trains=True, animates=True)
    implementation = ".model"

    @classmethod
    def modify_commandline_options(cls, cli: CommandLine) -> None:
        """The colour options of ``posevid animate``, ``posevid recolor`` and ``posevid latents``."""
        from .cli import add_commands

        add_commands(cli)

    @classmethod
    def animator_options(cls, values: dict[str, Any]) -> dict[str, Any]:
        """``animator()`` keyword arguments from ``--upper-color`` etc. (``cli.animator_options``)."""
        from .cli import animator_options

        return animator_options(values)
