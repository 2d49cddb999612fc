"""PG2: two-stage pose-guided person image generation (Ma et al., NeurIPS 2017).

Stage I (``model.stage: g1``): G1 turns [I_A, heatmaps of P_B] into a coarse I_B1, trained with the pose
mask loss ||(G1 - I_B) * (1 + M_B)||_1 (or plain L1). Stage II (``g2``): G1 is frozen (its weights come
from a stage-I run through ``train.init_from``), G2 predicts a difference map added to I_B1, and a DCGAN
discriminator on (I_A, image) pairs is trained against it with BCE + lambda * masked L1. ``g1_d`` is the
paper's one-stage baseline: G1 trained with the same adversarial loss.

Options (``model:``): stage, blocks (N; default from the image size), hidden (filters of the first
block), z_dim (FC bottleneck), pose_embedding (heatmap | coordinate | heatmap_encoder), loss (pose_mask
| l1), l1_weight (lambda), heatmap_radius (pixels), d_base (discriminator width), g2_blocks (default N - 2).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ... import render
from ...errors import PosevidError
from ...losses import GANLoss, l1, pose_mask_l1
from ...poses import Poses
from ..base import Animator, FixedSizeAnimator, Method, register
from . import data as _pairs  # noqa: F401  (registers data.kind "pg2_pairs")
from .inference import PG2Graph
from .nets import G1, G2, PairDiscriminator, default_blocks, pose_vector

STAGES = ("g1", "g1_d", "g2")
LOSSES = ("pose_mask", "l1")


def image_size(cfg: dict[str, Any]) -> tuple[int, int]:
    """(height, width) of the model's images: ``data.size`` and ``data.width`` (default: square)."""
    data = cfg.get("data", {})
    size = int(data.get("size", 64))
    return size, int(data.get("width") or size)


def pose_masks(xy: Tensor, conf: Tensor, height: int, width: int) -> Tensor:
    """PG2's M_B for a batch: (B, 18, 2) pixels, (B, 18) -> (B, 1, H, W) float32 in {0, 1}."""
    xy_np, conf_np = xy.detach().float().cpu().numpy(), conf.detach().float().cpu().numpy()
    masks = np.stack([render.pose_mask(p, c, height, width) for p, c in zip(xy_np, conf_np)])
    return torch.from_numpy(masks[:, None]).to(xy.device)


