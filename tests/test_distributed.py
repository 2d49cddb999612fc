"""Devices, mixed precision and DistributedDataParallel training (issue 16), on CPUs with the gloo backend.

The multi-process runs use ``torchrun --nproc_per_node 2`` on tiny configs; ``ddp_runner.py`` trains
several configs in one interpreter start. What needs a GPU (NCCL, SyncBatchNorm, bf16/fp16 on CUDA,
``torch.compile``) is in ``benchmarks/gpu_check.py``.
"""

from __future__ import annotations

import gc
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from torch import nn

from posevid.checkpoints import find_checkpoint
from posevid.config import load_config
from posevid.devices import amp_dtype, resolve_device
from posevid.distributed import Route, _Network, network_parts
from posevid.errors import PosevidError
from posevid.train import train

REPO = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
NO_CUDA = pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal on a machine without CUDA")


def _env() -> dict:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(HERE)]), "OMP_NUM_THREADS": "1",
            "OMP_WAIT_POLICY": "PASSIVE"}


def _torchrun(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", *args]
    return subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=timeout)


def _losses(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "losses.jsonl").read_text().splitlines()]


# ---- devices and precision ---------------------------------------------------------------------------

def test_device_names() -> None:
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(None) == resolve_device("auto") == torch.device(
        "cuda:0" if torch.cuda.is_available() else "cpu")
    with pytest.raises(PosevidError, match="unknown device 'gpu'"):
        resolve_device("gpu")


@NO_CUDA
@pytest.mark.parametrize("command", [
    ["train", "template/tiny", "--data", "nowhere", "--out", "nowhere"],
    ["animate", "photo.png", "driving.mp4", "-o", "out.mp4"],
    ["evaluate", "a.mp4", "b.mp4", "-o", "report.json"],
    ["ui"],
])
def test_cuda_without_cuda_is_one_line_exit_2(command: list[str], monkeypatch, capsys) -> None:
    from posevid.cli import main

    monkeypatch.setattr(sys, "argv", ["posevid", *command, "--device", "cuda"])
    with pytest.raises(SystemExit) as exit_:
        main()
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and len(err.strip().splitlines()) == 1, err
    assert err.startswith("posevid: error: --device: cuda: no CUDA device on this machine")


@NO_CUDA
def test_pipeline_device(tmp_path: Path) -> None:
    from posevid.pipeline import Pipeline

    assert Pipeline(method="warp", device="cpu").method == "warp"  # no weights: nothing to move
    with pytest.raises(PosevidError, match="no CUDA device"):
        Pipeline(method="warp", device="cuda:1")


def test_amp_option_and_dtype() -> None:
    cpu = torch.device("cpu")
    for value, dtype in [("bf16", torch.bfloat16), ("fp16", torch.float16), ("off", None), ("true", torch.bfloat16),
                         ("false", None)]:
        cfg = load_config("template/tiny", [f"train.amp={value}"])
        assert amp_dtype(cfg["train"]["amp"], cpu) == dtype, value
    with pytest.raises(PosevidError, match="train.amp: must be"):
        load_config("template/tiny", ["train.amp=fp32"])


def test_fp16_run_keeps_its_scaler_and_resumes_exactly(tiny_data: Path, tmp_path: Path) -> None:
    """fp16 autocast with a GradScaler (CPU autocast supports fp16): the checkpoint holds the scaler's state
    and a run stopped at step 3 and resumed gives the uninterrupted run's losses and weights."""
    cfg = load_config("template/tiny", ["train.amp=fp16", "train.batch_size=2", "train.tensorboard=false",
                                        "train.checkpoint_every=3", "train.steps=6"])
    full, part = tmp_path / "full", tmp_path / "part"
    train(cfg, tiny_data, full, show_progress=False)
    train(cfg, tiny_data, part, show_progress=False, until=3)
    stopped, _ = find_checkpoint(part)
    assert stopped["step"] == 3 and stopped["scalers"]["net"]["scale"] == 2.0 ** 16
    assert stopped["scalers"]["net"]["_growth_tracker"] == 3  # three finite steps since the start
    train(cfg, tiny_data, part, resume=True, show_progress=False)
    assert _losses(part) == _losses(full)
    a, b = find_checkpoint(full)[0], find_checkpoint(part)[0]
    assert a["scalers"] == b["scalers"] and a["scalers"]["net"]["_growth_tracker"] == 6
    assert all(torch.equal(a["method"][k], b["method"][k]) for k in a["method"])


