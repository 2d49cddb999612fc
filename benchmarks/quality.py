"""DwNet reconstruction quality on a held-out part of a real video, beside the untrained warp method (issue 4).

1. Prepare ``tfjs_pose_1.mp4`` at ``--size`` (128): frames 0-89 are the training clip, 90-119 the test clip.
2. Train DwNet (``--config``, default ``configs/dwnet/tfjs_pose.yaml``) for a wall-clock budget of
   ``--minutes`` (20): two timed steps set ``train.steps`` so that the learning rate reaches zero at the
   budget, and ``train.max_minutes`` stops it there in any case.
3. Reconstruct the test clip from its first frame: the source is test frame 0 (image, pose, mask), the
   targets are the poses of test frames 1-29 (same person, so no retargeting). The warp method does
   the same.
4. Score both with ``posevid.metrics.Evaluator``: L1, SSIM, mask-SSIM and AKD (keypoints re-estimated on
   generated and real frames), plus the other metrics it computes.

    python -m benchmarks.quality [--minutes 20] [--size 128] [--config ...] [--work out/bench_quality]
        [--threads 2] [key=value ...]

Prints one JSON object: machine, settings, training summary, and the metrics of ``dwnet`` and ``warp``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
VIDEO = REPO / "assets" / "tfjs_pose_1.mp4"  # a copy of ../shared/data/videos/tfjs_pose_1.mp4
REPORTED = ("l1", "ssim", "mask_ssim", "akd", "mkr", "psnr", "masked_l1", "warp_error")


def calibrate(cfg: dict, data: Path, work: Path) -> float:
    """Seconds per training step (the second of two steps) with this config, on a throwaway run."""
    from posevid.train import Trainer

    shutil.rmtree(work / "calibrate", ignore_errors=True)
    trainer = Trainer(dict(cfg, train=dict(cfg["train"], steps=2, tensorboard=False)), data, work / "calibrate",
                      show_progress=False, log=lambda msg: None)
    batches = iter(trainer.loader)
    trainer.method.train_step(next(batches))
    t0 = time.perf_counter()
    trainer.method.train_step(next(batches))
    shutil.rmtree(work / "calibrate", ignore_errors=True)
    return time.perf_counter() - t0


def score(animator, test, n: int) -> dict:
    """Reconstruct test frames 1..n-1 from test frame 0 with ``animator``; the Evaluator's metrics."""
    from posevid.metrics.evaluator import Evaluator
    from posevid.tensors import tensor_to_image

    first = test.frame(0, 0)
    animator.reset(tensor_to_image(first["image"]), test.poses[0][0], first["mask"][0].numpy())
    generated = (animator.step(test.poses[0][t]) for t in range(1, n))
    real = (tensor_to_image(test.frame(0, t)["image"]) for t in range(1, n))
    with Evaluator() as ev:
        ev.add_clip(generated, real)
        metrics = ev.report().metrics
    return {k: metrics[k] for k in REPORTED if k in metrics} | {"frames": metrics["meta"]["frames"]["paired"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=20.0, help="wall-clock training budget")
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--config", default=str(REPO / "configs" / "dwnet" / "tfjs_pose.yaml"))
    ap.add_argument("--work", default=str(REPO / "out" / "bench_quality"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("overrides", nargs="*", help="config overrides key.sub=value")
    args = ap.parse_args()

    import torch

    from posevid.checkpoints import load_method
    from posevid.config import load_config
    from posevid.data.datasets import ClipDataset
    from posevid.data.prepare import prepare
    from posevid.methods.warp import WarpMethod
    from posevid.train import train

    torch.set_num_threads(args.threads)
    work = Path(args.work)
    data = work / f"data{args.size}"
    _, errors = prepare([VIDEO], data, size=args.size, test_frames="90:120", show_progress=False)
    if errors:
        raise SystemExit(f"prepare failed: {errors}")
    cfg = load_config(args.config, [f"data.size={args.size}", *args.overrides])
    per_step = calibrate(cfg, data, work)
    steps = max(1, int(args.minutes * 60 / per_step))
    cfg["train"].update(steps=steps, max_minutes=args.minutes, checkpoint_every=max(1, steps // 4))
    run = work / "run"
    shutil.rmtree(run, ignore_errors=True)
    t0 = time.perf_counter()
    result = train(cfg, data, run, show_progress=False, log=lambda msg: None)
    minutes = (time.perf_counter() - t0) / 60
    history = [json.loads(ln) for ln in (run / "losses.jsonl").read_text().splitlines()]
    k = max(1, len(history) // 10)
    rec = [h["rec_l1"] for h in history]

    test = ClipDataset(data, "test", frames=1, source=False)
    n = test.clip_length(0)
    method = load_method(run)
    out = {"benchmark": "dwnet_quality",
           "machine": {"cpu_count": os.cpu_count(), "torch": torch.__version__, "threads": args.threads},
           "settings": {"video": "tfjs_pose_1.mp4", "train_frames": "0-89", "test_frames": "90-119",
                        "size": args.size, "config": os.path.relpath(args.config, REPO), "overrides": args.overrides,
                        "budget_minutes": args.minutes, "source": "test frame 0", "scored_frames": "test 1-29"},
           "training": {"steps": result["step"], "planned_steps": steps, "minutes": round(minutes, 2),
                        "s_per_step_calibrated": round(per_step, 3),
                        "rec_l1_first_10pct": round(float(np.mean(rec[:k])), 4),
                        "rec_l1_last_10pct": round(float(np.mean(rec[-k:])), 4)},
           "dwnet": score(method.animator(), test, n),
           "warp": score(WarpMethod().animator(), test, n)}
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
