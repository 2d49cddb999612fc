"""SCGAN: frames from a source image and target poses (stage two of Yang et al., ECCV 2018).

G(I_s, P_s, P_t): an appearance encoder over (source image, its pose maps) and a pose encoder over the
target pose maps, each 4 stride-2 4x4 convs; residual blocks over the concatenated codes; a decoder of
nearest-neighbour interpolation + 3x3 conv (x4) and a tanh output. Instance norm, ReLU. D: a PatchGAN
over (source image, target pose maps, frame). Losses: adversarial + lambda_l1 * L1 (10) + lambda_sem *
semantic consistency (0.1): the L2 distance between the features of a frozen pose network
(``posenet``, trained beforehand on the same data) on the generated and the real frame.

Robustness to abnormal poses: with ``model.perturb_prob`` > 0 the target keypoints fed to G are, for
that fraction of samples, jittered (Gaussian, ``perturb_jitter`` x image size) and each joint dropped
with ``perturb_drop``; the losses still compare with the real frame.
Options (``model:``): base, res_blocks, skips (U-Net skips from both encoders; off in the paper),
sigma (pose map sigma in pixels), d_base, d_layers, gan_mode, lambda_l1, lambda_sem, posenet (a
posenet checkpoint; needed when lambda_sem > 0), perturb_prob, perturb_jitter, perturb_drop.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from ... import render
from ...errors import PosevidError
from ...losses import GANLoss, l1
from ...nets.blocks import ConvBlock, ResBlock, UpBlock
from ...nets.discriminators import PatchDiscriminator
from ...skeleton import NUM_JOINTS
from ..base import Animator, FixedSizeAnimator, Method, register
from .inference import SCGANGraph


def _encoder(in_ch: int, base: int) -> nn.ModuleList:
    """4 stride-2 4x4 convs: (B, in_ch, H, W) -> features at H/2 .. H/16 (channels base .. 8 base, max 256)."""
    chs = [in_ch] + [min(base * 2 ** i, 256) for i in range(4)]
    return nn.ModuleList(
        nn.Sequential(nn.Conv2d(chs[i], chs[i + 1], 4, 2, 1),
                      nn.InstanceNorm2d(chs[i + 1], affine=True) if i else nn.Identity(), nn.ReLU(True))
        for i in range(4))


class SCGenerator(nn.Module):
    """(source (B, 3, H, W), source maps (B, J, H, W), target maps (B, J, H, W)) -> frame (B, 3, H, W) in [-1, 1]."""

    def __init__(self, base: int = 32, res_blocks: int = 4, skips: bool = False, joints: int = NUM_JOINTS):
        super().__init__()
        self.skips = skips
        self.app = _encoder(3 + joints, base)
        self.pose = _encoder(joints, base)
        chs = [min(base * 2 ** i, 256) for i in range(4)]
        top = 2 * chs[-1]
        self.res = nn.Sequential(*[ResBlock(top) for _ in range(res_blocks)])
        ups, ch = [], top
        for i in reversed(range(4)):
            out = chs[i - 1] if i else base
            extra = 2 * chs[i - 1] if skips and i else 0
            ups.append(UpBlock(ch, out))
            ch = out + extra
        self.ups = nn.ModuleList(ups)
        self.out = ConvBlock(ch, 3, 3, norm="none", act="tanh")

    def forward(self, source: Tensor, source_maps: Tensor, target_maps: Tensor) -> Tensor:
        a, p = torch.cat([source, source_maps], 1), target_maps
        feats = []
        for ea, ep in zip(self.app, self.pose):
            a, p = ea(a), ep(p)
            feats.append(torch.cat([a, p], 1))
        return self.out(self.decode(feats))

    def decode(self, feats: list[Tensor]) -> Tensor:
        """The residual blocks and upsamplings over the joined encoder features (finest first; only the
        last is read without skips) -> the features before the output conv (B, base, H, W)."""
        h = self.res(feats[-1])
        for i, up in enumerate(self.ups):
            h = up(h)
            level = 2 - i
            if self.skips and level >= 0:
                h = torch.cat([h, feats[level]], 1)
        return h


def perturb(xy: Tensor, conf: Tensor, size: int, prob: float, jitter: float, drop: float,
            generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
    """Abnormal poses for training: for a ``prob`` fraction of samples, keypoints (B, J, 2) in pixels get
    Gaussian noise of std ``jitter * size`` and each joint is dropped (conf 0) with probability ``drop``."""
    B, J = conf.shape
    dev = xy.device
    pick = (torch.rand(B, 1, generator=generator) < prob).to(dev)
    noise = torch.randn(B, J, 2, generator=generator).to(dev) * (jitter * size)
    dropped = (torch.rand(B, J, generator=generator) < drop).to(dev) & pick
    out_xy = torch.where(pick[..., None], xy + noise, xy)
    out_conf = torch.where(dropped, torch.zeros_like(conf), conf)
    return torch.where(out_conf[..., None] > 0, out_xy, torch.zeros_like(out_xy)), out_conf


@torch.no_grad()
def perturbation_response(model: SCGAN, clips: Any, jitter: float, drop: float, seed: int = 0) -> dict[str, float]:
    """How SCGAN reacts to abnormal poses, over every frame t >= 1 of the first clip of a ``ClipDataset``
    with frame 0 as the source: the mean absolute change of the output (in [-1, 1] units) when the target
    keypoints are jittered by ``jitter`` x size and each is dropped with probability ``drop``, and the L1
    to the real frame with the clean and with the perturbed keypoints."""
    gen = torch.Generator().manual_seed(seed)
    src = clips.frame(0, 0)
    args = (src["image"][None], src["xy"][None], src["conf"][None])
    change, l1_clean, l1_noisy = [], [], []
    for t in range(1, len(clips.poses[0])):
        frame = clips.frame(0, t)
        real, xy, conf = frame["image"][None], frame["xy"][None], frame["conf"][None]
        clean = model.generate(*args, xy, conf).clamp(-1, 1)
        noisy = model.generate(*args, *perturb(xy, conf, model.size, 1.0, jitter, drop, gen)).clamp(-1, 1)
        change.append((noisy - clean).abs().mean().item())
        l1_clean.append((clean - real).abs().mean().item())
        l1_noisy.append((noisy - real).abs().mean().item())
    return {"output_change": float(np.mean(change)), "l1_clean_pose": float(np.mean(l1_clean)),
            "l1_perturbed_pose": float(np.mean(l1_noisy))}


@register("scgan")
class SCGAN(Method):
    """Semantic Consistent GAN on ``ClipDataset`` batches (``src``, ``src_xy``, ``src_conf``, ``frames``,
    ``xy``, ``conf``); every one of the T frames of an item is a target."""

    def __init__(self, cfg: dict[str, Any]):
        super().__init__(cfg)
        m = cfg.get("model", {})
        self.size = int(cfg.get("data", {}).get("size", 64))
        if self.size % 16:
            raise PosevidError(None, f"scgan needs data.size divisible by 16, got {self.size}")
        self.sigma = float(m.get("sigma", self.size / 32))
        self.lambda_l1 = float(m.get("lambda_l1", 10.0))
        self.lambda_sem = float(m.get("lambda_sem", 0.1))
        self.perturb_cfg = (float(m.get("perturb_prob", 0.0)), float(m.get("perturb_jitter", 0.03)),
                            float(m.get("perturb_drop", 0.1)))
        self.posenet_path = m.get("posenet")
        self.G = SCGenerator(int(m.get("base", 32)), int(m.get("res_blocks", 4)), bool(m.get("skips", False)))
        self.D = PatchDiscriminator(3 + 3 + NUM_JOINTS, int(m.get("d_base", 32)), int(m.get("d_layers", 3)))
        self.gan = GANLoss(m.get("gan_mode", "lsgan"))
        self._posenet: list[nn.Module] = []  # kept out of the module tree: frozen, not checkpointed
        self.adam("G", self.G.parameters())
        self.adam("D", self.D.parameters())

    def maps(self, xy: Tensor, conf: Tensor) -> Tensor:
        """Gaussian pose maps (B, 18, H, W) of keypoints (B, 18, 2) in model-image pixels."""
        return render.heatmaps(xy.float(), conf.float(), self.size, self.size, kind="gaussian",
                               sigma=self.sigma).to(xy.device)

    def posenet(self) -> nn.Module:
        """The frozen pose network (loaded from ``model.posenet`` on first use)."""
        if not self._posenet:
            if not self.posenet_path or not Path(self.posenet_path).exists():
                raise PosevidError(self.posenet_path, "scgan with lambda_sem > 0 needs model.posenet: a posenet "
                                   "checkpoint or run (train one with configs/posenet/tiny.yaml), or lambda_sem=0")
            from ...checkpoints import load_method

            method = load_method(self.posenet_path)
            if method.name != "posenet":
                raise PosevidError(self.posenet_path, f"not a posenet checkpoint (method {method.name!r})")
            net = method.net.eval().requires_grad_(False)
            self._posenet.append(net)
        return self._posenet[0].to(self.device)

    def semantic(self, fake: Tensor, real: Tensor) -> Tensor:
        """Semantic consistency: the L2 distance (Euclidean norm over C x H x W) between the pose
        network's features of generated and (detached) real frames, averaged over the batch and over
        its two last feature maps (residual features, heatmaps)."""
        net = self.posenet()
        with self.autocast():
            with torch.no_grad():
                real_f = net(real)[1:]
            fake_f = net(fake)[1:]
        dists = [((f.float() - r.float()) ** 2).flatten(1).sum(1).add(1e-8).sqrt().mean()
                 for f, r in zip(fake_f, real_f)]
        return torch.stack(dists).mean()

    def generate(self, source: Tensor, src_xy: Tensor, src_conf: Tensor, xy: Tensor, conf: Tensor) -> Tensor:
        """Frames (B, 3, H, W) for sources (B, 3, H, W) in [-1, 1] and keypoints (B, 18, 2) in pixels."""
        with self.autocast():
            return self.G(source, self.maps(src_xy, src_conf), self.maps(xy, conf)).float()

    def train_step(self, batch: dict[str, Tensor]) -> dict[str, float]:
        T = batch["frames"].shape[1]
        real = batch["frames"].flatten(0, 1).float()
        src = batch["src"].float().repeat_interleave(T, 0)
        src_xy, src_conf = batch["src_xy"].repeat_interleave(T, 0), batch["src_conf"].repeat_interleave(T, 0)
        xy, conf = batch["xy"].flatten(0, 1).float(), batch["conf"].flatten(0, 1).float()
        prob, jitter, drop = self.perturb_cfg
        if prob > 0:
            xy, conf = perturb(xy, conf, self.size, prob, jitter, drop)
        tgt_maps = self.maps(batch["xy"].flatten(0, 1), batch["conf"].flatten(0, 1))
        fake = self.generate(src, src_xy, src_conf, xy, conf)
        opt_d, opt_g = self.optimizers["D"], self.optimizers["G"]
        with self.autocast():
            d_real = self.gan(self.D(torch.cat([src, tgt_maps, real], 1)), True)
            d_fake = self.gan(self.D(torch.cat([src, tgt_maps, fake.detach()], 1)), False)
        opt_d.zero_grad(set_to_none=True)
        (d_real + d_fake).backward()
        opt_d.step()
        self.D.requires_grad_(False)
        with self.autocast():
            g_adv = self.gan(self.D(torch.cat([src, tgt_maps, fake], 1)), True, for_discriminator=False)
        self.D.requires_grad_(True)
        rec = l1(fake, real)
        loss = g_adv + self.lambda_l1 * rec
        sem = self.semantic(fake, real) if self.lambda_sem > 0 else torch.zeros(())
        loss = loss + self.lambda_sem * sem
        opt_g.zero_grad(set_to_none=True)
        loss.backward()
        opt_g.step()
        self._visuals = {"source": src[:4], "pose": tgt_maps[:4].amax(1, keepdim=True) * 2 - 1,
                         "generated": fake.detach()[:4], "real": real[:4]}
        return {"l1": rec.item(), "semantic": sem.item(), "g_adv": g_adv.item(), "d_real": d_real.item(),
                "d_fake": d_fake.item()}

    def animator(self) -> Animator:
        return SCGANAnimator(self)

    def inference_graph(self) -> SCGANGraph:
        return SCGANGraph(self)


class SCGANAnimator(FixedSizeAnimator):
    """Frame by frame at the model's square size (``FixedSizeAnimator``); the appearance features of the
    source are computed once (``SCGANGraph``)."""

    def __init__(self, method: SCGAN):
        super().__init__(method.device, method.size, method.size)
        self.method = method
        self.app: dict[str, Tensor] = {}

    def start(self, source: Tensor, xy: Tensor, conf: Tensor) -> None:
        self.engine = self.method.engine
        self.app = self.engine.run("source", source=source, source_maps=self.method.maps(xy, conf))

    def generate(self, xy: Tensor, conf: Tensor) -> Tensor:
        return self.engine.run("frame", **self.app, target_maps=self.method.maps(xy, conf))["frame"]
