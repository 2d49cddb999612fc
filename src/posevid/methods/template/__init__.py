"""The template method: a documented tiny trainable method to copy when adding one (see ``model``)."""

from ... import lazy_exports
from .spec import TemplateSpec  # registers the method's declarations; the rest is imported on first use

__getattr__ = lazy_exports(__name__, {
    "TemplateMethod": ".model",
    "TemplateOptions": ".model",
})

__all__ = ["TemplateMethod", "TemplateOptions", "TemplateSpec"]
