"""SCGAN: frames from a source image and target poses (stage two of Yang et al., ECCV 2018).

G(I_s, P_s, P_t): an appearance encoder over (source image, its pose maps) and a pose encoder over the
target pose maps, each 4 stride-2 4x4 convs; residual blocks over the concatenated codes; a decoder of
nearest-neighbour interpolation + 3x3 conv (x4) and a tanh output. Instance norm, ReLU. D: a PatchGAN
over (source image, target pose maps, frame). Losses: adversarial + lambda_l1 * L1 (10) + lambda_sem *
semantic consistency (0.1): the L2 distance between the features of a frozen pose network on the
generated and the real frame. The pose network (``posenet.model.PoseNet``) is SCGAN's first training
stage (``PoseNetStage``, on the same data); the generator is the second (``GeneratorStage``).

Robustness to abnormal poses: with ``model.perturb_prob`` > 0 the target keypoints fed to G are, for
that fraction of samples, jittered (Gaussian, ``perturb_jitter`` x image size) and each joint dropped
with ``perturb_drop``; the losses still compare with the real frame. Options: ``SCGANOptions``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor, nn

from ... import render
from ...errors import PosevidError
from ...losses import GANLoss, l1
from ...nets.blocks import ConvBlock, ResBlock, UpBlock
from ...nets.discriminators import PatchDiscriminator
from ...options import option
from ...skeleton import NUM_JOINTS
from ..base import Animator, FixedSizeAnimator, Method, Stage, register
from ..posenet.model import PoseNet, PoseNetOptions, joint_error, posenet_loss
from .inference import SCGANGraph
from .spec import SCGANSpec


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


@dataclass
class SCGANOptions:
    """``model:`` options of SCGAN (and of the pose network it trains first)."""

    stage: Literal["posenet", "generator"] = option("generator", "the stage this model trains / was trained in "
                                                                 "(the trainer sets it for each stage)")
    base: int = option(32, "channels of the first encoder conv (doubling per conv, capped at 256)", ge=1)
    res_blocks: int = option(4, "residual blocks over the concatenated codes (at size / 16)", ge=0)
    skips: bool = option(False, "U-Net skips from both encoders to the decoder (not in the paper)")
    sigma: float | None = option(None, "sigma of the Gaussian pose maps in pixels (default: size / 32)", gt=0)
    d_base: int = option(32, "channels of the PatchGAN's first layer", ge=1)
    d_layers: int = option(3, "stride-2 layers of the PatchGAN", ge=1)
    gan_mode: Literal["lsgan", "bce", "hinge"] = option("lsgan", "adversarial loss")
    lambda_l1: float = option(10.0, "L_r, the weight of the L1 reconstruction loss", ge=0)
    lambda_sem: float = option(0.1, "L_s, the weight of the semantic-consistency loss (0: no pose network)", ge=0)
    perturb_prob: float = option(0.0, "fraction of training targets given abnormal keypoints", ge=0, le=1)
    perturb_jitter: float = option(0.03, "their keypoint jitter, as a fraction of the image size", ge=0)
    perturb_drop: float = option(0.1, "their probability of dropping each joint", ge=0, le=1)
    joints: int = option(NUM_JOINTS, "keypoints per pose: 18 body joints, or 68 face landmarks (data.keypoints: "
                                     "face, the paper's face experiment)", ge=1)
    posenet: PoseNetOptions = option(PoseNetOptions(), "the pose network of the semantic loss (stage posenet)")


class PoseNetStage(Stage):
    """Stage one: the pose network whose features give the semantic-consistency loss, trained on the
    dataset's own frames and poses (``posenet.model``)."""

    name = "posenet"

    def setup(self) -> None:
        self.method.pose_net.requires_grad_(True)
        self.method.adam("pose_net", self.method.pose_net.parameters())

    def train_step(self, batch: dict[str, Tensor]) -> dict[str, float]:
        m = self.method
        images = batch["frames"].flatten(0, 1).float()
        xy, conf = batch["xy"].flatten(0, 1), batch["conf"].flatten(0, 1)
        loss, maps, target = posenet_loss(m.pose_net, images, xy, conf, m.opts.posenet.sigma, m.autocast())
        m.optimize("pose_net", loss)
        m.posenet_steps += 1
        m._visuals = {"image": images[:4], "maps": maps.detach()[:4].amax(1, keepdim=True).clamp(0, 1) * 2 - 1,
                      "target": target[:4].amax(1, keepdim=True) * 2 - 1}
        return {"mse": loss.item(), "joint_error_px": joint_error(maps, xy, conf, *images.shape[-2:]).item()}


