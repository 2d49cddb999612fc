"""SCGAN (stage two of Yang et al., ECCV 2018): frames from a source image and target poses with a
semantic-consistency loss; see ``model``."""

from .model import SCGAN, perturb, perturbation_response

__all__ = ["SCGAN", "perturb", "perturbation_response"]
