"""The trainer: ``posevid train CONFIG.yaml --data DATA --out RUN [--steps N] [--resume] [key=value ...]``.

Drives any registered method through the method contract (``train_step``, ``optimizers``,
``visuals``). ``RUN/`` gets ``config.yaml``, ``losses.jsonl`` (one line per step), ``tb/``
(TensorBoard scalars and image grids), ``samples/step_XXXXXXX.png`` and ``checkpoints/``.

Checkpoints (``checkpoints/step_XXXXXXX.ckpt`` and ``latest.ckpt``, format in ``posevid.checkpoints``)
hold the method's state dict, optimizers, schedulers, step, the RNG states of every process and the
config. Data order and per-item augmentation derive from (seed, epoch, position), so ``--resume``
continues exactly: the losses are those of an uninterrupted run.

Under ``torchrun --nproc_per_node N -m posevid train ...`` each process trains on its shard of every
epoch (``train.batch_size`` is per process) and gradients are averaged (``Method.distribute``).
"""

from __future__ import annotations

import json
import os
import random
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Sampler

from .checkpoints import build_from_config, checkpoint_candidates, find_checkpoint, save_checkpoint, serialise
from .config import dump_config
from .errors import PosevidError
from .tensors import tensor_to_image

Log = Callable[[str], None]


