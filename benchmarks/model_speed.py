"""Frames/s of a trained method's animator per inference backend and precision, beside first-order-model.

    python -m benchmarks.model_speed [--method dwnet] [--config configs/dwnet/fashion.yaml] [--size 256]
        [--frames 10] [--threads 1] [--variants torch-fp32 torch onnx openvino onnx-int8 openvino-int8]
        [--set KEY=VALUE ...] [--no-fomm] [--no-isolated] [--calibration-frames 8] [--rounds 1]
        [--work out/bench_model_speed]

The method is built from ``--config`` at ``--size`` with random weights (seed 0; step counters set so that
every stage animates) and saved once; every variant loads that checkpoint in its own subprocess (so that
its peak RSS is its own) and animates the bundled photo with the bundled dancing clip's poses (estimated
and retargeted once, as ``posevid animate`` does), ``--frames`` frames after one warm-up frame. Variants:
``torch-fp32`` (the method's own animator as training leaves it), ``torch`` (``inference.prepare``: folded
norms, bf16 and channels-last where the CPU has native bf16), ``onnx`` (ONNX Runtime fp32), ``openvino``
(bf16 where native), ``*-int8`` (``posevid export --int8``, calibrated on ``--calibration-frames`` frames of
the same clip; its quality against fp32 is reported, not enforced, since the weights are random).

first-order-model (``benchmarks/fomm_reference.py``: its key-point detector and generator at the TaiChi-256
configuration, random weights) animates the same photo with the same clip's driving frames: per frame the
detector on the driving frame and the generator, as its ``demo.py`` does (fp32, and bf16 autocast as a
reference); ``--no-fomm`` leaves it out.

Two measurements: ``isolated`` (every variant in its own subprocess: fps, CPU seconds per frame, peak RSS,
RSS growth from the second to the last frame; ``--no-isolated`` skips it) and ``side_by_side`` (one
process, ``--threads`` threads, every variant and first-order-model loaded together and stepped in turn,
frame by frame, so that the machine's load falls on all of them alike: the fps ratios to first-order-model
come from here).

Prints one JSON object: machine (with its load at the start and the end), settings, both measurements,
PSNR of the frames against torch-fp32 (the first frame, and all: DwNet and the decoupled method feed each
frame back, and with random weights that feedback amplifies any difference from frame to frame, so only
the first frame measures the arithmetic; tests/test_inference.py and ``posevid export --int8`` measure
trained models), and each variant's fps ratio to first-order-model fp32 (wall clock and CPU time).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
PHOTO = REPO / "assets" / "tfexamples_image2.jpeg"
CLIP = REPO / "assets" / "tfjs_pose_1.mp4"
VARIANTS = ("torch-fp32", "torch", "onnx", "openvino", "onnx-int8", "openvino-int8")
FOMM = ("fomm", "fomm-bf16")
FOMM_CONFIG = "first-order-model config/taichi-256.yaml (benchmarks/fomm_reference.py)"


def machine(threads: int) -> dict:
    """CPU, cores, affinity, load, versions."""
    import torch

    from posevid.inference import cpu

    versions = {"torch": torch.__version__}
    for name in ("onnxruntime", "openvino"):
        try:
            versions[name] = __import__(name).__version__
        except ImportError:
            pass
    return {"cpu": cpu.cpu_name(), "cores": os.cpu_count(), "affinity": cpu.usable_cores(),
            "bf16_native": cpu.bf16_native(), "int8_native": cpu.int8_native(), "threads": threads,
            "load_average_1m": round(os.getloadavg()[0], 2), "python": platform.python_version(), **versions}


def rss_mb() -> float:
    """Current resident set size in MB."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2 ** 20


def peak_rss_mb() -> float:
    """This process's peak resident set size in MB: VmHWM (``ru_maxrss`` would include the parent's peak,
    which Linux carries across fork and exec)."""
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM")) / 1024


