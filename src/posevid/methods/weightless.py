"""The base of a method without weights (``capabilities.trains`` False: ``warp``), importing no torch.

Such a method is built from its config like any method (``config.resolve_config`` checks it: its ``model:``
options in ``Options``; it reads no dataset, so ``data_kind`` is None and the config has no ``data:``
options) and animates through ``animator()``. It has nothing to train, save or move: ``train_step``
refuses, ``to`` and ``eval`` return it as it is, and neither it nor its animator loads PyTorch, so
``posevid animate`` with it starts without importing torch.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

from ..errors import PosevidError
from .spec import Animator, Capabilities, MethodSpec, NoOptions


class WeightlessMethod(MethodSpec, ABC):
    """A method with no weights: ``cfg`` (the checked config), ``opts`` (its typed ``model:`` options) and
    ``animator()``; the stage hooks the trainer reads say it has no stages."""

    capabilities = Capabilities(trains=False)
    Options: ClassVar[type | None] = NoOptions
    data_kind: ClassVar[str | None] = None
    stages: ClassVar[tuple] = ()
    optional_stages: ClassVar[tuple] = ()

    def __init__(self, cfg: dict[str, Any] | None = None):
        from .. import options
        from ..config import resolve_config

        self.cfg = resolve_config(cfg or {"method": self.name})
        self.opts = options.parse(self.Options, self.cfg["model"], "model") if self.Options else self.cfg["model"]

    @abstractmethod
    def animator(self, **options: Any) -> Animator:
        """An animator (it holds no weights, only its current source)."""

    def train_step(self, batch: dict[str, Any]) -> dict[str, float]:
        """A method without weights has nothing to train: a user error."""
        raise PosevidError(f"method {self.name}", "has nothing to train (it has no weights); animate with it "
                                                  "directly")

    def state_dict(self) -> dict[str, Any]:
        """No weights: an empty mapping."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Accept a checkpoint's weights only when there are none (``RuntimeError`` otherwise, as
        ``torch.nn.Module.load_state_dict`` raises for weights that do not fit)."""
        if state:
            raise RuntimeError(f"method {self.name!r} has no weights, the checkpoint holds {len(state)} tensors")

    def to(self, *args: Any, **kwargs: Any) -> WeightlessMethod:
        """Itself: there is nothing to move to a device."""
        return self

    def eval(self) -> WeightlessMethod:
        """Itself: there is no training mode to leave."""
        return self

    @classmethod
    def stage_classes(cls) -> dict[str, type]:
        """No stages (``Method.stage_classes``)."""
        return {}

    @classmethod
    def default_stages(cls, cfg: dict[str, Any]) -> list[str]:
        """No stages (``Method.default_stages``)."""
        return []
