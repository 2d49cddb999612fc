"""``posevid prepare``: videos -> a dataset folder of square person crops, poses and masks.

For each clip: pass 1 decodes the video, estimates poses and person masks in tracking mode and keeps
the full-resolution masks as temporary PNGs (memory stays flat in the clip length); one square box
around the person's whole track (robust percentiles of the per-frame boxes, plus a margin) is then
used for every frame, so the crop is stable; pass 2 decodes again and writes the crops. Clips are
built in a temporary folder that is renamed when complete (``meta.json`` written last), so an
interrupted run leaves no half clip under its final name and a rerun skips finished clips.
Layout (docs/design.md): ``DATA/index.json``, ``DATA/<clip>/{frames,masks,iuv}/NNNNNN.png``,
``DATA/<clip>/poses.npz``, ``DATA/<clip>/meta.json``.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import shutil
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..crop import crop_square, square_box
from ..errors import PosevidError
from ..face import face_mask, face_region
from ..io_utils import atomic_path
from ..posefiles import write_poses
from ..poses import Poses
from ..video import IMAGE_SUFFIXES, open_video
from .layouts import PairLayout, VideoLayout, read_layout
from .prepared import FRAMES, INDEX, IUV, MASKS, META, POSES, image_name

VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".m4v", ".avi", ".webm", ".gif")
MIN_MASK_FRACTION = 1e-3  # a frame's mask counts when it covers at least this fraction of the image


@dataclass(frozen=True)
class Part:
    """One clip cut out of a video: frames [start, stop) (stop None = to the end), forced ``split`` or None."""

    name: str
    start: int = 0
    stop: int | None = None
    split: str | None = None


@dataclass(frozen=True)
class VideoJob:
    """One video and the clips (``parts``) made from it in a single pass; ``iuv`` its IUV source; ``crop``
    "person" (a square around the person's track) or "full" (the whole frame, padded square)."""

    source: Path
    parts: tuple[Part, ...]
    iuv: Path | None = None
    crop: str = "person"


def parse_range(text: str | None) -> tuple[int, int | None]:
    """``"A:B"`` -> (A, B); ``"A:"`` -> (A, None); None -> (0, None). Frame indices, B exclusive."""
    if not text:
        return 0, None
    a, sep, b = text.partition(":")
    try:
        start, stop = int(a or 0), (int(b) if b else None)
    except ValueError:
        start, stop, sep = -1, None, ""
    if not sep or start < 0 or (stop is not None and stop <= start):
        raise PosevidError(text, "a frame range must look like A:B with 0 <= A < B (or A: for the rest)")
    return start, stop


def _is_frame_folder(path: Path) -> bool:
    return any(p.suffix.lower() in IMAGE_SUFFIXES for p in path.iterdir() if p.is_file())


def find_iuv(iuv_dir: Path | None, stem: str) -> Path | None:
    """The IUV source for a video stem in ``iuv_dir``: ``<stem>/`` frames or ``<stem>.<video suffix>``."""
    if iuv_dir is None:
        return None
    if (iuv_dir / stem).is_dir():
        return iuv_dir / stem
    for suffix in VIDEO_SUFFIXES:
        if (iuv_dir / f"{stem}{suffix}").is_file():
            return iuv_dir / f"{stem}{suffix}"
    return None


def list_jobs(inputs: list[Path], frames: str | None = None, max_frames: int | None = None,
              iuv_dir: Path | None = None, split: str | None = None,
              test_frames: str | None = None) -> list[VideoJob]:
    """Jobs for the given videos, frame folders and folders of videos (non-recursive, sorted).

    Without ranges a video is one clip named after it. ``frames`` "A:B" takes that range (clip
    ``<stem>_fA-B``); ``test_frames`` adds a test clip from that range of the same video, and the
    train clip then defaults to the frames before it (or after it when it starts at 0).
    ``max_frames`` caps each range. Duplicate names get ``_2``, ``_3``, ...
    """
    ranges: list[tuple[int, int | None, str | None]] = []
    if test_frames:
        t0, t1 = parse_range(test_frames)
        default = f"0:{t0}" if t0 > 0 else (f"{t1}:" if t1 is not None else None)
        if frames or default:
            ranges.append((*parse_range(frames or default), split))
        ranges.append((t0, t1, "test"))
    else:
        ranges.append((*parse_range(frames), split))
    if max_frames is not None:
        ranges = [(a, a + max_frames if b is None else min(b, a + max_frames), s) for a, b, s in ranges]
    named = bool(frames or test_frames or max_frames)
    sources: list[Path] = []
    for path in inputs:
        path = Path(path)
        if path.is_dir() and not _is_frame_folder(path):
            found = sorted(p for p in path.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES or
                           (p.is_dir() and _is_frame_folder(p)))
            if not found:
                raise PosevidError(path, "the folder holds no videos or frame folders")
            sources += found
        else:
            sources.append(path)
    jobs, seen = [], set()
    for src in sources:
        stem = src.stem if src.is_file() else src.name
        parts = []
        for a, b, s in ranges:
            name = f"{stem}_f{a}-{b if b is not None else 'end'}" if named else stem
            unique, k = name, 1
            while unique in seen:
                k += 1
                unique = f"{name}_{k}"
            seen.add(unique)
            parts.append(Part(unique, a, b, s))
        jobs.append(VideoJob(src, tuple(parts), find_iuv(iuv_dir, stem)))
    return jobs


def _frames(path: Path, start: int, stop: int | None) -> Iterator[np.ndarray]:
    """Frames [start, stop) of a video, decoded one at a time."""
    reader = open_video(path)
    try:
        for i, frame in enumerate(reader):
            if stop is not None and i >= stop:
                break
            if i >= start:
                yield frame
    finally:
        reader.close()


def person_box(mask: np.ndarray, xy: np.ndarray, conf: np.ndarray) -> np.ndarray | None:
    """(x0, y0, x1, y1) pixels of the person in one frame: the mask's extent, else the keypoints' extent
    grown by 15% of its height (keypoints miss the top of the head and the feet); None if nothing."""
    h, w = mask.shape
    ys, xs = np.nonzero(mask > 0.5)
    if len(xs) >= MIN_MASK_FRACTION * h * w:
        return np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], np.float64)
    seen = conf > 0.2
    if seen.sum() < 2:
        return None
    (x0, y0), (x1, y1) = xy[seen].min(0), xy[seen].max(0)
    pad = 0.15 * max(y1 - y0, x1 - x0, 1.0)
    return np.array([x0 - pad, y0 - pad, x1 + pad, y1 + pad], np.float64)


