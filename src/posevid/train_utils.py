"""The trainer's parts: the resumable batch sampler, the learning-rate schedule, RNG state, the process
group facts under ``torchrun`` and the sample sheets. ``train.Trainer`` puts them together."""

from __future__ import annotations

import json
import os
import random
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch
from torch.utils.data import Sampler

from .errors import PosevidError
from .tensors import tensor_to_image


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

def to_device(batch: Any, device: torch.device) -> Any:
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, dict):
        return {k: to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(to_device(v, device) for v in batch)
    return batch


def step_of(line: str) -> float:
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


def check_device(name: str) -> torch.device:
    """``train.device`` as a torch device; one-line ``PosevidError`` for a name torch does not know or a CUDA
    device this machine does not have."""
    from .errors import PosevidError

    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        raise PosevidError("train.device", f"{name!r:.40} is not a device (cpu, cuda or cuda:N)") from None
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise PosevidError("train.device", f"{name}: no CUDA device is available on this machine")
        if device.index is not None and device.index >= count:
            raise PosevidError("train.device", f"{name}: this machine has {count} CUDA device(s)")
    elif device.type != "cpu" and not getattr(torch, device.type).is_available():
        raise PosevidError("train.device", f"{name}: no {device.type} device is available on this machine")
    return device


class Dist:
    """Process-group facts: rank, world size, device; a no-op outside torchrun."""

    def __init__(self, device: str | None):
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        local = int(os.environ.get("LOCAL_RANK", "0"))
        if device:
            self.device = check_device(device)
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
