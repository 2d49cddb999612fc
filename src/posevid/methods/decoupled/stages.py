"""The decoupled method's three training stages, run in this order by one ``posevid train``:

- ``EncodersStage`` (stage I): E_up (z 16-d) and E_down (8-d), each trained BicycleGAN-style with its own
  U-Net generator G(A, z) and PatchGAN: z = E(B), B_hat = G(A, z), latent regression E(B_hat) -> z on
  the *reconstructed* image (the paper's change), losses LSGAN + 10 L1 + 0.01 KL + 0.5 |z - E(B_hat)|.
  A is the frame's feature map F (with ``model.bicycle.grey`` also its grey image), B the frame with
  only that encoder's region recoloured (each frame its own colour).
- ``RestoreStage``: the restoration network fills the cracks of part-wise warped feature maps (eq. 1);
  trained against the feature maps of the real target frames (PatchGAN, plus an L1 term we add).
- ``GeneratorStage`` (stage II): encoders (and restorer) frozen; a pix2pixHD coarse-to-fine generator maps
  the estimated feature map, the previous frame (black before the first) and z = [z_up, z_down] to a
  frame. Two consecutive frames per step; a 3-scale discriminator sees [F1, F2, v1, v2] (temporal +
  conditional GAN); + 10 feature matching + 10 perceptual (ST-LPIPS's VGG-16, or the VGG-19 of
  ``train.vgg_weights``) (+ optional L1).

Each later stage starts from the previous one's weights (the trainer sets ``train.init_from``).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ...data.color import REGIONS
from ...errors import PosevidError
from ...losses import PerceptualLoss, feature_matching, kl_divergence, l1, latent_l1, perceptual_loss
from ...nets.blocks import ConvBlock
from ...nets.discriminators import MultiScaleDiscriminator, PatchDiscriminator
from ...nets.encoders import ResnetEncoder
from ...nets.unet import UNet
from ..base import Stage
from .nets import FEATURE_CH, latent_map

_LUMA = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)


def _bicycle_unet(in_ch: int, base: int, depth: int, norm: str) -> UNet:
    """Stage I's generator: ``nets.UNet`` (-> 3 channels) with an unnormalised stem, as BicycleGAN's U-Net
    has an unnormalised outermost layer: the stem's features reach the (unnormalised) head through the
    top skip connection, so the latent tiled into the input is not normalised away."""
    net = UNet(in_ch, 3, base, depth, norm)
    net.stem = ConvBlock(in_ch, min(base, 512), 7, 1, "none", "relu")
    return net


class EncodersStage(Stage):
    """Stage I: the colour encoders, each with a BicycleGAN U-Net and PatchGAN (``model.bicycle``)."""

    name = "encoders"

    def setup(self) -> None:
        m, b = self.method, self.method.opts.bicycle
        in_ch = FEATURE_CH + b.grey
        m.bicycle_g = nn.ModuleList(_bicycle_unet(in_ch + z, b.base, b.depth, m.opts.norm) for z in m.z_dims)
        m.bicycle_d = nn.ModuleList(PatchDiscriminator(3, b.d_base, b.d_layers, m.opts.norm) for _ in REGIONS)
        trained = [m.enc_up, m.enc_down, m.bicycle_g]
        for mod in [*trained, m.bicycle_d]:
            mod.requires_grad_(True)
        m.adam("EG", [p for mod in trained for p in mod.parameters()])
        m.adam("D", m.bicycle_d.parameters())

    def train_step(self, batch: dict[str, Tensor]) -> dict[str, float]:
        m, wb = self.method, self.method.opts.bicycle
        a = batch["feat"].flatten(0, 1) * 2 - 1
        if wb.grey:  # the uncoloured frame's luminance: z then only has to carry the colour
            a = torch.cat([a, (batch["frames_orig"].flatten(0, 1) * _LUMA.to(a)).sum(1, keepdim=True)], 1)
        regions = batch["regions"].flatten(0, 1)
        out: dict[str, Tensor] = {}
        total, fakes, reals = 0.0, [], []
        for r, name in enumerate(REGIONS):
            enc, gen, disc = m.encoders[r], m.bicycle_g[r], m.bicycle_d[r]
            real = batch[f"frames_{'up' if r == 0 else 'down'}"].flatten(0, 1)
            with m.autocast():
                mu, logvar = enc(real)
            mu, logvar = mu.float(), logvar.float()
            z = ResnetEncoder.sample(mu, logvar)
            with m.autocast():
                fake = gen(torch.cat([a, latent_map([z], regions[:, r:r + 1])], 1)).float()
                disc.requires_grad_(False)
                g_gan = m.gan(disc(fake), True, for_discriminator=False)
                disc.requires_grad_(True)
                enc.requires_grad_(False)  # the latent regression trains G only (BicycleGAN)
                z_rec = enc(fake)[0].float()
                enc.requires_grad_(True)
            out[f"{name}_l1"] = l1(fake, real)
            out[f"{name}_kl"] = kl_divergence(mu, logvar)
            out[f"{name}_z"] = latent_l1(z_rec, z.detach())
            out[f"{name}_gan"] = g_gan
            total = total + g_gan + wb.l1 * out[f"{name}_l1"] + wb.kl * out[f"{name}_kl"] + wb.z * out[f"{name}_z"]
            fakes.append(fake.detach())
            reals.append(real)
        m.optimize("EG", total)
        d_total = 0.0
        for r, name in enumerate(REGIONS):
            with m.autocast():
                out[f"{name}_d_real"] = m.gan(m.bicycle_d[r](reals[r]), True)
                out[f"{name}_d_fake"] = m.gan(m.bicycle_d[r](fakes[r]), False)
            d_total = d_total + 0.5 * (out[f"{name}_d_real"] + out[f"{name}_d_fake"])
        m.optimize("D", d_total)
        m._visuals = {"feature": a[:, :3], "upper": reals[0], "upper_rec": fakes[0],
                      "lower": reals[1], "lower_rec": fakes[1]}
        return {k: float(v.detach()) for k, v in out.items()}


class RestoreStage(Stage):
    """The restoration network R on warped feature maps, against the real targets' (``model.restore``)."""

    name = "restore"

    def setup(self) -> None:
        m, r = self.method, self.method.opts.restore
        if m.restorer is None:
            raise PosevidError("model.stage", "is restore but model.restore.enabled is false")
        m.restore_d = PatchDiscriminator(FEATURE_CH, r.d_base, r.d_layers, m.opts.norm)
        m.restorer.requires_grad_(True)
        m.restore_d.requires_grad_(True)
        m.adam("R", m.restorer.parameters())
        m.adam("D", m.restore_d.parameters())

    def train_step(self, batch: dict[str, Tensor]) -> dict[str, float]:
        m = self.method
        with torch.no_grad():
            warped = torch.cat([m.warp_batch(batch, t, False)[0] for t in range(batch["xy"].shape[1])])
        real = batch["feat"].transpose(0, 1).flatten(0, 1) * 2 - 1
        restored = m.restore(warped)
        with m.autocast():
            m.restore_d.requires_grad_(False)
            g_gan = m.gan(m.restore_d(restored), True, for_discriminator=False)
            m.restore_d.requires_grad_(True)
        rec = l1(restored, real)
        m.optimize("R", g_gan + m.opts.restore.l1 * rec)
        with m.autocast():
            d_real = m.gan(m.restore_d(real), True)
            d_fake = m.gan(m.restore_d(restored.detach()), False)
        m.optimize("D", 0.5 * (d_real + d_fake))
        m._visuals = {"warped": warped[:, :3], "restored": restored.detach()[:, :3], "real": real[:, :3],
                      "warped_edges": warped[:, 3:], "restored_edges": restored.detach()[:, 3:],
                      "real_edges": real[:, 3:]}
        return {"l1": rec.item(), "l1_warped": l1(warped, real).item(), "g_gan": g_gan.item(),
                "d_real": d_real.item(), "d_fake": d_fake.item()}


