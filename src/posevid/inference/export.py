"""``posevid export``: a trained method's inference graph as one ONNX model (or OpenVINO IR), fp32 or int8.

The file holds every stage of the graph (``InferenceGraph.stages``) in one graph, with the normalisation
folded (``graph.fold_norms``), and a JSON description under the metadata key ``posevid``: the method's
config, the stages, the precision, and the method's small non-network state (e.g. latent statistics)
so that ``load_exported`` can rebuild the animator around it without the checkpoint.

int8: static quantization (QDQ: int8 weights per output channel, uint8 activations per tensor) of the
convolutions and linear layers, calibrated on the inputs the graph sees while animating real footage
(``record_calibration``); the layers the graph keeps in fp32 (``fp32_layers``) are not quantized. The
quantized model is checked against fp32 on held-out frames and refused below ``min_psnr``.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import shutil
import tempfile
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from ..errors import PosevidError
from ..io_utils import atomic_path
from ..poses import Poses
from .graph import InferenceGraph, Stage, TorchEngine, fold_norms
from .runtimes import META_KEY, OnnxEngine, output_name, require

FORMAT = 1
OPSET = 17
SUFFIXES = (".onnx", ".xml")
QUANTIZED_OPS = ["Conv", "ConvTranspose", "Gemm", "MatMul"]
STATE_MAX = 1 << 16  # method buffers up to this many values travel in the description
Log = Callable[[str], None]


class _AllStages(nn.Module):
    """Every stage of a graph as one forward: the union of the stages' inputs in, every output out."""

    def __init__(self, graph: InferenceGraph, names: list[str]):
        super().__init__()
        self.graph, self.names = graph, names

    def forward(self, *values: Tensor) -> tuple[Tensor, ...]:
        given = dict(zip(self.names, values))
        outs: list[Tensor] = []
        for name, stage in self.graph.stages.items():
            result = getattr(self.graph, name)(**{k: given[k] for k in stage.inputs})
            outs += [result[k] for k in stage.outputs]
        return tuple(outs)


def input_names(stages: dict[str, Stage]) -> list[str]:
    """Every input of every stage, once, in stage order."""
    return list(dict.fromkeys(n for s in stages.values() for n in s.inputs))


def to_onnx(graph: InferenceGraph):
    """The fp32 ONNX ``ModelProto`` of all stages of ``graph`` (a frozen, norm-folded copy is exported)."""
    import copy

    onnx = require("onnx", "export")
    frozen = fold_norms(copy.deepcopy(graph).eval().requires_grad_(False).float())
    frozen.amp = False
    names = input_names(frozen.stages)
    example = frozen.example_inputs()
    outputs = [output_name(n, o) for n, s in frozen.stages.items() for o in s.outputs]
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        path = Path(tmp) / "graph.onnx"
        torch.onnx.export(_AllStages(frozen, names), tuple(example[n] for n in names), str(path),
                          input_names=names, output_names=outputs, opset_version=OPSET, dynamo=False,
                          do_constant_folding=True)
        return onnx.load(str(path))


def method_state(method: nn.Module) -> str:
    """The method's small buffers (step counters, latent statistics) as base64 of an .npz."""
    buf = io.BytesIO()
    state = {k: v.detach().cpu().numpy() for k, v in method.state_dict().items()
             if k not in dict(method.named_parameters()) and v.numel() <= STATE_MAX}
    np.savez(buf, **state)
    return base64.b64encode(buf.getvalue()).decode()


def describe(method, graph: InferenceGraph, precision: str) -> dict[str, Any]:
    """The JSON description stored in an exported model."""
    import posevid

    return {"format": FORMAT, "posevid": getattr(posevid, "__version__", "0"), "method": method.name,
            "config": json.loads(json.dumps(method.cfg, default=str)), "precision": precision,
            "stages": {name: {"inputs": list(s.inputs), "outputs": list(s.outputs), "per_frame": s.per_frame}
                       for name, s in graph.stages.items()},
            "state": method_state(method)}


def _set_meta(model, meta: dict[str, Any]) -> None:
    for prop in list(model.metadata_props):
        if prop.key == META_KEY:
            model.metadata_props.remove(prop)
    entry = model.metadata_props.add()
    entry.key, entry.value = META_KEY, json.dumps(meta)


