"""Quality and speed of the zero-training face path (``posevid animate portrait talking-head.mp4``).

On the talking-head clips of ``../shared/data/faces`` (their first ``--frames`` frames):
- self-reconstruction: frame 0 of a clip is the portrait, the clip drives it; per frame, in the face box
  (the real frame's landmarks' box, forehead included, grown by 10%): L1 (values in [0, 1]), SSIM,
  ST-LPIPS (AlexNet) at 128x128, and the landmark error normalised by the inter-ocular distance (NME)
  between the result's and the real frame's landmarks (the face mesh on both); beside it the same
  numbers for a still frame 0 (the baseline that does nothing).
- cross-identity: each portrait x each clip; NME between the result's landmarks and the target
  landmarks (the portrait's retargeted ones, ``Animation.target``), and between the still portrait and
  the targets (how far the targets moved: what a method that does nothing would score).
- speed: frames/s end to end (decode, face landmarks, retarget, warp, encode into mp4 with sound) at 256
  and 512 pixels (the result's longer side), ``--repeats`` runs, median.
Prints JSON (machine, load, settings, medians over clips / pairs). Run:
``python -m benchmarks.face_quality [--frames 60] [--out benchmarks/results/FILE.json]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from benchmarks.animate_speed import machine

REPO = Path(__file__).resolve().parents[1]
FACES = REPO.parent / "shared" / "data" / "faces"
CLIPS = ("d11", "d12", "d18", "d19")
PORTRAITS = ("s0", "s3", "s12")


def trimmed(clip: str, frames: int, folder: Path) -> Path:
    """The first ``frames`` frames of a face clip, with its sound, as an mp4 in ``folder``."""
    from posevid.video import VideoWriter, open_video

    src = FACES / f"liveportrait_{clip}.mp4"
    out = folder / f"{clip}_{frames}.mp4"
    with open_video(src) as reader, VideoWriter(out, reader.fps, audio_from=src) as writer:
        for i, frame in enumerate(reader):
            if i >= frames:
                break
            writer.write(frame)
    return out


def face_crop_box(face_xy: np.ndarray, width: int, height: int) -> tuple[int, int, int, int]:
    from posevid.face import face_box

    x0, y0, x1, y1 = face_box(face_xy)
    gx, gy = 0.1 * (x1 - x0), 0.1 * (y1 - y0)
    return (max(int(x0 - gx), 0), max(int(y0 - gy), 0), min(int(x1 + gx) + 1, width), min(int(y1 + gy) + 1, height))


def box_metrics(gen: np.ndarray, real: np.ndarray, box: tuple[int, int, int, int]) -> dict[str, float]:
    from posevid.metrics import pixel
    from posevid.metrics.stlpips import st_lpips_images

    x0, y0, x1, y1 = box
    g, r = gen[y0:y1, x0:x1], real[y0:y1, x0:x1]
    small = [cv2.resize(a, (128, 128), interpolation=cv2.INTER_AREA) for a in (g, r)]
    return {"l1": pixel.l1(g, r), "ssim": pixel.ssim(g, r), "st_lpips_alex": float(st_lpips_images(*small)[0])}


def nme(estimator, image: np.ndarray, reference: np.ndarray) -> float | None:
    """The face mesh's landmarks on ``image`` against (68, 2) ``reference``, normalised (None: no face)."""
    from posevid.face import found
    from posevid.metrics.keypoints import face_landmark_error

    pose, _ = estimator.image(image)
    return face_landmark_error(pose.face_xy[0], reference) if found(pose)[0] else None


def median(values: list) -> float | None:
    values = [v for v in values if v is not None]
    return float(statistics.median(values)) if values else None


