"""The trainer on a real prepared clip: learning, exact resume (also after SIGKILL), damaged checkpoints,
DDP on CPU, init_from, load_method, config overrides.

A tiny method is written as a plugin module (``plugins: [posevid_tiny]``) so that subprocesses
(``python -m posevid``, ``torchrun``) can build it too.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch
import yaml

from posevid.checkpoints import find_checkpoint, load_method
from posevid.config import load_config
from posevid.errors import PosevidError
from posevid.train import EpochBatchSampler, linear_decay, train

PLUGIN = textwrap.dedent('''
    """A small conv net regressing the target frame from the source frame and the target pose."""
    import numpy as np
    import torch
    from torch import nn

    from posevid.losses import l1
    from posevid.methods.base import Animator, Method, register
    from posevid.render import heatmaps


    class _Animator(Animator):
        def __init__(self, method):
            self.method = method

        def reset(self, source, pose, mask=None):
            self.src = torch.from_numpy(source).permute(2, 0, 1)[None].float() / 127.5 - 1

        @torch.no_grad()
        def step(self, target):
            out = self.method.generate(self.src, torch.from_numpy(target.xy), torch.from_numpy(target.conf))
            return ((out[0].permute(1, 2, 0) + 1) * 127.5).round().byte().numpy()


    @register("tiny")
    class Tiny(Method):
        def __init__(self, cfg):
            super().__init__(cfg)
            ch = int(cfg["model"].get("ch", 16))
            self.net = nn.Sequential(nn.Conv2d(21, ch, 3, padding=1), nn.ReLU(), nn.Conv2d(ch, ch, 3, padding=1),
                                     nn.ReLU(), nn.Conv2d(ch, 3, 3, padding=1), nn.Tanh())
            self.noise = float(cfg["model"].get("noise", 0.05))
            self.adam("net", self.net.parameters())

        def generate(self, src, xy, conf):
            maps = heatmaps(xy, conf, src.shape[-2], src.shape[-1], kind="gaussian", radius=2)
            return self.net(torch.cat([src, maps], 1))

        def train_step(self, batch):
            src = batch["src"] + self.noise * torch.randn_like(batch["src"])
            fake = self.generate(src, batch["xy"][:, 0], batch["conf"][:, 0])
            loss = l1(fake, batch["frames"][:, 0])
            opt = self.optimizers["net"]
            opt.zero_grad()
            loss.backward()
            opt.step()
            self._visuals = {"source": batch["src"], "generated": fake.detach(), "real": batch["frames"][:, 0]}
            return {"l1": loss.item()}

        def animator(self):
            return _Animator(self.eval())
''')


@pytest.fixture(scope="module")
def plugin(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("plugin")
    (folder / "posevid_tiny.py").write_text(PLUGIN)
    sys.path.insert(0, str(folder))
    yield folder
    sys.path.remove(str(folder))


def _cfg(**train):
    cfg = load_config(None, ["method=tiny", "plugins=[posevid_tiny]", "data.flip=true", "train.batch_size=4",
                             "train.lr=1e-3", "train.tensorboard=false", "train.log_every=5"])
    cfg["train"].update(train)
    return cfg


def _losses(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "losses.jsonl").read_text().splitlines()]


def _env(plugin: Path) -> dict:
    src = Path(__file__).resolve().parents[1] / "src"
    # Same thread count as this process, so that float results are bit-identical.
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(plugin), str(src)]),
            "OMP_NUM_THREADS": str(torch.get_num_threads())}


def test_sampler_resumes_and_shards():
    full = EpochBatchSampler(10, 3, seed=1)
    it = iter(full)
    first = [next(it) for _ in range(9)]
    later = iter(EpochBatchSampler(10, 3, seed=1, start=5))
    assert [next(later) for _ in range(4)] == first[5:]
    # An epoch covers every item; seeds differ between epochs.
    assert {i for b in full.epoch_batches(0) for i, _ in b} == set(range(10))
    assert full.epoch_batches(0) != full.epoch_batches(1)
    # Two ranks with batch 2 see the same items and seeds as one process with batch 4.
    one = [k for b in EpochBatchSampler(8, 4, seed=3).epoch_batches(0) for k in b]
    r0, r1 = (EpochBatchSampler(8, 2, seed=3, rank=r, world=2).epoch_batches(0) for r in (0, 1))
    assert sorted(k for b in r0 + r1 for k in b) == sorted(one)


def test_linear_decay_and_config(tmp_path):
    f = linear_decay(100, 0.5)
    assert f(0) == f(49) == 1 and f(75) == 0.5 and f(100) == 0
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({"method": "template", "train": {"lr": 0.1}}))
    cfg = load_config(path, ["train.steps=7", "train.betas=[0.9, 0.99]", "model.blocks=2", "train.amp=true"])
    assert cfg["train"]["steps"] == 7 and cfg["train"]["betas"] == [0.9, 0.99] and cfg["train"]["lr"] == 0.1
    assert cfg["model"]["blocks"] == 2 and cfg["train"]["amp"] is True and cfg["train"]["batch_size"] == 4
    with pytest.raises(PosevidError, match="key.sub=value"):
        load_config(path, ["train.steps"])
    with pytest.raises(PosevidError, match="no such config"):
        load_config(tmp_path / "missing.yaml")


def test_tiny_method_learns_and_reloads(tiny_data, plugin, tmp_path):
    run = tmp_path / "run"
    result = train(_cfg(steps=60, checkpoint_every=30, image_every=30, tensorboard=True), tiny_data, run,
                   show_progress=False)
    losses = [r["l1"] for r in _losses(run)]
    assert len(losses) == 60 and result["step"] == 60
    assert sum(losses[-10:]) / 10 < 0.7 * sum(losses[:10]) / 10
    assert (run / "checkpoints" / "step_0000030.ckpt").is_file() and (run / "samples" / "step_0000060.png").is_file()
    assert any((run / "tb").iterdir())
    # The schedule decayed the learning rate linearly to 0 at the end.
    payload, _ = find_checkpoint(run)
    assert payload["step"] == 60 and payload["schedulers"]["net"]["_last_lr"][0] == 0
    method = load_method(run)
    assert not method.training
    assert all(torch.equal(a, b) for a, b in zip(method.state_dict().values(), payload["method"].values()))
    # init_from copies matching weights into a fresh run (step 0).
    run2 = tmp_path / "run2"
    train(_cfg(steps=1, init_from=str(run / "checkpoints" / "latest.ckpt"), lr=0.0), tiny_data, run2,
          show_progress=False)
    assert torch.equal(load_method(run2).net[0].weight, method.net[0].weight)
    with pytest.raises(PosevidError, match="already has checkpoints"):
        train(_cfg(steps=61), tiny_data, run, show_progress=False)


def test_resume_is_exact_and_survives_damaged_checkpoints(tiny_data, plugin, tmp_path):
    full, part = tmp_path / "full", tmp_path / "part"
    train(_cfg(steps=12, checkpoint_every=4), tiny_data, full, show_progress=False)
    train(_cfg(steps=12, checkpoint_every=4), tiny_data, part, show_progress=False, until=10)
    assert len(_losses(part)) == 10
    # Damage the newest checkpoints (latest and step 10): resume falls back to step 8.
    for name in ("latest.ckpt", "step_0000010.ckpt"):
        path = part / "checkpoints" / name
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0xFF
        path.write_bytes(bytes(data))
    messages = []
    train(_cfg(steps=12, checkpoint_every=4), tiny_data, part, resume=True, show_progress=False,
          log=messages.append)
    assert any("checksum" in m for m in messages) and any("step 8" in m for m in messages)
    assert _losses(part) == _losses(full)
    with pytest.raises(PosevidError, match="checksum"):
        find_checkpoint(part / "checkpoints" / "step_0000010.ckpt")


def _run_cli(args, env, **kw):
    return subprocess.Popen([sys.executable, "-m", "posevid", "train", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kw)


def _write_cfg(tmp_path: Path, **train) -> Path:
    path = tmp_path / "tiny.yaml"
    cfg = _cfg(**train)
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_sigkill_then_resume_matches_uninterrupted(tiny_data, plugin, tmp_path):
    cfg = _write_cfg(tmp_path, steps=24, checkpoint_every=5)
    victim = _run_cli([str(cfg), "--data", str(tiny_data), "--out", str(tmp_path / "victim"), "--no-progress"],
                      _env(plugin))
    log = tmp_path / "victim" / "losses.jsonl"
    deadline = time.monotonic() + 120
    while not (log.is_file() and len(log.read_text().splitlines()) >= 8):
        assert victim.poll() is None and time.monotonic() < deadline, victim.communicate()
        time.sleep(0.02)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    assert len(log.read_text().splitlines()) < 24
    train(load_config(cfg), tiny_data, tmp_path / "ref", show_progress=False)
    result = train(load_config(cfg), tiny_data, tmp_path / "victim", resume=True, show_progress=False)
    assert result["step"] == 24
    assert _losses(tmp_path / "victim") == _losses(tmp_path / "ref")


def test_ddp_two_processes_match_one_process_with_double_batch(tiny_data, plugin, tmp_path):
    env = _env(plugin)
    cfg = _write_cfg(tmp_path, steps=3, checkpoint_every=3, batch_size=2)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "posevid", "train", str(cfg), "--data", str(tiny_data), "--out", str(tmp_path / "ddp"),
           "--no-progress", "model.noise=0"]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-3000:]
    payload, _ = find_checkpoint(tmp_path / "ddp")
    assert payload["world_size"] == 2 and len(payload["rng"]) == 2 and payload["step"] == 3
    single = tmp_path / "single"
    train(_cfg(steps=3, checkpoint_every=3, batch_size=4) | {"model": {"noise": 0}}, tiny_data, single,
          show_progress=False)
    ddp_losses = [r["l1"] for r in _losses(tmp_path / "ddp")]
    one_losses = [r["l1"] for r in _losses(single)]
    assert ddp_losses == pytest.approx(one_losses, rel=1e-4)
    ref = load_method(single).state_dict()
    for key, value in load_method(tmp_path / "ddp").state_dict().items():
        torch.testing.assert_close(value, ref[key], rtol=1e-4, atol=1e-5)


def test_disk_full_while_training_keeps_the_checkpoints_written(tiny_data, plugin, tmp_path, monkeypatch):
    """The disk fills while the second checkpoint is written: one ``PosevidError`` naming it, no temporary file,
    and the first checkpoint still loads (nothing is lost beyond the last checkpoint interval)."""
    import errno

    import posevid.checkpoints

    real, calls = os.fsync, []

    def fsync(fd):
        calls.append(fd)
        if len(calls) == 3:  # step 2 wrote step_0000002.ckpt and latest.ckpt; step 4's first write fails
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(fd)

    monkeypatch.setattr(posevid.checkpoints.os, "fsync", fsync)
    run = tmp_path / "run"
    with pytest.raises(PosevidError, match="No space left on device") as err:
        train(_cfg(steps=6, checkpoint_every=2), tiny_data, run, show_progress=False)
    assert "\n" not in str(err.value) and "step_0000004.ckpt" in str(err.value)
    monkeypatch.undo()
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["latest.ckpt", "step_0000002.ckpt"]
    assert find_checkpoint(run)[0]["step"] == 2