class RecordingEngine:
    """Wraps an engine and keeps, for every call of the per-frame stage, the inputs of that call joined
    with those of the latest call of every other stage: the feeds of the whole exported graph."""

    def __init__(self, engine: TorchEngine):
        self.inner, self.stages = engine, engine.stages
        self.name, self.precision = engine.name, engine.precision
        self.latest: dict[str, dict[str, Tensor]] = {}
        self.feeds: list[dict[str, np.ndarray]] = []

    def run(self, stage: str, **inputs: Tensor) -> dict[str, Tensor]:
        self.latest[stage] = {k: inputs[k].detach().float().cpu().clone() for k in self.stages[stage].inputs}
        if self.stages[stage].per_frame:
            feed = {k: v.numpy() for s in self.latest.values() for k, v in s.items()}
            if len(feed) == len(input_names(self.stages)):
                self.feeds.append(feed)
        return self.inner.run(stage, **inputs)

    def close(self) -> None:
        self.inner.close()


def footage(photo: str | Path, driving: str | Path, size: int,
            frames: int) -> tuple[tuple[np.ndarray, Poses, np.ndarray], list[Poses]]:
    """What ``posevid animate`` gives a method trained at ``size``: the square around the person of
    ``photo`` at ``size`` (image, pose, mask) and the target poses of the first ``frames`` frames of
    ``driving`` (retargeted onto the photo, smoothed) in that square's pixels."""
    from ..crop import crop_photo, photo_box
    from ..pipeline import Animation

    anim = Animation(photo, driving, smooth=True)
    try:
        source = crop_photo(anim.source, anim.source_pose, anim.source_mask, size)
        x0, y0, side = photo_box(anim.source_pose, anim.source_mask)
        targets = []
        for _, _, target in anim.targets():
            if len(targets) == frames:
                break
            targets.append(target.crop(x0, y0, side, side, size, size))
    finally:
        anim.close()
    return source, targets


def record_calibration(method, photo: str | Path, driving: str | Path, frames: int) -> list[dict[str, np.ndarray]]:
    """Feeds of the whole graph for ``frames`` frames of ``method`` (fp32 PyTorch) animating ``photo`` with
    the motion of ``driving`` (``footage``)."""
    source, targets = footage(photo, driving, int(method.cfg["data"]["size"]), frames)
    recorder = RecordingEngine(TorchEngine(method.inference_graph(), "fp32"))
    method.engine = recorder
    try:
        animator = method.animator()
        animator.reset(*source)
        for target in targets:
            animator.step(target)
    finally:
        method.engine = None
    if not recorder.feeds:
        raise PosevidError(driving, "gave no frame to calibrate int8 with")
    return recorder.feeds


class _Reader:
    """ONNX Runtime calibration reader over recorded feeds."""

    def __init__(self, feeds: list[dict[str, np.ndarray]]):
        self.items = iter(feeds)

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self.items, None)


def _fp32_weight_names(graph: InferenceGraph) -> set[str]:
    names = {id(p): n for n, p in graph.named_parameters()}
    return {f"graph.{names[id(p)]}" for layer in graph.fp32_layers() for p in layer.parameters()}


def quantize_int8(model, graph: InferenceGraph, feeds: list[dict[str, np.ndarray]]):
    """The QDQ int8 version of the fp32 ``ModelProto`` ``model``, calibrated on ``feeds``."""
    onnx = require("onnx", "export --int8")
    require("onnxruntime", "export --int8")
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    keep = _fp32_weight_names(graph)
    exclude = [n.name for n in model.graph.node if n.op_type in QUANTIZED_OPS and len(n.input) > 1
               and n.input[1] in keep]
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings(), _quiet_logging():
        warnings.simplefilter("ignore")
        src, pre, out = Path(tmp) / "fp32.onnx", Path(tmp) / "pre.onnx", Path(tmp) / "int8.onnx"
        onnx.save(model, str(src))
        quant_pre_process(str(src), str(pre), skip_symbolic_shape=True)
        quantize_static(str(pre), str(out), _Reader(feeds), quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        op_types_to_quantize=QUANTIZED_OPS, nodes_to_exclude=exclude,
                        calibrate_method=CalibrationMethod.MinMax)
        return onnx.load(str(out))


@contextlib.contextmanager
def _quiet_logging() -> Iterator[None]:
    """ONNX Runtime's quantizer logs every skipped node at INFO: keep it to warnings."""
    import logging

    root = logging.getLogger()
    level = root.level
    root.setLevel(max(level, logging.WARNING))
    try:
        yield
    finally:
        root.setLevel(level)


