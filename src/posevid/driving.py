"""What drives an animation, opened and turned into one pose per frame.

A driving input is a camera video (poses estimated with BlazePose, or Holistic for hands and face), a
skeleton render (OpenPose / DWPose colours on black, decoded by ``render_decode.SkeletonDecoder``), a
DensePose render (a part visualisation, or raw IUV frames; joints from the part regions), a pose file
or ``Poses``. Videos are recognised from their first frames (``render_decode.guess_driving_kind``) unless
the kind is given. The poses stream (one frame in memory at a time) and are checked as they go
(``poses.SequenceCheck``: a person in fewer than half the frames, or poses that jump, stop the run).
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from .errors import PosevidError
from .estimate import PoseEstimator, check_keypoints, choose_person, find_people
from .posefiles import require_coco18
from .poses import Poses, SequenceCheck, bbox, check_fps, check_sequence
from .prefetch import Prefetch
from .render_decode import (
    DRIVING_KINDS,
    SkeletonDecoder,
    decode_densepose_parts,
    frame_kind,
    guess_driving_kind,
    keypoints_from_parts,
)

POSE_SUFFIXES = (".npz", ".json", ".csv", ".bvh", ".txt")
KIND_FRAMES = 6  # first frames looked at to recognise what a video shows
ANALYSIS_SIDE = 320  # camera frames are shrunk to this longer side for body pose estimation (speed)
HANDS_ANALYSIS_SIDE = 720  # ... and to this one when hands are estimated (small in the frame)
DECODE_AHEAD = 2  # camera frames decoded and shrunk ahead of the pose estimator (memory: full frames)
FORCE_HINT = "; --force goes on anyway"

# One driving frame: (the frame, or None for pose input; its one-frame pose in driving pixels; the raw
# DensePose IUV frame for IUV input, else None).
Item = tuple["np.ndarray | None", Poses, "np.ndarray | None"]


def is_pose_file(path: Path) -> bool:
    """Whether ``path`` is read as a pose file (by its suffix, or a folder of OpenPose JSON)."""
    if path.is_dir():
        return any(path.glob("*.json"))
    return path.suffix.lower() in POSE_SUFFIXES


class Driving:
    """A driving input opened for one animation: ``kind`` (``poses``, ``rgb``, ``skeleton``, ``densepose``
    or ``iuv``), ``fps``, ``count`` (frames, None when unknown), ``size`` (width, height) and ``notes``
    (one-line remarks, e.g. on several people) are known once built; iterating yields ``Item`` s.

    kind: ``rgb``, ``skeleton`` or ``densepose`` overrides the guess from the first frames.
    keypoints: what to estimate on camera video (``estimate.KEYPOINT_SETS``).
    person: which person to follow when a camera video shows several (``estimate.PERSON_CHOICES``).
    check: stop on a sequence with too few people or jumping poses (``poses.SequenceCheck``).
    ``timings`` accumulates seconds of ``decode`` and ``estimate``. ``finder``: a ``PoseEstimator`` (of the
    same ``keypoints``) to look for several people in the first frame with (e.g. the one the photo was
    looked at with: its graph is loaded already); None: the one that tracks the person.
    """

    def __init__(self, driving: str | Path | Poses, kind: str | None = None, keypoints: str = "body",
                 person: str = "largest", check: bool = True):
        if kind is not None and kind not in DRIVING_KINDS:
            raise PosevidError(f"driving kind {kind}", f"must be one of {', '.join(DRIVING_KINDS)}")
        self.keypoints, self.person, self.check = check_keypoints(keypoints), person, check
        self.finder: PoseEstimator | None = None
        self.notes: list[str] = []
        self.timings: dict[str, float] = defaultdict(float)
        self.name = "driving poses" if isinstance(driving, Poses) else str(driving)
        self._poses: Poses | None = None
        self._reader = None
        self.first: np.ndarray | None = None
        if isinstance(driving, Poses) or is_pose_file(Path(driving)):
            self._open_poses(driving)
            return
        from .video import open_video

        self._reader = open_video(driving)
        self.fps, self.count = self._reader.fps, self._reader.frame_count
        self.size = (self._reader.width, self._reader.height)
        try:
            first = list(itertools.islice(iter(self._reader), KIND_FRAMES))
            self.kind = self._kind(kind, first)
            self.first = first[0] if first else None  # the first frame, for a look at what it shows
        except BaseException:
            self.close()
            raise

    def _open_poses(self, driving: str | Path | Poses) -> None:
        if isinstance(driving, Poses):
            poses = driving
        else:
            from .posefiles import read_poses

            poses = read_poses(driving)
        if len(poses) == 0:
            raise PosevidError(self.name, "the pose sequence is empty")
        require_coco18(self.name, poses, "animating")
        check_fps(self.name, poses.fps, "its frame rate")
        if self.check:
            check_sequence(poses, self.name, FORCE_HINT)
        self._poses, self.kind = poses, "poses"
        self.fps, self.count, self.size = poses.fps, len(poses), (poses.width, poses.height)

    def _kind(self, kind: str | None, first: list[np.ndarray]) -> str:
        guessed = guess_driving_kind(first)
        if kind is None:
            kind = guessed
            if kind != "rgb":
                self._note(f"{self.name}: a {kind} render; its poses are decoded from it "
                           "(--driving-kind rgb to estimate them as from a camera)")
        if kind == "densepose":
            return "iuv" if frame_kind(first[0]) == "iuv" else "densepose"
        return kind

    def __iter__(self) -> Iterator[Item]:
        if self._poses is not None:
            yield from ((None, p, None) for p in self._poses)
            return
        checker = SequenceCheck(self.name, self.count, self._hint()) if self.check else None
        # closed here, in the thread that runs it, whatever ends the loop: left to the garbage collector, the
        # estimator's MediaPipe graph would be closed in whichever thread collects it, which can deadlock
        with contextlib.closing(self._estimated() if self.kind == "rgb" else self._decoded()) as items:
            for item in items:
                if checker is not None:
                    checker(item[1])
                yield item
        if checker is not None:
            checker.finish()

    def _hint(self) -> str:
        if self.kind == "rgb":
            return "; if it is a skeleton or DensePose render, say so with --driving-kind" + FORCE_HINT
        return FORCE_HINT

    def _frames(self) -> Iterator[np.ndarray]:
        """The driving video's frames, timing the decoding; a video cut short is noted at its end."""
        frames = iter(self._reader)
        while True:
            t0 = time.perf_counter()
            frame = next(frames, None)
            self.timings["decode"] += time.perf_counter() - t0
            if frame is None:
                if (short := self._reader.shortfall()) is not None:
                    self._note(short)
                return
            yield frame

    def _decoded(self) -> Iterator[Item]:
        """Poses read off a skeleton or DensePose render, frame by frame (a skeleton render's hands and face
        when ``keypoints`` asks for them; each hand started from the previous frame's)."""
        skeleton = SkeletonDecoder(hands="hands" in self.keypoints, face="face" in self.keypoints)
        for frame in self._frames():
            t0 = time.perf_counter()
            if self.kind == "skeleton":
                item = (frame, skeleton(frame, self.fps), None)
            elif self.kind == "iuv":
                item = (frame, keypoints_from_parts(frame[..., 0], self.fps), frame)
            else:
                item = (frame, decode_densepose_parts(frame, self.fps), None)
            self.timings["estimate"] += time.perf_counter() - t0
            yield item

    def _estimated(self) -> Iterator[Item]:
        """Poses estimated on a shrunk copy of each camera frame (tracking mode), following one person. The
        frames are decoded and shrunk in a thread of their own (``Prefetch``), beside the estimator."""
        width, height = self.size
        side = ANALYSIS_SIDE if self.keypoints in ("body", "face") else HANDS_ANALYSIS_SIDE
        scale = min(1.0, side / max(width, height))
        small = (max(1, round(width * scale)), max(1, round(height * scale)))
        mailbox: list[np.ndarray] = []

        def posted() -> Iterator[np.ndarray]:  # hands the estimator the one frame just decoded
            while mailbox:
                yield mailbox.pop()

        def shrunk() -> Iterator[tuple[np.ndarray, np.ndarray]]:  # (frame, its shrunk copy), timed as decoding
            for frame in self._frames():
                t0 = time.perf_counter()
                copy = cv2.resize(frame, small, interpolation=cv2.INTER_AREA) if scale < 1 else frame
                self.timings["decode"] += time.perf_counter() - t0
                yield frame, copy

        with PoseEstimator(keypoints=self.keypoints) as estimator, \
                contextlib.closing(Prefetch(shrunk, DECODE_AHEAD, "posevid-decode")) as frames:
            first = next(frames, None)
            if first is None:
                return
            finder = estimator if self.finder is None or self.finder.keypoints != self.keypoints else self.finder
            focus = None if self.keypoints == "face" else self._choose(finder, first[1])
            stream = estimator.stream(posted(), self.fps, focus=focus, masks=False)  # the driver's masks go unused
            try:
                for frame, copy in itertools.chain([first], frames):
                    t0 = time.perf_counter()
                    mailbox.append(copy)
                    pose, _ = next(stream)
                    self.timings["estimate"] += time.perf_counter() - t0
                    yield frame, pose.rescale(width, height), None
            finally:
                stream.close()

    def _choose(self, estimator: PoseEstimator, frame: np.ndarray) -> np.ndarray | None:
        """The box of the person to follow when the first frame shows several (None: just one)."""
        t0 = time.perf_counter()
        people = find_people(estimator, frame)
        self.timings["estimate"] += time.perf_counter() - t0
        if len(people) < 2:
            return None
        chosen = choose_person(people, self.person)
        self._note(f"{self.name}: {len(people)} people in the first frame; following the {self.person} "
                   "(--person left|right|largest)")
        return bbox(people[chosen][0])[0]

    def _note(self, text: str) -> None:
        self.notes.append(text)
        logging.getLogger("posevid").warning(text)

    def poses(self) -> Poses:
        """All the driving poses at once (the video is read to its end; memory holds only the poses)."""
        if self._poses is not None:
            return self._poses
        frames = [pose for _, pose, _ in self]
        if not frames:
            raise PosevidError(self.name, "no frames")
        return Poses.concat(frames)

    def close(self) -> None:
        """Release the decoder."""
        if self._reader is not None:
            self._reader.close()

    def __enter__(self) -> Driving:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
