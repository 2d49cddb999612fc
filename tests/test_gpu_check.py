"""``benchmarks/gpu_check.py``: its CPU-side logic (what it needs, skipping without CUDA, and its parts run
on the CPU with ``--device cpu``). It has not run on a GPU in this project."""

from __future__ import annotations

import importlib.util
import inspect
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]


def _check(*args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "benchmarks.gpu_check", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=timeout, env={"PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1",
                                                          "HOME": str(Path.home())})


def test_it_names_the_wheels_to_carry_and_skips_without_cuda() -> None:
    listed = _check("--list-deps")
    names = listed.stdout.split()
    assert listed.returncode == 0 and "mediapipe==0.10.14" in names and "stlpips-pytorch==0.0.2" in names
    assert not any(n.startswith("torch") and not n.startswith("torchmetrics") for n in names)
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA: the check would run")
    skipped = _check()
    assert skipped.returncode == 0 and json.loads(skipped.stdout)["skipped"] == "no CUDA GPU on this machine"


def test_its_data_part_prepares_the_bundled_clip_once(shared_data: Path, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """What the data part prepares is ``tiny_data`` (tests/conftest.py): the same clip at 64 px with frames
    90-119 as the test split, in a call ``prepare`` takes; an already prepared folder is kept, as when the
    check runs again."""
    from posevid.data import prepare as module

    spec = importlib.util.spec_from_file_location("gpu_check", REPO / "benchmarks" / "gpu_check.py")
    gpu_check = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gpu_check)
    calls = []

    def prepare(*args, **kwargs):
        inspect.signature(module.prepare).bind(*args, **kwargs)
        calls.append((args, kwargs))
        (args[1] / "index.json").parent.mkdir(parents=True, exist_ok=True)
        (args[1] / "index.json").write_text("{}")
        return [], []

    monkeypatch.setattr(module, "prepare", prepare)
    check = gpu_check.Check(gpu_check.argparse.Namespace(work=str(tmp_path), budget=60, mocap=str(tmp_path)))
    for _ in range(2):
        assert check.data(motion_needed=False) == {"clips": tmp_path / "data", "motion": None}
    assert calls == [(([gpu_check.VIDEO], tmp_path / "data"), {"size": 64, "test_frames": "90:120",
                                                              "show_progress": False})]
    assert gpu_check.VIDEO.read_bytes() == (shared_data / "videos" / "tfjs_pose_1.mp4").read_bytes()


def test_its_parts_run_on_the_cpu(tiny_data: Path, tmp_path: Path) -> None:
    """The template in fp32 and fp16 (loss scaling), an fp16 run stopped and resumed, and an animation with
    the trained checkpoint; the JSON report and its file. The data part finds the clip prepared (a copy of
    ``tiny_data``, which is what it would prepare: the test above), as when the check runs again."""
    shutil.copytree(tiny_data, tmp_path / "work" / "data")
    out = tmp_path / "report.json"
    proc = _check("--device", "cpu", "--methods", "template", "--precisions", "off", "fp16", "--steps", "2",
                  "--parts", "train", "resume", "animate", "--work", str(tmp_path / "work"), "--out", str(out))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["passed"] and report["machine"]["device"] == "cpu"
    parts = [(r["part"], r.get("precision")) for r in report["parts"]]
    assert parts == [("data", None), ("train", "off"), ("train", "fp16"), ("resume", "fp16"), ("animate", None)]
    train = report["parts"][1]
    assert train["ok"] and train["s_per_step"] > 0 and set(train["last_losses"]) == {"l1"}
    resume = report["parts"][3]
    assert resume["ok"] and resume["max_loss_diff"] == 0 and resume["scale"] == 2.0 ** 16
    assert report["parts"][4]["frames"] == 30 and report["parts"][4]["frames_per_s"] > 0