class GeneratorStage(Stage):
    """Stage two: G and D, with the frozen pose network's semantic-consistency loss."""

    name = "generator"

    def setup(self) -> None:
        m = self.method
        m.adam("G", m.G.parameters())
        m.adam("D", m.D.parameters())

    def train_step(self, batch: dict[str, Tensor]) -> dict[str, float]:
        m = self.method
        T = batch["frames"].shape[1]
        real = batch["frames"].flatten(0, 1).float()
        src = batch["src"].float().repeat_interleave(T, 0)
        src_xy, src_conf = batch["src_xy"].repeat_interleave(T, 0), batch["src_conf"].repeat_interleave(T, 0)
        xy, conf = batch["xy"].flatten(0, 1).float(), batch["conf"].flatten(0, 1).float()
        if m.opts.perturb_prob > 0:
            xy, conf = perturb(xy, conf, m.size, m.opts.perturb_prob, m.opts.perturb_jitter, m.opts.perturb_drop)
        tgt_maps = m.maps(batch["xy"].flatten(0, 1), batch["conf"].flatten(0, 1))
        fake = m.generate(src, src_xy, src_conf, xy, conf)
        with m.autocast():
            d_real = m.gan(m.D(torch.cat([src, tgt_maps, real], 1)), True)
            d_fake = m.gan(m.D(torch.cat([src, tgt_maps, fake.detach()], 1)), False)
        m.optimize("D", d_real + d_fake)
        m.D.requires_grad_(False)
        with m.autocast():
            g_adv = m.gan(m.D(torch.cat([src, tgt_maps, fake], 1)), True, for_discriminator=False)
        m.D.requires_grad_(True)
        rec = l1(fake, real)
        loss = g_adv + m.opts.lambda_l1 * rec
        sem = m.semantic(fake, real) if m.opts.lambda_sem > 0 else torch.zeros(())
        loss = loss + m.opts.lambda_sem * sem
        m.optimize("G", loss)
        m._visuals = {"source": src[:4], "pose": tgt_maps[:4].amax(1, keepdim=True) * 2 - 1,
                      "generated": fake.detach()[:4], "real": real[:4]}
        return {"l1": rec.item(), "semantic": sem.item(), "g_adv": g_adv.item(), "d_real": d_real.item(),
                "d_fake": d_fake.item()}


@register("scgan")
class SCGAN(SCGANSpec, Method):
    """Semantic Consistent GAN on ``ClipDataset`` batches (``src``, ``src_xy``, ``src_conf``, ``frames``,
    ``xy``, ``conf``); every one of the T frames of an item is a target. Two stages: ``PoseNetStage``
    (the pose network of the semantic loss), then ``GeneratorStage``. Options: ``SCGANOptions``."""

    Options = SCGANOptions
    opts: SCGANOptions
    stages = (PoseNetStage, GeneratorStage)

    def __init__(self, cfg: dict[str, Any]):
        super().__init__(cfg)
        m = self.opts
        self.size = self.image_size()
        if self.size % 16:
            raise PosevidError("data.size", f"scgan needs data.size divisible by 16, got {self.size}")
        self.sigma = m.sigma or self.size / 32
        self.G = SCGenerator(m.base, m.res_blocks, m.skips, m.joints)
        self.D = PatchDiscriminator(3 + 3 + m.joints, m.d_base, m.d_layers)
        self.gan = GANLoss(m.gan_mode)
        self.pose_net = PoseNet(m.posenet.base, m.posenet.blocks, m.joints).requires_grad_(False)
        self.keypoints = getattr(self.data_opts, "keypoints", "body")
        if self.keypoints == "face":  # trained on faces: animates a portrait's face, not a body
            self.capabilities = dataclasses.replace(type(self).capabilities, faces=True, bodies=False)
        # Steps of the pose-network stage; the generator stage refuses a semantic loss from an untrained one.
        self.register_buffer("posenet_steps", torch.zeros((), dtype=torch.long))
        self.start_stage(m.stage)

    def maps(self, xy: Tensor, conf: Tensor) -> Tensor:
        """Gaussian pose maps (B, 18, H, W) of keypoints (B, 18, 2) in model-image pixels."""
        return render.heatmaps(xy.float(), conf.float(), self.size, self.size, kind="gaussian",
                               sigma=self.sigma).to(xy.device)

    def semantic(self, fake: Tensor, real: Tensor) -> Tensor:
        """Semantic consistency: the L2 distance (Euclidean norm over C x H x W) between the pose
        network's features of generated and (detached) real frames, averaged over the batch and over
        its two last feature maps (residual features, heatmaps)."""
        if int(self.posenet_steps) == 0:
            raise PosevidError("train.init_from", "scgan's semantic loss (model.lambda_sem > 0) needs a trained pose "
                                                  "network: train stage posenet first, or set model.lambda_sem=0")
        net = self.pose_net.eval()
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

    def animator(self) -> Animator:
        return SCGANAnimator(self)

    def inference_graph(self) -> SCGANGraph:
        return SCGANGraph(self)


class SCGANAnimator(FixedSizeAnimator):
    """Frame by frame at the model's square size (``FixedSizeAnimator``); the appearance features of the
    source are computed once (``SCGANGraph``)."""

    def __init__(self, method: SCGAN):
        super().__init__(method.device, method.size, method.size, method.keypoints)
        self.method = method
        self.app: dict[str, Tensor] = {}

    def start(self, source: Tensor, xy: Tensor, conf: Tensor) -> None:
        self.engine = self.method.engine
        self.app = self.engine.run("source", source=source, source_maps=self.method.maps(xy, conf))

    def generate(self, xy: Tensor, conf: Tensor) -> Tensor:
        return self.engine.run("frame", **self.app, target_maps=self.method.maps(xy, conf))["frame"]
