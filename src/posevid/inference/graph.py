"""A method's networks as its animator runs them (``InferenceGraph``), and the PyTorch engine that runs one.

An inference graph splits what the animator computes with networks into named stages: the ones run once
per clip (``per_frame=False``: e.g. the appearance features of the source photo) and the one run for
every frame (``frame``). Each stage is a method of the graph taking and returning named tensors; the
animator calls them through an *engine* (``engine.run("frame", pose=..., ...)``), so the same animator
runs the graph in PyTorch (``TorchEngine``), or exported, in ONNX Runtime or OpenVINO
(``posevid.inference.runtimes``). Everything around the networks (pose maps, warping grids, colour
latents, the frame fed back) stays in the animator.

``prepare`` makes the fast PyTorch version of a graph: a frozen copy with the normalisation folded where
that is exact, bf16 weights and channels-last activations where the CPU computes bf16 natively.
"""

from __future__ import annotations

import contextlib
import copy
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from . import cpu

PRECISIONS = ("fp32", "bf16", "int8")


@dataclass(frozen=True)
class Stage:
    """One call of a graph: the names of its input and output tensors; ``per_frame`` False for a stage the
    animator runs once per clip."""

    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    per_frame: bool = True


class InferenceGraph(nn.Module):
    """Base of a method's inference graph. Subclasses set ``stages`` (name -> ``Stage``; the per-frame
    stage is called ``frame``), define one method per stage (keyword tensors in, a dict of tensors out)
    and ``example_inputs``. Networks run inside ``self.lowp()`` (bf16 autocast when ``amp`` is set);
    sampling (``grid_sample``) runs in fp32 inside ``self.fp32()``."""

    stages: dict[str, Stage]

    def __init__(self, amp: bool = False):
        super().__init__()
        self.amp = amp

    def example_inputs(self) -> dict[str, Tensor]:
        """One value (batch 1, the model's size, a plausible range) for every input of every stage."""
        raise NotImplementedError

    def fp32_layers(self) -> list[nn.Module]:
        """Layers that stay fp32 in a bf16 graph (called inside ``fp32()``): small ones whose output
        precision matters, e.g. the head that writes the image (bf16 keeps 8 bits: one uint8 level
        near 1) or one that predicts sampling offsets."""
        return []

    def lowp(self) -> contextlib.AbstractContextManager:
        """Mixed precision for the networks when ``amp`` is set (bf16 on the CPU, fp16 on CUDA)."""
        if not self.amp:
            return contextlib.nullcontext()
        dev = next(self.parameters()).device.type
        return torch.autocast(dev, dtype=torch.bfloat16 if dev == "cpu" else torch.float16)

    def fp32(self) -> contextlib.AbstractContextManager:
        """No autocast: for sampling and arithmetic on coordinates."""
        if not self.amp:
            return contextlib.nullcontext()
        return torch.autocast(next(self.parameters()).device.type, enabled=False)

    def run(self, stage: str, **inputs: Tensor) -> dict[str, Tensor]:
        """Run ``stage`` on its named inputs; returns its named outputs as fp32 tensors."""
        spec = self.stages[stage]
        missing = set(spec.inputs) - set(inputs)
        if missing:
            raise TypeError(f"stage {stage!r} needs {', '.join(sorted(missing))}")
        out = getattr(self, stage)(**{k: inputs[k] for k in spec.inputs})
        return {k: out[k].float() for k in spec.outputs}


class TorchEngine:
    """Runs an inference graph in PyTorch (with torch's thread count). ``precision``: "fp32", or "bf16"
    (autocast; what ``prepare`` made of the graph). ``inference_mode`` for prepared graphs; plain
    ``no_grad`` for a graph that shares its weights with a method being trained."""

    name = "torch"

    def __init__(self, graph: InferenceGraph, precision: str = "fp32", inference_mode: bool = True):
        if precision not in ("fp32", "bf16"):
            raise ValueError(f"PyTorch runs fp32 or bf16, not {precision!r}")
        self.graph, self.precision, self.inference_mode = graph, precision, inference_mode
        graph.amp = precision == "bf16"
        self.stages = graph.stages

    def run(self, stage: str, **inputs: Tensor) -> dict[str, Tensor]:
        with torch.inference_mode() if self.inference_mode else torch.no_grad():
            return self.graph.run(stage, **inputs)

    def close(self) -> None:
        """Nothing to release (kept for the engine interface)."""


def default_engine(graph: InferenceGraph) -> TorchEngine:
    """The engine a method uses when no backend was chosen: its own graph (weights shared, so it follows
    training) at the training precision."""
    return TorchEngine(graph, "bf16" if graph.amp else "fp32", inference_mode=False)


def fold_norms(root: nn.Module) -> nn.Module:
    """Fold normalisation into the convolutions before it, where that is exact, in place:

    - conv -> InstanceNorm (no running statistics): the conv's bias is dropped (the norm subtracts each
      channel's mean, which absorbs any constant added to the channel);
    - conv -> BatchNorm in eval mode: the norm's affine map is folded into the conv's weights and bias and
      the norm becomes the identity.

    Only adjacent layers of ``nn.Sequential`` containers are folded. Returns ``root``.
    """
    for seq in list(root.modules()):
        if not isinstance(seq, nn.Sequential):
            continue
        for i in range(len(seq) - 1):
            conv, norm = seq[i], seq[i + 1]
            if not isinstance(conv, nn.Conv2d):
                continue
            if isinstance(norm, nn.InstanceNorm2d) and not norm.track_running_stats:
                conv.bias = None
            elif isinstance(norm, nn.BatchNorm2d) and not norm.training and norm.track_running_stats:
                seq[i] = fuse_conv_bn_eval(conv, norm)
                seq[i + 1] = nn.Identity()
    return root


def prepare(graph: InferenceGraph, precision: str = "auto") -> tuple[InferenceGraph, str]:
    """A frozen copy of ``graph`` made fast for inference on this CPU, and its precision.

    ``precision``: "auto" (bf16 where the CPU computes it natively, else fp32), "fp32" or "bf16". The copy
    is in eval mode without gradients, with ``fold_norms`` applied; for bf16 the convolution and linear
    weights are cast to bf16 once (the norms and ``fp32_layers`` stay fp32), activations are channels-last
    and the networks run under bf16 autocast (sampling stays fp32).
    """
    if precision == "auto":
        precision = "bf16" if cpu.bf16_native() else "fp32"
    if precision not in ("fp32", "bf16"):
        raise ValueError(f"PyTorch runs fp32 or bf16, not {precision!r}")
    fast = fold_norms(copy.deepcopy(graph).eval().requires_grad_(False))
    fast.amp = precision == "bf16"
    if fast.amp:
        keep = {id(p) for layer in fast.fp32_layers() for p in layer.parameters()}
        for mod in fast.modules():
            if isinstance(mod, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)) and id(mod.weight) not in keep:
                mod.to(torch.bfloat16)
        fast.to(memory_format=torch.channels_last)
    return fast, precision
