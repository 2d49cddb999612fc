"""Checkpoint files: the format, atomic save, verified load, finding the newest valid one of a run, and
rebuilding a method from one (``load_method``).

A checkpoint is a ``POSEVID-CKPT-1 <sha256 of the payload>`` line followed by a ``torch.save`` payload
(a mapping; the trainer writes ``version, step, config, method, optimizers, schedulers, scalers,
rng, world_size``). The checksum detects truncated or damaged files, so ``find_checkpoint`` falls back to the
previous one. Payloads are read with ``weights_only=True``.
"""

from __future__ import annotations

import hashlib
import io
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from .config import resolve_config
from .errors import PosevidError
from .io_utils import atomic_path
from .methods.registry import build_method

MAGIC = b"POSEVID-CKPT-1 "
Log = Callable[[str], None]


def save_checkpoint(path: str | Path, payload: dict[str, Any] | bytes) -> None:
    """Write ``payload`` (or its serialised bytes) atomically as ``MAGIC + sha256 + \\n + torch.save bytes``."""
    blob = payload if isinstance(payload, bytes) else serialise(payload)
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        f.write(MAGIC + hashlib.sha256(blob).hexdigest().encode() + b"\n")
        f.write(blob)
        f.flush()
        os.fsync(f.fileno())


def serialise(payload: dict[str, Any]) -> bytes:
    buf = io.BytesIO()
    torch.save(payload, buf)
    return buf.getvalue()


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read and verify a checkpoint; ``PosevidError`` if it is missing, truncated or corrupted."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as err:
        raise PosevidError(path, f"cannot read the checkpoint ({err.strerror or err})") from None
    head, _, blob = data.partition(b"\n")
    if not head.startswith(MAGIC):
        raise PosevidError(path, "not a posevid checkpoint")
    if hashlib.sha256(blob).hexdigest().encode() != head[len(MAGIC):]:
        raise PosevidError(path, "the checkpoint is corrupted (checksum mismatch)")
    try:
        payload = torch.load(io.BytesIO(blob), map_location=map_location, weights_only=True)
    except Exception as err:  # torch raises many types for a damaged payload (zip, pickle, unicode, ...)
        raise PosevidError(path, f"the checkpoint payload cannot be read ({type(err).__name__})") from None
    if not isinstance(payload, dict):
        raise PosevidError(path, f"the checkpoint payload is a {type(payload).__name__}, not a mapping")
    return payload


def stage_folder(run: str | Path, index: int, name: str) -> Path:
    """The folder of stage ``name``, the ``index``-th (from 0) of a multi-stage run: ``RUN/<index+1>-<name>``."""
    return Path(run) / f"{index + 1}-{name}"


def stage_folders(run: str | Path) -> list[Path]:
    """The stage folders of a multi-stage run (``RUN/<n>-<name>/``), the last stage first."""
    run = Path(run)
    found = [(int(p.name.split("-", 1)[0]), p) for p in run.glob("[0-9]*-*")
             if p.is_dir() and p.name.split("-", 1)[0].isdigit()] if run.is_dir() else []
    return [p for _, p in sorted(found, reverse=True)]


def checkpoint_candidates(run: Path) -> list[Path]:
    """The step checkpoints, newest first, then ``latest.ckpt``; for a multi-stage run, those of its
    last stage that has any, then of the earlier stages.

    ``latest.ckpt`` is written after the step file of the same step, so a run killed between the two
    writes has a newer step file than ``latest.ckpt``: the step files come first.
    """
    folder = Path(run) / "checkpoints"
    if not folder.is_dir():
        return [c for stage in stage_folders(run) for c in checkpoint_candidates(stage)]
    steps = sorted(folder.glob("step_*.ckpt"), reverse=True)
    return [p for p in [*steps, folder / "latest.ckpt"] if p.is_file()]


def find_checkpoint(path: str | Path, map_location: str | torch.device = "cpu",
                    log: Log | None = None) -> tuple[dict[str, Any], Path]:
    """Load a checkpoint file, or the newest valid checkpoint of a run folder (skipping damaged ones)."""
    path = Path(path)
    if path.is_file():
        return load_checkpoint(path, map_location), path
    candidates = checkpoint_candidates(path) if path.is_dir() else []
    if not candidates:
        raise PosevidError(path, "no checkpoint found (a .ckpt file or a run folder with checkpoints/)")
    for cand in candidates:
        try:
            return load_checkpoint(cand, map_location), cand
        except PosevidError as err:
            if log:
                log(f"[yellow]skipping[/yellow] {err}")
    raise PosevidError(path, "every checkpoint in the run is damaged")


def method_from_config(cfg: Any, where: str | Path, expect: str | None = None):
    """The method a saved config describes, built (untrained weights), after checking the config like any
    config. Nothing the config names is imported: its method must be registered (built in, installed
    through the ``posevid.methods`` entry points, or a module the user imported, e.g. ``posevid --plugin
    MODULE``); any other method or plugin module is one ``PosevidError`` naming ``where``. ``expect``: the
    method name it must hold."""
    from .methods.registry import method_names

    if not isinstance(cfg, dict):
        raise PosevidError(where, "holds no config")
    plugins = cfg.get("plugins") or []
    if not isinstance(plugins, list):
        raise PosevidError(where, f"plugins must be a list of module names, got {plugins!r:.40}")
    for module in plugins:
        if not isinstance(module, str) or module not in sys.modules:
            raise PosevidError(where, f"names the plugin module {module!r:.60}, which is not loaded; a checkpoint "
                                      "never imports code (name a module you trust with --plugin)")
    name = cfg.get("method")
    if isinstance(name, str) and name not in method_names():
        raise PosevidError(where, f"holds method {name!r:.60}, which is not registered (known: "
                                  f"{', '.join(method_names())}); a checkpoint never imports code")
    cfg = resolve_config(cfg, where)
    if expect is not None and cfg["method"] != expect:
        raise PosevidError(where, f"holds a {cfg['method']!r} model, not {expect!r}")
    try:
        return build_method(cfg)
    except (TypeError, ValueError, KeyError) as err:
        raise PosevidError(where, f"cannot build method {cfg['method']!r} from its config ({err})") from None


def load_method(path: str | Path, expect: str | None = None, device: str | torch.device = "cpu"):
    """Rebuild the method saved in a checkpoint (file or run folder: its newest valid checkpoint), load its
    weights and move it to ``device``, in eval mode. ``expect``: the method name it must hold.

    The saved config is checked like any config before anything is built, and nothing the checkpoint
    names is imported (``method_from_config``).
    """
    payload, found = find_checkpoint(path, "cpu")
    cfg, state = payload.get("config"), payload.get("method")
    if not isinstance(cfg, dict):
        raise PosevidError(found, "the checkpoint holds no config")
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise PosevidError(found, "the checkpoint holds no weights (a name -> tensor mapping)")
    method = method_from_config(cfg, found, expect)
    try:
        method.load_state_dict(state)
    except RuntimeError as err:
        raise PosevidError(found, f"weights do not fit method {method.name!r} ({str(err).splitlines()[0]})") from None
    return method.to(device).eval()
