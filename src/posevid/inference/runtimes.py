"""Engines that run an exported inference graph: ONNX Runtime (``OnnxEngine``) and OpenVINO (``OpenVinoEngine``).

An exported model holds every stage of the graph in one ONNX graph (or OpenVINO IR); an engine splits it
into one compiled model per stage (the inputs and outputs of the stage, and what lies between them), so
that a stage runs only its own part. Inputs and outputs are torch tensors, as with ``TorchEngine``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ..errors import PosevidError
from . import cpu
from .graph import Stage

META_KEY = "posevid"  # ONNX metadata_props key / OpenVINO rt_info key of the model's description (JSON)
EXTRA = "export"  # pip extra with the runtimes: pip install 'posevid[export]'


def require(module: str, what: str):
    """Import ``module`` or raise a one-line ``PosevidError`` saying how to install it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise PosevidError(what, f"needs the {module} package: pip install 'posevid[{EXTRA}]'") from None


def output_name(stage: str, output: str) -> str:
    """The exported name of a stage's output: ``stage:output`` (a per-clip stage's output, e.g. the source
    features, is also an input of the frame stage, under its plain name)."""
    return f"{stage}:{output}"


def stages_from_meta(meta: dict[str, Any]) -> dict[str, Stage]:
    """The ``Stage`` of each stage named in an exported model's description."""
    return {name: Stage(tuple(s["inputs"]), tuple(s["outputs"]), bool(s["per_frame"]))
            for name, s in meta["stages"].items()}


def _numpy(x: Tensor) -> np.ndarray:
    return np.ascontiguousarray(x.detach().float().cpu().numpy())


class OnnxEngine:
    """Runs an exported model with ONNX Runtime's CPU provider: fp32, or int8 where the model holds
    quantized operators. ``model`` is the ONNX ``ModelProto``."""

    name = "onnx"

    def __init__(self, model, meta: dict[str, Any], threads: int | None = None, where: str = "onnx"):
        ort = require("onnxruntime", where)
        from onnx.utils import Extractor

        self.stages = stages_from_meta(meta)
        self.precision = meta.get("precision", "fp32")
        self.threads = cpu.threads(threads)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = self.threads
        opts.inter_op_num_threads = 1
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.log_severity_level = 3
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")  # the cores are shared
        extractor = Extractor(model)
        self.sessions = {}
        for name, stage in self.stages.items():
            part = extractor.extract_model(list(stage.inputs), [output_name(name, o) for o in stage.outputs])
            self.sessions[name] = ort.InferenceSession(part.SerializeToString(), opts,
                                                       providers=["CPUExecutionProvider"])

    def run(self, stage: str, **inputs: Tensor) -> dict[str, Tensor]:
        spec = self.stages[stage]
        outs = self.sessions[stage].run([output_name(stage, o) for o in spec.outputs],
                                        {k: _numpy(inputs[k]) for k in spec.inputs})
        return {k: torch.from_numpy(v) for k, v in zip(spec.outputs, outs)}

    def close(self) -> None:
        self.sessions.clear()


class OpenVinoEngine:
    """Runs an exported model with OpenVINO on the CPU. ``precision``: "bf16" (OpenVINO's bf16 execution,
    where the CPU has it), "fp32", or "int8" for a model holding quantized operators (the layers between
    them run bf16 where the CPU has it). ``model`` is an ``openvino.Model`` or a path OpenVINO reads."""

    name = "openvino"

    def __init__(self, model, meta: dict[str, Any], precision: str = "auto", threads: int | None = None,
                 where: str = "openvino"):
        ov = require("openvino", where)
        core = ov.Core()
        if not isinstance(model, ov.Model):
            model = core.read_model(str(model))
        self.stages = stages_from_meta(meta)
        if precision == "auto":
            precision = "int8" if meta.get("precision") == "int8" else "bf16" if cpu.bf16_native() else "fp32"
        self.precision = precision
        self.threads = cpu.threads(threads)
        hint = "bf16" if precision == "bf16" or (precision == "int8" and cpu.bf16_native()) else "f32"
        config = {"INFERENCE_NUM_THREADS": self.threads, "PERFORMANCE_HINT": "LATENCY", "ENABLE_CPU_PINNING": False}
        self.requests = {}
        for name, stage in self.stages.items():
            part = ov.Model([model.output(output_name(name, o)) for o in stage.outputs],
                            [model.input(i).get_node() for i in stage.inputs], name)
            # Per-clip stages run once: fp32, since what they compute is reused for every frame.
            prec = {"INFERENCE_PRECISION_HINT": hint if stage.per_frame else "f32"}
            self.requests[name] = core.compile_model(part, "CPU", {**config, **prec}).create_infer_request()

    def run(self, stage: str, **inputs: Tensor) -> dict[str, Tensor]:
        spec, request = self.stages[stage], self.requests[stage]
        request.infer({k: _numpy(inputs[k]) for k in spec.inputs})
        return {k: torch.from_numpy(request.get_tensor(output_name(stage, k)).data.copy()) for k in spec.outputs}

    def close(self) -> None:
        self.requests.clear()


def read_meta_onnx(model, where: str | Path) -> dict[str, Any]:
    """The description stored in an exported ONNX model; ``PosevidError`` if it is not one of ours."""
    for prop in model.metadata_props:
        if prop.key == META_KEY:
            return json.loads(prop.value)
    raise PosevidError(where, "is an ONNX model but not one exported by `posevid export` (no posevid metadata)")


def read_meta_openvino(model, where: str | Path) -> dict[str, Any]:
    """The description stored in an exported OpenVINO model."""
    if not model.has_rt_info(META_KEY):
        raise PosevidError(where, "is an OpenVINO model but not one exported by `posevid export`")
    return json.loads(model.get_rt_info(META_KEY).astype(str))
