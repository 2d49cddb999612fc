"""Streaming accumulation of every metric over (generated, real) clip pairs.

Frames arrive one pair at a time; the network metrics (ST-LPIPS, LPIPS, the VGG perceptual distance,
Inception features) run on ``device`` in batches of ``batch`` pairs. Only per-frame numbers and 2048-d
Inception features are kept (FID/KID/IS need all features), so memory grows by a few kilobytes per frame,
never by whole frames.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import zip_longest
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import PosevidError
from ..face import found as face_found
from ..tensors import image_to_tensor
from . import inception, keypoints, pixel, temporal
from .lpips import load_lpips
from .stlpips import CITATION as ST_LPIPS_CITATION
from .stlpips import load_st_lpips

# Reported metric -> whether higher is better, in report order.
METRICS: dict[str, bool] = {
    "l1": False, "psnr": True, "ssim": True, "ms_ssim": True, "mask_ssim": True, "mask_ms_ssim": True,
    "masked_l1": False, "lpips": False, "mask_lpips": False, "st_lpips_alex": False, "st_lpips_vgg": False,
    "mask_st_lpips_alex": False, "perceptual": False, "fid": False, "kid": False,
    "is": True, "mask_is": True, "akd": False, "mkr": False, "face_nme": False, "warp_error": False,
}
# What a reader must know beside a number (shown in the Markdown report).
NOTES = {name: ST_LPIPS_CITATION for name in ("st_lpips_alex", "st_lpips_vgg", "mask_st_lpips_alex")}
# Reference numbers reported beside them: the same measure on the real video, or a spread.
EXTRAS = ("warp_error_real", "is_real", "mask_is_real", "is_std", "kid_std")
CURVES = ("l1", "psnr", "ssim", "ms_ssim", "masked_l1", "mask_ssim", "mask_ms_ssim", "lpips", "mask_lpips",
          "st_lpips_alex", "st_lpips_vgg", "mask_st_lpips_alex", "perceptual", "akd", "face_nme", "warp_error",
          "warp_error_real")
# Metrics computed by networks in batches (``_NetBatch``), in the order their curves are filled.
NET_METRICS = ("lpips", "mask_lpips", "st_lpips_alex", "st_lpips_vgg", "mask_st_lpips_alex", "perceptual")
FID_MIN_IMAGES = 2048  # below this FID is biased upward and not comparable with published numbers
MASK_THRESHOLD = 0.5  # the estimator's soft person mask is binarised here (PG2 uses binary masks)
LPIPS_HELP = ("lpips needs --lpips-weights FILE (one state dict: AlexNet or VGG-16 features plus the "
              "lin0..lin4 heads, e.g. torch.save(lpips.LPIPS(net='alex').state_dict(), FILE))")
VGG_HELP = "perceptual needs --vgg-weights FILE (a torchvision VGG-19 state dict, vgg19-dcbb9e9d.pth)"
IS_HELP = "{} needs --inception-classifier FILE (the InceptionV3 logits layer: fc.weight of shape (1008, 2048))"


def is_splits(n: int) -> int:
    """IS splits for n images: the usual 10, but never fewer than 100 images per split."""
    return max(1, min(10, n // 100))


def missing(reason: str) -> dict[str, str]:
    """The report cell of a metric that could not be computed."""
    return {"missing": reason}


@dataclass
class Report:
    """``metrics``: name -> number or ``{"missing": reason}`` (plus ``meta``); ``curves``: per-frame values."""

    metrics: dict[str, Any]
    curves: dict[str, list[float]] = field(default_factory=dict)


class _Features:
    """Inception pool3 features of a stream of frames, computed in small batches."""

    def __init__(self, net: inception.InceptionFeatures, batch: int):
        self.net, self.batch = net, batch
        self.pending: list[np.ndarray] = []
        self.rows: list[np.ndarray] = []

    def add(self, frame: np.ndarray) -> None:
        if self.pending and self.pending[0].shape != frame.shape:
            self.flush()
        self.pending.append(frame)
        if len(self.pending) >= self.batch:
            self.flush()

    def flush(self) -> None:
        if self.pending:
            self.rows.append(self.net(np.stack(self.pending)).astype(np.float32))
            self.pending = []

    def array(self) -> np.ndarray:
        self.flush()
        return np.concatenate(self.rows) if self.rows else np.zeros((0, inception.FEATURE_DIM), np.float32)


def _check(frame: Any, where: str, index: int) -> np.ndarray:
    if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
        raise PosevidError(where, f"frame {index} is not an (H, W, 3) uint8 RGB image")
    return frame


def _units(frames: list[np.ndarray], device: torch.device) -> torch.Tensor:
    """N (H, W, 3) uint8 frames -> (N, 3, H, W) float32 in [-1, 1] on ``device``."""
    return torch.stack([image_to_tensor(f, device) for f in frames])


class _NetBatch:
    """Frame pairs waiting for the network metrics; ``flush`` runs them on the device and appends each
    pair's values to the curves in arrival order (NaN where a masked metric has no person)."""

    def __init__(self, ev: Evaluator, size: int):
        self.ev, self.size = ev, size
        self.pairs: list[tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]] = []

    def add(self, gen: np.ndarray, real: np.ndarray, gen_m: np.ndarray | None, real_m: np.ndarray | None) -> None:
        if self.pairs and self.pairs[0][0].shape != gen.shape:
            self.flush()
        self.pairs.append((gen, real, gen_m, real_m))
        if len(self.pairs) >= self.size:
            self.flush()

    @torch.no_grad()
    def flush(self) -> None:
        if not self.pairs:
            return
        ev, dev = self.ev, self.ev.device
        gen, real = _units([p[0] for p in self.pairs], dev), _units([p[1] for p in self.pairs], dev)
        masked = [i for i, p in enumerate(self.pairs) if p[2] is not None]
        values: dict[str, list[float]] = {}

        def masked_values(fn) -> list[float]:
            out = [math.nan] * len(self.pairs)
            if masked:
                a = _units([self.pairs[i][2] for i in masked], dev)
                b = _units([self.pairs[i][3] for i in masked], dev)
                for i, v in zip(masked, fn(a, b).tolist()):
                    out[i] = v
            return out

        if ev.lpips is not None:
            values["lpips"] = ev.lpips(gen, real).tolist()
            values["mask_lpips"] = masked_values(ev.lpips)
        if ev.st_lpips:
            values["st_lpips_alex"] = ev.st_lpips["alex"](gen, real).tolist()
            values["st_lpips_vgg"] = ev.st_lpips["vgg"](gen, real).tolist()
            values["mask_st_lpips_alex"] = masked_values(ev.st_lpips["alex"])
        if ev.perceptual is not None:
            values["perceptual"] = [float(ev.perceptual(gen[i:i + 1], real[i:i + 1])) for i in range(len(gen))]
        for name in NET_METRICS:
            ev.curves[name].extend(values.get(name, []))
        self.pairs = []


