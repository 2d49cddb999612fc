"""The decoupled method's command line (``DecoupledSpec.modify_commandline_options``): the colour options
of ``posevid animate``, ``posevid recolor`` and ``posevid latents plot|encode``."""

from __future__ import annotations

from typing import Any

import typer

from ...cli_hooks import CommandLine
from ...errors import PosevidError
from ...poses import DEFAULT_RETARGET

ANIMATE_OPTIONS = (
    ("--upper-color", "upper_color", "Upper-body colour '#rrggbb'.", False),
    ("--lower-color", "lower_color", "Lower-body colour '#rrggbb'.", False),
    ("--upper-from", "upper_from", "Take the upper-body colour from this photo (or a .npy latent).", False),
    ("--lower-from", "lower_from", "Take the lower-body colour from this photo (or a .npy latent).", False),
    ("--sample-colors", "sample_colors", "Random colour latents for the regions not set otherwise "
                                         "(seeded by --seed).", True),
)


def animator_options(values: dict[str, Any]) -> dict[str, Any]:
    """``DecoupledAnimator`` keyword arguments from the values of the options above (and ``seed``)."""
    options: dict[str, Any] = {"sample_colors": True, "seed": values.get("seed", 0)} if values.get(
        "sample_colors") else {}
    for region in ("upper", "lower"):
        color, photo = values.get(f"{region}_color"), values.get(f"{region}_from")
        if color and photo:
            raise PosevidError(f"--{region}-color", f"give --{region}-color or --{region}-from, not both")
        if color or photo:
            options[region] = color or photo
    return options


def recolor(cli: CommandLine):
    """``posevid recolor``, made with the command line's pipeline."""

    def command(
        source: str = typer.Argument(..., help="Photo of the person to animate."),
        driving: str = typer.Argument(..., help="Driving video or pose file (its frame count must be known)."),
        checkpoint: str = typer.Option(..., help="Checkpoint of a trained decoupled model (stage generator)."),
        start: str = typer.Option(..., "--from", help="Start colour '#rrggbb', a .npy latent or a photo."),
        end: str = typer.Option(..., "--to", help="End colour '#rrggbb', a .npy latent or a photo."),
        out: str = typer.Option(..., "-o", "--out", help="Output video: .mp4, .gif or a folder of PNG frames."),
        region: str = typer.Option("upper", help="Body region whose colour moves: upper, lower or both."),
        mode: str = typer.Option(DEFAULT_RETARGET, help="Pose retargeting: pose, bones, relative or absolute (see "
                                                        "animate)."),
        size: int = typer.Option(None, help="Longer side of the result in pixels (default: the photo's size)."),
        no_smooth: bool = typer.Option(False, "--no-smooth", help="Do not smooth the target poses."),
    ) -> None:
        """Animate SOURCE with DRIVING while one region's colour latent moves linearly from --from to --to."""
        from .tools import recolor_to_file, region_options

        pipe = cli.pipeline.Pipeline(method="decoupled", checkpoint=checkpoint, mode=mode, size=size,
                                     smooth=not no_smooth, method_options=region_options(region, start, end))
        count = recolor_to_file(pipe, source, driving, out)
        print(f"{out}: {count} frames, {region} colour {start} -> {end}")

    return command


def latents_plot(
    checkpoint: str = typer.Option(..., help="Checkpoint of a decoupled model (any stage after encoders)."),
    data: str = typer.Option(..., help="Prepared dataset; random training frames are recoloured and encoded."),
    out: str = typer.Option(..., "-o", "--out", help="Output PNG."),
    samples: int = typer.Option(500, help="Number of recoloured frames."),
    region: str = typer.Option("upper", help="upper or lower body encoder."),
    seed: int = typer.Option(0, help="Seed of the frame and colour draws."),
) -> None:
    """PCA plot of encoded colour latents, each point in the colour it was recoloured with (section 4.5)."""
    from .tools import latents_plot as run

    print(f"{run(checkpoint, data, out, samples, region, seed)}: {samples} latents")


def latents_encode(
    photo: str = typer.Argument(..., help="Photo of a person."),
    checkpoint: str = typer.Option(..., help="Checkpoint of a decoupled model."),
    out: str = typer.Option(..., "-o", "--out", help="Output .npy: [z_up, z_down]."),
    upper_color: str = typer.Option(None, help="Recolour the upper body '#rrggbb' before encoding."),
    lower_color: str = typer.Option(None, help="Recolour the lower body '#rrggbb' before encoding."),
) -> None:
    """Encode the clothing colours of PHOTO to a latent file for `animate --upper-from` / `recolor --from`."""
    import numpy as np

    from ...io_utils import atomic_path
    from .tools import encode_photo

    z = encode_photo(checkpoint, photo, {"upper": upper_color, "lower": lower_color})
    with atomic_path(out) as tmp, open(tmp, "wb") as f:
        np.save(f, z)
    print(f"{out}: latent of {z.size} values")


def add_commands(cli: CommandLine) -> None:
    """Add the colour options of ``posevid animate``, ``posevid recolor`` and ``posevid latents``."""
    for flag, dest, help, is_flag in ANIMATE_OPTIONS:
        cli.animate_option(flag, dest=dest, help=help, is_flag=is_flag)
    cli.command(recolor(cli), "recolor")
    cli.group("latents", "Appearance latents of the decoupled method.")
    cli.command(latents_plot, "plot", group="latents")
    cli.command(latents_encode, "encode", group="latents")
