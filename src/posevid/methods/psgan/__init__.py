"""PSGAN (stage one of Yang et al., ECCV 2018): pose sequences from an action label and an initial pose.

``model``: the generator, the discriminator and the method; ``motion``: the motion-generation tools
(``generate_motion``, ``motion_for_photo``, ``sample_to_folder``); ``cli``: ``posevid motion generate``
and ``posevid motion sample``.
"""

from .model import PSGAN, soft_argmax
from .motion import generate_motion, motion_for_photo, sample_to_folder

__all__ = ["PSGAN", "generate_motion", "motion_for_photo", "sample_to_folder", "soft_argmax"]
