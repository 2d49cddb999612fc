"""Decoupled learning for colour-controllable human video (Yang et al., ICASSP 2020).

Three training stages of one method (``stages``: encoders -> restore -> generator), run in order by one
``posevid train``; each later stage starts from the previous stage's checkpoint (the checkpoint keeps
every shared network). Options: ``options.DecoupledOptions``; the ``decoupled`` dataset kind: ``data``.

z reaches the generators as each region's latent tiled over that body region and concatenated to the
input (at both scales of pix2pixHD): tiled over the whole image, as the paper says, it would be a
per-channel constant that the first instance normalisation removes. Stage II also standardises z with
the moments of the training latents (``LatentStandardizer``); see docs/methods.md.

Feature maps are [stick figure, edge map] (``data.feature_maps``). The animator (``animator``) re-encodes
the colour of the source, or takes a colour / latent / photo per body region, optionally moving
linearly to another over the clip (``tools.recolor_to_file``, section 4.4).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from ... import warp
from ...data.color import REGIONS
from ...errors import PosevidError
from ...losses import GANLoss
from ...nets.encoders import ResnetEncoder
from ...nets.unet import UNet
from ..base import Method, register
from . import data as _data  # noqa: F401  (registers data.kind "decoupled")
from .animator import DecoupledAnimator, LatentSpec
from .inference import DecoupledGraph
from .nets import FEATURE_CH, CoarseToFineGenerator, LatentStandardizer, latent_map
from .options import DecoupledOptions
from .spec import DecoupledSpec
from .stages import STAGES


@register("decoupled")
class Decoupled(DecoupledSpec, Method):
    """The decoupled method (``DecoupledOptions``; ``data.kind: decoupled``, ``data.DecoupledDataOptions``).

    Shared networks: the colour encoders, the restoration network (``model.restore.enabled``), the
    coarse-to-fine generator and the latent standardiser; each stage adds the networks it trains."""

    Options = DecoupledOptions
    opts: DecoupledOptions
    data_kind = "decoupled"
    stages = STAGES

    def __init__(self, cfg: dict[str, Any]):
        super().__init__(cfg)
        m = self.opts
        self.size = self.image_size()
        d = self.data_opts
        self.edges, self.lift, self.frames = d.edges, d.lift, d.frames
        self.z_dims = (m.encoder.z_up, m.encoder.z_down)
        e = m.encoder
        enc = {"base": e.base, "n_blocks": e.n_blocks, "norm": e.norm or m.norm, "logvar_init": e.logvar_init}
        self.enc_up = ResnetEncoder(3, self.z_dims[0], **enc)
        self.enc_down = ResnetEncoder(3, self.z_dims[1], **enc)
        self.use_restore = m.restore.enabled
        r = m.restore
        self.restorer = UNet(FEATURE_CH, FEATURE_CH, r.base, r.depth, m.norm) if self.use_restore else None
        if self.restorer is not None:  # residual: it starts as the identity on the warped feature map
            nn.init.zeros_(self.restorer.head[0].weight)
            nn.init.zeros_(self.restorer.head[0].bias)
        g = m.generator
        self.generator = CoarseToFineGenerator(FEATURE_CH + 3 + sum(self.z_dims), 3, g.base, g.n_down, g.n_blocks,
                                               g.local_blocks, m.norm, extra_ch=sum(self.z_dims))
        self.z_stats = LatentStandardizer(self.z_dims)
        # Training steps done per stage (encoders, restore, generator); later stages check them.
        self.register_buffer("stage_steps", torch.zeros(3, dtype=torch.long))
        self.gan = GANLoss("lsgan")
        self.requires_grad_(False)
        self.start_stage(m.stage)

    @classmethod
    def default_stages(cls, cfg: dict[str, Any]) -> list[str]:
        """encoders, restore, generator; without the restore stage when ``model.restore.enabled`` is false."""
        enabled = ((cfg.get("model") or {}).get("restore") or {}).get("enabled", True)
        return [s.name for s in cls.stages if enabled or s.name != "restore"]

    # ---- building blocks --------------------------------------------------------------------
    @property
    def encoders(self) -> tuple[ResnetEncoder, ResnetEncoder]:
        return self.enc_up, self.enc_down

    def encode(self, image: Tensor, region: str | None = None) -> Tensor:
        """Latent means of images (B, 3, S, S) in [-1, 1]: [z_up, z_down] (B, 24), or one region's."""
        with self.autocast():
            if region is not None:
                return self.encoders[REGIONS.index(region)](image)[0].float()
            return torch.cat([enc(image)[0].float() for enc in self.encoders], 1)

    def estimate_features(self, src_feat: Tensor, src_parts: Tensor, src_regions: Tensor, src_xy: Tensor,
                          src_conf: Tensor, dst_xy: Tensor, dst_conf: Tensor,
                          restore: bool = True) -> tuple[Tensor, Tensor]:
        """Estimated F of the target pose: eq. 1 (max over part-wise affinely warped F_c * L_c^i), then
        the restoration network when enabled; the upper/lower body regions are warped along.
        F_c (B, 4, S, S) in [0, 1], part masks (B, 10, S, S), regions (B, 2, S, S), poses (B, 18, 2) pixels
        and (B, 18). Returns F (B, 4, S, S) in [-1, 1] and the regions (B, 2, S, S) in [0, 1]."""
        affines = warp.part_affines(src_xy.float(), src_conf.float(), dst_xy.float(), dst_conf.float())
        warped = warp.warp_parts(torch.cat([src_feat, src_regions], 1).float(), src_parts.float(), affines)
        feat, regions = warped[:, :FEATURE_CH] * 2 - 1, warped[:, FEATURE_CH:]
        if restore and self.restorer is not None:
            feat = self.restore(feat)
        return feat, regions

    def restore(self, warped: Tensor) -> Tensor:
        """The restoration network on warped F (B, 4, S, S) in [-1, 1]: ``clamp(F + 2 R(F), -1, 1)`` (R ends
        in tanh and starts at zero, so training starts from the warped map)."""
        with self.autocast():
            delta = self.restorer(warped).float()
        return (warped + 2 * delta).clamp(-1, 1)

    def generate(self, feat: Tensor, regions: Tensor, z: Tensor, prev: Tensor) -> Tensor:
        """One frame (B, 3, S, S) in [-1, 1] from F (B, 4, S, S), the target's body regions (B, 2, S, S),
        z = [z_up, z_down] (B, 24) as the encoders give it (standardised here, then tiled over the regions)
        and the previous frame (B, 3, S, S)."""
        zmap = latent_map(list(self.z_stats(z).split(self.z_dims, 1)), regions)
        with self.autocast():
            return self.generator(torch.cat([feat, prev, zmap], 1), zmap).float()

    # ---- training ---------------------------------------------------------------------------
    def train_step(self, batch: dict[str, Tensor]) -> dict[str, float]:
        """One step of the current stage on a ``data.kind: decoupled`` batch; returns its losses."""
        if "feat" not in batch:
            raise PosevidError("data.kind", "the decoupled method needs data.kind: decoupled")
        batch = {k: v.to(self.device) for k, v in batch.items()}
        losses = self.stage.train_step(batch)
        self.stage_steps[[s.name for s in STAGES].index(self.stage.name)] += 1
        return losses

    def warp_batch(self, batch: dict[str, Tensor], t: int, restore: bool) -> tuple[Tensor, Tensor]:
        """``estimate_features`` of a batch's source for its frame ``t``."""
        return self.estimate_features(batch["src_feat"], batch["src_parts"], batch["src_regions"], batch["src_xy"],
                                      batch["src_conf"], batch["xy"][:, t], batch["conf"][:, t], restore)

    def check_trained(self, where: str = "train.init_from") -> None:
        """``PosevidError`` unless the networks stage II builds on (encoders, restorer) are trained."""
        if int(self.stage_steps[0]) == 0:
            raise PosevidError(where, "stage generator needs the stage-I encoders: start from a checkpoint "
                                      "of model.stage=encoders (or restore)")
        if self.use_restore and int(self.stage_steps[1]) == 0:
            raise PosevidError(where, "stage generator needs a trained restoration network: start from a "
                                      "model.stage=restore checkpoint, or set model.restore.enabled=false")

    # ---- command line -----------------------------------------------------------------------
    # ---- inference --------------------------------------------------------------------------
    def animator(self, upper: LatentSpec = None, lower: LatentSpec = None, upper_to: LatentSpec = None,
                 lower_to: LatentSpec = None, frames: int | None = None, sample_colors: bool = False,
                 seed: int = 0) -> DecoupledAnimator:
        """An animator; see ``DecoupledAnimator`` for the colour options."""
        if int(self.stage_steps[2]) == 0:
            raise PosevidError("checkpoint", f"holds a model.stage={self.stage.name} model whose generator is "
                                             "untrained; train model.stage=generator from it first")
        return DecoupledAnimator(self, upper, lower, upper_to, lower_to, frames, sample_colors, seed)

    def inference_graph(self) -> DecoupledGraph:
        return DecoupledGraph(self)
