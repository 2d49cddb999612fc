"""Quality of the untrained animators (the warp family), side by side in one run (issue 14's Measure).

**Self-reconstruction** (first-order-model's protocol): frame 0 of each real clip in ``DATA/videos`` is
the photo (pose and segmentation from static BlazePose, as ``posevid animate`` takes a photo) and the
clip drives it with its own poses (BlazePose tracking mode, no retargeting), at the clip's own size.
Every ``--stride``-th frame is made and scored in the person's box: a square around the real frame's
keypoints with ``BOX_MARGIN`` of the body height on each side, resized to 256x256 (outside the frame
counts as black in both images). Metrics: L1 on [0, 1] (also split into the parts of the box it comes
from, which add up to it: ``l1_person`` where the segmenter calls the real frame's person, ``l1_revealed``
where the photo's person stood and the real frame shows background, ``l1_background`` elsewhere: with a
moving camera the background drifts there, which no pose-driven animator can follow), SSIM, ST-LPIPS (VGG) when
``posevid.metrics.stlpips`` is there, and AKD / MKR: BlazePose (static) on the generated and on the real
frame, AKD in pixels of the 256 box.

**Cross-identity**: each photo in ``DATA/images`` (long side ``--size``; its person found as the pipeline
finds it, ``photo.find_person``) x each clip. The clip's poses
(tracking mode, the pipeline's 320-pixel analysis copy) are retargeted onto the photo's person
(``poses.retarget``, ``--mode``) and smoothed (``poses.smooth``), and drive the animator; every
``--cross-stride``-th frame is segmented by BlazePose (static): ghost area = share of the frame that the
segmenter calls person (mask > 0.5) outside the target silhouette dilated by ``GHOST_MARGIN`` of the
photo's body height; solidity = share of the target silhouette that it calls person; AKD to the
retargeted pose (joints seen in both, pixels of a 256 box around the photo's person). The target
silhouette is the animator's ``alpha`` attribute after each step ((H, W) in [0, 1], the coverage of the
person it drew; > 0.5), or the pose mask of the target (``render.pose_mask``) when it has none.

**Plates** (the background behind the person, made once per photo): for each photo (long side
``--size``) the person's hole (``plate.person_hole`` of the refined alpha and the raw mask, as the warp
animator makes it) is moved sideways by half its width, onto background, both ways; each fill
(``--plates``: OpenCV's Telea, xphoto's FSR_FAST, OpenCV's Navier-Stokes (the plate before the shift map)
and ``plate.clean_plate``'s) completes that hole together with the person's own, and is scored on the
moved hole's known background pixels: L1 on [0, 1], SSIM and ST-LPIPS in its box, milliseconds. Then
each fills the person's own hole and the segmenter judges the result: ``person_left`` is the share of the
hole that it calls person.

**Candidates** (``--animators``, default ``affine warp``): ``affine`` is the part-affine warp over a
Telea-inpainted plate, as ``posevid animate`` drew it before issue 14 (kept here, frozen, as the
baseline); a registered untrained method's name (``warp``) takes its animator; ``module:attr`` names an
Animator class or factory (an animator before it is registered), e.g. ``posevid.mesh:MeshAnimator``.
A name may end in ``@MODULE``, a module with its own ``retarget`` (a copy of an older ``posevid.poses``,
say): in the cross-identity part that candidate is driven, and its AKD measured, by that module's targets
(``posevid_prev.methods.warp.model:WarpAnimator@posevid_prev.poses``: the old retargeting and the old
warp beside the new ones).
The first candidate is the reference of the ``vs_first`` ratios and of ``no_clip_worse``.

    python -m benchmarks.warp_quality [--animators affine warp] [--data ../shared/data] [--stride 2]
        [--cross-stride 4] [--size 512] [--parts self cross plate] [--sheets DIR]

Prints one JSON object: machine (with the load at start and end), settings, per-clip and per-pair
results, and per animator the means over clips / pairs, medians of the step time and the targets met.
``--sheets DIR`` also writes one contact sheet per cross pair (photo | driving | each animator) to look at.
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import os
import statistics
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import numpy as np
import torch

from benchmarks.animate_speed import machine
from posevid.poses import DEFAULT_RETARGET

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
BOX = 256  # side of the person box the frame metrics are computed in
BOX_MARGIN = 0.15  # of the body height, added around the keypoints' box on each side
GHOST_MARGIN = 0.03  # of the photo's body height: the silhouette's dilation before ghosts are counted
ANALYSIS_SIDE = 320  # driving frames are estimated at this longer side, as in the pipeline
SEG_THRESHOLD = 0.5
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
PLATE_FILLS = ("telea", "fsr_fast", "navier_stokes", "clean_plate")
REGIONS = ("l1_person", "l1_revealed", "l1_background")  # the parts of the box's L1 (``box_regions``)
TARGETS = {"ghost_area_max": 0.01, "solidity_min": 0.9, "self_l1_and_lpips_drop": 0.2}


class PartAffineBaseline:
    """The animator ``posevid animate`` used before issue 14: per-part affines (``warp.dense_grid``) move
    the person (image times mask) and the mask, composited over the photo with the dilated person region
    Telea-inpainted. Frozen here so that new animators are measured against it."""

    def reset(self, source: np.ndarray, pose, mask: np.ndarray | None = None) -> None:
        from posevid.render import pose_mask

        h, w = source.shape[:2]
        mask = pose_mask(pose.xy[0], pose.conf[0], h, w) if mask is None else np.clip(mask, 0, 1).astype(np.float32)
        alpha = torch.from_numpy(mask)[None]
        self.layers = torch.cat([torch.from_numpy(source).permute(2, 0, 1).float() * alpha, alpha])[None]
        radius = max(2, round(0.02 * max(h, w)))
        hole = cv2.dilate((mask > 0.1).astype(np.uint8),
                          cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1)))
        plate = cv2.inpaint(np.ascontiguousarray(source), hole, 5, cv2.INPAINT_TELEA)
        self.plate = torch.from_numpy(plate).permute(2, 0, 1).float()
        self.src = (torch.from_numpy(pose.xy[:1].copy()), torch.from_numpy(pose.conf[:1].copy()))
        self.alpha: np.ndarray | None = None

    @torch.inference_mode()
    def step(self, target) -> np.ndarray:
        from posevid import warp

        h, w = self.layers.shape[-2:]
        grid = warp.dense_grid(*self.src, torch.from_numpy(target.xy[:1].copy()),
                               torch.from_numpy(target.conf[:1].copy()), h, w)
        moved = warp.warp(self.layers, grid)[0]
        cover = moved[3:].clamp(0, 1)
        self.alpha = cover[0].numpy().copy()
        out = moved[:3] + self.plate * (1 - cover)
        return out.clamp(0, 255).round().to(torch.uint8).permute(1, 2, 0).contiguous().numpy()


def make_animator(name: str) -> Callable[[], object]:
    """A factory of fresh animators for a candidate name (see the module docstring)."""
    name = name.split("@", 1)[0]
    if name == "affine":
        return PartAffineBaseline
    if ":" in name:
        module, attr = name.split(":", 1)
        return getattr(importlib.import_module(module), attr)
    from posevid.methods.base import build_method

    return lambda: build_method({"method": name}).animator()


def perceptual() -> Callable[[np.ndarray, np.ndarray], float] | None:
    """ST-LPIPS (VGG) between two (256, 256, 3) uint8 images, or None while posevid has no loader for it."""
    try:
        from posevid.metrics.stlpips import st_lpips_images
    except ImportError:
        return None
    return lambda a, b: float(st_lpips_images(a[None], b[None], net="vgg")[0])


def person_box(pose, height: int) -> tuple[float, float, float]:
    """(x0, y0, side) of the square person box around a one-frame pose (see ``BOX_MARGIN``)."""
    from posevid.poses import bbox, body_height

    x0, y0, x1, y1 = bbox(pose)[0]
    pad = BOX_MARGIN * float(body_height(pose)[0])
    side = max(x1 - x0, y1 - y0) + 2 * pad
    return (x0 + x1 - side) / 2, (y0 + y1 - side) / 2, max(side, 8.0)


def crop_box(image: np.ndarray, box: tuple[float, float, float]) -> np.ndarray:
    """The square ``box`` of ``image`` (black outside it) resized to BOX x BOX."""
    x0, y0, side = box
    s = BOX / side
    m = np.array([[s, 0, -x0 * s], [0, s, -y0 * s]], np.float32)
    return cv2.warpAffine(image, m, (BOX, BOX), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_CONSTANT)


def clip_poses(path: Path, side: int | None = None) -> tuple[list, float]:
    """Tracking-mode poses of every frame of a clip (at most ``side`` pixels on the longer side when
    given, scaled back to the clip's pixels) and its fps."""
    from posevid.estimate import PoseEstimator
    from posevid.video import open_video

    with open_video(path) as reader, PoseEstimator() as est:
        w, h = reader.width, reader.height
        scale = min(1.0, side / max(w, h)) if side else 1.0
        small = (max(1, round(w * scale)), max(1, round(h * scale)))
        frames = (cv2.resize(f, small, interpolation=cv2.INTER_AREA) if scale < 1 else f for f in reader)
        poses = [p.rescale(w, h) for p, _ in est.stream(frames, reader.fps)]
        return poses, reader.fps


def frames_of(path: Path, keep: set[int]) -> Iterator[tuple[int, np.ndarray]]:
    """(index, frame) for the frames of a clip whose index is in ``keep``, streamed."""
    from posevid.video import open_video

    with open_video(path) as reader:
        for i, frame in enumerate(reader):
            if i in keep:
                yield i, frame


def self_reconstruction(clip: Path, names: list[str], stride: int, estimator, lpips) -> dict:
    """Per animator: mean L1, SSIM, ST-LPIPS, AKD, MKR over the scored frames of ``clip``, ms per step."""
    from posevid.metrics import keypoint_errors, l1, ssim
    from posevid.poses import body_height

    poses, _ = clip_poses(clip)
    scored = [i for i in range(1, len(poses), stride) if body_height(poses[i])[0] > 0]
    photo = next(frames_of(clip, {0}))[1]
    photo_pose, photo_mask = estimator.image(photo)
    animators = {n: make_animator(n)() for n in names}
    for a in animators.values():
        a.reset(photo, photo_pose, photo_mask)
    keys = ("l1", "ssim", "lpips", "akd", "ms") + REGIONS
    sums: dict[str, dict[str, list[float]]] = {n: {k: [] for k in keys} for n in names}
    missing = {n: [0, 0] for n in names}
    for i, real in frames_of(clip, set(scored)):
        box = person_box(poses[i], real.shape[0])
        real_box = crop_box(real, box)
        real_pose, real_mask = estimator.image(real)
        regions = box_regions(real_mask, photo_mask, box)
        k = BOX / box[2]
        for n, a in animators.items():
            t0 = time.perf_counter()
            gen = a.step(poses[i])
            sums[n]["ms"].append(1000 * (time.perf_counter() - t0))
            gen_box = crop_box(gen, box)
            sums[n]["l1"].append(l1(gen_box, real_box))
            diff = np.abs(gen_box.astype(np.float32) - real_box.astype(np.float32)).mean(2) / 255.0
            for key, region in zip(REGIONS, regions):
                sums[n][key].append(float(diff[region].sum() / diff.size))
            sums[n]["ssim"].append(ssim(gen_box, real_box))
            if lpips is not None:
                sums[n]["lpips"].append(lpips(gen_box, real_box))
            gen_pose, _ = estimator.image(gen)
            dist, miss, found = keypoint_errors(gen_pose.xy[0], gen_pose.conf[0], real_pose.xy[0], real_pose.conf[0])
            if not math.isnan(dist):
                sums[n]["akd"].append(dist * k)
            missing[n][0] += miss
            missing[n][1] += found
    out = {}
    for n in names:
        s = sums[n]
        out[n] = {key: _mean(s[key]) for key in ("l1", "ssim", "lpips", "akd") + REGIONS}
        out[n]["mkr"] = missing[n][0] / max(missing[n][1], 1)
        out[n]["ms_per_step"] = statistics.median(s["ms"]) if s["ms"] else None
        out[n]["frames"] = len(s["l1"])
    return {"size": list(photo.shape[1::-1]), "frames": len(scored), **out}


def box_regions(real_mask: np.ndarray, photo_mask: np.ndarray, box: tuple[float, float, float]
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(BOX, BOX) bool masks of the person box: the real frame's person, the photo's person's place
    where the real frame shows background, and the rest (see ``REGIONS``)."""
    person, photo = (crop_box((np.asarray(m) > SEG_THRESHOLD).astype(np.uint8) * 255, box) > 127
                     for m in (real_mask, photo_mask))
    return person, photo & ~person, ~photo & ~person


def _mean(values: list[float]) -> float | None:
    return float(np.mean(values)) if values else None


def load_photo(path: Path, size: int) -> np.ndarray:
    """The photo with its longer side ``size`` (area-resampled when shrinking)."""
    from posevid.video import read_image

    rgb = read_image(path)
    h, w = rgb.shape[:2]
    s = size / max(h, w)
    if s == 1:
        return rgb
    return cv2.resize(rgb, (max(1, round(w * s)), max(1, round(h * s))),
                      interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_CUBIC)


def driving_targets(poses: list, photo_pose, mode: str, name: str = "") -> list:
    """Retargeted, smoothed one-frame target poses (photo pixels) for the frames with a driver in them;
    None for the others. Retargeted by ``posevid.poses.retarget``, or by the ``retarget`` of the module
    after an ``@`` in the candidate's ``name``."""
    from posevid.poses import Poses, body_height, retarget, smooth

    if "@" in name:
        retarget = importlib.import_module(name.split("@", 1)[1]).retarget
    seq = Poses.concat(poses)
    seen = body_height(seq) > 0
    targets = smooth(retarget(seq[np.flatnonzero(seen)], photo_pose, mode))
    out: list = [None] * len(poses)
    for k, i in enumerate(np.flatnonzero(seen)):
        out[i] = targets[int(k)]
    return out


def cross_identity(photo: np.ndarray, clip: Path, names: list[str], stride: int, mode: str, estimator,
                   driving: list, sheet: Path | None) -> dict:
    """Per animator: mean ghost area, solidity and AKD to the targets over the scored frames of one pair."""
    from posevid.metrics import keypoint_errors
    from posevid.photo import find_person
    from posevid.poses import body_height
    from posevid.render import pose_mask

    photo_pose, photo_mask = find_person(estimator, photo)  # as the pipeline finds the photo's person
    if body_height(photo_pose)[0] <= 0:
        return {"error": "no person found in the photo"}
    height_px = float(body_height(photo_pose)[0])
    k = BOX / person_box(photo_pose, photo.shape[0])[2]
    radius = max(1, round(GHOST_MARGIN * height_px))
    grow = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    targets = {n: driving_targets(driving, photo_pose, mode, n) for n in names}
    animators = {n: make_animator(n)() for n in names}
    for a in animators.values():
        a.reset(photo, photo_pose, photo_mask)
    first = targets[names[0]]
    scored = [i for i in range(0, len(first), stride) if first[i] is not None]
    stats = {n: {"ghost": [], "solidity": [], "akd": [], "ms": [], "silhouette": "alpha"} for n in names}
    shown = set(np.asarray(scored)[np.linspace(0, len(scored) - 1, min(8, len(scored))).astype(int)].tolist())
    rows = []
    for i in scored:
        row = []
        for n, a in animators.items():
            target = targets[n][i]
            t0 = time.perf_counter()
            gen = a.step(target)
            stats[n]["ms"].append(1000 * (time.perf_counter() - t0))
            alpha = getattr(a, "alpha", None)
            if alpha is None:
                stats[n]["silhouette"] = "pose_mask"
                alpha = pose_mask(target.xy[0], target.conf[0], *gen.shape[:2])
            silhouette = np.asarray(alpha) > 0.5
            gen_pose, seg = estimator.image(gen)
            person = seg > SEG_THRESHOLD
            outside = ~cv2.dilate(silhouette.astype(np.uint8), grow).astype(bool)
            stats[n]["ghost"].append(float((person & outside).mean()))
            if silhouette.any():
                stats[n]["solidity"].append(float((person & silhouette).sum() / silhouette.sum()))
            dist, _, _ = keypoint_errors(gen_pose.xy[0], gen_pose.conf[0], target.xy[0], np.ones(18) * (
                target.conf[0] > 0))
            if not math.isnan(dist):
                stats[n]["akd"].append(dist * k)
            if i in shown:
                row.append(gen)
        if row:
            rows.append((i, row))
    if sheet is not None:
        write_sheet(sheet, photo, clip, rows, names)
    out = {}
    for n in names:
        s = stats[n]
        out[n] = {"ghost_area": _mean(s["ghost"]), "ghost_area_max": max(s["ghost"], default=None),
                  "solidity": _mean(s["solidity"]), "akd": _mean(s["akd"]),
                  "ms_per_step": statistics.median(s["ms"]) if s["ms"] else None,
                  "frames": len(s["ghost"]), "silhouette": s["silhouette"]}
    return {"size": list(photo.shape[1::-1]), **out}


def write_sheet(path: Path, photo: np.ndarray, clip: Path, rows: list, names: list[str], height: int = 160) -> None:
    """One row per shown frame: photo | driving frame | each animator's frame, ``height`` pixels tall."""
    from posevid.video import write_image

    def fit(img: np.ndarray) -> np.ndarray:
        return cv2.resize(img, (max(1, round(img.shape[1] * height / img.shape[0])), height),
                          interpolation=cv2.INTER_AREA)

    frames = dict(frames_of(clip, {i for i, _ in rows}))
    lines = [np.concatenate([fit(photo), fit(frames[i])] + [fit(g) for g in gens], 1) for i, gens in rows]
    path.parent.mkdir(parents=True, exist_ok=True)
    write_image(path, np.concatenate(lines, 0))


def plate_fills() -> dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]]:
    """The hole fillers compared: (H, W, 3) uint8 image and (H, W) bool hole -> filled image."""
    from posevid.plate import clean_plate

    def fsr(rgb: np.ndarray, hole: np.ndarray) -> np.ndarray:
        out = np.zeros_like(rgb)
        cv2.xphoto.inpaint(rgb, (~hole).astype(np.uint8), out, cv2.xphoto.INPAINT_FSR_FAST)
        return out

    return {"telea": lambda rgb, hole: cv2.inpaint(rgb, hole.astype(np.uint8), 5, cv2.INPAINT_TELEA),
            "fsr_fast": fsr,
            "navier_stokes": lambda rgb, hole: cv2.inpaint(rgb, hole.astype(np.uint8), 5, cv2.INPAINT_NS),
            "clean_plate": lambda rgb, hole: clean_plate(rgb, hole.astype(np.float32), grow=0)}


