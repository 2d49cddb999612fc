"""The method contract every model follows.

A method is built from its config dict, trains through ``train_step(batch)`` and animates through
``animator()``. It declares what it can do (``capabilities``), its ``model:`` options as a dataclass
(``Options``), the dataset kind it reads (``data_kind``), its training stages (``stages``) and what it
adds to the command line (``modify_commandline_options``). The declarations read without building the
method (capabilities, command-line hooks) are its spec's (``spec.MethodSpec``, which ``Method`` derives
from; a built-in method's class derives from its package's spec). The trainer, CLI, page, pipeline and
evaluation only know this contract; ``methods.registry`` finds a method by its config name.
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor, nn

from ..errors import PosevidError
from ..poses import Poses
from ..tensors import image_to_tensor, resize_image, tensor_to_image
from .spec import Animator, Capabilities, MethodSpec, NoOptions


class Stage:
    """One training stage of a multi-stage method (``Method.stages``), selected by ``model.stage``.

    ``setup`` builds what the stage trains on the method (networks as sub-modules of the method, so that
    their state-dict names stay the method's; optimizers with ``method.adam``); ``train_step`` is one
    optimisation step. A stage that needs an earlier one checks it in ``setup`` or ``train_step`` (the
    trainer starts each stage from the previous stage's checkpoint through ``train.init_from``).
    """

    name: ClassVar[str] = ""

    def __init__(self, method: Method):
        self.method = method

    def setup(self) -> None:
        """Build this stage's trained networks and optimizers on ``self.method``."""

    @abstractmethod
    def train_step(self, batch: dict[str, Tensor]) -> dict[str, float]:
        """One optimisation step of this stage; returns its losses."""


class FixedSizeAnimator(Animator):
    """An animator for a method that generates at one fixed size: the source is resized to
    (``width``, ``height``) once, each target pose is scaled the same way, and each generated frame is
    resized back to the source's size. Subclasses implement ``start`` and ``generate``."""

    def __init__(self, device: torch.device, width: int, height: int, keypoints: str = "body"):
        self.device, self.width, self.height = device, width, height
        self.keypoints = keypoints  # "face": the poses' 68 face landmarks are what the model takes
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
        small = resize_image(source, self.width, self.height)
        self.start(image_to_tensor(small, self.device)[None], *self._scaled(pose))

    @torch.no_grad()
    def step(self, target: Poses) -> np.ndarray:
        if self.out_size is None:
            raise RuntimeError(f"{type(self).__name__}.step called before reset")
        return resize_image(tensor_to_image(self.generate(*self._scaled(target))[0]), *self.out_size)

    def _scaled(self, pose: Poses) -> tuple[Tensor, Tensor]:
        """The first frame of ``pose`` in model pixels: xy (1, 18, 2), conf (1, 18) (the face's (1, 68, 2),
        (1, 68) for ``keypoints="face"``), on the device."""
        xy, conf = (pose.face_xy, pose.face_conf) if self.keypoints == "face" else (pose.xy, pose.conf)
        if xy is None:
            raise PosevidError("pose", "this model animates faces: the pose has no face landmarks")
        xy = torch.from_numpy(np.asarray(xy[:1] * self.scale, np.float32)).to(self.device)
        return xy, torch.from_numpy(np.array(conf[:1], np.float32)).to(self.device)


class SourceAnimator(FixedSizeAnimator):
    """A ``FixedSizeAnimator`` for a method that makes each frame from the source and the target pose
    alone: ``generate(source (1, 3, h, w), source xy (1, 18, 2), source conf (1, 18), xy, conf) -> (1, 3,
    h, w)`` in [-1, 1], at the model's size (PG², SCGAN, the template)."""

    def __init__(self, device: torch.device, width: int, height: int,
                 generate: Callable[[Tensor, Tensor, Tensor, Tensor, Tensor], Tensor], keypoints: str = "body"):
        super().__init__(device, width, height, keypoints)
        self._generate = generate
        self.source: tuple[Tensor, Tensor, Tensor] | None = None

    def start(self, source: Tensor, xy: Tensor, conf: Tensor) -> None:
        self.source = (source, xy, conf)

    def generate(self, xy: Tensor, conf: Tensor) -> Tensor:
        return self._generate(*self.source, xy, conf)


class Method(MethodSpec, nn.Module, ABC):
    """Base of every method: networks are sub-modules, optimizers live in ``self.optimizers``.

    Built from a config dict (``config.resolve_config`` checks it and fills in the defaults):
    ``self.cfg`` is that dict, ``self.opts`` the typed ``model:`` options (an ``Options`` instance, or the
    plain mapping when the class declares no ``Options``), ``self.data_opts`` the dataset kind's options
    and ``self.train_opts`` the trainer's (``config.TrainOptions``).

    Batches are dicts of tensors (see ``posevid.data.datasets``): images (B, 3, H, W) in [-1, 1],
    keypoints (B, 18, 2) in pixels, confidences (B, 18), masks (B, 1, H, W) in [0, 1].

    Class attributes a method sets (besides its spec's ``capabilities`` and command-line hooks, usually
    inherited from its ``spec`` module's class): ``name`` (by ``register``), ``Options`` (a
    dataclass of its ``model:`` options), ``data_kind`` (the default ``data.kind``), ``stages`` (the
    ``Stage`` classes trained in order by one ``posevid train``; empty for a single-stage method) and
    ``optional_stages`` (stages run only when a config or ``--stage`` names them).
    """

    Options: ClassVar[type | None] = None
    data_kind: ClassVar[str] = "clips"
    stages: ClassVar[tuple[type[Stage], ...]] = ()
    optional_stages: ClassVar[tuple[type[Stage], ...]] = ()

    def __init__(self, cfg: dict[str, Any]):
        from .. import options
        from ..config import TrainOptions, resolve_config
        from ..data.datasets import dataset_options

        super().__init__()
        self.cfg = resolve_config(cfg)
        self.opts = (options.parse(self.Options, self.cfg["model"], "model") if self.Options is not None
                     else self.cfg["model"])
        data_options = dataset_options(self.cfg["data"]["kind"])
        self.data_opts = options.parse(data_options, self.cfg["data"], "data") if data_options else self.cfg["data"]
        self.train_opts: TrainOptions = options.parse(TrainOptions, self.cfg["train"], "train")
        self.optimizers: dict[str, torch.optim.Optimizer] = {}
        self._visuals: dict[str, torch.Tensor] = {}
        self.stage: Stage | None = None

    # ---- the contract ---------------------------------------------------------------------------
    def train_step(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        """One optimisation step on ``batch`` (forward, backward, optimizer steps); returns losses.

        A multi-stage method's step is its current stage's (``start_stage``)."""
        if self.stage is None:
            raise NotImplementedError(f"{type(self).__name__} implements neither train_step nor stages")
        return self.stage.train_step(batch)

    @abstractmethod
    def animator(self) -> Animator:
        """An animator using the current weights (eval mode, no gradients)."""

    def motion(self, action: str, start: Poses, frames: int, seed: int = 0) -> Poses:
        """A ``frames``-long pose sequence of ``action`` from the one-frame pose ``start`` (its pixels);
        methods with ``capabilities.generates_motion``."""
        raise PosevidError(None, f"method {self.name!r} does not generate motion")

    @classmethod
    def actions(cls, cfg: dict[str, Any]) -> tuple[str, ...]:
        """The action labels a motion model with config ``cfg`` knows (without building it)."""
        return ()

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

    # ---- stages ---------------------------------------------------------------------------------
    @classmethod
    def stage_classes(cls) -> dict[str, type[Stage]]:
        """Every stage this method can train, by name (the default order first)."""
        return {s.name: s for s in (*cls.stages, *cls.optional_stages)}

    @classmethod
    def default_stages(cls, cfg: dict[str, Any]) -> list[str]:
        """The stages ``posevid train`` runs for ``cfg`` when its ``stages:`` section names none: ``stages``
        in order (a method may leave out a stage its options disable)."""
        return [s.name for s in cls.stages]

    def start_stage(self, name: str) -> Stage:
        """Make stage ``name`` the one ``train_step`` runs and build what it trains (call at the end of
        ``__init__``, once the shared networks exist)."""
        stages = self.stage_classes()
        if name not in stages:
            raise PosevidError("model.stage", f"must be one of {', '.join(stages)}, got {name!r}")
        self.stage = stages[name](self)
        self.stage.setup()
        return self.stage

    # ---- helpers --------------------------------------------------------------------------------
    def image_size(self) -> int:
        """``data.size``: the side of the square images the method works at (``PosevidError`` if unset)."""
        size = self.cfg["data"].get("size")
        if not size:
            raise PosevidError("data.size", f"method {self.name!r} needs the image size (data.size)")
        return int(size)

    @property
    def device(self) -> torch.device:
        for p in self.parameters():
            return p.device
        return torch.device("cpu")

    def amp_dtype(self) -> torch.dtype | None:
        """The autocast dtype of ``train.amp`` on this method's device (``devices.amp_dtype``); None: fp32."""
        from ..devices import amp_dtype

        return amp_dtype(self.train_opts.amp, self.device)

    def autocast(self) -> contextlib.AbstractContextManager:
        """Mixed precision as ``train.amp`` says (bf16 or fp16 autocast on this method's device); else a
        no-op. ``grid_sample`` stays in fp32 (``warp`` leaves autocast for it)."""
        dtype = self.amp_dtype()
        if dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=dtype)

    def adam(self, name: str, params: Iterable[nn.Parameter], lr: float | None = None) -> torch.optim.Adam:
        """Create and register an Adam optimizer from ``train.lr`` and ``train.betas``."""
        opt = torch.optim.Adam(list(params), lr=lr if lr is not None else self.train_opts.lr,
                               betas=tuple(self.train_opts.betas))
        self.optimizers[name] = opt
        return opt

    def scaler(self, name: str) -> torch.amp.GradScaler:
        """The gradient scaler of optimizer ``name``: active with ``train.amp: fp16`` (loss scaling against
        fp16 underflow), a pass-through otherwise. Its state is saved in checkpoints."""
        scalers = self.__dict__.setdefault("_scalers", {})
        if name not in scalers:
            scalers[name] = torch.amp.GradScaler(self.device.type, enabled=self.amp_dtype() == torch.float16)
        return scalers[name]

    def optimize(self, name: str, loss: Tensor) -> None:
        """One update of optimizer ``name`` on ``loss``: zero its gradients, backpropagate (scaled under
        fp16), step (skipped by the scaler when fp16 gradients overflowed) and update the scale."""
        opt, scaler = self.optimizers[name], self.scaler(name)
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()

    # ---- data parallel ----------------------------------------------------------------------------
    def distribute(self) -> None:
        """Data-parallel training under ``torchrun``: each trained network (the sub-modules holding one
        optimizer's parameters) in its own ``DistributedDataParallel`` (``posevid.distributed``).

        Called by the trainer once the method is built, on its device, with its optimizers. While the
        method trains with gradients enabled, ``self.<sub-module>`` is a ``distributed.Route`` that calls
        through the wrapper; state-dict keys stay the same."""
        from ..distributed import wrap_networks

        routes, wrappers = wrap_networks(self, self.device)
        self.__dict__["_routes"], self.__dict__["_ddp"] = routes, wrappers

    def undistribute(self) -> None:
        """Drop the ``DistributedDataParallel`` wrappers of ``distribute`` (the networks stay, trained): the
        trainer does it when it stops, so that no DDP reducer outlives the process group."""
        self.__dict__.pop("_routes", None)
        self.__dict__.pop("_ddp", None)

    def no_sync(self, *names: str) -> contextlib.AbstractContextManager:
        """Inside: backward passes into the trained networks of optimizers ``names`` (all when none is
        named) accumulate gradients locally, without DDP's all-reduce (a network backpropagated twice
        before its optimizer steps: the first pass inside). A no-op outside torchrun."""
        from ..distributed import no_sync

        ddp = self.__dict__.get("_ddp") or {}
        return no_sync([w for n, w in ddp.items() if not names or n in names])

    def __getattr__(self, name: str) -> Any:
        routes = self.__dict__.get("_routes")
        if routes and name in routes and self.__dict__.get("training") and torch.is_grad_enabled():
            return routes[name]
        return super().__getattr__(name)


from .registry import METHODS, build_method, method_class, method_names, register  # noqa: E402  (re-exported)

__all__ = ["METHODS", "Animator", "Capabilities", "FixedSizeAnimator", "Method", "NoOptions", "SourceAnimator", "Stage",
           "build_method", "method_class", "method_names", "register"]
