"""The methods: the contract (``base``), the registry from config names to classes (``registry``) and one
package per method (``warp``, ``dwnet``, ``pg2``, ``psgan``, ``scgan``, ``posenet``, ``decoupled``, and
``template``, the documented starting point of a new one). ``build_method(cfg)`` builds the class named by
``cfg['method']``."""

from .base import Animator, Capabilities, Method, Stage
from .registry import METHODS, build_method, method_class, method_classes, method_names, register

__all__ = ["METHODS", "Animator", "Capabilities", "Method", "Stage", "build_method", "method_class",
           "method_classes", "method_names", "register"]
