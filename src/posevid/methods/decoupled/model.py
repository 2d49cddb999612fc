"""Decoupled learning for colour-controllable human video (Yang et al., ICASSP 2020).

Three training stages of one method, chosen by ``model.stage``; each later stage starts from the
previous stage's checkpoint through ``train.init_from`` (the checkpoint keeps every shared network):

- ``encoders`` (stage I): E_up (z 16-d) and E_down (8-d), each trained BicycleGAN-style with its own
  U-Net generator G(A, z) and PatchGAN: z = E(B), B_hat = G(A, z), latent regression E(B_hat) -> z on
  the *reconstructed* image (the paper's change), losses LSGAN + 10 L1 + 0.01 KL + 0.5 |z - E(B_hat)|.
  A is the frame's feature map F (with ``model.bicycle.grey`` also its grey image), B the frame with
  only that encoder's region recoloured (each frame its own colour).
- ``restore``: the restoration network fills the cracks of part-wise warped feature maps (eq. 1);
  trained against the feature maps of the real target frames (PatchGAN, plus an L1 term we add).
- ``generator`` (stage II): encoders (and restorer) frozen; a pix2pixHD coarse-to-fine generator maps
  the estimated feature map, the previous frame (black before the first) and z = [z_up, z_down] to a
  frame. Two consecutive frames per step; a 3-scale discriminator sees [F1, F2, v1, v2] (temporal +
  conditional GAN); + 10 feature matching + 10 VGG (+ optional L1).

z reaches the generators as each region's latent tiled over that body region and concatenated to the
input (at both scales of pix2pixHD): tiled over the whole image, as the paper says, it would be a
per-channel constant that the first instance normalisation removes. Stage II also standardises z with
the moments of the training latents (``LatentStandardizer``); see docs/methods.md.

Feature maps are [stick figure, edge map] (``nets.feature_maps``). The animator re-encodes
the colour of the source, or takes a colour / latent / photo per body region, optionally moving
linearly to another over the clip (``recolor_to_file``, section 4.4).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from torch import Tensor, nn

from ... import warp
from ...data.color import REGIONS, body_regions, parse_color, recolor, rgb_to_ab
from ...errors import PosevidError
from ...io_utils import NUMPY_LOAD_ERRORS, atomic_path
from ...losses import GANLoss, PerceptualLoss, feature_matching, kl_divergence, l1, latent_l1
from ...nets.blocks import ConvBlock
from ...nets.discriminators import MultiScaleDiscriminator, PatchDiscriminator
from ...nets.encoders import ResnetEncoder
from ...nets.unet import UNet
from ...poses import Poses
from ...render import part_masks, pose_mask
from ...tensors import image_to_tensor, tensor_to_image
from ..base import Animator, Method, register
from .inference import DecoupledGraph
from .nets import (
    FEATURE_CH,
    CoarseToFineGenerator,
    LatentStandardizer,
    feature_maps,
    latent_map,
)

STAGES = ("encoders", "restore", "generator")
_LUMA = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
LatentSpec = str | Path | np.ndarray | None


@register("decoupled")
class Decoupled(Method):
    """The decoupled method; ``model:`` options (defaults = the paper):

    stage (encoders | restore | generator), encoder {z_up 16, z_down 8, base 64, n_blocks 4, norm (model.norm),
    logvar_init 0},
    bicycle {base 64, depth 7 (U-128 at 256 px), d_base 64, d_layers 3, l1 10, kl 0.01, z 0.5, grey false},
    restore {enabled true, base 32, depth 4, d_base 64, d_layers 3, l1 10},
    generator {base 32, n_down 4, n_blocks 9, local_blocks 3}, disc {num_d 3, base 64, n_layers 3},
    loss {gan 1, feature_matching 10, perceptual 10 (needs train.vgg_weights), l1 0}, norm instance.
    ``data``: frames (consecutive frames per item; stage II generates all, 2 in the paper), size, edges
    (sobel | canny), lift and chroma of the recolouring (``data.color``).
    """

    def __init__(self, cfg: dict[str, Any]):
        super().__init__(cfg)
        m, data = cfg.get("model", {}), cfg.get("data", {})
        self.stage = m.get("stage", "generator")
        if self.stage not in STAGES:
            raise PosevidError("model.stage", f"must be one of {', '.join(STAGES)}, got {self.stage!r}")
        self.size = int(data.get("size", 256))
        self.edges = str(data.get("edges", "sobel"))
        self.lift = float(data.get("lift", 0.0))
        self.frames = int(data.get("frames", 2))
        norm = str(m.get("norm", "instance"))
        e, r, g = m.get("encoder", {}), m.get("restore", {}), m.get("generator", {})
        self.z_dims = (int(e.get("z_up", 16)), int(e.get("z_down", 8)))
        enc = {"base": int(e.get("base", 64)), "n_blocks": int(e.get("n_blocks", 4)), "norm": str(e.get("norm", norm)),
               "logvar_init": float(e.get("logvar_init", 0.0))}
        self.enc_up = ResnetEncoder(3, self.z_dims[0], **enc)
        self.enc_down = ResnetEncoder(3, self.z_dims[1], **enc)
        self.use_restore = bool(r.get("enabled", True))
        self.restorer = (UNet(FEATURE_CH, FEATURE_CH, int(r.get("base", 32)), int(r.get("depth", 4)), norm)
                         if self.use_restore else None)
        if self.restorer is not None:  # residual: it starts as the identity on the warped feature map
            nn.init.zeros_(self.restorer.head[0].weight)
            nn.init.zeros_(self.restorer.head[0].bias)
        self.generator = CoarseToFineGenerator(FEATURE_CH + 3 + sum(self.z_dims), 3, int(g.get("base", 32)),
                                               int(g.get("n_down", 4)), int(g.get("n_blocks", 9)),
                                               int(g.get("local_blocks", 3)), norm, extra_ch=sum(self.z_dims))
        self.z_stats = LatentStandardizer(self.z_dims)
        # Training steps done per stage (encoders, restore, generator); later stages check them.
        self.register_buffer("stage_steps", torch.zeros(3, dtype=torch.long))
        self.gan = GANLoss("lsgan")
        w = m.get("loss", {})
        self.w = {k: float(w.get(k, d)) for k, d in
                  (("gan", 1.0), ("feature_matching", 10.0), ("perceptual", 10.0), ("l1", 0.0))}
        self.requires_grad_(False)
        getattr(self, f"_build_{self.stage}")(m, norm)

    # ---- per-stage training networks --------------------------------------------------------
    def _build_encoders(self, m: dict[str, Any], norm: str) -> None:
        b = m.get("bicycle", {})
        self.w_bicycle = {k: float(b.get(k, d)) for k, d in (("l1", 10.0), ("kl", 0.01), ("z", 0.5))}
        self.bicycle_grey = bool(b.get("grey", False))
        base, depth, in_ch = int(b.get("base", 64)), int(b.get("depth", 7)), FEATURE_CH + self.bicycle_grey
        self.bicycle_g = nn.ModuleList(_bicycle_unet(in_ch + z, base, depth, norm) for z in self.z_dims)
        self.bicycle_d = nn.ModuleList(
            PatchDiscriminator(3, int(b.get("d_base", 64)), int(b.get("d_layers", 3)), norm) for _ in REGIONS)
        trained = [self.enc_up, self.enc_down, self.bicycle_g]
        for mod in [*trained, self.bicycle_d]:
            mod.requires_grad_(True)
        self.adam("EG", [p for mod in trained for p in mod.parameters()])
        self.adam("D", self.bicycle_d.parameters())

    def _build_restore(self, m: dict[str, Any], norm: str) -> None:
        r = m.get("restore", {})
        if self.restorer is None:
            raise PosevidError("model.stage", "is restore but model.restore.enabled is false")
        self.w_restore_l1 = float(r.get("l1", 10.0))
        self.restore_d = PatchDiscriminator(FEATURE_CH, int(r.get("d_base", 64)), int(r.get("d_layers", 3)), norm)
        self.restorer.requires_grad_(True)
        self.restore_d.requires_grad_(True)
        self.adam("R", self.restorer.parameters())
        self.adam("D", self.restore_d.parameters())

    def _build_generator(self, m: dict[str, Any], norm: str) -> None:
        d = m.get("disc", {})
        self.disc = MultiScaleDiscriminator(self.frames * (FEATURE_CH + 3), int(d.get("num_d", 3)),
                                            int(d.get("base", 64)), int(d.get("n_layers", 3)), norm)
        self.perceptual = (PerceptualLoss(self.cfg.get("train", {}).get("vgg_weights"))
                           if self.w["perceptual"] else None)
        self.generator.requires_grad_(True)
        self.disc.requires_grad_(True)
        self.adam("G", self.generator.parameters())
        self.adam("D", self.disc.parameters())

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
        """One step of the configured stage on a ``data.kind: decoupled`` batch; returns its losses."""
        if "feat" not in batch:
            raise PosevidError("data.kind", "the decoupled method needs data.kind: decoupled")
        batch = {k: v.to(self.device) for k, v in batch.items()}
        losses = getattr(self, f"_train_{self.stage}")(batch)
        self.stage_steps[STAGES.index(self.stage)] += 1
        return losses

    def _train_encoders(self, batch: dict[str, Tensor]) -> dict[str, float]:
        a = batch["feat"].flatten(0, 1) * 2 - 1
        if self.bicycle_grey:  # the uncoloured frame's luminance: z then only has to carry the colour
            a = torch.cat([a, (batch["frames_orig"].flatten(0, 1) * _LUMA.to(a)).sum(1, keepdim=True)], 1)
        regions = batch["regions"].flatten(0, 1)
        wb = self.w_bicycle
        out: dict[str, Tensor] = {}
        total, fakes, reals = 0.0, [], []
        for r, name in enumerate(REGIONS):
            enc, gen, disc = self.encoders[r], self.bicycle_g[r], self.bicycle_d[r]
            real = batch[f"frames_{'up' if r == 0 else 'down'}"].flatten(0, 1)
            with self.autocast():
                mu, logvar = enc(real)
            mu, logvar = mu.float(), logvar.float()
            z = ResnetEncoder.sample(mu, logvar)
            with self.autocast():
                fake = gen(torch.cat([a, latent_map([z], regions[:, r:r + 1])], 1)).float()
                disc.requires_grad_(False)
                g_gan = self.gan(disc(fake), True, for_discriminator=False)
                disc.requires_grad_(True)
                enc.requires_grad_(False)  # the latent regression trains G only (BicycleGAN)
                z_rec = enc(fake)[0].float()
                enc.requires_grad_(True)
            out[f"{name}_l1"] = l1(fake, real)
            out[f"{name}_kl"] = kl_divergence(mu, logvar)
            out[f"{name}_z"] = latent_l1(z_rec, z.detach())
            out[f"{name}_gan"] = g_gan
            total = total + g_gan + wb["l1"] * out[f"{name}_l1"] + wb["kl"] * out[f"{name}_kl"] + \
                wb["z"] * out[f"{name}_z"]
            fakes.append(fake.detach())
            reals.append(real)
        self._step("EG", total)
        d_total = 0.0
        for r, name in enumerate(REGIONS):
            with self.autocast():
                out[f"{name}_d_real"] = self.gan(self.bicycle_d[r](reals[r]), True)
                out[f"{name}_d_fake"] = self.gan(self.bicycle_d[r](fakes[r]), False)
            d_total = d_total + 0.5 * (out[f"{name}_d_real"] + out[f"{name}_d_fake"])
        self._step("D", d_total)
        self._visuals = {"feature": a[:, :3], "upper": reals[0], "upper_rec": fakes[0],
                         "lower": reals[1], "lower_rec": fakes[1]}
        return {k: float(v.detach()) for k, v in out.items()}

    def _warp_batch(self, batch: dict[str, Tensor], t: int, restore: bool) -> tuple[Tensor, Tensor]:
        return self.estimate_features(batch["src_feat"], batch["src_parts"], batch["src_regions"], batch["src_xy"],
                                      batch["src_conf"], batch["xy"][:, t], batch["conf"][:, t], restore)

    def _train_restore(self, batch: dict[str, Tensor]) -> dict[str, float]:
        with torch.no_grad():
            warped = torch.cat([self._warp_batch(batch, t, False)[0] for t in range(batch["xy"].shape[1])])
        real = batch["feat"].transpose(0, 1).flatten(0, 1) * 2 - 1
        restored = self.restore(warped)
        with self.autocast():
            self.restore_d.requires_grad_(False)
            g_gan = self.gan(self.restore_d(restored), True, for_discriminator=False)
            self.restore_d.requires_grad_(True)
        rec = l1(restored, real)
        self._step("R", g_gan + self.w_restore_l1 * rec)
        with self.autocast():
            d_real = self.gan(self.restore_d(real), True)
            d_fake = self.gan(self.restore_d(restored.detach()), False)
        self._step("D", 0.5 * (d_real + d_fake))
        self._visuals = {"warped": warped[:, :3], "restored": restored.detach()[:, :3], "real": real[:, :3],
                         "warped_edges": warped[:, 3:], "restored_edges": restored.detach()[:, 3:],
                         "real_edges": real[:, 3:]}
        return {"l1": rec.item(), "l1_warped": l1(warped, real).item(), "g_gan": g_gan.item(),
                "d_real": d_real.item(), "d_fake": d_fake.item()}

    def check_trained(self, where: str = "train.init_from") -> None:
        """``PosevidError`` unless the networks stage II builds on (encoders, restorer) are trained."""
        if int(self.stage_steps[0]) == 0:
            raise PosevidError(where, "stage generator needs the stage-I encoders: start from a checkpoint "
                                      "of model.stage=encoders (or restore)")
        if self.use_restore and int(self.stage_steps[1]) == 0:
            raise PosevidError(where, "stage generator needs a trained restoration network: start from a "
                                      "model.stage=restore checkpoint, or set model.restore.enabled=false")

    def _train_generator(self, batch: dict[str, Tensor]) -> dict[str, float]:
        self.check_trained()
        frames = batch["frames"]
        n = frames.shape[1]
        with torch.no_grad():
            z = self.encode(batch["src"])
            self.z_stats.update(z)
            estimated = [self._warp_batch(batch, t, True) for t in range(n)]
        feats = [f for f, _ in estimated]
        prev = torch.zeros_like(frames[:, 0])
        fakes = []
        for feat, regions in estimated:
            prev = self.generate(feat, regions, z, prev)
            fakes.append(prev)
        cond = torch.cat(feats, 1)
        real_seq, fake_seq = frames.flatten(1, 2), torch.cat(fakes, 1)
        with self.autocast():
            pred_real = self.disc(torch.cat([cond, real_seq], 1))
            self.disc.requires_grad_(False)
            pred_fake = self.disc(torch.cat([cond, fake_seq], 1))
            self.disc.requires_grad_(True)
        out = {"g_gan": self.gan(pred_fake, True, for_discriminator=False),
               "g_fm": feature_matching(pred_fake, pred_real), "l1": l1(fake_seq, real_seq)}
        loss = self.w["gan"] * out["g_gan"] + self.w["feature_matching"] * out["g_fm"] + self.w["l1"] * out["l1"]
        if self.perceptual is not None and self.perceptual.enabled:
            out["g_vgg"] = sum(self.perceptual(f, frames[:, t]) for t, f in enumerate(fakes)) / n
            loss = loss + self.w["perceptual"] * out["g_vgg"]
        self._step("G", loss)
        with self.autocast():
            out["d_real"] = self.gan(pred_real, True)
            out["d_fake"] = self.gan(self.disc(torch.cat([cond, fake_seq.detach()], 1)), False)
        self._step("D", 0.5 * (out["d_real"] + out["d_fake"]))
        self._visuals = {"source": batch["src"], "feature": feats[-1][:, :3], "edges": feats[-1][:, 3:],
                         "generated": fakes[-1].detach(), "real": frames[:, -1]}
        return {k: float(v.detach()) for k, v in out.items()}

    def _step(self, name: str, loss: Tensor) -> None:
        opt = self.optimizers[name]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    # ---- inference --------------------------------------------------------------------------
    def animator(self, upper: LatentSpec = None, lower: LatentSpec = None, upper_to: LatentSpec = None,
                 lower_to: LatentSpec = None, frames: int | None = None, sample_colors: bool = False,
                 seed: int = 0) -> DecoupledAnimator:
        """An animator; see ``DecoupledAnimator`` for the colour options."""
        if int(self.stage_steps[2]) == 0:
            raise PosevidError("checkpoint", f"holds a model.stage={self.stage} model whose generator is untrained; "
                                             "train model.stage=generator from it first")
        return DecoupledAnimator(self, upper, lower, upper_to, lower_to, frames, sample_colors, seed)

    def inference_graph(self) -> DecoupledGraph:
        return DecoupledGraph(self)


def _bicycle_unet(in_ch: int, base: int, depth: int, norm: str) -> UNet:
    """Stage I's generator: ``nets.UNet`` (-> 3 channels) with an unnormalised stem, as BicycleGAN's U-Net
    has an unnormalised outermost layer: the stem's features reach the (unnormalised) head through the
    top skip connection, so the latent tiled into the input is not normalised away."""
    net = UNet(in_ch, 3, base, depth, norm)
    net.stem = ConvBlock(in_ch, min(base, 512), 7, 1, "none", "relu")
    return net


def _resize(image: np.ndarray, size: int) -> np.ndarray:
    """An (H, W, ...) image resized to (size, size) (area when shrinking, bilinear when growing)."""
    if image.shape[:2] == (size, size):
        return image
    interp = cv2.INTER_AREA if image.shape[0] > size else cv2.INTER_LINEAR
    return cv2.resize(image, (size, size), interpolation=interp)


def load_photo(path: str | Path, size: int) -> tuple[np.ndarray, Poses, np.ndarray]:
    """A photo cropped to a square around its person as ``posevid animate`` crops the source, at
    ``size``: ((size, size, 3) uint8, one-frame pose in its pixels, person mask (size, size) in [0, 1])."""
    from ...estimate import PoseEstimator
    from ...pipeline import _crop, _square_box
    from ...poses import body_height
    from ...video import read_image

    rgb = read_image(path)
    with PoseEstimator() as est:
        pose, mask = est.image(rgb)
    if body_height(pose)[0] <= 0:
        raise PosevidError(path, "no person found in the photo")
    x0, y0, side = _square_box(pose, mask)
    return (_crop(rgb, x0, y0, side, size), pose.crop(x0, y0, side, side, size, size),
            _crop(mask.astype(np.float32), x0, y0, side, size))


class DecoupledAnimator(Animator):
    """Frames of the trained generator: F of the source is warped to each target pose (and restored),
    the previous output frame is fed back (black before the first).

    Colour per body region (``upper`` / ``lower``): None = the source's own (encoded); a colour
    ``'#rrggbb'`` (the source recoloured in LAB, then encoded); a latent (1-D array, or a ``.npy`` path)
    of that region's size, or of both regions' size (its part is taken); a photo (path, or (H, W, 3)
    uint8 already cropped around the person) whose region is encoded. ``sample_colors`` draws the
    regions left at None from the Gaussian of the latents seen in stage II training (seeded). With
    ``upper_to`` / ``lower_to`` the latent moves linearly to that one over ``frames`` frames (first
    frame = start, frame ``frames`` = end, then it stays): section 4.4's interpolation.
    """

    def __init__(self, method: Decoupled, upper: LatentSpec = None, lower: LatentSpec = None,
                 upper_to: LatentSpec = None, lower_to: LatentSpec = None, frames: int | None = None,
                 sample_colors: bool = False, seed: int = 0):
        self.m = method
        self.specs = (upper, lower)
        self.specs_to = (upper_to, lower_to)
        self.frames = frames
        self.sample_colors, self.seed = sample_colors, seed
        self._src: dict[str, Tensor] | None = None
        if any(s is not None for s in self.specs_to) and frames is not None and frames < 1:
            raise PosevidError(f"frames {frames}", "an interpolation needs at least one frame")
        for spec in (*self.specs, *self.specs_to):
            if isinstance(spec, (str, Path)) and not Path(spec).exists():
                try:
                    parse_color(str(spec))
                except ValueError:
                    raise PosevidError(spec, "neither a colour #rrggbb nor an existing file") from None

    @torch.no_grad()
    def latent(self, spec: LatentSpec, region: str, source: np.ndarray, regions: np.ndarray,
               rng: np.random.Generator) -> Tensor:
        """The (1, z_dim) latent of one region (see the class doc), for a source at the model size."""
        m = self.m
        r = REGIONS.index(region)
        dim = m.z_dims[r]

        def part(z: Tensor) -> Tensor:  # this region's dimensions of [z_up, z_down]
            return (z[:, :dim] if r == 0 else z[:, m.z_dims[0]:]).to(m.device)

        def encode(image: np.ndarray) -> Tensor:
            return part(self.engine.run("encode", image=image_to_tensor(image, m.device)[None])["z"])

        if spec is None:
            if self.sample_colors:  # from the Gaussian fitted to the training latents
                return part(m.z_stats.sample(1, rng))
            return encode(source)
        if isinstance(spec, (str, Path)) and not Path(spec).exists():  # a colour (checked in __init__)
            return encode(recolor(source, regions[r], rgb_to_ab(parse_color(str(spec))), m.lift))
        if isinstance(spec, (str, Path)) and Path(spec).suffix.lower() == ".npy":
            try:
                spec = np.load(spec, allow_pickle=False)
            except NUMPY_LOAD_ERRORS as err:
                raise PosevidError(spec, f"cannot read the latent ({err})") from None
        elif isinstance(spec, (str, Path)):
            spec = load_photo(spec, m.size)[0]
        arr = np.asarray(spec)
        if arr.ndim == 3:
            return encode(_resize(arr.astype(np.uint8), m.size))
        flat = arr.astype(np.float32).reshape(-1)
        if flat.size == sum(m.z_dims):
            flat = flat[:m.z_dims[0]] if r == 0 else flat[m.z_dims[0]:]
        if flat.size != dim:
            raise PosevidError("latent", f"has {arr.size} values; the {region} latent has {dim} "
                                         f"(or {sum(m.z_dims)} for both regions)")
        return torch.from_numpy(flat.copy())[None].to(m.device)

    @torch.no_grad()
    def reset(self, source: np.ndarray, pose: Poses, mask: np.ndarray | None = None) -> None:
        """Take the source (H, W, 3) uint8, its one-frame pose and person mask; resolve the latents."""
        m, s = self.m, self.m.size
        m.eval()
        self.out_hw = source.shape[:2]
        small = _resize(source, s)
        p = pose.rescale(s, s)
        xy, conf = p.xy[0], p.conf[0]
        mask_s = pose_mask(xy, conf, s, s) if mask is None else _resize(np.asarray(mask, np.float32), s)
        regions = body_regions(xy, conf, s, s, mask_s)
        rng = np.random.default_rng(self.seed)
        self.engine = m.engine
        start = [self.latent(spec, reg, small, regions, rng) for spec, reg in zip(self.specs, REGIONS)]
        end = [start[i] if spec is None else self.latent(spec, reg, small, regions, rng)
               for i, (spec, reg) in enumerate(zip(self.specs_to, REGIONS))]
        self.z_start, self.z_end = torch.cat(start, 1), torch.cat(end, 1)
        dev = m.device
        self._src = {"feat": torch.from_numpy(feature_maps(small, xy, conf, mask_s, m.edges))[None].to(dev),
                     "parts": torch.from_numpy(part_masks(xy, conf, s, s, person_mask=mask_s))[None].to(dev),
                     "regions": torch.from_numpy(regions)[None].to(dev),
                     "xy": torch.from_numpy(xy)[None].to(dev), "conf": torch.from_numpy(conf)[None].to(dev)}
        self.prev = torch.zeros(1, 3, s, s, device=dev)
        self.t = 0

    def z_at(self, t: int) -> Tensor:
        """The (1, z_up + z_down) latent of frame ``t`` (0-based)."""
        if self.frames is None or self.frames <= 1:
            return self.z_end if self.frames == 1 else self.z_start
        w = min(t / (self.frames - 1), 1.0)
        return (1 - w) * self.z_start + w * self.z_end

    @torch.no_grad()
    def step(self, target: Poses) -> np.ndarray:
        """The next frame (H, W, 3) uint8 at the source's size for the one-frame target pose."""
        if self._src is None:
            raise RuntimeError("DecoupledAnimator.step called before reset")
        m, s, src = self.m, self.m.size, self._src
        p = target.rescale(s, s)
        dst_xy = torch.from_numpy(p.xy[:1].copy()).to(m.device)
        dst_conf = torch.from_numpy(p.conf[:1].copy()).to(m.device)
        feat, regions = m.estimate_features(src["feat"], src["parts"], src["regions"], src["xy"], src["conf"],
                                            dst_xy, dst_conf, restore=False)
        zmap = latent_map(list(m.z_stats(self.z_at(self.t)).split(m.z_dims, 1)), regions)
        self.prev = self.engine.run("frame", feat=feat, zmap=zmap, prev=self.prev)["frame"]
        self.t += 1
        frame = tensor_to_image(self.prev[0])
        if frame.shape[:2] != tuple(self.out_hw):
            frame = cv2.resize(frame, tuple(self.out_hw)[::-1], interpolation=cv2.INTER_LINEAR)
        return frame


