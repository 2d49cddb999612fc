"""Image <-> tensor conversions: exact round trip for uint8 images, clamping of out-of-range values."""

from __future__ import annotations

import warnings

import numpy as np
import torch

from posevid.tensors import image_to_tensor, tensor_to_image


def test_round_trip_is_exact() -> None:
    rgb = np.random.default_rng(0).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    x = image_to_tensor(rgb)
    assert x.shape == (3, 5, 7) and x.dtype == torch.float32
    assert float(x.min()) >= -1 and float(x.max()) <= 1
    assert np.array_equal(tensor_to_image(x), rgb)
    assert np.array_equal(tensor_to_image(image_to_tensor(rgb[:, ::-1])), rgb[:, ::-1])  # non-contiguous input
    rgb.flags.writeable = False
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # torch warns on read-only arrays
        assert np.array_equal(tensor_to_image(image_to_tensor(rgb)), rgb)


def test_out_of_range_values_clamp() -> None:
    x = torch.tensor([-3.0, -1.0, 0.0, 1.0, 2.5]).view(1, 1, 5).expand(3, 1, 5).bfloat16()
    assert tensor_to_image(x)[0, :, 0].tolist() == [0, 0, 128, 255, 255]
