"""The method contract every model follows, and the registry from config names to classes.

A method is built from its config dict, trains through ``train_step(batch)`` and animates through
``animator()``. The trainer, CLI, UI and metrics only know this contract.
"""

from __future__ import annotations

import contextlib
import importlib
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from typing import Any, ClassVar

import cv2
import numpy as np
import torch
from torch import Tensor, nn

from ..errors import PosevidError
from ..poses import Poses
from ..tensors import image_to_tensor, tensor_to_image


class Animator(ABC):
    """Takes a source image and its pose once (``reset``), then makes one frame per target pose.

    Images are (H, W, 3) uint8 RGB; masks (H, W) float32 in [0, 1]; poses are one-frame ``Poses``
    in the source image's pixel coordinates (already retargeted onto the source body).
    ``alpha``: after each ``step``, the (H, W) float32 coverage in [0, 1] of the person the animator
    drew, for animators that know it (the warp family); None otherwise. Quality benchmarks read it as
    the target silhouette.
    """

    alpha: np.ndarray | None = None

    @abstractmethod
    def reset(self, source: np.ndarray, pose: Poses, mask: np.ndarray | None = None) -> None:
        """Remember the source; clears any state carried between frames."""

    @abstractmethod
    def step(self, target: Poses) -> np.ndarray:
        """The next frame (H, W, 3) uint8 for the one-frame target pose."""

    def animate(self, source: np.ndarray, pose: Poses, targets: Iterable[Poses],
                mask: np.ndarray | None = None) -> Iterator[np.ndarray]:
        """``reset`` then one frame per target pose, lazily (memory stays flat in the length)."""
        self.reset(source, pose, mask)
        for target in targets:
            yield self.step(target)


class FixedSizeAnimator(Animator):
    """An animator for a method that generates at one fixed size: the source is resized to
    (``width``, ``height``) once, each target pose is scaled the same way, and each generated frame is
    resized back to the source's size. Subclasses implement ``start`` and ``generate``."""

    def __init__(self, device: torch.device, width: int, height: int):
        self.device, self.width, self.height = device, width, height
        self.scale = np.ones(2, np.float32)
        self.out_size: tuple[int, int] | None = None

    @abstractmethod
    def start(self, source: Tensor, xy: Tensor, conf: Tensor) -> None:
        """Remember the resized source (1, 3, height, width) in [-1, 1] and its pose (1, 18, 2) px, (1, 18)."""

    @abstractmethod
    def generate(self, xy: Tensor, conf: Tensor) -> Tensor:
        """The frame (1, 3, height, width) in [-1, 1] for a scaled target pose (1, 18, 2) px, (1, 18)."""

    def reset(self, source: np.ndarray, pose: Poses, mask: np.ndarray | None = None) -> None:
        h, w = source.shape[:2]
        self.out_size = (w, h)
        self.scale = np.array([self.width / w, self.height / h], np.float32)
        small = cv2.resize(source, (self.width, self.height), interpolation=cv2.INTER_AREA)
        self.start(image_to_tensor(small, self.device)[None], *self._scaled(pose))

    @torch.no_grad()
    def step(self, target: Poses) -> np.ndarray:
        if self.out_size is None:
            raise RuntimeError(f"{type(self).__name__}.step called before reset")
        frame = tensor_to_image(self.generate(*self._scaled(target))[0])
        if frame.shape[1::-1] != self.out_size:
            frame = cv2.resize(frame, self.out_size, interpolation=cv2.INTER_LINEAR)
        return frame

    def _scaled(self, pose: Poses) -> tuple[Tensor, Tensor]:
        """The first frame of ``pose`` in model pixels: xy (1, 18, 2), conf (1, 18), on the device."""
        xy = torch.from_numpy(np.asarray(pose.xy[:1] * self.scale, np.float32)).to(self.device)
        return xy, torch.from_numpy(np.array(pose.conf[:1], np.float32)).to(self.device)


