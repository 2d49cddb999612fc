"""Inputs and data of the decoupled method (Yang et al., "Disentangled human action video generation via
decoupled learning").

- ``feature_maps``: the pose-guided feature map F = [RGB stick figure, grey edge map x person mask].
- ``DecoupledClips`` (``data.kind: decoupled``, options ``DecoupledDataOptions``): ``ClipDataset`` windows
  plus feature maps, part masks, body regions and the colour augmentation of both training stages.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from ...data.color import body_regions, random_ab, recolor
from ...data.datasets import ClipDataset, register_dataset
from ...edges import edge_map
from ...options import option
from ...render import part_masks, stick_figure
from ...tensors import image_to_tensor, tensor_to_image


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


@dataclass
class DecoupledDataOptions:
    """``data:`` options of the ``decoupled`` kind: clips with a source frame, feature maps and recolouring."""

    kind: str = "decoupled"
    size: int | None = option(None, "side of the square images in pixels; default: the prepared size", ge=16, le=4096)
    flip: bool = option(False, "mirror half of the training items (left/right joints swapped)")
    frames: int = option(2, "consecutive frames per item (stage II generates all; 2 in the paper)", ge=1)
    edges: Literal["sobel", "canny"] = option("sobel", "grey edge map of F: sobel (soft, like RCF) or canny")
    lift: float = option(0.0, "lightness lift of recoloured regions (0: the paper, AB only)", ge=0)
    chroma: tuple[float, float] = option((25.0, 75.0), "chroma range of the random colours (LAB a, b units)")


@register_dataset("decoupled", DecoupledDataOptions)
def _decoupled(opts: DecoupledDataOptions, root: Path, split: str) -> DecoupledClips:
    train = split == "train"
    clips = ClipDataset(root, split, frames=opts.frames, source=True, flip=train and opts.flip, size=opts.size)
    return DecoupledClips(clips, opts.edges, opts.lift, opts.chroma)
