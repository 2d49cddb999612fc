"""Training steps of the tiny configs on one torch thread against two, in turn, in one process.

Each method's ``configs/<method>/tiny.yaml`` (its first stage; the decoupled method's stage II, its encoders
and restorer counted as trained) takes one batch of the real 64x64 clip (``tfjs_pose_1.mp4`` prepared
into ``--work`` as tests/conftest.py's ``tiny_data``; PSGAN: three DeepMimic actions, 16-frame windows) and
runs ``train_step`` ``--rounds`` times on each thread count, alternating (1, 2, 2, 1, ...): the least and
the median seconds of a step after the first two of each (the machine is shared; run it alone, or under
``chrt -f 10`` for the numbers of an otherwise idle machine). ``train.amp`` as in the config (bf16 autocast
for all but DwNet). The tests' training fixtures take one thread from this (``tests/conftest.one_thread``).

Prints JSON: machine and load before and after, settings, per method.
Run: ``python -m benchmarks.train_threads [--methods pg2 scgan psgan decoupled dwnet] [--rounds 8]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

from benchmarks.pose_inputs import DATA, REPO, machine

METHODS = ("pg2", "scgan", "psgan", "decoupled", "dwnet")
# SCGAN's stage II without its pose network's semantic loss; the decoupled method's stage II.
OVERRIDES = {"scgan": ["model.lambda_sem=0"], "decoupled": ["model.stage=generator"]}


def data_for(kind: str, work: Path) -> Path:
    """The prepared clip (or, for motion, the mocap windows) under ``work``, made when missing."""
    if kind == "motion":
        from posevid.data.motion import write_motion_dataset

        root = work / "motion"
        if not (root / "index.json").is_file():
            clips = [DATA / "mocap" / "deepmimic" / f"humanoid3d_{a}.txt" for a in ("walk", "crawl", "cartwheel")]
            write_motion_dataset(clips, root, frames=16, yaws=(0, 90))
        return root
    from posevid.data.prepare import prepare

    root = work / "tiny"
    if not (root / "index.json").is_file():
        _, errors = prepare([REPO / "assets" / "tfjs_pose_1.mp4"], root, size=64, test_frames="90:120",
                            show_progress=False)
        if errors:
            raise SystemExit(f"prepare failed: {errors}")
    return root


def step_seconds(name: str, work: Path, rounds: int) -> dict:
    """Seconds of ``rounds`` training steps of ``name``'s tiny config on 1 and on 2 threads, in turn."""
    import torch
    from torch.utils.data import default_collate

    from posevid.config import load_config
    from posevid.data.datasets import build_dataset
    from posevid.methods import build_method

    cfg = load_config(REPO / "configs" / name / "tiny.yaml", OVERRIDES.get(name, []))
    torch.manual_seed(0)
    method = build_method(cfg)
    if name == "decoupled":
        method.stage_steps[:2] = 1
    data = build_dataset(cfg["data"], data_for(cfg["data"]["kind"], work), "train")
    batch = default_collate([data[i] for i in range(int(cfg["train"]["batch_size"]))])
    method.train()
    seconds: dict[int, list[float]] = {1: [], 2: []}
    for r in range(rounds):
        for threads in (1, 2) if r % 2 else (2, 1):
            torch.set_num_threads(threads)
            start = time.perf_counter()
            method.train_step(batch)
            seconds[threads].append(time.perf_counter() - start)
    timed = {n: s[2:] for n, s in seconds.items()}
    return {"amp": cfg["train"].get("amp"), "batch": int(cfg["train"]["batch_size"]),
            **{f"min_s_{n}_thread{'s' * (n > 1)}": round(min(s), 4) for n, s in timed.items()},
            **{f"median_s_{n}_thread{'s' * (n > 1)}": round(statistics.median(s), 4) for n, s in timed.items()},
            "two_over_one_min": round(min(timed[2]) / min(timed[1]), 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    ap.add_argument("--rounds", type=int, default=8, help="steps per thread count, the first two untimed")
    ap.add_argument("--work", default=str(REPO / "out" / "bench_train_threads"))
    args = ap.parse_args()
    work = Path(args.work)
    before = machine()
    rows = {name: step_seconds(name, work, args.rounds) for name in args.methods}
    print(json.dumps({"benchmark": "train_threads", "machine": before,
                      "load_average_1m_after": os.getloadavg()[0],
                      "settings": {"rounds": args.rounds, "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY")},
                      "methods": rows}, indent=2))


if __name__ == "__main__":
    main()
