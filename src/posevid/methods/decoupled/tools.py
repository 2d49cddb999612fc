"""Tools of the decoupled method: colour interpolation clips (``posevid recolor``), latent encoding
(``posevid latents encode``) and section 4.5's latent-space plot (``posevid latents plot``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from ...checkpoints import load_method
from ...data.color import REGIONS, body_regions, parse_color, recolor, rgb_to_ab
from ...errors import PosevidError
from ...io_utils import atomic_path
from ...poses import Poses
from ...tensors import image_to_tensor, tensor_to_image
from .animator import LatentSpec, load_photo
from .model import Decoupled


def region_options(region: str, start: LatentSpec, end: LatentSpec) -> dict[str, Any]:
    """Animator options moving ``region`` (upper | lower | both) from ``start`` to ``end``."""
    names = {"upper": ("upper",), "lower": ("lower",), "both": REGIONS}.get(region)
    if names is None:
        raise PosevidError(f"region {region}", "must be upper, lower or both")
    opts: dict[str, Any] = {}
    for name in names:
        opts[name], opts[f"{name}_to"] = start, end
    return opts


def recolor_to_file(pipeline: Any, source: str | Path | np.ndarray, driving: str | Path | Poses,
                    out: str | Path) -> int:
    """Animate ``source`` with ``driving`` while a region's latent moves linearly over the whole clip;
    writes ``out`` atomically and returns the number of frames.

    ``pipeline``: a ``posevid.pipeline.Pipeline`` of a decoupled model whose ``method_options`` are
    ``region_options(region, start, end)`` (colours, latents or photos, see ``DecoupledAnimator``).
    """
    from ...video import VideoWriter

    with pipeline.open(source, driving) as anim:
        if anim.frame_count is None:
            raise PosevidError(driving, "its number of frames is unknown, so the interpolation cannot be spread "
                                        "over it; give a pose file or a video whose container has a frame count")
        anim.animator.frames = anim.frame_count
        with VideoWriter(out, anim.fps) as writer:
            for result, _ in anim:
                writer.write(result)
            return writer.count


def encode_photo(checkpoint: str | Path, photo: str | Path, color: dict[str, str] | None = None) -> np.ndarray:
    """[z_up, z_down] (z_up + z_down,) float32 of a photo cropped around its person at the model's size; ``color``
    ({"upper": "#rrggbb", ...}) recolours those regions first."""
    model = load_method(checkpoint, expect="decoupled")
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
    model = load_method(checkpoint, expect="decoupled")
    if int(model.stage_steps[0]) == 0:
        raise PosevidError(checkpoint, "its encoders are untrained (train model.stage=encoders first)")
    z, ab, light = sample_latents(model, data, samples, region, seed)
    return plot_latents(z, ab, light, out, f"{region}-body latents ({len(z)} recoloured frames)")