def test_channels_last_networks_and_batches_train(tiny_data: Path, tmp_path: Path) -> None:
    from posevid.train import Trainer

    cfg = load_config("template/tiny", ["train.channels_last=true", "train.batch_size=2", "train.steps=2",
                                        "train.tensorboard=false"])
    trainer = Trainer(cfg, tiny_data, tmp_path / "run", show_progress=False)
    assert trainer.method.net[0][0].weight.is_contiguous(memory_format=torch.channels_last)
    result = trainer.run()
    assert result["step"] == 2 and all(v == v for v in result["losses"].values())


def test_scaler_skips_an_overflowing_step_and_backs_off() -> None:
    """The fp16 update path: a loss whose scaled gradients overflow leaves the weights alone and halves the
    scale (``Method.optimize``)."""
    from posevid.methods.registry import build_method

    method = build_method(load_config("template/tiny", ["train.amp=fp16"]))
    before = [p.detach().clone() for p in method.parameters()]
    out = method.net(torch.zeros(1, 21, 8, 8)).float().mean()
    method.optimize("net", out * float("inf"))
    assert all(torch.equal(a, b) for a, b in zip(before, method.parameters()))
    assert method.scaler("net").get_scale() == 2.0 ** 15
    method.optimize("net", method.net(torch.zeros(1, 21, 8, 8)).float().mean())
    assert not all(torch.equal(a, b) for a, b in zip(before, method.parameters()))


# ---- DDP pieces --------------------------------------------------------------------------------------

class _Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Linear(3, 2)
        self.heads = nn.ModuleList([nn.Linear(2, 1), nn.Linear(2, 1)])

    def forward(self, x):
        return self.heads[0](self.conv(x))

    def encode(self, x):
        return self.conv(x) * 2


def test_networks_are_grouped_by_optimizer_and_routes_call_through_the_wrapper() -> None:
    host = nn.Module()
    host.a, host.b, host.d = _Encoder(), nn.Linear(1, 1), nn.Linear(1, 1)
    optimizers = {"G": torch.optim.Adam([*host.a.parameters(), *host.b.parameters()]),
                  "D": torch.optim.Adam(host.d.parameters())}
    assert network_parts(host, optimizers) == {"G": ["a", "b"], "D": ["d"]}
    with pytest.raises(PosevidError, match="shares sub-module 'b'"):
        network_parts(host, {**optimizers, "X": torch.optim.Adam(host.b.parameters())})
    with pytest.raises(PosevidError, match="outside the method's sub-modules"):
        network_parts(host, {"G": torch.optim.Adam([nn.Parameter(torch.zeros(1))])})

    calls = []

    class Recorder(nn.Module):  # stands for the DDP wrapper: records what runs through its forward
        def __init__(self, network):
            super().__init__()
            self.network = network

        def forward(self, path, attr, *args, **kwargs):
            calls.append((path, attr))
            return self.network(path, attr, *args, **kwargs)

    route = Route(Recorder(_Network({"a": host.a})), ("a",), host.a)
    x = torch.ones(4, 3)
    assert torch.equal(route(x), host.a(x)) and torch.equal(route.encode(x), host.a.encode(x))
    assert torch.equal(route.heads[1](route.conv(x)), host.a.heads[1](host.a.conv(x)))
    assert [h for h in route.heads][0]._path == ("a", "heads", 0) and len(route.heads) == 2
    assert route.requires_grad_(False) is host.a and route.conv.out_features == 2
    assert calls == [(("a",), None), (("a",), "encode"), (("a", "conv"), None), (("a", "heads", 1), None)]


