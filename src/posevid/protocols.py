"""``posevid evaluate --protocol NAME``: each paper's evaluation on its dataset, with its numbers beside ours.

A protocol runs a checkpoint (or an untrained method such as ``warp``) on the test split of a dataset the
way the paper (or the peer it follows) does, and reports the paper's metrics next to the published rows
of its table. What a protocol needs and we cannot have offline (AED's re-identification network, the
Inception classifier head of IS without ``--inception-classifier``, LPIPS or VGG-19 weights not given) is
reported as missing with the reason, never as a number. Our keypoints come from MediaPipe BlazePose
(COCO-18), not OpenPose, so AKD / MKR follow the published protocol but not its detector.

- ``reconstruction`` (first-order-model, Siarohin et al. NeurIPS 2019, Sec. 4.1, and TPSMM, Zhao & Zhang
  CVPR 2022): every test clip of a prepared dataset (``posevid prepare --layout fomm``) is rebuilt from
  its frame 0, driven by the clip's own poses; L1 on [0, 1] over all frames, AKD, MKR, AED.
- ``pg2-pairs`` (PG2, Ma et al. NeurIPS 2017, Sec. 4.3): every test pair of a DeepFashion / Market-1501
  folder in PATN's layout (``posevid prepare --layout deepfashion|market``): source image + target
  annotation keypoints -> target image; SSIM, IS, mask-SSIM, mask-IS (PG2's pose mask of the target).
- ``dwnet`` (DwNet, Zablotskaia et al. BMVC 2019, Sec. 4.2.2): test clips as ``reconstruction``;
  perceptual (VGG-19 L1), FID, AKD.
- ``decoupled`` (Disentangled human action video, Sec. 4.3): test clips as ``reconstruction`` with the
  first frame as the input image; MS-SSIM and LPIPS with the background set to black.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from .errors import PosevidError
from .io_utils import atomic_path
from .metrics.evaluator import METRICS, Evaluator, Report, missing

if TYPE_CHECKING:
    from .methods.base import Method

ST_NOTE = "ST-LPIPS (Ghildyal & Liu, ECCV 2022): our closest available measure, not comparable with the paper's"
BETTER = {**METRICS, "aed": False}  # metric -> higher is better (AED is the paper's, not ours)
KEYPOINT_NOTE = "keypoints by MediaPipe BlazePose (COCO-18), not the paper's detector: compare trends, not digits"


@dataclass(frozen=True)
class Published:
    """One published row: ``method`` on ``dataset``, numbers keyed by our metric names, and where it is."""

    method: str
    dataset: str
    source: str
    values: dict[str, float]


@dataclass(frozen=True)
class Protocol:
    """A paper's evaluation: ``metrics`` (our name -> the paper's label) in table order, of which those in
    ``unavailable`` cannot be computed here (name -> why), ``extra`` metrics we add as the closest available
    (with ``notes``), and the published rows."""

    name: str
    data: str  # "clips" (a prepared dataset's test clips) or "pairs" (a PG2 pair folder's test pairs)
    title: str
    metrics: dict[str, str]
    published: tuple[Published, ...]
    unavailable: dict[str, str] = field(default_factory=dict)
    extra: tuple[str, ...] = ()
    notes: dict[str, str] = field(default_factory=dict)


FOMM_T3 = "Siarohin et al., First Order Motion Model, NeurIPS 2019, Table 3"
PG2_T1 = "Ma et al., Pose Guided Person Image Generation, NeurIPS 2017, Table 1 (G1+G2+D)"
DWNET_T1 = "Zablotskaia et al., DwNet, BMVC 2019, Table 1"
DEC_T1 = "Disentangled human action video generation via decoupled learning, Table 1"

PROTOCOLS: dict[str, Protocol] = {p.name: p for p in (
    Protocol(
        "reconstruction", "clips", "Video reconstruction (first-order-model / TPSMM): frame 0 drives the clip",
        {"l1": "L1", "akd": "AKD", "mkr": "MKR", "aed": "AED"},
        (Published("FOMM", "Tai-Chi-HD", FOMM_T3, {"l1": 0.063, "akd": 6.862, "mkr": 0.036, "aed": 0.179}),),
        unavailable={"aed": "needs the person re-identification network of first-order-model's pose-evaluation, "
                            "which is not available offline"},
        extra=("st_lpips_alex",),
        notes={"akd": KEYPOINT_NOTE, "mkr": KEYPOINT_NOTE, "st_lpips_alex": ST_NOTE},
    ),
    Protocol(
        "pg2-pairs", "pairs", "Pose transfer on the test pairs (PG2 / PATN)",
        {"ssim": "SSIM", "is": "IS", "mask_ssim": "mask-SSIM", "mask_is": "mask-IS"},
        (Published("PG2", "DeepFashion", PG2_T1, {"ssim": 0.762, "is": 3.090}),
         Published("PG2", "Market-1501", PG2_T1, {"ssim": 0.253, "is": 3.460, "mask_ssim": 0.792,
                                                  "mask_is": 3.435})),
        extra=("st_lpips_alex",),
        notes={"ssim": "11x11 Gaussian window, sigma 1.5, on 0..255 (PATN's getMetrics uses the generated "
                       "image's own range)",
               "mask_ssim": "PG2's pose mask of the target's annotation keypoints",
               "mask_is": "PG2's pose mask of the target's annotation keypoints",
               "st_lpips_alex": ST_NOTE},
    ),
    Protocol(
        "dwnet", "clips", "DwNet: test clips reconstructed from their first frame",
        {"perceptual": "Perceptual", "fid": "FID", "akd": "AKD"},
        (Published("Monkey-Net", "Fashion", DWNET_T1, {"perceptual": 0.3726, "fid": 19.74, "akd": 2.47}),
         Published("Coordinate Inpainting", "Fashion", DWNET_T1, {"perceptual": 0.6434, "fid": 66.50, "akd": 4.20}),
         Published("DwNet", "Fashion", DWNET_T1, {"perceptual": 0.2811, "fid": 13.09, "akd": 1.36}),
         Published("Monkey-Net", "Tai-Chi", DWNET_T1, {"perceptual": 0.6432, "fid": 94.97, "akd": 10.4}),
         Published("DwNet", "Tai-Chi", DWNET_T1, {"perceptual": 0.5960, "fid": 75.44, "akd": 3.77})),
        extra=("st_lpips_vgg",),
        notes={"perceptual": "L1 between VGG-19 features (relu1_1..relu5_1, pix2pixHD weights); needs "
                             "--vgg-weights", "akd": KEYPOINT_NOTE, "st_lpips_vgg": ST_NOTE},
    ),
    Protocol(
        "decoupled", "clips", "Decoupled learning: per-frame reconstruction, background masked out",
        {"mask_ms_ssim": "MS-SSIM", "mask_lpips": "LPIPS"},
        (Published("Deformable GAN", "their action dataset", DEC_T1, {"mask_ms_ssim": 0.8975, "mask_lpips": 0.0706}),
         Published("Decoupled", "their action dataset", DEC_T1, {"mask_ms_ssim": 0.9146, "mask_lpips": 0.0590})),
        extra=("mask_st_lpips_alex",),
        notes={"mask_ms_ssim": "background set to black with our person mask (MediaPipe selfie segmentation)",
               "mask_lpips": "needs --lpips-weights", "mask_st_lpips_alex": ST_NOTE},
    ),
)}


def _progress(show: bool):
    """A rich progress bar (hidden unless ``show``)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(TextColumn("[bold]evaluate"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                    disable=not show)


def _counted(frames: Iterator[np.ndarray], advance) -> Iterator[np.ndarray]:
    for frame in frames:
        advance()
        yield frame


def _clip_run(model: Method, data: Path, ev: Evaluator, max_frames: int | None, show: bool) -> list[str]:
    """Rebuild every test clip of a prepared dataset from its frame 0 (its poses drive) into ``ev``."""
    from .data.datasets import read_index
    from .evaluate import test_clips

    index = read_index(data)
    total = sum(min(json.loads((data / n / "meta.json").read_text())["frames"], max_frames or 10**9)
                for n in index.get("test", []))
    bar = _progress(show)
    names = []
    with bar:
        task = bar.add_task("frames", total=total)
        for name, source, poses, mask, real in test_clips(data, max_frames):
            with torch.inference_mode():
                generated = model.animator().animate(source, poses[0], iter(poses), mask)
                ev.add_clip(_counted(generated, lambda: bar.advance(task)), real)
            names.append(name)
    return names


def _pair_layout(data: Path) -> tuple[Path, Path, Path]:
    """(test pair CSV, test annotation CSV, test image folder) of a PATN-layout folder."""
    pairs = sorted(data.glob("*pairs-test.csv"))
    annotations = sorted(data.glob("*annotation-test.csv"))
    if len(pairs) != 1 or len(annotations) != 1 or not (data / "test").is_dir():
        what = "*-pairs-test.csv" if len(pairs) != 1 else "*-annotation-test.csv" if len(annotations) != 1 else "test/"
        raise PosevidError(data, f"missing {what}: pg2-pairs needs a folder in PATN's layout "
                                 "(posevid prepare --layout deepfashion|market)")
    return pairs[0], annotations[0], data / "test"


def _pair_run(model: Method, data: Path, ev: Evaluator, max_items: int | None, show: bool) -> list[str]:
    """Generate every test pair's target from its source image and the target's annotation keypoints."""
    from .methods.pg2.data import read_pg2_annotations, read_pg2_pairs
    from .poses import Poses
    from .render import pose_mask
    from .video import read_image

    pairs_csv, ann_csv, images = _pair_layout(data)
    pairs = read_pg2_pairs(pairs_csv)[:max_items] if max_items else read_pg2_pairs(pairs_csv)
    keypoints = read_pg2_annotations(ann_csv)
    bar = _progress(show)
    with bar:
        task = bar.add_task("pairs", total=len(pairs))
        for a, b in pairs:
            for name in (a, b):
                if name not in keypoints:
                    raise PosevidError(pairs_csv, f"{name} has no keypoints in {ann_csv.name}")
            source, target = read_image(images / a), read_image(images / b)
            h, w = target.shape[:2]

            def pose(name: str, img: np.ndarray) -> Poses:
                xy, conf = keypoints[name]
                return Poses(xy[None], conf[None], img.shape[1], img.shape[0], 30.0)

            with torch.inference_mode():
                frame = next(model.animator().animate(source, pose(a, source), iter([pose(b, target)])))
            ev.add_clip([frame], [target], masks=[pose_mask(*keypoints[b], h, w)])
            bar.advance(task)
    return [f"{a},{b}" for a, b in pairs]


@dataclass
class ProtocolResult:
    """The protocol, our values (metric -> number or ``{"missing": why}``) and the full Evaluator report."""

    protocol: Protocol
    ours: dict[str, Any]
    report: Report
    meta: dict[str, Any]


def run_protocol(name: str, data: str | Path, checkpoint: str | Path | None = None, *, method: str | None = None,
                 max_items: int | None = None, device: str | torch.device | None = None, batch: int = 8,
                 lpips_weights: str | Path | None = None, vgg_weights: str | Path | None = None,
                 inception_classifier: str | Path | None = None, show_progress: bool = False) -> ProtocolResult:
    """Run protocol ``name`` (see ``PROTOCOLS``) of ``checkpoint`` (or the untrained ``method``) on ``data``.

    ``max_items`` caps the frames per clip (clip protocols) or the number of pairs (``pg2-pairs``); the
    network metrics and the model run on ``device``, metrics ``batch`` frames at a time.
    """
    from .evaluate import load_for_evaluation

    if name not in PROTOCOLS:
        raise PosevidError("--protocol", f"unknown protocol {name!r}; known: {', '.join(PROTOCOLS)}")
    protocol, data = PROTOCOLS[name], Path(data)
    if not data.is_dir():
        raise PosevidError(data, "no such dataset folder")
    dev = torch.device(device or "cpu")
    model = load_for_evaluation(checkpoint, method, dev)
    run = _clip_run if protocol.data == "clips" else _pair_run
    with Evaluator(lpips_weights, vgg_weights, inception_classifier, device=dev, batch=batch) as ev:
        items = run(model, data, ev, max_items, show_progress)
        report = ev.report()
    ours = {}
    for metric in (*protocol.metrics, *protocol.extra):
        ours[metric] = missing(protocol.unavailable[metric]) if metric in protocol.unavailable else \
            report.metrics.get(metric, missing("not computed"))
    meta = {"protocol": name, "data": str(data), "checkpoint": str(checkpoint) if checkpoint else None,
            "method": model.name, "device": str(dev), "items": len(items),
            "frames": report.metrics["meta"]["frames"], "size": report.metrics["meta"]["size"],
            "warnings": [w for w in report.metrics["meta"]["warnings"] if "fid" in protocol.metrics or "FID" not in w]}
    return ProtocolResult(protocol, ours, report, meta)


def _cell(value: Any) -> str:
    if isinstance(value, dict):
        return f"missing: {value.get('missing', '?')}"
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.4g}"
    return "" if value is None else str(value)


