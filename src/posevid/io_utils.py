"""File helpers: atomic writes (a temporary name beside the target, renamed on success), state-dict
loading, and what reading a damaged numpy file raises."""

from __future__ import annotations

import contextlib
import os
import shutil
import zipfile
from collections.abc import Iterator
from pathlib import Path

# What ``np.load`` raises on a damaged ``.npy`` / ``.npz`` file (or a missing key of an npz); a zip
# of a version or compression numpy's zipfile cannot read raises NotImplementedError.
NUMPY_LOAD_ERRORS: tuple[type[BaseException], ...] = (
    OSError, ValueError, KeyError, EOFError, NotImplementedError, zipfile.BadZipFile)


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path``, on error it is removed.

    The temporary name keeps the suffix (``.out.tmp-123.mp4``) so that writers that pick a format
    from the suffix still work. A failed write never leaves a file under the final name.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp-{os.getpid()}{path.suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)
        raise


def load_state_file(path: str | Path, what: str) -> dict:
    """A torch state dict read from ``path`` (tensors only, on the CPU).

    ``what`` names the weights in the one-line ``PosevidError`` raised when the file is missing,
    unreadable or not a dict (e.g. "VGG-19 weights"). A ``{"state_dict": ...}`` wrapper is unwrapped.
    """
    import torch

    from .errors import PosevidError

    path = Path(path)
    if not path.is_file():
        raise PosevidError(path, f"{what} file not found")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # any unreadable file is a user error
        raise PosevidError(path, f"cannot read {what} ({type(err).__name__})") from err
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise PosevidError(path, f"{what} must be a state dict")
    return state
