"""PSGAN's commands: ``posevid motion generate`` and ``posevid motion sample`` (added by
``PSGANSpec.modify_commandline_options`` to the core ``motion`` group)."""

from __future__ import annotations

import typer

from ...cli_hooks import CommandLine


def generate(
    checkpoint: str = typer.Option(None, help="PSGAN checkpoint (file or run folder; default: the bundled one)."),
    action: str = typer.Option(..., help="Action label, one the model was trained on (`posevid motion actions`)."),
    source: str = typer.Option(..., help="Photo whose person's pose starts the motion (or a pose file)."),
    frames: int = typer.Option(32, help="Number of poses to generate."),
    out: str = typer.Option(..., "-o", "--out", help="Pose file to write (.npz, .json, .csv or a folder)."),
    seed: int = typer.Option(0, help="Noise seed: different seeds give different motions."),
    travel: bool = typer.Option(False, "--travel", help="Keep the motion's travel across the image (default: the "
                                                        "hips keep their horizontal place, as on a treadmill)."),
) -> None:
    """Generate a pose sequence of ACTION starting from the pose of the person in SOURCE."""
    from ...posefiles import write_poses
    from .motion import motion_for_photo

    poses = motion_for_photo(source, checkpoint, action, frames, seed, in_place=not travel)
    write_poses(out, poses)
    print(f"{out}: {len(poses)} poses of {action!r}, {poses.width}x{poses.height} at {poses.fps:g} fps")


def sample(
    checkpoint: str = typer.Option(..., help="PSGAN checkpoint (file or run folder)."),
    data: str = typer.Option(..., help="Motion dataset whose sequences give the initial poses."),
    out: str = typer.Option(..., "-o", "--out", help="Folder for <label>/<start>_<sample>.npz pose files."),
    split: str = typer.Option("test", help="Split the initial poses come from (train or test)."),
    starts: int = typer.Option(8, help="Initial poses per action."),
    samples: int = typer.Option(3, help="Noise samples per initial pose."),
    frames: int = typer.Option(None, help="Poses per sequence (default: the trained length)."),
    size: int = typer.Option(256, help="Image size the written poses refer to."),
    seed: int = typer.Option(0, help="Random seed."),
) -> None:
    """Sample sequences for every action from real initial poses (input of `posevid motion evaluate`)."""
    from .motion import sample_to_folder

    count = sample_to_folder(checkpoint, data, out, split, starts, samples, frames, size, seed)
    print(f"{out}: {count} sequences")


def add_commands(cli: CommandLine) -> None:
    """Add ``generate`` and ``sample`` to ``posevid motion``."""
    cli.command(generate, "generate", group="motion")
    cli.command(sample, "sample", group="motion")
