"""The template method: a documented tiny trainable method to copy when adding one (see ``model``)."""

from .model import TemplateMethod, TemplateOptions

__all__ = ["TemplateMethod", "TemplateOptions"]
