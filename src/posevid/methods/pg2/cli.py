"""PG²'s commands: ``posevid transfer`` (added by ``PG2Spec.modify_commandline_options``)."""

from __future__ import annotations

from pathlib import Path

import typer

from ...cli_hooks import CommandLine


def add_commands(cli: CommandLine) -> None:
    """Add ``posevid transfer`` to the command line."""

    def transfer(
        source: str = typer.Argument(..., help="Photo of the person."),
        target_pose: str = typer.Argument(..., metavar="TARGET_POSE",
                                          help="Pose file (.npz, .json, .csv, OpenPose folder) or an image of "
                                               "another person (its pose is estimated)."),
        out: str = typer.Option(..., "-o", "--out", help="Output image (.png, .jpg)."),
        checkpoint: str = typer.Option(..., help="Trained run or checkpoint (e.g. PG2)."),
        size: int = typer.Option(None, help="Longer side of the result in pixels (default: the photo's size); the "
                                            "model works on the square around the person at its training size."),
        frame: int = typer.Option(0, help="Frame of a multi-frame pose file."),
    ) -> None:
        """Generate the person in SOURCE in the pose of TARGET_POSE (single-image pose transfer)."""
        from ...errors import PosevidError
        from ...video import IMAGE_SUFFIXES, write_image
        from .transfer import transfer as run

        if Path(out).suffix.lower() not in IMAGE_SUFFIXES:
            raise PosevidError(out, f"unknown image suffix; use one of {', '.join(IMAGE_SUFFIXES)}")
        pipe = cli.pipeline.Pipeline(checkpoint=checkpoint, mode="absolute", size=size, smooth=False)
        result = run(pipe, source, target_pose, frame)
        write_image(out, result)
        print(f"{out}: {result.shape[1]}x{result.shape[0]}")

    cli.command(transfer)
