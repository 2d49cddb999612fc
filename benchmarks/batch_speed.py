"""Many inputs at once: 3 photos x 2 driving clips in one ``posevid animate`` call against 6 separate calls.

One call loads the model and the pose estimator once and estimates each clip's poses once; separate
calls pay the start-up, the model and the estimation for every pair. Both run as fresh processes of the
CLI, one after the other (so the machine's load weighs on both alike), with the warp method at
``--size``. Prints JSON: machine and load, settings, the seconds of each way and the speed-up.
Run: ``python -m benchmarks.batch_speed [--size 256] [--frames 60]``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
PHOTOS = ("images/tfexamples_image2.jpeg", "images/animateanyone_anyone-11.png", "images/animateanyone_anyone-3.png")
CLIPS = ("videos/tfjs_pose_1.mp4", "videos/animatex_dance_3.mp4")


def machine() -> dict:
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor())
    return {"cpu": model, "cores": os.cpu_count(), "load_average_1m": os.getloadavg()[0],
            "python": platform.python_version(), "shared_machine": True}


def cut(source: Path, out: Path, frames: int) -> Path:
    """The first ``frames`` frames of a clip (so the benchmark stays short)."""
    from posevid.video import VideoWriter, open_video

    with open_video(source) as reader, VideoWriter(out, reader.fps) as writer:
        for frame in itertools.islice(reader, frames):
            writer.write(frame)
    return out


def cli(*args: str) -> float:
    """Seconds one ``posevid`` CLI process takes (it must succeed)."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "posevid", *args], cwd=REPO, check=True, capture_output=True, text=True,
                   env={**os.environ, "OMP_WAIT_POLICY": "PASSIVE"})
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--frames", type=int, default=60, help="frames of each driving clip")
    args = parser.parse_args()
    photos = [str(DATA / p) for p in PHOTOS]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        clips = [str(cut(DATA / c, folder / Path(c).name, args.frames)) for c in CLIPS]
        load_before = os.getloadavg()[0]
        separate = sum(cli("animate", p, c, "-o", str(folder / "one" / f"{Path(p).stem}_{Path(c).stem}.mp4"),
                           "--size", str(args.size)) for p in photos for c in clips)
        together = cli("animate", *photos, *clips, "-o", str(folder / "batch"), "--size", str(args.size))
        written = sorted(p.name for p in (folder / "batch").iterdir())
    print(json.dumps({"machine": {**machine(), "load_average_1m_start": load_before},
                      "settings": {"photos": list(PHOTOS), "clips": list(CLIPS), "frames_per_clip": args.frames,
                                   "size": args.size, "method": "warp"},
                      "separate_calls_s": round(separate, 2), "one_call_s": round(together, 2),
                      "speedup": round(separate / together, 3), "outputs": written}, indent=2))


if __name__ == "__main__":
    main()
