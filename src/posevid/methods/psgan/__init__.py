"""PSGAN (stage one of Yang et al., ECCV 2018): pose sequences from an action label and an initial pose.

``model``: the generator, the discriminator and the method; ``nets``: the coordinate networks (decoder,
discriminator with its action head, the bank of training start poses); ``motion``: the motion-generation
tools (``generate_motion``, ``motion_for_photo``, ``sample_to_folder``, ``load_psgan`` (None: the bundled
model), ``export_checkpoint``); ``cli``: ``posevid motion generate`` and ``posevid motion sample``.
"""

from ... import lazy_exports
from .spec import PSGANSpec  # registers the method's declarations; the rest is imported on first use

__getattr__ = lazy_exports(__name__, {
    "PSGAN": ".model",
    "export_checkpoint": ".motion",
    "generate_motion": ".motion",
    "load_psgan": ".motion",
    "motion_for_photo": ".motion",
    "sample_to_folder": ".motion",
    "soft_argmax": ".model",
})

__all__ = ["PSGAN", "PSGANSpec", "export_checkpoint",
           "generate_motion", "load_psgan", "motion_for_photo", "sample_to_folder", "soft_argmax"]
