"""Fast inference of trained methods on the CPU: prepared PyTorch, exported ONNX / OpenVINO, int8.

- ``graph``: ``InferenceGraph`` (a method's networks as per-clip and per-frame stages, the contract
  animators run through an engine), ``TorchEngine``, ``prepare`` (frozen copy: norms folded, bf16 weights
  and channels-last where the CPU computes bf16 natively) and ``fold_norms``.
- ``export``: ``export_model`` (``posevid export``: ONNX or OpenVINO IR, fp32 or calibrated int8).
- ``runtimes``: ``OnnxEngine`` (ONNX Runtime) and ``OpenVinoEngine``.
- ``backends``: ``use_backend`` / ``load_exported`` (``--backend auto|torch|onnx|openvino``: auto measures
  and caches the fastest), ``cache_dir``.
- ``cpu``: usable cores (the affinity mask), native bf16 / int8 support.

ONNX Runtime and OpenVINO are optional: ``pip install 'posevid[export]'``. The option names (``choices``:
``BACKENDS``, ``PRECISIONS``) import no torch; the rest is imported on first use.
"""

from .. import lazy_exports
from .choices import BACKENDS, PRECISIONS

__getattr__ = lazy_exports(__name__, {
    **dict.fromkeys(("cache_dir", "has_graph", "is_exported", "load_exported", "release_weights", "use_backend"),
                    ".backends"),
    **dict.fromkeys(("InferenceGraph", "Stage", "TorchEngine", "fold_norms", "prepare"), ".graph"),
})

__all__ = ["BACKENDS", "PRECISIONS", "InferenceGraph", "Stage", "TorchEngine", "cache_dir", "fold_norms", "has_graph",
           "is_exported", "load_exported", "prepare", "release_weights", "use_backend"]
