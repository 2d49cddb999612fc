"""Many animations in one run: several photos and driving inputs (every photo with every driver, or a
YAML list of pairs) into an output folder, the model loaded once and each driver's poses read once.

A pair that fails is reported (one line) and the others still run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

from .errors import PosevidError
from .poses import Poses

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")


@dataclass
class Pair:
    """One animation of a batch: a photo, a driving input and the output file."""

    source: Path
    driving: Path
    out: Path


@dataclass
class Outcome:
    """What became of a pair: ``frames`` written, or the ``error`` line."""

    pair: Pair
    frames: int = 0
    error: str | None = None


def is_photo(path: str | Path) -> bool:
    """Whether an input of ``posevid animate`` is a photo to animate (by its suffix) rather than a driver."""
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def all_pairs(sources: list[Path], drivings: list[Path], folder: Path, suffix: str = ".mp4") -> list[Pair]:
    """Every photo with every driver, written to ``folder/<photo>__<driver><suffix>``."""
    return [Pair(s, d, folder / f"{s.stem}__{d.stem}{suffix}") for s in sources for d in drivings]


def read_pairs(path: str | Path, folder: Path, suffix: str = ".mp4") -> list[Pair]:
    """Pairs from a YAML list: each item ``{source: PHOTO, driving: DRIVER, out: FILE}`` (``out``
    optional, relative to ``folder``) or ``[PHOTO, DRIVER]``; relative inputs are taken from the YAML
    file's folder."""
    path = Path(path)
    try:
        items = yaml.safe_load(path.read_text())
    except (OSError, UnicodeError, yaml.YAMLError) as err:
        raise PosevidError(path, f"cannot read the list of pairs ({err.__class__.__name__})") from None
    if not isinstance(items, list) or not items:
        raise PosevidError(path, "must be a YAML list of pairs ({source: PHOTO, driving: VIDEO} or [PHOTO, VIDEO])")
    pairs = []
    for n, item in enumerate(items, 1):
        if isinstance(item, dict) and {"source", "driving"} <= set(item) and set(item) <= {"source", "driving", "out"}:
            source, driving, out = item["source"], item["driving"], item.get("out")
        elif isinstance(item, list) and len(item) == 2:
            (source, driving), out = item, None
        else:
            raise PosevidError(path, f"item {n} is not a pair ({{source: PHOTO, driving: VIDEO}} or [PHOTO, VIDEO])")
        if not all(isinstance(v, str) for v in (source, driving)) or not isinstance(out, (str, type(None))):
            raise PosevidError(path, f"item {n}: source, driving and out must be file names")
        s, d = (path.parent / source), (path.parent / driving)
        pairs.append(Pair(s, d, folder / out if out else folder / f"{s.stem}__{d.stem}{suffix}"))
    return pairs


def run_batch(pairs: list[Pair], animate: Callable[[Pair, Poses], int],
              driving_poses: Callable[[Path], Poses], report: Callable[[Outcome], None] | None = None
              ) -> list[Outcome]:
    """Animate each pair with ``animate(pair, driving poses) -> frames``; each driver's poses come from
    ``driving_poses(path)`` once (a driver that fails fails its pairs, reported once each). A
    ``PosevidError`` fails only its pair; ``report(outcome)`` is called as each pair ends."""
    cache: dict[Path, Poses | PosevidError] = {}
    outcomes = []
    for pair in pairs:
        outcome = Outcome(pair)
        try:
            if pair.driving not in cache:
                try:
                    cache[pair.driving] = driving_poses(pair.driving)
                except PosevidError as err:
                    cache[pair.driving] = err
            poses = cache[pair.driving]
            if isinstance(poses, PosevidError):
                raise poses
            outcome.frames = animate(pair, poses)
        except PosevidError as err:
            outcome.error = str(err)
            logging.getLogger("posevid").debug("pair %s + %s failed: %s", pair.source, pair.driving, err)
        outcomes.append(outcome)
        if report is not None:
            report(outcome)
    return outcomes