def self_reconstruction(clip: Path, estimator) -> dict:
    from posevid.face import found
    from posevid.pipeline import animate
    from posevid.video import open_video

    with open_video(clip) as reader:
        real = list(reader)
    rows: dict[str, list] = {k: [] for k in ("l1", "ssim", "st_lpips_alex", "nme", "still_l1", "still_ssim",
                                             "still_st_lpips_alex", "still_nme")}
    for i, gen in enumerate(animate(real[0], clip)):
        pose, _ = estimator.image(real[i])
        if not found(pose)[0]:
            continue
        lm = pose.face_xy[0]
        box = face_crop_box(lm, real[i].shape[1], real[i].shape[0])
        for prefix, image in (("", gen), ("still_", real[0])):
            for k, v in box_metrics(image, real[i], box).items():
                rows[prefix + k].append(v)
            rows[prefix + "nme"].append(nme(estimator, image, lm))
    return {k: median(v) for k, v in rows.items()} | {"frames": len(rows["l1"])}


def cross_identity(portrait: Path, clip: Path, estimator) -> dict:
    from posevid.pipeline import Animation
    from posevid.video import read_image

    still = read_image(portrait)
    to_target, still_to_target = [], []
    with Animation(portrait, clip) as anim:
        assert anim.subject == "face", anim.subject
        for result, _ in anim:
            target = anim.target.face_xy[0]
            to_target.append(nme(estimator, result, target))
            still_to_target.append(nme(estimator, still, target))
    return {"nme_to_target": median(to_target), "still_nme_to_target": median(still_to_target),
            "frames": len(to_target)}


def speed(portrait: Path, clip: Path, size: int, repeats: int, folder: Path) -> dict:
    from posevid.pipeline import animate_to_file

    runs = []
    for _ in range(repeats):
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        frames = animate_to_file(portrait, clip, folder / f"speed_{size}.mp4", size=size, show_progress=False,
                                 timings=timings)
        runs.append((frames / (time.perf_counter() - t0), {k: 1000 * v / frames for k, v in timings.items()}))
    best = sorted(runs, key=lambda r: r[0])[len(runs) // 2]
    return {"fps_median": best[0], "ms_per_frame_by_stage": best[1], "frames": frames, "runs_fps": [r[0] for r in runs]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=60, help="frames of each clip used")
    parser.add_argument("--repeats", type=int, default=3, help="speed runs per size")
    parser.add_argument("--out", type=Path, help="also write the JSON here")
    parser.add_argument("--parts", default="self,cross,speed", help="which parts to run (comma separated)")
    args = parser.parse_args()
    from posevid.estimate import PoseEstimator

    parts = set(args.parts.split(","))
    result: dict = {"benchmark": "face_quality", "machine": machine(),
                    "settings": {"frames": args.frames, "clips": CLIPS, "portraits": PORTRAITS, "method": "warp",
                                 "subject": "auto (face)", "repeats": args.repeats}}
    with tempfile.TemporaryDirectory() as tmp, PoseEstimator(keypoints="face") as estimator:
        folder = Path(tmp)
        clips = {c: trimmed(c, args.frames, folder) for c in CLIPS}
        if "self" in parts:
            per = {c: self_reconstruction(p, estimator) for c, p in clips.items()}
            result["self_reconstruction"] = {"per_clip": per, "median": {
                k: median([v[k] for v in per.values()]) for k in next(iter(per.values())) if k != "frames"}}
        if "cross" in parts:
            per = {f"{s}x{c}": cross_identity(FACES / f"liveportrait_{s}.jpg", p, estimator)
                   for s in PORTRAITS for c, p in clips.items()}
            result["cross_identity"] = {"per_pair": per, "median": {
                k: median([v[k] for v in per.values()]) for k in ("nme_to_target", "still_nme_to_target")}}
        if "speed" in parts:
            result["speed"] = {str(size): speed(FACES / "liveportrait_s12.jpg", clips["d18"], size, args.repeats,
                                                folder) for size in (256, 512)}
    result["machine"]["load_average_1m_end"] = __import__("os").getloadavg()[0]
    text = json.dumps(result, indent=1)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