def psnr(a: Tensor, b: Tensor) -> float:
    """PSNR in dB of two images in [-1, 1] (peak-to-peak 2)."""
    mse = float(((a.float() - b.float()) ** 2).mean())
    return float("inf") if mse == 0 else 10 * float(np.log10(4.0 / mse))


def compare(reference, candidate, feeds: list[dict[str, np.ndarray]]) -> dict[str, float]:
    """Frame-stage outputs of two engines on the same feeds: the worst PSNR (dB) and max abs difference."""
    worst, diff = float("inf"), 0.0
    stage = next(n for n, s in reference.stages.items() if s.per_frame)
    for feed in feeds:
        inputs = {k: torch.from_numpy(feed[k]) for k in reference.stages[stage].inputs}
        for name in reference.stages[stage].outputs:
            a, b = reference.run(stage, **inputs)[name], candidate.run(stage, **inputs)[name]
            worst, diff = min(worst, psnr(a, b)), max(diff, float((a - b).abs().max()))
    return {"psnr_db": round(worst, 2), "max_abs_diff": round(diff, 5), "frames": len(feeds)}


def export_model(checkpoint: str | Path, out: str | Path, int8: bool = False,
                 calibration: tuple[str | Path | None, str | Path | None] = (None, None), calibration_frames: int = 16,
                 min_psnr: float = 30.0, log: Log = print) -> dict[str, Any]:
    """Export the trained method of ``checkpoint`` to ``out`` (``.onnx``, or ``.xml`` for OpenVINO IR with
    its ``.bin``), written atomically. ``int8``: quantize, calibrated on ``calibration`` = (photo, driving
    video or pose file) (None: the bundled demo photo / clip) over ``calibration_frames`` frames, as many
    again held out for the quality check. Returns the stored description (with ``int8`` quality)."""
    from ..checkpoints import load_method

    out = Path(out)
    if out.suffix.lower() not in SUFFIXES:
        raise PosevidError(out, "unknown suffix: write .onnx (ONNX) or .xml (OpenVINO IR)")
    method = load_method(checkpoint)
    graph = method.inference_graph()
    model = to_onnx(graph)
    meta = describe(method, graph, "int8" if int8 else "fp32")
    if int8:
        from ..resources import DEMO_CLIP, DEMO_PHOTO, asset

        demo = (asset(DEMO_PHOTO), asset(DEMO_CLIP))  # the default int8 calibration footage
        photo, driving = (given or default for given, default in zip(calibration, demo))
        feeds = record_calibration(method, photo, driving, 2 * calibration_frames)
        fp32 = OnnxEngine(model, meta)
        model = quantize_int8(model, graph, feeds[0::2])
        meta["int8"] = {**compare(fp32, OnnxEngine(model, meta), feeds[1::2]),
                        "calibration": [Path(photo).name, Path(driving).name]}
        log(f"int8: {meta['int8']['psnr_db']} dB PSNR against fp32 (worst of {meta['int8']['frames']} held-out "
            f"frames, max abs difference {meta['int8']['max_abs_diff']})")
        if meta["int8"]["psnr_db"] < min_psnr:
            raise PosevidError(checkpoint, f"int8 output is {meta['int8']['psnr_db']} dB from fp32, below "
                                           f"{min_psnr} dB: export fp32 instead (or lower --min-psnr)")
    _set_meta(model, meta)
    save(model, meta, out)
    return meta


def save(model, meta: dict[str, Any], out: Path) -> None:
    """Write the ``ModelProto`` as ONNX, or as OpenVINO IR for ``.xml`` (with the description in rt_info)."""
    onnx = require("onnx", "export")
    if out.suffix.lower() == ".onnx":
        with atomic_path(out) as tmp:
            onnx.save(model, str(tmp))
        return
    ov = require("openvino", str(out))
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=f".{out.stem}.") as tmp:
        src = Path(tmp) / "model.onnx"
        onnx.save(model, str(src))
        converted = ov.convert_model(str(src))
        converted.set_rt_info(json.dumps(meta), META_KEY)
        staged = Path(tmp) / out.name
        ov.save_model(converted, str(staged), compress_to_fp16=False)
        shutil.move(str(staged.with_suffix(".bin")), out.with_suffix(".bin"))
        shutil.move(str(staged), out)
