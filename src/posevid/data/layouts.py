"""Readers for the dataset layouts users download, as ``posevid prepare --layout NAME`` takes them.

Video layouts (each video becomes one prepared clip in the split the layout gives it):

- ``fomm``: TaiChi-HD and the other first-order-model datasets (Siarohin et al., NeurIPS 2019; made with
  AliaksandrSiarohin/video-preprocessing): ``ROOT/train/`` and ``ROOT/test/``, one entry per clip: a video
  (``.mp4``, ``.gif``, ``.mov``) or a folder of frames (``.png``, in name order). The frames are already
  crops of the person (256x256), so they are kept whole (``crop = "full"``).
- ``ubc-fashion``: DwNet's Fashion dataset (Zablotskaia et al., BMVC 2019; vision.cs.ubc.ca/datasets/fashion):
  ``ROOT/fashion_train.txt`` and ``ROOT/fashion_test.txt`` (one video URL a line) and the videos, named as
  their URLs end, in ``ROOT/train/`` and ``ROOT/test/`` (the usual download script), ``ROOT/videos/`` or
  ``ROOT``. The person is cropped as for any video (``crop = "person"``).

Pair layouts (PG2, Ma et al. 2017, as PATN / Pose-Transfer distribute them; read by ``data.kind: pg2_pairs``):

- ``deepfashion``: DeepFashion In-shop with ``fasion-resize-pairs-{train,test}.csv`` and
  ``fasion-resize-annotation-{train,test}.csv`` (PATN's spelling; ``fashion-`` is accepted too), the images in
  ``ROOT/train/`` and ``ROOT/test/`` (PATN's 176x256 crops named like ``fashionWOMENDressesid0000000101_1front.jpg``)
  or in the In-shop download's ``ROOT/img/WOMEN/Dresses/id_00000001/01_1_front.jpg``, which are renamed and
  cropped (x 40..216 of 256) as PATN's ``generate_fashion_datasets.py`` does.
- ``market``: Market-1501 with ``market-pairs-{train,test}.csv`` and ``market-annotation-{train,test}.csv``, the
  images in ``ROOT/train/`` and ``ROOT/test/`` (PATN's ``market_data``) or in Market-1501's own
  ``bounding_box_train/`` and ``bounding_box_test/``.

A folder in another layout fails with one line naming the first missing file or folder.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import PosevidError
from ..video import IMAGE_SUFFIXES

FOMM_VIDEO_SUFFIXES = (".mp4", ".gif", ".mov")
SPLITS = ("train", "test")


@dataclass(frozen=True)
class VideoSource:
    """One clip of a video layout: its ``name``, the video file or frame folder ``path`` and its ``split``."""

    name: str
    path: Path
    split: str


@dataclass
class VideoLayout:
    """A video dataset: its clips and how to frame them ("full": keep the frames whole; "person": crop)."""

    name: str
    root: Path
    clips: list[VideoSource]
    crop: str


@dataclass
class PairSplit:
    """One split of a pair layout: the pair and annotation CSVs and where each image named in them lies."""

    pairs: Path
    annotations: Path
    images: dict[str, Path]
    crop_inshop: bool = False


@dataclass
class PairLayout:
    """A PG2 pair dataset (DeepFashion or Market-1501) with its splits."""

    name: str
    root: Path
    splits: dict[str, PairSplit] = field(default_factory=dict)


def _missing(root: Path, what: str, layout: str) -> PosevidError:
    return PosevidError(root, f"missing {what} (the {layout} layout: see `posevid prepare --help`)")


def _fomm_entry(path: Path) -> bool:
    if path.is_dir():
        return any(p.suffix.lower() in IMAGE_SUFFIXES for p in path.iterdir())
    return path.suffix.lower() in FOMM_VIDEO_SUFFIXES


def read_fomm(root: Path) -> VideoLayout:
    """A first-order-model dataset folder (see the module doc)."""
    clips = []
    for split in SPLITS:
        folder = root / split
        if not folder.is_dir():
            raise _missing(root, f"{split}/", "first-order-model (fomm)")
        entries = sorted(p for p in folder.iterdir() if not p.name.startswith("."))
        strips = [p for p in entries if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
        if strips:
            raise PosevidError(strips[0], "frame strips (one image of concatenated frames) are not supported; "
                                          "give each clip as a video or a folder of frames")
        found = [p for p in entries if _fomm_entry(p)]
        if not found:
            raise _missing(folder, "clips (.mp4/.gif/.mov videos or folders of .png frames)", "first-order-model")
        # video-preprocessing names frame folders like the videos ("id#start#end.mp4"): the suffix goes too.
        clips += [VideoSource(p.stem if p.suffix.lower() in FOMM_VIDEO_SUFFIXES else p.name, p, split) for p in found]
    return VideoLayout("fomm", root, clips, "full")


def _url_names(path: Path) -> list[str]:
    names = [line.strip().rstrip("/").rsplit("/", 1)[-1] for line in path.read_text().splitlines()]
    return [n for n in names if n]


def read_ubc_fashion(root: Path) -> VideoLayout:
    """DwNet's Fashion dataset folder (see the module doc)."""
    clips = []
    for split in SPLITS:
        listing = root / f"fashion_{split}.txt"
        if not listing.is_file():
            raise _missing(root, listing.name, "ubc-fashion")
        names = _url_names(listing)
        if not names:
            raise PosevidError(listing, "lists no videos")
        for name in names:
            path = next((d / name for d in (root / split, root / "videos", root) if (d / name).is_file()), None)
            if path is None:
                raise _missing(root / split, name, "ubc-fashion")
            clips.append(VideoSource(Path(name).stem, path, split))
    return VideoLayout("ubc-fashion", root, clips, "person")


