"""The motion judge: an action classifier trained on real pose sequences only, to score generated ones.

It is separate from PSGAN's discriminator (it never sees a generated sequence in training) and is
what ``benchmarks/motion_quality.py`` uses for the requested-label accuracy and the motion FID
(Fréchet distance between its pooled features of two sets of sequences, ``metrics.inception.fid``).

Input: sequences ``xy (B, T, 18, 2)`` in any units (T >= 8). Each is made translation- and
scale-invariant first (``judge_features``): joints relative to the hip centre of their frame and the
hip centre's path relative to frame 0, divided by the body chain length, with their frame-to-frame
velocities. A temporal conv net over those features, pooled over time (mean and max), gives a
256-d feature and the class logits.

Training (``train_judge``) uses label-balanced batches of real windows with mirroring, small
rotations, speed changes (0.8-1.25x) and random sub-windows; its own accuracy is measured on windows it
did not see (``heldout_accuracy``: other camera yaws of the same clips).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .data.motion_augment import mirror, rotate, time_warp
from .skeleton import JOINT, NUM_JOINTS

_HIPS = (JOINT["right_hip"], JOINT["left_hip"])
_CHAIN = ((0, 1), (1, 8), (1, 11), (8, 9), (11, 12), (9, 10), (12, 13))
_CHAIN_WEIGHTS = (1.0, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5)


def judge_features(xy: Tensor) -> Tensor:
    """(B, T, 18, 2) -> (B, T, 2 * (18 * 2 + 2)) scale- and translation-free features with velocities."""
    xy = xy.float()
    hips = xy[..., list(_HIPS), :].mean(-2)  # (B, T, 2)
    chain = sum(w * (xy[..., a, :] - xy[..., b, :]).norm(dim=-1) for (a, b), w in zip(_CHAIN, _CHAIN_WEIGHTS))
    scale = chain.median(dim=1).values.clamp_min(1e-3)[:, None, None]  # (B, 1, 1)
    rel = (xy - hips[..., None, :]).flatten(2) / scale
    root = (hips - hips[:, :1]) / scale
    pos = torch.cat([rel, root], -1)
    vel = torch.cat([pos[:, 1:] - pos[:, :-1], torch.zeros_like(pos[:, :1])], 1)
    return torch.cat([pos, 4 * vel], -1)


class MotionJudge(nn.Module):
    """Temporal conv classifier: (B, T, 18, 2) -> (B, K) logits; ``features`` gives (B, 256)."""

    def __init__(self, labels: Sequence[str], width: int = 128):
        super().__init__()
        self.labels = list(labels)
        c_in = 2 * (NUM_JOINTS * 2 + 2)
        self.net = nn.Sequential(
            nn.Conv1d(c_in, width, 5, padding=2), nn.GroupNorm(8, width), nn.ReLU(True),
            nn.Conv1d(width, width, 5, padding=2), nn.GroupNorm(8, width), nn.ReLU(True),
            nn.Conv1d(width, width, 5, stride=2, padding=2), nn.GroupNorm(8, width), nn.ReLU(True),
            nn.Conv1d(width, width, 3, padding=1), nn.GroupNorm(8, width), nn.ReLU(True))
        self.head = nn.Linear(2 * width, len(self.labels))

    def features(self, xy: Tensor) -> Tensor:
        h = self.net(judge_features(xy).transpose(1, 2))
        return torch.cat([h.mean(-1), h.amax(-1)], 1)

    def forward(self, xy: Tensor) -> Tensor:
        return self.head(self.features(xy))

    def state(self) -> dict[str, Any]:
        """Labels and weights, for ``torch.save`` (``load_judge`` reads it back)."""
        return {"labels": self.labels, "width": self.head.in_features // 2, "weights": self.state_dict()}


def load_judge(state: dict[str, Any]) -> MotionJudge:
    """A ``MotionJudge`` from ``MotionJudge.state()``; eval mode."""
    judge = MotionJudge(state["labels"], int(state["width"]))
    judge.load_state_dict(state["weights"])
    return judge.eval()


def _augmented_batch(xy: np.ndarray, conf: np.ndarray, frames: int, rng: np.random.Generator) -> np.ndarray:
    """One augmented ``frames``-long view of each window (N, T, J, 2): speed 0.8-1.25x (as the
    window allows), random start, mirror half, rotate by up to 10 degrees."""
    out = []
    for seq, c in zip(xy, conf):
        fastest = (len(seq) - 1) / max(frames - 1, 1)
        speed = float(np.exp(rng.uniform(np.log(0.8), np.log(min(1.25, fastest)))))
        start = rng.uniform(0, len(seq) - 1 - speed * (frames - 1))
        s, sc = time_warp(seq, c, speed, frames, start)
        if rng.random() < 0.5:
            s, sc = mirror(s, sc)
        out.append(rotate(s, sc, rng.uniform(-10, 10)))
    return np.stack(out)


def train_judge(xy: np.ndarray, conf: np.ndarray, labels: np.ndarray, names: Sequence[str], frames: int = 32,
                steps: int = 1500, batch: int = 64, seed: int = 0, lr: float = 2e-3) -> MotionJudge:
    """Train a ``MotionJudge`` on real windows ``xy (N, T, 18, 2)``, ``conf (N, T, 18)``, labels (N,)
    indexing ``names``: Adam, cosine schedule, label-balanced batches of augmented ``frames``-long views."""
    if frames > xy.shape[1] or frames < 8:
        raise ValueError(f"judge frames must be 8 to {xy.shape[1]}, got {frames}")
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    judge = MotionJudge(names)
    opt = torch.optim.AdamW(judge.parameters(), lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    by_label = [np.flatnonzero(labels == k) for k in range(len(names))]
    present = [k for k, pool in enumerate(by_label) if len(pool)]
    judge.train()
    for _ in range(steps):
        ks = rng.choice(present, batch)
        pick = np.array([rng.choice(by_label[k]) for k in ks])
        views = _augmented_batch(xy[pick], conf[pick], frames, rng)
        loss = F.cross_entropy(judge(torch.from_numpy(views)), torch.from_numpy(ks).long(), label_smoothing=0.1)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
    return judge.eval()


@torch.no_grad()
def predict(judge: MotionJudge, xy: np.ndarray | Tensor, chunk: int = 512) -> np.ndarray:
    """Predicted label indices (N,) of sequences (N, T, 18, 2)."""
    x = torch.as_tensor(np.asarray(xy, np.float32))
    return torch.cat([judge(part).argmax(1) for part in x.split(chunk)]).numpy()


@torch.no_grad()
def features(judge: MotionJudge, xy: np.ndarray | Tensor, chunk: int = 512) -> np.ndarray:
    """Pooled judge features (N, 256) of sequences (N, T, 18, 2), float64."""
    x = torch.as_tensor(np.asarray(xy, np.float32))
    return torch.cat([judge.features(part) for part in x.split(chunk)]).double().numpy()


def heldout_accuracy(judge: MotionJudge, xy: np.ndarray, labels: np.ndarray, frames: int = 32) -> dict[str, Any]:
    """Accuracy on real windows the judge did not see (their first ``frames`` frames), overall and per label."""
    pred = predict(judge, xy[:, :frames])
    per = {name: float((pred[labels == k] == k).mean()) for k, name in enumerate(judge.labels) if (labels == k).any()}
    return {"accuracy": float((pred == labels).mean()), "per_label": per, "windows": int(len(labels))}


def seam_velocity(seqs: np.ndarray, frames: int, overlap: int) -> dict[str, float]:
    """Joint speed at the seams of chained sequences (N, F, J, 2) against inside the chunks.

    Chunk k >= 1 of ``PSGAN.generate`` starts at frame k * (frames - 1 - overlap) and cross-fades over the
    next ``overlap`` frames; the steps from there to one frame after the fade are the seam. Speed is the
    mean per-joint distance between consecutive frames, acceleration the same of the second difference;
    returns their means at the seams, inside, and the ratios.
    """
    period = frames - 1 - overlap
    speed = np.linalg.norm(np.diff(seqs, axis=1), axis=-1).mean((0, 2))  # (F - 1,) step t -> t + 1
    accel = np.linalg.norm(np.diff(seqs, 2, axis=1), axis=-1).mean((0, 2))  # (F - 2,) around t + 1
    seam = np.zeros(len(speed), bool)
    for start in range(period, len(speed), period):
        seam[start:start + overlap + 1] = True
    if not seam.any() or seam.all():
        raise ValueError(f"{seqs.shape[1]} frames hold no seam of {frames}-frame chunks with overlap {overlap}")
    seam_acc = np.zeros(len(accel), bool)
    for start in range(period, len(accel) + 1, period):
        seam_acc[max(start - 1, 0):start + overlap + 1] = True
    return {"seam_speed": float(speed[seam].mean()), "inside_speed": float(speed[~seam].mean()),
            "speed_ratio": float(speed[seam].mean() / speed[~seam].mean()),
            "seam_accel": float(accel[seam_acc].mean()), "inside_accel": float(accel[~seam_acc].mean()),
            "accel_ratio": float(accel[seam_acc].mean() / accel[~seam_acc].mean())}