def test_a_method_trains_through_its_ddp_wrappers(tiny_data: Path, tmp_path: Path) -> None:
    """``Method.distribute`` in a one-process gloo group: while training, the network is a ``Route`` through
    a real ``DistributedDataParallel``; state-dict keys stay; ``no_sync`` holds back the all-reduce."""
    from torch import distributed as dist

    from posevid.data.datasets import build_dataset
    from posevid.methods.registry import build_method

    cfg = load_config("template/tiny", ["train.batch_size=2"])
    method = build_method(cfg)
    keys = list(method.state_dict())
    dist.init_process_group("gloo", store=dist.FileStore(str(tmp_path / "store"), 1), rank=0, world_size=1)
    try:
        method.distribute()
        ddp = method.__dict__["_ddp"]["net"]
        assert isinstance(ddp, nn.parallel.DistributedDataParallel) and isinstance(method.net, Route)
        with torch.no_grad():
            assert isinstance(method.net, nn.Sequential)  # no gradients: the module itself
        assert isinstance(method.eval().net, nn.Sequential) and isinstance(method.train().net, Route)
        data = build_dataset(cfg["data"], tiny_data, "train")
        batch = torch.utils.data.default_collate([data[(i, i)] for i in range(2)])
        before = method.net[0][0].weight.detach().clone()
        assert set(method.train_step(batch)) == {"l1"} and not torch.equal(before, method.net[0][0].weight)
        assert list(method.state_dict()) == keys
        with method.no_sync():
            assert not ddp.require_backward_grad_sync
        assert ddp.require_backward_grad_sync
        method.undistribute()
        assert isinstance(method.train().net, nn.Sequential)
    finally:
        # the wrappers go before their process group: a Reducer freed after the group was destroyed joined
        # gloo's worker threads forever once (the whole suite hung in ~ProcessGroupGloo)
        method.undistribute()
        ddp = None
        gc.collect()
        dist.destroy_process_group()


# ---- multi-process -----------------------------------------------------------------------------------

