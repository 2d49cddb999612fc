"""Long input: a 10,000-frame driving pose sequence animates with the warp method (64x64, written to mp4)
with flat memory and a constant number of open file descriptors.

The animation runs in a fresh subprocess that samples its own resident set size (``/proc/self/statm``) and
open descriptors (``/proc/self/fd``) as frames are written; the test checks the growth between an early
frame (after warm-up) and the last. The default run does 1,000 frames; ``-m slow`` 10,000.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from posevid.posefiles import COCO17_NAMES, write_poses
from posevid.poses import Poses
from posevid.skeleton import to_coco18

SCRIPT = textwrap.dedent('''
    """Animate SOURCE with DRIVING (a pose file) to OUT; print JSON samples of RSS (bytes) and open fds."""
    import json
    import os
    import sys

    from posevid.animate import animate
    from posevid.video import VideoWriter

    source, driving, out, size = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    marks = {int(m) for m in sys.argv[5].split(",")}
    page = os.sysconf("SC_PAGE_SIZE")


    def rss() -> int:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * page


    samples = []
    with VideoWriter(out, fps=30) as writer:
        for done, frame in enumerate(animate(source, driving, method="warp", size=size), 1):
            writer.write(frame)
            if done in marks:
                samples.append({"frame": done, "rss": rss(), "fds": len(os.listdir("/proc/self/fd"))})
    print(json.dumps({"frames": writer.count, "samples": samples}))
''')


def _driving(shared: Path, frames: int, path: Path) -> Path:
    """``frames`` frames of the real clip's reference keypoints, played forwards and backwards in turn."""
    data = json.loads((shared / "videos" / "tfjs_pose_1.json").read_text())
    kp = np.array([[[f[n]["x"], f[n]["y"]] for n in COCO17_NAMES] for f in data], np.float32)
    xy, conf = to_coco18(kp, np.ones(kp.shape[:2], np.float32), "coco17")
    cycle = np.concatenate([np.arange(len(xy)), np.arange(len(xy) - 2, 0, -1)])
    order = np.resize(cycle, frames)
    write_poses(path, Poses(xy[order], conf[order], 576, 576, 30.0))
    return path


def _run(shared: Path, tmp: Path, frames: int, first_mark: int) -> dict:
    script = tmp / "long_animate.py"
    script.write_text(SCRIPT)
    driving = _driving(shared, frames, tmp / "long.npz")
    out = tmp / "long.mp4"
    marks = sorted({first_mark, frames // 2, frames})
    src = Path(__file__).resolve().parents[1] / "src"
    env = {**os.environ, "PYTHONPATH": str(src), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, str(script), str(shared / "images" / "tfexamples_image2.jpeg"),
                           str(driving), str(out), "64", ",".join(map(str, marks))], env=env, capture_output=True,
                          text=True, timeout=3600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["frames"] == frames and out.stat().st_size > 0
    return result


def _check_flat(result: dict) -> None:
    first, last = result["samples"][0], result["samples"][-1]
    growth = (last["rss"] - first["rss"]) / first["rss"]
    print(f"RSS {first['rss'] / 2**20:.1f} MiB at frame {first['frame']} -> {last['rss'] / 2**20:.1f} MiB at frame "
          f"{last['frame']} ({100 * growth:+.2f} %); open fds {first['fds']} -> {last['fds']}")
    assert growth < 0.10, result
    assert last["fds"] <= first["fds"], result


def test_thousand_frame_pose_sequence_streams_flat(shared_data: Path, tmp_path: Path) -> None:
    _check_flat(_run(shared_data, tmp_path, 1000, first_mark=100))


@pytest.mark.slow
def test_ten_thousand_frame_pose_sequence_streams_flat(shared_data: Path, tmp_path: Path) -> None:
    _check_flat(_run(shared_data, tmp_path, 10_000, first_mark=1000))
