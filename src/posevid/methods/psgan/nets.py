"""PSGAN's discriminator on keypoint coordinates (``model.discriminator: coords``; our substitution).

The paper's D is a PatchGAN over the rendered pose maps of the sequence (``psgan.SequenceDiscriminator``,
``discriminator: heatmaps``). On this CPU that 3D conv net over T x S x S maps costs most of a training
step; this one reads the coordinates directly: per frame the pose, its velocity and the initial pose
P_0 (the condition), through temporal convs to patch logits over time (a temporal PatchGAN) and an
action head. ``label_cond``: ``aux`` (an auxiliary classifier, as the paper's AC-GAN loss) or
``projection`` (Miyato & Koyama 2018: the label's embedding dotted with the features is added to every
patch logit; the class head is still trained as the auxiliary classifier). ``spectral``: spectral
normalisation of the real/fake convs (keeps D from winning outright). No normalisation: after
instance norm every channel has the same mean over time for every input, so a head on time-pooled
features could not tell the actions apart (the class loss stayed at chance).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn


class CoordSequenceDiscriminator(nn.Module):
    """(B, T, J, 2) sequence, (B, J, 2) P_0, (B,) labels -> (features + patch logits (B, 1, T / 4), class logits)."""

    def __init__(self, joints: int, classes: int, base: int = 32, label_cond: str = "aux",
                 classifier: str = "shared", spectral: bool = False):
        super().__init__()
        if label_cond not in ("aux", "projection"):
            raise ValueError(f"unknown model.label_cond {label_cond!r}; use aux or projection")
        if classifier not in ("shared", "separate"):
            raise ValueError(f"unknown model.classifier {classifier!r}; use shared or separate")
        self.label_cond = label_cond
        chs = [joints * 2 * 3, base * 2, base * 4, base * 8]
        layers = []
        for i in range(3):
            k, s = (3, 1) if i == 0 else (4, 2)
            layers.append(nn.Sequential(nn.Conv1d(chs[i], chs[i + 1], k, s, 1), nn.LeakyReLU(0.2, True)))
        self.layers = nn.ModuleList(layers)
        self.patch = nn.Conv1d(chs[-1], 1, 3, 1, 1)
        self.classify = nn.Linear(chs[-1], classes)
        self.action = ActionHead(joints, classes, base * 4) if classifier == "separate" else None
        if spectral:  # the real/fake trunk only (the separate action head is a plain classifier)
            for module in [*self.layers.modules(), self.patch]:
                if isinstance(module, nn.Conv1d):
                    nn.utils.parametrizations.spectral_norm(module)
        self.embed = nn.Embedding(classes, chs[-1]) if label_cond == "projection" else None
        if self.embed is not None:
            nn.init.normal_(self.embed.weight, std=0.02)

    def forward(self, xy: Tensor, init_xy: Tensor, label: Tensor) -> tuple[list[Tensor], Tensor]:
        B, T = xy.shape[:2]
        pos = xy.float().reshape(B, T, -1)
        vel = torch.cat([pos[:, 1:] - pos[:, :-1], torch.zeros_like(pos[:, :1])], 1)
        cond = init_xy.float().reshape(B, 1, -1).expand(-1, T, -1)
        x = torch.cat([pos, 4 * vel, cond], -1).transpose(1, 2)
        feats = []
        for layer in self.layers:
            x = layer(x)
            feats.append(x)
        logits = self.patch(x)
        if self.embed is not None:
            logits = logits + (self.embed(label.long())[:, :, None] * x).sum(1, keepdim=True) / x.shape[1] ** 0.5
        feats.append(logits)
        if self.action is not None:
            return feats, self.action(xy)
        return feats, self.classify(x.float().mean(-1))


class ActionHead(nn.Module):
    """PSGAN's action classifier on its own trunk (``model.classifier: separate``): (B, T, J, 2) -> (B, K).

    It reads the sequence scale- and position-free (joints relative to the hips and the hips' path,
    over the body size, with velocities; ``motion_judge.judge_features``) through three temporal convs
    with dropout, pooled over time (mean and max). Not the judge: a different net, trained inside
    PSGAN on its own batches.
    """

    def __init__(self, joints: int, classes: int, width: int = 128):
        super().__init__()
        c_in = 2 * (joints * 2 + 2)
        self.net = nn.Sequential(nn.Conv1d(c_in, width, 3, 1, 1), nn.LeakyReLU(0.2, True), nn.Dropout(0.2),
                                 nn.Conv1d(width, width, 3, 2, 1), nn.LeakyReLU(0.2, True), nn.Dropout(0.2),
                                 nn.Conv1d(width, width, 3, 2, 1), nn.LeakyReLU(0.2, True))
        self.head = nn.Linear(2 * width, classes)

    def forward(self, xy: Tensor) -> Tensor:
        from ...motion_judge import judge_features

        h = self.net(judge_features(xy).transpose(1, 2))
        return self.head(torch.cat([h.mean(-1), h.amax(-1)], 1))


class PoseBank(nn.Module):
    """Real initial poses seen in training (a reservoir sample of ``size``), to tell how far a new initial
    pose is from the training data and to complete its missing joints.

    Poses are stored scale- and position-free: body chain 1.0 (``motion_augment.body_scale``), box
    centred at 0. Only poses with every joint are kept.
    """

    def __init__(self, size: int = 2048, joints: int = 18):
        super().__init__()
        self.register_buffer("poses", torch.zeros(size, joints, 2))
        self.register_buffer("seen", torch.zeros((), dtype=torch.long))

    @property
    def count(self) -> int:
        return int(min(int(self.seen), len(self.poses)))

    @torch.no_grad()
    def add(self, xy: Tensor, conf: Tensor) -> None:
        """Offer poses (B, J, 2), (B, J); reservoir sampling with its own RNG (the training draws are untouched)."""
        keep = (conf > 0).all(-1)
        if not keep.any():
            return
        poses = normalise(xy[keep], conf[keep])
        rng = np.random.default_rng(int(self.seen))
        for pose in poses:
            n = int(self.seen)
            slot = n if n < len(self.poses) else int(rng.integers(n + 1))
            if slot < len(self.poses):
                self.poses[slot] = pose
            self.seen += 1

    @torch.no_grad()
    def nearest(self, xy: Tensor, conf: Tensor) -> tuple[Tensor, Tensor]:
        """For poses (B, J, 2), (B, J) in any units: the distance (B,) to the nearest stored pose (mean over the
        visible joints, in body chains, after the best shift) and the poses with their missing joints taken
        from it (B, J, 2), in the input's units. An empty bank gives inf and the poses unchanged."""
        if self.count == 0:
            return torch.full((len(xy),), float("inf")), xy.clone()
        vis = (conf > 0).float()  # (B, J)
        scale = body_size(xy, conf)
        center = box_center(xy, conf)
        q = (xy.float() - center[:, None]) / scale[:, None, None]  # (B, J, 2)
        bank = self.poses[:self.count].float()  # (N, J, 2)
        n_vis = vis.sum(-1).clamp_min(1)[:, None, None]  # (B, 1, 1)
        diff = q[:, None] - bank[None]  # (B, N, J, 2)
        shift = (diff * vis[:, None, :, None]).sum(2, keepdim=True) / n_vis[..., None]
        dist = ((diff - shift).norm(dim=-1) * vis[:, None]).sum(-1) / n_vis[..., 0]  # (B, N)
        best, idx = dist.min(1)
        fill = bank[idx] + shift[torch.arange(len(xy)), idx]  # (B, J, 2) in q's frame
        completed = torch.where(vis[..., None] > 0, q, fill) * scale[:, None, None] + center[:, None]
        return best, completed