# ---- tools: interpolation clips, latent encoding, the latent-space plot ----------------------------------

def region_options(region: str, start: LatentSpec, end: LatentSpec) -> dict[str, Any]:
    """Animator options moving ``region`` (upper | lower | both) from ``start`` to ``end``."""
    names = {"upper": ("upper",), "lower": ("lower",), "both": REGIONS}.get(region)
    if names is None:
        raise PosevidError(f"region {region}", "must be upper, lower or both")
    opts: dict[str, Any] = {}
    for name in names:
        opts[name], opts[f"{name}_to"] = start, end
    return opts


def recolor_to_file(source: str | Path | np.ndarray, driving: str | Path | Poses, checkpoint: str | Path,
                    start: LatentSpec, end: LatentSpec, out: str | Path, region: str = "upper",
                    mode: str = "bones", size: int | None = None, smooth: bool = True,
                    fps: float | None = None) -> int:
    """Animate ``source`` with ``driving`` while ``region``'s latent moves linearly from ``start`` to ``end``
    (colours, latents or photos, see ``DecoupledAnimator``) over the whole clip; writes ``out`` atomically
    and returns the number of frames."""
    from ...pipeline import Animation
    from ...video import VideoWriter

    anim = Animation(source, driving, "decoupled", checkpoint, mode, size, smooth, False, fps,
                     method_options=region_options(region, start, end))
    try:
        if anim.frame_count is None:
            raise PosevidError(driving, "its number of frames is unknown, so the interpolation cannot be spread "
                                        "over it; give a pose file or a video whose container has a frame count")
        anim.animator.frames = anim.frame_count
        with VideoWriter(out, anim.fps) as writer:
            for result, _ in anim:
                writer.write(result)
            return writer.count
    finally:
        anim.close()


