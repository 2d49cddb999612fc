"""Data-parallel training with PyTorch's ``DistributedDataParallel``, as ``torchrun`` launches it.

``Dist`` holds the process-group facts (rank, world size, device) and the few collectives the trainer
needs besides the gradients (mean losses, a stop flag, RNG states for the checkpoint).

``wrap_networks(method, device)`` wraps each *trained network* of a method in its own
``DistributedDataParallel``: a trained network is the set of the method's direct sub-modules holding the
parameters of one optimizer (``Method.optimizers``), e.g. DwNet's generator (pose encoder, appearance
encoder, refinement, fusion, decoder) and its discriminator. Each sub-module gets a ``Route``: calling
it (or one of its own methods such as ``encode``, or an item of a ``ModuleList``) runs through the
wrapper's ``forward``, so the gradients of its parameters are averaged by DDP's bucketed all-reduce,
overlapped with the backward pass. ``Method.__getattr__`` hands out the routes while the method trains
with gradients enabled; state-dict keys are those of the unwrapped method. On CUDA, batch norm becomes
``SyncBatchNorm`` in the trained networks (PyTorch's SyncBatchNorm needs a GPU: on CPUs every process
normalises with its own batch statistics).

DDP's rules apply to a method's ``train_step``: every parameter of a trained network gets its gradient
in the one backward pass before that network's optimizer step (a network may run several times before
it; a frozen one, ``requires_grad_(False)``, takes part in no reduction); a step that backpropagates
twice into the same network before stepping its optimizer does the first inside ``Method.no_sync(name)``.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import gc
import os
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn

from .devices import resolve_device
from .errors import PosevidError


def rank() -> int:
    """This process's rank under ``torchrun`` (0 outside it)."""
    return int(os.environ.get("RANK", "0"))


class Dist:
    """Process-group facts: rank, world size, device; a no-op outside torchrun.

    ``device``: ``auto`` / None (this process's GPU, ``cuda:<LOCAL_RANK>``, when CUDA is present), ``cpu``,
    ``cuda`` or ``cuda:N``. Under torchrun the process group uses NCCL on CUDA and gloo on CPUs (and where
    several processes share a GPU, which NCCL refuses). It is made once per process and kept for every
    later trainer of the process (the stages of a multi-stage method): creating it again on torchrun's
    store can pair ranks of different generations; it is destroyed when the process exits.
    """

    def __init__(self, device: str | torch.device | None):
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = rank()
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        self.device = resolve_device(device, "train.device")
        self.enabled = self.world > 1
        if self.device.type == "cuda":
            torch.cuda.set_device(self.device)
        if self.enabled and not torch.distributed.is_initialized():
            local_world = int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
            nccl = self.device.type == "cuda" and local_world <= torch.cuda.device_count()
            torch.distributed.init_process_group("nccl" if nccl else "gloo")
            atexit.register(_destroy)

    def barrier(self) -> None:
        if self.enabled:
            torch.distributed.barrier()

    def mean(self, values: dict[str, float]) -> dict[str, float]:
        """Average scalar losses over the processes (for the log; gradients are DDP's)."""
        if not self.enabled or not values:
            return values
        t = torch.tensor(list(values.values()), dtype=torch.float64, device=self._comm_device)
        torch.distributed.all_reduce(t)
        return dict(zip(values, (t / self.world).tolist()))

    def any(self, flag: bool) -> bool:
        """Whether ``flag`` is true on any process."""
        if not self.enabled:
            return flag
        t = torch.tensor([float(flag)], device=self._comm_device)
        torch.distributed.all_reduce(t, op=torch.distributed.ReduceOp.MAX)
        return bool(t.item())

    def gather(self, obj: Any) -> list[Any]:
        """``obj`` of every process, by rank."""
        if not self.enabled:
            return [obj]
        out: list[Any] = [None] * self.world
        torch.distributed.all_gather_object(out, obj)
        return out

    @property
    def _comm_device(self) -> torch.device:
        return self.device if self.device.type == "cuda" else torch.device("cpu")


def _destroy() -> None:
    """Destroy the process group at exit, after freeing what still holds it (a DDP reducer kept alive by a
    reference cycle): a group freed later, while the interpreter shuts down, aborted a rank once in 10
    runs ("terminate called without an active exception")."""
    if torch.distributed.is_initialized():
        gc.collect()
        torch.distributed.destroy_process_group()
        gc.collect()


# ---- one DDP wrapper per trained network -------------------------------------------------------------

