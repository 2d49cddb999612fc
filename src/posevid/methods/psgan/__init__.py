"""PSGAN (stage one of Yang et al., ECCV 2018): pose sequences from an action label and an initial pose.

``model``: the generator, the discriminator and the method; ``nets``: the coordinate networks (decoder,
discriminator with its action head, the bank of training start poses); ``motion``: the motion-generation
tools (``generate_motion``, ``motion_for_photo``, ``sample_to_folder``, ``load_psgan`` (None: the bundled
model), ``export_checkpoint``); ``cli``: ``posevid motion generate`` and ``posevid motion sample``.
"""

from .model import PSGAN, soft_argmax
from .motion import export_checkpoint, generate_motion, load_psgan, motion_for_photo, sample_to_folder

__all__ = ["PSGAN", "export_checkpoint", "generate_motion", "load_psgan", "motion_for_photo", "sample_to_folder",
           "soft_argmax"]
