"""PG2's inference graph: G1 (and G2 for a stage-II model) per frame; with a pose embedding that keeps the
image encoder apart from the pose (``coordinate``, ``heatmap_encoder``), the image encoder runs once per
clip instead.

With the paper's ``heatmap`` embedding the source image and the target heatmaps enter G1 together from
its first convolution, so every layer depends on the pose and the whole of G1 runs per frame.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ...inference.graph import InferenceGraph, Stage
from ...skeleton import NUM_JOINTS


class PG2Graph(InferenceGraph):
    """Stage ``frame``: image (1, 3, H, W) in [-1, 1], maps (1, 18, H, W) target heatmaps and / or vec
    (1, 54) target keypoints (what the embedding reads) -> frame (1, 3, H, W) in [-1, 1], clamped. With
    the ``coordinate`` or ``heatmap_encoder`` embedding, stage ``source`` (image -> skip0 .. skipN-1, the
    encoder's features, and z_image, its code) runs once per clip and the frame stage takes them."""

    def __init__(self, method):
        super().__init__(amp=method.train_opts.amp)
        self.g1 = method.g1
        self.g2 = method.g2 if method.opts.stage == "g2" else None
        self.height, self.width = method.height, method.width
        self.joints = NUM_JOINTS
        if self.g1.embedding == "heatmap":
            self.stages = {"frame": Stage(("image", "maps"), ("frame",))}
            return
        cached = (*[f"skip{i}" for i in range(len(self.g1.encoder.res))], "z_image")
        pose = ("vec",) if self.g1.embedding == "coordinate" else ("maps",)
        self.stages = {"source": Stage(("image",), cached, per_frame=False),
                       "frame": Stage((*cached, *pose, *(("image",) if self.g2 is not None else ())), ("frame",))}

    def fp32_layers(self) -> list[nn.Module]:
        return [g.decoder.out for g in (self.g1, self.g2) if g is not None]

    def example_inputs(self) -> dict[str, Tensor]:
        h, w, g = self.height, self.width, torch.Generator().manual_seed(0)
        out = {"image": torch.rand(1, 3, h, w, generator=g) * 2 - 1,
               "maps": (torch.rand(1, self.joints, h, w, generator=g) > 0.98).float(),
               "vec": torch.rand(1, self.joints * 3, generator=g) * 2 - 1,
               "z_image": torch.randn(1, self.g1.fc_in.out_features, generator=g)}
        for i, res in enumerate(self.g1.encoder.res):
            ch = res.body[0][0].in_channels
            out[f"skip{i}"] = torch.rand(1, ch, h // 2 ** i, w // 2 ** i, generator=g)
        return out

    def source(self, image: Tensor) -> dict[str, Tensor]:
        with self.lowp():
            skips = self.g1.encoder(image)
            out = {f"skip{i}": s for i, s in enumerate(skips)}
            out["z_image"] = self.g1.fc_in(skips[-1].flatten(1))
        return out

    def frame(self, **t: Tensor) -> dict[str, Tensor]:
        g1 = self.g1
        with self.lowp():
            if g1.embedding == "heatmap":
                skips = g1.encoder(torch.cat([t["image"], t["maps"]], 1))
                z = g1.fc_in(skips[-1].flatten(1))
            else:
                skips = [t[f"skip{i}"] for i in range(len(g1.encoder.res))]
                z = t["z_image"]
                pose = (g1.pose_fc(t["vec"]) if g1.embedding == "coordinate"
                        else g1.pose_fc(g1.pose_encoder(t["maps"])[-1].flatten(1)))
                z = torch.cat([z.to(pose.dtype), pose], 1)
            x = g1.fc_out(z).view(-1, *g1.bottleneck)
            coarse = self._decode(g1, x, skips)
            if self.g2 is not None:
                g2_skips = self.g2.encoder(torch.cat([t["image"], coarse], 1))
                coarse = coarse + self._decode(self.g2, g2_skips[-1], g2_skips)
        return {"frame": coarse.clamp(-1, 1)}

    def _decode(self, gen: nn.Module, x: Tensor, skips: list[Tensor]) -> Tensor:
        """``Decoder.forward`` with its output conv in fp32."""
        dec = gen.decoder
        for i, skip in enumerate(reversed(skips)):
            x = dec.res[i](dec.merge[i](torch.cat([x, skip.to(x.dtype)], 1)))
            if i < len(dec.up):
                x = dec.up[i](x)
        with self.fp32():
            return dec.out(x.float())