def encode_photo(checkpoint: str | Path, photo: str | Path, color: dict[str, str] | None = None) -> np.ndarray:
    """[z_up, z_down] (z_up + z_down,) float32 of a photo cropped around its person at the model's size; ``color``
    ({"upper": "#rrggbb", ...}) recolours those regions first."""
    from ...checkpoints import load_method

    model = load_method(checkpoint)
    if not isinstance(model, Decoupled):
        raise PosevidError(checkpoint, f"holds a {model.name!r} model, not 'decoupled'")
    rgb, pose, mask = load_photo(photo, model.size)
    regions = body_regions(pose.xy[0], pose.conf[0], model.size, model.size, mask)
    for name, spec in (color or {}).items():
        if spec:
            rgb = recolor(rgb, regions[REGIONS.index(name)], rgb_to_ab(parse_color(spec)), model.lift)
    with torch.no_grad():
        return model.encode(image_to_tensor(rgb, model.device)[None])[0].cpu().numpy()


def sample_latents(model: Decoupled, data: str | Path, samples: int, region: str = "upper", seed: int = 0,
                   batch: int = 32) -> tuple[np.ndarray, np.ndarray, float]:
    """Section 4.5's samples: ``samples`` random training frames of ``data``, ``region`` recoloured with
    a random AB each, encoded. Returns latents (N, z_dim), the ABs (N, 2) and the mean L of the region
    pixels in the uncoloured frames."""
    from ...data.color import random_ab
    from ...data.datasets import ClipDataset

    if region not in REGIONS:
        raise PosevidError(f"region {region}", "must be upper or lower")
    if samples < 2:
        raise PosevidError(f"samples {samples}", "the PCA plot needs at least 2 samples")
    clips = ClipDataset(data, "train", frames=1, source=False, size=model.size)
    rng = np.random.default_rng(seed)
    picks = rng.integers(len(clips), size=samples)
    abs_ = random_ab(rng, samples)
    r = REGIONS.index(region)
    zs, lights, pending = [], [], []
    for i, (idx, ab) in enumerate(zip(picks, abs_)):
        item = clips[int(idx)]
        rgb = tensor_to_image(item["frames"][0])
        reg = body_regions(item["xy"][0].numpy(), item["conf"][0].numpy(), model.size, model.size,
                           item["masks"][0, 0].numpy())[r]
        if reg.any():
            lights.append(cv2.cvtColor(rgb.astype(np.float32) / 255, cv2.COLOR_RGB2LAB)[reg > 0, 0].mean())
        pending.append(image_to_tensor(recolor(rgb, reg, ab, model.lift)))
        if len(pending) == batch or i == samples - 1:
            with torch.no_grad():
                zs.append(model.encode(torch.stack(pending).to(model.device), region).cpu().numpy())
            pending = []
    return np.concatenate(zs), abs_, float(np.mean(lights)) if lights else 50.0


