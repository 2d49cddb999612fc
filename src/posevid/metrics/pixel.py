"""Per-frame pixel metrics between a generated and a real frame, both (H, W, 3) uint8 RGB.

L1 is in [0, 1] units (mean absolute difference / 255); PSNR in dB with a 255 peak; SSIM and MS-SSIM
use torchmetrics with an 11x11 Gaussian window (sigma 1.5) on 0..255 values. The masked variants
follow PG2: the person mask of the *real* frame multiplies both images before the metric.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torchmetrics.functional.image import (
    multiscale_structural_similarity_index_measure,
    structural_similarity_index_measure,
)

PSNR_CAP = 100.0  # dB given to identical frames, where PSNR is infinite
MS_SSIM_BETAS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
_KERNEL = 11
_PAD = (_KERNEL - 1) // 2


def _tensor(img: np.ndarray, mask: np.ndarray | None = None) -> torch.Tensor:
    """(H, W, 3) uint8 (optionally times a (H, W) mask) -> (1, 3, H, W) float32 in 0..255.

    float32 keeps SSIM within ~1e-5 of a float64 computation (scikit-image) at a tenth of the cost.
    """
    t = torch.from_numpy(img.astype(np.float32)).permute(2, 0, 1)[None]
    if mask is not None:
        t = t * torch.from_numpy(np.asarray(mask, dtype=np.float32))[None, None]
    return t


def l1(gen: np.ndarray, real: np.ndarray) -> float:
    """Mean absolute difference in [0, 1] units (0 = identical)."""
    return float(np.abs(gen.astype(np.float32) - real.astype(np.float32)).mean() / 255.0)


def psnr(gen: np.ndarray, real: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB (peak 255); identical frames give ``PSNR_CAP``."""
    mse = float(np.mean((gen.astype(np.float64) - real.astype(np.float64)) ** 2))
    return PSNR_CAP if mse == 0 else min(PSNR_CAP, 10.0 * math.log10(255.0**2 / mse))


def _ssim(a: torch.Tensor, b: torch.Tensor) -> float:
    """Mean SSIM over the pixels whose whole window lies inside the image (scikit-image's convention)."""
    _, full = structural_similarity_index_measure(a, b, data_range=255.0, kernel_size=_KERNEL, sigma=1.5,
                                                  return_full_image=True)
    return float(full[..., _PAD:-_PAD, _PAD:-_PAD].mean())


def ssim(gen: np.ndarray, real: np.ndarray) -> float:
    """Structural similarity in [-1, 1] (1 = identical), averaged over the three channels."""
    return _ssim(_tensor(gen), _tensor(real))


def ms_ssim_scales(height: int, width: int) -> int:
    """How many MS-SSIM scales (at most 5) fit an image: the coarsest (halved per scale) must hold an
    11-pixel window, and torchmetrics' own size checks must pass (5 scales need 176 pixels)."""
    side = min(height, width)

    def fits(s: int) -> bool:
        return side >= 2**s and side // max(1, s - 1) ** 2 > _KERNEL - 1 and side // 2 ** (s - 1) >= _KERNEL

    scales = len(MS_SSIM_BETAS)
    while scales > 1 and not fits(scales):
        scales -= 1
    return scales


def ms_ssim(gen: np.ndarray, real: np.ndarray) -> float:
    """Multi-scale SSIM in [0, 1] (1 = identical).

    Frames smaller than 176 pixels use fewer scales (see ``ms_ssim_scales``) with the first betas
    renormalised to sum to one.
    """
    scales = ms_ssim_scales(*real.shape[:2])
    betas = np.asarray(MS_SSIM_BETAS[:scales])
    betas = tuple(float(b) for b in betas / betas.sum())
    value = multiscale_structural_similarity_index_measure(_tensor(gen), _tensor(real), data_range=255.0,
                                                           kernel_size=_KERNEL, sigma=1.5, betas=betas)
    return float(value)


def masked_l1(gen: np.ndarray, real: np.ndarray, mask: np.ndarray) -> float:
    """Mean absolute difference inside the (H, W) person mask in [0, 1] units; NaN for an empty mask."""
    weight = float(mask.sum())
    if weight <= 0:
        return math.nan
    diff = np.abs(gen.astype(np.float32) - real.astype(np.float32)).mean(axis=2)
    return float((diff * mask).sum() / weight / 255.0)


def mask_ssim(gen: np.ndarray, real: np.ndarray, mask: np.ndarray) -> float:
    """PG2's mask-SSIM: SSIM of both frames multiplied by the (H, W) person mask; NaN for an empty mask."""
    if float(mask.sum()) <= 0:
        return math.nan
    return _ssim(_tensor(gen, mask), _tensor(real, mask))
