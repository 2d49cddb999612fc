"""One module per method; ``build_method(cfg)`` picks the class named by ``cfg['method']``."""

from .base import METHODS, Animator, Method, build_method, method_class, register

__all__ = ["METHODS", "Animator", "Method", "build_method", "method_class", "register"]
