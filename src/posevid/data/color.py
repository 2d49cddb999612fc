"""Colour augmentation of the decoupled paper: recolour the upper and the lower body in LAB space.

The paper runs a user-guided colorization network with AB anchor points on the body joints; we set
the AB channels of every pixel inside the region mask to the chosen colour's AB (keeping each pixel's
lightness L, so the texture stays), which is what the colorization network does on uniformly-coloured
clothes. Pixels outside the region are returned bit-identical. LAB is OpenCV's float LAB: L in
[0, 100], a and b in about [-127, 127].

Regions come from the 10 part masks (``render.part_masks``) clipped to the person mask; person pixels
no part covers take the nearest part's label. Upper body = torso and arms, lower body = legs; the
head is never recoloured.
"""

from __future__ import annotations

import re

import cv2
import numpy as np

from ..render import part_labels, part_masks
from ..skeleton import PART_NAMES

UPPER_PARTS = ("torso", "right_upper_arm", "right_lower_arm", "left_upper_arm", "left_lower_arm")
LOWER_PARTS = ("right_upper_leg", "right_lower_leg", "left_upper_leg", "left_lower_leg")
REGIONS = ("upper", "lower")
_HEX = re.compile(r"^#?([0-9a-fA-F]{6})$")


def parse_color(spec: str) -> tuple[int, int, int]:
    """``'#c02030'`` or ``'c02030'`` -> (192, 32, 48) RGB; ``ValueError`` for anything else."""
    m = _HEX.match(spec.strip())
    if not m:
        raise ValueError(f"not a colour {spec!r}; use #rrggbb")
    v = m.group(1)
    return int(v[0:2], 16), int(v[2:4], 16), int(v[4:6], 16)


def rgb_to_ab(rgb: tuple[int, int, int] | np.ndarray) -> np.ndarray:
    """The (a, b) of one RGB colour (0..255) in OpenCV float LAB: (2,) float32."""
    px = np.asarray(rgb, np.float32).reshape(1, 1, 3) / 255.0
    return cv2.cvtColor(px, cv2.COLOR_RGB2LAB)[0, 0, 1:].astype(np.float32)


def ab_to_rgb(ab: np.ndarray, lightness: float | np.ndarray = 60.0) -> np.ndarray:
    """LAB colours (..., 2) with L = ``lightness`` (scalar or (...)) -> RGB (..., 3) float32 in [0, 1]."""
    ab = np.asarray(ab, np.float32)
    lab = np.concatenate([np.broadcast_to(np.asarray(lightness, np.float32), ab.shape[:-1])[..., None], ab], -1)
    flat = lab.reshape(1, -1, 3)
    return np.clip(cv2.cvtColor(flat, cv2.COLOR_LAB2RGB), 0, 1).reshape(ab.shape[:-1] + (3,))


def body_regions(xy: np.ndarray, conf: np.ndarray, height: int, width: int,
                 person_mask: np.ndarray | None) -> np.ndarray:
    """Upper- and lower-body masks of one pose: ``(18, 2), (18,) -> (2, H, W) float32`` in {0, 1}.

    Part masks (``render.part_masks``) are clipped to ``person_mask`` (H, W) in [0, 1] (> 0.5 is the
    person); person pixels outside every part take the label of the nearest part. Without a person
    mask the part shapes alone are used. Upper = ``UPPER_PARTS``, lower = ``LOWER_PARTS``.
    """
    parts = part_masks(xy, conf, height, width)
    labels = part_labels(parts)  # 0 background, 1..10 part + 1
    if person_mask is not None:
        person = np.asarray(person_mask, np.float32) > 0.5
        if (labels > 0).any():
            from scipy import ndimage  # here: scipy.ndimage is a tenth of a second of every CLI start

            _, (iy, ix) = ndimage.distance_transform_edt(labels == 0, return_indices=True)
            labels = np.where(person, labels[iy, ix], 0)
        else:
            labels = np.zeros_like(labels)
    out = np.zeros((2, height, width), np.float32)
    for r, names in enumerate((UPPER_PARTS, LOWER_PARTS)):
        ids = [PART_NAMES.index(n) + 1 for n in names]
        out[r] = np.isin(labels, ids)
    return out


def recolor(image: np.ndarray, region: np.ndarray, ab: np.ndarray, lift: float = 0.0) -> np.ndarray:
    """``image`` (H, W, 3) RGB (uint8, or float32 in [0, 1]) with AB set to ``ab`` (2,) where ``region``
    (H, W) in [0, 1] is positive (soft masks blend); same dtype. Pixels where ``region`` is 0 are
    unchanged bit for bit.

    ``lift`` in [0, 1) (0 = the paper) maps the region's lightness L to ``100 lift + L (1 - lift)``, so
    that colours show on black clothes (chroma is limited at low L); texture stays (L is monotone).
    """
    is_u8 = image.dtype == np.uint8
    rgb = image.astype(np.float32) / 255.0 if is_u8 else np.asarray(image, np.float32)
    m = np.clip(np.asarray(region, np.float32), 0.0, 1.0)
    inside = m > 0
    if not inside.any():
        return image.copy()
    lab = cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB)
    if lift:
        lab[..., 0] = 100.0 * lift + lab[..., 0] * (1.0 - lift)
    lab[..., 1:] = np.asarray(ab, np.float32)
    new = np.clip(cv2.cvtColor(lab, cv2.COLOR_LAB2RGB), 0.0, 1.0)
    blend = rgb + (new - rgb) * m[..., None]
    out = np.where(inside[..., None], blend, rgb)
    if is_u8:
        out = np.where(inside[..., None], np.clip(np.round(out * 255.0), 0, 255), image).astype(np.uint8)
    return out.astype(image.dtype, copy=False)


def random_ab(rng: np.random.Generator, n: int = 1, chroma: tuple[float, float] = (25.0, 75.0)) -> np.ndarray:
    """``n`` random AB colours (n, 2) float32: hue uniform on the circle, chroma uniform in ``chroma``."""
    angle = rng.uniform(0.0, 2 * np.pi, n)
    radius = rng.uniform(chroma[0], chroma[1], n)
    return np.stack([radius * np.cos(angle), radius * np.sin(angle)], 1).astype(np.float32)


def mean_ab(image: np.ndarray, region: np.ndarray) -> np.ndarray:
    """Mean (a, b) of ``image`` (H, W, 3) RGB uint8 / float [0, 1] inside ``region`` (H, W) > 0.5: (2,);
    NaN for an empty region."""
    rgb = image.astype(np.float32) / 255.0 if image.dtype == np.uint8 else np.asarray(image, np.float32)
    inside = np.asarray(region) > 0.5
    if not inside.any():
        return np.full(2, np.nan, np.float32)
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB)[inside][:, 1:].mean(0).astype(np.float32)


def hue_angle(ab: np.ndarray) -> np.ndarray:
    """Hue angle of AB colours (..., 2) in radians, ``atan2(b, a)``."""
    ab = np.asarray(ab, np.float32)
    return np.arctan2(ab[..., 1], ab[..., 0])