def box_center(xy: Tensor, conf: Tensor) -> Tensor:
    """(B, J, 2), (B, J) -> (B, 2) centre of the box around the visible joints (0 when none)."""
    vis = (conf > 0)[..., None]
    lo = torch.where(vis, xy, torch.full_like(xy, 1e9)).amin(-2)
    hi = torch.where(vis, xy, torch.full_like(xy, -1e9)).amax(-2)
    return torch.where(vis.any(-2), (lo + hi) / 2, torch.zeros_like(lo))


def body_size(xy: Tensor, conf: Tensor) -> Tensor:
    """(B,) body size of single poses: ``poses.body_height`` (missing segments made up by proportions)."""
    from ...poses import Poses, body_height

    height = body_height(Poses(xy.detach().float().cpu().numpy(), conf.detach().float().cpu().numpy(), 1, 1))
    return torch.from_numpy(np.where(height > 0, height, 1.0)).float().to(xy.device)


def normalise(xy: Tensor, conf: Tensor) -> Tensor:
    """Poses (B, J, 2) scaled to body size 1 (``_chain``) with their box centred at 0."""
    return (xy.float() - box_center(xy, conf)[:, None]) / body_size(xy, conf)[:, None, None]


class CoordDecoder(nn.Module):
    """The coords decoder of PSGAN's G: a code (B, C) -> offsets (B, J * 2, T) in [-1, 1].

    A linear layer spreads the code over the first ``length / 16`` frames (1 below 16 frames); each
    stride-2 transposed temporal conv doubles the length, with the code (noise and action) concatenated
    to its input at every frame so the label reaches every layer. No normalisation: instance norm over
    the few frames of the first layers removes the mean and size of each channel's time profile, which
    is where the code is. The last conv starts at zero (a still sequence).
    """

    def __init__(self, code: int, cond: int, length: int, joints: int, base: int = 32, film: int = 0):
        super().__init__()
        top = base * 8
        self.t0 = max(1, length // 16)
        self.top = top
        self.inp = nn.Linear(code, top * self.t0)
        blocks, ch, t = [], top, self.t0
        while t < length:
            out = max(base, ch // 2)
            blocks.append(nn.ConvTranspose1d(ch + cond, out, 4, 2, 1))
            ch, t = out, t * 2
        self.blocks = nn.ModuleList(blocks)
        # label_film: the action scales and shifts every block's channels (zero-initialised: identity at start)
        self.film = nn.ModuleList(nn.Linear(film, 2 * b.out_channels) for b in blocks) if film else None
        for lin in self.film or ():
            nn.init.zeros_(lin.weight)
            nn.init.zeros_(lin.bias)
        self.out = nn.Conv1d(ch + cond, joints * 2, 3, 1, 1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, code: Tensor, cond: Tensor, film: Tensor | None = None) -> Tensor:
        """``film`` (B, film): what scales and shifts every block (the one-hot action; needed when built with it)."""
        h = torch.relu(self.inp(code)).view(len(code), self.top, self.t0)
        for i, block in enumerate(self.blocks):
            h = block(torch.cat([h, cond[:, :, None].expand(-1, -1, h.shape[-1])], 1))
            if self.film is not None:
                gamma, beta = self.film[i](film.to(h.dtype)).chunk(2, 1)
                h = h * (1 + gamma[:, :, None]) + beta[:, :, None]
            h = torch.relu(h)
        return torch.tanh(self.out(torch.cat([h, cond[:, :, None].expand(-1, -1, h.shape[-1])], 1)))
