"""Choosing what runs a method's inference graph: PyTorch, ONNX Runtime or OpenVINO, and at which precision.

``use_backend(method, backend)`` gives a trained method (loaded from its checkpoint) the engine of that
backend; ``load_exported(path, backend)`` rebuilds the method of an exported model around an engine of
the exported file. ``backend="auto"`` measures the frame stage with every backend available for the
model and keeps the fastest; the choice is cached (``cache_dir()/backends.json``) under the model's
weights, the thread count, the CPU and the library versions, so it is measured once. The ONNX export a
checkpoint needs for the onnx and openvino backends is cached in ``cache_dir()/exports``.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from ..errors import PosevidError
from ..io_utils import atomic_path
from . import cpu
from .choices import BACKENDS, PRECISIONS
from .graph import TorchEngine, prepare
from .runtimes import OnnxEngine, OpenVinoEngine, read_meta_onnx, read_meta_openvino, require

EXPORTED = (".onnx", ".xml")
RUNTIME_MODULES = {"onnx": "onnxruntime", "openvino": "openvino"}
Engine = Any  # TorchEngine | OnnxEngine | OpenVinoEngine: run(stage, **tensors), stages, name, precision
log = logging.getLogger("posevid")


def cache_dir() -> Path:
    """``$POSEVID_CACHE``, else ``$XDG_CACHE_HOME/posevid``, else ``~/.cache/posevid``."""
    if os.environ.get("POSEVID_CACHE"):
        return Path(os.environ["POSEVID_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "posevid"


def is_exported(path: str | Path | None) -> bool:
    """True for a path that names an exported model (``.onnx``, or ``.xml`` OpenVINO IR)."""
    return path is not None and Path(path).suffix.lower() in EXPORTED


def available(backend: str) -> bool:
    """Whether the runtime of ``backend`` is installed."""
    module = RUNTIME_MODULES.get(backend)
    return module is None or importlib.util.find_spec(module) is not None


def check(backend: str, precision: str) -> None:
    """``PosevidError`` for an unknown backend or precision."""
    if backend not in BACKENDS:
        raise PosevidError(f"backend {backend}", f"must be one of {', '.join(BACKENDS)}")
    if precision not in PRECISIONS:
        raise PosevidError(f"precision {precision}", f"must be one of {', '.join(PRECISIONS)}")


def weights_id(method: torch.nn.Module) -> str:
    """A digest of the method's config and weights (what the cached export and choice belong to)."""
    digest = hashlib.sha256(json.dumps(method.cfg, sort_keys=True, default=str).encode())
    for name, value in method.state_dict().items():
        digest.update(name.encode())
        digest.update(value.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:24]


def file_id(path: Path) -> str:
    """A digest of a file's bytes (and of its ``.bin`` for OpenVINO IR)."""
    digest = hashlib.sha256()
    for part in (path, path.with_suffix(".bin")) if path.suffix.lower() == ".xml" else (path,):
        with open(part, "rb") as f:
            while chunk := f.read(1 << 22):
                digest.update(chunk)
    return digest.hexdigest()[:24]


def _versions() -> dict[str, str]:
    out = {"torch": torch.__version__}
    for name in ("onnxruntime", "openvino"):
        if importlib.util.find_spec(name) is not None:
            out[name] = getattr(importlib.import_module(name), "__version__", "?")
    return out


