"""Files shipped inside the package, read with ``importlib.resources``: the demo media and the bundled
motion model (``assets/``) and the training configs (``configs/<method>/<name>.yaml``).

In a source checkout ``src/posevid/assets`` and ``src/posevid/configs`` are links to the repository's
``assets/`` and ``configs/``; a wheel holds copies, so an installed posevid finds them on its own.
"""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path

from .errors import PosevidError

DEMO_PHOTO, DEMO_CLIP = "tfexamples_image2.jpeg", "tfjs_pose_1.mp4"
MOTION_MODEL = "psgan-mocap.ckpt"  # the motion model used when none is given (``posevid motion actions``)


def _folder(name: str) -> Path:
    return Path(str(resources.files("posevid").joinpath(name)))


def asset_folder() -> Path:
    """The folder of the bundled assets (it may be missing from a broken installation)."""
    return _folder("assets")


def asset(name: str) -> Path:
    """The path of a bundled asset (``DEMO_PHOTO``, ``DEMO_CLIP``, licences); ``PosevidError`` if missing."""
    path = asset_folder() / name
    if not path.is_file():
        raise PosevidError(path, "the bundled asset is missing from this installation of posevid")
    return path


def motion_model() -> Path:
    """The bundled motion model's checkpoint (``MOTION_MODEL``: PSGAN trained by ``configs/psgan/mocap.yaml``;
    ``docs/methods.md`` says how it was made and measured); ``PosevidError`` if missing."""
    path = asset_folder() / MOTION_MODEL
    if not path.is_file():
        raise PosevidError(path, "the bundled motion model is missing from this installation of posevid; give a "
                                 "motion checkpoint")
    return path


def config_names() -> list[str]:
    """Names of the packaged configs, ``<method>/<name>`` (e.g. ``dwnet/tiny``), sorted."""
    root = _folder("configs")
    return sorted(p.relative_to(root).with_suffix("").as_posix() for p in root.glob("*/*.yaml"))


def config_path(name: str) -> Path:
    """The file of the packaged config ``name`` (``dwnet/tiny``, with or without ``.yaml``)."""
    stem = name[:-5] if name.endswith(".yaml") else name
    if stem not in config_names():
        raise PosevidError(name, f"no such packaged config; `posevid configs list` shows the {len(config_names())}")
    return _folder("configs") / f"{stem}.yaml"


def find_config(path: str | Path) -> Path:
    """``path`` if it is a file, else the packaged config of that name (``dwnet/tiny``), else the path
    itself (so that reading it names the missing file)."""
    path = Path(path)
    if path.is_file():
        return path
    stem = path.as_posix().removesuffix(".yaml")
    return config_path(stem) if stem in config_names() else path


def copy_config(name: str, folder: str | Path) -> Path:
    """Copy the packaged config ``name`` to ``folder/<method>/<name>.yaml`` (refusing to overwrite)."""
    src = config_path(name)
    out = Path(folder) / src.relative_to(_folder("configs"))
    if out.exists():
        raise PosevidError(out, "already exists; remove it or copy elsewhere")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, out)
    except OSError as err:
        raise PosevidError(out, f"cannot write the config ({err.strerror or err})") from None
    return out