class EpochBatchSampler(Sampler):
    """Endless batches of ``(index, item_seed)`` keys, resumable at any batch.

    Epoch e shuffles ``range(n)`` with seed (seed, e), pads it by wrapping to a multiple of
    ``world * batch_size`` and gives this ``rank`` every ``world``-th index (as
    ``DistributedSampler`` does). Item seeds depend on (seed, epoch, rank, position) only, so
    starting at batch ``start`` reproduces exactly what an uninterrupted run would draw there.
    """

    def __init__(self, n: int, batch_size: int, seed: int = 0, rank: int = 0, world: int = 1, start: int = 0):
        if n <= 0:
            raise PosevidError(None, "the training dataset is empty")
        self.n, self.batch_size, self.seed, self.rank, self.world, self.start = n, batch_size, seed, rank, world, start
        self.batches_per_epoch = -(-n // (world * batch_size))

    def epoch_batches(self, epoch: int) -> list[list[tuple[int, int]]]:
        """This rank's batches of one epoch."""
        perm = np.random.default_rng([self.seed, epoch]).permutation(self.n)
        total = self.batches_per_epoch * self.world * self.batch_size
        seeds = np.random.SeedSequence([self.seed, epoch]).generate_state(total, np.uint64) % (2 ** 63)
        picked = slice(self.rank, None, self.world)
        keys = [(int(i), int(s)) for i, s in zip(np.resize(perm, total)[picked], seeds[picked])]
        return [keys[k:k + self.batch_size] for k in range(0, len(keys), self.batch_size)]

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        epoch, k = divmod(self.start, self.batches_per_epoch)
        while True:
            batches = self.epoch_batches(epoch)
            yield from batches[k:]
            epoch, k = epoch + 1, 0


def linear_decay(total: int, decay_from: float) -> Callable[[int], float]:
    """LR factor: 1 until ``decay_from`` (a fraction of ``total``, or a step if > 1), then linear to 0."""
    start = int(decay_from if decay_from > 1 else decay_from * total)
    span = max(total - start, 1)
    return lambda step: 1.0 if step < start else max(0.0, (total - step) / span)


def init_weights(method: torch.nn.Module, path: str | Path, log: Log) -> dict[str, list[str]]:
    """``train.init_from``: copy every tensor of another run's checkpoint whose name and shape match."""
    payload, found = find_checkpoint(path, "cpu", log)
    own = method.state_dict()
    src = payload["method"]
    fit = {k: v for k, v in src.items() if k in own and own[k].shape == v.shape}
    method.load_state_dict(fit, strict=False)
    report = {"loaded": sorted(fit), "missing": sorted(set(own) - set(fit)),
              "skipped": sorted(k for k in src if k not in fit)}
    log(f"init_from {found}: loaded {len(fit)} tensors, {len(report['missing'])} left as initialised, "
        f"{len(report['skipped'])} skipped (absent or shape differs)")
    return report


# ---- RNG -------------------------------------------------------------------------------------------

def rng_state() -> dict[str, Any]:
    """This process's torch, numpy, python (and CUDA) RNG states, as plain data."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    state = {"torch": torch.get_rng_state(), "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), pos,
                                                       has_gauss, gauss],
             "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what ``rng_state`` saved."""
    torch.set_rng_state(state["torch"].cpu())
    kind, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), int(pos), int(has_gauss), float(gauss)))
    version, inner, gauss_next = state["python"]
    random.setstate((version, tuple(inner), gauss_next))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch."""
    random.seed(seed)
    np.random.seed(seed % 2 ** 32)
    torch.manual_seed(seed)


# ---- helpers ---------------------------------------------------------------------------------------

def _to(batch: Any, device: torch.device) -> Any:
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, dict):
        return {k: _to(v, device) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(_to(v, device) for v in batch)
    return batch


def _step_of(line: str) -> float:
    """The step of a ``losses.jsonl`` line; a line cut short by a killed run counts as infinitely late."""
    try:
        return json.loads(line)["step"]
    except (json.JSONDecodeError, KeyError, TypeError):
        return float("inf")


def image_grid(visuals: dict[str, torch.Tensor], rows: int = 4) -> np.ndarray:
    """Visuals (name -> (B, C, H, W) in [-1, 1]) as an (H', W', 3) uint8 grid: one row per sample, one
    column per visual in order (e.g. source | target pose | generated | real)."""
    cols = []
    size = None
    for img in visuals.values():
        img = img.detach()[:rows].float().cpu()
        if img.dim() == 3:
            img = img[:, None]
        img = img[:, :3] if img.shape[1] >= 3 else img[:, :1].expand(-1, 3, -1, -1)
        size = size or img.shape[-2:]
        if img.shape[-2:] != size:
            img = torch.nn.functional.interpolate(img, size=size, mode="nearest")
        cols.append(img)
    n = min(c.shape[0] for c in cols)
    grid = torch.cat([torch.cat([c[i] for c in cols], dim=2) for i in range(n)], dim=1)
    return tensor_to_image(grid)


class _Dist:
    """Process-group facts: rank, world size, device; a no-op outside torchrun."""

    def __init__(self, device: str | None):
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        local = int(os.environ.get("LOCAL_RANK", "0"))
        if device:
            self.device = torch.device(device)
        else:
            self.device = torch.device(f"cuda:{local}" if torch.cuda.is_available() else "cpu")
        self.enabled = self.world > 1
        if self.device.type == "cuda":
            torch.cuda.set_device(self.device)
        if self.enabled and not torch.distributed.is_initialized():
            torch.distributed.init_process_group("nccl" if self.device.type == "cuda" else "gloo")

    def barrier(self) -> None:
        if self.enabled:
            torch.distributed.barrier()

    def mean(self, values: dict[str, float]) -> dict[str, float]:
        """Average scalar losses over the processes."""
        if not self.enabled or not values:
            return values
        t = torch.tensor(list(values.values()), dtype=torch.float64)
        torch.distributed.all_reduce(t)
        return dict(zip(values, (t / self.world).tolist()))

    def any(self, flag: bool) -> bool:
        if not self.enabled:
            return flag
        t = torch.tensor([float(flag)])
        torch.distributed.all_reduce(t, op=torch.distributed.ReduceOp.MAX)
        return bool(t.item())

    def gather(self, obj: Any) -> list[Any]:
        if not self.enabled:
            return [obj]
        out: list[Any] = [None] * self.world
        torch.distributed.all_gather_object(out, obj)
        return out

    def close(self) -> None:
        if self.enabled and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()


# ---- the loop --------------------------------------------------------------------------------------

class Trainer:
    """One training run of ``cfg`` on prepared data ``data`` into the run folder ``out``."""

    def __init__(self, cfg: dict[str, Any], data: str | Path, out: str | Path, resume: bool = False,
                 show_progress: bool = True, log: Log | None = None):
        from rich.console import Console

        from .data.datasets import build_dataset

        self.cfg, self.out, self.tcfg = cfg, Path(out), cfg["train"]
        self.dist = _Dist(self.tcfg.get("device"))
        self.main = self.dist.rank == 0
        self.console = Console(stderr=True)
        self.log = log or (lambda msg: self.console.print(msg) if self.main else None)
        self.show_progress = show_progress and self.main
        self.steps = int(self.tcfg["steps"])
        if self.steps < 1:
            raise PosevidError(None, "train.steps must be at least 1")
        payload = self._resume_payload() if resume else None
        if not resume and checkpoint_candidates(self.out):
            raise PosevidError(self.out, "the run folder already has checkpoints; use --resume or another --out")
        seed = int(cfg.get("seed", 0))
        seed_everything(seed)
        self.method = build_from_config(cfg).to(self.dist.device)
        if self.tcfg.get("init_from") and payload is None:
            init_weights(self.method, self.tcfg["init_from"], self.log)
        if not self.method.optimizers:
            raise PosevidError(None, f"method {cfg['method']!r} has no optimizers: it cannot be trained")
        decay = linear_decay(self.steps, float(self.tcfg.get("decay_from", 0.5)))
        self.schedulers = {name: torch.optim.lr_scheduler.LambdaLR(opt, decay)
                           for name, opt in self.method.optimizers.items()}
        self.step = 0
        if payload is not None:
            self._restore(payload)
        else:
            seed_everything(seed + self.dist.rank)
        if self.dist.enabled:
            self.method.distribute()
        self.dataset = build_dataset(cfg.get("data", {}), data, "train")
        self.sampler = EpochBatchSampler(len(self.dataset), int(self.tcfg["batch_size"]), seed, self.dist.rank,
                                         self.dist.world, start=self.step)
        workers = int(self.tcfg.get("workers") or 0)
        self.loader = DataLoader(self.dataset, batch_sampler=self.sampler, num_workers=workers,
                                 generator=torch.Generator().manual_seed(seed), persistent_workers=workers > 0,
                                 pin_memory=self.dist.device.type == "cuda")

    def _resume_payload(self) -> dict[str, Any] | None:
        if not checkpoint_candidates(self.out):
            self.log(f"no checkpoint in {self.out}: starting at step 0")
            return None
        payload, path = find_checkpoint(self.out, "cpu", self.log)
        self.log(f"resuming from {path} (step {payload['step']})")
        return payload

    def _restore(self, payload: dict[str, Any]) -> None:
        if payload["config"]["method"] != self.cfg["method"]:
            raise PosevidError(self.out, f"the checkpoint is of method {payload['config']['method']!r}, "
                                         f"the config asks for {self.cfg['method']!r}")
        try:
            self.method.load_state_dict(payload["method"])
        except RuntimeError as err:
            first = str(err).splitlines()[0]
            raise PosevidError(self.out, f"the checkpoint does not fit the config ({first})") from None
        for name, opt in self.method.optimizers.items():
            opt.load_state_dict(payload["optimizers"][name])
        for name, sched in self.schedulers.items():
            sched.load_state_dict(payload["schedulers"][name])
        self.step = int(payload["step"])
        states = payload["rng"]
        if len(states) != self.dist.world:
            self.log(f"[yellow]note[/yellow]: checkpoint from {len(states)} process(es), now {self.dist.world}: "
                     "the data order and random draws will differ from an uninterrupted run")
        set_rng_state(states[self.dist.rank % len(states)])

    def checkpoint(self) -> Path:
        """Save the state at ``self.step`` (rank 0 writes; every rank contributes its RNG state)."""
        rngs = self.dist.gather(rng_state())
        path = self.out / "checkpoints" / f"step_{self.step:07d}.ckpt"
        if self.main:
            payload = {"version": 1, "step": self.step, "config": self.cfg, "method": self.method.state_dict(),
                       "optimizers": {k: o.state_dict() for k, o in self.method.optimizers.items()},
                       "schedulers": {k: s.state_dict() for k, s in self.schedulers.items()},
                       "rng": rngs, "world_size": self.dist.world}
            blob = serialise(payload)
            save_checkpoint(path, blob)
            save_checkpoint(path.with_name("latest.ckpt"), blob)
            keep = int(self.tcfg.get("keep_checkpoints") or 0)
            if keep > 0:
                for old in sorted(path.parent.glob("step_*.ckpt"))[:-keep]:
                    old.unlink(missing_ok=True)
        self.dist.barrier()
        return path

    def _start_logs(self):
        self.out.mkdir(parents=True, exist_ok=True)
        (self.out / "config.yaml").write_text(dump_config(self.cfg))
        for stale in (self.out / "checkpoints").glob(".*.tmp-*"):  # left by a killed run
            stale.unlink(missing_ok=True)
        history = self.out / "losses.jsonl"
        if history.is_file():
            lines = [ln for ln in history.read_text().splitlines() if _step_of(ln) <= self.step]
            history.write_text("".join(ln + "\n" for ln in lines))
        writer = None
        if self.tcfg.get("tensorboard", True):
            from torch.utils.tensorboard import SummaryWriter

            writer = SummaryWriter(str(self.out / "tb"), purge_step=self.step + 1)
        return history.open("a"), writer

    def _log_images(self, writer) -> None:
        from .video import write_image

        visuals = self.method.visuals()
        if not visuals:
            return
        grid = image_grid(visuals)
        write_image(self.out / "samples" / f"step_{self.step:07d}.png", grid)
        if writer is not None:
            writer.add_image("samples", grid, self.step, dataformats="HWC")

    def run(self, until: int | None = None) -> dict[str, Any]:
        """Train until ``train.steps`` (or ``train.max_minutes``, or step ``until`` if given, saving a
        checkpoint there); returns {"step", "losses", "checkpoint"}."""
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        every = int(self.tcfg.get("checkpoint_every") or self.steps)
        log_every = int(self.tcfg.get("log_every") or 10)
        image_every = int(self.tcfg.get("image_every") or every)
        budget = self.tcfg.get("max_minutes")
        deadline = time.monotonic() + float(budget) * 60 if budget else None
        history, writer = self._start_logs() if self.main else (None, None)
        losses: dict[str, float] = {}
        saved = None
        batches = iter(self.loader)
        columns = (TextColumn("[bold]train"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                   TextColumn("{task.description}"))
        try:
            with (Progress(*columns, console=self.console, disable=not self.show_progress) as bar,
                  warnings.catch_warnings()):
                warnings.filterwarnings("ignore", message="Detected call of `lr_scheduler.step", category=UserWarning)
                task = bar.add_task("", total=self.steps, completed=self.step)
                last = min(self.steps, until) if until else self.steps
                while self.step < last:
                    batch = _to(next(batches), self.dist.device)
                    self.method.train()
                    losses = self.dist.mean({k: float(v) for k, v in self.method.train_step(batch).items()})
                    for sched in self.schedulers.values():
                        sched.step()
                    self.step += 1
                    if self.main:
                        history.write(json.dumps({"step": self.step, **losses}) + "\n")
                        history.flush()
                        if writer is not None and (self.step % log_every == 0 or self.step == 1):
                            for k, v in losses.items():
                                writer.add_scalar(f"loss/{k}", v, self.step)
                            for name, opt in self.method.optimizers.items():
                                writer.add_scalar(f"lr/{name}", opt.param_groups[0]["lr"], self.step)
                        if self.step % image_every == 0 or self.step == self.steps:
                            self._log_images(writer)
                        bar.update(task, completed=self.step,
                                   description=" ".join(f"{k} {v:.4f}" for k, v in losses.items()))
                    stop = self.dist.any(deadline is not None and time.monotonic() > deadline)
                    if self.step % every == 0 or self.step == last or stop:
                        saved = self.checkpoint()
                    if stop:
                        self.log(f"time budget of {budget} min reached at step {self.step}")
                        break
        except KeyboardInterrupt:
            if self.step and not self.dist.enabled and (saved is None or saved.stem != f"step_{self.step:07d}"):
                saved = self.checkpoint()
                self.log(f"interrupted: saved {saved}")
            raise
        finally:
            if history is not None:
                history.close()
            if writer is not None:
                writer.close()
        return {"step": self.step, "losses": losses, "checkpoint": saved}

    def close(self) -> None:
        self.dist.close()


def train(cfg: dict[str, Any], data: str | Path, out: str | Path, resume: bool = False,
          show_progress: bool = True, log: Log | None = None, until: int | None = None) -> dict[str, Any]:
    """Train ``cfg`` (see ``config.load_config``) on prepared ``data`` into ``out``; see ``Trainer.run``."""
    trainer = Trainer(cfg, data, out, resume, show_progress, log)
    try:
        return trainer.run(until)
    finally:
        trainer.close()