def measure(engine: Engine, inputs: dict[str, Tensor], repeats: int = 3) -> float:
    """Median seconds of the frame stage of ``engine`` on ``inputs`` (after one warm-up call)."""
    stage = engine.stages["frame"]
    feed = {k: inputs[k] for k in stage.inputs}
    engine.run("frame", **feed)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        engine.run("frame", **feed)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def choose(key: dict[str, Any], candidates: dict[str, Callable[[], Engine]], inputs: dict[str, Tensor]) -> Engine:
    """The fastest of ``candidates`` (name -> engine factory) on ``inputs``, measured once per ``key`` and
    remembered in ``cache_dir()/backends.json``; a cached choice is rebuilt without measuring."""
    path = cache_dir() / "backends.json"
    digest = hashlib.sha256(json.dumps({**key, "cpu": cpu.cpu_name(), "flags": sorted(cpu.cpu_flags()),
                                        "versions": _versions()}, sort_keys=True).encode()).hexdigest()[:24]
    try:
        cached = json.loads(path.read_text())
    except (OSError, ValueError):
        cached = {}
    if not isinstance(cached, dict):
        cached = {}
    hit = cached.get(digest, {}).get("backend")
    if hit in candidates:
        return candidates[hit]()
    seconds, engines = {}, {}
    for name, make in candidates.items():
        engines[name] = make()
        seconds[name] = measure(engines[name], inputs)
    best = min(seconds, key=seconds.__getitem__)
    for name, engine in engines.items():
        if name != best:
            engine.close()
    log.info("backend auto: %s per frame -> %s", ", ".join(f"{n} {s:.3f} s" for n, s in seconds.items()), best)
    cached[digest] = {"backend": best, "seconds": dict(seconds),
                      "threads": key.get("threads"), "when": time.strftime("%Y-%m-%d %H:%M:%S")}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            tmp.write_text(json.dumps(cached, indent=1))
    except OSError as err:  # a read-only home: the choice is just not remembered
        log.warning("cannot write %s (%s)", path, err)
    return engines[best]


def _exported_for(method, where: str) -> tuple[Path, Any, dict[str, Any]]:
    """The fp32 ONNX export of a method's graph, from the cache (made and stored there when missing): its
    path, the ``ModelProto`` and its description."""
    onnx = require("onnx", where)
    from .export import FORMAT, describe, to_onnx
    from .runtimes import META_KEY

    path = cache_dir() / "exports" / f"{method.name}-{weights_id(method)}-f{FORMAT}-torch{torch.__version__}.onnx"
    if path.is_file():
        try:
            model = onnx.load(str(path))
            return path, model, read_meta_onnx(model, path)
        except Exception:  # a damaged cache file is made again
            log.warning("re-exporting damaged cache file %s", path)
    graph = method.inference_graph()
    model, meta = to_onnx(graph), describe(method, graph, "fp32")
    entry = model.metadata_props.add()
    entry.key, entry.value = META_KEY, json.dumps(meta)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        onnx.save(model, str(tmp))
    return path, model, meta


def use_backend(method, backend: str = "auto", precision: str = "auto", threads: int | None = None,
                where: str = "checkpoint") -> Engine:
    """Give a trained ``method`` (weights loaded) the engine of ``backend`` at ``precision`` and return it.

    torch: a prepared copy of the graph (``graph.prepare``: bf16 where the CPU has it, else fp32); onnx:
    ONNX Runtime, fp32; openvino: OpenVINO, bf16 where the CPU has it, else fp32; auto: the fastest of
    those installed, measured once (``choose``)."""
    check(backend, precision)
    n = cpu.threads(threads)

    def torch_engine() -> TorchEngine:
        torch.set_num_threads(n)
        graph, prec = prepare(method.inference_graph(), precision)
        return TorchEngine(graph, prec)

    def onnx_engine() -> OnnxEngine:
        if precision == "bf16":
            raise PosevidError(where, "ONNX Runtime runs this model in fp32; use --backend openvino or torch for bf16")
        require("onnxruntime", where)
        _, model, meta = _exported_for(method, where)
        return OnnxEngine(model, meta, threads=n, where=where)

    def openvino_engine() -> OpenVinoEngine:
        require("openvino", where)
        path, _, meta = _exported_for(method, where)
        return OpenVinoEngine(path, meta, precision=precision, threads=n, where=where)

    makers = {"torch": torch_engine, "onnx": onnx_engine, "openvino": openvino_engine}
    if backend == "auto":
        names = [b for b in ("torch", "onnx", "openvino") if available(b) and not (b == "onnx" and precision == "bf16")]
        key = {"model": weights_id(method), "precision": precision, "threads": n}
        engine = choose(key, {b: makers[b] for b in names}, method.inference_graph().example_inputs())
    else:
        engine = makers[backend]()
    method.engine = engine
    return engine


