"""File helpers: atomic writes (a temporary name beside the target, renamed on success), state-dict
loading, and what reading a damaged numpy file raises."""

from __future__ import annotations

import contextlib
import glob
import os
import re
import shutil
import zipfile
from collections.abc import Iterator
from pathlib import Path

# What ``np.load`` raises on a damaged ``.npy`` / ``.npz`` file (or a missing key of an npz); a zip
# of a version or compression numpy's zipfile cannot read raises NotImplementedError.
NUMPY_LOAD_ERRORS: tuple[type[BaseException], ...] = (
    OSError, ValueError, KeyError, EOFError, NotImplementedError, zipfile.BadZipFile)


NAME_MAX = 255  # bytes in one file name on the file systems we write to
TMP_PATTERN = re.compile(r"^\.(?P<stem>.*)\.tmp-(?P<pid>\d+)(?P<suffix>\.[^.]*)?$")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        pass
    return True


def temp_name(path: Path) -> Path:
    """The temporary name ``atomic_path`` writes ``path`` under: ``.STEM.tmp-PID.SUFFIX`` beside it."""
    return path.with_name(f".{path.stem}.tmp-{os.getpid()}{path.suffix}")


def remove_stale_temps(path: Path) -> None:
    """Delete the temporary files of ``path`` left by processes that no longer run (killed by a signal
    that leaves no time to clean up, e.g. SIGKILL); a temporary of a running process is kept."""
    if not path.parent.is_dir():
        return
    with contextlib.suppress(OSError):
        for tmp in path.parent.glob(f".{glob.escape(path.stem)}.tmp-*"):
            match = TMP_PATTERN.match(tmp.name)
            if not match or match["stem"] != path.stem or (match["suffix"] or "") != path.suffix:
                continue
            if int(match["pid"]) == os.getpid() or _pid_alive(int(match["pid"])):
                continue
            if tmp.is_dir() and not tmp.is_symlink():
                shutil.rmtree(tmp, ignore_errors=True)
            else:
                tmp.unlink(missing_ok=True)


def check_output(path: str | Path) -> Path:
    """``path`` if a file or folder can be written there, else a one-line ``PosevidError`` naming it: a name
    longer than ``NAME_MAX`` bytes, a folder above it that is a file, a symlink loop, a link to a folder
    (a file would replace the link), a folder we cannot write into."""
    from .errors import PosevidError

    path = Path(path)
    if path.name in ("", ".", ".."):
        path = Path(os.path.abspath(path))
    if len(temp_name(path).name.encode()) > NAME_MAX:
        raise PosevidError(path, f"the file name is too long (over {NAME_MAX - 16} bytes)")
    if path.is_symlink():
        try:
            target = path.resolve(strict=True)
        except (OSError, RuntimeError):
            raise PosevidError(path, "is a broken symlink or a symlink loop; not writing through it") from None
        if target.is_dir():
            raise PosevidError(path, "is a symlink to a folder; not replacing it (give the folder itself)")
    for parent in path.absolute().parents:
        if parent.is_symlink() and not parent.exists():
            raise PosevidError(path, f"its folder {parent} is a broken symlink or a symlink loop")
        if parent.exists():
            if not parent.is_dir():
                raise PosevidError(path, f"its folder {parent} is a file")
            if not os.access(parent, os.W_OK | os.X_OK):
                raise PosevidError(path, f"cannot write into the folder {parent} (permission denied)")
            break
    return path


def same_file(a: str | Path, b: str | Path) -> bool:
    """Whether ``a`` and ``b`` name the same file or folder (links and ``..`` resolved)."""
    try:
        return Path(a).resolve() == Path(b).resolve()
    except (OSError, RuntimeError):
        return False


def check_outputs(inputs: dict[str, str | Path | None], outputs: dict[str, str | Path | None],
                  replaced: bool = True) -> None:
    """Refuse outputs that would destroy an input or each other: an output that is an input, a folder
    holding an input (when outputs are ``replaced`` whole; a dataset folder that is extended may hold its
    inputs), or the same file as another output. ``inputs`` / ``outputs``: option name -> path (None: not
    given). Each output is also checked with ``check_output``. One-line ``PosevidError``."""
    from .errors import PosevidError

    for name, value in {**inputs, **outputs}.items():
        if isinstance(value, str) and not value.strip():
            raise PosevidError(name, "an empty path was given")
    given = {k: Path(v) for k, v in outputs.items() if v is not None and not hasattr(v, "shape")}
    sources = {k: Path(v) for k, v in inputs.items() if isinstance(v, (str, Path))}
    for name, out in given.items():
        for what, src in sources.items():
            if same_file(out, src):
                raise PosevidError(out, f"is the {what}; an output never replaces an input (give another {name})")
            if replaced and src.exists() and out.exists() and out.is_dir() and _inside(src, out):
                raise PosevidError(out, f"holds the {what} {src}; an output never replaces an input")
        check_output(out)
    names = list(given)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            if same_file(given[a], given[b]):
                raise PosevidError(given[b], f"is also the {a}; give the {b} another name")


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
    except (ValueError, OSError, RuntimeError):
        return False
    return True


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path``, on error it is removed.

    The temporary name keeps the suffix (``.out.tmp-123.mp4``) so that writers that pick a format
    from the suffix still work. A failed write never leaves a file under the final name; temporaries of
    dead processes for the same name are removed first. The path is checked (``check_output``), and an
    ``OSError`` of the file system (no space left, permission, read-only) becomes one ``PosevidError``
    naming the file.
    """
    path = check_output(path)
    tmp = temp_name(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temps(path)
        yield tmp
        os.replace(tmp, path)
    except BaseException as err:
        if tmp.is_dir() and not tmp.is_symlink():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)
        if isinstance(err, OSError):
            raise os_error(err, path) from None
        raise


def os_error(err: OSError, path: str | Path | None = None) -> Exception:
    """A file-system ``OSError`` as one ``PosevidError`` line naming the file (its own file name when it has
    one that is not a temporary of ``path``)."""
    from .errors import PosevidError

    where = err.filename if err.filename is not None else path
    if path is not None and where is not None and TMP_PATTERN.match(Path(str(where)).name):
        where = path
    problem = err.strerror or str(err) or type(err).__name__
    return PosevidError(where, f"cannot write: {problem}" if where == path else problem)


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
