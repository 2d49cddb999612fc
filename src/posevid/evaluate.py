"""``posevid evaluate``: every metric of a generated video against the real one, as JSON + Markdown.

Two inputs: a generated and a real video (files or frame folders), or a checkpoint and a prepared
dataset, whose test clips are reconstructed (source = first frame, driven by the clip's own poses).
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from .devices import resolve_device
from .errors import PosevidError
from .io_utils import atomic_path
from .metrics.evaluator import METRICS, NOTES, Evaluator, Report
from .poses import Poses

if TYPE_CHECKING:
    from .methods.base import Method


def evaluate_videos(generated: str | Path, real: str | Path, *, lpips_weights: str | Path | None = None,
                    vgg_weights: str | Path | None = None, inception_classifier: str | Path | None = None,
                    device: str | torch.device | None = None, batch: int = 8) -> Report:
    """Evaluate a generated video against the real one (videos, GIFs or frame folders), streaming; the
    network metrics run on ``device`` (``devices.resolve_device``; None: auto), ``batch`` frames at a time."""
    from .video import open_video

    with open_video(generated) as gen_reader, open_video(real) as real_reader:
        with Evaluator(lpips_weights, vgg_weights, inception_classifier, device=resolve_device(device),
                       batch=batch) as ev:
            ev.add_clip(gen_reader, real_reader)
            report = ev.report()
    report.metrics["meta"].update(generated=str(generated), real=str(real))
    return report


def load_for_evaluation(checkpoint: str | Path | None, method: str | None,
                        device: str | torch.device | None = None) -> Method:
    """The method to evaluate, in eval mode on ``device`` (None: auto): loaded from ``checkpoint``, or an
    untrained one named ``method`` (e.g. "warp")."""
    return _method(checkpoint, method).to(resolve_device(device)).eval()


def _method(checkpoint: str | Path | None, method: str | None) -> Method:
    """The method to reconstruct with: loaded from ``checkpoint``, or an untrained one named ``method``."""
    from .checkpoints import load_method
    from .methods import build_method, method_class

    if checkpoint is not None:
        loaded = load_method(checkpoint)
        if method is not None and method != loaded.name:
            raise PosevidError(checkpoint, f"is a {loaded.name!r} checkpoint, not {method!r}")
        if not loaded.capabilities.animates:
            raise PosevidError(checkpoint, f"holds a {loaded.name!r} model, which does not animate a photo")
        return loaded
    if method is None:
        raise PosevidError("evaluate", "give --checkpoint CKPT (or --method warp) with --data")
    try:
        cls = method_class(method)
    except KeyError as err:
        raise PosevidError("--method", str(err.args[0])) from None
    if cls.capabilities.trains:
        raise PosevidError("--method", f"{method!r} needs trained weights: give --checkpoint CKPT")
    return build_method({"method": method})


_Clip = tuple[str, np.ndarray, Poses, np.ndarray, Iterator[np.ndarray]]


def test_clips(data: Path, max_frames: int | None) -> Iterator[_Clip]:
    """Per test clip of a prepared dataset: (name, first frame, poses, first mask in [0, 1], frame iterator)."""
    from .data.prepared import FRAMES, read_clip_poses, read_index, read_mask
    from .video import open_video

    index = read_index(data)
    if not index.get("test"):
        raise PosevidError(data, "the dataset has no test clips (index.json 'test' is empty)")
    for name in index["test"]:
        poses = read_clip_poses(data, name)
        if max_frames:
            poses = poses[:max_frames]
        mask = read_mask(data, name, 0)
        with open_video(data / name / FRAMES) as reader:
            frames = itertools.islice(iter(reader), len(poses))
            source = next(frames)
            yield name, source, poses, mask, itertools.chain([source], frames)


def _with_iuv(animator: Any, source: np.ndarray, poses: Poses, mask: np.ndarray, clip: Path) -> Iterator[np.ndarray]:
    """An IUV-trained model's frames: each step gets the clip's IUV frame (``clip/iuv/``; the first one
    for the source)."""
    from .video import open_video

    if not (clip / "iuv").is_dir():
        raise PosevidError(clip, "this model was trained with DensePose IUV and the clip has no iuv/ frames "
                                 "(prepare the dataset with --iuv DIR)")
    iuv = itertools.islice(iter(open_video(clip / "iuv")), len(poses))
    first = next(iuv)
    animator.reset(source, poses[0], mask, iuv=first)
    for pose, frame in zip(poses, itertools.chain([first], iuv)):
        yield animator.step(pose, iuv=frame)


def evaluate_checkpoint(data: str | Path, checkpoint: str | Path | None = None, *, method: str | None = None,
                        max_frames: int | None = None, lpips_weights: str | Path | None = None,
                        vgg_weights: str | Path | None = None, inception_classifier: str | Path | None = None,
                        device: str | torch.device | None = None, batch: int = 8) -> Report:
    """Reconstruction on the test split of a prepared dataset (``posevid prepare``).

    For each test clip the first frame (with its pose and mask) is the source, the clip's own poses
    drive the animator, and the clip is the ground truth. ``checkpoint`` is a trained run or file;
    untrained methods (``method="warp"``) need none. ``max_frames`` limits each clip's length. The model
    and the network metrics run on ``device``.
    """
    data, device = Path(data), resolve_device(device)
    model = load_for_evaluation(checkpoint, method, device)
    names = []
    with Evaluator(lpips_weights, vgg_weights, inception_classifier, device=device, batch=batch) as ev:
        for name, source, poses, mask, real in test_clips(data, max_frames):
            animator = model.animator()
            with torch.inference_mode():
                if model.capabilities.needs_densepose:
                    generated = _with_iuv(animator, source, poses, mask, data / name)
                else:
                    generated = animator.animate(source, poses[0], iter(poses), mask)
                ev.add_clip(generated, real)
            names.append(name)
        report = ev.report()
    report.metrics["meta"].update(data=str(data), checkpoint=str(checkpoint) if checkpoint else None,
                                  method=model.name, test_clips=names)
    return report


def _cell(value: Any) -> str:
    if isinstance(value, dict):
        return f"missing: {value.get('missing', '?')}"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def markdown_table(metrics: dict[str, Any]) -> str:
    """The report as a Markdown table: metric, value (or why it is missing), which direction is better, note."""
    lines = ["| metric | value | better | note |", "| --- | --- | --- | --- |"]
    for name, value in metrics.items():
        if name == "meta":
            continue
        better = {True: "higher", False: "lower"}.get(METRICS.get(name), "reference")
        lines.append(f"| {name} | {_cell(value)} | {better} | {NOTES.get(name, '')} |")
    meta = metrics.get("meta", {})
    frames = meta.get("frames", {})
    if frames:
        lines += ["", "Frames: " + ", ".join(f"{k} {v}" for k, v in frames.items())
                  + f"; size {meta.get('size', ['?', '?'])[0]}x{meta.get('size', ['?', '?'])[1]}."]
    lines += [f"\nWarning: {w}." for w in meta.get("warnings", [])]
    return "\n".join(lines) + "\n"


def plot_curves(curves: dict[str, list[float]], folder: str | Path) -> list[Path]:
    """One PNG per per-frame metric in ``folder`` (warp_error with the real video's curve beside it)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, values in curves.items():
        if name == "warp_error_real":
            continue
        fig, ax = plt.subplots(figsize=(6, 3), dpi=100)
        ax.plot(np.arange(len(values)), np.asarray(values, np.float64), label="generated" if
                name == "warp_error" else name)
        if name == "warp_error" and "warp_error_real" in curves:
            ax.plot(np.arange(len(curves["warp_error_real"])), curves["warp_error_real"], label="real")
            ax.legend()
        ax.set_xlabel("frame pair" if name == "warp_error" else "frame")
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
        fig.tight_layout()
        path = folder / f"{name}.png"
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png")
        plt.close(fig)
        written.append(path)
    return written


def json_safe(value: Any) -> Any:
    """JSON-safe copy: non-finite floats (there should be none) become null."""
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_safe(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_report(report: Report, path: str | Path, plot: str | Path | None = None) -> list[Path]:
    """Write ``path`` (JSON), ``report.md`` beside it and, with ``plot``, per-frame PNGs; returns the files."""
    path = Path(path)
    if path.is_dir():
        raise PosevidError(path, "is a folder; give a .json file name")
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(json_safe(report.metrics), indent=2, allow_nan=False) + "\n")
    md = path.with_name("report.md")
    with atomic_path(md) as tmp:
        tmp.write_text(markdown_table(report.metrics))
    written = [path, md]
    if plot is not None:
        written += plot_curves(report.curves, plot)
    return written
