"""PG² (Ma et al., NeurIPS 2017): two-stage pose-guided person generation.

``model``: the method, its animator and single-image ``transfer``; ``nets``: G1, G2 and the pair
discriminator; ``data``: the ``pg2_pairs`` dataset kind (DeepFashion / Market-1501 pair lists).
"""

from .model import PG2, PG2Animator, pose_masks, read_target_pose, transfer

__all__ = ["PG2", "PG2Animator", "pose_masks", "read_target_pose", "transfer"]
