"""Training under SIGKILL: killed at random moments (mid-step, mid-checkpoint-write, between the step file
and ``latest.ckpt``, just before the rename), every ``--resume`` continues from the last complete checkpoint
and the losses are exactly those of an uninterrupted run; a checkpoint damaged after the kill is detected by
its checksum and the previous one is used.

A small conv-net method is written as a plugin module (``plugins: [posevid_relkill]``) so that the
``python -m posevid train`` subprocesses can build it. The subprocess runs through a wrapper that kills itself
(a real SIGKILL) at a planned point of the real checkpoint code, or the test kills it from outside after a
random number of logged steps plus a random delay.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch
import yaml

from posevid.checkpoints import checkpoint_candidates, find_checkpoint, load_checkpoint
from posevid.config import load_config
from posevid.errors import PosevidError
from posevid.train import train

STEPS = 24
EVERY = 4

PLUGIN = textwrap.dedent('''
    """A small conv net regressing the target frame from the source frame and the target pose's heatmaps.

    ``RELKILL_STEP=n`` makes the process SIGKILL itself in its n-th ``train_step``, after the optimizer
    step and before the loss is returned (weights changed, nothing logged).
    """
    import os
    import signal

    import torch
    from torch import nn

    from posevid.methods.base import Method, register
    from posevid.render import heatmaps


    @register("relkill")
    class RelKill(Method):
        def __init__(self, cfg):
            super().__init__(cfg)
            ch = int(cfg["model"].get("ch", 8))
            self.net = nn.Sequential(nn.Conv2d(21, ch, 3, padding=1), nn.ReLU(), nn.Conv2d(ch, 3, 3, padding=1),
                                     nn.Tanh())
            self.adam("net", self.net.parameters())
            self.calls = 0
            self.kill_at = int(os.environ.get("RELKILL_STEP", "0"))

        def train_step(self, batch):
            src = batch["src"] + 0.05 * torch.randn_like(batch["src"])  # uses the RNG: resume must restore it
            maps = heatmaps(batch["xy"][:, 0], batch["conf"][:, 0], src.shape[-2], src.shape[-1], kind="gaussian",
                            radius=2)
            fake = self.net(torch.cat([src, maps], 1))
            loss = (fake - batch["frames"][:, 0]).abs().mean()
            opt = self.optimizers["net"]
            opt.zero_grad()
            loss.backward()
            opt.step()
            self.calls += 1
            if self.calls == self.kill_at:
                os.kill(os.getpid(), signal.SIGKILL)
            return {"l1": loss.item()}

        def animator(self):
            raise NotImplementedError("training-only test method")
''')

# Runs ``posevid`` after arranging a SIGKILL inside the real checkpoint code, per $RELKILL_PLAN:
# {"call": k, "phase": "mid-write" | "before-rename" | "before-write", "fraction": f} kills the process in
# its k-th save_checkpoint call (odd k: a step file, even k: latest.ckpt).
WRAPPER = textwrap.dedent('''
    import builtins
    import json
    import os
    import signal
    import sys

    from posevid import checkpoints, cli, io_utils, train

    plan = json.loads(os.environ.get("RELKILL_PLAN") or "{}")
    real_save, real_replace = train.save_checkpoint, os.replace
    calls = [0]


    def die(*args):
        os.kill(os.getpid(), signal.SIGKILL)


    class Dying:
        """A file that dies once ``limit`` bytes are written (they reach the file first)."""

        def __init__(self, f, limit):
            self.f, self.left = f, limit

        def write(self, data):
            if len(data) >= self.left:
                self.f.write(data[:self.left])
                self.f.flush()
                os.fsync(self.f.fileno())
                die()
            self.left -= len(data)
            return self.f.write(data)

        def __getattr__(self, name):
            return getattr(self.f, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()


    def save(path, payload):
        calls[0] += 1
        if calls[0] == plan.get("call"):
            if plan["phase"] == "before-write":
                die()
            elif plan["phase"] == "mid-write":
                limit = int(plan["fraction"] * (len(payload) + 80))
                checkpoints.open = lambda p, mode: Dying(builtins.open(p, mode), limit)
            elif plan["phase"] == "before-rename":
                io_utils.os.replace = die
        return real_save(path, payload)


    train.save_checkpoint = save  # the trainer's name for checkpoints.save_checkpoint
    sys.argv = ["posevid", *sys.argv[1:]]
    cli.main()
''')


@pytest.fixture(scope="module")
def kit(tmp_path_factory: pytest.TempPathFactory, tiny_data: Path):
    """(config path, wrapper path, subprocess env, reference losses of an uninterrupted run)."""
    folder = tmp_path_factory.mktemp("relkill")
    (folder / "posevid_relkill.py").write_text(PLUGIN)
    (folder / "relkill_wrapper.py").write_text(WRAPPER)
    sys.path.insert(0, str(folder))
    cfg = load_config(None, ["method=relkill", "plugins=[posevid_relkill]", "data.flip=true", "train.batch_size=4",
                             "train.lr=1e-3", "train.tensorboard=false", f"train.steps={STEPS}",
                             f"train.checkpoint_every={EVERY}", "train.keep_checkpoints=0", "train.image_every=1000"])
    path = folder / "relkill.yaml"
    path.write_text(yaml.safe_dump(cfg))
    src = Path(__file__).resolve().parents[1] / "src"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(folder), str(src)]),
           "OMP_NUM_THREADS": str(torch.get_num_threads()),  # same threads: bit-identical floats
           "COLUMNS": "300"}
    train(load_config(path), tiny_data, folder / "reference", show_progress=False)
    yield path, folder / "relkill_wrapper.py", env, _losses(folder / "reference")
    sys.path.remove(str(folder))


def _losses(run: Path) -> list[dict]:
    """The complete lines of ``losses.jsonl`` (a line cut by a kill is dropped)."""
    path = run / "losses.jsonl"
    if not path.is_file():
        return []
    out = []
    for line in path.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            pass
    return out


DAMAGED: dict[Path, bytes] = {}  # checkpoints the test damaged on purpose -> their damaged bytes


def _valid_checkpoints(run: Path) -> dict[str, int]:
    """name -> step of every checkpoint under its final name. Each one must load (writes are atomic), except
    one the test damaged and nobody has rewritten since."""
    out = {}
    for path in checkpoint_candidates(run):
        try:
            out[path.name] = int(load_checkpoint(path)["step"])
        except PosevidError:
            assert DAMAGED.get(path) == path.read_bytes(), f"{path} is damaged, and not by the test"
    return out


def _damage(path: Path, rng: random.Random) -> None:
    data = bytearray(path.read_bytes())
    data[rng.randrange(100, len(data))] ^= 0xFF
    path.write_bytes(bytes(data))
    DAMAGED[path] = bytes(data)


def _random_plan(rng: random.Random) -> dict:
    """Where the next run dies: a random delay after its trainer is built (``external``: inside some step or
    checkpoint write), in its n-th ``train_step`` (``step``), or in its k-th checkpoint write."""
    kind = rng.choice(["external", "step", "mid-write", "before-rename", "before-write"])
    if kind == "external":
        return {"kind": kind, "delay": rng.uniform(0.0, 0.6)}
    if kind == "step":
        return {"kind": kind, "call": rng.randint(1, 6)}
    return {"kind": kind, "call": rng.randint(1, 4), "fraction": rng.random()}


def _trial(kit, data: Path, run: Path, plan: dict, number: int) -> dict:
    """One launch of ``posevid train --resume`` killed as ``plan`` says; checks what it left behind."""
    cfg, wrapper, env, reference = kit
    start = max(_valid_checkpoints(run).values(), default=0)
    kind = plan["kind"]
    env = dict(env)
    if kind == "step":
        env["RELKILL_STEP"] = str(plan["call"])
    elif kind != "external":
        env["RELKILL_PLAN"] = json.dumps({"call": plan["call"], "phase": kind, "fraction": plan.get("fraction", 0.5)})
    log = run.parent / f"{run.name}-{number}.log"
    with open(log, "w") as err:
        proc = subprocess.Popen([sys.executable, str(wrapper), "train", str(cfg), "--data", str(data), "--out",
                                 str(run), "--resume", "--no-progress"], env=env, stdout=subprocess.DEVNULL,
                                stderr=err)
        if kind == "external":
            deadline = time.monotonic() + 300
            while not re.search("resuming from|no checkpoint in", log.read_text()) and proc.poll() is None:
                assert time.monotonic() < deadline, "the trainer did not start"
                time.sleep(0.005)
            time.sleep(plan["delay"])  # training runs about a step per 10-50 ms: the kill lands anywhere
            proc.send_signal(signal.SIGKILL)
        code = proc.wait(timeout=180)
    text = log.read_text()
    resumed = re.search(r"resuming from \S+ \(step (\d+)\)", text.replace("\n", ""))
    # The resume started from the newest complete checkpoint left by the previous trials.
    assert (int(resumed.group(1)) if resumed else 0) == start, text[-2000:]
    assert code in (-signal.SIGKILL, 0), text[-2000:]
    after = _valid_checkpoints(run)  # every checkpoint under its final name is whole
    logged = _losses(run)
    assert logged == reference[:len(logged)], "logged losses differ from the uninterrupted run"
    return {"kind": kind, "start": start, "killed": code != 0, "steps": len(logged), "newest": max(after.values(),
                                                                                                  default=0)}


def _kill_loop(kit, data: Path, run: Path, trials: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    history = []
    for number in range(trials):
        history.append(_trial(kit, data, run, _random_plan(rng), number))
        if history[-1]["newest"] >= STEPS:  # finished: start again in a fresh folder
            run = run.with_name(f"{run.name}x")
        elif number % 4 == 3 and history[-1]["newest"] > EVERY:
            # Damage the newest checkpoints (the step file and latest): the next resume must skip them.
            ckpts = checkpoint_candidates(run)
            newest = [p for p in ckpts if load_checkpoint(p)["step"] == history[-1]["newest"]]
            for path in newest:
                _damage(path, rng)
            with pytest.raises(PosevidError, match="checksum"):
                load_checkpoint(newest[0])
            assert find_checkpoint(run)[0]["step"] < history[-1]["newest"]
    # Finish the last run in-process: the whole loss history equals the uninterrupted run's.
    result = train(load_config(kit[0]), data, run, resume=True, show_progress=False)
    assert result["step"] == STEPS
    assert _losses(run) == kit[3]
    return history


def test_sigkill_trials_resume_exactly(kit, tiny_data: Path, tmp_path: Path) -> None:
    """Two kills (mid-step, then mid-write of latest.ckpt), a damaged checkpoint, then an exact finish."""
    cfg, reference = kit[0], kit[3]
    run = tmp_path / "victim"
    rng = random.Random(0)
    plans = [{"kind": "step", "call": 7}, {"kind": "mid-write", "call": 2, "fraction": 0.5}]
    history = [_trial(kit, tiny_data, run, plan, number) for number, plan in enumerate(plans)]
    assert all(h["killed"] for h in history)
    # 1: killed inside step 7 (weights updated, loss not logged); step 4's checkpoint is complete.
    # 2: resumed at 4; step 8's file was written, then latest.ckpt (the 2nd write) died half-written: it keeps
    #    step 4 under its name, and a partial temporary file lies beside it.
    assert [h["start"] for h in history] == [0, 4]
    assert [h["newest"] for h in history] == [4, 8]
    assert load_checkpoint(run / "checkpoints" / "latest.ckpt")["step"] == 4
    assert list((run / "checkpoints").glob(".latest.tmp-*.ckpt"))
    assert find_checkpoint(run)[0]["step"] == 8  # the newest complete checkpoint, not the stale latest.ckpt
    _damage(run / "checkpoints" / "step_0000008.ckpt", rng)
    messages: list[str] = []
    result = train(load_config(cfg), tiny_data, run, resume=True, show_progress=False, log=messages.append)
    assert any("checksum" in m for m in messages) and any("(step 4)" in m for m in messages), messages
    assert result["step"] == STEPS and _losses(run) == reference


@pytest.mark.slow
def test_sigkill_random_moments_many_trials(kit, tiny_data: Path, tmp_path: Path) -> None:
    """24 kills at random moments; every 4th kill also damages the newest checkpoint."""
    history = _kill_loop(kit, tiny_data, tmp_path / "victim", trials=24, seed=1)
    assert len(history) == 24 and sum(h["killed"] for h in history) >= 20
    kinds = {k: sum(h["kind"] == k and h["killed"] for h in history) for k in sorted({h["kind"] for h in history})}
    print(f"{sum(h['killed'] for h in history)} kills of 24 launches: {kinds}")
    assert {h["kind"] for h in history} == {"external", "step", "mid-write", "before-rename", "before-write"}
