"""Inputs, data and networks of the decoupled method (Yang et al., "Disentangled human action video
generation via decoupled learning").

- ``feature_maps``: the pose-guided feature map F = [RGB stick figure, grey edge map x person mask].
- ``DecoupledClips`` (``data.kind: decoupled``): ``ClipDataset`` windows plus feature maps, part masks,
  body regions and the colour augmentation of both training stages.
- ``CoarseToFineGenerator``: pix2pixHD's global generator + local enhancer with a tiled latent
  concatenated to the input of both.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import Dataset

from ...data.color import body_regions, random_ab, recolor
from ...data.datasets import ClipDataset, register_dataset
from ...edges import edge_map
from ...nets.blocks import ConvBlock, DownBlock, UpBlock
from ...nets.resnet import ResnetBlocks
from ...render import part_masks, stick_figure
from ...tensors import image_to_tensor, tensor_to_image

FEATURE_CH = 4  # RGB stick figure + grey edge map


def feature_maps(rgb: np.ndarray, xy: np.ndarray, conf: np.ndarray, mask: np.ndarray | None,
                 edges: str = "sobel") -> np.ndarray:
    """F of one frame: (H, W, 3) uint8, pose (18, 2) pixels / (18,), person mask (H, W) in [0, 1] ->
    (4, H, W) float32 in [0, 1]: the OpenPose stick figure (3) and the edge map inside the person (1)."""
    h, w = rgb.shape[:2]
    stick = stick_figure(xy, conf, h, w).astype(np.float32).transpose(2, 0, 1) / 255.0
    edge = edge_map(rgb, edges)
    if mask is not None:
        edge = edge * (np.asarray(mask, np.float32) > 0.5)
    return np.concatenate([stick, edge[None]], 0)


class DecoupledClips(Dataset):
    """``ClipDataset`` items with the decoupled method's extras (all images in [-1, 1]).

    Added keys, with T = ``data.frames``: ``feat (T, 4, H, W)`` and ``src_feat (4, H, W)`` (F in [0, 1]),
    ``src_parts (10, H, W)`` (part masks clipped to the person), ``regions (T, 2, H, W)`` and
    ``src_regions (2, H, W)`` (upper, lower body); stage I's per-frame augmentation ``frames_up`` /
    ``frames_down`` (T, 3, H, W) (only that region recoloured, each frame its own colour ``ab_up`` /
    ``ab_down`` (T, 2)); stage II's per-clip augmentation replaces ``src`` and ``frames`` (both regions
    recoloured with ``clip_ab (2, 2)``: upper, lower; the same colours for the source and every frame).
    ``frames_orig`` keeps the real frames.
    """

    def __init__(self, clips: ClipDataset, edges: str = "sobel", lift: float = 0.0,
                 chroma: tuple[float, float] = (25.0, 75.0)):
        if not clips.source:
            raise ValueError("DecoupledClips needs a ClipDataset with source=True")
        self.clips, self.edges, self.lift, self.chroma = clips, edges, float(lift), chroma

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, key: int | tuple[int, int]) -> dict[str, Tensor]:
        item = self.clips[key]
        seed = int(key[1]) if isinstance(key, (tuple, list)) else int(key)
        rng = np.random.default_rng([seed, 0xDEC])
        size = item["frames"].shape[-1]
        images = [tensor_to_image(f) for f in item["frames"]]
        poses = [(xy.numpy(), c.numpy()) for xy, c in zip(item["xy"], item["conf"])]
        masks = [m[0].numpy() for m in item["masks"]]
        src = tensor_to_image(item["src"])
        src_pose, src_mask = (item["src_xy"].numpy(), item["src_conf"].numpy()), item["src_mask"][0].numpy()
        regions = [body_regions(*p, size, size, m) for p, m in zip(poses, masks)]
        src_regions = body_regions(*src_pose, size, size, src_mask)
        n = len(images)
        ab_up, ab_down = random_ab(rng, n, self.chroma), random_ab(rng, n, self.chroma)
        clip_ab = random_ab(rng, 2, self.chroma)
        item["frames_orig"] = item["frames"]
        item["frames_up"] = torch.stack([image_to_tensor(recolor(im, r[0], ab, self.lift))
                                         for im, r, ab in zip(images, regions, ab_up)])
        item["frames_down"] = torch.stack([image_to_tensor(recolor(im, r[1], ab, self.lift))
                                           for im, r, ab in zip(images, regions, ab_down)])
        item["frames"] = torch.stack([image_to_tensor(self._both(im, r, clip_ab)) for im, r in zip(images, regions)])
        item["src"] = image_to_tensor(self._both(src, src_regions, clip_ab))
        item["ab_up"], item["ab_down"] = torch.from_numpy(ab_up), torch.from_numpy(ab_down)
        item["clip_ab"] = torch.from_numpy(clip_ab)
        item["regions"] = torch.from_numpy(np.stack(regions))
        item["src_regions"] = torch.from_numpy(src_regions)
        item["feat"] = torch.from_numpy(np.stack([feature_maps(im, *p, m, self.edges)
                                                  for im, p, m in zip(images, poses, masks)]))
        item["src_feat"] = torch.from_numpy(feature_maps(src, *src_pose, src_mask, self.edges))
        item["src_parts"] = torch.from_numpy(part_masks(*src_pose, size, size, person_mask=src_mask))
        return item

    def _both(self, image: np.ndarray, regions: np.ndarray, ab: np.ndarray) -> np.ndarray:
        return recolor(recolor(image, regions[0], ab[0], self.lift), regions[1], ab[1], self.lift)


@register_dataset("decoupled")
def _decoupled(cfg: dict[str, Any], root: Path, split: str) -> DecoupledClips:
    train = split == "train"
    clips = ClipDataset(root, split, frames=int(cfg.get("frames", 2)), source=True,
                        flip=train and bool(cfg.get("flip", False)), size=cfg.get("size"))
    return DecoupledClips(clips, str(cfg.get("edges", "sobel")), float(cfg.get("lift", 0.0)),
                          tuple(cfg.get("chroma", (25.0, 75.0))))


def latent_map(latents: list[Tensor], regions: Tensor) -> Tensor:
    """Each latent (B, D_r) tiled over its body region r of ``regions`` (B, R, H, W) in [0, 1]:
    -> (B, sum D_r, H, W), zero outside the regions.

    The paper tiles z over the whole image; a per-channel constant input is removed exactly by the
    instance normalisation after the first convolution, so we tile each region's latent over that
    region (as pix2pixHD's instance-wise feature maps are tiled over their instances).
    """
    return torch.cat([z[:, :, None, None].to(regions.dtype) * regions[:, r:r + 1] for r, z in enumerate(latents)], 1)


class LatentStandardizer(nn.Module):
    """Centres latents (B, D) and scales each group of dimensions (one per body region) by one number,
    from the moments of every latent it was updated with.

    The frozen VAE encoders give posterior means spread over a small range (the KL term pulls them to
    0); the generator's first convolutions start with small weights that Adam grows by about one
    learning rate per step, so unscaled latents would be ignored for a long time. One scale per group
    (the root mean variance of its dimensions) keeps the dimensions' relative sizes: the few that carry
    the colour stay large and the nearly constant ones small. ``update`` accumulates exact running
    moments (the encoders are frozen, so the distribution is fixed); they are buffers, saved with the model.
    """

    def __init__(self, groups: Sequence[int], eps: float = 1e-6):
        super().__init__()
        self.groups, self.eps = tuple(int(g) for g in groups), eps
        dim = sum(self.groups)
        self.register_buffer("count", torch.zeros((), dtype=torch.float64))
        self.register_buffer("mean", torch.zeros(dim, dtype=torch.float64))
        self.register_buffer("m2", torch.zeros(dim, dtype=torch.float64))

    @torch.no_grad()
    def update(self, z: Tensor) -> None:
        """Add a batch (B, D) to the moments (Chan et al.'s parallel variance update)."""
        z = z.detach().double()
        n, mean = float(z.shape[0]), z.mean(0)
        delta = mean - self.mean
        total = self.count + n
        self.mean += delta * n / total
        self.m2 += ((z - mean) ** 2).sum(0) + delta ** 2 * self.count * n / total
        self.count.fill_(total)

    @property
    def var(self) -> Tensor:
        """Per-dimension variance (D,) float64 (1 before two latents were seen)."""
        if self.count < 2:
            return torch.ones_like(self.mean)
        return self.m2 / (self.count - 1)

    @property
    def scale(self) -> Tensor:
        """(D,) float32: each group's root mean variance, repeated over the group's dimensions."""
        per_group = [v.mean().add(self.eps).sqrt().expand(len(v)) for v in self.var.split(self.groups)]
        return torch.cat(per_group).float()

    def forward(self, z: Tensor) -> Tensor:
        return (z - self.mean.float()) / self.scale

    def sample(self, n: int, rng: np.random.Generator) -> Tensor:
        """``n`` latents (n, D) float32 from the Gaussian with the per-dimension moments."""
        eps = torch.from_numpy(rng.standard_normal((n, len(self.mean))).astype(np.float32))
        return eps * self.var.sqrt().float() + self.mean.float()


class CoarseToFineGenerator(nn.Module):
    """pix2pixHD generator: (x (B, in_ch, H, W), extra (B, extra_ch, H, W)) -> (B, out_ch, H, W) in [-1, 1].

    The global generator G1 (``2 base`` channels after a 7x7 stem, ``n_down`` stride-2 downsamplings,
    ``n_blocks`` residual blocks, upsamplings) runs on the input average-pooled by 2; the local enhancer
    G2 (``base`` channels, one downsampling) adds G1's last features to its own, then ``local_blocks``
    residual blocks, an upsampling and a 7x7 tanh head. Both stems take the whole input, so a latent map
    concatenated to it reaches the coarse and the fine stage; ``extra`` (e.g. the same latent map) is
    also concatenated to the input of the head, the one convolution without normalisation after it.
    H, W must be divisible by ``2**(n_down + 1)``.
    """

    def __init__(self, in_ch: int, out_ch: int, base: int = 32, n_down: int = 4, n_blocks: int = 9,
                 local_blocks: int = 3, norm: str = "instance", extra_ch: int = 0, max_ch: int = 1024):
        super().__init__()
        g = [min(2 * base * 2 ** i, max_ch) for i in range(n_down + 1)]
        self.n_down, self.extra_ch = n_down, extra_ch
        self.global_net = nn.Sequential(
            ConvBlock(in_ch, g[0], 7, 1, norm),
            *[DownBlock(g[i], g[i + 1], norm) for i in range(n_down)],
            ResnetBlocks(g[-1], n_blocks, norm),
            *[UpBlock(g[i + 1], g[i], norm) for i in reversed(range(n_down))])
        self.local_down = nn.Sequential(ConvBlock(in_ch, base, 7, 1, norm), DownBlock(base, g[0], norm))
        self.local_up = nn.Sequential(ResnetBlocks(g[0], local_blocks, norm), UpBlock(g[0], base, norm))
        self.head = ConvBlock(base + extra_ch, out_ch, 7, 1, "none", "tanh")

    def forward(self, x: Tensor, extra: Tensor | None = None) -> Tensor:
        if x.shape[-1] % 2 ** (self.n_down + 1) or x.shape[-2] % 2 ** (self.n_down + 1):
            raise ValueError(f"CoarseToFineGenerator input {tuple(x.shape[-2:])} must be divisible by "
                             f"{2 ** (self.n_down + 1)}")
        if (extra is None) != (self.extra_ch == 0):
            raise ValueError(f"this CoarseToFineGenerator takes {self.extra_ch} extra channels")
        coarse = self.global_net(F.avg_pool2d(x, 3, 2, 1, count_include_pad=False))
        h = self.local_up(self.local_down(x) + coarse)
        return self.head(h if extra is None else torch.cat([h, extra.to(h.dtype)], 1))
