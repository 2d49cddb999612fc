"""PG2: two-stage pose-guided person image generation (Ma et al., NeurIPS 2017).

Stage I (``G1Stage``, ``g1``): G1 turns [I_A, heatmaps of P_B] into a coarse I_B1, trained with the pose
mask loss ||(G1 - I_B) * (1 + M_B)||_1 (or plain L1). Stage II (``G2Stage``, ``g2``): G1 is frozen (its
weights come from stage I: ``posevid train`` runs both stages in order), G2 predicts a difference map
added to I_B1, and a DCGAN discriminator on (I_A, image) pairs is trained against it with BCE + lambda *
masked L1. ``g1_d`` is the paper's one-stage baseline (``G1DStage``): G1 trained with the same adversarial
loss. Options: ``PG2Options``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor

from ... import render
from ...errors import PosevidError
from ...losses import GANLoss, l1, pose_mask_l1
from ...options import option
from ..base import Animator, FixedSizeAnimator, Method, Stage, register
from . import data as _pairs  # noqa: F401  (registers data.kind "pg2_pairs")
from .inference import PG2Graph
from .nets import G1, G2, PairDiscriminator, default_blocks, pose_vector
from .spec import PG2Spec


@dataclass
class PG2Options:
    """``model:`` options of PG² (defaults: the paper at 256x256)."""

    stage: Literal["g1", "g2", "g1_d"] = option("g1", "the stage this model trains / was trained in (the "
                                                      "trainer sets it for each stage)")
    blocks: int | None = option(None, "N, residual blocks of G1 (default: from the image size)", ge=1)
    hidden: int = option(128, "filters of G1's first block (block i has hidden * (i + 1))", ge=1)
    z_dim: int = option(64, "fully connected bottleneck of G1", ge=1)
    pose_embedding: Literal["heatmap", "coordinate", "heatmap_encoder"] = option(
        "heatmap", "target pose input: heatmaps (the paper), coordinates (CE) or a heatmap encoder (HME)")
    loss: Literal["pose_mask", "l1"] = option("pose_mask", "reconstruction loss: eq. 1's pose-mask L1, or plain L1")
    l1_weight: float = option(10.0, "lambda on the reconstruction loss in the adversarial stages", ge=0)
    heatmap_radius: float = option(4.0, "radius of the keypoint disks in pixels", gt=0)
    d_base: int = option(64, "discriminator width", ge=1)
    g2_blocks: int | None = option(None, "residual blocks of G2 (default: N - 2)", ge=1)


def pose_masks(xy: Tensor, conf: Tensor, height: int, width: int) -> Tensor:
    """PG2's M_B for a batch: (B, 18, 2) pixels, (B, 18) -> (B, 1, H, W) float32 in {0, 1}."""
    xy_np, conf_np = xy.detach().float().cpu().numpy(), conf.detach().float().cpu().numpy()
    masks = np.stack([render.pose_mask(p, c, height, width) for p, c in zip(xy_np, conf_np)])
    return torch.from_numpy(masks[:, None]).to(xy.device)


class G1Stage(Stage):
    """Stage I: G1 alone, trained with the reconstruction loss."""

    name = "g1"

    def setup(self) -> None:
        self.method.adam("g1", self.method.g1.parameters())

    def train_step(self, batch: dict[str, Tensor]) -> dict[str, float]:
        m = self.method
        src, tgt, xy, conf, mask = m.unpack(batch)
        fake = m.coarse(src, xy, conf)
        m._visuals = {"source": src, "target": tgt, "coarse": fake.detach()}
        m.g1_steps += 1
        return self.update(src, tgt, fake, mask)

    def update(self, src: Tensor, tgt: Tensor, fake: Tensor, mask: Tensor) -> dict[str, float]:
        """One step of G1 on its output ``fake`` for the target ``tgt``."""
        loss = self.method.reconstruction(fake, tgt, mask)
        self.method.optimize("g1", loss)
        return {"l1": loss.item()}


class G1DStage(G1Stage):
    """The paper's one-stage baseline: G1 trained with the adversarial loss + lambda * reconstruction."""

    name = "g1_d"

    def setup(self) -> None:
        super().setup()
        self.method.add_discriminator()

    def update(self, src: Tensor, tgt: Tensor, fake: Tensor, mask: Tensor) -> dict[str, float]:
        return self.method.adversarial(src, tgt, fake, mask, "g1")


