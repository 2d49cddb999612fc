"""Tiny copies of the dataset layouts users download, built from ``../shared/data`` in their exact layouts.

Used by test_layouts.py and test_protocols.py. Each builder writes into ``root`` and returns it.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import cv2
import numpy as np

from posevid.estimate import PoseEstimator
from posevid.video import VideoWriter, open_video, read_image, write_image


def _frames(video: Path, start: int, count: int, box: tuple[int, int, int, int], size: tuple[int, int]):
    """``count`` frames of ``video`` from ``start``, cut to ``box`` (x0, y0, x1, y1) and resized to (W, H)."""
    x0, y0, x1, y1 = box
    with open_video(video) as reader:
        return [cv2.resize(f[y0:y1, x0:x1], size, interpolation=cv2.INTER_AREA)
                for f in itertools.islice(reader, start, start + count)]


def dance_frames(shared: Path, start: int, count: int, side: int = 64) -> list[np.ndarray]:
    """The dancer of tfjs_pose_1.mp4 in a fixed square around her, ``side`` pixels (as TaiChi-HD's crops)."""
    return _frames(shared / "videos" / "tfjs_pose_1.mp4", start, count, (130, 80, 530, 480), (side, side))


def build_fomm(shared: Path, root: Path, frames: int = 8) -> Path:
    """first-order-model layout: train/<clip>.mp4 and test/<clip>/NNNNNNN.png (video-preprocessing's names)."""
    (root / "train").mkdir(parents=True)
    with VideoWriter(root / "train" / "dancer#000#008.mp4", 30) as writer:
        for f in dance_frames(shared, 0, frames):
            writer.write(f)
    clip = root / "test" / "dancer#090#098.mp4"  # video-preprocessing names frame folders after the video
    clip.mkdir(parents=True)
    for i, f in enumerate(dance_frames(shared, 90, frames)):
        write_image(clip / f"{i:07d}.png", f)
    return root


UBC_URL = "https://vision.cs.ubc.ca/datasets/fashion/resources/fashion_dataset/"


def build_ubc_fashion(shared: Path, root: Path, frames: int = 6) -> Path:
    """DwNet's Fashion layout: fashion_{train,test}.txt of URLs and the videos in train/ and test/ (portrait)."""
    squats = shared / "videos" / "tfjs_pose_squats.mp4"
    for split, name, start in (("train", "A1xTrainSquats.mp4", 0), ("test", "A2yTestSquats.mp4", 30)):
        (root / split).mkdir(parents=True)
        (root / f"fashion_{split}.txt").write_text(f"{UBC_URL}{name}\n")
        with VideoWriter(root / split / name, 5) as writer:
            for f in _frames(squats, start, frames, (0, 0, 720, 1280), (144, 256)):
                writer.write(f)
    return root


def _pg2_row(name: str, xy: np.ndarray, conf: np.ndarray) -> str:
    pix = np.rint(xy).astype(int)
    pix[conf <= 0.2] = -1
    return f"{name}: {pix[:, 1].tolist()}: {pix[:, 0].tolist()}"


def _annotate(images: dict[str, np.ndarray]) -> list[str]:
    """PG2 annotation rows (COCO-18, y then x, -1 = missing) from our pose estimator, one per image."""
    rows = []
    with PoseEstimator() as est:
        for name, rgb in images.items():
            pose, _ = est.image(rgb)
            rows.append(_pg2_row(name, pose.xy[0], pose.conf[0]))
    return rows


def _people(shared: Path) -> list[np.ndarray]:
    """Four full-body photos (two catalogue photos and each mirrored), RGB."""
    photos = [read_image(shared / "images" / n) for n in ("animateanyone_anyone-3.png", "animateanyone_anyone-11.png")]
    return [photos[0], photos[0][:, ::-1], photos[1], photos[1][:, ::-1]]


def _fit(rgb: np.ndarray, width: int, height: int) -> np.ndarray:
    """The photo letterboxed on white to ``width`` x ``height``."""
    h, w = rgb.shape[:2]
    scale = min(width / w, height / h)
    small = cv2.resize(rgb, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    out = np.full((height, width, 3), 255, np.uint8)
    y, x = (height - small.shape[0]) // 2, (width - small.shape[1]) // 2
    out[y:y + small.shape[0], x:x + small.shape[1]] = small
    return np.ascontiguousarray(out)


def _write_csvs(root: Path, prefix: str, pairs: dict[str, list[tuple[str, str]]], annotations: dict[str, list[str]]):
    for split in ("train", "test"):
        rows = "".join(f"{a},{b}\n" for a, b in pairs[split])
        (root / f"{prefix}-pairs-{split}.csv").write_text("from,to\n" + rows)
        (root / f"{prefix}-annotation-{split}.csv").write_text(
            "name:keypoints_y:keypoints_x\n" + "\n".join(annotations[split]) + "\n")


def build_inshop(shared: Path, root: Path) -> Path:
    """DeepFashion In-shop as downloaded (img/GENDER/Category/id_N/NN_V_view.jpg, 256x256) with PATN's CSVs
    (fasion-resize-*.csv, keypoints of the 176x256 crops named as PATN names them)."""
    people = _people(shared)
    files = {  # raw path -> (PATN name, split, photo)
        "WOMEN/Dresses/id_00000001/01_1_front.jpg": ("fashionWOMENDressesid0000000101_1front.jpg", "test", 0),
        "WOMEN/Dresses/id_00000001/02_2_side.jpg": ("fashionWOMENDressesid0000000102_2side.jpg", "test", 1),
        "MEN/Denim/id_00000002/01_1_front.jpg": ("fashionMENDenimid0000000201_1front.jpg", "train", 2),
        "MEN/Denim/id_00000002/01_7_additional.jpg": ("fashionMENDenimid0000000201_7additional.jpg", "train", 3),
    }
    crops: dict[str, dict[str, np.ndarray]] = {"train": {}, "test": {}}
    for rel, (name, split, k) in files.items():
        full = _fit(people[k], 256, 256)
        path = root / "img" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        write_image(path, full)
        crops[split][name] = read_image(path)[:, 40:216]  # the crop PATN's generate_fashion_datasets.py makes
    pairs = {s: [tuple(crops[s])] + [tuple(reversed(list(crops[s])))] for s in crops}
    _write_csvs(root, "fasion-resize", pairs, {s: _annotate(crops[s]) for s in crops})
    return root


def build_market(shared: Path, root: Path) -> Path:
    """Market-1501 as downloaded (bounding_box_train/, bounding_box_test/, 64x128 crops named
    PPPP_cCsS_FFFFFF_NN.jpg) with PATN's market-pairs-*.csv and market-annotation-*.csv."""
    people = _people(shared)
    names = {"train": ["0002_c1s1_000451_03.jpg", "0002_c2s1_000301_01.jpg"],
             "test": ["0003_c1s1_000551_01.jpg", "0003_c3s1_000476_02.jpg"]}
    images: dict[str, dict[str, np.ndarray]] = {"train": {}, "test": {}}
    for split, k0 in (("train", 2), ("test", 0)):
        folder = root / f"bounding_box_{split}"
        folder.mkdir(parents=True)
        for name, k in zip(names[split], (k0, k0 + 1)):
            img = _fit(people[k], 64, 128)
            write_image(folder / name, img)
            images[split][name] = read_image(folder / name)
    pairs = {s: [tuple(names[s]), tuple(reversed(names[s]))] for s in names}
    _write_csvs(root, "market", pairs, {s: _annotate(images[s]) for s in images})
    return root
