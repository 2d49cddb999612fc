"""Metrics for generated pose sequences (PSGAN), against a motion dataset of real ones.

- ``action_accuracy``: accuracy of a small temporal-conv action classifier trained on the real
  training sequences, applied to generated sequences with their requested label (its accuracy on the
  real test sequences is reported beside it as the ceiling).
- ``nearest_train``: mean distance from each generated sequence to its nearest training sequence
  (memorisation: near 0 means copies; compare with ``nearest_train_real``, the same for real test ones).
- ``diversity``: mean pairwise distance between samples drawn for the same label and initial pose.
- ``smoothness``: mean joint acceleration (second difference per frame); ``smoothness_real`` for reference.

Distances are mean per-joint L2 in the dataset's normalised units (the body chain spans 1.0 of the
[-1, 1] square). Generated sequences are read from ``DIR/<label>/<group>_<k>.npz`` pose files (the
layout ``posevid motion sample`` writes; ``<group>`` = same initial pose) and fitted like the dataset.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .data.motion import _fit_windows, load_motion_arrays, read_motion_index
from .errors import PosevidError
from .poses import body_height


class ActionClassifier(nn.Module):
    """Temporal conv net: (B, T, 18, 2) normalised keypoints -> (B, K) logits (any T >= 4)."""

    def __init__(self, classes: int, width: int = 64, joints: int = 18):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv1d(joints * 4, width, 3, padding=1), nn.ReLU(True),
            nn.Conv1d(width, width, 3, stride=2, padding=1), nn.ReLU(True),
            nn.Conv1d(width, width, 3, padding=1), nn.ReLU(True))
        self.head = nn.Linear(width, classes)

    def forward(self, xy: Tensor) -> Tensor:
        B, T = xy.shape[:2]
        pos = xy.reshape(B, T, -1)
        vel = torch.cat([pos[:, 1:] - pos[:, :-1], torch.zeros_like(pos[:, :1])], 1)
        h = self.net(torch.cat([pos, vel * 4], -1).transpose(1, 2))
        return self.head(h.mean(-1))


def _crops(xy: np.ndarray, frames: int, rng: np.random.Generator) -> np.ndarray:
    """A random ``frames``-long crop of each (N, T, J, 2) sequence."""
    starts = rng.integers(0, xy.shape[1] - frames + 1, len(xy))
    return np.stack([s[a:a + frames] for s, a in zip(xy, starts)])


def train_classifier(xy: np.ndarray, labels: np.ndarray, classes: int, frames: int, steps: int = 300,
                     seed: int = 0) -> ActionClassifier:
    """Fit an ``ActionClassifier`` on real sequences (N, T, 18, 2) with labels (N,), on random
    ``frames``-long crops (Adam, batch 64, horizontal flips of x as augmentation)."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = ActionClassifier(classes)
    opt = torch.optim.Adam(model.parameters(), 2e-3)
    for _ in range(steps):
        pick = rng.integers(0, len(xy), 64)
        batch = _crops(xy[pick], frames, rng)
        batch[..., 0] *= rng.choice([-1.0, 1.0], (len(batch), 1, 1))
        loss = F.cross_entropy(model(torch.from_numpy(batch).float()), torch.from_numpy(labels[pick]).long())
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval()


