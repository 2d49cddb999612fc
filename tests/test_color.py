"""LAB recolouring of the upper / lower body (the decoupled method's colour augmentation) on real frames."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from posevid.data.color import (
    ab_to_rgb,
    body_regions,
    hue_angle,
    mean_ab,
    parse_color,
    random_ab,
    recolor,
    rgb_to_ab,
)
from posevid.data.datasets import ClipDataset
from posevid.tensors import tensor_to_image


@pytest.fixture(scope="module")
def frame(tiny_data: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A real 64x64 frame (uint8), its pose (18, 2) / (18,) and person mask."""
    item = ClipDataset(tiny_data, "train", frames=1, source=False)[30]
    rgb = tensor_to_image(item["frames"][0])
    return rgb, item["xy"][0].numpy(), item["conf"][0].numpy(), item["masks"][0, 0].numpy()


def test_regions_split_the_person(frame) -> None:
    rgb, xy, conf, mask = frame
    upper, lower = body_regions(xy, conf, 64, 64, mask)
    assert upper.sum() > 40 and lower.sum() > 20
    assert not (upper * lower).any()
    assert not ((upper + lower) * (mask <= 0.5)).any()  # inside the person only
    rows = np.arange(64)[:, None]
    assert (rows * upper).sum() / upper.sum() < (rows * lower).sum() / lower.sum()  # upper body is higher


@pytest.mark.parametrize("region", [0, 1])
@pytest.mark.parametrize("lift", [0.0, 0.4])
def test_recolor_changes_only_its_region(frame, region: int, lift: float) -> None:
    rgb, xy, conf, mask = frame
    regions = body_regions(xy, conf, 64, 64, mask)
    target = rgb_to_ab(parse_color("#c02030"))
    out = recolor(rgb, regions[region], target, lift)
    assert out.dtype == np.uint8 and out.shape == rgb.shape
    outside = regions[region] == 0
    assert np.array_equal(out[outside], rgb[outside])  # bit-identical outside the region
    inside = ~outside
    assert np.abs(out[inside].astype(int) - rgb[inside]).max() > 20
    ab = mean_ab(out, regions[region])
    assert np.linalg.norm(ab - mean_ab(rgb, regions[region])) > 10
    # The hue of the region is the requested one (chroma may be clipped by the gamut on dark pixels).
    assert abs(np.angle(np.exp(1j * (hue_angle(ab) - hue_angle(target))))) < 0.35


def test_recolor_float_images_and_soft_masks(frame) -> None:
    rgb, xy, conf, mask = frame
    upper = body_regions(xy, conf, 64, 64, mask)[0]
    image = rgb.astype(np.float32) / 255
    soft = upper * 0.5
    out = recolor(image, soft, np.array([0.0, -60.0], np.float32))
    assert out.dtype == np.float32
    assert np.array_equal(out[upper == 0], image[upper == 0])
    full = recolor(image, upper, np.array([0.0, -60.0], np.float32))
    half_way = (image + full) / 2
    assert np.allclose(out[upper > 0], half_way[upper > 0], atol=1e-5)
    assert np.array_equal(recolor(rgb, np.zeros((64, 64)), np.zeros(2)), rgb)


def test_colour_helpers() -> None:
    assert parse_color("#C02030") == (192, 32, 48) == parse_color("c02030")
    for bad in ("red", "#12345", "#1234567", "#gg0000"):
        with pytest.raises(ValueError):
            parse_color(bad)
    red, blue = rgb_to_ab((220, 20, 30)), rgb_to_ab((20, 40, 220))
    assert red[0] > 40 and blue[1] < -40
    back = ab_to_rgb(np.stack([red, blue]), 50.0)
    assert back.shape == (2, 3) and back[0].argmax() == 0 and back[1].argmax() == 2
    abs_ = random_ab(np.random.default_rng(0), 500, (25.0, 75.0))
    chroma = np.linalg.norm(abs_, axis=1)
    assert abs_.shape == (500, 2) and chroma.min() >= 25 and chroma.max() <= 75
    assert np.histogram(hue_angle(abs_), bins=4, range=(-np.pi, np.pi))[0].min() > 80  # hues spread evenly