class Method(nn.Module, ABC):
    """Base of every method: networks are sub-modules, optimizers live in ``self.optimizers``.

    Batches are dicts of tensors (see ``posevid.data.datasets``): images (B, 3, H, W) in [-1, 1],
    keypoints (B, 18, 2) in pixels, confidences (B, 18), masks (B, 1, H, W) in [0, 1].
    """

    name: ClassVar[str] = ""
    trainable: ClassVar[bool] = True

    def __init__(self, cfg: dict[str, Any]):
        super().__init__()
        self.cfg = cfg
        self.optimizers: dict[str, torch.optim.Optimizer] = {}
        self._visuals: dict[str, torch.Tensor] = {}

    @abstractmethod
    def train_step(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        """One optimisation step on ``batch`` (forward, backward, optimizer steps); returns losses."""

    @abstractmethod
    def animator(self) -> Animator:
        """An animator using the current weights (eval mode, no gradients)."""

    def inference_graph(self):
        """This method's networks as the stages its animator runs (``posevid.inference.InferenceGraph``),
        sharing the method's weights; what backends prepare, export and run. Methods without networks
        have none."""
        raise PosevidError(f"method {self.name}", "has no networks to run with an inference backend")

    @property
    def engine(self):
        """What runs the inference graph for this method's animators: the one chosen with
        ``posevid.inference.use_backend`` (or loaded from an exported model), else the graph itself in
        PyTorch at the training precision."""
        engine = self.__dict__.get("_engine")
        if engine is None:
            from ..inference.graph import default_engine

            engine = default_engine(self.inference_graph())
        return engine

    @engine.setter
    def engine(self, engine) -> None:
        self.__dict__["_engine"] = engine

    def visuals(self) -> dict[str, torch.Tensor]:
        """Images of the last step for logging: name -> (B, 3, H, W) in [-1, 1]."""
        return self._visuals

    @property
    def device(self) -> torch.device:
        for p in self.parameters():
            return p.device
        return torch.device("cpu")

    def autocast(self) -> contextlib.AbstractContextManager:
        """Mixed precision when ``train.amp`` is set: bf16 on CPU, fp16 on CUDA; else a no-op."""
        if not self.cfg.get("train", {}).get("amp", False):
            return contextlib.nullcontext()
        dev = self.device.type
        return torch.autocast(dev, dtype=torch.bfloat16 if dev == "cpu" else torch.float16)

    def adam(self, name: str, params: Iterable[nn.Parameter], lr: float | None = None) -> torch.optim.Adam:
        """Create and register an Adam optimizer from ``train.lr`` and ``train.betas``."""
        train = self.cfg.get("train", {})
        opt = torch.optim.Adam(list(params), lr=lr if lr is not None else float(train.get("lr", 2e-4)),
                               betas=tuple(train.get("betas", (0.5, 0.999))))
        self.optimizers[name] = opt
        return opt

    def distribute(self) -> None:
        """Data-parallel training over the default process group (DistributedDataParallel semantics).

        Called by the trainer under ``torchrun`` after the method is built. Rank 0's parameters and
        buffers are broadcast to every process; before each step of every optimizer in
        ``self.optimizers`` the gradients of its parameters are averaged over the processes (one flat
        all-reduce), so all ranks take the same step. Methods need no changes, state-dict keys stay
        the same, and unlike wrapping sub-networks in ``DistributedDataParallel`` it works when a
        method calls a network's other methods (``encode``), runs a discriminator twice per step or
        freezes parts of a network.
        """
        from torch import distributed as dist

        with torch.no_grad():
            for t in [*self.parameters(), *self.buffers()]:
                dist.broadcast(t.data, 0)
        for opt in self.optimizers.values():
            opt.register_step_pre_hook(_average_gradients)


def _average_gradients(opt: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
    """Optimizer step pre-hook: average the gradients of ``opt``'s parameters over all processes.

    A parameter without a gradient on some ranks counts as zero there; one without a gradient on
    every rank keeps ``grad = None`` (Adam skips it, as in a single-process run).
    """
    from torch import distributed as dist

    params = [p for group in opt.param_groups for p in group["params"]]
    if not params:
        return
    dev = params[0].device
    has = torch.tensor([p.grad is not None for p in params], dtype=torch.float32, device=dev)
    grads = [(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1).float() for p in params]
    flat = torch.cat([*grads, has])
    dist.all_reduce(flat)
    flat /= dist.get_world_size()
    offset = 0
    for i, p in enumerate(params):
        n = p.numel()
        if flat[flat.numel() - len(params) + i] > 0:
            p.grad = flat[offset:offset + n].view_as(p).to(p.dtype).clone()
        offset += n


METHODS: dict[str, type[Method]] = {}
# Name -> module that registers it; imported on first use so that `import posevid` stays light.
_MODULES = {
    "warp": "posevid.methods.warp",
    "dwnet": "posevid.methods.dwnet",
    "pg2": "posevid.methods.pg2",
    "psgan": "posevid.methods.psgan",
    "scgan": "posevid.methods.scgan",
    "posenet": "posevid.methods.posenet",
    "decoupled": "posevid.methods.decoupled",
}


def register(name: str):
    """Class decorator: make a ``Method`` buildable as ``method: <name>`` in a config."""

    def wrap(cls: type[Method]) -> type[Method]:
        cls.name = name
        METHODS[name] = cls
        return cls

    return wrap


def method_class(name: str) -> type[Method]:
    """The class registered under ``name`` (importing its module if needed)."""
    if name not in METHODS and name in _MODULES:
        importlib.import_module(_MODULES[name])
    if name not in METHODS:
        raise KeyError(f"unknown method {name!r}; known: {', '.join(sorted(_MODULES))}")
    return METHODS[name]


def method_names() -> list[str]:
    """Sorted names of every known method: the built-in ones and any registered by a plugin."""
    return sorted({*_MODULES, *METHODS})


def build_method(cfg: dict[str, Any]) -> Method:
    """Instantiate the method named by ``cfg['method']`` from its config."""
    return method_class(cfg["method"])(cfg)