def track_box(boxes: np.ndarray, width: int, height: int, margin: float = 0.1) -> tuple[int, int, int]:
    """One square (x0, y0, side) in pixels covering the per-frame boxes (N, 4) over the clip.

    Robust extent (2nd / 98th percentiles), centred, side = longest extent * (1 + 2 * margin); moved
    inside the image when it fits (otherwise the outside is padded black at crop time): ``crop.square_box``.
    """
    extent = (np.percentile(boxes[:, 0], 2), np.percentile(boxes[:, 1], 2),
              np.percentile(boxes[:, 2], 98), np.percentile(boxes[:, 3], 98))
    return square_box(extent, 1 + 2 * margin, width=width, height=height)


def full_box(width: int, height: int) -> tuple[int, int, int]:
    """The square (x0, y0, side) holding the whole frame, centred (the short side is padded at crop time)."""
    side = max(width, height)
    return (width - side) // 2, (height - side) // 2, side


def _write_png(path: Path, img: np.ndarray) -> None:
    """Write an RGB (H, W, 3) or grey (H, W) uint8 image as PNG (fast compression)."""
    if img.ndim == 3:
        img = cv2.cvtColor(img, cv2.COLOR_RGB2BGR)
    if not cv2.imwrite(str(path), img, [cv2.IMWRITE_PNG_COMPRESSION, 1]):
        raise PosevidError(path, "cannot write the image")


def _inside(part: Part, t: int) -> bool:
    return part.start <= t and (part.stop is None or t < part.stop)


