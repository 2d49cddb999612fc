"""DwNet training speed and memory, and animation speed (issue 4).

Every setting (image size x batch size x bf16 autocast off/on) trains with the real trainer and data
loader on ``tfjs_pose_1.mp4`` (prepared once at the largest size into ``--work``; smaller sizes resize
on load) in its own subprocess, so that its peak RSS is its own. After ``--warmup`` steps, ``--steps``
steps are timed (data loading included). The animation speed uses the checkpoint of the largest-size
setting (its weights do not matter for speed): the animator alone on the prepared test clip's poses,
and the whole ``posevid.animate`` pipeline (video decoding, pose estimation, retargeting, DwNet).

    python -m benchmarks.train_speed [--sizes 128 256] [--batches 1 4] [--amp off on] [--steps 5]
        [--warmup 1] [--config configs/dwnet/fashion.yaml] [--work out/bench_train_speed]
        [--animate-frames 30] [--threads 2] [key=value ...]

Prints one JSON object: machine, settings, ``train`` (one row per setting: median seconds per step,
steps/s, clips/s (a clip = source + 3 generated frames), peak RSS in MB) and ``animate`` (frames/s).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
VIDEO = REPO / "assets" / "tfjs_pose_1.mp4"  # a copy of ../shared/data/videos/tfjs_pose_1.mp4


def machine() -> dict:
    """CPU model, core count, torch version and thread count."""
    import torch

    cpu = platform.processor()
    try:
        cpu = next(ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                   if ln.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "torch": torch.__version__, "threads": torch.get_num_threads(),
            "python": platform.python_version()}


def peak_rss_mb() -> float:
    """This process's peak resident set size in MB (Linux reports KB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def prepared(work: Path, size: int) -> Path:
    """``tfjs_pose_1.mp4`` prepared at ``size`` (frames 0-89 train, 90-119 test), made once."""
    from posevid.data.prepare import prepare

    data = work / f"data{size}"
    _, errors = prepare([VIDEO], data, size=size, test_frames="90:120", show_progress=False)
    if errors:
        raise SystemExit(f"prepare failed: {errors}")
    return data


def child_train(args: argparse.Namespace) -> dict:
    """One setting: build the trainer, time ``--steps`` steps after ``--warmup``; optionally save a checkpoint."""
    import torch

    from posevid.config import load_config
    from posevid.train import Trainer

    size, batch, amp = args.child
    overrides = [f"data.size={size}", f"train.batch_size={batch}", f"train.amp={amp == 'on'}",
                 f"train.steps={args.warmup + args.steps}", "train.tensorboard=false", "train.workers=0",
                 *args.overrides]
    cfg = load_config(args.config, overrides)
    out = Path(args.work) / f"run_{size}_{batch}_{amp}"
    shutil.rmtree(out, ignore_errors=True)
    trainer = Trainer(cfg, args.data, out, show_progress=False, log=lambda msg: None)
    loader = iter(trainer.loader)
    times = []
    for i in range(args.warmup + args.steps):
        t0 = time.perf_counter()
        b = next(loader)
        trainer.method.train_step(b)
        if i >= args.warmup:
            times.append(time.perf_counter() - t0)
    trainer.step = args.warmup + args.steps
    ckpt = str(trainer.checkpoint()) if args.save else None
    med = statistics.median(times)
    return {"size": int(size), "batch": int(batch), "bf16": amp == "on", "threads": torch.get_num_threads(),
            "median_s_per_step": round(med, 4), "steps_per_s": round(1 / med, 4),
            "clips_per_s": round(int(batch) / med, 3), "peak_rss_mb": round(peak_rss_mb(), 1),
            "parameters_generator": sum(p.numel() for p in trainer.method.generator_parameters()),
            "checkpoint": ckpt}


