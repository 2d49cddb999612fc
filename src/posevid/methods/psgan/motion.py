"""PSGAN's motion tools: a pose sequence of an action from a photo or pose (``posevid motion generate``,
``posevid animate --action``), samples for every action (``posevid motion sample``), the bundled model
(``resources.MOTION_MODEL``) and the export of a run as a release checkpoint."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ...checkpoints import find_checkpoint, load_method, save_checkpoint
from ...errors import PosevidError
from ...poses import Poses, body_height
from ...skeleton import COCO18_NAMES, JOINT
from .model import FILL, PSGAN

_NOTE = logging.getLogger("posevid").warning  # where the note on a far start pose goes by default


def normalise_pose(pose: Poses) -> tuple[np.ndarray, np.ndarray, float, np.ndarray]:
    """One-frame pixel pose -> normalised (18, 2), conf (18,), the scale and the centre (2,) used.

    The body chain (``poses.body_height``) spans ``FILL`` of the [-1, 1] square, as in the motion dataset.
    """
    height = float(body_height(pose[:1])[0])
    if height <= 0:
        raise PosevidError(None, "the initial pose has no visible body segment")
    vis = pose.conf[0] > 0
    center = (pose.xy[0][vis].min(0) + pose.xy[0][vis].max(0)) / 2
    scale = 2 * FILL / height
    xy = np.where(vis[:, None], (pose.xy[0] - center) * scale, 0).astype(np.float32)
    return xy, pose.conf[0].copy(), scale, center



def load_psgan(checkpoint: str | Path | PSGAN | None = None) -> PSGAN:
    """A PSGAN from a checkpoint file or run folder, or the bundled one (None); a loaded one as is."""
    if isinstance(checkpoint, PSGAN):
        return checkpoint
    from ...resources import motion_model

    model = load_method(motion_model() if checkpoint is None else checkpoint, expect="psgan")
    assert isinstance(model, PSGAN)
    return model


def generate_motion(checkpoint: str | Path | PSGAN | None, action: str, source_pose: Poses, frames: int,
                    seed: int = 0, fps: float | None = None, log: Callable[[str], None] | None = _NOTE,
                    in_place: bool = True) -> Poses:
    """A ``frames``-long pose sequence of ``action`` starting from ``source_pose`` (its first frame).

    ``checkpoint``: a PSGAN checkpoint path (or a loaded ``PSGAN``; None = the bundled one). The output
    is in the source pose's pixel coordinates and image size, every joint present, at ``fps`` (default:
    the motion data's fps recorded in the model config, else 30). Joints missing from the source pose are taken from the
    nearest training pose; when that pose is farther than ``model.far_pose`` body heights (or joints were
    missing), ``log`` gets one line saying so. ``in_place``: the hips keep their horizontal place (the
    mocap's travel removed, as on a treadmill), so a walking photo's person stays in its frame.
    """
    model = load_psgan(checkpoint)
    if frames < 1:
        raise PosevidError(None, f"frames must be at least 1, got {frames}")
    model.eval()
    label = model.label_index(action)
    xy, conf, scale, center = normalise_pose(source_pose)
    distance, completed = model.bank.nearest(torch.from_numpy(xy)[None], torch.from_numpy(conf)[None])
    missing = [COCO18_NAMES[j] for j in np.flatnonzero(conf <= 0)]
    if log is not None and (missing or float(distance[0]) > model.far_pose):
        what = f"without {', '.join(missing)} (taken from the nearest training pose)" if missing else ""
        far = f"{float(distance[0]):.2f} body heights from the nearest training pose" if model.bank.count else ""
        log(f"note: the starting pose is {what}{' and ' if what and far else ''}{far}; the {action} motion may "
            "look odd until it settles")
    gen = torch.Generator().manual_seed(int(seed))
    seq = model.generate(torch.tensor([label]), completed, torch.ones(1, len(conf)), frames,
                         generator=gen)[0].cpu().numpy()
    pix = seq / scale + center
    if in_place:
        hips = pix[:, [JOINT["right_hip"], JOINT["left_hip"]], 0].mean(1)
        pix[..., 0] -= (hips - hips[0])[:, None]
    rate = fps or float(model.cfg["data"].get("fps") or 30.0)
    return Poses(pix, np.ones(pix.shape[:2], np.float32), source_pose.width, source_pose.height, rate)



def motion_for_photo(source: str | Path, checkpoint: str | Path | PSGAN | None, action: str, frames: int,
                     seed: int = 0, log: Callable[[str], None] | None = _NOTE, in_place: bool = True) -> Poses:
    """``generate_motion`` from the pose in ``source`` (a photo or a pose file), in its pixels
    (``checkpoint`` None = the bundled PSGAN)."""
    from ...estimate import first_pose

    model = load_psgan(checkpoint)
    model.label_index(action)  # an unknown action fails before the photo is read
    return generate_motion(model, action, first_pose(source), frames, seed, log=log, in_place=in_place)


def sample_to_folder(checkpoint: str | Path, data: str | Path, out: str | Path, split: str = "test",
                     starts: int = 8, samples: int = 3, frames: int | None = None, size: int = 256,
                     seed: int = 0) -> int:
    """Write ``samples`` sequences per initial pose, ``starts`` initial poses per action (first frames of
    the ``split`` sequences of ``data``), as ``out/<label>/<start>_<sample>.npz`` in a ``size`` image.
    Returns the number of files written."""
    from ...data.motion import MotionDataset
    from ...posefiles import write_poses

    model = load_psgan(checkpoint)
    ds = MotionDataset(data, split, labels=model.labels)
    rng = np.random.default_rng(seed)
    gen = torch.Generator().manual_seed(seed)
    fps = float(ds.index["fps"])
    count = 0
    for k, name in enumerate(model.labels):
        pool = np.flatnonzero(ds.label == k)
        for i in rng.choice(pool, min(starts, len(pool)), replace=False) if len(pool) else []:
            init = torch.from_numpy(ds.xy[i, 0])[None].expand(samples, -1, -1)
            conf = torch.from_numpy(ds.conf[i, 0])[None].expand(samples, -1)
            seqs = model.generate(torch.full((samples,), k), init, conf, frames, generator=gen).cpu().numpy()
            for s, seq in enumerate(seqs):
                pix = (seq + 1) * (size / 2) - 0.5
                write_poses(Path(out) / name / f"{int(i)}_{s}.npz",
                            Poses(pix, np.ones(pix.shape[:2], np.float32), size, size, fps))
                count += 1
    if not count:
        raise PosevidError(data, f"no {split} sequence of the model's actions to start from")
    return count



INFERENCE_OPTIONS = ("chain_overlap", "far_pose")  # model options that do not change training


def export_checkpoint(run: str | Path, out: str | Path, model_options: dict[str, Any] | None = None,
                      average: int = 1) -> dict[str, Any]:
    """Write the newest checkpoint of ``run`` (a run folder or checkpoint file) as a release file ``out``:
    config, step and weights in float16 (no optimizer, scheduler or RNG state). ``model_options`` sets
    ``INFERENCE_OPTIONS`` in the saved config (those that only change how sequences are sampled).
    ``average`` > 1: G's weights are the mean over the run folder's newest ``average`` step checkpoints
    (weight averaging along the trajectory, issue 21: it steadies a GAN's checkpoint-to-checkpoint swings).
    Returns {"step", "bytes", "tensors", "averaged" (the steps averaged)}."""
    payload, found = find_checkpoint(run)
    cfg = payload.get("config") or {}
    if cfg.get("method") != "psgan":
        raise PosevidError(found, "not a PSGAN checkpoint")
    other = sorted(set(model_options or {}) - set(INFERENCE_OPTIONS))
    if other:
        raise PosevidError(found, f"model options {', '.join(other)} change training; only "
                                  f"{', '.join(INFERENCE_OPTIONS)} may be set when exporting")
    cfg = {**cfg, "model": {**cfg.get("model", {}), **(model_options or {})}}
    method, steps = dict(payload["method"]), [int(payload["step"])]
    if average > 1:
        files = sorted((Path(run) / "checkpoints").glob("step_*.ckpt"))[-average:]
        if len(files) < average:
            raise PosevidError(run, f"has {len(files)} step checkpoints, {average} are to be averaged "
                                    "(train.keep_checkpoints keeps them)")
        loads = [find_checkpoint(f)[0] for f in files]
        method, steps = dict(loads[-1]["method"]), [int(p["step"]) for p in loads]
        for k, v in method.items():
            if k.startswith("G.") and v.is_floating_point():
                method[k] = torch.stack([p["method"][k].float() for p in loads]).mean(0)
    state = {k: v.half() if v.is_floating_point() else v for k, v in method.items()}
    save_checkpoint(out, {"version": 1, "step": steps[-1], "config": cfg, "method": state})
    return {"step": steps[-1], "bytes": Path(out).stat().st_size, "tensors": len(state), "averaged": steps}
