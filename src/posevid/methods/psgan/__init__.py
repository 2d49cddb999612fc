"""PSGAN (stage one of Yang et al., ECCV 2018): pose sequences from an action label and an initial pose.

``model``: the generator, the discriminator, the method and the motion-generation tools
(``generate_motion``, ``motion_for_photo``, ``sample_to_folder``).
"""

from .model import PSGAN, generate_motion, motion_for_photo, sample_to_folder, soft_argmax

__all__ = ["PSGAN", "generate_motion", "motion_for_photo", "sample_to_folder", "soft_argmax"]
