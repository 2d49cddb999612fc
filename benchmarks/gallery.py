"""Contact sheets of ``posevid animate`` on every photo x driving clip of the shared data (issue 14).

For each photo (``DATA/images``, ``DATA/faces`` stills) and each driving clip (``DATA/videos``) the photo
is animated with the defaults (warp method, default retargeting) at ``--size`` pixels on its longer
side (a photo whose person BlazePose cannot find, with the pose given by hand in ``docs/gallery/poses/<photo
stem>.json`` as a user gives ``--photo-pose``), and one PNG is written: the photo on the left, then
``--frames`` evenly spaced moments, each a column with the driving frame above the result. Sheets are
palette PNGs (a few hundred KB at most).

Only photos and clips whose licence lets derived images into the repository (``COMMITTABLE``: the
Apache-2.0 and MIT example media, see ``DATA/MANIFEST.md`` and ``assets/NOTICE``) go to ``--out``
(``docs/gallery/``); with ``--all``, the others (test-only material) are made too, into ``--out-other``,
to look at. ``--out/index.md`` lists the sheets and the pairs that failed, with their one-line errors.

    python -m benchmarks.gallery [--size 320] [--frames 8] [--all] [--photos NAME ...] [--clips NAME ...]

``--faces``: the face gallery instead: the portraits of ``DATA/faces`` driven by its talking-head clips
(the face path, chosen automatically), into ``docs/gallery/faces/``. ``--renders``: the photos driven by
the skeleton (AnimateAnyone DWPose) and DensePose (MagicAnimate) renders of ``DATA/pose_renders``, whose
poses are decoded from the render, into ``docs/gallery/renders/``.

Prints one JSON object: machine, settings, per pair the sheet, frames, seconds and bytes, or the error.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from benchmarks.animate_speed import machine

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
OUT = REPO / "docs" / "gallery"
PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png")
COMMITTABLE = ("tfjs_", "tfexamples_", "animatex_", "liveportrait_", "animateanyone_anyone-video-",
               "magicanimate_densepose_")  # licence allows derived images in the repo (the renders show no person)
ROW = 144  # pixels: the height of each row of a sheet
POSES = OUT / "poses"  # poses given by hand (as with --photo-pose) for photos whose person BlazePose cannot find


def photos(data: Path) -> list[Path]:
    """The stills of the shared data (not the reference segmentation mask)."""
    found = [p for folder in ("images", "faces") for p in sorted((data / folder).glob("*"))
             if p.suffix.lower() in PHOTO_SUFFIXES and "segmentation" not in p.stem]
    return found


def committable(*paths: Path) -> bool:
    return all(p.name.startswith(COMMITTABLE) for p in paths)


def _fit(img: np.ndarray, height: int) -> np.ndarray:
    return cv2.resize(img, (max(1, round(img.shape[1] * height / img.shape[0])), height), interpolation=cv2.INTER_AREA)


def _centre(img: np.ndarray, width: int) -> np.ndarray:
    """``img`` centred in ``width`` columns of white."""
    spare = width - img.shape[1]
    return np.pad(img, ((0, 0), (spare // 2, spare - spare // 2), (0, 0)), constant_values=255)


def sheet(photo: np.ndarray, driving: list[np.ndarray], results: list[np.ndarray]) -> np.ndarray:
    """The photo (two rows tall), then one column per moment: the driving frame over the result."""
    columns = []
    for top, bottom in zip(driving, results):
        top, bottom = _fit(top, ROW), _fit(bottom, ROW)
        width = max(top.shape[1], bottom.shape[1])
        columns.append(np.concatenate([_centre(top, width), _centre(bottom, width)], 0))
    return np.concatenate([_fit(photo, 2 * ROW)] + columns, 1)


def write_png(path: Path, rgb: np.ndarray) -> int:
    """``rgb`` as a 256-colour palette PNG (atomically); returns its size in bytes."""
    from posevid.io_utils import atomic_path

    image = Image.fromarray(rgb).quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    with atomic_path(path) as tmp:
        image.save(tmp, format="PNG", optimize=True)
    return path.stat().st_size


def make(photo_path: Path, clip: Path, out: Path, size: int, count: int) -> dict:
    """Animate one pair and write its sheet; a dict of what happened (or the error line)."""
    import posevid
    from posevid.errors import PosevidError
    from posevid.video import open_video, read_image

    start = time.perf_counter()
    given = POSES / f"{photo_path.stem}.json"
    try:
        results = list(posevid.animate(photo_path, clip, size=size, photo_pose=given if given.is_file() else None))
    except PosevidError as err:
        return {"error": str(err)}
    keep = np.linspace(0, len(results) - 1, count).round().astype(int)
    with open_video(clip) as reader:
        driving = [f for i, f in enumerate(reader) if i in set(keep.tolist())]
    shown = [results[i] for i in keep][:len(driving)]
    nbytes = write_png(out, sheet(read_image(photo_path), driving, shown))
    return {"sheet": str(out), "frames": len(results), "size": list(results[0].shape[1::-1]),
            "seconds": round(time.perf_counter() - start, 1), "bytes": nbytes,
            **({"photo_pose": str(given.relative_to(REPO))} if given.is_file() else {})}


def write_index(out: Path, report: dict) -> None:
    """``out/index.md``: every committed sheet, and the pairs that failed with their errors."""
    lines = ["# Gallery: `posevid animate` on the shared data", "",
             "Made by `python -m benchmarks.gallery` (warp method, default retargeting, "
             f"longer side {report['settings']['size']}). Each sheet: the photo, then driving frames (top) "
             "over the results (bottom). Media credits: `assets/NOTICE`.", ""]
    for pair, entry in report["pairs"].items():
        if "sheet" in entry and Path(entry["sheet"]).parent == out:
            given = f" (the pose given by hand: {Path(entry['photo_pose']).relative_to('docs/gallery')})" \
                if "photo_pose" in entry else ""
            lines.append(f"- {pair}: [{Path(entry['sheet']).name}]({Path(entry['sheet']).name}){given}")
        elif "error" in entry:
            lines.append(f"- {pair}: refused, `{entry['error'].replace(str(DATA) + '/', '')}`")
    (out / "index.md").write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--out-other", type=Path, default=Path("out/gallery_test_only"))
    parser.add_argument("--size", type=int, default=320, help="the results' longer side")
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--all", action="store_true", help="also the pairs whose media may not be committed")
    parser.add_argument("--photos", nargs="*", help="only these photo file names")
    parser.add_argument("--clips", nargs="*", help="only these clip file names")
    parser.add_argument("--faces", action="store_true", help="the face gallery: portraits x talking heads")
    parser.add_argument("--renders", action="store_true", help="driven by skeleton and DensePose renders")
    args = parser.parse_args()
    folder = "faces" if args.faces else "pose_renders" if args.renders else "videos"
    if (args.faces or args.renders) and args.out == OUT:
        args.out = OUT / ("faces" if args.faces else "renders")
    clips = [c for c in sorted((args.data / folder).glob("*.mp4")) if not args.clips or c.name in args.clips]
    stills = [p for p in photos(args.data) if (not args.photos or p.name in args.photos)
              and (not args.faces or p.parent.name == "faces")]
    report: dict = {"machine": machine(), "settings": {"size": args.size, "frames": args.frames, "all": args.all},
                    "pairs": {}}
    args.out.mkdir(parents=True, exist_ok=True)
    for photo_path in stills:
        for clip in clips:
            ok = committable(photo_path, clip)
            if not ok and not args.all:
                continue
            folder = args.out if ok else args.out_other
            folder.mkdir(parents=True, exist_ok=True)
            name = f"{photo_path.stem}__{clip.stem}.png"
            report["pairs"][f"{photo_path.name} x {clip.name}"] = make(photo_path, clip, folder / name, args.size,
                                                                      args.frames)
    write_index(args.out, report)
    report["machine"]["load_average_1m_end"] = os.getloadavg()[0]
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
