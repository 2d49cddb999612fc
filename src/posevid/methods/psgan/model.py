"""PSGAN: pose sequences from an action label and an initial pose (stage one of Yang et al., ECCV 2018).

G(z, c, P_0): the initial pose P_0 enters as Gaussian heatmaps through 4 stride-2 4x4 convs; the code,
joined with the noise z and the one-hot class c, is extended with a time axis (C x H x W -> C x 1 x H x W)
and decoded by stride-2 transposed 3D convs into T heatmap frames, whose soft-argmax gives the keypoints
(``model.decoder: heatmaps``). ``decoder: coords`` instead decodes T x J x 2 coordinates with transposed
1D temporal convs. D is a 3D PatchGAN over the rendered heatmaps of the sequence (with P_0's maps as the
condition) plus an auxiliary action classifier. Losses: adversarial + lambda_cls * cross-entropy
(lambda_cls = 0.01). Instance norm everywhere, ReLU in G (leaky ReLU in D, as pix2pix).

Keypoints are in the motion dataset's normalised coordinates: (x, y) in [-1, 1], x right, y down.
The action names are ``data.labels`` (a subset of the motion dataset's). Options: ``PSGANOptions``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ... import render
from ...data import motion as _motion_data  # noqa: F401  (registers the "motion" dataset kind)
from ...errors import PosevidError
from ...losses import GANLoss
from ...options import option
from ...poses import Poses
from ...skeleton import NUM_JOINTS
from ...tensors import image_to_tensor
from ..base import Animator, Capabilities, Method, register

if TYPE_CHECKING:
    from ...cli_hooks import CommandLine

FILL = 0.5  # the body chain spans this fraction of the normalised square (``mocap.fit``)


def to_heatmaps(xy: Tensor, conf: Tensor, size: int, sigma: float) -> Tensor:
    """Gaussian maps of normalised keypoints: (..., J, 2) in [-1, 1], (..., J) -> (..., J, size, size).

    The same maps as ``render.heatmaps(kind="gaussian")`` at pixel coordinates (xy + 1) * size / 2 - 0.5,
    computed as the outer product of two 1D Gaussians (several times faster in the training loop).
    """
    pix = (xy.float() + 1) * (size / 2) - 0.5
    grid = torch.arange(size, dtype=torch.float32, device=xy.device)
    gx = torch.exp(-((grid - pix[..., 0, None]) ** 2) / (2 * sigma * sigma))
    gy = torch.exp(-((grid - pix[..., 1, None]) ** 2) / (2 * sigma * sigma))
    return gy[..., :, None] * gx[..., None, :] * (conf > 0).float()[..., None, None]


def soft_argmax(logits: Tensor) -> Tensor:
    """(B, J, T, S, S) heatmap logits -> (B, T, J, 2) expected (x, y) of the spatial softmax, in [-1, 1]."""
    B, J, T, S, _ = logits.shape
    prob = logits.float().flatten(3).softmax(-1).view(B, J, T, S, S)
    grid = (torch.arange(S, device=logits.device, dtype=torch.float32) * 2 + 1) / S - 1
    x = (prob.sum(3) * grid).sum(-1)
    y = (prob.sum(4) * grid).sum(-1)
    return torch.stack([x, y], -1).permute(0, 2, 1, 3)


def _decoded_length(frames: int) -> int:
    """The length the decoder produces for ``frames`` (power of two up to 16, then multiples of 16)."""
    return 2 ** math.ceil(math.log2(frames)) if frames <= 16 else 16 * math.ceil(frames / 16)


class PoseSequenceGenerator(nn.Module):
    """G(z, c, initial pose maps): (B, z_dim), (B, K), (B, J, S, S) -> (B, T, J, 2) and heatmap logits.

    The logits are (B, J, T, S, S) for ``decoder="heatmaps"`` and None for ``"coords"``. ``skip`` (our
    addition) starts every frame at the initial pose: its maps (times a learnt gain) are added to the
    decoded logits, or its coordinates to the decoded ones, and the decoder's last conv starts at zero,
    so training starts from a still sequence and the decoder learns the motion.
    """

    def __init__(self, classes: int, frames: int, size: int, base: int = 32, z_dim: int = 32,
                 decoder: str = "heatmaps", joints: int = NUM_JOINTS, skip: bool = True):
        super().__init__()
        self.skip = skip
        self.skip_gain = nn.Parameter(torch.tensor(12.0))
        if size % 16 or size < 16:
            raise ValueError(f"heatmap_size must be a multiple of 16, got {size}")
        if decoder not in ("heatmaps", "coords"):
            raise ValueError(f"unknown PSGAN decoder {decoder!r}; use heatmaps or coords")
        self.frames, self.decoder, self.joints = frames, decoder, joints
        chs = [joints, base, base * 2, base * 4, base * 8]
        enc = []
        for i in range(4):
            norm = nn.InstanceNorm2d(chs[i + 1], affine=True) if 0 < i < 3 else nn.Identity()
            enc += [nn.Conv2d(chs[i], chs[i + 1], 4, 2, 1), norm, nn.ReLU(True)]
        self.encoder = nn.Sequential(*enc)
        top = base * 8
        self.fuse = nn.Sequential(nn.Conv2d(top + z_dim + classes, top, 3, 1, 1), nn.ReLU(True))
        length = _decoded_length(frames)
        if decoder == "heatmaps":
            t_up = min(4, int(math.log2(length))) if length <= 16 else 4
            t0 = length // 2 ** t_up
            dec: list[nn.Module] = []
            if t0 > 1:
                dec += [nn.ConvTranspose3d(top, top, (t0, 1, 1)), nn.InstanceNorm3d(top, affine=True), nn.ReLU(True)]
            ch = top
            for i in range(4):
                out = max(base, top // 2 ** (i + 1))
                kt, st = (4, 2) if i < t_up else (3, 1)
                dec += [nn.ConvTranspose3d(ch, out, (kt, 4, 4), (st, 2, 2), 1),
                        nn.InstanceNorm3d(out, affine=True), nn.ReLU(True)]
                ch = out
            dec.append(nn.Conv3d(ch, joints, 3, 1, 1))
        else:
            t0 = length // 2 ** int(math.log2(length) if length <= 16 else 4)
            dec = [nn.ConvTranspose1d(top, top, t0), nn.ReLU(True)]
            ch = top
            while t0 < length:
                out = max(base, ch // 2)
                dec += [nn.ConvTranspose1d(ch, out, 4, 2, 1), nn.InstanceNorm1d(out, affine=True), nn.ReLU(True)]
                ch, t0 = out, t0 * 2
            dec += [nn.Conv1d(ch, joints * 2, 3, 1, 1), nn.Tanh()]
        self.decode = nn.Sequential(*dec)
        if skip:  # start exactly at the initial pose: the last conv's output begins at zero
            last = dec[-1] if decoder == "heatmaps" else dec[-2]
            nn.init.zeros_(last.weight)
            nn.init.zeros_(last.bias)

    def forward(self, z: Tensor, onehot: Tensor, init_maps: Tensor, init_xy: Tensor) -> tuple[Tensor, Tensor | None]:
        """``init_xy`` (B, J, 2) is only used by the initial-pose skip (``skip=True``)."""
        h = self.encoder(init_maps)
        code = torch.cat([z, onehot], 1)[:, :, None, None].expand(-1, -1, *h.shape[-2:]).to(h.dtype)
        h = self.fuse(torch.cat([h, code], 1))
        if self.decoder == "heatmaps":
            logits = self.decode(h[:, :, None])[:, :, :self.frames].float()
            if self.skip:
                logits = logits + self.skip_gain * init_maps[:, :, None].float()
            return soft_argmax(logits), logits
        out = self.decode(h.mean((2, 3))[:, :, None])[:, :, :self.frames].float()  # (B, J * 2, T)
        xy = out.view(out.shape[0], self.joints, 2, -1).permute(0, 3, 1, 2)
        return (xy + init_xy[:, None].float() if self.skip else xy), None


class SequenceDiscriminator(nn.Module):
    """3D PatchGAN with an auxiliary classifier: (B, C, T, S, S) -> (features + patch logits, class logits).

    Three stride-2 4x4x4 convs (leaky ReLU, instance norm after the first), a 3x3x3 patch-logit conv;
    the class head averages the last features.
    """

    def __init__(self, in_ch: int, classes: int, base: int = 32):
        super().__init__()
        chs = [in_ch, base, base * 2, base * 4]
        self.layers = nn.ModuleList(
            nn.Sequential(nn.Conv3d(chs[i], chs[i + 1], 4, 2, 1),
                          nn.InstanceNorm3d(chs[i + 1], affine=True) if i else nn.Identity(),
                          nn.LeakyReLU(0.2, True)) for i in range(3))
        self.patch = nn.Conv3d(chs[-1], 1, 3, 1, 1)
        self.classify = nn.Linear(chs[-1], classes)

    def forward(self, x: Tensor) -> tuple[list[Tensor], Tensor]:
        feats = []
        for layer in self.layers:
            x = layer(x)
            feats.append(x)
        feats.append(self.patch(x))
        return feats, self.classify(x.float().mean((2, 3, 4)))


@dataclass
class PSGANOptions:
    """``model:`` options of PSGAN."""

    decoder: Literal["heatmaps", "coords"] = option(
        "heatmaps", "heatmaps: transposed 3D convs to T heatmap frames + soft-argmax (the paper); coords: 1D "
                    "temporal convs to T x J x 2 coordinates")
    heatmap_size: int = option(32, "side of the heatmaps poses are drawn in (a multiple of 16)", ge=16)
    sigma: float = option(1.5, "Gaussian sigma of a joint's heatmap, in heatmap pixels", gt=0)
    base: int = option(32, "channels of the first encoder conv (doubling per conv)", ge=1)
    z_dim: int = option(32, "noise dimension", ge=1)
    skip: bool = option(True, "start every frame at the initial pose and learn the motion on top (ours)")
    d_base: int = option(32, "channels of the discriminator's first conv", ge=1)
    gan_mode: Literal["lsgan", "bce", "hinge"] = option("lsgan", "adversarial loss")
    lambda_cls: float = option(0.01, "L_p, the weight of the action classification loss", ge=0)


@register("psgan")
class PSGAN(Method):
    """Pose Sequence GAN. Batches come from the motion dataset: ``xy (B, T, 18, 2)`` in [-1, 1],
    ``conf (B, T, 18)``, ``label (B,)``. ``generate`` samples sequences; ``motion`` (the contract of a
    method that ``generates_motion``) and ``generate_motion`` wrap it. Its animator draws the target
    poses as stick figures (it has no appearance model)."""

    capabilities = Capabilities(trains=True, animates=True, generates_motion=True)
    Options = PSGANOptions
    opts: PSGANOptions
    data_kind = "motion"

    def __init__(self, cfg: dict[str, Any]):
        super().__init__(cfg)
        m = self.opts
        self.labels: list[str] = list(self.actions(self.cfg))
        if not self.labels:
            raise PosevidError("data.labels", "psgan needs the action names to learn, from the motion dataset "
                                              "(`posevid motion dataset` prints them), e.g. data.labels=[walk,run]")
        self.frames = int(self.cfg["data"]["frames"])
        self.size, self.sigma, self.z_dim, self.lambda_cls = m.heatmap_size, m.sigma, m.z_dim, m.lambda_cls
        K = len(self.labels)
        self.G = PoseSequenceGenerator(K, self.frames, self.size, m.base, self.z_dim, m.decoder, skip=m.skip)
        self.D = SequenceDiscriminator(2 * NUM_JOINTS, K, m.d_base)
        self.gan = GANLoss(m.gan_mode)
        self.adam("G", self.G.parameters())
        self.adam("D", self.D.parameters())

    @classmethod
    def actions(cls, cfg: dict[str, Any]) -> tuple[str, ...]:
        """``data.labels`` of a PSGAN config."""
        return tuple(str(x) for x in (cfg.get("data") or {}).get("labels") or ())

    def motion(self, action: str, start: Poses, frames: int, seed: int = 0) -> Poses:
        """``motion.generate_motion`` with this model."""
        from .motion import generate_motion

        return generate_motion(self, action, start, frames, seed)

    @classmethod
    def modify_commandline_options(cls, cli: CommandLine) -> None:
        """``posevid motion generate`` and ``posevid motion sample``."""
        from .cli import add_commands

        add_commands(cli)

    def _d_input(self, xy: Tensor, conf: Tensor, init_maps: Tensor) -> Tensor:
        """(B, T, J, 2), (B, T, J), (B, J, S, S) -> (B, 2J, T, S, S): the sequence's maps and P_0's."""
        maps = to_heatmaps(xy, conf, self.size, self.sigma).permute(0, 2, 1, 3, 4)
        return torch.cat([maps, init_maps[:, :, None].expand_as(maps)], 1)

    def train_step(self, batch: dict[str, Tensor]) -> dict[str, float]:
        xy, conf, label = batch["xy"].float(), batch["conf"].float(), batch["label"].long()
        B = xy.shape[0]
        init_maps = to_heatmaps(xy[:, 0], conf[:, 0], self.size, self.sigma)
        z = torch.randn(B, self.z_dim, device=xy.device)
        onehot = F.one_hot(label, len(self.labels)).float()
        with self.autocast():
            fake, _ = self.G(z, onehot, init_maps, xy[:, 0])
        fake = fake.float()
        real_in = self._d_input(xy, conf, init_maps)
        fake_in = self._d_input(fake, conf, init_maps)
        opt_d, opt_g = self.optimizers["D"], self.optimizers["G"]
        opt_d.zero_grad(set_to_none=True)
        with self.autocast():
            d_real, cls_real = self.D(real_in)
            d_fake, cls_fake = self.D(fake_in.detach())
            loss_d_adv = self.gan(d_real, True) + self.gan(d_fake, False)
            loss_d_cls = F.cross_entropy(cls_real.float(), label) + F.cross_entropy(cls_fake.float(), label)
            loss_d = loss_d_adv + self.lambda_cls * loss_d_cls
        loss_d.backward()
        opt_d.step()
        opt_g.zero_grad(set_to_none=True)
        with self.autocast():
            g_fake, g_cls = self.D(fake_in)
            loss_g_adv = self.gan(g_fake, True, for_discriminator=False)
            loss_g_cls = F.cross_entropy(g_cls.float(), label)
            loss_g = loss_g_adv + self.lambda_cls * loss_g_cls
        loss_g.backward()
        opt_g.step()
        with torch.no_grad():
            acc = (cls_real.argmax(1) == label).float().mean()
        self._visuals = {"real": _sheet(xy[:1], conf[:1]), "fake": _sheet(fake[:1].detach(), conf[:1])}
        return {"d_adv": loss_d_adv.item(), "d_cls": loss_d_cls.item(), "g_adv": loss_g_adv.item(),
                "g_cls": loss_g_cls.item(), "d_real_acc": acc.item()}

    def label_index(self, action: str) -> int:
        """Index of an action name (``PosevidError`` listing the known ones when unknown)."""
        if action not in self.labels:
            raise PosevidError(None, f"unknown action {action!r}; this model knows: {', '.join(self.labels)}")
        return self.labels.index(action)

    @torch.no_grad()
    def generate(self, label: Tensor, init_xy: Tensor, init_conf: Tensor, frames: int | None = None,
                 generator: torch.Generator | None = None) -> Tensor:
        """Sample sequences: label (B,), initial pose (B, J, 2) normalised, (B, J) -> (B, frames, J, 2).

        Longer sequences than the trained length are chained: each chunk starts from the previous
        chunk's last pose, re-centred on it (the model was trained on sequences centred in the square).
        """
        frames = int(frames or self.frames)
        onehot = F.one_hot(label.long(), len(self.labels)).float()
        pose, conf = init_xy.float(), init_conf.float()
        chunks, have = [], 0
        while have < frames:
            shift = _center(pose, conf)[:, None]
            init_maps = to_heatmaps(pose - shift, conf, self.size, self.sigma)
            z = torch.randn(len(label), self.z_dim, generator=generator).to(pose.device)
            with self.autocast():
                seq = self.G(z, onehot, init_maps, pose - shift)[0].float() + shift[:, None]
            chunks.append(seq if not chunks else seq[:, 1:])
            have += chunks[-1].shape[1]
            pose, conf = seq[:, -1], torch.ones_like(conf)
        return torch.cat(chunks, 1)[:, :frames]

    def animator(self) -> Animator:
        return PosePreviewAnimator()


def _center(xy: Tensor, conf: Tensor) -> Tensor:
    """(B, J, 2), (B, J) -> (B, 2) centre of the box around the visible joints."""
    vis = (conf > 0)[..., None]
    lo = torch.where(vis, xy, torch.full_like(xy, 1e9)).amin(1)
    hi = torch.where(vis, xy, torch.full_like(xy, -1e9)).amax(1)
    return torch.where(vis.any(1), (lo + hi) / 2, torch.zeros_like(lo))


def _sheet(xy: Tensor, conf: Tensor, size: int = 64, frames: int = 8) -> Tensor:
    """Stick figures of up to ``frames`` poses of one sequence side by side: (1, 3, size, frames * size)."""
    T = xy.shape[1]
    picks = np.linspace(0, T - 1, min(frames, T)).round().astype(int)
    pix = ((xy[0].float().cpu().numpy() + 1) * size / 2 - 0.5)
    imgs = [render.stick_figure(pix[t], conf[0, t].float().cpu().numpy(), size, size) for t in picks]
    return image_to_tensor(np.concatenate(imgs, 1))[None]


class PosePreviewAnimator(Animator):
    """PSGAN has no appearance model: its frames are the target poses drawn as stick figures."""

    def reset(self, source: np.ndarray, pose: Poses, mask: np.ndarray | None = None) -> None:
        self._shape = source.shape[:2]

    def step(self, target: Poses) -> np.ndarray:
        h, w = self._shape
        return render.stick_figure(target.xy[0], target.conf[0], h, w)