class GeneratorStage(Stage):
    """Stage II: the coarse-to-fine generator and the temporal multi-scale discriminator (``model.disc``)."""

    name = "generator"

    def setup(self) -> None:
        m, d = self.method, self.method.opts.disc
        m.disc = MultiScaleDiscriminator(m.frames * (FEATURE_CH + 3), d.num_d, d.base, d.n_layers, m.opts.norm)
        self.perceptual: PerceptualLoss | None = None  # built on the first training step
        m.generator.requires_grad_(True)
        m.disc.requires_grad_(True)
        m.adam("G", m.generator.parameters())
        m.adam("D", m.disc.parameters())

    def train_step(self, batch: dict[str, Tensor]) -> dict[str, float]:
        m, w = self.method, self.method.opts.loss
        m.check_trained()
        frames = batch["frames"]
        n = frames.shape[1]
        with torch.no_grad():
            z = m.encode(batch["src"])
            m.z_stats.update(z)
            estimated = [m.warp_batch(batch, t, True) for t in range(n)]
        feats = [f for f, _ in estimated]
        prev = torch.zeros_like(frames[:, 0])
        fakes = []
        for feat, regions in estimated:
            prev = m.generate(feat, regions, z, prev)
            fakes.append(prev)
        cond = torch.cat(feats, 1)
        real_seq, fake_seq = frames.flatten(1, 2), torch.cat(fakes, 1)
        with m.autocast():
            pred_real = m.disc(torch.cat([cond, real_seq], 1))
            m.disc.requires_grad_(False)
            pred_fake = m.disc(torch.cat([cond, fake_seq], 1))
            m.disc.requires_grad_(True)
        out = {"g_gan": m.gan(pred_fake, True, for_discriminator=False),
               "g_fm": feature_matching(pred_fake, pred_real), "l1": l1(fake_seq, real_seq)}
        loss = w.gan * out["g_gan"] + w.feature_matching * out["g_fm"] + w.l1 * out["l1"]
        if w.perceptual and self.perceptual is None:
            self.perceptual = perceptual_loss(m.cfg["train"])
        if self.perceptual is not None and self.perceptual.enabled:
            # One batch of all frames: the mean over frames of equal size (same value, one network pass).
            out["g_vgg"] = self.perceptual(torch.cat(fakes), frames.transpose(0, 1).flatten(0, 1))
            loss = loss + w.perceptual * out["g_vgg"]
        m.optimize("G", loss)
        with m.autocast():
            out["d_real"] = m.gan(pred_real, True)
            out["d_fake"] = m.gan(m.disc(torch.cat([cond, fake_seq.detach()], 1)), False)
        m.optimize("D", 0.5 * (out["d_real"] + out["d_fake"]))
        m._visuals = {"source": batch["src"], "feature": feats[-1][:, :3], "edges": feats[-1][:, 3:],
                      "generated": fakes[-1].detach(), "real": frames[:, -1]}
        return {k: float(v.detach()) for k, v in out.items()}


STAGES = (EncodersStage, RestoreStage, GeneratorStage)
