"""The ``reconstruction`` protocol (first-order-model / TPSMM) on the real clips of ../shared/data (issue 17).

1. Prepare the real dance / exercise videos at ``--size`` (64, the tiny config's size): of each video the
   last ``--test-frames`` frames are its test clip, the frames before them its training clip.
2. Train DwNet's tiny config (``configs/dwnet/tiny.yaml``) for ``--steps`` (500) on the training clips.
3. Run ``posevid.protocols.run_protocol("reconstruction", ...)`` with the untrained warp method and with
   the DwNet checkpoint: each test clip rebuilt from its frame 0, driven by its own poses; L1, AKD, MKR
   (AED is reported missing: no re-identification network offline), plus ST-LPIPS.

    python -m benchmarks.reconstruction_protocol [--size 64] [--test-frames 30] [--steps 500]
        [--work out/bench_protocol] [--threads 2] [key=value ...]

Prints one JSON object: machine and load, settings, training summary, and per method the protocol's
numbers, the seconds it took, and the published FOMM row beside them (Tai-Chi-HD, not these clips).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data" / "videos"
# video -> its frame count; its last --test-frames frames are the test clip, the frames before the training clip.
VIDEOS = {"tfjs_pose_1.mp4": 120, "tfjs_pose_squats.mp4": 65, "animatex_dance_2.mp4": 208, "animatex_dance_3.mp4": 153}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--test-frames", type=int, default=30)
    ap.add_argument("--steps", type=int, default=500, help="DwNet training steps")
    ap.add_argument("--work", default=str(REPO / "out" / "bench_protocol"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("overrides", nargs="*", help="overrides of configs/dwnet/tiny.yaml, key.sub=value")
    args = ap.parse_args()

    import torch

    from posevid.config import load_config
    from posevid.data.prepare import prepare
    from posevid.protocols import run_protocol
    from posevid.train import train

    torch.set_num_threads(args.threads)
    work = Path(args.work)
    data = work / f"data{args.size}"
    for name, length in VIDEOS.items():
        start = length - args.test_frames
        _, errors = prepare([SHARED / name], data, size=args.size, test_frames=f"{start}:{length}",
                            test_fraction=0.0, show_progress=False)
        if errors:
            raise SystemExit(f"prepare failed: {errors}")
    cfg = load_config(REPO / "configs" / "dwnet" / "tiny.yaml",
                      [f"data.size={args.size}", f"train.steps={args.steps}", f"train.checkpoint_every={args.steps}",
                       "train.tensorboard=false", *args.overrides])
    run = work / "dwnet_tiny"
    shutil.rmtree(run, ignore_errors=True)
    t0 = time.perf_counter()
    trained = train(cfg, data, run, show_progress=False, log=lambda msg: None)
    train_minutes = (time.perf_counter() - t0) / 60

    results = {}
    for label, kwargs in (("warp", {"method": "warp"}), ("dwnet_tiny", {"checkpoint": run})):
        t0 = time.perf_counter()
        result = run_protocol("reconstruction", data, **kwargs)
        results[label] = {"ours": result.ours, "seconds": round(time.perf_counter() - t0, 1),
                          "frames": result.meta["frames"]["paired"], "clips": result.meta["items"]}
    published = [{"method": r.method, "dataset": r.dataset, "source": r.source, "values": r.values}
                 for r in result.protocol.published]
    out = {"benchmark": "reconstruction_protocol",
           "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform(), "torch": torch.__version__,
                       "threads": args.threads, "loadavg_end": list(os.getloadavg())},
           "settings": {"videos": list(VIDEOS), "size": args.size, "test_frames_per_video": args.test_frames,
                        "config": "configs/dwnet/tiny.yaml", "steps": args.steps, "overrides": args.overrides},
           "training": {"steps": trained["step"], "minutes": round(train_minutes, 2),
                        "final_losses": {k: round(v, 4) for k, v in trained["losses"].items()}},
           "results": results, "published": published,
           "note": "published numbers are on Tai-Chi-HD at 256x256 with OpenPose keypoints; these clips are "
                   f"{args.size}x{args.size} with BlazePose keypoints: a reference, not a comparison"}
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
