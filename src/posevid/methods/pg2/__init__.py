"""PG² (Ma et al., NeurIPS 2017): two-stage pose-guided person generation.

``model``: the method, its stages and animator; ``nets``: G1, G2 and the pair discriminator; ``data``:
the ``pg2_pairs`` dataset kind (DeepFashion / Market-1501 pair lists); ``transfer``: single-image pose
transfer; ``cli``: ``posevid transfer``.
"""

from ... import lazy_exports
from .spec import PG2Spec  # registers the method's declarations; the rest is imported on first use

__getattr__ = lazy_exports(__name__, {
    "PG2": ".model",
    "pose_masks": ".model",
    "read_target_pose": ".transfer",
    "transfer": ".transfer",
})

__all__ = ["PG2", "PG2Spec", "pose_masks", "read_target_pose", "transfer"]
