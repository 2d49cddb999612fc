"""Speed and memory of ``posevid animate`` with the warp method on the bundled demo clip, per output size.

The bundled photo (399x640) is animated with the defaults at each of ``--sizes`` (the result's longer
side: 160x256 and 320x512 by default). Prints JSON: machine (with the load average at the start and the
end), settings, and per size the medians over ``--repeats`` runs of:
- ``cli``: what a user waits for: ``posevid animate PHOTO CLIP -o out.mp4 --size N`` in a fresh
  interpreter (start-up and imports included), wall seconds, frames/s and CPU ms per frame (the child's
  user + system time, all threads);
- ``median``: ``pipeline.animate_to_file`` in a process whose imports are done (the model load, the photo's
  rig and the whole clip included): frames/s, CPU ms per frame, wall ms per frame per stage (decode:
  decoding and shrinking the frames for the estimator, estimate, retarget, warp, encode; decoding,
  estimation and the rest run in three threads at once, so these add up to more than the wall time) and
  peak RSS;
- ``cpu_ms_per_frame_by_stage``: one more run with the threads replaced by inline calls, timed in CPU
  seconds of the process, so the stages add up (``startup``: the model load, the photo's pose, rig and
  clean plate, the estimator graphs: everything outside the per-frame stages);
plus ``startup``: per checkout, the median wall and CPU seconds of ``posevid animate PHOTO POSES -o x.mp4
--size 64`` with a two-frame pose file in a fresh interpreter (what comes before the frames: the
interpreter, imports, the command line, the photo's pose, rig and clean plate; the imports are what differ
between checkouts); peak RSS with the driving clip looped 1x and ``--loops`` times (at the first size), and a
``summary`` per size: frames/s in process and as the CLI against the issue's targets (15 at 256, 6 at 512).
Each run is a fresh subprocess so that its peak RSS (``ru_maxrss``) is its own. CPU per frame is less
sensitive than wall time to other jobs on a shared machine. ``--against DIR`` (another checkout of
posevid, e.g. a ``git worktree`` of an older commit) runs that checkout's code the same way, alternating
run by run, and reports it beside this one (``against``), so the machine's load weighs on both alike.
``--out FILE`` also writes the JSON there (e.g. ``benchmarks/results/``).
Run: ``python -m benchmarks.animate_speed [--repeats 3] [--against DIR] [--out FILE]`` (a few minutes).
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
import types
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SOURCE = REPO / "assets" / "tfexamples_image2.jpeg"
DRIVING = REPO / "assets" / "tfjs_pose_1.mp4"
SIZES = (256, 512)
TARGETS = {256: 15.0, 512: 6.0}  # frames/s end to end (issue 14)
STAGES = ("decode", "estimate", "retarget", "warp", "encode")


def machine() -> dict:
    """CPU model, cores, load, library versions."""
    import torch

    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor())
    return {"cpu": model, "cores": os.cpu_count(), "affinity": len(os.sched_getaffinity(0)),
            "load_average_1m": os.getloadavg()[0], "python": platform.python_version(), "torch": torch.__version__,
            "torch_threads": torch.get_num_threads(), "shared_machine": True}


def child(driving: str, out: str, size: str, inline: str = "") -> dict:
    """One animation in this process: wall time, frames, stage seconds, peak RSS (MiB). ``inline``: the
    driving frames are read in the main thread and the stages are timed in process CPU seconds."""
    from posevid import driving as driving_module
    from posevid import pipeline
    from posevid.methods import registry

    declared = getattr(registry, "method_spec", registry.method_class)  # an older checkout (--against): classes
    for name in registry.method_names():  # what the CLI imports before it animates (each method's options)
        declared(name)
    if inline:
        try:
            from posevid.prefetch import Inline

            pipeline.Prefetch = driving_module.Prefetch = Inline
        except ImportError:  # an older checkout (--against): its one worker thread goes
            pipeline.Animation._driving_poses = lambda self: iter(self.driving)
        pipeline.time = driving_module.time = types.SimpleNamespace(perf_counter=time.process_time)
    timings: dict[str, float] = {}
    start, cpu = time.perf_counter(), time.process_time()
    frames = pipeline.animate_to_file(SOURCE, driving, out, size=int(size), show_progress=False, timings=timings)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    return {"frames": frames, "seconds": wall, "cpu_seconds": cpu, "timings": timings,
            "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def _env(root: Path) -> dict:
    """The children's environment: ``root``'s code, bytecode cached as in an installed package."""
    env = {**os.environ, "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "PASSIVE"),  # as the CLI sets it
           "PYTHONPATH": str(root / "src")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def run_child(driving: Path, out: Path, size: int, root: Path = REPO, inline: bool = False) -> dict:
    """One animation in a fresh process running the code of the checkout at ``root``."""
    cmd = [sys.executable, "-m", "benchmarks.animate_speed", "--child", str(driving), str(out), str(size),
           "inline" if inline else ""]
    done = subprocess.run(cmd, cwd=REPO, check=True, capture_output=True, text=True, env=_env(root))
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_cli(driving: Path, out: Path, size: int, root: Path = REPO) -> dict:
    """``posevid animate`` as a user runs it, in a fresh interpreter: wall and CPU seconds (all threads)."""
    cmd = [sys.executable, "-m", "posevid", "animate", str(SOURCE), str(driving), "-o", str(out), "--size", str(size)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(cmd, cwd=root, check=True, capture_output=True, text=True, env=_env(root))
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {"seconds": wall, "cpu_seconds": after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime}


def looped(times: int, folder: Path) -> Path:
    """The demo clip played ``times`` times in a row, re-encoded (streamed, one frame at a time)."""
    from posevid.video import VideoWriter, open_video

    path = folder / f"loop{times}.mp4"
    with open_video(DRIVING) as reader, VideoWriter(path, reader.fps) as writer:
        for _ in range(times):
            for frame in reader:
                writer.write(frame)
    return path


def summary(runs: list[dict], clis: list[dict], profile: dict) -> dict:
    """Medians over runs of one size: frames/s end to end (in process and as the CLI) and per stage, CPU
    ms per frame (in all and per stage), peak RSS."""
    med = {key: statistics.median(r[key] for r in runs) for key in ("seconds", "cpu_seconds", "peak_rss_mib")}
    frames = runs[0]["frames"]
    stage_ms = {s: statistics.median(1000 * r["timings"].get(s, 0.0) / r["frames"] for r in runs) for s in STAGES}
    cli = {key: statistics.median(r[key] for r in clis) for key in ("seconds", "cpu_seconds")}
    by_stage = {s: 1000 * profile["timings"].get(s, 0.0) / frames for s in STAGES}
    by_stage["startup"] = 1000 * profile["cpu_seconds"] / frames - sum(by_stage.values())
    return {"frames": frames,
            "cli": {"fps_end_to_end": frames / cli["seconds"], "seconds": cli["seconds"],
                    "cpu_ms_per_frame": 1000 * cli["cpu_seconds"] / frames, "runs_fps": [frames / r["seconds"]
                                                                                       for r in clis]},
            "median": {"fps_end_to_end": frames / med["seconds"], "seconds": med["seconds"],
                       "cpu_ms_per_frame": 1000 * med["cpu_seconds"] / frames, "ms_per_frame": stage_ms,
                       "fps_per_stage": {s: 1000 / v for s, v in stage_ms.items() if v > 0},
                       "peak_rss_mib": med["peak_rss_mib"]},
            "runs_fps": [r["frames"] / r["seconds"] for r in runs],
            "cpu_ms_per_frame_by_stage": by_stage}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="runs of the 1x clip for the speed medians")
    parser.add_argument("--loops", type=int, default=3, help="length of the long clip, in loops of the demo clip")
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES), help="the results' longer sides")
    parser.add_argument("--against", type=Path, help="another posevid checkout, run alternately beside this one")
    parser.add_argument("--out", type=Path, help="also write the JSON to this file")
    parser.add_argument("--child", nargs=4, metavar=("DRIVING", "OUT", "SIZE", "INLINE"), help=argparse.SUPPRESS)
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
    from posevid.estimate import first_pose
    from posevid.posefiles import write_poses
    from posevid.poses import Poses

    runs: dict = {(name, size): [] for name in roots for size in args.sizes}
    starts: dict = {name: [] for name in roots}
    clis: dict = {(name, size): [] for name in roots for size in args.sizes}
    profiles: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        short = looped(1, folder)
        two = folder / "two.npz"
        write_poses(two, Poses.concat([first_pose(SOURCE)] * 2))
        for _ in range(args.repeats):  # sizes and checkouts alternate run by run: the load weighs on each alike
            for name, root in roots.items():
                starts[name].append(run_cli(two, folder / "start.mp4", 64, root))
            for size in args.sizes:
                for name, root in roots.items():
                    runs[name, size].append(run_child(short, folder / "out.mp4", size, root))
                    clis[name, size].append(run_cli(short, folder / "cli.mp4", size, root))
        for size in args.sizes:
            for name, root in roots.items():
                profiles[name, size] = run_child(short, folder / "out.mp4", size, root, inline=True)
        long = run_child(looped(args.loops, folder), folder / "out_long.mp4", args.sizes[0])
    for size in args.sizes:
        entry = {"frame": "x".join(map(str, frame_size(width, height, size))),
                 **summary(runs["this", size], clis["this", size], profiles["this", size])}
        if args.against:
            entry["against"] = summary(runs["against", size], clis["against", size], profiles["against", size])
        report["per_size"][size] = entry
    first = report["per_size"][args.sizes[0]]
    ratio = long["peak_rss_mib"] / first["median"]["peak_rss_mib"]
    report["memory"] = {"size": args.sizes[0], "loops": [1, args.loops], "frames": [first["frames"], long["frames"]],
                        "peak_rss_mib": [first["median"]["peak_rss_mib"], long["peak_rss_mib"]], "ratio": ratio,
                        "within_10_percent": abs(ratio - 1) <= 0.10, "fps_long": long["frames"] / long["seconds"]}
    report["startup"] = {name: {"seconds": statistics.median(r["seconds"] for r in done),
                                "cpu_seconds": statistics.median(r["cpu_seconds"] for r in done),
                                "runs_seconds": [r["seconds"] for r in done]} for name, done in starts.items()}
    report["machine"]["load_average_1m_end"] = os.getloadavg()[0]
    report["summary"] = {size: {  # the targets: 15 frames/s at 256, 6 at 512, end to end
        "target_fps": TARGETS.get(size), "fps_in_process": entry["median"]["fps_end_to_end"],
        "fps_cli": entry["cli"]["fps_end_to_end"], "cpu_ms_per_frame_cli": entry["cli"]["cpu_ms_per_frame"],
        "met_in_process": size in TARGETS and entry["median"]["fps_end_to_end"] >= TARGETS[size],
        "met_cli": size in TARGETS and entry["cli"]["fps_end_to_end"] >= TARGETS[size]}
        for size, entry in report["per_size"].items()}
    text = json.dumps(report, indent=2)
    if args.out:
        args.out.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
