"""The methods: the contract (``spec``: what a method declares, importable without torch; ``base``: the
``Method`` class), the registry from config names to specs and classes (``registry``) and one package per
method (``warp``, ``dwnet``, ``pg2``, ``psgan``, ``scgan``, ``posenet``, ``decoupled``, and ``template``, the
documented starting point of a new one). ``build_method(cfg)`` builds the class named by ``cfg['method']``.
``Method`` and ``Stage`` (``base``, which imports torch) are imported on first use."""

from .. import lazy_exports
from .registry import (
    METHODS,
    SPECS,
    build_method,
    declare,
    method_class,
    method_classes,
    method_names,
    method_spec,
    method_specs,
    register,
)
from .spec import Animator, Capabilities, MethodSpec

__getattr__ = lazy_exports(__name__, {"Method": ".base", "Stage": ".base"})

__all__ = ["METHODS", "SPECS", "Animator", "Capabilities", "Method", "MethodSpec", "Stage", "build_method",
           "declare", "method_class", "method_classes", "method_names", "method_spec", "method_specs", "register"]
