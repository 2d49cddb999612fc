"""DwNet (Zablotskaia et al., BMVC 2019): dense warp-based, Markovian pose-guided video generation.

Generator G = pose encoder E, appearance encoder A, warp module W (coarse grid + refinement branch R)
and decoder D. For target pose P(d_t), G warps the features of the source image s and of the
previously generated frame by refined grids (eq. 1) and decodes them with E(P(d_t)):

    t_hat_t = G(s, P(s), prev, P(prev), P(d_t)),   prev = s for the first frame (eq. 2),
                                                    prev = t_hat_{t-1} afterwards (eq. 3).

Coarse grids come from DensePose IUV images (nearest UV neighbour within each part, ``densepose.py``)
when ``model.iuv`` is set, otherwise from our keypoint part affines (``warp.dense_grid``). The pose
representation P is 18 gaussian keypoint heatmaps, plus the IUV image itself with ``model.iuv``.
Training samples four frames (i, j, j+1, j+2) and updates G and the conditional multi-scale PatchGAN
critic once per generated frame (LSGAN + lambda * (feature matching + VGG perceptual), lambda = 10);
the previous frame is detached, which keeps memory at one frame's graph.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ... import densepose, render, warp
from ...errors import PosevidError
from ...losses import GANLoss, LossWeights, PerceptualLoss, feature_matching, l1, perceptual_loss
from ...nets.blocks import ConvBlock, DownBlock, Norm, ResBlock, UpBlock
from ...nets.discriminators import DiscOptions, MultiScaleDiscriminator
from ...options import option
from ...poses import Poses
from ...tensors import image_to_tensor, resize_image, tensor_to_image
from ..base import Animator, Method, register
from .inference import DwNetGraph
from .spec import DwNetSpec

NUM_JOINTS = 18
Key = tuple[Tensor, Tensor, Tensor | None]  # a pose: xy (B, 18, 2) pixels, conf (B, 18), IUV (B, 3, S, S) or None


def _cat(keys: list[Key]) -> Key:
    """Concatenate poses along the batch."""
    return (torch.cat([k[0] for k in keys]), torch.cat([k[1] for k in keys]),
            torch.cat([k[2] for k in keys]) if keys[0][2] is not None else None)


def _encoder(in_ch: int, ngf: int, norm: str) -> nn.Sequential:
    """Johnson-style encoder: 7x7 conv, then 2 stride-2 convs. (B, in_ch, H, W) -> (B, 4 ngf, H/4, W/4)."""
    return nn.Sequential(ConvBlock(in_ch, ngf, 7, 1, norm), DownBlock(ngf, 2 * ngf, norm),
                         DownBlock(2 * ngf, 4 * ngf, norm))


class RefineBranch(nn.Module):
    """R: (image warped by the coarse grid, target pose, coarse grid - identity) at H x W -> grid
    correction (B, 2, H/4, W/4). Encoder as E and A, 2 residual blocks, a 1x1 conv initialised to 0
    so that training starts from the coarse grid (the paper's "good initialisation")."""

    def __init__(self, pose_ch: int, ngf: int, norm: str):
        super().__init__()
        self.body = nn.Sequential(_encoder(pose_ch + 3 + 2, ngf, norm), ResBlock(4 * ngf, norm),
                                  ResBlock(4 * ngf, norm))
        self.out = nn.Conv2d(4 * ngf, 2, 1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x: Tensor) -> Tensor:
        return self.out(self.body(x))


@dataclass
class DwNetOptions:
    """``model:`` options of DwNet (defaults: the paper at 256x256)."""

    ngf: int = option(64, "channels after the 7x7 stem; E, A and R reach 4 ngf at size / 4", ge=1)
    res_blocks: int = option(9, "residual blocks of the decoder", ge=0)
    norm: Norm = option("instance", "normalisation layers")
    sigma: float | None = option(None, "standard deviation of the keypoint heatmaps in pixels (default: size / 48)",
                                 gt=0)
    iuv: bool = option(False, "coarse grids from DensePose IUV, and IUV in the pose input (the dataset needs IUV)")
    grid_background: Literal["outside", "identity", "torso"] = option(
        "identity", "what the keypoint coarse grid does off the body (``warp.dense_grid``)")
    disc: DiscOptions = option(DiscOptions(num_d=2), "the conditional multi-scale critic")
    loss: LossWeights = option(LossWeights(), "loss weights (eq. 7: lambda = 10)")


@register("dwnet")
class DwNet(DwNetSpec, Method):
    """DwNet: options in ``DwNetOptions``. Perceptual loss: ST-LPIPS's VGG-16 at ``train.perceptual_layers``,
    or the VGG-19 of ``train.vgg_weights``."""

    Options = DwNetOptions
    opts: DwNetOptions

    def __init__(self, cfg: dict[str, Any]):
        super().__init__(cfg)
        m = self.opts
        self.size = self.image_size()
        if self.size % 4:
            raise PosevidError("data.size", f"must be divisible by 4 for DwNet, got {self.size}")
        ngf, norm = m.ngf, m.norm
        self.use_iuv = m.iuv
        if self.use_iuv:  # this model's data, and its animator's every step, need DensePose IUV
            self.capabilities = dataclasses.replace(self.capabilities, needs_densepose=True)
        self.sigma = m.sigma or self.size / 48
        self.grid_background = m.grid_background
        self.pose_ch = NUM_JOINTS + (3 if self.use_iuv else 0)
        self.register_buffer("identity", torch.from_numpy(densepose.pixel_grid(self.size, self.size))[None],
                             persistent=False)
        self.pose_enc = _encoder(self.pose_ch, ngf, norm)
        self.app_enc = _encoder(3, ngf, norm)
        self.refine = RefineBranch(self.pose_ch, ngf, norm)
        self.fuse = nn.Conv2d(12 * ngf, 4 * ngf, 1)
        self.decoder = nn.Sequential(*[ResBlock(4 * ngf, norm) for _ in range(m.res_blocks)],
                                     UpBlock(4 * ngf, 2 * ngf, norm), UpBlock(2 * ngf, ngf, norm),
                                     ConvBlock(ngf, 3, 7, 1, "none", "tanh"))
        self.disc = MultiScaleDiscriminator(3 + self.pose_ch, m.disc.num_d, m.disc.base, m.disc.n_layers, norm)
        self.w_gan, self.w_fm = m.loss.gan, m.loss.feature_matching
        self.w_perc, self.w_l1 = m.loss.perceptual, m.loss.l1
        self.gan = GANLoss("lsgan")
        self._perceptual: PerceptualLoss | None = None  # made on the first training step (no warning at animation)
        self.adam("G", self.generator_parameters())
        self.adam("D", self.disc.parameters())

    def generator_parameters(self) -> list[nn.Parameter]:
        """Parameters of E, A, R, the fusion conv and the decoder."""
        return [p for mod in (self.pose_enc, self.app_enc, self.refine, self.fuse, self.decoder)
                for p in mod.parameters()]

    # ---- inputs -------------------------------------------------------------------------------
    def pose_input(self, xy: Tensor, conf: Tensor, iuv: Tensor | None = None) -> Tensor:
        """P(d): (B, 18, 2) pixels, (B, 18), IUV (B, 3, H, W) raw values -> (B, pose_ch, S, S) in [-1, 1]."""
        maps = render.heatmaps(xy.float(), conf.float(), self.size, self.size, kind="gaussian", sigma=self.sigma)
        maps = maps * 2 - 1
        if self.use_iuv:
            maps = torch.cat([maps, densepose.iuv_input(iuv)], 1)
        return maps

    @torch.no_grad()
    def coarse_grids(self, src: Key, dst: Key) -> Tensor:
        """Coarse backward grids W[P(src) -> P(dst)] (B, S, S, 2) fp32 from IUV or keypoints.

        ``src``/``dst``: (xy (B, 18, 2), conf (B, 18), iuv (B, 3, S, S) or None)."""
        if self.use_iuv:
            return densepose.iuv_grids(src[2], dst[2])
        return warp.dense_grid(src[0].float(), src[1].float(), dst[0].float(), dst[1].float(),
                               self.size, self.size, background=self.grid_background).float()

    # ---- generator ----------------------------------------------------------------------------
    def refined_grid(self, image: Tensor, pose: Tensor, coarse: Tensor) -> Tensor:
        """Eq. 1: downsampled coarse grid + R(warped image, pose, coarse - identity). -> (B, S/4, S/4, 2) fp32."""
        warped = F.grid_sample(image.float(), coarse, align_corners=False)
        rel = (coarse - self.identity).permute(0, 3, 1, 2)
        small = F.interpolate(coarse.permute(0, 3, 1, 2), scale_factor=0.25, mode="bilinear", align_corners=False)
        with self.autocast():
            corr = self.refine(torch.cat([warped, pose, rel], 1))
        return (small + corr.float()).permute(0, 2, 3, 1)

    def warped_features(self, feats: Tensor, image: Tensor, pose: Tensor, coarse: Tensor) -> Tensor:
        """W: A-features (B, 4 ngf, S/4, S/4) of ``image`` warped by the refined grid (fp32 grid_sample)."""
        return F.grid_sample(feats.float(), self.refined_grid(image, pose, coarse), align_corners=False)

    def generate(self, src: Tensor, pose: Tensor, prev: Tensor, grid_src: Tensor, grid_prev: Tensor,
                 src_feats: Tensor | None = None) -> Tensor:
        """One frame: source (B, 3, S, S), target pose P(d_t), previous frame, coarse grids source ->
        target and previous -> target (B, S, S, 2). ``src_feats`` = A(src) if already computed.
        Returns (B, 3, S, S) fp32 in [-1, 1]."""
        with self.autocast():
            e = self.pose_enc(pose)
            if src_feats is None:
                src_feats = self.app_enc(src)
            prev_feats = self.app_enc(prev)
        ws = self.warped_features(src_feats, src, pose, grid_src)
        wp = self.warped_features(prev_feats, prev, pose, grid_prev)
        with self.autocast():
            out = self.decoder(self.fuse(torch.cat([e, ws.to(e.dtype), wp.to(e.dtype)], 1)))
        return out.float()

    # ---- training -----------------------------------------------------------------------------
    def _critic(self, pose: Tensor, image: Tensor) -> list[list[Tensor]]:
        with self.autocast():
            return self.disc(torch.cat([pose, image], 1))

    def train_step(self, batch: dict[str, Tensor]) -> dict[str, float]:
        """Eqs. 2-3 on one clip batch: ``src*`` is frame i, ``frames``/``xy``/``conf`` (B, 3, ...) are
        frames j, j+1, j+2; ``src_iuv``/``iuv`` are needed with ``model.iuv``. One G and one D update
        per generated frame. Returns mean losses over the frames and the reconstruction L1 ``rec_l1``."""
        self.train()
        dev = self.device
        src = batch["src"].to(dev)
        frames = batch["frames"].to(dev)
        xy, conf = batch["xy"].to(dev), batch["conf"].to(dev)
        if self.use_iuv and ("iuv" not in batch or "src_iuv" not in batch):
            raise PosevidError("dataset", "model.iuv is set but the dataset has no DensePose IUV frames "
                                          "(prepare it with --iuv DIR)")
        iuv = batch["iuv"].to(dev) if self.use_iuv else None
        src_key = (batch["src_xy"].to(dev), batch["src_conf"].to(dev),
                   batch["src_iuv"].to(dev) if self.use_iuv else None)
        keys = [(xy[:, t], conf[:, t], iuv[:, t] if iuv is not None else None) for t in range(frames.shape[1])]
        if self.w_perc and self._perceptual is None:
            self._perceptual = perceptual_loss(self.cfg["train"])
        perceptual = self._perceptual
        # All coarse grids at once: source -> frame t, and frame t-1 -> frame t (t >= 1).
        n = len(keys)
        grids = self.coarse_grids(_cat([src_key] * n + keys[:-1]), _cat(keys + keys[1:])).split(src.shape[0])
        totals: dict[str, float] = {}
        prev = src
        for t, key in enumerate(keys):
            pose = self.pose_input(*key)
            grid_src = grids[t]
            grid_prev = grid_src if t == 0 else grids[n + t - 1]
            fake = self.generate(src, pose, prev, grid_src, grid_prev)
            real = frames[:, t]
            # Generator: LSGAN + lambda * (feature matching + perceptual) [+ optional pixel L1].
            self.disc.requires_grad_(True)
            pred_real = self._critic(pose, real)
            self.disc.requires_grad_(False)
            pred_fake = self._critic(pose, fake)
            losses = {"g_gan": self.gan(pred_fake, True, for_discriminator=False),
                      "g_fm": feature_matching(pred_fake, pred_real)}
            if perceptual is not None and perceptual.enabled:
                losses["g_vgg"] = perceptual(fake, real)
            rec = l1(fake, real)
            loss_g = self.w_gan * losses["g_gan"] + self.w_fm * losses["g_fm"] + self.w_l1 * rec
            if "g_vgg" in losses:
                loss_g = loss_g + self.w_perc * losses["g_vgg"]
            self.optimize("G", loss_g)
            # Critic (eq. 4), on the target pose and the real / generated frame.
            self.disc.requires_grad_(True)
            losses["d_real"] = self.gan(pred_real, True)
            losses["d_fake"] = self.gan(self._critic(pose, fake.detach()), False)
            self.optimize("D", 0.5 * (losses["d_real"] + losses["d_fake"]))
            losses["rec_l1"] = rec
            for name, value in losses.items():
                totals[name] = totals.get(name, 0.0) + float(value.detach()) / n
            prev = fake.detach()
        with torch.no_grad():
            self._visuals = {"source": src, "pose": pose[:, :NUM_JOINTS].amax(1, keepdim=True).expand(-1, 3, -1, -1),
                             "generated": fake.detach(), "real": real,
                             "coarse_warp": F.grid_sample(src, grid_src, align_corners=False)}
        return totals

    def animator(self) -> DwNetAnimator:
        return DwNetAnimator(self)

    def inference_graph(self) -> DwNetGraph:
        return DwNetGraph(self)


def _iuv_tensor(iuv: np.ndarray | None, size: int, device: torch.device, where: str) -> Tensor:
    """(H, W, 3) uint8 IUV image -> (1, 3, size, size) raw values, nearest-neighbour resized."""
    if iuv is None:
        raise PosevidError(where, "this DwNet model was trained with DensePose IUV (model.iuv); pass iuv=...")
    x = densepose.iuv_tensor(densepose.check_iuv(iuv, where)).to(device)
    return F.interpolate(x, size=(size, size), mode="nearest") if x.shape[-2:] != (size, size) else x


class DwNetAnimator(Animator):
    """Streams frames: each frame is conditioned on the previous generated one (the source for the
    first, eq. 2). Works at the model's size S and returns frames at the source image's size.
    With an IUV-trained model, pass ``iuv=`` (uint8 (H, W, 3)) to ``reset`` and every ``step``."""

    def __init__(self, method: DwNet):
        self.m = method
        self._src: Tensor | None = None

    @torch.no_grad()
    def reset(self, source: np.ndarray, pose: Poses, mask: np.ndarray | None = None,
              iuv: np.ndarray | None = None) -> None:
        """Remember the source (H, W, 3) uint8 and its one-frame pose; the next ``step`` is the first frame."""
        m, s = self.m, self.m.size
        m.eval()
        self.out_hw = source.shape[:2]
        self._src = image_to_tensor(resize_image(source, s, s), m.device)[None]
        self.engine = m.engine
        self._src_feats = self.engine.run("source", src=self._src)["src_feats"]
        self._src_key = self._key(pose, iuv, "source")
        self._prev, self._prev_key = self._src, self._src_key

    def _key(self, pose: Poses, iuv: np.ndarray | None, where: str) -> Key:
        p = pose.rescale(self.m.size, self.m.size)
        dev = self.m.device
        xy = torch.from_numpy(p.xy[:1]).to(dev)
        conf = torch.from_numpy(p.conf[:1]).to(dev)
        return xy, conf, _iuv_tensor(iuv, self.m.size, dev, where) if self.m.use_iuv else None

    @torch.no_grad()
    def step(self, target: Poses, iuv: np.ndarray | None = None) -> np.ndarray:
        """The next frame (H, W, 3) uint8 for the one-frame target pose (and its IUV image)."""
        if self._src is None:
            raise RuntimeError("DwNetAnimator.step called before reset")
        m = self.m
        key = self._key(target, iuv, "target")
        pose = m.pose_input(*key)
        grid_src = m.coarse_grids(self._src_key, key)
        grid_prev = grid_src if self._prev is self._src else m.coarse_grids(self._prev_key, key)
        fake = self.engine.run("frame", src=self._src, src_feats=self._src_feats, prev=self._prev, pose=pose,
                               grid_src=grid_src, grid_prev=grid_prev)["frame"]
        self._prev, self._prev_key = fake, key
        return resize_image(tensor_to_image(fake[0]), self.out_hw[1], self.out_hw[0])
