"""The choices of ``--backend`` and ``--precision`` (``backends``), importable without torch: the command
line and ``AnimateOptions`` check them before any model is loaded."""

BACKENDS = ("auto", "torch", "onnx", "openvino")
PRECISIONS = ("auto", "fp32", "bf16")
