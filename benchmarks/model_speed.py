"""Frames/s of a trained method's animator per inference backend and precision, beside first-order-model.

    python -m benchmarks.model_speed [--method dwnet] [--config configs/dwnet/fashion.yaml] [--size 256]
        [--frames 10] [--threads 1] [--variants torch-fp32 torch onnx openvino onnx-int8 openvino-int8]
        [--fomm PATH] [--rounds 1] [--work out/bench_model_speed]

The method is built from ``--config`` at ``--size`` with random weights (seed 0; step counters set so that
every stage animates) and saved once; every variant loads that checkpoint in its own subprocess (so that
its peak RSS is its own) and animates the bundled photo with the bundled dancing clip's poses (estimated
and retargeted once, as ``posevid animate`` does), ``--frames`` frames after one warm-up frame. Variants:
``torch-fp32`` (the method's own animator as training leaves it), ``torch`` (``inference.prepare``: folded
norms, bf16 and channels-last where the CPU has native bf16), ``onnx`` (ONNX Runtime fp32), ``openvino``
(bf16 where native), ``*-int8`` (``posevid export --int8``, calibrated on 8 frames of the same clip; its
quality against fp32 is reported, not enforced, since the weights are random).

``--fomm PATH``: a checkout of first-order-model (github.com/AliaksandrSiarohin/first-order-model, not part
of posevid) whose key-point detector and generator (``config/taichi-256.yaml``, random weights) animate the
same photo with the same clip's frames in the same run: per frame the detector on the driving frame and the
generator, as its ``demo.py`` does (fp32, and bf16 autocast as a reference).

Prints one JSON object: machine (with its load), settings, per variant fps (wall), CPU seconds per frame
(all threads), peak RSS, RSS growth from the second to the last frame (flat memory), PSNR of the frames
against torch-fp32 (the first frame, and all: DwNet and the decoupled method feed each frame back, and
with random weights that feedback amplifies any difference from frame to frame, so only the first frame
measures the arithmetic; tests/test_inference.py and ``posevid export --int8`` measure trained models);
the FOMM rows and each variant's fps ratio to FOMM fp32 (wall clock and CPU time).
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
FOMM_CONFIG = "config/taichi-256.yaml"


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


def random_checkpoint(config: str, size: int, out: Path) -> Path:
    """The method of ``config`` at ``size`` with random weights (seed 0) as a checkpoint."""
    import torch

    from posevid.checkpoints import save_checkpoint
    from posevid.config import load_config
    from posevid.methods import build_method

    cfg = load_config(config, [f"data.size={size}"])
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


def child_variant(args: argparse.Namespace) -> dict:
    """Animate with one variant; timings, memory and the frames (saved beside for the PSNR)."""
    import torch

    from posevid.checkpoints import load_method
    from posevid.inference import load_exported, use_backend

    torch.set_num_threads(args.threads)
    variant = args.child
    backend, _, int8 = variant.partition("-")
    if int8 == "int8":
        method = load_exported(args.int8, backend, threads=args.threads)
    else:
        method = load_method(args.ckpt)
        if int8 != "fp32":
            use_backend(method, backend, threads=args.threads, where="benchmark")
    engine = method.engine
    data = np.load(args.inputs)
    poses, src = _poses(data), _poses(data, "src_")
    animator = method.animator()
    animator.reset(data["source"], src, data["mask"])
    frames, times, cpu_times, rss = [], [], [], []
    for t in range(len(poses)):
        t0, c0 = time.perf_counter(), time.process_time()
        frames.append(animator.step(poses[t]))
        times.append(time.perf_counter() - t0)
        cpu_times.append(time.process_time() - c0)
        rss.append(rss_mb())
    np.save(Path(args.work) / f"frames_{variant}.npy", np.stack(frames))
    timed, cpu_timed = times[1:] or times, cpu_times[1:] or cpu_times
    return {"variant": variant, "backend": engine.name, "precision": engine.precision,
            "frames": len(timed), "s_per_frame": round(statistics.median(timed), 4),
            "fps": round(1 / statistics.median(timed), 3), "cpu_s_per_frame": round(statistics.median(cpu_timed), 4),
            "peak_rss_mb": round(peak_rss_mb(), 1), "rss_first_frame_mb": round(rss[0], 1),
            "rss_last_frame_mb": round(rss[-1], 1), "rss_growth_mb": round(rss[-1] - rss[1 if len(rss) > 1 else 0], 1)}


def child_fomm(args: argparse.Namespace) -> dict:
    """first-order-model's detector + generator per frame on the same photo and clip (random weights)."""
    import contextlib
    import warnings

    import cv2
    import torch
    import yaml

    warnings.simplefilter("ignore")
    torch.set_num_threads(args.threads)
    sys.path.insert(0, str(Path(args.fomm).resolve()))
    from modules.generator import OcclusionAwareGenerator  # noqa: I001  (from the first-order-model checkout)
    from modules.keypoint_detector import KPDetector

    with open(Path(args.fomm) / FOMM_CONFIG) as f:
        params = yaml.safe_load(f)["model_params"]
    torch.manual_seed(0)
    generator = OcclusionAwareGenerator(**params["generator_params"], **params["common_params"]).eval()
    detector = KPDetector(**params["kp_detector_params"], **params["common_params"]).eval()
    data = np.load(args.inputs)

    def tensor(rgb: np.ndarray) -> torch.Tensor:  # FOMM's input: (1, 3, 256, 256) in [0, 1]
        rgb = cv2.resize(rgb, (256, 256), interpolation=cv2.INTER_AREA)
        return torch.from_numpy(rgb).permute(2, 0, 1)[None].float() / 255

    bf16 = args.child == "fomm-bf16"
    amp = torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()
    times, cpu_times, rss = [], [], []
    with torch.no_grad(), amp:
        source = tensor(data["source"])
        kp_source = detector(source)
        for frame in data["driving"]:
            t0, c0 = time.perf_counter(), time.process_time()
            out = generator(source, kp_source=kp_source, kp_driving=detector(tensor(frame)))["prediction"]
            out.float().numpy()
            times.append(time.perf_counter() - t0)
            cpu_times.append(time.process_time() - c0)
            rss.append(rss_mb())
    timed, cpu_timed = times[1:], cpu_times[1:]
    return {"variant": args.child, "config": FOMM_CONFIG, "precision": "bf16" if bf16 else "fp32",
            "frames": len(timed), "s_per_frame": round(statistics.median(timed), 4),
            "fps": round(1 / statistics.median(timed), 3), "cpu_s_per_frame": round(statistics.median(cpu_timed), 4),
            "peak_rss_mb": round(peak_rss_mb(), 1), "rss_growth_mb": round(rss[-1] - rss[1], 1)}


