"""The template method's declarations (step 3 of ``model``'s docstring).
``model.TemplateMethod`` derives from it."""

from __future__ import annotations

from ..registry import declare
from ..spec import Capabilities, MethodSpec


@declare("template")
class TemplateSpec(MethodSpec):
    """The template method's declarations."""

    capabilities = Capabilities(trains=True, animates=True)
    implementation = ".model"
