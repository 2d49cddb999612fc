"""What a method adds to the ``posevid`` command line, through ``MethodSpec.modify_commandline_options(cli)``
(as pix2pix's ``modify_commandline_options``): options of ``posevid animate`` and its own subcommands.

``cli.command(function, name=None, group=None)`` adds a typer-style function (parameters annotated with
``typer.Option`` / ``typer.Argument``) as ``posevid [group] name``; ``cli.group(name, help)`` makes a new
group. ``cli.animate_option("--upper-color", dest="upper_color", help=...)`` adds an option to
``posevid animate``: the values given reach the method's ``animator_options(values)``, whose result
becomes the animator's keyword arguments. ``cli.pipeline`` is the ``posevid.pipeline`` module, handed to
a method's tools so that nothing under ``methods/`` imports the pipeline (data flows one way).

The root command group applies the hooks of every method (built in and installed) the first time a
command they may extend is looked up, so ``posevid prepare`` or ``posevid poses ...`` import no method.
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Callable
from types import ModuleType
from typing import Any

import click
import typer
from typer.core import TyperGroup

# Commands no method extends: looking them up applies no hook (and imports no method).
CORE_COMMANDS = frozenset({"prepare", "poses", "demo", "train", "evaluate", "ui", "configs"})
OPTIONS_KEY = "posevid.method_options"  # click.Context.meta key: {method name: {dest: value}}


class CommandLine:
    """The command line as one method's hook sees it (``owner``: that method's spec)."""

    def __init__(self, root: click.Group, owner: type):
        self.root, self.owner = root, owner

    @property
    def pipeline(self) -> ModuleType:
        """``posevid.pipeline`` (``Pipeline``, ``AnimateOptions``, ``animate``), for a method's tools."""
        from . import pipeline

        return pipeline

    def group(self, name: str, help: str) -> click.Group:
        """The group ``posevid name``, made (with ``help``) if it does not exist yet."""
        found = self.root.commands.get(name)
        if isinstance(found, click.Group):
            return found
        group = TyperGroup(name=name, help=help, no_args_is_help=True)
        self.root.add_command(group, name)
        return group

    def command(self, function: Callable[..., Any], name: str | None = None, group: str | None = None) -> None:
        """Add a typer-style ``function`` as ``posevid [group] name`` (default name: the function's, with
        dashes). ``group`` must exist (``group()``, or a core group such as ``motion``)."""
        app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
        app.command(name=name)(function)
        cmd = typer.main.get_command(app)
        target = self.root if group is None else self.root.commands[group]
        target.add_command(cmd, name or cmd.name)

    def animate_option(self, *flags: str, dest: str, help: str, is_flag: bool = False,
                       type: Any = str) -> None:
        """Add ``flags`` (e.g. ``--upper-color``) to ``posevid animate``; a given value is stored under
        ``dest`` for this method's ``animator_options``."""
        owner = self.owner.name

        def store(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
            if value not in (None, False):
                ctx.meta.setdefault(OPTIONS_KEY, {}).setdefault(owner, {})[dest] = value
            return value

        option = _typer_option(flags, bool if is_flag else type, False if is_flag else None, help,
                               f"Options of method {owner}")
        option.name, option.expose_value, option.callback = dest, False, store
        self.root.commands["animate"].params.append(option)


def _typer_option(flags: tuple[str, ...], kind: Any, default: Any, help: str, panel: str) -> click.Parameter:
    """The option typer makes of ``value: kind = typer.Option(default, *flags, help=help)`` (so that it is
    parsed and shown in ``--help`` like the command's own options)."""
    declared = typer.Option(default, *flags, help=help, rich_help_panel=panel)

    def function(value: Any = declared) -> None:  # a stand-in: only its parameter is used
        """Stand-in."""

    function.__annotations__ = {"value": kind, "return": None}
    function.__signature__ = inspect.Signature([inspect.Parameter("value", inspect.Parameter.KEYWORD_ONLY,
                                                                  default=declared, annotation=kind)])
    app = typer.Typer()
    app.command()(function)
    return typer.main.get_command(app).params[0]


def given_method_options(ctx: click.Context, seed: int) -> tuple[str, dict[str, Any]] | None:
    """(method name, animator keyword arguments) from the method options given to the running
    ``posevid animate`` (``seed`` is its ``--seed``), or None; ``PosevidError`` when they belong to
    several methods."""
    from .errors import PosevidError
    from .methods.registry import method_spec

    given = ctx.meta.get(OPTIONS_KEY) or {}
    if not given:
        return None
    if len(given) > 1:
        raise PosevidError("animate", f"options of several methods given together ({', '.join(sorted(given))})")
    (name, values), = given.items()
    return name, method_spec(name).animator_options({**values, "seed": seed})


def apply_hooks(root: click.Group) -> None:
    """Call ``modify_commandline_options`` of every usable method's spec on ``root`` (no method's networks
    are imported). A third-party method that cannot be imported is named in one line on stderr and skipped,
    so that it cannot break the CLI."""
    from .methods.registry import method_names, method_spec

    for name in method_names():
        try:
            cls = method_spec(name)
        except KeyError as err:
            print(f"posevid: warning: {err.args[0]}", file=sys.stderr)
            continue
        cls.modify_commandline_options(CommandLine(root, cls))


class RootGroup(TyperGroup):
    """The ``posevid`` command group: method hooks are applied on the first lookup of a command that is
    not in ``CORE_COMMANDS`` (or when all commands are listed, for ``--help``)."""

    _hooked = False

    def _hook(self) -> None:
        if not self._hooked:
            self._hooked = True
            apply_hooks(self)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in CORE_COMMANDS:
            self._hook()
        return super().get_command(ctx, cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._hook()
        return super().list_commands(ctx)
