"""What a method declares before it is built, importable without torch.

Each built-in method's package holds a ``spec`` module with one ``MethodSpec`` subclass, registered with
``@declare(name)``: its ``capabilities``, what it adds to the command line (``modify_commandline_options``,
``animator_options``) and ``implementation``, the module that defines (and ``@register``\\ s) the ``Method``
class built from a config. The method class derives from its spec, so it declares the same things. The
command line, the page and the pipeline read specs (``registry.method_spec``); the implementation, with
its networks and torch, is imported when the method is built (``registry.method_class``), so a command
that animates with a method without networks (``warp``) never imports torch.

Also here, because a method without networks uses them without torch: ``Capabilities``, ``NoOptions``
and the ``Animator`` interface. A method's package imports its spec and exports its other names lazily
(``posevid.lazy_exports``).
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

if TYPE_CHECKING:
    from ..cli_hooks import CommandLine
    from ..poses import Poses


@dataclass(frozen=True)
class Capabilities:
    """What a method can do; the CLI, the page and evaluation decide from these, never from its name."""

    trains: bool = True  # has optimizers: ``posevid train`` trains it
    animates: bool = True  # ``animator()`` makes frames of a photo for target poses
    generates_motion: bool = False  # ``motion()`` makes a pose sequence from an action label
    needs_densepose: bool = False  # its data and animator need DensePose IUV (``posevid prepare --iuv``)
    faces: bool = False  # its animator animates a face pose (``face.is_face_pose``: a portrait's face)
    bodies: bool = True  # its animator animates body poses (False: a model trained on faces alone)


@dataclass
class NoOptions:
    """The ``model:`` options of a method that takes none."""


class MethodSpec:
    """The declarations of a method, read without building it (or importing its networks).

    ``name`` (set by ``registry.declare`` / ``registry.register``), ``capabilities``, ``implementation``
    (the module defining the ``Method`` class, absolute or relative to the spec's package, e.g.
    ``".model"``; imported by ``registry.method_class``) and the command-line hooks.
    """

    name: ClassVar[str] = ""
    capabilities: ClassVar[Capabilities] = Capabilities()
    implementation: ClassVar[str] = ""
    commands: ClassVar[str] = ""  # the module whose ``add_commands(cli)`` adds this method's command line

    @classmethod
    def modify_commandline_options(cls, cli: CommandLine) -> None:
        """Add this method's options to ``posevid animate`` and its own subcommands (``cli_hooks``): the
        ``add_commands(cli)`` of ``commands`` (absolute or relative to the spec's package), imported only
        now; nothing when it is empty."""
        if cls.commands:
            cls._import("commands").add_commands(cli)

    @classmethod
    def animator_options(cls, values: dict[str, Any]) -> dict[str, Any]:
        """Keyword arguments of ``animator()`` from the values of this method's ``animate_option``s (those
        given on the command line; ``seed`` is ``posevid animate --seed``). Default: the values as they are."""
        return {k: v for k, v in values.items() if k != "seed"}

    @classmethod
    def import_implementation(cls) -> None:
        """Import ``implementation`` (which registers the method's class); nothing when it is empty (a class
        registered directly is its own spec)."""
        if cls.implementation:
            cls._import("implementation")

    @classmethod
    def _import(cls, attribute: str) -> ModuleType:
        """Import the module named by ``attribute`` (``implementation`` or ``commands``), absolute or relative
        to the package of the class that sets it."""
        owner = next(k for k in cls.__mro__ if attribute in vars(k))
        return importlib.import_module(getattr(cls, attribute), owner.__module__.rpartition(".")[0])


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
