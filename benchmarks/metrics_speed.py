"""Speed and memory of ``posevid evaluate``: milliseconds per frame of each metric, and end to end.

Per metric (frames of ``tfjs_pose_1.mp4`` cropped around the dancer, at each ``--sizes``): median over
``--repeats`` timed calls of L1, PSNR, SSIM, MS-SSIM, the warping error (two flows), LPIPS-AlexNet
(random weights: speed only), pose + mask estimation, and Inception features (batches of 8; the
network resizes every frame to 299x299, so its cost does not depend on the size). End to end: a fresh
subprocess evaluates the clip against a noisy copy at 128x128, with ``--frames`` and 4x as many
frames (the clip looped), for frames/s and peak RSS (memory must not grow with the length).
Run: ``python -m benchmarks.metrics_speed [--repeats 5] [--frames 16]``. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch starts its threads
REPO = Path(__file__).resolve().parents[1]
VIDEO = REPO.parent / "shared" / "data" / "videos" / "tfjs_pose_1.mp4"
if not VIDEO.is_file():
    VIDEO = REPO / "assets" / "tfjs_pose_1.mp4"


def machine() -> dict:
    """CPU model, cores, load, library versions."""
    import torch

    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor())
    return {"cpu": model, "cores": os.cpu_count(), "load_average_1m": os.getloadavg()[0],
            "python": platform.python_version(), "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
            "shared_machine": True}


def clip(size: int, frames: int) -> list[np.ndarray]:
    """``frames`` consecutive frames (looping) around the dancer, size x size."""
    import cv2

    from posevid.video import open_video

    with open_video(VIDEO) as reader:
        base = [cv2.resize(f[60:540, 110:590], (size, size), interpolation=cv2.INTER_AREA)
                for f in itertools.islice(reader, min(frames, 120))]
    return [base[i % len(base)] for i in range(frames)]


def noisy(frame: np.ndarray, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(frame + rng.normal(0, 8, frame.shape), 0, 255).astype(np.uint8)


def median_ms(fn: Callable[[int], object], repeats: int) -> float:
    fn(0)  # warm-up
    times = []
    for i in range(repeats):
        start = time.perf_counter()
        fn(i)
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def per_metric(size: int, repeats: int) -> dict[str, float]:
    """Median milliseconds per frame (pair) of each metric at size x size."""

    from posevid.estimate import PoseEstimator
    from posevid.metrics import LPIPS, InceptionFeatures, l1, ms_ssim, psnr, ssim, warp_error
    from posevid.tensors import image_to_tensor

    real = clip(size, 9)
    gen = [noisy(f, i) for i, f in enumerate(real)]
    lpips = LPIPS("alex")
    unit = [image_to_tensor(f)[None] for f in real + gen]
    inception = InceptionFeatures()
    batch = np.stack(real[:8])
    out = {name: median_ms(lambda i, f=f: f(gen[i % 8], real[i % 8]), repeats)
           for name, f in (("l1", l1), ("psnr", psnr), ("ssim", ssim), ("ms_ssim", ms_ssim))}
    out["warp_error"] = median_ms(lambda i: warp_error(gen[i % 8], gen[i % 8 + 1]), repeats)
    out["lpips_alex"] = median_ms(lambda i: lpips(unit[i % 8], unit[9 + i % 8]), repeats)
    with PoseEstimator() as estimator:
        out["pose_and_mask"] = median_ms(lambda i: estimator.image(real[i % 8]), repeats)
    out["inception_per_image"] = median_ms(lambda i: inception(batch), max(1, repeats // 2)) / len(batch)
    return out


def child(size: int, frames: int) -> dict:
    """One end-to-end evaluation in this process: seconds, frames, peak RSS (MiB)."""
    from posevid.evaluate import evaluate_videos
    from posevid.video import VideoWriter

    with tempfile.TemporaryDirectory() as tmp:
        real_path, gen_path = Path(tmp) / "real.mp4", Path(tmp) / "gen.mp4"
        with VideoWriter(real_path, 30) as real_writer, VideoWriter(gen_path, 30) as gen_writer:
            for i, frame in enumerate(clip(size, frames)):
                real_writer.write(frame)
                gen_writer.write(noisy(frame, i))
        start = time.perf_counter()
        report = evaluate_videos(gen_path, real_path)
        seconds = time.perf_counter() - start
    return {"frames": report.metrics["meta"]["frames"]["paired"], "seconds": seconds,
            "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "fid": report.metrics["fid"], "ssim": report.metrics["ssim"]}


def run_child(size: int, frames: int) -> dict:
    cmd = [sys.executable, "-m", "benchmarks.metrics_speed", "--child", str(size), str(frames)]
    done = subprocess.run(cmd, cwd=REPO, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed calls per metric")
    parser.add_argument("--sizes", type=int, nargs="+", default=[128, 256], help="frame sides for the per-metric times")
    parser.add_argument("--frames", type=int, default=16, help="frames of the short end-to-end clip")
    parser.add_argument("--child", nargs=2, type=int, metavar=("SIZE", "FRAMES"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(*args.child)))
        return
    ms = {str(size): per_metric(size, args.repeats) for size in args.sizes}
    short, long = run_child(128, args.frames), run_child(128, 4 * args.frames)
    report = {
        "machine": machine(),
        "settings": {"video": VIDEO.name, "sizes": args.sizes, "repeats": args.repeats, "generated": "noise sigma 8",
                     "end_to_end": {"size": 128, "frames": [short["frames"], long["frames"]],
                                    "weights": "none (lpips, perceptual, is reported missing)"}},
        "median_ms_per_frame": ms,
        "end_to_end": {"fps": [short["frames"] / short["seconds"], long["frames"] / long["seconds"]],
                       "seconds": [short["seconds"], long["seconds"]],
                       "peak_rss_mib": [short["peak_rss_mib"], long["peak_rss_mib"]],
                       "rss_ratio_4x_length": long["peak_rss_mib"] / short["peak_rss_mib"],
                       "fid": [short["fid"], long["fid"]]},
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
