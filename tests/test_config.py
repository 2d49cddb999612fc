"""Configs checked against the options methods, dataset kinds and the trainer declare; the registry finds
methods without a hand-kept map; a checkpoint never makes posevid import a module it names."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from posevid import options
from posevid.checkpoints import load_method, save_checkpoint
from posevid.cli import app
from posevid.config import TrainOptions, load_config, resolve_config
from posevid.errors import PosevidError
from posevid.methods.registry import builtin_names, method_class, method_names, method_spec

REPO = Path(__file__).resolve().parents[1]
CONFIGS = sorted((REPO / "configs").glob("*/*.yaml"))


def test_train_typo_exits_2_naming_the_key_and_the_nearest(tiny_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = subprocess.run([sys.executable, "-m", "posevid", "train", str(REPO / "configs/dwnet/tiny.yaml"),
                             "--data", str(tiny_data), "--out", str(out), "train.lrr=1e-4"],
                            capture_output=True, text=True, env={"PYTHONPATH": str(REPO / "src"), "PATH": ""},
                            timeout=120)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "train.lrr" in lines[0] and "did you mean train.lr?" in lines[0], lines
    assert not out.exists()  # refused before any run folder is made


@pytest.mark.parametrize(("override", "message"), [
    ("train.lr=abc", "train.lr: must be a number"),
    ("train.lr=-1", "train.lr: must be at least 0"),
    ("train.batch_size=0", "train.batch_size: must be at least 1"),
    ("train.steps=abc", "train.steps: must be an integer"),
    ("train.betas=[0.5]", "train.betas: must be a list of 2 values"),
    ("train.workers=-1", "train.workers: must be at least 0"),
    ("model.ngf=0", "model.ngf: must be at least 1"),
    ("model.norm=layer", "model.norm: must be one of instance, batch, none"),
    ("model.disc.num=2", "model.disc.num: unknown option; did you mean model.disc.num_d?"),
    ("data.szie=64", "data.szie: unknown option; did you mean data.size?"),
    ("data.kind=clip", "did you mean 'clips'?"),
    ("trian.lr=1e-4", "trian: unknown option; did you mean train?"),
    ("method=dwnett", "did you mean 'dwnet'?"),
    ("seed=1.5", "seed: must be an integer"),
])
def test_wrong_keys_and_values_are_one_line(override: str, message: str) -> None:
    with pytest.raises(PosevidError) as err:
        load_config(REPO / "configs/dwnet/tiny.yaml", [override])
    assert message in str(err.value) and "\n" not in str(err.value)


def test_defaults_are_filled_in_and_yaml_numbers_parse() -> None:
    cfg = load_config(REPO / "configs/dwnet/tiny.yaml", ["train.lr=1e-4"])  # YAML 1.1 reads 1e-4 as text
    assert cfg["train"]["lr"] == 1e-4 and cfg["train"]["keep_checkpoints"] == 3
    assert cfg["model"]["grid_background"] == "identity" and cfg["data"]["color"] == 0.0
    assert resolve_config(cfg) == cfg  # a resolved config is a fixed point (saved configs reload as they are)
    keys = options.keys(TrainOptions, "train")
    assert "train.lr" in keys and all(help_text for *_, help_text in options.describe(TrainOptions))


def test_stages_are_checked() -> None:
    cfg = load_config(REPO / "configs/decoupled/tiny.yaml")
    assert list(cfg["stages"]) == ["encoders", "restore", "generator"]
    with pytest.raises(PosevidError, match="stages.restor: unknown option; did you mean stages.restore"):
        load_config(REPO / "configs/decoupled/tiny.yaml", ["stages.restor.train.lr=1e-4"])
    with pytest.raises(PosevidError, match=r"stages.restore: train.lrr: unknown option"):
        load_config(REPO / "configs/decoupled/tiny.yaml", ["stages.restore.train.lrr=1e-4"])
    with pytest.raises(PosevidError, match="has a single stage"):
        load_config(REPO / "configs/dwnet/tiny.yaml", ["stages.g1.train.lr=1e-4"])


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_every_config_is_valid_and_names_no_run_folder(path: Path) -> None:
    cfg = load_config(path)
    text = yaml.safe_dump(cfg)
    assert "runs/" not in text  # no config refers to a run folder (a stage starts from the previous one)
    assert cfg["method"] == path.parent.name


def test_registry_finds_every_builtin_method_by_its_folder() -> None:
    names = set(builtin_names())
    assert {"warp", "dwnet", "pg2", "psgan", "scgan", "posenet", "decoupled", "template"} <= names
    for name in names:
        cls = method_class(name)
        assert cls.name == name and cls.capabilities is not None
    assert set(method_names()) >= names
    with pytest.raises(KeyError, match="did you mean 'pg2'"):
        method_class("pg3")
    for name in names:  # each class declares what its spec does
        spec = method_spec(name)
        assert issubclass(method_class(name), spec) and method_class(name).capabilities == spec.capabilities


def test_the_command_line_and_method_specs_import_no_torch() -> None:
    """``posevid animate``'s options (every method's hooks) and the warp method's spec come without torch."""
    code = ("import sys, click\nfrom typer.main import get_command\nfrom posevid.cli import app\n"
            "root = get_command(app)\nroot.get_command(click.Context(root), 'animate')\n"
            "from posevid.methods.registry import method_spec, method_specs\n"
            "assert not method_spec('warp').capabilities.trains and len(method_specs()) >= 8\n"
            "assert method_spec('warp').animator_options({'seed': 1}) == {}\n"
            "print(sorted(m for m in ('torch', 'cv2', 'mediapipe') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          env={"PYTHONPATH": str(REPO / "src"), "PATH": ""})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_animating_with_the_warp_method_imports_no_torch(tmp_path: Path) -> None:
    """``posevid animate PHOTO POSES`` with the default (weightless) method: torch is never imported."""
    from posevid.estimate import first_pose
    from posevid.posefiles import write_poses
    from posevid.poses import Poses

    photo = REPO / "assets/tfexamples_image2.jpeg"
    write_poses(tmp_path / "two.npz", Poses.concat([first_pose(photo)] * 2))
    code = ("import atexit, sys\natexit.register(lambda: print('torch' in sys.modules))\n"
            "from posevid.cli import main\nmain()")
    args = ["animate", str(photo), str(tmp_path / "two.npz"), "--size", "64", "-o", str(tmp_path / "a.gif")]
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120,
                          env={"PYTHONPATH": str(REPO / "src"), "PATH": "", "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "a.gif").is_file() and done.stdout.strip().splitlines()[-1] == "False", done.stdout


def _forged_checkpoint(path: Path, cfg: dict) -> Path:
    save_checkpoint(path, {"step": 1, "config": cfg, "method": {}})  # the checksum header is recomputed
    return path


@pytest.mark.parametrize("module", ["this", "antigravity"])
def test_loading_a_checkpoint_imports_no_module_it_names(tmp_path: Path, module: str) -> None:
    """Issue 20's first case: a re-signed checkpoint listing ``plugins: [this]`` (or naming ``this`` as its
    method) must not import it; only registered methods are used, anything else is one line."""
    assert module not in sys.modules
    for i, cfg in enumerate([{"method": "warp", "plugins": [module]}, {"method": module}]):
        ckpt = _forged_checkpoint(tmp_path / f"{i}.ckpt", cfg)
        with pytest.raises(PosevidError) as err:
            load_method(ckpt)
        assert str(ckpt) in str(err.value) and module in str(err.value) and "\n" not in str(err.value)
    result = CliRunner().invoke(app, ["animate", str(REPO / "assets/tfexamples_image2.jpeg"),
                                      str(REPO / "assets/tfjs_pose_1.mp4"), "--checkpoint", str(tmp_path / "0.ckpt"),
                                      "-o", str(tmp_path / "out.mp4")])
    assert isinstance(result.exception, PosevidError) and module not in sys.modules
    assert "Zen of Python" not in result.output


def test_checkpoint_config_is_checked_before_building(tmp_path: Path) -> None:
    cfg = load_config(REPO / "configs/dwnet/tiny.yaml")
    cfg["data"]["size"] = 1_000_000_000_000.5
    with pytest.raises(PosevidError, match="data.size: must be an integer"):
        load_method(_forged_checkpoint(tmp_path / "big.ckpt", cfg))


def test_plugin_modules_named_on_the_command_line_are_imported(tmp_path: Path) -> None:
    from posevid.estimate import first_pose
    from posevid.posefiles import write_poses
    from posevid.poses import Poses

    (tmp_path / "posevid_cli_plugin.py").write_text(
        "from posevid.methods.registry import register\n"
        "from posevid.methods.warp import WarpMethod\n\n\n"
        "@register('warp_copy')\nclass WarpCopy(WarpMethod):\n    pass\n")
    photo = REPO / "assets/tfexamples_image2.jpeg"
    write_poses(tmp_path / "two.npz", Poses.concat([first_pose(photo)] * 2))
    args = ["animate", str(photo), str(tmp_path / "two.npz"), "--method", "warp_copy", "--size", "64", "-o"]
    env = {"PYTHONPATH": f"{tmp_path}:{REPO / 'src'}", "PATH": "", "OMP_NUM_THREADS": "1"}
    run = [sys.executable, "-m", "posevid"]
    refused = subprocess.run([*run, *args, str(tmp_path / "a.gif")], capture_output=True, text=True, env=env,
                             timeout=120)
    assert refused.returncode == 2 and "unknown method 'warp_copy'" in refused.stderr, refused.stderr
    done = subprocess.run([*run, "--plugin", "posevid_cli_plugin", *args, str(tmp_path / "b.gif")],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "b.gif").is_file()


def test_configs_commands_list_and_copy_the_packaged_configs(tmp_path: Path) -> None:
    runner = CliRunner()
    listed = runner.invoke(app, ["configs", "list"])
    assert listed.exit_code == 0 and listed.output.split() == [f"{p.parent.name}/{p.stem}" for p in CONFIGS]
    copied = runner.invoke(app, ["configs", "copy", "pg2/tiny", str(tmp_path)])
    assert copied.exit_code == 0 and (tmp_path / "pg2" / "tiny.yaml").read_text() == \
        (REPO / "configs/pg2/tiny.yaml").read_text()
    again = runner.invoke(app, ["configs", "copy", "pg2/tiny", str(tmp_path)])
    assert isinstance(again.exception, PosevidError) and "already exists" in str(again.exception)
    missing = runner.invoke(app, ["configs", "copy", "pg2/huge", str(tmp_path)])
    assert isinstance(missing.exception, PosevidError) and "configs list" in str(missing.exception)
    assert load_config("pg2/tiny") == load_config(REPO / "configs/pg2/tiny.yaml")  # a packaged config by name