def inshop_name(relative: Path) -> str:
    """PATN's DeepFashion image name for an In-shop ``img/`` path ``GENDER/Category/id_N/NN_V_view.jpg``:
    ``fashion`` + GENDER + Category + ``idN`` + ``NN_Vview.jpg`` (generate_fashion_datasets.py)."""
    gender, category, ident, file = relative.parts[-4:]
    head, *rest = file.split("_")
    return f"fashion{gender}{category}{ident.replace('_', '')}{head}_{''.join(rest)}"


def _csv(root: Path, names: list[str], layout: str) -> Path:
    for name in names:
        if (root / name).is_file():
            return root / name
    raise _missing(root, names[0], layout)


def _image_folder(root: Path, split: str, layout: str) -> tuple[dict[str, Path], bool]:
    """name -> path of every image of a split, and whether they are raw In-shop images (to crop)."""
    if (root / split).is_dir():
        return {p.name: p for p in (root / split).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES}, False
    if layout == "market" and (root / f"bounding_box_{split}").is_dir():
        folder = root / f"bounding_box_{split}"
        return {p.name: p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES}, False
    if layout == "deepfashion" and (root / "img").is_dir():
        images = {}
        for p in (root / "img").glob("*/*/*/*"):
            if p.suffix.lower() in IMAGE_SUFFIXES:
                images[inshop_name(p.relative_to(root / "img"))] = p
        return images, True
    alt = f"bounding_box_{split}/" if layout == "market" else "img/ (the In-shop download)"
    raise _missing(root, f"{split}/ (or {alt})", layout)


def _read_pairs(root: Path, layout: str, prefixes: list[str]) -> PairLayout:
    from ..methods.pg2.data import read_pg2_pairs

    out = PairLayout(layout, root)
    for split in SPLITS:
        pairs = _csv(root, [f"{p}-pairs-{split}.csv" for p in prefixes], layout)
        annotations = _csv(root, [f"{p}-annotation-{split}.csv" for p in prefixes], layout)
        images, raw = _image_folder(root, split, layout)
        for a, b in read_pg2_pairs(pairs):
            for name in (a, b):
                if name not in images:
                    raise _missing(root / split, f"{name} (named in {pairs.name})", layout)
        out.splits[split] = PairSplit(pairs, annotations, images, raw)
    return out


def read_deepfashion(root: Path) -> PairLayout:
    """DeepFashion In-shop with PATN's pair and annotation CSVs (see the module doc)."""
    return _read_pairs(root, "deepfashion", ["fasion-resize", "fashion-resize"])


def read_market(root: Path) -> PairLayout:
    """Market-1501 with PATN's pair and annotation CSVs (see the module doc)."""
    return _read_pairs(root, "market", ["market"])


LAYOUTS: dict[str, Callable[[Path], VideoLayout | PairLayout]] = {
    "fomm": read_fomm, "taichi": read_fomm, "ubc-fashion": read_ubc_fashion,
    "deepfashion": read_deepfashion, "market": read_market,
}


def read_layout(name: str, root: str | Path) -> VideoLayout | PairLayout:
    """The dataset at ``root`` read as layout ``name`` (one of ``LAYOUTS``); PosevidError naming what is missing."""
    if name not in LAYOUTS:
        raise PosevidError("--layout", f"unknown layout {name!r}; known: {', '.join(LAYOUTS)}")
    root = Path(root)
    if not root.is_dir():
        raise PosevidError(root, "no such dataset folder")
    return LAYOUTS[name](root)
