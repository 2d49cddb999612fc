"""A template for a new method: a tiny trainable generator, documented step by step (as pix2pix's
``template_model.py``). ``posevid train configs/template/tiny.yaml --data DATA --out RUN`` trains it.

To add a method called ``mine``:

1. Copy this folder to ``src/posevid/methods/mine/`` (built in: found by its folder name) or put the
   package anywhere and declare it in your ``pyproject.toml``::

       [project.entry-points."posevid.methods"]
       mine = "your_package.mine"

   Loading a checkpoint never imports a module named inside it: a method is usable once it is built in,
   installed with that entry point, or named on the command line (``posevid --plugin MODULE ...``).
2. Rename the classes, and register them under the name configs use: ``@declare("mine")`` on the spec
   (``spec.py``), ``@register("mine")`` on the method class here, which derives from the spec.
3. Declare in the spec what it can do (``capabilities``) and where its class is (``implementation``); the
   spec imports no torch, so the command line reads it without loading any network. Here, declare which
   dataset kind it reads (``data_kind``, default ``clips``: see ``posevid.data.datasets``) and its
   ``model:`` options as a dataclass (``Options``): types, defaults and help are written there once; every
   config and override is checked against it.
4. Build the networks from ``self.opts`` in ``__init__`` and register one optimizer per network group
   with ``self.adam(name, params)`` (the trainer steps their learning-rate schedules and checkpoints them).
5. ``train_step(batch)``: one optimisation step on a batch (see ``docs/design.md``, "Batches"); return the
   losses as floats. Fill ``self._visuals`` with images for the trainer's sample sheets.
6. ``animator()``: an ``Animator`` with ``reset(source, pose, mask)`` then ``step(target) -> frame``;
   ``FixedSizeAnimator`` / ``SourceAnimator`` do the resizing to the model's size and back.
7. Optionally: ``stages`` (a multi-stage method: one ``Stage`` class per stage, trained in order by one
   ``posevid train``), and the spec's ``modify_commandline_options`` (options of ``posevid animate`` and
   subcommands).
8. Add ``configs/mine/tiny.yaml``; the config test trains every config two steps.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ... import render
from ...losses import l1
from ...nets.blocks import ConvBlock, ResBlock
from ...options import option
from ...skeleton import NUM_JOINTS
from ..base import Method, SourceAnimator, register
from .spec import TemplateSpec


@dataclass
class TemplateOptions:
    """``model:`` options of the template method."""

    base: int = option(16, "channels of the network's convolutions", ge=1)
    blocks: int = option(1, "residual blocks", ge=0)
    sigma: float = option(2.0, "standard deviation of the target pose's heatmaps, in pixels", gt=0)


@register("template")
class TemplateMethod(TemplateSpec, Method):
    """A source image and the target pose's heatmaps in, the target frame out, trained with L1.

    Batches (``data.kind: clips``): ``src (B, 3, S, S)``, ``frames (B, T, 3, S, S)``, ``xy (B, T, 18, 2)``
    pixels, ``conf (B, T, 18)``; the first of the T frames is the target.
    """

    Options = TemplateOptions
    opts: TemplateOptions

    def __init__(self, cfg: dict):
        super().__init__(cfg)
        ch = self.opts.base
        self.size = self.image_size()
        self.net = nn.Sequential(ConvBlock(3 + NUM_JOINTS, ch, 3), *[ResBlock(ch) for _ in range(self.opts.blocks)],
                                 ConvBlock(ch, 3, 3, norm="none", act="tanh"))
        self.adam("net", self.net.parameters())

    def generate(self, source: Tensor, xy: Tensor, conf: Tensor) -> Tensor:
        """Frames (B, 3, S, S) in [-1, 1] for sources (B, 3, S, S) and target keypoints (B, 18, 2) px, (B, 18)."""
        maps = render.heatmaps(xy.float(), conf.float(), self.size, self.size, kind="gaussian",
                               sigma=self.opts.sigma).to(source.device)
        with self.autocast():
            return self.net(torch.cat([source, maps], 1)).float()

    def train_step(self, batch: dict[str, Tensor]) -> dict[str, float]:
        real = batch["frames"][:, 0]
        fake = self.generate(batch["src"], batch["xy"][:, 0], batch["conf"][:, 0])
        loss = l1(fake, real)
        self.optimize("net", loss)
        self._visuals = {"source": batch["src"], "generated": fake.detach(), "real": real}
        return {"l1": loss.item()}

    def animator(self) -> SourceAnimator:
        """Frame by frame at the model's square size (``SourceAnimator`` resizes the source to it and each
        frame back); no state is carried between frames."""
        return SourceAnimator(self.device, self.size, self.size,
                              lambda src, _xy, _conf, xy, conf: self.generate(src, xy, conf).clamp(-1, 1))