def prepare_video(job: VideoJob, out: Path, size: int, margin: float = 0.1,
                  progress: Callable[[int], None] | None = None, subject: str = "body") -> list[tuple[Part, dict]]:
    """Prepare the unfinished clips of one video into ``out/<part.name>``; returns (part, meta) pairs.

    One square box around the person over all the frames used is shared by the video's clips. ``subject``
    ``face``: the box is around the head (``face_region``), the poses are face poses (68 landmarks, no body:
    ``keypoints="face"``) and the masks the face's (``face.face_mask``).
    ``progress(n)`` is called with the number of frames just processed (two passes: 2 x frames).
    """
    from ..estimate import PoseEstimator

    parts = [p for p in job.parts if not is_done(out, p.name)]
    if not parts:
        return []
    lo = min(p.start for p in parts)
    hi = None if any(p.stop is None for p in parts) else max(p.stop for p in parts)
    work = {p.name: out / f".{p.name}.tmp-{os.getpid()}" for p in parts}
    scratch = out / f".{parts[0].name}.masks-{os.getpid()}"
    try:
        for folder in [*work.values(), scratch]:
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
        for p in parts:
            for sub in (FRAMES, MASKS) + ((IUV,) if job.iuv else ()):
                (work[p.name] / sub).mkdir()
        reader = open_video(job.source)
        fps, width, height = reader.fps, reader.width, reader.height
        reader.close()
        poses, boxes = [], []
        with PoseEstimator(keypoints="face" if subject == "face" else "body") as est:
            for k, (pose, mask) in enumerate(est.stream(_frames(job.source, lo, hi), fps)):
                mask = np.asarray(mask, np.float32)
                if mask.shape != (height, width):
                    mask = cv2.resize(mask, (width, height), interpolation=cv2.INTER_LINEAR)
                poses.append(pose)
                if subject == "face":
                    box = face_region(pose)
                    mask = face_mask(pose.face_xy[0], height, width) if box is not None else mask
                else:
                    box = person_box(mask, pose.xy[0], pose.conf[0])
                if box is not None and any(_inside(p, lo + k) for p in parts):
                    boxes.append(box)
                _write_png(scratch / f"{k:06d}.png", (mask > 0.5).astype(np.uint8) * 255)
                if progress:
                    progress(1)
        for p in parts:
            if p.start >= lo + len(poses):
                raise PosevidError(job.source, f"no frames in the range {p.start}:{p.stop or ''} "
                                               f"(the video has {lo + len(poses)})")
        if job.crop == "full":
            box = full_box(width, height)
        elif not boxes:
            raise PosevidError(job.source, f"no {'face' if subject == 'face' else 'person'} found in any frame")
        else:
            box = track_box(np.stack(boxes), width, height, margin)
        iuv_frames = _frames(job.iuv, lo, hi) if job.iuv else None
        for k, frame in enumerate(_frames(job.source, lo, len(poses) + lo)):
            t = lo + k
            crop = crop_square(frame, box, size)
            full = cv2.imread(str(scratch / f"{k:06d}.png"), cv2.IMREAD_GRAYSCALE)
            mask = (crop_square(full, box, size) > 127).astype(np.uint8) * 255
            iuv = _crop_iuv(next(iuv_frames, None), job, t, box, width, size) if iuv_frames is not None else None
            for p in parts:
                if _inside(p, t):
                    name = image_name(t - p.start)
                    _write_png(work[p.name] / FRAMES / name, crop)
                    _write_png(work[p.name] / MASKS / name, mask)
                    if iuv is not None:
                        _write_png(work[p.name] / IUV / name, iuv)
            if progress:
                progress(1)
        all_poses = Poses.concat(poses).crop(box[0], box[1], box[2], box[2], size, size)
        done = []
        for p in parts:
            stop = lo + len(poses) if p.stop is None else min(p.stop, lo + len(poses))
            n = stop - p.start
            if len(list((work[p.name] / FRAMES).iterdir())) != n:
                raise PosevidError(job.source, "the second decoding gave fewer frames than the first")
            write_poses(work[p.name] / POSES, all_poses[p.start - lo:stop - lo], "npz")
            meta = {"source": str(job.source), "frame_range": [p.start, stop], "crop": list(box),
                    "source_size": [width, height], "fps": fps, "frames": n, "size": size,
                    "iuv": job.iuv is not None, "iuv_source": str(job.iuv) if job.iuv else None, "subject": subject}
            with atomic_path(work[p.name] / META) as tmp:
                tmp.write_text(json.dumps(meta, indent=1))
            shutil.rmtree(out / p.name, ignore_errors=True)
            os.replace(work[p.name], out / p.name)
            done.append((p, meta))
        return done
    finally:
        for folder in [*work.values(), scratch]:
            shutil.rmtree(folder, ignore_errors=True)


def _crop_iuv(iuv: np.ndarray | None, job: VideoJob, t: int, box: tuple[int, int, int], width: int,
              size: int) -> np.ndarray:
    """Crop an IUV frame with the clip's box (scaled if the IUV video has another size), nearest resize."""
    from ..densepose import check_iuv

    if iuv is None:
        raise PosevidError(job.iuv, f"the IUV source has fewer frames than the video (ends at {t})")
    iuv = check_iuv(iuv, job.iuv)
    scale = iuv.shape[1] / width
    scaled = (int(round(box[0] * scale)), int(round(box[1] * scale)), max(1, int(round(box[2] * scale))))
    return crop_square(iuv, scaled, size, nearest=True)


