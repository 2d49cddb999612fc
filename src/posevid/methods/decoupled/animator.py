"""The decoupled method's animator: F of the source warped to each target pose (and restored), the
previous output frame fed back, and a colour latent per body region chosen by the caller."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import Tensor

from ...crop import crop_photo
from ...data.color import REGIONS, body_regions, parse_color, recolor, rgb_to_ab
from ...errors import PosevidError
from ...io_utils import NUMPY_LOAD_ERRORS
from ...poses import Poses
from ...render import part_masks, pose_mask
from ...tensors import image_to_tensor, resize_image, tensor_to_image
from ..base import Animator
from .data import feature_maps
from .nets import latent_map

if TYPE_CHECKING:
    from .model import Decoupled

LatentSpec = str | Path | np.ndarray | None


def load_photo(path: str | Path, size: int) -> tuple[np.ndarray, Poses, np.ndarray]:
    """A photo cropped to a square around its person as ``posevid animate`` crops the source, at
    ``size``: ((size, size, 3) uint8, one-frame pose in its pixels, person mask (size, size) in [0, 1])."""
    from ...estimate import PoseEstimator
    from ...poses import body_height
    from ...video import read_image

    rgb = read_image(path)
    with PoseEstimator() as est:
        pose, mask = est.image(rgb)
    if body_height(pose)[0] <= 0:
        raise PosevidError(path, "no person found in the photo")
    return crop_photo(rgb, pose, mask.astype(np.float32), size)


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

        def encode(image: np.ndarray) -> Tensor:  # through the method's engine (``DecoupledGraph.encode``)
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
            return encode(resize_image(arr.astype(np.uint8), m.size, m.size))
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
        small = resize_image(source, s, s)
        p = pose.rescale(s, s)
        xy, conf = p.xy[0], p.conf[0]
        mask_s = pose_mask(xy, conf, s, s) if mask is None else resize_image(np.asarray(mask, np.float32), s, s)
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
        return resize_image(tensor_to_image(self.prev[0]), self.out_hw[1], self.out_hw[0])