def has_graph(method) -> bool:
    """Whether ``method`` defines an inference graph (``Method.inference_graph``): what a backend can run."""
    from ..methods.base import Method

    return type(method).inference_graph is not Method.inference_graph


def release_weights(method) -> None:
    """Free the method's own parameters (empty tensors) once an engine computes for it: its animator then
    uses only the engine, the method's buffers and its non-network code."""
    for p in method.parameters():
        p.data = torch.empty(0, device=p.device)  # the method's device stays where its engine computes


def read_exported(path: str | Path) -> tuple[Any, dict[str, Any], str]:
    """(the model object, its description, "onnx" or "openvino") of an exported file."""
    path = Path(path)
    if not path.is_file():
        raise PosevidError(path, "no such exported model")
    if path.suffix.lower() == ".onnx":
        onnx = require("onnx", str(path))
        try:
            model = onnx.load(str(path))
        except Exception as err:  # protobuf raises its own DecodeError, and others for damaged files
            raise PosevidError(path, f"cannot be read as an ONNX model ({type(err).__name__})") from None
        meta, kind = read_meta_onnx(model, path), "onnx"
    else:
        ov = require("openvino", str(path))
        try:
            model = ov.Core().read_model(str(path))
        except RuntimeError as err:
            raise PosevidError(path, f"cannot be read as an OpenVINO model ({str(err).splitlines()[0]})") from None
        meta, kind = read_meta_openvino(model, path), "openvino"
    from .export import FORMAT

    if meta.get("format") != FORMAT:
        raise PosevidError(path, f"was exported in format {meta.get('format')}; this posevid reads format {FORMAT}")
    return model, meta, kind


def load_exported(path: str | Path, backend: str = "auto", precision: str = "auto", threads: int | None = None):
    """The method of an exported model, rebuilt from its stored config and state, its networks run by
    ONNX Runtime or OpenVINO (``backend``: auto, onnx or openvino; an ``.xml`` file runs with OpenVINO only).
    The method's own network weights are freed: only the engine computes."""
    import base64
    import io

    import numpy as np

    from ..checkpoints import method_from_config

    check(backend, precision)
    path = Path(path)
    model, meta, kind = read_exported(path)
    if backend == "torch":
        raise PosevidError(path, "an exported model runs with --backend onnx, openvino or auto, not torch "
                                 "(use the checkpoint for torch)")
    if kind == "openvino" and backend == "onnx":
        raise PosevidError(path, "OpenVINO IR runs with --backend openvino (or auto), not onnx")
    method = method_from_config(meta["config"], path)
    state = np.load(io.BytesIO(base64.b64decode(meta["state"])))
    method.load_state_dict({k: torch.from_numpy(state[k]) for k in state.files}, strict=False)
    method.eval().requires_grad_(False)
    release_weights(method)
    n = cpu.threads(threads)
    makers: dict[str, Callable[[], Engine]] = {}
    if kind == "onnx" and precision != "bf16" and available("onnx"):
        makers["onnx"] = lambda: OnnxEngine(model, meta, threads=n, where=str(path))
    if available("openvino"):
        makers["openvino"] = lambda: OpenVinoEngine(model if kind == "openvino" else path, meta, precision,
                                                    threads=n, where=str(path))
    if backend != "auto":
        if backend not in makers:
            require(RUNTIME_MODULES[backend], str(path))
            raise PosevidError(path, f"cannot run with --backend {backend} at precision {precision}")
        method.engine = makers[backend]()
    elif len(makers) == 1:
        method.engine = next(iter(makers.values()))()
    elif not makers:
        require("onnxruntime", str(path))
        raise PosevidError(path, "no runtime can run this model")
    else:
        inputs = {k: v for k, v in method.inference_graph().example_inputs().items()}
        method.engine = choose({"model": file_id(path), "precision": precision, "threads": n}, makers, inputs)
    return method
