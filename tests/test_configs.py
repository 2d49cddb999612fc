"""Every config in ``configs/`` trains two steps with one ``posevid train`` command from an empty run folder,
the multi-stage ones through all their stages; a run killed between two stages resumes into the right one;
the template method trains and animates. Tiny configs run in the default suite, the paper-scale ones
(256 px, full widths) are ``slow``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from posevid.checkpoints import load_method
from posevid.cli import app
from posevid.config import load_config
from posevid.train import stage_plan

REPO = Path(__file__).resolve().parents[1]
TINY = {"decoupled/tiny", "dwnet/tiny", "pg2/tiny", "posenet/tiny", "psgan/tiny", "scgan/tiny", "scgan/face_tiny",
        "template/tiny"}
CONFIGS = sorted(f"{p.parent.name}/{p.stem}" for p in (REPO / "configs").glob("*/*.yaml"))


@pytest.fixture(scope="module")
def pair_data(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A DeepFashion / Market-1501 style folder (PG2 / PATN layout) of real photo crops."""
    root = tmp_path_factory.mktemp("pairs")
    photo = cv2.imread(str(shared_data / "images" / "tfexamples_image2.jpeg"))
    (root / "train").mkdir()
    names = [f"person_{i}.jpg" for i in range(3)]
    rng = np.random.default_rng(0)
    rows = ["name:keypoints_y:keypoints_x"]
    for i, name in enumerate(names):
        cv2.imwrite(str(root / "train" / name), cv2.resize(photo[i * 20:i * 20 + 600, i * 10:i * 10 + 300], (64, 128)))
        rows.append(f"{name}: {rng.integers(5, 120, 18).tolist()}: {rng.integers(3, 60, 18).tolist()}")
    (root / "set-annotation-train.csv").write_text("\n".join(rows) + "\n")
    (root / "set-pairs-train.csv").write_text("from,to\n" + "".join(f"{a},{b}\n" for a in names for b in names))
    return root


@pytest.fixture(scope="module")
def face_data(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A talking-head clip prepared as a face dataset at 64x64 (``prepare --subject face``): frames 0-11 train,
    12-17 test."""
    from posevid.data.prepare import prepare

    out = tmp_path_factory.mktemp("face_data")
    _, errors = prepare([shared_data / "faces" / "liveportrait_d18.mp4"], out, size=64, frames="0:12", split="train",
                        test_frames="12:18", show_progress=False, subject="face")
    assert not errors, errors
    return out


def _data_for(name: str, request: pytest.FixtureRequest) -> Path:
    data = load_config(REPO / "configs" / f"{name}.yaml")["data"]
    if data.get("build"):  # a folder of mocap clips, turned into windows in memory
        return request.getfixturevalue("shared_data") / "mocap"
    fixture = {"motion": "motion_data", "pg2_pairs": "pair_data"}.get(data["kind"], "tiny_data")
    if data.get("keypoints") == "face":
        fixture = "face_data"
    return request.getfixturevalue(fixture)


def _marks(name: str) -> list:
    return [] if name in TINY else [pytest.mark.slow]


@pytest.mark.parametrize("name", [pytest.param(n, marks=_marks(n)) for n in CONFIGS])
def test_config_trains_two_steps_with_one_command(name: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    data = _data_for(name, request)
    out = tmp_path / "run"
    result = CliRunner().invoke(app, ["train", name, "--data", str(data), "--out", str(out), "--steps", "2",
                                      "--no-progress", "train.tensorboard=false", "train.workers=0"])
    assert result.exit_code == 0, f"{result.output}\n{result.exception!r}"
    cfg = load_config(REPO / "configs" / f"{name}.yaml")
    plan = stage_plan(cfg)
    folders = [out / f"{i + 1}-{s}" for i, s in enumerate(plan)] or [out]
    for folder in folders:
        steps = [json.loads(ln)["step"] for ln in (folder / "losses.jsonl").read_text().splitlines()]
        assert steps == [1, 2], folder
    model = load_method(out)
    assert model.name == cfg["method"] and (not plan or model.opts.stage == plan[-1])


def test_template_trains_and_animates(tiny_data: Path, tmp_path: Path) -> None:
    """The documented template method: two training steps, then a frame per target pose (its 64 px square
    around the person pasted into the photo's frame)."""
    from posevid.config import load_config
    from posevid.pipeline import Pipeline
    from posevid.posefiles import read_poses
    from posevid.train import train

    train(load_config("template/tiny", ["train.tensorboard=false"]), tiny_data, tmp_path, steps=2,
          show_progress=False)
    poses = read_poses(tiny_data / "tfjs_pose_1_f90-120" / "poses.npz", "npz")[:3]
    pipe = Pipeline(checkpoint=tmp_path, mode="absolute", size=128)
    frames = pipe(REPO / "assets" / "tfexamples_image2.jpeg", poses)  # 399x640: the whole frame, longer side 128
    assert (frames.width, frames.height, frames.frame_count) == (80, 128, 3)
    assert [f.shape for f in frames] == [(128, 80, 3)] * 3


KILLER = textwrap.dedent('''
    """Runs ``posevid train`` and SIGKILLs itself when the trainer reaches the second stage."""
    import os
    import signal
    import sys

    from posevid import cli, train

    real = train._train_one


    def one(cfg, data, out, *args):
        if out.name.startswith("2-"):
            os.kill(os.getpid(), signal.SIGKILL)
        return real(cfg, data, out, *args)


    train._train_one = one
    sys.argv = ["posevid", *sys.argv[1:]]
    cli.main()
''')


def test_sigkill_between_stages_resumes_into_the_next_stage(tiny_data: Path, tmp_path: Path) -> None:
    small = ["model.blocks=4", "model.hidden=8", "model.z_dim=16", "model.d_base=8", "train.batch_size=2",
             "train.tensorboard=false", "train.checkpoint_every=2"]
    args = ["train", str(REPO / "configs/pg2/tiny.yaml"), "--data", str(tiny_data), "--steps", "3",
            "--no-progress", *small]
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "OMP_NUM_THREADS": "1"}
    (tmp_path / "killer.py").write_text(KILLER)
    victim, reference = tmp_path / "victim", tmp_path / "reference"
    killed = subprocess.run([sys.executable, str(tmp_path / "killer.py"), *args, "--out", str(victim)], env=env,
                            capture_output=True, text=True, timeout=300)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    stage1 = (victim / "1-g1" / "losses.jsonl").read_text()
    assert len(stage1.splitlines()) == 3 and not (victim / "2-g2" / "checkpoints").exists()
    refused = subprocess.run([sys.executable, "-m", "posevid", *args, "--out", str(victim)], env=env,
                             capture_output=True, text=True, timeout=300)
    assert refused.returncode == 2 and "--resume" in refused.stderr
    resumed = subprocess.run([sys.executable, "-m", "posevid", *args, "--out", str(victim), "--resume"], env=env,
                             capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert "stage g1: finished earlier" in resumed.stdout + resumed.stderr
    assert (victim / "1-g1" / "losses.jsonl").read_text() == stage1  # stage I was not trained again
    full = subprocess.run([sys.executable, "-m", "posevid", *args, "--out", str(reference)], env=env,
                          capture_output=True, text=True, timeout=300)
    assert full.returncode == 0, full.stderr
    for stage in ("1-g1", "2-g2"):  # exactly the losses of an uninterrupted run
        assert (victim / stage / "losses.jsonl").read_text() == (reference / stage / "losses.jsonl").read_text()
    assert load_method(victim).opts.stage == "g2"
