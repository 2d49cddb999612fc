"""PG² (Ma et al., NeurIPS 2017): two-stage pose-guided person generation.

``model``: the method, its stages and animator; ``nets``: G1, G2 and the pair discriminator; ``data``:
the ``pg2_pairs`` dataset kind (DeepFashion / Market-1501 pair lists); ``transfer``: single-image pose
transfer; ``cli``: ``posevid transfer``.
"""

from .model import PG2, pose_masks
from .transfer import read_target_pose, transfer

__all__ = ["PG2", "pose_masks", "read_target_pose", "transfer"]
