"""The trainer: ``posevid train CONFIG.yaml --data DATA --out RUN [--steps N] [--resume] [--stage NAME]
[key=value ...]``.

Drives any registered method through the method contract (``train_step``, ``optimizers``,
``visuals``). ``RUN/`` gets ``config.yaml``, ``losses.jsonl`` (one line per step), ``tb/``
(TensorBoard scalars and image grids), ``samples/step_XXXXXXX.png`` and ``checkpoints/``. A multi-stage
method (``Method.stages``) trains every stage in order into ``RUN/<n>-<stage>/`` (each such a run folder),
each later stage starting from the previous one's weights; ``--resume`` skips the finished stages and
continues the first unfinished one at its last checkpoint. Only this module and the CLI import it.

Checkpoints (``checkpoints/step_XXXXXXX.ckpt`` and ``latest.ckpt``, format in ``posevid.checkpoints``)
hold the method's state dict, optimizers, schedulers, step, the RNG states of every process and the
config. Data order and per-item augmentation derive from (seed, epoch, position), so ``--resume``
continues exactly: the losses are those of an uninterrupted run.

Under ``torchrun --nproc_per_node N -m posevid train ...`` (multi-node: ``--nnodes``, ``--rdzv-backend
c10d``) each process trains on its shard of every epoch (``train.batch_size`` is per process): each trained
network runs in its own ``DistributedDataParallel`` (``Method.distribute``, ``posevid.distributed``).
Rank 0 alone prints, logs, writes samples and checkpoints. ``--device`` / ``train.device`` picks the
device (auto: this process's GPU when CUDA is present), ``train.amp`` the precision (fp16 with one
``GradScaler`` per optimizer, saved in checkpoints), ``train.channels_last`` / ``train.compile`` opt in.
"""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader

from .checkpoints import checkpoint_candidates, find_checkpoint, save_checkpoint, serialise, stage_folder
from .config import dump_config, stage_config
from .devices import resolve_device
from .distributed import Dist, network_parts, rank
from .errors import PosevidError
from .io_utils import check_output
from .train_utils import (
    EpochBatchSampler,
    image_grid,
    linear_decay,
    rng_state,
    seed_everything,
    set_rng_state,
    step_of,
    to_device,
)

__all__ = ["EpochBatchSampler", "Trainer", "init_weights", "linear_decay", "seed_everything", "stage_plan", "train"]
Log = Callable[[str], None]


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


# ---- the loop --------------------------------------------------------------------------------------

class Trainer:
    """One training run of ``cfg`` on prepared data ``data`` into the run folder ``out``."""

    def __init__(self, cfg: dict[str, Any], data: str | Path, out: str | Path, resume: bool = False,
                 show_progress: bool = True, log: Log | None = None):
        from rich.console import Console

        from .data.datasets import build_dataset

        self.cfg, self.out, self.tcfg = cfg, Path(out), cfg["train"]
        self.dist = Dist(self.tcfg.get("device"))
        self.main = self.dist.rank == 0
        if not self.main:  # each message once: library warnings too come from rank 0 only
            warnings.simplefilter("ignore")
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
        self.method = _build(cfg).to(self.dist.device)
        if self.tcfg.get("channels_last"):
            self.method.to(memory_format=torch.channels_last)
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
        if self.tcfg.get("compile"):
            for name in {n for names in network_parts(self.method, self.method.optimizers).values() for n in names}:
                self.method._modules[name].compile()
        self.dataset = build_dataset(cfg.get("data", {}), data, "train")
        self.sampler = EpochBatchSampler(len(self.dataset), int(self.tcfg["batch_size"]), seed, self.dist.rank,
                                         self.dist.world, start=self.step)
        workers = int(self.tcfg.get("workers") or 0)
        self.loader = DataLoader(self.dataset, batch_sampler=self.sampler, num_workers=workers,
                                 generator=torch.Generator().manual_seed(seed), persistent_workers=workers > 0,
                                 pin_memory=self.dist.device.type == "cuda",
                                 prefetch_factor=2 if workers > 0 else None)

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
        for name, state in (payload.get("scalers") or {}).items():
            if state and name in self.method.optimizers:
                self.method.scaler(name).load_state_dict(state)
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
                       "scalers": {k: self.method.scaler(k).state_dict() for k in self.method.optimizers},
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
            lines = [ln for ln in history.read_text().splitlines() if step_of(ln) <= self.step]
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
                    batch = to_device(next(batches), self.dist.device, bool(self.tcfg.get("channels_last")))
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
            if self.dist.enabled:  # no DDP reducer may outlive the process group (destroyed at exit)
                self.method.undistribute()
        return {"step": self.step, "losses": losses, "checkpoint": saved}