class _Network(nn.Module):
    """The sub-modules of one trained network, for ``DistributedDataParallel`` to wrap. Its ``forward``
    calls the sub-module at ``path`` (attribute names and ``ModuleList`` indices), or its method ``attr``."""

    def __init__(self, parts: dict[str, nn.Module]):
        super().__init__()
        self.parts = nn.ModuleDict(parts)

    def forward(self, path: tuple[str | int, ...], attr: str | None, *args: Any, **kwargs: Any) -> Any:
        target: Any = self.parts
        for key in path:
            target = target[key] if isinstance(key, int) else getattr(target, key)
        return (target if attr is None else getattr(target, attr))(*args, **kwargs)


class Route:
    """Stands for a sub-module of a trained network while it trains under DDP: calls go through the
    network's ``DistributedDataParallel``; ``nn.Module``'s own methods (``parameters``,
    ``requires_grad_``, ...) and plain attributes are the sub-module's."""

    def __init__(self, ddp: nn.Module, path: tuple[str | int, ...], module: nn.Module):
        self._ddp, self._path, self._module = ddp, path, module

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._ddp(self._path, None, *args, **kwargs)

    def __getitem__(self, index: int) -> Route:
        return Route(self._ddp, (*self._path, int(index)), self._module[index])

    def __len__(self) -> int:
        return len(self._module)

    def __iter__(self) -> Iterator[Route]:
        return (self[i] for i in range(len(self._module)))

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._module, name)
        if isinstance(value, nn.Module):
            return Route(self._ddp, (*self._path, name), value)
        if name == "forward":
            return self
        if callable(value) and getattr(value, "__self__", None) is self._module and not hasattr(nn.Module, name):
            return functools.partial(self._ddp, self._path, name)
        return value


def network_parts(method: nn.Module, optimizers: dict[str, torch.optim.Optimizer]) -> dict[str, list[str]]:
    """Optimizer name -> the names of the method's direct sub-modules that hold its parameters.

    ``PosevidError`` when a sub-module holds the parameters of two optimizers, or an optimizer has
    parameters outside the method's sub-modules (DDP could not average their gradients)."""
    children = dict(method.named_children())
    owner: dict[str, str] = {}
    parts: dict[str, list[str]] = {}
    for opt_name, opt in optimizers.items():
        ids = {id(p) for group in opt.param_groups for p in group["params"]}
        names = [n for n, child in children.items() if any(id(p) in ids for p in child.parameters())]
        covered = {id(p) for n in names for p in children[n].parameters()}
        if ids - covered:
            raise PosevidError(f"optimizer {opt_name!r}", "has parameters outside the method's sub-modules; "
                                                          "DistributedDataParallel cannot average their gradients")
        for n in names:
            if n in owner:
                raise PosevidError(f"optimizer {opt_name!r}", f"shares sub-module {n!r} with optimizer {owner[n]!r}; "
                                                              "each trained network needs its own sub-modules")
            owner[n] = opt_name
        parts[opt_name] = names
    return parts


def wrap_networks(method: nn.Module, device: torch.device) -> tuple[dict[str, Route], dict[str, nn.Module]]:
    """Wrap each trained network of ``method`` (built, on ``device``, with its optimizers) in its own
    ``DistributedDataParallel`` over the default process group. Returns (sub-module name -> ``Route``,
    optimizer name -> its DDP wrapper). Every parameter and buffer of the method starts as rank 0's."""
    from torch import distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    with torch.no_grad():
        for t in [*method.parameters(), *method.buffers()]:
            dist.broadcast(t.data, 0)
    routes: dict[str, Route] = {}
    wrappers: dict[str, nn.Module] = {}
    for opt_name, names in network_parts(method, method.optimizers).items():
        if device.type == "cuda":
            for n in names:
                method._modules[n] = nn.SyncBatchNorm.convert_sync_batchnorm(method._modules[n])
        network = _Network({n: method._modules[n] for n in names})
        ddp = DistributedDataParallel(network, device_ids=[device.index] if device.type == "cuda" else None)
        wrappers[opt_name] = ddp
        routes.update({n: Route(ddp, (n,), method._modules[n]) for n in names})
    return routes, wrappers


def no_sync(wrappers: list[nn.Module]) -> contextlib.AbstractContextManager:
    """DDP's ``no_sync`` on several wrappers at once: gradients accumulate locally until the next backward
    pass outside it."""
    stack = contextlib.ExitStack()
    for ddp in wrappers:
        stack.enter_context(ddp.no_sync())
    return stack
