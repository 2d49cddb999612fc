"""The ``posevid`` command line: a thin layer over the Python API.

Heavy modules are imported inside each command so that ``posevid --help`` stays fast.
A ``PosevidError`` is printed as one line (exit code 2); anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import sys

import typer

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Pose-guided human video generation.")
poses_app = typer.Typer(no_args_is_help=True, help="Extract, render and convert pose files.")
motion_app = typer.Typer(no_args_is_help=True, help="Pose sequences from motion capture and action labels.")
latents_app = typer.Typer(no_args_is_help=True, help="Appearance latents of the decoupled method.")
app.add_typer(poses_app, name="poses")
app.add_typer(motion_app, name="motion")
app.add_typer(latents_app, name="latents")


def main() -> None:
    """Console-script entry point."""
    from .errors import PosevidError

    try:
        app()
    except PosevidError as err:
        print(f"posevid: error: {err}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("posevid: interrupted", file=sys.stderr)
        sys.exit(130)
