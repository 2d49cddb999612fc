"""Speed and memory of ``posevid animate`` with the warp method on the bundled demo clip, per output size.

The bundled photo (399x640) is animated with the defaults at each of ``--sizes`` (the result's longer
side: 160x256 and 320x512 by default). Prints JSON: machine, settings, and per size the medians over
``--repeats`` runs of frames/s end to end and per stage (decode, estimate, retarget, warp, encode), plus
peak RSS with the driving clip looped 1x and ``--loops`` times (at the first size).
Each run is a fresh subprocess so that its peak RSS (``ru_maxrss``) is its own. ``cpu_ms_per_frame``
(process CPU time, all threads) is less sensitive than wall time to other jobs on a shared machine.
Decoding and pose estimation run in a worker thread beside warping and encoding, so the per-stage
times add up to more than the wall time. ``--against DIR`` (another checkout of posevid, e.g. a
``git worktree`` of an older commit) runs that checkout's code the same way, alternating run by run, and
reports it beside this one (``against``), so the machine's load weighs on both alike.
Run: ``python -m benchmarks.animate_speed [--repeats 3] [--against DIR]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SOURCE = REPO / "assets" / "tfexamples_image2.jpeg"
DRIVING = REPO / "assets" / "tfjs_pose_1.mp4"
SIZES = (256, 512)
STAGES = ("decode", "estimate", "retarget", "warp", "encode")


def machine() -> dict:
    """CPU model, cores, load, library versions."""
    import torch

    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor())
    return {"cpu": model, "cores": os.cpu_count(), "affinity": len(os.sched_getaffinity(0)),
            "load_average_1m": os.getloadavg()[0], "python": platform.python_version(), "torch": torch.__version__,
            "torch_threads": torch.get_num_threads(), "shared_machine": True}


def child(driving: str, out: str, size: str) -> dict:
    """One animation in this process: wall time, frames, stage seconds, peak RSS (MiB)."""
    from posevid.pipeline import animate_to_file

    timings: dict[str, float] = {}
    start, cpu = time.perf_counter(), time.process_time()
    frames = animate_to_file(SOURCE, driving, out, size=int(size), show_progress=False, timings=timings)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    return {"frames": frames, "seconds": wall, "cpu_seconds": cpu, "timings": timings,
            "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def run_child(driving: Path, out: Path, size: int, root: Path = REPO) -> dict:
    """One animation in a fresh process running the code of the checkout at ``root``."""
    cmd = [sys.executable, "-m", "benchmarks.animate_speed", "--child", str(driving), str(out), str(size)]
    env = {**os.environ, "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "PASSIVE"),  # as the CLI sets it
           "PYTHONPATH": str(root / "src")}
    done = subprocess.run(cmd, cwd=root, check=True, capture_output=True, text=True, env=env)
    return json.loads(done.stdout.strip().splitlines()[-1])


def looped(times: int, folder: Path) -> Path:
    """The demo clip played ``times`` times in a row, re-encoded (streamed, one frame at a time)."""
    from posevid.video import VideoWriter, open_video

    path = folder / f"loop{times}.mp4"
    with open_video(DRIVING) as reader, VideoWriter(path, reader.fps) as writer:
        for _ in range(times):
            for frame in reader:
                writer.write(frame)
    return path


def summary(runs: list[dict]) -> dict:
    """Medians over runs of one size: frames/s end to end and per stage, CPU ms per frame, peak RSS."""
    med = {key: statistics.median(r[key] for r in runs) for key in ("seconds", "cpu_seconds", "peak_rss_mib")}
    frames = runs[0]["frames"]
    stage_ms = {s: statistics.median(1000 * r["timings"].get(s, 0.0) / r["frames"] for r in runs) for s in STAGES}
    return {"frames": frames, "median": {
        "fps_end_to_end": frames / med["seconds"], "seconds": med["seconds"],
        "cpu_ms_per_frame": 1000 * med["cpu_seconds"] / frames, "ms_per_frame": stage_ms,
        "fps_per_stage": {s: 1000 / v for s, v in stage_ms.items() if v > 0}, "peak_rss_mib": med["peak_rss_mib"]},
        "runs_fps": [r["frames"] / r["seconds"] for r in runs]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="runs of the 1x clip for the speed medians")
    parser.add_argument("--loops", type=int, default=10, help="length of the long clip, in loops of the demo clip")
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES), help="the results' longer sides")
    parser.add_argument("--against", type=Path, help="another posevid checkout, run alternately beside this one")
    parser.add_argument("--child", nargs=3, metavar=("DRIVING", "OUT", "SIZE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(*args.child)))
        return
    from posevid.photo import frame_size
    from posevid.video import read_image

    height, width = read_image(SOURCE).shape[:2]
    roots = {"this": REPO} | ({"against": args.against.resolve()} if args.against else {})
    report: dict = {"machine": machine(), "settings": {
        "method": "warp", "mode": "default", "smooth": True, "source": f"{SOURCE.name} ({width}x{height})",
        "driving": f"{DRIVING.name} (576x576, 30 fps)", "repeats": args.repeats, "sizes": args.sizes,
        "output": "mp4 libx264 crf 18 veryfast", "checkouts": {k: str(v) for k, v in roots.items()}},
        "per_size": {}}
    runs: dict = {(name, size): [] for name in roots for size in args.sizes}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        short = looped(1, folder)
        for _ in range(args.repeats):  # sizes and checkouts alternate run by run: the load weighs on each alike
            for size in args.sizes:
                for name, root in roots.items():
                    runs[name, size].append(run_child(short, folder / "out.mp4", size, root))
        long = run_child(looped(args.loops, folder), folder / "out_long.mp4", args.sizes[0])
    for size in args.sizes:
        entry = {"frame": "x".join(map(str, frame_size(width, height, size))), **summary(runs["this", size])}
        if args.against:
            entry["against"] = summary(runs["against", size])
        report["per_size"][size] = entry
    first = report["per_size"][args.sizes[0]]
    ratio = long["peak_rss_mib"] / first["median"]["peak_rss_mib"]
    report["memory"] = {"size": args.sizes[0], "loops": [1, args.loops], "frames": [first["frames"], long["frames"]],
                        "peak_rss_mib": [first["median"]["peak_rss_mib"], long["peak_rss_mib"]], "ratio": ratio,
                        "within_10_percent": abs(ratio - 1) <= 0.10, "fps_long": long["frames"] / long["seconds"]}
    report["machine"]["load_average_1m_end"] = os.getloadavg()[0]
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