def is_done(out: Path, name: str) -> bool:
    """A clip is finished when its folder holds ``meta.json`` (written last)."""
    return (out / name / META).is_file()


def _hash(name: str) -> str:
    return hashlib.sha1(name.encode()).hexdigest()


def update_index(out: Path, size: int, done: list[Part], test_fraction: float) -> dict:
    """Add finished clips to ``out/index.json`` (listed clips keep their split) and write it atomically.

    A clip with a forced split goes there; the others go to test (in a fixed hash order) until about
    ``test_fraction`` of the automatically split clips are test clips (at least one if there are two).
    """
    path = out / INDEX
    index = {"size": size, "train": [], "test": [], "forced": []}
    if path.is_file():
        index.update(json.loads(path.read_text()))
    if int(index["size"]) != size:
        raise PosevidError(path, f"the dataset was prepared at size {index['size']}, not {size}")
    known = set(index["train"]) | set(index["test"])
    new = [p for p in done if p.name not in known]
    for p in new:
        if p.split is not None:
            index[p.split].append(p.name)
            index["forced"].append(p.name)
    forced = set(index["forced"])
    auto = [n for n in index["train"] + index["test"] if n not in forced]
    fresh = sorted((p.name for p in new if p.split is None), key=_hash)
    total = len(auto) + len(fresh)
    want = int(round(total * test_fraction))
    if test_fraction > 0 and total >= 2:
        want = min(max(want, 1), total - 1)
    have = len([n for n in index["test"] if n not in forced])
    for name in fresh:
        target = "test" if have < want else "train"
        have += target == "test"
        index[target].append(name)
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(index, indent=1))
    return index


def layout_jobs(layout: VideoLayout, max_frames: int | None = None,
                iuv_dir: Path | None = None) -> list[VideoJob]:
    """One job per clip of a downloaded video layout, in the split the layout gives it (a name met twice
    gets ``_2``, ``_3``, ...)."""
    jobs, seen = [], set()
    for c in layout.clips:
        name, k = c.name, 1
        while name in seen:
            k += 1
            name = f"{c.name}_{k}"
        seen.add(name)
        jobs.append(VideoJob(c.path, (Part(name, 0, max_frames, c.split),), find_iuv(iuv_dir, c.name), layout.crop))
    return jobs


def prepare_pairs(layout: PairLayout, out: str | Path) -> dict:
    """Copy a PG2 pair layout into ``out`` as PATN's folder (``data.kind: pg2_pairs`` reads it): the images
    named in the pair lists in ``out/{train,test}/`` (raw In-shop images renamed and cropped as PATN does),
    the CSVs under their own names, and ``layout.json``. Finished images are skipped on a rerun."""
    from PIL import Image

    from ..methods.pg2.data import read_pg2_pairs

    out = Path(out)
    counts = {}
    for split, part in layout.splits.items():
        folder = out / split
        folder.mkdir(parents=True, exist_ok=True)
        names = sorted({n for pair in read_pg2_pairs(part.pairs) for n in pair})
        for name in names:
            target = folder / name
            if target.is_file():
                continue
            with atomic_path(target) as tmp:
                if part.crop_inshop:
                    with Image.open(part.images[name]) as img:
                        w, h = img.size
                        img.convert("RGB").crop((round(40 * w / 256), 0, round(216 * w / 256), h)).save(
                            tmp, format="JPEG", quality=95)
                else:
                    shutil.copyfile(part.images[name], tmp)
        for csv_path in (part.pairs, part.annotations):
            with atomic_path(out / csv_path.name) as tmp:
                shutil.copyfile(csv_path, tmp)
        counts[split] = len(names)
    info = {"layout": layout.name, "kind": "pg2_pairs", "source": str(layout.root), "images": counts}
    with atomic_path(out / "layout.json") as tmp:
        tmp.write_text(json.dumps(info, indent=1))
    return info


def _run_job(job: VideoJob, out: Path, size: int, margin: float,
             progress: Callable[[int], None] | None, subject: str = "body") -> tuple[list[Part], str | None]:
    """Prepare one video (also a worker entry); a ``PosevidError`` becomes an error line, not a stop."""
    try:
        return [p for p, _ in prepare_video(job, out, size, margin, progress, subject)], None
    except PosevidError as err:
        return [], str(err)


