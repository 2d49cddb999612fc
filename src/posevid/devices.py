"""Devices and mixed precision: ``--device auto|cpu|cuda[:N]`` and ``train.amp: bf16 | fp16 | off``.

``resolve_device`` turns the text a user gives (command line, Python API, ``train.device``) into a
``torch.device``; a CUDA device on a machine without one is a one-line ``PosevidError`` (exit 2 on the
command line). ``amp_dtype`` picks the autocast dtype of a precision setting on a device.
"""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING

from .errors import PosevidError

if TYPE_CHECKING:  # torch is imported when a device is resolved: the command line stays fast
    import torch

DEVICE_HELP = "auto (CUDA when present), cpu, cuda or cuda:N"
AMP_CHOICES = ("bf16", "fp16", "off")


def resolve_device(spec: str | torch.device | None = "auto", where: str = "--device") -> torch.device:
    """``auto`` / None -> ``cuda:<LOCAL_RANK>`` when CUDA is present (the process's GPU under torchrun; with
    more processes than GPUs they share them round-robin), else the CPU; ``cpu``; ``cuda`` (under torchrun:
    ``cuda:<LOCAL_RANK>``, likewise) or ``cuda:N``. ``PosevidError(where, ...)``
    for anything else, or for CUDA on a machine without it (or without GPU N)."""
    import torch

    if isinstance(spec, torch.device):
        spec = str(spec)
    text = (spec or "auto").strip().lower()
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if text == "auto":
        return torch.device(f"cuda:{local % torch.cuda.device_count()}") if torch.cuda.is_available() else \
            torch.device("cpu")
    if text == "cpu":
        return torch.device("cpu")
    match = re.fullmatch(r"cuda(?::(\d+))?", text)
    if not match:
        raise PosevidError(where, f"unknown device {spec!r}; use {DEVICE_HELP}")
    if not torch.cuda.is_available():
        raise PosevidError(where, f"{spec}: no CUDA device on this machine (torch {torch.__version__}, CUDA build: "
                                  f"{torch.version.cuda or 'none'}); use cpu or auto")
    index = int(match.group(1)) if match.group(1) is not None else local % torch.cuda.device_count()
    if index >= torch.cuda.device_count():
        raise PosevidError(where, f"{spec}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    return torch.device(f"cuda:{index}")


def check_device(spec: str | torch.device | None = "auto", where: str = "--device") -> None:
    """``resolve_device``'s checks without importing torch where none is needed: ``auto``, None and ``cpu``
    always pass; anything else is resolved (``PosevidError`` for an unknown device or a missing GPU). For
    what may run without torch (the warp method), which uses no device."""
    if spec is None or (isinstance(spec, str) and spec.strip().lower() in ("auto", "cpu")):
        return
    resolve_device(spec, where)


def amp_dtype(amp: bool | str | None, device: torch.device) -> torch.dtype | None:
    """The autocast dtype of ``train.amp`` on ``device``: None for ``off`` / false; ``bf16`` / ``fp16`` as
    named; ``true`` = bf16 where the device has it (CPUs, Ampere and later GPUs), else fp16.
    ``PosevidError`` for bf16 on a GPU without it."""
    import torch

    if amp is None or amp is False or amp == "off":
        return None
    if amp == "fp16":
        return torch.float16
    bf16 = device.type != "cuda" or torch.cuda.is_bf16_supported()
    if amp == "bf16":
        if not bf16:
            raise PosevidError("train.amp", f"bf16 is not supported by {torch.cuda.get_device_name(device)}; "
                                            "use train.amp=fp16")
        return torch.bfloat16
    if amp is True:
        return torch.bfloat16 if bf16 else torch.float16
    raise PosevidError("train.amp", f"must be one of {', '.join(AMP_CHOICES)}, got {amp!r}")
