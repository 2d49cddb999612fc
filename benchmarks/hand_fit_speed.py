"""Skeleton-render hand decoding, this checkout's ``hand_fit`` beside another revision's, in one run.

Real frames of the shared clips (``FRAMES``: hands apart, together, under the face, fists) are estimated
with hands and face (MediaPipe Holistic), drawn in the DWPose look and decoded (``render_decode.
decode_skeleton`` with hands and face) with this checkout's ``posevid.hand_fit`` and with ``--beside``'s
(``git show REV:src/posevid/hand_fit.py``), frame by frame in turn (old, new, new, old, ... ``--repeats``
times each): the least seconds of each (the machine is shared) and whether the decoded poses are the same.
Also the fit's loss with its gradient (``hand_fit._loss``, which ``_descend`` runs 70 times a template
search) for 4 hands over 1000 random labelled pixels, milliseconds each, in turn.

Prints JSON: machine and load, settings, per frame and in total.
Run: ``python -m benchmarks.hand_fit_speed [--beside main] [--repeats 2] [--rounds 12]``.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import itertools
import json
import os
import subprocess
import sys
import tempfile
import time
from types import ModuleType

import numpy as np

from benchmarks.pose_inputs import DATA, REPO, machine

FRAMES = (("animatex_dance_3", (40, 80)), ("tfjs_pose_1", (80, 110)), ("tfjs_pose_squats", (30, 40)),
          ("animatex_dance_2", (140, 170)))


def revision(rev: str) -> ModuleType:
    """``posevid.hand_fit`` as it is at ``rev`` (a module of its own, not registered)."""
    source = subprocess.run(["git", "show", f"{rev}:src/posevid/hand_fit.py"], cwd=REPO, check=True,
                            capture_output=True, text=True).stdout
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(source)
    spec = importlib.util.spec_from_file_location("posevid.hand_fit", f.name)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    os.unlink(f.name)
    return module


def renders() -> list[tuple[str, np.ndarray]]:
    """(name, DWPose-look render with hands and face) of each of ``FRAMES``."""
    from posevid.estimate import estimate_poses
    from posevid.render import MIN_CONF, pose_image
    from posevid.video import open_video

    out = []
    for clip, picked in FRAMES:
        with open_video(DATA / "videos" / f"{clip}.mp4") as reader:
            frames = np.stack([f for i, f in enumerate(itertools.islice(reader, max(picked) + 1)) if i in picked])
        poses = estimate_poses(frames, reader.fps, keypoints="body+hands+face")
        keep = poses.conf > MIN_CONF
        drawn = dataclasses.replace(poses, conf=np.where(keep, poses.conf, 0),
                                    xy=np.where(keep[..., None], poses.xy, 0))
        out += [(f"{clip}@{i}", pose_image(drawn, t)) for t, i in enumerate(picked)]
    return out


def same(a, b) -> bool:
    return all(np.array_equal(getattr(a, k), getattr(b, k)) for k in ("xy", "conf", "hand_xy", "hand_conf", "face_xy"))


def loss_steps(modules: dict[str, ModuleType], rounds: int) -> dict[str, float]:
    """Median milliseconds of ``_loss`` forward and backward on 4 hands over 1000 labelled pixels, in turn."""
    import torch

    gen = torch.Generator().manual_seed(0)
    grid = torch.rand(1000, 2, generator=gen) * 60
    labels = torch.randint(0, 22, (1000,), generator=gen)
    weights = torch.where(labels >= 2, 3.0, 1.0)
    points = torch.from_numpy(modules["new"].TEMPLATE).float() * 8 + 30 + torch.randn(4, 21, 2, generator=gen)
    times: dict[str, list[float]] = {name: [] for name in modules}
    for _ in range(rounds):
        for name, module in modules.items():
            start = time.perf_counter()
            for _ in range(10):
                p = points.clone().requires_grad_(True)
                torch.autograd.grad(module._loss(p, grid, labels, weights, 8.0, 4.0, 1.5).sum(), p)
            times[name].append((time.perf_counter() - start) * 100)
    return {name: round(float(np.median(v)), 2) for name, v in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--beside", default="main", help="the revision whose hand_fit is the old one")
    parser.add_argument("--repeats", type=int, default=2, help="decodes of each frame by each, in turn")
    parser.add_argument("--rounds", type=int, default=12, help="rounds of the loss-step timing")
    args = parser.parse_args()
    import posevid.hand_fit as new
    from posevid.render_decode import decode_skeleton

    modules = {"old": revision(args.beside), "new": new}
    result: dict = {"machine": machine(), "settings": {"beside": args.beside, "frames": dict(FRAMES),
                                                      "repeats": args.repeats,
                                                      "torch_threads": __import__("torch").get_num_threads()}}

    def decode(name: str, rgb: np.ndarray):
        sys.modules["posevid.hand_fit"] = modules[name]  # render_decode imports it where it fits hands
        start = time.perf_counter()
        return decode_skeleton(rgb, hands=True, face=True), time.perf_counter() - start

    images = renders()
    for name in modules:
        decode(name, images[0][1])  # first calls out of the timings
    frames = {}
    for key, rgb in images:
        seconds: dict[str, list[float]] = {"old": [], "new": []}
        decoded = {}
        for turn in range(args.repeats):
            for name in ("old", "new") if turn % 2 == 0 else ("new", "old"):
                decoded[name], took = decode(name, rgb)
                seconds[name].append(took)
        frames[key] = {"old_s": round(min(seconds["old"]), 3), "new_s": round(min(seconds["new"]), 3),
                       "identical": same(decoded["old"], decoded["new"])}
        print(json.dumps({key: frames[key]}), file=sys.stderr, flush=True)
    sys.modules["posevid.hand_fit"] = new
    result["decode"] = {"frames": frames, "old_s": round(sum(f["old_s"] for f in frames.values()), 2),
                        "new_s": round(sum(f["new_s"] for f in frames.values()), 2),
                        "all_identical": all(f["identical"] for f in frames.values())}
    result["loss_step_ms"] = loss_steps(modules, args.rounds)
    result["machine"]["load_average_1m_end"] = os.getloadavg()[0]
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
