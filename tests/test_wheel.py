"""The wheel works on its own: built from the sources, installed into a new virtual environment outside the
checkout, and run from another folder: ``posevid demo`` (the bundled assets), ``posevid train`` on a
packaged tiny config (``posevid configs``) and the bundled motion model (``posevid motion actions``,
``posevid motion generate`` without a checkpoint).

The new venv reaches the third-party packages (the CPU torch, mediapipe, ...) of the environment running
the tests through a ``.pth`` line naming that environment's site-packages, instead of installing them
again: a full install takes minutes here and needs the package index, which the test machines may not
reach. A path line in a ``.pth`` file only appends the folder to ``sys.path``; the ``.pth`` files inside
it are not run, so an editable install of posevid there (``make`` makes one) is not picked up, and the
new venv's own site-packages, where the wheel is installed, comes first. The test checks that ``posevid``
is imported from the new venv, and pip installs the wheel with ``--no-index`` (its dependencies must
already be satisfied). ``slow``: about a minute and a half on two cores.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _run(args: list, cwd: Path, env: dict, timeout: float = 600) -> subprocess.CompletedProcess:
    result = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{args}\n{result.stdout}\n{result.stderr}"
    return result


@pytest.mark.slow
def test_wheel_installs_and_runs_on_its_own(tiny_data: Path, tmp_path: Path) -> None:
    source = tmp_path / "source"  # a copy: building writes build/ into the source folder
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, source / name)
    for name in ("src", "configs", "assets"):
        shutil.copytree(REPO / name, source / name, symlinks=True,
                        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["OMP_NUM_THREADS"] = "1"
    wheels = tmp_path / "wheels"
    _run([sys.executable, "-m", "pip", "wheel", "--no-build-isolation", "--no-deps", "-q", source, "-w", wheels],
         tmp_path, env)
    [wheel] = wheels.glob("posevid-*.whl")
    with zipfile.ZipFile(wheel) as whl:  # the bundled motion model, byte for byte
        assert whl.read("posevid/assets/psgan-mocap.ckpt") == (REPO / "assets" / "psgan-mocap.ckpt").read_bytes()

    target = tmp_path / "venv"
    venv.create(target, with_pip=False)
    python = target / "bin" / "python"
    site = Path(_run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], tmp_path,
                     env).stdout.strip())
    (site / "shared_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _run([python, "-m", "pip", "install", "--no-index", "-q", "-c", REPO / "constraints.txt", wheel], tmp_path, env)

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    where = _run([python, "-c", "import posevid; print(posevid.__file__)"], elsewhere, env).stdout.strip()
    assert Path(where).is_relative_to(target), where
    posevid = target / "bin" / "posevid"
    listed = _run([posevid, "configs", "list"], elsewhere, env).stdout.split()
    assert "template/tiny" in listed and "dwnet/tiny" in listed
    _run([posevid, "demo", "-o", "demo.mp4", "--size", "128"], elsewhere, env, timeout=900)
    assert (elsewhere / "demo.mp4").stat().st_size > 0 and (elsewhere / "demo_side_by_side.mp4").is_file()
    trained = _run([posevid, "train", "template/tiny", "--data", tiny_data, "--out", "run", "--steps", "2",
                    "--no-progress"], elsewhere, env)
    assert "step 2" in trained.stdout and (elsewhere / "run" / "checkpoints" / "latest.ckpt").is_file()
    assert "walk" in _run([posevid, "motion", "actions"], elsewhere, env).stdout.split()
    _run([posevid, "motion", "generate", "--action", "walk", "--source", REPO / "assets" / "tfexamples_image2.jpeg",
          "--frames", "40", "-o", "walk.npz"], elsewhere, env)
    assert (elsewhere / "walk.npz").stat().st_size > 0
    copied = _run([posevid, "configs", "copy", "template/tiny", "mine"], elsewhere, env).stdout.strip()
    assert (elsewhere / copied).read_text() == (REPO / "configs" / "template" / "tiny.yaml").read_text()
