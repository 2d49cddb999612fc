"""The registry from config names to method specs and classes, without a hand-kept map.

A method is found by the name configs use (``method: dwnet``) in three places, in this order:

1. specs and classes already registered with ``@declare(name)`` / ``@register(name)`` (a module the user
   imported: ``posevid --plugin MODULE``, a training config's ``plugins``, or their own code);
2. the built-in subpackages of ``posevid.methods``, whose folder name is the method name (listed from the
   package's folder, imported on first use: a package imports only its ``spec``);
3. installed packages declaring an entry point in the ``posevid.methods`` group
   (``[project.entry-points."posevid.methods"] mine = "their_package.mine"``), imported on first use.

``method_spec(name)`` gives what the method declares (``spec.MethodSpec``: capabilities, command-line
hooks) without importing its networks or torch; ``method_class(name)`` imports the spec's
``implementation`` and gives the ``Method`` class. A class registered without a spec is its own spec.

Nothing else is ever imported: a name read from a checkpoint only selects among these, so loading a
checkpoint cannot make posevid import a module the checkpoint names.
"""

from __future__ import annotations

import difflib
import functools
import importlib
import pkgutil
from importlib.metadata import EntryPoint, entry_points
from typing import TYPE_CHECKING, Any

from ..errors import PosevidError

if TYPE_CHECKING:
    from .base import Method
    from .spec import MethodSpec

ENTRY_POINT_GROUP = "posevid.methods"
METHODS: dict[str, type[Method]] = {}
SPECS: dict[str, type[MethodSpec]] = {}


def declare(name: str):
    """Class decorator: make a ``MethodSpec`` the declarations of method ``name`` (its ``implementation``
    registers the class)."""

    def wrap(cls: type[MethodSpec]) -> type[MethodSpec]:
        cls.name = name
        SPECS[name] = cls
        return cls

    return wrap


def register(name: str):
    """Class decorator: make a ``Method`` buildable as ``method: <name>`` in a config (and its own spec when
    none was declared)."""

    def wrap(cls: type[Method]) -> type[Method]:
        cls.name = name
        METHODS[name] = cls
        SPECS.setdefault(name, cls)
        return cls

    return wrap


@functools.lru_cache(maxsize=1)
def builtin_names() -> tuple[str, ...]:
    """Names of the built-in methods: the subpackages of ``posevid.methods``."""
    from .. import methods

    found = pkgutil.iter_modules(methods.__path__)
    return tuple(sorted(m.name for m in found if m.ispkg and not m.name.startswith("_")))


def _entry_points() -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def method_names() -> list[str]:
    """Sorted names of every method that can be used: registered, built in, or installed as a plugin."""
    return sorted({*SPECS, *METHODS, *builtin_names(), *_entry_points()})


def method_spec(name: Any) -> type[MethodSpec]:
    """The spec declared under ``name`` (light: no networks, no torch for a built-in method), importing its
    built-in package or entry point if needed.

    Raises ``KeyError`` with a one-line message (naming the nearest known method) for any other name.
    """
    if not isinstance(name, str) or not name:
        raise KeyError(f"a method name must be a non-empty text, got {name!r:.40}")
    if name not in SPECS:
        if name in builtin_names():
            importlib.import_module(f"{__package__}.{name}")
        elif name in (eps := _entry_points()):
            try:
                eps[name].load()
            except Exception as err:  # a broken third-party plugin: one line, not its traceback
                raise KeyError(f"the plugin of method {name!r} ({eps[name].value}) cannot be loaded "
                               f"({type(err).__name__}: {err})") from None
    if name not in SPECS:
        known = method_names()
        near = difflib.get_close_matches(name, known, n=1)
        hint = f"did you mean {near[0]!r}? " if near else ""
        raise KeyError(f"unknown method {name!r:.60}; {hint}known: {', '.join(known)}")
    return SPECS[name]


def method_class(name: Any) -> type[Method]:
    """The class registered under ``name``, importing its spec's ``implementation`` if needed (``KeyError``
    as ``method_spec``)."""
    if name not in METHODS:
        spec = method_spec(name)
        spec.import_implementation()
        if name not in METHODS:
            raise KeyError(f"method {name!r}: {spec.implementation or spec.__module__} registers no class")
    return METHODS[name]


def method_specs() -> list[type[MethodSpec]]:
    """Every usable method's spec (imports no implementation)."""
    return [method_spec(name) for name in method_names()]


def method_classes() -> list[type[Method]]:
    """Every usable method's class (imports them all)."""
    return [method_class(name) for name in method_names()]


def build_method(cfg: dict[str, Any]) -> Method:
    """Instantiate the method named by ``cfg['method']`` from its config (checked and completed first)."""
    return method_class(cfg["method"])(cfg)


def import_plugins(modules: list[str] | tuple[str, ...], where: Any = None) -> None:
    """Import modules the user named (``--plugin``, a training config's ``plugins``); they may ``register``
    methods or dataset kinds. ``PosevidError`` naming the module if it cannot be imported."""
    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError as err:
            raise PosevidError(where or module, f"cannot import the plugin module {module!r} ({err})") from None
        except Exception as err:  # the plugin itself failed: still one line
            raise PosevidError(where or module, f"the plugin module {module!r} failed to import "
                                                f"({type(err).__name__}: {err})") from None