@register("pg2")
class PG2(Method):
    """PG2 for one training stage; every stage's checkpoint holds G1 (and G2 + D when trained)."""

    def __init__(self, cfg: dict[str, Any]):
        super().__init__(cfg)
        m = cfg.get("model", {})
        self.height, self.width = image_size(cfg)
        self.stage = m.get("stage", "g1")
        self.loss_kind = m.get("loss", "pose_mask")
        if self.stage not in STAGES:
            raise PosevidError("model.stage", f"must be one of {', '.join(STAGES)}, got {self.stage!r}")
        if self.loss_kind not in LOSSES:
            raise PosevidError("model.loss", f"must be one of {', '.join(LOSSES)}, got {self.loss_kind!r}")
        blocks = int(m.get("blocks") or default_blocks(self.height, self.width))
        hidden = int(m.get("hidden", 128))
        self.radius = float(m.get("heatmap_radius", 4))
        self.l1_weight = float(m.get("l1_weight", 10.0))
        try:
            self.g1 = G1(self.height, self.width, blocks, hidden, int(m.get("z_dim", 64)),
                         m.get("pose_embedding", "heatmap"))
            if self.stage == "g2":
                self.g2 = G2(self.height, self.width, int(m.get("g2_blocks") or max(1, blocks - 2)), hidden)
        except ValueError as err:  # pose embedding or image size that does not fit the blocks
            raise PosevidError("model", str(err)) from None
        # Counts stage-I steps; stage II refuses to start from an untrained G1.
        self.register_buffer("g1_steps", torch.zeros((), dtype=torch.long))
        if self.stage == "g2":
            self.g1.requires_grad_(False)
            self.adam("g2", self.g2.parameters())
        else:
            self.adam("g1", self.g1.parameters())
        if self.stage != "g1":
            self.d = PairDiscriminator(self.height, self.width, int(m.get("d_base", 64)))
            self.adam("d", self.d.parameters())
            self.gan = GANLoss("bce")

    def pose_inputs(self, xy: Tensor, conf: Tensor) -> tuple[Tensor, Tensor]:
        """Target pose as G1 inputs: heatmaps (B, 18, H, W) (disks of ``heatmap_radius``) and the
        keypoint vector (B, 54) for coordinate embedding. xy (B, 18, 2) in model-image pixels."""
        maps = render.heatmaps(xy.float(), conf.float(), self.height, self.width, kind="disk", radius=self.radius)
        return maps.to(xy.device), pose_vector(xy.float(), conf.float(), self.height, self.width)

    def coarse(self, image: Tensor, xy: Tensor, conf: Tensor) -> Tensor:
        """Stage-I output I_B1 (B, 3, H, W) for source images (B, 3, H, W) and target keypoints."""
        maps, vec = self.pose_inputs(xy, conf)
        with self.autocast():
            return self.g1(image, maps, vec).float()

    def refine(self, image: Tensor, coarse: Tensor) -> Tensor:
        """Stage-II output I_B2 = I_B1 + G2(I_A, I_B1), (B, 3, H, W)."""
        with self.autocast():
            return coarse + self.g2(image, coarse).float()

    @torch.no_grad()
    def generate(self, image: Tensor, xy: Tensor, conf: Tensor) -> Tensor:
        """The trained stage's output (refined for g2, else coarse), clamped to [-1, 1]: (B, 3, H, W)."""
        out = self.coarse(image, xy, conf)
        if self.stage == "g2":
            out = self.refine(image, out)
        return out.clamp(-1, 1)

    def reconstruction(self, fake: Tensor, real: Tensor, mask: Tensor) -> Tensor:
        """The configured L1 term: pose-mask L1 (eq. 1) or plain L1."""
        return pose_mask_l1(fake, real, mask) if self.loss_kind == "pose_mask" else l1(fake, real)

    def train_step(self, batch: dict[str, Tensor]) -> dict[str, float]:
        dev = self.device
        src, tgt = batch["src"].to(dev), batch["frames"][:, 0].to(dev)
        xy, conf = batch["xy"][:, 0].to(dev), batch["conf"][:, 0].to(dev)
        mask = pose_masks(xy, conf, self.height, self.width)
        if self.stage == "g2":
            if int(self.g1_steps) == 0:
                raise PosevidError("train.init_from", "PG2 stage g2 needs a trained G1: set it to a stage-I checkpoint")
            with torch.no_grad():
                coarse = self.coarse(src, xy, conf)
            fake = self.refine(src, coarse)
            self._visuals = {"source": src, "target": tgt, "coarse": coarse, "refined": fake.detach()}
            losses = self._adversarial(src, tgt, fake, mask, "g2")
            losses["l1_coarse"] = self.reconstruction(coarse, tgt, mask).item()
            return losses
        fake = self.coarse(src, xy, conf)
        self._visuals = {"source": src, "target": tgt, "coarse": fake.detach()}
        self.g1_steps += 1
        if self.stage == "g1_d":
            return self._adversarial(src, tgt, fake, mask, "g1")
        loss = self.reconstruction(fake, tgt, mask)
        opt = self.optimizers["g1"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return {"l1": loss.item()}

    def _adversarial(self, src: Tensor, tgt: Tensor, fake: Tensor, mask: Tensor, gen: str) -> dict[str, float]:
        """One D step (eq. 2: real (I_A, I_B) vs fake (I_A, fake)), then one step of generator ``gen``
        on eq. 3 + l1_weight * the reconstruction loss."""
        opt_d, opt_g = self.optimizers["d"], self.optimizers[gen]
        with self.autocast():
            d_real = self.gan(self.d(src, tgt), True)
            d_fake = self.gan(self.d(src, fake.detach()), False)
        opt_d.zero_grad(set_to_none=True)
        (d_real + d_fake).backward()
        opt_d.step()
        self.d.requires_grad_(False)
        with self.autocast():
            g_adv = self.gan(self.d(src, fake), True, for_discriminator=False)
        self.d.requires_grad_(True)
        rec = self.reconstruction(fake, tgt, mask)
        opt_g.zero_grad(set_to_none=True)
        (g_adv + self.l1_weight * rec).backward()
        opt_g.step()
        return {"l1": rec.item(), "g_adv": g_adv.item(), "d_real": d_real.item(), "d_fake": d_fake.item()}

    def animator(self) -> Animator:
        return PG2Animator(self)

    def inference_graph(self) -> PG2Graph:
        return PG2Graph(self)


class PG2Animator(FixedSizeAnimator):
    """Frame by frame at the model's size (``FixedSizeAnimator``), through the method's engine
    (``PG2Graph``: the image encoder once per clip where the pose embedding allows)."""

    def __init__(self, method: PG2):
        super().__init__(method.device, method.width, method.height)
        self.method = method
        self.cached: dict[str, Tensor] = {}

    def start(self, source: Tensor, xy: Tensor, conf: Tensor) -> None:
        self.engine = self.method.engine
        self.cached = {"image": source}
        if "source" in self.engine.stages:
            self.cached.update(self.engine.run("source", image=source))

    def generate(self, xy: Tensor, conf: Tensor) -> Tensor:
        maps, vec = self.method.pose_inputs(xy, conf)
        feed = {**self.cached, "maps": maps, "vec": vec}
        return self.engine.run("frame", **{k: feed[k] for k in self.engine.stages["frame"].inputs})["frame"]


def read_target_pose(path: str | Path, frame: int = 0) -> Poses:
    """The one-frame target pose of ``transfer``: frame ``frame`` of a pose file, or the pose estimated
    in an image of another person (its own pixel coordinates)."""
    from ...video import IMAGE_SUFFIXES, read_image

    path = Path(path)
    if path.suffix.lower() in IMAGE_SUFFIXES:
        from ...estimate import estimate_poses

        poses = estimate_poses(read_image(path))
        if not (poses.conf > 0).any():
            raise PosevidError(path, "no person found in the target image")
        return poses
    from ...posefiles import read_poses

    poses = read_poses(path)
    if not -len(poses) <= frame < len(poses):
        raise PosevidError(path, f"has {len(poses)} frames; frame {frame} does not exist")
    if not (poses.conf[frame] > 0).any():
        raise PosevidError(path, f"frame {frame} holds no visible joint")
    return poses[frame]


def transfer(source: str | Path | np.ndarray, target: str | Path | Poses, checkpoint: str | Path,
             size: int | None = None, frame: int = 0) -> np.ndarray:
    """Single-image pose transfer: the person in ``source`` in the pose of ``target``.

    ``target``: a pose file (frame ``frame``), an image of another person, or one-frame ``Poses``. The
    source is cropped to a square around the person (side ``size``, default the checkpoint's training
    size) as ``posevid animate`` does, and the target pose is scaled and moved onto the source body
    (absolute retargeting). Works with any trained method's animator. Returns (size, size, 3) uint8.
    """
    from ...pipeline import Animation

    pose = target if isinstance(target, Poses) else read_target_pose(target, frame)
    anim = Animation(source, pose[:1], checkpoint=checkpoint, mode="absolute", size=size, smooth=False)
    try:
        result, _ = next(iter(anim))
    finally:
        anim.close()
    return result