class G2Stage(Stage):
    """Stage II: G1 frozen (from stage I, through ``train.init_from``), G2 + D trained adversarially."""

    name = "g2"

    def setup(self) -> None:
        m = self.method
        m.g1.requires_grad_(False)
        m.adam("g2", m.g2.parameters())
        m.add_discriminator()

    def train_step(self, batch: dict[str, Tensor]) -> dict[str, float]:
        m = self.method
        if int(m.g1_steps) == 0:
            raise PosevidError("train.init_from", "PG2 stage g2 needs a trained G1: set it to a stage-I checkpoint")
        src, tgt, xy, conf, mask = m.unpack(batch)
        with torch.no_grad():
            coarse = m.coarse(src, xy, conf)
        fake = m.refine(src, coarse)
        m._visuals = {"source": src, "target": tgt, "coarse": coarse, "refined": fake.detach()}
        losses = m.adversarial(src, tgt, fake, mask, "g2")
        losses["l1_coarse"] = m.reconstruction(coarse, tgt, mask).item()
        return losses


@register("pg2")
class PG2(PG2Spec, Method):
    """PG² trained in two stages (``G1Stage`` then ``G2Stage``; ``G1DStage`` is the one-stage baseline).
    Every stage's checkpoint holds G1 (and G2 + D once trained); options in ``PG2Options``."""

    Options = PG2Options
    opts: PG2Options
    stages = (G1Stage, G2Stage)
    optional_stages = (G1DStage,)

    def __init__(self, cfg: dict[str, Any]):
        super().__init__(cfg)
        m = self.opts
        self.height = self.image_size()
        self.width = int(self.cfg["data"].get("width") or self.height)
        blocks = m.blocks or default_blocks(self.height, self.width)
        self.radius, self.l1_weight = m.heatmap_radius, m.l1_weight
        try:
            self.g1 = G1(self.height, self.width, blocks, m.hidden, m.z_dim, m.pose_embedding)
            if m.stage == "g2":
                self.g2 = G2(self.height, self.width, m.g2_blocks or max(1, blocks - 2), m.hidden)
        except ValueError as err:  # pose embedding or image size that does not fit the blocks
            raise PosevidError("model", str(err)) from None
        # Counts stage-I steps; stage II refuses to start from an untrained G1.
        self.register_buffer("g1_steps", torch.zeros((), dtype=torch.long))
        self.start_stage(m.stage)

    def add_discriminator(self) -> None:
        """The DCGAN pair discriminator and its optimizer (the adversarial stages)."""
        self.d = PairDiscriminator(self.height, self.width, self.opts.d_base)
        self.adam("d", self.d.parameters())
        self.gan = GANLoss("bce")

    def unpack(self, batch: dict[str, Tensor]) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
        """(source, target, target xy, target conf, target pose mask) of a pairs batch, on the device."""
        dev = self.device
        xy, conf = batch["xy"][:, 0].to(dev), batch["conf"][:, 0].to(dev)
        return (batch["src"].to(dev), batch["frames"][:, 0].to(dev), xy, conf,
                pose_masks(xy, conf, self.height, self.width))

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
        if self.opts.stage == "g2":
            out = self.refine(image, out)
        return out.clamp(-1, 1)

    def reconstruction(self, fake: Tensor, real: Tensor, mask: Tensor) -> Tensor:
        """The configured L1 term: pose-mask L1 (eq. 1) or plain L1."""
        return pose_mask_l1(fake, real, mask) if self.opts.loss == "pose_mask" else l1(fake, real)

    def adversarial(self, src: Tensor, tgt: Tensor, fake: Tensor, mask: Tensor, gen: str) -> dict[str, float]:
        """One D step (eq. 2: real (I_A, I_B) vs fake (I_A, fake)), then one step of generator ``gen``
        on eq. 3 + l1_weight * the reconstruction loss."""
        with self.autocast():
            d_real = self.gan(self.d(src, tgt), True)
            d_fake = self.gan(self.d(src, fake.detach()), False)
        self.optimize("d", d_real + d_fake)
        self.d.requires_grad_(False)
        with self.autocast():
            g_adv = self.gan(self.d(src, fake), True, for_discriminator=False)
        self.d.requires_grad_(True)
        rec = self.reconstruction(fake, tgt, mask)
        self.optimize(gen, g_adv + self.l1_weight * rec)
        return {"l1": rec.item(), "g_adv": g_adv.item(), "d_real": d_real.item(), "d_fake": d_fake.item()}

    def animator(self) -> Animator:
        """Frame by frame at the model's size from the source and the target pose (``PG2Animator``)."""
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