@torch.no_grad()
def accuracy(model: ActionClassifier, xy: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of sequences (N, T, 18, 2) the classifier assigns to their label (N,)."""
    pred = model(torch.from_numpy(np.ascontiguousarray(xy)).float()).argmax(1).numpy()
    return float((pred == labels).mean())


def nearest_distance(xy: np.ndarray, bank: np.ndarray) -> np.ndarray:
    """(N,) mean per-joint distance from each sequence (N, T, J, 2) to its nearest in ``bank`` (M, T', J, 2),
    comparing the first min(T, T') frames."""
    t = min(xy.shape[1], bank.shape[1])
    a = torch.from_numpy(np.ascontiguousarray(xy[:, :t])).float().flatten(2)
    b = torch.from_numpy(np.ascontiguousarray(bank[:, :t])).float().flatten(2)
    out = []
    for chunk in a.split(max(1, int(4e6 // max(b.numel(), 1)))):
        d = (chunk[:, None] - b[None]).view(len(chunk), len(b), t, -1, 2).norm(dim=-1).mean((2, 3))
        out.append(d.min(1).values)
    return torch.cat(out).numpy()


def diversity(groups: list[np.ndarray]) -> float:
    """Mean pairwise per-joint distance within each group (S, T, J, 2) of samples; NaN without pairs."""
    dists = []
    for g in groups:
        for i in range(len(g)):
            for j in range(i + 1, len(g)):
                dists.append(float(np.linalg.norm(g[i] - g[j], axis=-1).mean()))
    return float(np.mean(dists)) if dists else float("nan")


def smoothness(xy: np.ndarray) -> float:
    """Mean joint acceleration |x[t+1] - 2 x[t] + x[t-1]| of sequences (N, T, J, 2)."""
    return float(np.linalg.norm(xy[:, 2:] - 2 * xy[:, 1:-1] + xy[:, :-2], axis=-1).mean())


def read_generated(folder: str | Path, labels: list[str]) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """Generated sequences of ``folder/<label>/<group>_<k>.npz``: normalised xy (N, T, 18, 2), label
    indices (N,), and the groups of samples sharing an initial pose. All must have the same length."""
    from .posefiles import read_poses

    folder = Path(folder)
    files = sorted(folder.glob("*/*.npz"))
    if not files:
        raise PosevidError(folder, "no generated sequences (expected <label>/<name>.npz pose files)")
    seqs, labs, groups = [], [], defaultdict(list)
    for f in files:
        if f.parent.name not in labels:
            raise PosevidError(f, f"label {f.parent.name!r} is not in the motion dataset ({', '.join(labels)})")
        poses = read_poses(f, "npz")
        h = body_height(poses)
        if not (h > 0).any():
            raise PosevidError(f, "no body in the sequence")
        xy = _fit_windows(poses.xy[None], poses.conf[None], float(np.median(h[h > 0])))[0]
        if seqs and xy.shape != seqs[0].shape:
            raise PosevidError(f, f"sequence shape {xy.shape} differs from {seqs[0].shape}")
        seqs.append(xy)
        labs.append(labels.index(f.parent.name))
        groups[(f.parent.name, f.stem.rsplit("_", 1)[0])].append(xy)
    return np.stack(seqs), np.array(labs), [np.stack(g) for g in groups.values() if len(g) > 1]


def evaluate_motion(generated: str | Path, data: str | Path, classifier_steps: int = 300,
                    seed: int = 0) -> dict[str, Any]:
    """All motion metrics of the sequences in ``generated`` against the motion dataset ``data``."""
    labels = list(read_motion_index(data)["labels"])
    train, test = load_motion_arrays(data, "train"), load_motion_arrays(data, "test")
    xy, lab, groups = read_generated(generated, labels)
    T = xy.shape[1]
    if T < 4 or T > train["xy"].shape[1]:
        raise PosevidError(generated, f"sequences must have 4 to {train['xy'].shape[1]} frames, have {T}")
    clf = train_classifier(train["xy"], train["label"], len(labels), T, classifier_steps, seed)
    rng = np.random.default_rng(seed)
    out: dict[str, Any] = {"sequences": int(len(xy)), "frames": int(T), "classes": len(labels),
                           "chance": 1.0 / len(labels), "action_accuracy": accuracy(clf, xy, lab),
                           "nearest_train": float(nearest_distance(xy, train["xy"]).mean()),
                           "diversity": diversity(groups), "smoothness": smoothness(xy),
                           "smoothness_real": smoothness(train["xy"][:, :T])}
    if len(test["xy"]):
        real = _crops(test["xy"], T, rng)
        out["action_accuracy_real"] = accuracy(clf, real, test["label"])
        out["nearest_train_real"] = float(nearest_distance(real, train["xy"]).mean())
    return out


def write_motion_report(metrics: dict[str, Any], output: str | Path | None) -> None:
    """Print the metrics one per line and, when ``output`` is given, write them as JSON (atomically)."""
    import json

    from .io_utils import atomic_path

    for key, value in metrics.items():
        print(f"{key:>22}  {value:.4f}" if isinstance(value, float) else f"{key:>22}  {value}")
    if output:
        with atomic_path(output) as tmp:
            tmp.write_text(json.dumps(metrics, indent=1))