def _frame_total(jobs: list[VideoJob]) -> int | None:
    """Frames to process (x2 passes) when every container says its length, else None."""
    total = 0
    for job in jobs:
        try:
            count = open_video(job.source).frame_count
        except PosevidError:
            continue
        if count is None:
            return None
        lo = min(p.start for p in job.parts)
        hi = max(count if p.stop is None else min(p.stop, count) for p in job.parts)
        total += 2 * max(hi - lo, 0)
    return total


def prepare(inputs: list[str | Path], out: str | Path, size: int = 256, workers: int = 1,
            iuv_dir: str | Path | None = None, test_fraction: float = 0.2, frames: str | None = None,
            max_frames: int | None = None, split: str | None = None, test_frames: str | None = None,
            margin: float = 0.1, show_progress: bool = True, layout: str | None = None,
            subject: str = "body") -> tuple[dict, list[str]]:
    """Prepare every clip of ``inputs`` into ``out`` (skipping finished ones) and update the index.

    Returns (index dict, error lines). A video that fails (unreadable, no person) gives one error line
    and the others go on. ``split`` ("train" | "test") forces the split of the clips of ``frames``.
    ``layout`` (``posevid.data.layouts``): ``inputs`` is one downloaded dataset folder in that layout; a
    video layout's clips keep its splits; a pair layout is copied by ``prepare_pairs`` (its dict returned).
    ``subject``: ``body`` (person crops) or ``face`` (head crops of talking-head videos with face landmarks
    and face masks; see ``prepare_video``).
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    if size < 16 or size % 16 or size > 4096:
        raise PosevidError(None, f"--size must be a multiple of 16 from 16 to 4096 (got {size})")
    if not 0 <= test_fraction <= 1:
        raise PosevidError(None, f"--test-fraction must lie in [0, 1] (got {test_fraction:g})")
    if not (1 <= workers <= 256 and 0 <= margin <= 10) or (max_frames is not None and max_frames < 1):
        raise PosevidError(None, f"need 1 <= --workers <= 256, 0 <= --margin <= 10 and --max-frames >= 1 (got "
                                 f"{workers}, {margin:g}, {max_frames})")
    if subject not in ("body", "face"):
        raise PosevidError(None, f"--subject must be body or face, not {subject}")
    if split not in (None, "train", "test"):
        raise PosevidError(None, f"--split must be train or test, not {split}")
    if iuv_dir is not None and not Path(iuv_dir).is_dir():
        raise PosevidError(iuv_dir, "no such IUV folder")
    out = Path(out)
    if layout is not None:
        if len(inputs) != 1 or frames or test_frames or split:
            raise PosevidError("--layout", "takes one dataset folder, without --frames, --test-frames or --split")
        found = read_layout(layout, inputs[0])
        if isinstance(found, PairLayout):
            return prepare_pairs(found, out), []
    out.mkdir(parents=True, exist_ok=True)
    if layout is not None:
        jobs = layout_jobs(found, max_frames, Path(iuv_dir) if iuv_dir else None)
    else:
        jobs = list_jobs([Path(p) for p in inputs], frames, max_frames, Path(iuv_dir) if iuv_dir else None,
                         split, test_frames)
    done = [p for j in jobs for p in j.parts if is_done(out, p.name)]
    todo = [j for j in jobs if any(not is_done(out, p.name) for p in j.parts)]
    errors: list[str] = []
    index = update_index(out, size, done, test_fraction)
    columns = (TextColumn("[bold]prepare"), BarColumn(), MofNCompleteColumn(), TextColumn("frames (2 passes)"),
               TimeRemainingColumn())
    with Progress(*columns, disable=not show_progress or not todo) as bar:
        task = bar.add_task("prepare", total=_frame_total(todo) if todo else 0)

        def finish(parts: list[Part], err: str | None) -> None:
            nonlocal index
            if err is not None:
                errors.append(err)
                bar.console.print(f"[red]error[/red] {err}")
            done.extend(parts)
            index = update_index(out, size, done, test_fraction)

        if workers <= 1 or len(todo) <= 1:
            for job in todo:
                finish(*_run_job(job, out, size, margin, lambda n: bar.advance(task, n), subject))
            return index, errors
        ctx = multiprocessing.get_context("spawn")
        with ctx.Manager() as manager, ProcessPoolExecutor(min(workers, len(todo)), mp_context=ctx) as pool:
            queue = manager.Queue()
            pending = {pool.submit(_run_job, job, out, size, margin, queue.put, subject) for job in todo}
            while pending:
                finished, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
                while not queue.empty():
                    bar.advance(task, queue.get())
                for fut in finished:
                    finish(*fut.result())
    return index, errors
