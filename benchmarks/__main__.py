"""Run every benchmark script and collect their JSON: ``python -m benchmarks [--only NAME ...]``.

Each ``benchmarks/<name>.py`` runs as ``python -m benchmarks.<name>`` in its own subprocess (so peak
memory and thread settings are its own) and must print one JSON object on stdout. The collected
results go to ``benchmarks/results/<YYYY-MM-DD>.json``: per script its exit code, wall seconds, the
parsed JSON (or the error output when it failed); entries of that day's file from scripts not run
this time are kept. Exit code 1 if any script run failed.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


NOT_BENCHMARKS = {"gallery", "fomm_reference"}  # documentation makers and helper modules, not measurements


def scripts() -> list[str]:
    """Module names of the benchmark scripts, sorted."""
    return sorted(p.stem for p in HERE.glob("*.py") if not p.stem.startswith("_") and p.stem not in NOT_BENCHMARKS)


def parse_json(stdout: str) -> dict | None:
    """The JSON object a script printed: the whole output, or the last object starting a line."""
    text = stdout.strip()
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        pass
    decoder = json.JSONDecoder()
    starts = [i for i, ch in enumerate(text) if ch == "{" and (i == 0 or text[i - 1] == "\n")]
    for start in reversed(starts):
        try:
            return decoder.raw_decode(text, start)[0]
        except json.JSONDecodeError:
            continue
    return None


def run(name: str, timeout: float) -> dict:
    """Run one script; its exit code, seconds, and parsed JSON or the tail of its error output."""
    start = time.perf_counter()
    try:
        # Idle OpenMP threads sleep instead of spinning: on a shared CPU spinning distorts every timing.
        env = {"OMP_WAIT_POLICY": "PASSIVE", **os.environ}
        proc = subprocess.run([sys.executable, "-m", f"benchmarks.{name}"], cwd=REPO, capture_output=True,
                              text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return {"returncode": None, "seconds": time.perf_counter() - start, "error": f"timed out after {timeout} s"}
    entry: dict = {"returncode": proc.returncode, "seconds": round(time.perf_counter() - start, 2)}
    result = parse_json(proc.stdout) if proc.returncode == 0 else None
    if result is None:
        entry["error"] = (proc.stderr.strip() or proc.stdout.strip() or "printed no JSON")[-2000:]
    else:
        entry["result"] = result
    return entry


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", metavar="NAME", help="Run only these scripts.")
    parser.add_argument("--timeout", type=float, default=3600.0, help="Seconds allowed per script.")
    parser.add_argument("--out", type=Path, default=None, help="Results file (default results/<date>.json).")
    args = parser.parse_args(argv)
    names = scripts()
    unknown = sorted(set(args.only or []) - set(names))
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; known: {', '.join(names)}")
    results = {}
    for name in args.only or names:
        print(f"benchmarks.{name} ...", file=sys.stderr, flush=True)
        results[name] = run(name, args.timeout)
        status = "ok" if "result" in results[name] else "FAILED"
        print(f"benchmarks.{name}: {status} in {results[name]['seconds']:.1f} s", file=sys.stderr, flush=True)
    today = datetime.date.today().isoformat()
    out = args.out or HERE / "results" / f"{today}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.is_file():  # keep the day's other benchmarks: a run with --only replaces just its own entries
        results = {**json.loads(out.read_text()).get("benchmarks", {}), **results}
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(json.dumps({"date": today, "benchmarks": results}, indent=2) + "\n")
    tmp.replace(out)
    print(out)
    return 0 if all("result" in results[name] for name in args.only or names) else 1


if __name__ == "__main__":
    sys.exit(main())