def child_animate(args: argparse.Namespace) -> dict:
    """Animator-only and whole-pipeline frames/s with the checkpoint ``args.animate``."""

    from posevid.checkpoints import load_method
    from posevid.data.datasets import ClipDataset
    from posevid.pipeline import animate
    from posevid.tensors import tensor_to_image

    method = load_method(args.animate)
    size = method.size
    ds = ClipDataset(args.data, "test", frames=1, source=False, size=size)
    poses = ds.poses[0]
    n = min(args.animate_frames, len(poses))
    src = ds.frame(0, 0)
    source = tensor_to_image(src["image"])
    animator = method.animator()
    animator.reset(source, poses[0], src["mask"][0].numpy())
    times = []
    for t in range(n):
        t0 = time.perf_counter()
        frame = animator.step(poses[t])
        times.append(time.perf_counter() - t0)
    assert frame.shape == source.shape
    model_fps = 1 / statistics.median(times[1:] or times)
    t0 = time.perf_counter()
    frames = animate(source, VIDEO, method="dwnet", checkpoint=args.animate, size=size)
    made = sum(1 for _, _ in zip(range(n), frames))
    frames.close()
    pipeline_fps = made / (time.perf_counter() - t0)
    return {"size": size, "frames": n, "model_fps": round(model_fps, 3), "pipeline_fps": round(pipeline_fps, 3),
            "pipeline_note": "includes pose-estimator start-up, video decoding and retargeting",
            "peak_rss_mb": round(peak_rss_mb(), 1)}


def run_child(argv: list[str], threads: int) -> dict:
    """Run this script in child mode and parse its JSON line."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    env.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # no spinning threads on a shared machine
    proc = subprocess.run([sys.executable, __file__, *argv], capture_output=True, text=True, env=env, cwd=REPO)
    if proc.returncode:
        raise SystemExit(f"benchmark child {argv} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[128, 256])
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 4])
    ap.add_argument("--amp", nargs="+", choices=["off", "on"], default=["off", "on"])
    ap.add_argument("--steps", type=int, default=5, help="timed steps per setting")
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--config", default=str(REPO / "configs" / "dwnet" / "fashion.yaml"))
    ap.add_argument("--work", default=str(REPO / "out" / "bench_train_speed"))
    ap.add_argument("--animate-frames", type=int, default=30, help="0 skips the animation benchmark")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("overrides", nargs="*", help="config overrides key.sub=value (e.g. model.ngf=16)")
    ap.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    ap.add_argument("--save", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--animate", help=argparse.SUPPRESS)
    ap.add_argument("--data", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child or args.animate:
        import torch

        torch.set_num_threads(args.threads)
        print(json.dumps(child_train(args) if args.child else child_animate(args)))
        return
    work = Path(args.work)
    data = prepared(work, max(args.sizes))
    common = ["--config", args.config, "--work", str(work), "--data", str(data), "--steps", str(args.steps),
              "--warmup", str(args.warmup), "--threads", str(args.threads), *args.overrides]
    rows = []
    for size in args.sizes:
        for batch in args.batches:
            for amp in args.amp:
                save = size == max(args.sizes) and batch == args.batches[0] and amp == args.amp[0]
                rows.append(run_child(["--child", str(size), str(batch), amp, *(["--save"] if save else []),
                                       *common], args.threads))
                print(json.dumps(rows[-1]), file=sys.stderr)
    ckpt = next(r["checkpoint"] for r in rows if r["checkpoint"])
    anim = None
    if args.animate_frames > 0:
        anim = run_child(["--animate", ckpt, "--animate-frames", str(args.animate_frames), *common], args.threads)
    for r in rows:
        r.pop("checkpoint")
    print(json.dumps({"benchmark": "dwnet_train_speed", "machine": {**machine(), "threads": args.threads},
                      "settings": {"config": os.path.relpath(args.config, REPO), "overrides": args.overrides,
                                   "warmup": args.warmup, "timed_steps": args.steps,
                                   "data": "tfjs_pose_1.mp4 frames 0-89"},
                      "train": rows, "animate": anim}, indent=1))


if __name__ == "__main__":
    main()