def random_checkpoint(config: str, size: int, out: Path, overrides: list[str]) -> Path:
    """The method of ``config`` at ``size`` (and ``overrides``, ``key=value``) with random weights (seed 0)
    as a checkpoint."""
    import torch

    from posevid.checkpoints import save_checkpoint
    from posevid.config import load_config
    from posevid.methods import build_method

    cfg = load_config(config, [f"data.size={size}", *overrides])
    torch.manual_seed(0)
    method = build_method(cfg)
    for name, buf in method.named_buffers():  # step counters: every stage counts as trained
        if name.endswith("steps"):
            buf.fill_(1)
    path = out / "model.ckpt"
    save_checkpoint(path, {"config": cfg, "method": method.state_dict()})
    return path


def inputs(size: int, frames: int, out: Path) -> Path:
    """The photo cropped at ``size`` as ``posevid animate`` crops it for a trained method, its pose and
    mask, ``frames`` target poses (the clip's, retargeted and smoothed, looped if short) and the matching
    driving frames (for first-order-model)."""
    from posevid.inference.export import footage
    from posevid.poses import Poses
    from posevid.video import open_video

    (source, pose, mask), targets = footage(PHOTO, CLIP, size, frames)
    with open_video(CLIP) as reader:
        driving = [frame for frame, _ in zip(reader, targets)]
    reps = -(-frames // len(targets))
    targets, driving = (targets * reps)[:frames], (driving * reps)[:frames]
    poses = Poses.concat(targets)
    path = out / "inputs.npz"
    np.savez(path, source=source, mask=mask, src_xy=pose.xy, src_conf=pose.conf, xy=poses.xy, conf=poses.conf,
             width=poses.width, height=poses.height, driving=np.stack(driving))
    return path


def _poses(data, prefix: str = ""):
    from posevid.poses import Poses

    return Poses(data[f"{prefix}xy"], data[f"{prefix}conf"], int(data["width"]), int(data["height"]), 30.0)


class Player:
    """One variant ready to animate the benchmark's inputs: ``step(t)`` makes frame ``t`` (uint8)."""

    def __init__(self, args: argparse.Namespace, variant: str, data):
        self.variant, self.data = variant, data
        if variant in FOMM:
            self._start_fomm(variant == "fomm-bf16")
        else:
            self._start_method(args, variant)

    def _start_method(self, args: argparse.Namespace, variant: str) -> None:
        from posevid.checkpoints import load_method
        from posevid.inference import load_exported, use_backend

        backend, _, kind = variant.partition("-")
        if kind == "int8":
            method = load_exported(args.int8, backend, threads=args.threads)
        else:
            method = load_method(args.ckpt)
            if kind != "fp32":
                use_backend(method, backend, threads=args.threads, where="benchmark")
        self.backend, self.precision = method.engine.name, method.engine.precision
        self.poses = _poses(self.data)
        self.animator = method.animator()
        self.animator.reset(self.data["source"], _poses(self.data, "src_"), self.data["mask"])

    def _start_fomm(self, bf16: bool) -> None:
        import contextlib

        import torch

        from benchmarks.fomm_reference import FirstOrderModel

        torch.manual_seed(0)
        self.fomm = FirstOrderModel()
        self.backend, self.precision = "torch", "bf16" if bf16 else "fp32"
        self.amp = (lambda: torch.autocast("cpu", dtype=torch.bfloat16)) if bf16 else contextlib.nullcontext
        with self.amp():
            self.fomm.set_source(self._fomm_input(self.data["source"]))

    @staticmethod
    def _fomm_input(rgb: np.ndarray):
        """(1, 3, 256, 256) in [0, 1], as first-order-model's demo feeds its networks."""
        import cv2
        import torch

        rgb = cv2.resize(rgb, (256, 256), interpolation=cv2.INTER_AREA)
        return torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1)[None].float() / 255

    def step(self, t: int) -> np.ndarray:
        if hasattr(self, "fomm"):
            with self.amp():
                out = self.fomm.animate(self._fomm_input(self.data["driving"][t]))
            return (out[0].float().clamp(0, 1).permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
        return self.animator.step(self.poses[t])


def _row(variant: str, player: Player, times: list[float], cpu_times: list[float]) -> dict:
    """Medians over the timed frames (the first one is the warm-up)."""
    timed, cpu_timed = times[1:] or times, cpu_times[1:] or cpu_times
    return {"variant": variant, "backend": player.backend, "precision": player.precision, "frames": len(timed),
            "s_per_frame": round(statistics.median(timed), 4), "fps": round(1 / statistics.median(timed), 3),
            "cpu_s_per_frame": round(statistics.median(cpu_timed), 4)}


def child_variant(args: argparse.Namespace) -> dict:
    """Animate with one variant alone in this process; timings, memory and the frames (saved for the PSNR)."""
    import torch

    torch.set_num_threads(args.threads)
    data = np.load(args.inputs)
    player = Player(args, args.child, data)
    frames, times, cpu_times, rss = [], [], [], []
    for t in range(len(data["xy"])):
        t0, c0 = time.perf_counter(), time.process_time()
        frames.append(player.step(t))
        times.append(time.perf_counter() - t0)
        cpu_times.append(time.process_time() - c0)
        rss.append(rss_mb())
    if args.child not in FOMM:
        np.save(Path(args.work) / f"frames_{args.child}.npy", np.stack(frames))
    return {**_row(args.child, player, times, cpu_times), "peak_rss_mb": round(peak_rss_mb(), 1),
            "rss_first_frame_mb": round(rss[0], 1), "rss_last_frame_mb": round(rss[-1], 1),
            "rss_growth_mb": round(rss[-1] - rss[1 if len(rss) > 1 else 0], 1)}


def child_side_by_side(args: argparse.Namespace) -> dict:
    """Every variant loaded in this one process and stepped in turn, frame by frame (the order rotates
    each frame), so that load and thermal state fall on all alike."""
    import torch

    torch.set_num_threads(args.threads)
    data = np.load(args.inputs)
    names = args.side_variants
    players = {v: Player(args, v, data) for v in names}
    times: dict[str, list[float]] = {v: [] for v in names}
    cpu_times: dict[str, list[float]] = {v: [] for v in names}
    frames: dict[str, list[np.ndarray]] = {v: [] for v in names}
    for t in range(len(data["xy"])):
        for v in names[t % len(names):] + names[:t % len(names)]:
            t0, c0 = time.perf_counter(), time.process_time()
            frames[v].append(players[v].step(t))
            times[v].append(time.perf_counter() - t0)
            cpu_times[v].append(time.process_time() - c0)
    for v in names:
        if v not in FOMM:
            np.save(Path(args.work) / f"frames_side_{v}.npy", np.stack(frames[v]))
    return {v: _row(v, players[v], times[v], cpu_times[v]) for v in names}


def run_child(args: argparse.Namespace, variant: str, extra: list[str]) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "OMP_WAIT_POLICY": "PASSIVE",
           "POSEVID_CACHE": str(Path(args.work) / "cache"),  # the exports made for onnx / openvino stay in --work
           "PYTHONPATH": os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")])}
    cmd = [sys.executable, "-m", "benchmarks.model_speed", "--child", variant, "--threads", str(args.threads),
           "--work", str(args.work), *extra]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, env=env)
    if proc.returncode:
        raise SystemExit(f"benchmark child {variant} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def psnr(a: np.ndarray, b: np.ndarray) -> float | None:
    """PSNR in dB of uint8 frames; None for identical frames (JSON has no infinity)."""
    mse = float(((a.astype(np.float64) - b.astype(np.float64)) ** 2).mean())
    return round(10 * np.log10(255.0 ** 2 / mse), 2) if mse > 0 else None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--method", default="dwnet", help="the config's method (checked)")
    ap.add_argument("--config", default=str(REPO / "configs" / "dwnet" / "fashion.yaml"))
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--frames", type=int, default=10, help="timed frames (one more is the warm-up)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    ap.add_argument("--no-fomm", dest="fomm", action="store_false", help="leave first-order-model out")
    ap.add_argument("--no-isolated", dest="isolated", action="store_false",
                    help="skip the per-variant subprocess runs (peak RSS); measure side by side only")
    ap.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                    help="config overrides, e.g. model.stage=g2 (PG2's two-stage generator)")
    ap.add_argument("--calibration-frames", type=int, default=8, help="int8 calibration frames (as many held out)")
    ap.add_argument("--rounds", type=int, default=1, help="run every variant this many times; medians reported")
    ap.add_argument("--work", default=None, help="scratch folder (default: a temporary one)")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--ckpt", help=argparse.SUPPRESS)
    ap.add_argument("--int8", help=argparse.SUPPRESS)
    ap.add_argument("--inputs", help=argparse.SUPPRESS)
    ap.add_argument("--side-variants", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child_side_by_side(args) if args.child == "side-by-side" else child_variant(args)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        args.work = Path(args.work or tmp)
        args.work.mkdir(parents=True, exist_ok=True)
        report = run(args)
    print(json.dumps(report, indent=1))


def run(args: argparse.Namespace) -> dict:
    from posevid.config import load_config
    from posevid.inference.export import export_model

    method = load_config(args.config)["method"]
    if method != args.method:
        raise SystemExit(f"{args.config} configures {method!r}, not {args.method!r}")
    started = machine(args.threads)
    ckpt = random_checkpoint(args.config, args.size, args.work, args.set)
    data = inputs(args.size, args.frames + 1, args.work)
    common = ["--ckpt", str(ckpt), "--inputs", str(data)]
    int8 = {}
    if any(v.endswith("int8") for v in args.variants):
        path = args.work / "model_int8.onnx"
        meta = export_model(ckpt, path, int8=True, calibration=(PHOTO, CLIP),
                            calibration_frames=args.calibration_frames, min_psnr=0.0,
                            log=lambda msg: print(msg, file=sys.stderr))
        int8 = meta["int8"]
        common += ["--int8", str(path)]
    variants = list(args.variants) + (list(FOMM) if args.fomm else [])
    runs: dict[str, list[dict]] = {v: [] for v in variants}
    side: list[dict] = []
    for _ in range(args.rounds):
        if args.isolated:
            for variant in variants:
                runs[variant].append(run_child(args, variant, common))
                print(json.dumps(runs[variant][-1]), file=sys.stderr, flush=True)
        side.append(run_child(args, "side-by-side", [*common, "--side-variants", *variants]))
        print(json.dumps(side[-1]), file=sys.stderr, flush=True)
    report = {"benchmark": "model_speed", "machine": started,
              "settings": {"method": args.method, "config": os.path.relpath(args.config, REPO), "size": args.size,
                           "frames": args.frames, "threads": args.threads, "rounds": args.rounds,
                           "calibration_frames": args.calibration_frames, "overrides": args.set,
                           "weights": "random (seed 0)", "photo": PHOTO.name, "driving": CLIP.name,
                           "fomm": FOMM_CONFIG if args.fomm else None}}
    if args.isolated:
        report["isolated"] = medians(runs)
        add_psnr(report["isolated"], args.work, args.variants, "frames_")
    report["side_by_side"] = medians({v: [rows[v] for rows in side] for v in variants})
    add_psnr(report["side_by_side"], args.work, args.variants, "frames_side_")
    if args.fomm:
        rows = report["side_by_side"]
        fomm = rows["fomm"]
        report["fps_ratio_to_fomm"] = {v: round(rows[v]["fps"] / fomm["fps"], 3) for v in variants}
        report["cpu_ratio_to_fomm"] = {v: round(fomm["cpu_s_per_frame"] / rows[v]["cpu_s_per_frame"], 3)
                                       for v in variants}
    if int8:
        report["int8_export"] = int8
    report["load_average_1m_end"] = round(os.getloadavg()[0], 2)
    return report


def medians(runs: dict[str, list[dict]]) -> dict[str, dict]:
    """Per variant: the first round's row with the medians over the rounds."""
    results = {}
    for variant, rows in runs.items():
        row = dict(rows[0])
        for key in ("s_per_frame", "cpu_s_per_frame", "peak_rss_mb"):
            if key in row:
                row[key] = round(statistics.median(r[key] for r in rows), 4)
        row["fps"] = round(1 / row["s_per_frame"], 3)
        results[variant] = row
    return results


def add_psnr(results: dict[str, dict], work: Path, variants: list[str], prefix: str) -> None:
    """PSNR of each variant's frames (the last round's) against torch-fp32's, when that ran."""
    reference = work / f"{prefix}torch-fp32.npy"
    if not reference.is_file():
        return
    ref = np.load(reference)
    for variant in variants:
        frames = np.load(work / f"{prefix}{variant}.npy")
        results[variant]["psnr_vs_torch_fp32_db"] = {"first_frame": psnr(frames[0], ref[0]),
                                                     "all_frames": psnr(frames, ref)}


if __name__ == "__main__":
    main()