def test_torchrun_prints_each_message_once_and_rank_0_writes(tiny_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    proc = _torchrun("-m", "posevid", "train", "template/tiny", "--data", str(tiny_data), "--out", str(out),
                     "--steps", "3", "--no-progress", "--device", "cpu", "train.batch_size=1",
                     "train.tensorboard=false", "train.checkpoint_every=2", "train.image_every=1")
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = [ln for ln in (proc.stdout + proc.stderr).splitlines() if ln.strip()]
    assert lines and len(lines) == len(set(lines)), lines
    assert [r["step"] for r in _losses(out)] == [1, 2, 3]
    assert sorted(p.name for p in (out / "samples").iterdir()) == [f"step_000000{i}.png" for i in (1, 2, 3)]
    payload, _ = find_checkpoint(out)
    assert payload["world_size"] == 2 and len(payload["rng"]) == 2 and "scalers" in payload
    assert not list(out.rglob(".*tmp*"))


# Every method, with its tiny config (amp off; the first stage of a multi-stage method, or the one whose
# networks need no earlier stage), 2 steps: 2 processes x batch 1 against 1 process x batch 2, at lr 0.
METHOD_RUNS = [
    ("template/tiny", "clips", None, []),
    ("posenet/tiny", "clips", None, []),
    ("pg2/tiny", "clips", "g1", []),
    ("scgan/tiny", "clips", "generator", ["model.lambda_sem=0"]),
    ("psgan/tiny", "motion", None, []),
    ("dwnet/tiny", "clips", None, []),
    ("decoupled/tiny", "clips", "encoders", []),
    ("decoupled/tiny", "clips", "restore", []),
]


# Differences allowed, as a fraction of the largest gradient of the optimizer; 1e-5 unless listed.
# DwNet's warp refinement learns through grid_sample's gradient with respect to the grid, which jumps at
# pixel boundaries: rounding differences between a batch of 2 and two of 1 move a few grid points across
# one and change its last conv's gradient by up to 1.5e-3 of the scale (measured); its other parameters
# agree to 2e-4. Gradients a process did not average would differ by about their own size.
GRADIENT_TOLERANCE = {"dwnet": 5e-3}


def _runs(folder: Path, world: int, data: dict[str, Path]) -> Path:
    runs = []
    for config, kind, stage, extra in METHOD_RUNS:
        batch = 2 // world
        overrides = ["train.tensorboard=false", "train.amp=off", f"train.batch_size={batch}", "train.lr=0", *extra]
        overrides += [f"stages.{stage}.train.batch_size={batch}", f"stages.{stage}.train.lr=0"] if stage else []
        name = config.split("/")[0] + (f"-{stage}" if stage else "")
        runs.append({"config": config, "overrides": overrides, "data": str(data[kind]), "out": str(folder / name),
                     "stage": stage, "steps": 2})
    path = folder.with_suffix(".json")
    path.write_text(json.dumps(runs))
    return path


@pytest.mark.slow
def test_every_method_under_ddp_matches_one_process_with_the_whole_batch(tiny_data: Path, motion_data: Path,
                                                                          tmp_path: Path) -> None:
    """What DDP must get right: every process's gradients are those of the whole batch. At lr 0 the weights
    stay put, so the two steps (DwNet: 3 generator and 3 critic updates each) see the same networks and
    Adam's moments in the checkpoint hold the gradients, averaged by DDP in one run and computed on the
    whole batch in the other. (With lr > 0 Adam's first steps turn gradients that are zero up to rounding,
    e.g. of a bias before instance norm, into full-size steps of random sign, so weights cannot be compared
    element by element in general; ``test_train`` compares them for a model without such parameters.)
    The noise a method draws in its step (PSGAN's z, the decoupled encoders' sampling) is set to zero in
    both runs (``ddp_runner --zero-noise``): each process draws its own, the one legitimate difference."""
    data = {"clips": tiny_data, "motion": motion_data}
    runner = str(HERE / "ddp_runner.py")
    ddp = _torchrun(runner, str(_runs(tmp_path / "ddp", 2, data)), "--zero-noise", timeout=900)
    assert ddp.returncode == 0, ddp.stderr[-4000:]
    one = subprocess.run([sys.executable, runner, str(_runs(tmp_path / "one", 1, data)), "--zero-noise"],
                         env=_env(), capture_output=True, text=True, timeout=900)
    assert one.returncode == 0, one.stderr[-4000:]
    runs = sorted(p for p in (tmp_path / "one").iterdir() if p.is_dir())
    assert len(runs) == len(METHOD_RUNS)
    for run in runs:
        (a, found), (b, _) = find_checkpoint(run), find_checkpoint(tmp_path / "ddp" / run.name)
        assert (a["world_size"], b["world_size"], a["step"], b["step"]) == (1, 2, 2, 2)
        stage_run = found.parents[1]  # RUN or RUN/<n>-<stage>
        twin = tmp_path / "ddp" / stage_run.relative_to(tmp_path / "one")
        for one, two in zip(_losses(stage_run), _losses(twin), strict=True):
            assert two == pytest.approx(one, rel=1e-4, abs=1e-6), run.name
        for name, state in a["optimizers"].items():
            for key in ("exp_avg", "exp_avg_sq"):
                scale = max(float(m[key].abs().max()) for m in state["state"].values())
                for i, moments in state["state"].items():
                    torch.testing.assert_close(b["optimizers"][name]["state"][i][key], moments[key], rtol=1e-3,
                                               atol=GRADIENT_TOLERANCE.get(run.name, 1e-5) * scale,
                                               msg=f"{run.name}: optimizer {name}, parameter {i}, {key}")


@pytest.mark.slow
def test_sigkilled_ddp_run_resumes_exactly(tiny_data: Path, tmp_path: Path) -> None:
    args = ["-m", "posevid", "train", "template/tiny", "--data", str(tiny_data), "--steps", "8", "--no-progress",
            "--device", "cpu", "train.batch_size=1", "train.tensorboard=false", "train.checkpoint_every=2"]
    reference = _torchrun(*args, "--out", str(tmp_path / "ref"))
    assert reference.returncode == 0, reference.stderr[-3000:]
    victim = tmp_path / "victim"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", *args,
           "--out", str(victim)]
    proc = subprocess.Popen(cmd, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    log = victim / "losses.jsonl"
    deadline = time.monotonic() + 300
    while not (log.is_file() and len(log.read_text().splitlines()) >= 5):
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # torchrun and both workers at once
    proc.wait()
    assert len(log.read_text().splitlines()) < 8
    resumed = _torchrun(*args, "--out", str(victim), "--resume")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert _losses(victim) == _losses(tmp_path / "ref")
    a, b = find_checkpoint(victim)[0], find_checkpoint(tmp_path / "ref")[0]
    assert all(torch.equal(a["method"][k], b["method"][k]) for k in a["method"])