def _build(cfg: dict[str, Any]):
    """The method of a training config, after importing the modules its ``plugins`` name (the user's own
    config names them; a checkpoint never gets this far: ``checkpoints.load_method``)."""
    from .methods.registry import build_method, import_plugins

    import_plugins(cfg.get("plugins") or [])
    try:
        return build_method(cfg)
    except KeyError as err:
        raise PosevidError(None, str(err.args[0])) from None


def _train_one(cfg: dict[str, Any], data: str | Path, out: Path, resume: bool, show_progress: bool,
               log: Log | None, until: int | None) -> dict[str, Any]:
    return Trainer(cfg, data, out, resume, show_progress, log).run(until)


def stage_plan(cfg: dict[str, Any]) -> list[str]:
    """The stages ``train`` runs for ``cfg``, in order: its ``stages:`` section's, else the method's
    default (``Method.default_stages``); empty for a single-stage method."""
    from .methods.registry import method_class

    cls = method_class(cfg["method"])
    if not cls.stage_classes():
        return []
    return list(cfg.get("stages") or cls.default_stages(cfg))


def _finished(run: Path, steps: int) -> bool:
    """Whether the run folder holds a valid checkpoint at step ``steps`` or later."""
    if not checkpoint_candidates(run):
        return False
    try:
        return int(find_checkpoint(run, "cpu")[0].get("step", 0)) >= steps
    except PosevidError:
        return False


def train(cfg: dict[str, Any], data: str | Path, out: str | Path, resume: bool = False,
          show_progress: bool = True, log: Log | None = None, until: int | None = None,
          stage: str | None = None, steps: int | None = None, device: str | None = None) -> dict[str, Any]:
    """Train ``cfg`` (see ``config.load_config``) on prepared ``data`` into the run folder ``out``.

    A multi-stage method runs every stage of ``stage_plan(cfg)`` in order into ``out/<n>-<name>/`` (or
    only ``stage``), each later stage starting from the previous stage's folder (``train.init_from``,
    unless the stage sets its own); with ``resume``, finished stages are skipped and the first unfinished
    one continues from its newest valid checkpoint. ``steps``: every stage's ``train.steps``. ``until``:
    stop at that step of a stage (saving a checkpoint) and train no further stage. ``device``: ``auto``,
    ``cpu``, ``cuda`` or ``cuda:N``, replacing ``train.device`` (of every stage).
    Returns {"step", "losses", "checkpoint"} of the last stage trained (and its "stage").
    """
    from .methods.registry import method_spec

    if not method_spec(cfg["method"]).capabilities.trains:  # a method without weights (warp)
        raise PosevidError(None, f"method {cfg['method']!r} has nothing to train (it has no weights); animate "
                                 "with it directly")
    out = Path(out)
    if device is not None:
        resolve_device(device)
        cfg = {**cfg, "train": {**cfg["train"], "device": device}}
    resolve_device(cfg["train"].get("device"), "train.device")  # before anything is written
    if out.exists() and not out.is_dir():
        raise PosevidError(out, "is a file; --out is a run folder (new, or one to --resume)")
    if not out.is_dir():
        check_output(out)
    plan = stage_plan(cfg)
    if not plan:
        if stage is not None:
            raise PosevidError("--stage", f"method {cfg['method']!r} has a single stage")
        if steps is not None:
            cfg = {**cfg, "train": {**cfg["train"], "steps": int(steps)}}
        return _train_one(cfg, data, out, resume, show_progress, log, until)
    if stage is not None and stage not in plan:
        raise PosevidError("--stage", f"{stage!r} is not a stage of this config ({', '.join(plan)}); a config's "
                                      "stages: section lists the stages it runs")
    folders = [stage_folder(out, i, name) for i, name in enumerate(plan)]
    if not resume:
        for folder in folders if stage is None else [folders[plan.index(stage)]]:
            if checkpoint_candidates(folder):
                raise PosevidError(out, "the run folder already has checkpoints; use --resume or another --out")
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.yaml").write_text(dump_config({**cfg, "stages": {n: (cfg.get("stages") or {}).get(n) or {}
                                                                     for n in plan}}))
    say = log or (lambda msg: print(msg) if rank() == 0 else None)
    result: dict[str, Any] = {}
    for i, name in enumerate(plan):
        if stage is not None and name != stage:
            continue
        scfg = stage_config(cfg, name)
        if steps is not None:
            scfg["train"]["steps"] = int(steps)
        if device is not None:
            scfg["train"]["device"] = device
        if i and not scfg["train"]["init_from"] and checkpoint_candidates(folders[i - 1]):
            scfg["train"]["init_from"] = str(folders[i - 1].resolve())
        if resume and _finished(folders[i], scfg["train"]["steps"]):
            say(f"stage {name}: finished earlier ({folders[i]})")
            continue
        say(f"stage {i + 1}/{len(plan)}: {name} -> {folders[i]}")
        result = {**_train_one(scfg, data, folders[i], resume, show_progress, log, until), "stage": name}
        if result["step"] < scfg["train"]["steps"]:
            break
    return result
