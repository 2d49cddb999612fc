"""ST-LPIPS from the stlpips-pytorch wheel's weights, loaded into our own networks, on real photos."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from posevid.errors import PosevidError
from posevid.metrics.stlpips import STLPIPS, st_lpips, st_lpips_images
from posevid.nets import antialiased
from posevid.nets.antialiased import ShiftTolerantFeatures, layer_names

# The package's own numbers, recorded once with a throwaway script that put empty stand-ins for torchvision,
# IPython and torchsummary into sys.modules, imported stlpips_pytorch.stlpips and ran
# LPIPS(net=NET, variant="shift_tolerant")(a, x) on the inputs built by ``_photos`` (stlpips-pytorch 0.0.2).
REFERENCE = {
    "alex": {"other": 0.37251558899879456, "roll3": 0.05778265371918678, "blur5": 0.4159683585166931},
    "vgg": {"other": 0.3398234248161316, "roll3": 0.06153193861246109, "blur5": 0.36335569620132446},
}


def _load(path: Path) -> torch.Tensor:
    im = Image.open(path).convert("RGB").resize((64, 96), Image.BICUBIC)
    return torch.from_numpy(np.asarray(im).copy()).permute(2, 0, 1)[None].float() / 127.5 - 1


@pytest.fixture(scope="module")
def photos(shared_data: Path) -> dict[str, torch.Tensor]:
    """Two catalogue photos at 64x96 (W x H) in [-1, 1], a 3-pixel horizontal roll and a 5x5 box blur."""
    a = _load(shared_data / "images" / "animateanyone_anyone-3.png")
    blur = F.avg_pool2d(F.pad(a, (2, 2, 2, 2), mode="replicate"), 5, 1)
    return {"a": a, "other": _load(shared_data / "images" / "animateanyone_anyone-11.png"),
            "roll3": torch.roll(a, 3, dims=3), "blur5": blur}


@pytest.mark.parametrize("net", ["alex", "vgg"])
def test_st_lpips_matches_the_package(photos: dict[str, torch.Tensor], net: str) -> None:
    a = photos["a"]
    assert float(st_lpips(a, a, net)[0]) == 0.0
    for name, expected in REFERENCE[net].items():
        assert float(st_lpips(a, photos[name], net)[0]) == pytest.approx(expected, rel=1e-4, abs=1e-6), name
    # A 5x5 blur is far from the photo; a 3-pixel shift is close (the metric tolerates small shifts).
    assert REFERENCE[net]["blur5"] > 0.05 and REFERENCE[net]["roll3"] < REFERENCE[net]["blur5"] / 4
    batch = st_lpips(torch.cat([a, a]), torch.cat([photos["other"], photos["blur5"]]), net, batch=1)
    assert batch.shape == (2,)
    assert batch.tolist() == pytest.approx([REFERENCE[net]["other"], REFERENCE[net]["blur5"]], rel=1e-4)


def test_st_lpips_on_uint8_images(photos: dict[str, torch.Tensor]) -> None:
    img = ((photos["a"][0].permute(1, 2, 0) + 1) * 127.5).round().byte().numpy()
    blurred = ((photos["blur5"][0].permute(1, 2, 0) + 1) * 127.5).round().byte().numpy()
    same = st_lpips_images(img, img)
    assert same.shape == (1,) and same[0] == 0.0
    two = st_lpips_images(np.stack([img, img]), np.stack([img, blurred]), net="vgg")
    assert two[0] == 0.0 and two[1] > 0.05
    with pytest.raises(ValueError, match="uint8"):
        st_lpips_images(img.astype(np.float32), img)


def test_features_taps_gradients_and_size_limit() -> None:
    names = layer_names("vgg")
    assert list(names)[:4] == ["relu1_1", "relu1_2", "relu2_1", "relu2_2"] and names["relu5_3"] == 33
    feats = ShiftTolerantFeatures("vgg", ["relu2_1", "relu1_1"])
    assert len(feats.features) == names["relu2_1"] + 1  # only what the deepest tap needs runs
    x = (torch.rand(2, 3, 40, 40) * 2 - 1).requires_grad_()
    out = feats(x)
    assert [t.shape[1] for t in out] == [128, 64]
    assert out[1].shape[-1] == 40 and out[0].shape[-1] == 21  # relu1_1 full size; one blur-pool before relu2_1
    out[0].mean().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert not any(p.requires_grad for p in feats.parameters())
    feats.train()
    assert not feats.training
    full = ShiftTolerantFeatures("alex")
    full(torch.zeros(1, 3, full.min_size, full.min_size))
    with pytest.raises(ValueError, match=f"at least {full.min_size}x{full.min_size}"):
        full(torch.zeros(1, 3, full.min_size - 1, 64))
    with pytest.raises(ValueError, match="relu1_1"):
        ShiftTolerantFeatures("vgg", ["conv1_1"])
    assert torch.equal(STLPIPS("alex").backbone.shift, torch.tensor([-0.030, -0.088, -0.188]).view(1, 3, 1, 1))


def test_missing_package_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == antialiased.PACKAGE else real(name, *a))
    with pytest.raises(PosevidError, match="stlpips-pytorch: package not installed .*--no-deps"):
        antialiased.weights_path("vgg")