def plot_latents(latents: np.ndarray, ab: np.ndarray, lightness: float, out: str | Path,
                 title: str = "") -> Path:
    """PCA of latents (N, D) to 2-D, each point coloured by its LAB colour (L = ``lightness``, raised to
    at least 50 so that dark clothes stay visible; a, b = ``ab`` (N, 2)); PNG written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ...data.color import ab_to_rgb

    centred = latents - latents.mean(0)
    _, sv, vt = np.linalg.svd(centred, full_matrices=False)
    xy = centred @ vt[:2].T
    explained = (sv[:2] ** 2 / max(float((sv ** 2).sum()), 1e-12)).tolist()
    colours = ab_to_rgb(ab, max(lightness, 50.0))
    fig, ax = plt.subplots(figsize=(5, 5), dpi=120)
    ax.scatter(xy[:, 0], xy[:, 1], c=colours, s=12, edgecolors="none")
    ax.set_xlabel(f"PC1 ({100 * explained[0]:.0f}%)")
    ax.set_ylabel(f"PC2 ({100 * explained[1]:.0f}%)" if len(explained) > 1 else "PC2")
    ax.set_title(title)
    fig.tight_layout()
    out = Path(out)
    with atomic_path(out) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return out


def latents_plot(checkpoint: str | Path, data: str | Path, out: str | Path, samples: int = 500,
                 region: str = "upper", seed: int = 0) -> Path:
    """``posevid latents plot``: section 4.5's PCA plot of the encoded colour latents as a PNG."""
    from ...checkpoints import load_method

    model = load_method(checkpoint)
    if not isinstance(model, Decoupled):
        raise PosevidError(checkpoint, f"holds a {model.name!r} model, not 'decoupled'")
    if int(model.stage_steps[0]) == 0:
        raise PosevidError(checkpoint, "its encoders are untrained (train model.stage=encoders first)")
    z, ab, light = sample_latents(model, data, samples, region, seed)
    return plot_latents(z, ab, light, out, f"{region}-body latents ({len(z)} recoloured frames)")