def markdown(result: ProtocolResult) -> str:
    """Our numbers beside the published rows, one column per row, each cited; notes and warnings below."""
    p = result.protocol
    sources = list(dict.fromkeys(r.source for r in p.published))
    heads = [f"{r.method}, {r.dataset} [{sources.index(r.source) + 1}]" for r in p.published]
    arrow = {True: "↑", False: "↓"}
    lines = [f"# {p.title}", "", f"Protocol `{p.name}` on `{result.meta['data']}` "
             f"({result.meta['method']}, {result.meta['items']} test items).", "",
             "| metric | ours | " + " | ".join(heads) + " |", "| --- | --- |" + " --- |" * len(heads)]
    for metric in (*p.metrics, *p.extra):
        label = p.metrics.get(metric, f"{metric} (not in the paper)")
        row = [f"{label} {arrow.get(BETTER.get(metric), '')}".strip(), _cell(result.ours[metric])]
        row += [_cell(r.values.get(metric)) or "-" for r in p.published]
        lines.append("| " + " | ".join(row) + " |")
    lines += ["", "Sources:"] + [f"[{k + 1}] {source}." for k, source in enumerate(sources)]
    notes = [f"- {p.metrics.get(m, m)}: {n}." for m, n in p.notes.items()]
    if notes:
        lines += ["", "Notes:"] + notes
    lines += [f"\nWarning: {w}." for w in result.meta["warnings"]]
    return "\n".join(lines) + "\n"


def write_protocol_report(result: ProtocolResult, path: str | Path) -> list[Path]:
    """``path`` (JSON: protocol, ours, published, notes, meta, all metrics) and ``<stem>.md`` beside it."""
    from .evaluate import json_safe

    path = Path(path)
    if path.is_dir():
        raise PosevidError(path, "is a folder; give a .json file name")
    p = result.protocol
    doc = {"protocol": p.name, "title": p.title, "ours": result.ours,
           "published": [{"method": r.method, "dataset": r.dataset, "source": r.source, "values": r.values}
                         for r in p.published],
           "notes": p.notes, "meta": result.meta, "all_metrics": result.report.metrics}
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(json_safe(doc), indent=2, allow_nan=False) + "\n")
    md = path.with_suffix(".md")
    with atomic_path(md) as tmp:
        tmp.write_text(markdown(result))
    return [path, md]
