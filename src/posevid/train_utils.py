"""The trainer's parts: the resumable batch sampler, the learning-rate schedule, RNG state and the sample
sheets (the process group: ``posevid.distributed``). ``train.Trainer`` puts them together."""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch
from torch.utils.data import DistributedSampler, Sampler

from .errors import PosevidError
from .tensors import tensor_to_image


class EpochBatchSampler(Sampler):
    """Endless batches of ``(index, item_seed)`` keys, resumable at any batch.

    Epoch e shuffles ``range(n)`` with seed (seed, e) and ``DistributedSampler`` deals it out (padded by
    wrapping to a multiple of ``world``, every ``world``-th position from ``rank``), wrapped to whole
    batches. (The shuffle is numpy's, seeded with (seed, e), not ``DistributedSampler``'s own, so that a
    one-process run keeps the data order it always had.) Item seeds depend on (seed, epoch, position) only,
    the position in the shuffled epoch being ``rank + world * j`` for this rank's j-th item, so ``world``
    processes with ``batch_size`` B draw, step by step, the items (and seeds) one process draws with batch
    size ``world * B``; starting at batch ``start`` reproduces exactly what an uninterrupted run draws there.
    """

    def __init__(self, n: int, batch_size: int, seed: int = 0, rank: int = 0, world: int = 1, start: int = 0):
        if n <= 0:
            raise PosevidError(None, "the training dataset is empty")
        if batch_size < 1 or world < 1:
            raise PosevidError("train.batch_size", f"must be at least 1, got {batch_size}")
        self.n, self.batch_size, self.seed, self.rank, self.world, self.start = n, batch_size, seed, rank, world, start
        self.deal = DistributedSampler(range(n), num_replicas=world, rank=rank, shuffle=False)
        self.batches_per_epoch = -(-len(self.deal) // batch_size)

    def epoch_batches(self, epoch: int) -> list[list[tuple[int, int]]]:
        """This rank's batches of one epoch."""
        perm = np.random.default_rng([self.seed, epoch]).permutation(self.n)
        total = self.batches_per_epoch * self.batch_size
        positions = np.resize(np.fromiter(self.deal, np.int64), total)
        seeds = np.random.SeedSequence([self.seed, epoch]).generate_state(total * self.world, np.uint64) % (2 ** 63)
        keys = [(int(perm[p]), int(seeds[self.rank + self.world * j])) for j, p in enumerate(positions)]
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

def to_device(batch: Any, device: torch.device, channels_last: bool = False) -> Any:
    """Tensors of a batch (nested dicts, lists, tuples) on ``device``, copied without blocking (from pinned
    memory on CUDA); with ``channels_last``, 4-d float tensors (images) in that memory format."""
    if isinstance(batch, torch.Tensor):
        if channels_last and batch.dim() == 4 and batch.is_floating_point():
            return batch.to(device, non_blocking=True, memory_format=torch.channels_last)
        return batch.to(device, non_blocking=True)
    if isinstance(batch, dict):
        return {k: to_device(v, device, channels_last) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(to_device(v, device, channels_last) for v in batch)
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