def plate_quality(photo: np.ndarray, names: list[str], estimator, lpips=None) -> dict:
    """Per fill: known-background L1 / SSIM / ST-LPIPS (``lpips``, in the moved hole's box resized to
    ``BOX``; mean of both sideways moves), ms, and the person left."""
    from posevid.metrics import ssim
    from posevid.photo import find_person
    from posevid.plate import person_hole, refine_alpha

    _, mask = find_person(estimator, photo)
    if mask.max() <= 0.5:
        return {"error": "no person found in the photo"}
    person = person_hole(np.maximum(mask, refine_alpha(photo, mask)))  # the hole the warp animator's plate fills
    h, w = person.shape
    xs = np.flatnonzero(person.any(0))
    fills = plate_fills()
    out: dict = {n: {"l1": [], "ssim": [], "lpips": [], "ms": []} for n in names}
    for dx in (-(xs[-1] - xs[0]) // 2 - 5, (xs[-1] - xs[0]) // 2 + 5):
        moved = cv2.warpAffine(person.astype(np.uint8), np.float32([[1, 0, dx], [0, 1, 0]]), (w, h),
                               flags=cv2.INTER_NEAREST).astype(bool)
        known = moved & ~person
        if known.sum() < 100:
            continue
        ys, xs_ = np.nonzero(known)
        box = (slice(ys.min(), ys.max() + 1), slice(xs_.min(), xs_.max() + 1))
        for n in names:
            t0 = time.perf_counter()
            filled = fills[n](photo.copy(), moved | person)
            out[n]["ms"].append(1000 * (time.perf_counter() - t0))
            out[n]["l1"].append(float(np.abs(filled.astype(np.float32) - photo)[known].mean() / 255))
            shown = np.where(known[..., None], filled, photo)[box]
            out[n]["ssim"].append(ssim(shown, photo[box]))
            if lpips is not None:
                out[n]["lpips"].append(lpips(*(cv2.resize(x, (BOX, BOX), interpolation=cv2.INTER_AREA)
                                               for x in (shown, photo[box]))))
    result = {"hole_share": float(person.mean())}
    for n in names:
        plate = fills[n](photo.copy(), person)
        left = float((estimator.image(plate)[1][person] > SEG_THRESHOLD).mean())
        result[n] = {"l1": _mean(out[n]["l1"]), "ssim": _mean(out[n]["ssim"]), "lpips": _mean(out[n]["lpips"]),
                     "ms": statistics.median(out[n]["ms"]) if out[n]["ms"] else None, "person_left": left}
    return result


def summarise_plain(per_item: dict, names: list[str], keys: tuple[str, ...]) -> dict:
    """Per candidate: the mean over items of each key (items where it is known)."""
    return {n: {key: _mean([r[n][key] for r in per_item.values() if n in r and r[n].get(key) is not None])
                for key in keys} for n in names}


def summarise(per_item: dict, names: list[str], keys: tuple[str, ...]) -> dict:
    """Per animator: ``summarise_plain`` and the median of the items' step times."""
    out = summarise_plain(per_item, names, keys)
    for n in names:
        steps = [r[n]["ms_per_step"] for r in per_item.values() if n in r and r[n].get("ms_per_step") is not None]
        out[n]["ms_per_step_median"] = statistics.median(steps) if steps else None
    return out


def compare_self(per_clip: dict, names: list[str]) -> dict:
    """Per later animator: its mean L1 / ST-LPIPS over the first one's, and whether no clip got worse."""
    first, out = names[0], {}
    for n in names[1:]:
        entry = {}
        for key in ("l1", "lpips"):
            pairs = [(r[n][key], r[first][key]) for r in per_clip.values()
                     if r[n].get(key) is not None and r[first].get(key) is not None]
            if pairs:
                entry[f"{key}_vs_first"] = float(np.mean([p[0] for p in pairs]) / np.mean([p[1] for p in pairs]))
                entry[f"{key}_no_clip_worse"] = all(a <= b for a, b in pairs)
        out[n] = entry
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--animators", nargs="+", default=["affine", "warp"])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--stride", type=int, default=2, help="self-reconstruction: score every n-th frame")
    parser.add_argument("--cross-stride", type=int, default=4, help="cross-identity: drive every n-th frame")
    parser.add_argument("--size", type=int, default=512, help="cross-identity: the photos' longer side")
    parser.add_argument("--mode", default=DEFAULT_RETARGET, help="cross-identity retargeting mode")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (the machine is shared)")
    parser.add_argument("--parts", nargs="+", default=["self", "cross", "plate"], choices=["self", "cross", "plate"])
    parser.add_argument("--only-self", action="store_const", const=["self"], dest="parts", help="= --parts self")
    parser.add_argument("--only-cross", action="store_const", const=["cross"], dest="parts", help="= --parts cross")
    parser.add_argument("--plates", nargs="+", default=list(PLATE_FILLS), choices=list(PLATE_FILLS))
    parser.add_argument("--clips", nargs="*", help="clip file names in DATA/videos (default: all mp4)")
    parser.add_argument("--photos", nargs="*", help="photo file names in DATA/images (default: all photos)")
    parser.add_argument("--sheets", type=Path, help="write a contact sheet per cross pair into this folder")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    from posevid.estimate import PoseEstimator

    clips = sorted((args.data / "videos").glob("*.mp4")) if not args.clips else [
        args.data / "videos" / c for c in args.clips]
    photos = [p for p in sorted((args.data / "images").iterdir())
              if p.suffix.lower() in IMAGE_SUFFIXES and "segmentation" not in p.stem] if not args.photos else [
        args.data / "images" / p for p in args.photos]
    lpips = perceptual()
    start_load = os.getloadavg()[0]
    t_start = time.perf_counter()
    report: dict = {"machine": machine(), "settings": {
        "animators": args.animators, "parts": args.parts, "plates": args.plates, "stride": args.stride,
        "cross_stride": args.cross_stride,
        "cross_size": args.size, "mode": args.mode, "box": BOX, "box_margin": BOX_MARGIN,
        "ghost_margin": GHOST_MARGIN, "segmentation_threshold": SEG_THRESHOLD, "threads": args.threads,
        "perceptual": "ST-LPIPS vgg" if lpips else "none (posevid.metrics.stlpips not available)",
        "clips": [c.name for c in clips], "photos": [p.name for p in photos]}}
    with PoseEstimator() as estimator:
        if "self" in args.parts:
            per_clip = {c.name: self_reconstruction(c, args.animators, args.stride, estimator, lpips) for c in clips}
            report["self_reconstruction"] = {
                "per_clip": per_clip,
                "mean_over_clips": summarise(per_clip, args.animators, ("l1", "ssim", "lpips", "akd", "mkr")),
                "vs_first": compare_self(per_clip, args.animators)}
        if "cross" in args.parts:
            per_pair: dict = {}
            for c in clips:
                driving, _ = clip_poses(c, ANALYSIS_SIDE)
                for p in photos:
                    sheet = args.sheets / f"{p.stem}__{c.stem}.png" if args.sheets else None
                    per_pair[f"{p.name} x {c.name}"] = cross_identity(load_photo(p, args.size), c, args.animators,
                                                                      args.cross_stride, args.mode, estimator,
                                                                      driving, sheet)
            ok = {k: v for k, v in per_pair.items() if "error" not in v}
            means = summarise(ok, args.animators, ("ghost_area", "solidity", "akd"))
            for n in args.animators:
                means[n]["ghost_area_worst_pair"] = max((v[n]["ghost_area"] for v in ok.values()), default=None)
                means[n]["solidity_worst_pair"] = min((v[n]["solidity"] for v in ok.values()
                                                       if v[n]["solidity"] is not None), default=None)
                means[n]["meets_ghost_target"] = bool(means[n]["ghost_area_worst_pair"] is not None and
                                                      means[n]["ghost_area_worst_pair"] <= TARGETS["ghost_area_max"])
                means[n]["meets_solidity_target"] = bool(means[n]["solidity_worst_pair"] is not None and
                                                         means[n]["solidity_worst_pair"] >= TARGETS["solidity_min"])
            report["cross_identity"] = {"per_pair": per_pair, "mean_over_pairs": means}
        if "plate" in args.parts:
            per_photo = {p.name: plate_quality(load_photo(p, args.size), args.plates, estimator, lpips)
                         for p in photos}
            ok = {k: v for k, v in per_photo.items() if "error" not in v}
            means = summarise_plain(ok, args.plates, ("l1", "ssim", "lpips", "ms", "person_left"))
            report["plate"] = {"per_photo": per_photo, "mean_over_photos": means}
    report["targets"] = TARGETS
    report["machine"]["load_average_1m_end"] = os.getloadavg()[0]
    report["machine"]["load_average_1m_start"] = start_load
    report["seconds"] = round(time.perf_counter() - t_start, 1)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