def run_child(args: argparse.Namespace, variant: str, extra: list[str]) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "OMP_WAIT_POLICY": "PASSIVE",
           "PYTHONPATH": os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")])}
    cmd = [sys.executable, "-m", "benchmarks.model_speed", "--child", variant, "--threads", str(args.threads),
           "--work", str(args.work), *extra]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, env=env)
    if proc.returncode:
        raise SystemExit(f"benchmark child {variant} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(((a.astype(np.float64) - b.astype(np.float64)) ** 2).mean())
    return round(10 * np.log10(255.0 ** 2 / mse), 2) if mse > 0 else float("inf")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--method", default="dwnet", help="the config's method (checked)")
    ap.add_argument("--config", default=str(REPO / "configs" / "dwnet" / "fashion.yaml"))
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--frames", type=int, default=10, help="timed frames (one more is the warm-up)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    ap.add_argument("--fomm", default=os.environ.get("POSEVID_FOMM"), help="first-order-model checkout")
    ap.add_argument("--rounds", type=int, default=1, help="run every variant this many times; medians reported")
    ap.add_argument("--work", default=None, help="scratch folder (default: a temporary one)")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--ckpt", help=argparse.SUPPRESS)
    ap.add_argument("--int8", help=argparse.SUPPRESS)
    ap.add_argument("--inputs", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child_fomm(args) if args.child.startswith("fomm") else child_variant(args)))
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
    ckpt = random_checkpoint(args.config, args.size, args.work)
    data = inputs(args.size, args.frames + 1, args.work)
    common = ["--ckpt", str(ckpt), "--inputs", str(data)]
    int8 = {}
    if any(v.endswith("int8") for v in args.variants):
        path = args.work / "model_int8.onnx"
        meta = export_model(ckpt, path, int8=True, calibration=(PHOTO, CLIP), calibration_frames=8, min_psnr=0.0,
                            log=lambda msg: print(msg, file=sys.stderr))
        int8 = meta["int8"]
        common += ["--int8", str(path)]
    variants = list(args.variants) + (["fomm", "fomm-bf16"] if args.fomm else [])
    runs: dict[str, list[dict]] = {v: [] for v in variants}
    for _ in range(args.rounds):
        for variant in variants:
            extra = ["--fomm", args.fomm, "--inputs", str(data)] if variant.startswith("fomm") else common
            runs[variant].append(run_child(args, variant, extra))
            print(json.dumps(runs[variant][-1]), file=sys.stderr, flush=True)
    results = {}
    for variant, rows in runs.items():
        row = dict(rows[0])
        for key in ("s_per_frame", "cpu_s_per_frame", "peak_rss_mb"):
            row[key] = round(statistics.median(r[key] for r in rows), 4)
        row["fps"] = round(1 / row["s_per_frame"], 3)
        results[variant] = row
    reference = args.work / "frames_torch-fp32.npy"
    if reference.is_file():
        ref = np.load(reference)
        for variant in args.variants:
            frames = np.load(args.work / f"frames_{variant}.npy")
            results[variant]["psnr_vs_torch_fp32_db"] = {"first_frame": psnr(frames[0], ref[0]),
                                                         "all_frames": psnr(frames, ref)}
    report = {"benchmark": "model_speed", "machine": started,
              "settings": {"method": args.method, "config": os.path.relpath(args.config, REPO), "size": args.size,
                           "frames": args.frames, "threads": args.threads, "rounds": args.rounds,
                           "weights": "random (seed 0)", "photo": PHOTO.name, "driving": CLIP.name,
                           "fomm": f"{FOMM_CONFIG} of {args.fomm}" if args.fomm else None},
              "results": results, "load_average_1m_end": round(os.getloadavg()[0], 2)}
    if int8:
        report["int8_export"] = int8
    if "fomm" in results:
        base = results["fomm"]["fps"]
        report["fps_ratio_to_fomm"] = {v: round(results[v]["fps"] / base, 3) for v in args.variants}
        report["cpu_ratio_to_fomm"] = {v: round(results["fomm"]["cpu_s_per_frame"] / results[v]["cpu_s_per_frame"], 3)
                                       for v in args.variants}
    return report


if __name__ == "__main__":
    main()