def _mean(values: list[float]) -> float | None:
    finite = [v for v in values if not math.isnan(v)]
    return float(np.mean(finite)) if finite else None


class Evaluator:
    """Feed clip pairs with ``add_clip``; ``report()`` gives every metric (see ``METRICS``).

    Weight files are optional: LPIPS (``lpips_weights``), DwNet's VGG-19 perceptual distance
    (``vgg_weights``) and IS / mask-IS (``inception_classifier``); without one, that metric's cell says
    which file it needs. ST-LPIPS needs only the stlpips-pytorch wheel. Paired metrics use the frames both
    videos have; FID/KID/IS use every frame. Network metrics run on ``device`` (default CPU), ``batch``
    frame pairs at a time.
    """

    def __init__(self, lpips_weights: str | Path | None = None, vgg_weights: str | Path | None = None,
                 inception_classifier: str | Path | None = None, inception_batch: int = 8,
                 device: torch.device | str | None = None, batch: int = 8):
        from ..estimate import PoseEstimator
        from ..losses import PerceptualLoss

        self.device = torch.device(device or "cpu")
        self.lpips = load_lpips(lpips_weights).to(self.device) if lpips_weights else None
        self.perceptual = PerceptualLoss(vgg_weights) if vgg_weights else None
        self.st_lpips: dict[str, torch.nn.Module] = {}
        self.st_lpips_missing: str | None = None
        try:
            self.st_lpips = {net: load_st_lpips(net, str(self.device)) for net in ("alex", "vgg")}
        except PosevidError as err:
            self.st_lpips_missing = str(err)
        self.nets = _NetBatch(self, batch)
        self.classifier = inception.load_classifier(inception_classifier) if inception_classifier else None
        self.inception = inception.InceptionFeatures()
        self.estimator = PoseEstimator()
        self.face_estimator = PoseEstimator(keypoints="face")
        self.curves: dict[str, list[float]] = {k: [] for k in CURVES}
        names = ["generated", "real"] + (["generated_masked", "real_masked"] if self.classifier is not None else [])
        self.features = {k: _Features(self.inception, inception_batch) for k in names}
        self.counts = {"clips": 0, "generated": 0, "real": 0, "paired": 0, "person_frames": 0}
        self.warnings: list[str] = []
        self.keypoints_missing = 0
        self.keypoints_real = 0
        self.size: tuple[int, int] | None = None

    def add_clip(self, generated: Iterable[np.ndarray], real: Iterable[np.ndarray],
                 masks: Iterable[np.ndarray] | None = None) -> None:
        """Evaluate one clip: ``generated`` and ``real`` iterate (H, W, 3) uint8 frames in step.

        Frames past the shorter stream only feed FID/KID/IS. Temporal metrics restart per clip.
        ``masks`` ((H, W) in [0, 1], one per paired frame) replace the estimated person masks of the real
        frames for the masked metrics (e.g. PG2's pose masks of annotated keypoints).
        """
        prev: tuple[np.ndarray, np.ndarray] | None = None
        given = iter(masks) if masks is not None else None
        for i, (gen, real_frame) in enumerate(zip_longest(generated, real)):
            if gen is not None:
                self.features["generated"].add(_check(gen, "generated", i))
                self.counts["generated"] += 1
            if real_frame is not None:
                self.features["real"].add(_check(real_frame, "real", i))
                self.counts["real"] += 1
            if gen is None or real_frame is None:
                continue
            if gen.shape != real_frame.shape:
                raise PosevidError("generated", f"frame {i} is {gen.shape[1]}x{gen.shape[0]} but the real frame is "
                                   f"{real_frame.shape[1]}x{real_frame.shape[0]}")
            self._pair(gen, real_frame, next(given, None) if given is not None else None)
            if prev is not None:
                self.curves["warp_error"].append(temporal.warp_error(prev[0], gen))
                self.curves["warp_error_real"].append(temporal.warp_error(prev[1], real_frame))
            prev = (gen, real_frame)
        self.counts["clips"] += 1

    @torch.no_grad()
    def _pair(self, gen: np.ndarray, real: np.ndarray, given_mask: np.ndarray | None = None) -> None:
        """Every paired metric of one frame pair (masks from the estimator unless ``given_mask``)."""
        self.counts["paired"] += 1
        self.size = real.shape[:2]
        c = self.curves
        c["l1"].append(pixel.l1(gen, real))
        c["psnr"].append(pixel.psnr(gen, real))
        c["ssim"].append(pixel.ssim(gen, real))
        c["ms_ssim"].append(pixel.ms_ssim(gen, real))
        real_pose, soft_mask = self.estimator.image(real)
        gen_pose, _ = self.estimator.image(gen)
        mask = ((soft_mask if given_mask is None else np.asarray(given_mask)) > MASK_THRESHOLD).astype(np.float32)
        self.counts["person_frames"] += int(mask.any())
        c["masked_l1"].append(pixel.masked_l1(gen, real, mask))
        c["mask_ssim"].append(pixel.mask_ssim(gen, real, mask))
        # Table 1 of the decoupled paper: MS-SSIM and LPIPS of both frames with the background set to black.
        gen_m, real_m = (gen * mask[..., None]).astype(np.uint8), (real * mask[..., None]).astype(np.uint8)
        c["mask_ms_ssim"].append(pixel.ms_ssim(gen_m, real_m) if mask.any() else math.nan)
        self.nets.add(gen, real, gen_m if mask.any() else None, real_m if mask.any() else None)
        dist, lost, found = keypoints.keypoint_errors(gen_pose.xy[0], gen_pose.conf[0], real_pose.xy[0],
                                                      real_pose.conf[0])
        c["akd"].append(dist)
        self.keypoints_missing += lost
        self.keypoints_real += found
        real_face, gen_face = self.face_estimator.image(real)[0], self.face_estimator.image(gen)[0]
        if face_found(real_face)[0] and face_found(gen_face)[0]:
            c["face_nme"].append(keypoints.face_landmark_error(gen_face.face_xy[0], real_face.face_xy[0]))
        if self.classifier is not None and mask.any():
            self.features["generated_masked"].add(gen_m)
            self.features["real_masked"].add(real_m)

    def _inception_metrics(self, out: dict[str, Any]) -> None:
        gen, real = self.features["generated"].array(), self.features["real"].array()
        if min(len(gen), len(real)) < 2:
            out["fid"] = out["kid"] = missing("needs at least 2 frames in each video")
        else:
            out["fid"] = inception.fid(gen, real)
            out["kid"], out["kid_std"] = inception.kid(gen, real)
            if min(len(gen), len(real)) < FID_MIN_IMAGES:
                self.warnings.append(f"FID on {min(len(gen), len(real))} images (< {FID_MIN_IMAGES}) is biased "
                                     "upward: not comparable with published FID")
        if self.classifier is None:
            out["is"], out["mask_is"] = missing(IS_HELP.format("is")), missing(IS_HELP.format("mask_is"))
            return

        def score(features: np.ndarray) -> tuple[float, float]:
            return inception.inception_score(features, self.classifier, splits=is_splits(len(features)))

        out["is"], out["is_std"] = score(gen)
        out["is_real"] = score(real)[0]
        masked_gen, masked_real = self.features["generated_masked"].array(), self.features["real_masked"].array()
        if len(masked_gen) == 0:
            out["mask_is"] = missing("no person found in any real frame (masks from posevid.estimate)")
        else:
            out["mask_is"] = score(masked_gen)[0]
            out["mask_is_real"] = score(masked_real)[0]

    def report(self) -> Report:
        """All metrics so far (see ``METRICS`` / ``EXTRAS``) plus ``meta``, and the per-frame curves."""
        self.nets.flush()
        self.warnings = []
        out: dict[str, Any] = {}
        for name in ("l1", "psnr", "ssim", "ms_ssim"):
            out[name] = _mean(self.curves[name])
        no_person = missing("no person found in any real frame (masks from posevid.estimate)")
        for name in ("mask_ssim", "mask_ms_ssim", "masked_l1"):
            out[name] = _mean(self.curves[name]) if self.counts["person_frames"] else no_person
        out["lpips"] = _mean(self.curves["lpips"]) if self.lpips is not None else missing(LPIPS_HELP)
        out["mask_lpips"] = (missing(LPIPS_HELP) if self.lpips is None else
                             _mean(self.curves["mask_lpips"]) if self.counts["person_frames"] else no_person)
        st = missing(self.st_lpips_missing) if self.st_lpips_missing else None
        out["st_lpips_alex"] = st or _mean(self.curves["st_lpips_alex"])
        out["st_lpips_vgg"] = st or _mean(self.curves["st_lpips_vgg"])
        out["mask_st_lpips_alex"] = st or (_mean(self.curves["mask_st_lpips_alex"]) if self.counts["person_frames"]
                                           else no_person)
        out["perceptual"] = _mean(self.curves["perceptual"]) if self.perceptual is not None else missing(VGG_HELP)
        self._inception_metrics(out)
        akd = _mean(self.curves["akd"])
        out["akd"] = akd if akd is not None else missing("no keypoint found in the same frame of both videos")
        out["mkr"] = (self.keypoints_missing / self.keypoints_real if self.keypoints_real
                      else missing("no keypoint found in the real video"))
        nme = _mean(self.curves["face_nme"])
        out["face_nme"] = nme if nme is not None else missing("no face found in the same frame of both videos")
        warp_gen, warp_real = _mean(self.curves["warp_error"]), _mean(self.curves["warp_error_real"])
        out["warp_error"] = warp_gen if warp_gen is not None else missing("needs at least 2 paired frames")
        if warp_real is not None:
            out["warp_error_real"] = warp_real
        if self.counts["paired"] == 0:
            for name in ("l1", "psnr", "ssim", "ms_ssim", "mask_ms_ssim", "lpips", "mask_lpips", "st_lpips_alex",
                         "st_lpips_vgg", "mask_st_lpips_alex", "perceptual", "akd", "mkr", "face_nme"):
                out[name] = missing("no frame pairs")
        ordered = {k: out[k] for k in (*METRICS, *EXTRAS) if k in out}
        ordered["meta"] = self._meta()
        return Report(ordered, {k: list(v) for k, v in self.curves.items() if v})

    def _meta(self) -> dict[str, Any]:
        h, w = self.size if self.size else (0, 0)
        return {
            "frames": dict(self.counts), "size": [w, h],
            "units": {"l1": "[0, 1]", "psnr": f"dB, identical frames = {pixel.PSNR_CAP:g}", "akd": "pixels",
                      "face_nme": "mean landmark distance / the real face's inter-ocular distance",
                      "warp_error": "MSE of values in [0, 1]"},
            "ms_ssim_scales": pixel.ms_ssim_scales(h, w) if self.size else None,
            "keypoint_min_conf": keypoints.MIN_CONF,
            "is_splits": is_splits(len(self.features["generated"].array())) if self.classifier is not None else None,
            "lpips_backbone": self.lpips.backbone if self.lpips is not None else None,
            "st_lpips": ST_LPIPS_CITATION,
            "warnings": list(self.warnings),
            "inception": str(self.inception.path.name),
        }

    def close(self) -> None:
        """Free the pose estimators' graphs."""
        self.estimator.close()
        self.face_estimator.close()

    def __enter__(self) -> Evaluator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
