"""Long input: a 10,000-frame driving pose sequence animates with the warp method (64x64, written to mp4)
with flat memory and a constant number of open file descriptors.

``sample_run`` samples the resident set size (``/proc/self/statm``) and the open descriptors
(``/proc/self/fd``) as frames are written; the test checks the growth between an early frame (after warm-up)
and the last. The default run does 1,000 frames in the test process; ``-m slow`` 10,000 in a fresh subprocess.
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


def sample_run(source: str, driving: str, out: str, size: int, marks: set[int]) -> dict:
    """Animate ``source`` with the pose file ``driving`` (warp) into ``out``; RSS (bytes) and open descriptors
    after each frame number in ``marks``."""
    from posevid.pipeline import animate
    from posevid.video import VideoWriter

    page = os.sysconf("SC_PAGE_SIZE")
    samples = []
    with VideoWriter(out, fps=30) as writer:
        for done, frame in enumerate(animate(source, driving, method="warp", size=size), 1):
            writer.write(frame)
            if done in marks:
                with open("/proc/self/statm") as f:
                    rss = int(f.read().split()[1]) * page
                samples.append({"frame": done, "rss": rss, "fds": len(os.listdir("/proc/self/fd"))})
    return {"frames": writer.count, "samples": samples}


SCRIPT = textwrap.dedent('''
    import json
    import sys

    from test_long_input import sample_run

    print(json.dumps(sample_run(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]),
                                {int(m) for m in sys.argv[5].split(",")})))
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


def _run(shared: Path, tmp: Path, frames: int, first_mark: int, subprocess_run: bool) -> dict:
    """Animate a ``frames``-long pose file, sampling at ``first_mark``, half-way and the end; in a fresh
    subprocess (nothing else in its memory) or in this one."""
    driving = _driving(shared, frames, tmp / "long.npz")
    out = tmp / "long.mp4"
    marks = {first_mark, frames // 2, frames}
    photo = str(shared / "images" / "tfexamples_image2.jpeg")
    if subprocess_run:
        script = tmp / "long_animate.py"
        script.write_text(SCRIPT)
        here = Path(__file__).resolve().parent
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(here.parent / "src"), str(here)]),
               "OMP_NUM_THREADS": "1"}
        proc = subprocess.run([sys.executable, str(script), photo, str(driving), str(out), "64",
                               ",".join(map(str, sorted(marks)))], env=env, capture_output=True, text=True,
                              timeout=3600)
        assert proc.returncode == 0, proc.stderr[-3000:]
        result = json.loads(proc.stdout.strip().splitlines()[-1])
    else:
        result = sample_run(photo, str(driving), str(out), 64, marks)
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
    """In this process (no interpreter start-up): 1,000 frames, RSS from frame 100 to 1,000."""
    _check_flat(_run(shared_data, tmp_path, 1000, first_mark=100, subprocess_run=False))


@pytest.mark.slow
def test_ten_thousand_frame_pose_sequence_streams_flat(shared_data: Path, tmp_path: Path) -> None:
    """In a fresh subprocess: 10,000 frames, RSS from frame 1,000 to 10,000."""
    _check_flat(_run(shared_data, tmp_path, 10_000, first_mark=1000, subprocess_run=True))
