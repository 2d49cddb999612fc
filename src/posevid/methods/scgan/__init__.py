"""SCGAN (stage two of Yang et al., ECCV 2018): frames from a source image and target poses with a
semantic-consistency loss; see ``model``."""

from ... import lazy_exports
from .spec import SCGANSpec  # registers the method's declarations; the rest is imported on first use

__getattr__ = lazy_exports(__name__, {
    "SCGAN": ".model",
    "perturb": ".model",
    "perturbation_response": ".model",
})

__all__ = ["SCGAN", "SCGANSpec", "perturb", "perturbation_response"]
