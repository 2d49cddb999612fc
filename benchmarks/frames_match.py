"""Do two checkouts of posevid animate alike? The frames ``posevid animate`` yields (before encoding) for real
photo x clip pairs of the shared data, made by this checkout and by ``--against DIR`` (e.g. a ``git
worktree`` of main), compared pixel by pixel: for changes meant to make it faster without changing the
picture.

Each checkout runs in its own process (``PYTHONPATH=DIR/src``) and animates every pair with the defaults
(warp method) at ``--size``, keeping the first ``--frames`` frames. Prints JSON: per pair the largest
absolute difference (0-255), the share of pixels and the number of frames that differ, and ``identical``
(all pairs bit for bit). ``--sheets DIR`` also writes one contact sheet per pair (``gallery.sheet``: the
photo, then driving frames over this checkout's results) to look at.

    python -m benchmarks.frames_match --against /path/to/main [--frames 60] [--size 256] [--sheets DIR]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
PAIRS = (("images/animatex_ty_woman.jpg", "videos/animatex_dance_2.mp4"),
         ("images/tfexamples_image2.jpeg", "videos/tfjs_pose_1.mp4"),
         ("images/animateanyone_anyone-11.png", "videos/animatex_dance_3.mp4"),
         ("images/tfjs_pose.jpg", "videos/tfjs_pose_squats.mp4"))


def child(out: str, frames: str, size: str) -> None:
    """Animate every pair in this process; save the first ``frames`` frames of each to ``out`` (npz)."""
    from posevid.pipeline import animate

    arrays = {}
    for i, (photo, clip) in enumerate(PAIRS):
        made = animate(DATA / photo, DATA / clip, size=int(size))
        try:
            arrays[f"pair{i}"] = np.stack(list(itertools.islice(made, int(frames))))
        finally:
            made.close()
    np.savez(out, **arrays)


def frames_of(root: Path, folder: Path, frames: int, size: int) -> dict[str, np.ndarray]:
    """The frames the checkout at ``root`` makes, per pair."""
    out = folder / f"{abs(hash(str(root)))}.npz"
    env = {**os.environ, "PYTHONPATH": str(root / "src"), "OMP_WAIT_POLICY": "PASSIVE"}
    subprocess.run([sys.executable, "-m", "benchmarks.frames_match", "--child", str(out), str(frames), str(size)],
                   cwd=REPO, env=env, check=True, capture_output=True, text=True)
    with np.load(out) as saved:
        return {key: saved[key] for key in saved.files}


def compare(a: np.ndarray, b: np.ndarray) -> dict:
    """How two frame stacks (T, H, W, 3) uint8 differ."""
    if a.shape != b.shape:
        return {"shapes": [list(a.shape), list(b.shape)], "identical": False}
    diff = np.abs(a.astype(np.int16) - b.astype(np.int16)).max(-1)
    return {"frames": len(a), "max_abs_diff": int(diff.max()), "pixels_differing": float((diff > 0).mean()),
            "frames_differing": int((diff.reshape(len(diff), -1).max(1) > 0).sum()), "identical": bool(diff.max() == 0)}


def write_sheets(folder: Path, made: dict[str, np.ndarray], count: int = 6) -> list[str]:
    """One contact sheet per pair: the photo, then driving frames over this checkout's results."""
    from benchmarks.gallery import sheet, write_png
    from posevid.video import open_video, read_image

    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for i, (photo, clip) in enumerate(PAIRS):
        results = made[f"pair{i}"]
        keep = set(np.linspace(0, len(results) - 1, count).round().astype(int).tolist())
        with open_video(DATA / clip) as reader:
            driving = [f for j, f in enumerate(itertools.islice(reader, len(results))) if j in keep]
        path = folder / f"{Path(photo).stem}__{Path(clip).stem}.png"
        write_png(path, sheet(read_image(DATA / photo), driving, [results[j] for j in sorted(keep)]))
        written.append(str(path))
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", type=Path, help="the other posevid checkout")
    parser.add_argument("--frames", type=int, default=60, help="frames compared per pair (from the first)")
    parser.add_argument("--size", type=int, default=256, help="the results' longer side")
    parser.add_argument("--sheets", type=Path, help="write contact sheets of this checkout's frames here")
    parser.add_argument("--child", nargs=3, metavar=("OUT", "FRAMES", "SIZE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    if args.against is None:
        parser.error("--against DIR is required")
    with tempfile.TemporaryDirectory() as tmp:
        this = frames_of(REPO, Path(tmp), args.frames, args.size)
        other = frames_of(args.against.resolve(), Path(tmp), args.frames, args.size)
    pairs = {f"{Path(p).name} x {Path(c).name}": compare(this[f"pair{i}"], other[f"pair{i}"])
             for i, (p, c) in enumerate(PAIRS)}
    report = {"settings": {"size": args.size, "frames": args.frames, "this": str(REPO),
                           "against": str(args.against.resolve())},
              "pairs": pairs, "identical": all(p["identical"] for p in pairs.values())}
    if args.sheets:
        report["sheets"] = write_sheets(args.sheets, this)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
