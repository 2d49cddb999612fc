"""The main job: animate the person in one photo with the motion of a driving video or pose sequence.

Pipeline (streamed, one driving frame in memory at a time):
source photo -> its pose and person mask (once) -> driving frames -> poses (``driving.Driving``:
estimated with BlazePose in tracking mode, or decoded from a skeleton or DensePose render, or read)
-> retargeted onto the source body (``poses.retarget``) -> causal one-euro smoothing -> the method's
animator -> frames. ``animate`` yields the frames; ``animate_to_file`` streams them to a video file.
"""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
import logging
import queue
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from .driving import Driving
from .errors import PosevidError
from .estimate import choose_person, find_people
from .face import FaceTargets, check_subject, face_box, face_only, inter_ocular, wants_face
from .methods.base import Animator, build_method
from .poses import DEFAULT_RETARGET, RETARGET_MODES, Poses, bbox, body_height, retarget
from .poses import smooth as smooth_poses

QUEUE = 4  # decoded and estimated driving frames waiting for the animator
CROP_MARGIN = 1.4  # the square crop is this many times the person's larger side
FOOT_ROOM = 0.04  # of the crop below the person's lowest point (the rest of the margin goes above)
MAX_SOURCE_SIDE = 4096  # larger source photos are downscaled to this longer side (with a logged note)
Progress = Callable[[int, "int | None"], None]


class OnlineSmoother:
    """Causal one-euro filter (Casiez et al. 2012) over a stream of one-frame poses, joint by joint.

    Same parameters and defaults as ``poses.smooth(method="one_euro")`` (the offline version): coordinates
    are filtered in units of ``unit`` pixels (a body height), ``min_cutoff`` and ``d_cutoff`` in Hz,
    ``beta`` per body height per second. A joint that goes missing keeps its last position for up to
    ``max_gap`` frames.
    """

    def __init__(self, fps: float, unit: float, min_cutoff: float | None = None, beta: float | None = None,
                 d_cutoff: float | None = None, max_gap: int = 5):
        defaults = smooth_poses.__kwdefaults__
        self.fps, self.unit, self.max_gap = fps, max(unit, 1e-6), max_gap
        self.min_cutoff = defaults["min_cutoff"] if min_cutoff is None else min_cutoff
        self.beta = defaults["beta"] if beta is None else beta
        self.a_d = self._alpha(defaults["d_cutoff"] if d_cutoff is None else d_cutoff)
        self.x: np.ndarray | None = None  # (J, 2) filtered position, body-height units
        self.dx = self.conf = self.gap = self.live = None

    def _alpha(self, cutoff: np.ndarray | float) -> np.ndarray | float:
        return 1.0 / (1.0 + self.fps / (2 * np.pi * cutoff))

    def __call__(self, pose: Poses) -> Poses:
        """The filtered one-frame pose (same image size and fps)."""
        xy, conf = pose.xy[0].astype(np.float64) / self.unit, pose.conf[0].astype(np.float64)
        seen = conf > 0
        if self.x is None:
            self.x, self.dx, self.conf = xy.copy(), np.zeros_like(xy), conf.copy()
            self.gap, self.live = np.zeros(len(conf), int), seen.copy()
        new = seen & ~self.live
        cont = seen & self.live
        self.x[new], self.dx[new] = xy[new], 0.0
        dx = self.a_d * (xy - self.x) * self.fps + (1 - self.a_d) * self.dx
        a = self._alpha(self.min_cutoff + self.beta * np.linalg.norm(dx, axis=1))[:, None]
        self.x[cont] = (a * xy + (1 - a) * self.x)[cont]
        self.dx[cont] = dx[cont]
        self.conf[seen], self.gap[seen] = conf[seen], 0
        self.gap[~seen] += 1
        self.live = seen | (self.live & (self.gap <= self.max_gap))
        out_conf = np.where(self.live, self.conf, 0.0)
        out_xy = np.where(self.live[:, None], self.x * self.unit, 0.0)
        return dataclasses.replace(pose, xy=out_xy[None], conf=out_conf[None])  # depth, hands, face kept


def _retarget_frame(reference: Poses, current: Poses, source: Poses, mode: str,
                    still: np.ndarray | None = None) -> Poses:
    """``poses.retarget`` of one driving frame against a fixed reference frame (streaming).

    The reference is passed twice so that the median body height ``retarget`` takes is the reference's
    and its first frame with a person is the reference: the result does not depend on later frames.
    """
    return retarget(Poses.concat([reference, reference, current]), source, mode, still)[2]


def _square_box(pose: Poses, mask: np.ndarray) -> tuple[int, int, int]:
    """(x0, y0, side) of a square around the person (joints and mask), ``CROP_MARGIN`` times its size,
    centred across, with most of the spare room above the person, moved inside the image where it fits."""
    box = bbox(pose)[0]
    ys, xs = np.nonzero(mask > 0.5)
    if xs.size:
        box = np.array([min(box[0], xs.min()), min(box[1], ys.min()), max(box[2], xs.max()), max(box[3], ys.max())])
    side = max(8, int(round(CROP_MARGIN * max(box[2] - box[0], box[3] - box[1]))))
    height, width = mask.shape
    x0 = int(round((box[0] + box[2]) / 2 - side / 2))
    y0 = int(round(box[3] + FOOT_ROOM * side - side))  # feet near the bottom: room above for raised arms
    x0 = min(max(x0, 0), width - side) if side <= width else x0
    y0 = min(max(y0, 0), height - side) if side <= height else y0
    return x0, y0, side


def _crop(image: np.ndarray, x0: int, y0: int, side: int, size: int) -> np.ndarray:
    """The ``side`` square at (x0, y0) of ``image`` resized to ``size``; black where it leaves the image, as
    in the training crops (only a method's square input is padded so, never the result)."""
    h, w = image.shape[:2]
    pad = (max(0, -y0), max(0, y0 + side - h), max(0, -x0), max(0, x0 + side - w))
    if any(pad):
        image = cv2.copyMakeBorder(image, *pad, cv2.BORDER_CONSTANT, value=0)
    x0, y0 = x0 + pad[2], y0 + pad[0]
    square = image[y0:y0 + side, x0:x0 + side]
    interp = cv2.INTER_AREA if size < side else cv2.INTER_CUBIC
    out = cv2.resize(square, (size, size), interpolation=interp)
    return np.clip(out, 0, 1) if out.dtype == np.float32 else out


def _crop_exact(image: np.ndarray, x0: int, y0: int, side: int) -> np.ndarray:
    """The ``side`` square at (x0, y0) of a label image (zeros outside it), not resized."""
    h, w = image.shape[:2]
    out = np.zeros((side, side, *image.shape[2:]), image.dtype)
    ys, xs = slice(max(y0, 0), min(y0 + side, h)), slice(max(x0, 0), min(x0 + side, w))
    out[ys.start - y0:ys.stop - y0, xs.start - x0:xs.stop - x0] = image[ys, xs]
    return out


def _fit_height(image: np.ndarray, height: int) -> np.ndarray:
    """``image`` resized to ``height`` rows, keeping its aspect ratio."""
    h, w = image.shape[:2]
    if h == height:
        return image
    width = max(1, int(round(w * height / h)))
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA if height < h else cv2.INTER_LINEAR)


def load_animator(method: str = "warp", checkpoint: str | Path | None = None,
                  options: dict | None = None) -> tuple[Animator, int | None]:
    """The animator of ``method`` (a trained one from ``checkpoint``) and the image size it was trained at.

    ``warp`` needs no checkpoint. With a checkpoint the method is the one saved in it; ``method``, if not
    ``warp``, must match it. ``options`` are keyword arguments of the method's ``animator()`` (e.g. the
    decoupled method's colours).
    """
    if checkpoint is None:
        from .methods.base import method_class

        try:
            cls = method_class(method)
        except KeyError as err:
            raise PosevidError(f"method {method}", str(err.args[0])) from None
        if cls.trainable:
            raise PosevidError(f"method {method}", "needs --checkpoint (a trained model); only 'warp' works without")
        if options:
            raise PosevidError(f"method {method}", f"takes no options ({', '.join(options)})")
        return build_method({"method": method}).animator(), None
    from .checkpoints import load_method

    model = load_method(checkpoint)
    if method not in ("warp", model.name):
        raise PosevidError(checkpoint, f"holds a {model.name!r} model, not {method!r}")
    size = model.cfg.get("data", {}).get("size")
    try:
        animator = model.animator(**(options or {}))
    except TypeError as err:
        if "unexpected keyword" not in str(err):
            raise
        raise PosevidError(checkpoint, f"method {model.name!r} does not take these options ({err})") from None
    return animator, int(size) if size else None


def _iuv_hint(problem: str) -> str:
    """A DensePose-IUV model's complaint, with what to give it."""
    if "IUV" not in problem:
        return problem
    return ("this model was trained with DensePose IUV: drive it with a video of raw I, U, V frames and give the "
            "photo's IUV image with --source-iuv")


def _groups(pose: Poses) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The hands and face of a one-frame pose, as ``render.stick_figure`` takes them."""
    out = {}
    if pose.hand_xy is not None:
        out["hands"] = (pose.hand_xy[0], pose.hand_conf[0])
    if pose.face_xy is not None:
        out["face"] = (pose.face_xy[0], pose.face_conf[0])
    return out


def _with_face(body: Poses, face: Poses) -> Poses:
    """A one-frame body pose with the face landmarks of another estimate of the same image."""
    return dataclasses.replace(body, face_xy=face.face_xy, face_conf=face.face_conf)


class Animation:
    """A prepared animation: inputs read and checked, source pose estimated; iterate it for frames.

    Iterating yields ``(result, panel)`` per output frame: result (H, W, 3) uint8, the photo's whole frame
    at the output size (``photo.frame_size``); panel the side-by-side ``driving | target pose | result``
    (H, W', 3) uint8 when ``side_by_side`` is set, else None. ``fps`` is the output rate, ``frame_count``
    the number of output frames when known. ``target`` is the one-frame target pose (source pixels) of
    the frame last yielded. ``timings`` (seconds per stage: decode, estimate, retarget, warp) accumulates
    as frames are made. ``notes``: one-line remarks on the inputs (also logged once each).
    A method trained on square crops (its checkpoint says the size) gets the square around the person at
    that size; what it makes is pasted back into the frame with a feathered seam (``photo.paste``).
    ``driving`` is the opened ``driving.Driving`` (its notes join ``notes``). The keyword-only inputs are
    ``animate``'s.
    """

    def __init__(self, source: str | Path | np.ndarray, driving: str | Path | Poses, method: str = "warp",
                 checkpoint: str | Path | None = None, mode: str = DEFAULT_RETARGET, size: int | None = None,
                 smooth: bool = True, side_by_side: bool = False, fps: float | None = None,
                 method_options: dict | None = None, width: int | None = None, height: int | None = None, *,
                 driving_kind: str | None = None, keypoints: str = "body", person: str = "largest",
                 force: bool = False, source_iuv: str | Path | np.ndarray | None = None,
                 loaded: tuple[Animator, int | None] | None = None, subject: str = "auto"):
        from .estimate import PoseEstimator, check_keypoints

        if mode not in RETARGET_MODES:
            raise PosevidError(f"mode {mode}", f"must be one of {', '.join(RETARGET_MODES)}")
        for name, value in (("size", size), ("width", width), ("height", height)):
            if value is not None and not 16 <= value <= MAX_SOURCE_SIDE:
                raise PosevidError(f"{name} {value}", f"must be between 16 and {MAX_SOURCE_SIDE} pixels")
        self.mode, self.smooth, self.side_by_side = mode, smooth, side_by_side
        self.timings: dict[str, float] = defaultdict(float)
        self.notes: list[str] = []  # one-line remarks on the inputs (e.g. a downscaled source), also logged
        self.target: Poses | None = None
        self.animator, trained_size = loaded or load_animator(method, checkpoint, method_options)
        self.person, self.iuv = person, None
        self.subject = check_subject(subject)
        self._estimator = PoseEstimator(keypoints=check_keypoints(keypoints))
        with contextlib.ExitStack() as failure:
            failure.callback(self.close)
            self.driving = Driving(driving, driving_kind, keypoints, person, check=not force)
            self.driving_name, self.driving_fps = self.driving.name, self.driving.fps
            self.driving_count, self.driving_size = self.driving.count, self.driving.size
            self.timings, self.notes = self.driving.timings, self.driving.notes
            self.source, self.source_pose, self.source_mask = self._prepare_source(source, size, width, height)
            self.crop = None if trained_size is None else (_square_box(self.source_pose, self.source_mask),
                                                           trained_size)
            self.source_iuv = self._source_iuv(source_iuv)
            self.fps = float(fps) if fps else self.driving_fps
            if not self.fps > 0:
                raise PosevidError(f"fps {fps}", "must be positive")
            failure.pop_all()
        self.height, self.width = self.source.shape[:2]
        count = self.driving_count
        self.frame_count = None if count is None else int(np.floor(count * self.fps / self.driving_fps + 1e-6))

    def note(self, note: str) -> None:
        """Keep a one-line remark on the inputs in ``notes`` and log it (once)."""
        self.notes.append(note)
        logging.getLogger("posevid").warning(note)

    def _prepare_source(self, source: str | Path | np.ndarray, size: int | None, width: int | None,
                        height: int | None) -> tuple[np.ndarray, Poses, np.ndarray]:
        """The photo at the output size (its whole frame; cropped around the person only when ``width`` and
        ``height`` both change its aspect), its person's one-frame pose and mask, checked."""
        from .photo import check_person, find_person, frame_size, unseen_joints
        from .video import read_image

        where = "source image" if isinstance(source, np.ndarray) else source
        self.source_name = str(where)
        rgb = read_image(source) if not isinstance(source, np.ndarray) else np.asarray(source)
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise PosevidError(where, f"must be (H, W, 3) uint8 RGB, got {rgb.shape} {rgb.dtype}")
        h, w = rgb.shape[:2]
        if size is None and width is None and height is None and max(h, w) > MAX_SOURCE_SIDE:
            size = MAX_SOURCE_SIDE
            self.note(f"{where}: {w}x{h} is larger than {MAX_SOURCE_SIDE} pixels; downscaled")
        out_w, out_h = frame_size(w, h, size, width, height)
        scale = max(out_w / w, out_h / h)  # cover the output frame, then crop the spare pixels
        cover = (max(out_w, round(w * scale)), max(out_h, round(h * scale)))
        if cover != (w, h):
            rgb = cv2.resize(rgb, cover, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
        pose, mask = find_person(self._estimator, rgb)
        if body_height(pose)[0] > 0:
            people = find_people(self._estimator, rgb, first=(pose, mask))
            if len(people) > 1:
                pose, mask = people[choose_person(people, self.person)]
                self.note(f"{where}: {len(people)} people in the photo; animating the {self.person} "
                          "(--person left|right|largest)")
        face = self._face_pose(rgb, pose, str(where))
        if face is not None:
            pose, mask = face, np.zeros(rgb.shape[:2], np.float32)
        if cover != (out_w, out_h):
            box = (face_box(pose.face_xy[0]) if face is not None else bbox(pose)[0] if body_height(pose)[0] > 0
                   else np.array([0, 0, cover[0], cover[1]], np.float32))
            x0 = int(np.clip(round((box[0] + box[2]) / 2 - out_w / 2), 0, cover[0] - out_w))
            y0 = int(np.clip(round((box[1] + box[3]) / 2 - out_h / 2), 0, cover[1] - out_h))
            rgb, mask = rgb[y0:y0 + out_h, x0:x0 + out_w], mask[y0:y0 + out_h, x0:x0 + out_w]
            pose = pose.crop(x0, y0, out_w, out_h, out_w, out_h)
        note = check_person(where, pose) if face is None else None
        if note:
            self.note(note)
        self.still = unseen_joints(pose)
        return np.ascontiguousarray(rgb), pose, np.ascontiguousarray(mask)

    def _face_pose(self, rgb: np.ndarray, body: Poses, where: str) -> Poses | None:
        """The photo's face pose when its face is what to animate (``face.wants_face``: ``subject``, or a
        face close-up in the photo or in the driver's first frame), else None (the body is animated). The
        subject is then ``face`` and the driving video's faces are estimated instead of its bodies."""
        from .estimate import PoseEstimator

        if self.subject == "body":
            return None
        first = self.driving.first
        with PoseEstimator(keypoints="face") as faces:
            photo = _with_face(body, faces.image(rgb)[0])
            driver = None
            if self.subject == "auto" and first is not None:
                driver = _with_face(self._estimator.image(first)[0], faces.image(first)[0])
            elif self.subject == "auto" and self.driving.kind == "poses":
                driver = self.driving.poses()[:1]
        if not wants_face(self.subject, photo, driver, where):
            self.subject = "body"
            return None
        self.subject = "face"
        self.driving.keypoints = "face"
        return face_only(photo)

    def _source_iuv(self, iuv: str | Path | np.ndarray | None) -> np.ndarray | None:
        """The photo's DensePose IUV image (for IUV-trained models) at the photo's (output) size."""
        if iuv is None:
            return None
        from .densepose import check_iuv
        from .video import read_image

        where = "source IUV" if isinstance(iuv, np.ndarray) else iuv
        image = check_iuv(np.asarray(iuv) if isinstance(iuv, np.ndarray) else read_image(iuv), where)
        return cv2.resize(image, (self.source.shape[1], self.source.shape[0]), interpolation=cv2.INTER_NEAREST)

    def _driving_poses(self) -> Iterator[tuple[np.ndarray | None, Poses, np.ndarray | None]]:
        """(driving frame or None, its one-frame pose in driving pixels, IUV frame or None) per driving frame.

        Video frames are decoded and their poses estimated or decoded in a worker thread (MediaPipe
        releases the GIL), at most ``QUEUE`` frames ahead of the animator, so memory stays flat.
        """
        if self.driving.kind == "poses":
            yield from self.driving
            return
        items: queue.Queue = queue.Queue(maxsize=QUEUE)
        stop = threading.Event()

        def put(item: object) -> None:
            while not stop.is_set():
                with contextlib.suppress(queue.Full):
                    items.put(item, timeout=0.1)
                    return

        def work() -> None:
            try:
                for item in self.driving:
                    put(item)
                    if stop.is_set():
                        return
                put(None)
            except BaseException as err:  # handed to the consumer, raised there
                put(err)

        worker = threading.Thread(target=work, name="posevid-estimate", daemon=True)
        worker.start()
        try:
            while (item := items.get()) is not None:
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            stop.set()
            worker.join()

    def targets(self) -> Iterator[tuple[np.ndarray | None, Poses, Poses]]:
        """Per driving frame: (the frame (H', W', 3) uint8, or None for pose input; its one-frame pose in
        driving pixels; the one-frame target pose in source pixels). A frame with nobody in it keeps the
        last target (the source pose until the driver is first seen); a driver never seen at all raises
        ``PosevidError`` at the end (so ``animate_to_file`` writes nothing)."""
        if self.subject == "face":
            yield from self._face_targets()
            return
        reference: Poses | None = None
        smoother = OnlineSmoother(self.driving_fps, float(body_height(self.source_pose)[0])) if self.smooth else None
        last = self.source_pose
        for frame, pose, iuv in self._driving_poses():
            self.iuv = iuv
            t0 = time.perf_counter()
            if reference is None and body_height(pose)[0] > 0:
                reference = pose
            if reference is not None and (pose.conf > 0).any():
                target = _retarget_frame(reference, pose, self.source_pose, self.mode, self.still)
                last = smoother(target) if smoother else target
            self.timings["retarget"] += time.perf_counter() - t0
            yield frame, pose, last
        if reference is None:
            raise PosevidError(self.driving_name, "no person found in any driving frame")

    def _face_targets(self) -> Iterator[tuple[np.ndarray | None, Poses, Poses]]:
        """``targets`` for a face: the portrait's landmarks moved as the driver's face moves (``FaceTargets``)."""
        unit = float(inter_ocular(self.source_pose.face_xy[0]))
        targets = FaceTargets(self.source_pose, OnlineSmoother(self.driving_fps, unit) if self.smooth else None)
        for frame, pose, _ in self._driving_poses():
            t0 = time.perf_counter()
            target = targets(pose)
            self.timings["retarget"] += time.perf_counter() - t0
            yield frame, pose, self.source_pose if target is None else target
        if targets.reference is None:
            raise PosevidError(self.driving_name, "no face found in any driving frame")

    def _panel(self, frame: np.ndarray | None, pose: Poses, target: Poses, result: np.ndarray) -> np.ndarray:
        from .render import stick_figure

        h, w = result.shape[:2]
        if frame is None:
            dw = max(1, int(round(pose.width * h / pose.height)))
            p = pose.rescale(dw, h)
            left = stick_figure(p.xy[0], p.conf[0], h, dw, **_groups(p))
        else:
            left = _fit_height(frame, h)
        middle = stick_figure(target.xy[0], target.conf[0], h, w, **_groups(target))
        return np.concatenate([left, middle, result], axis=1)

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
        threads = torch.get_num_threads()
        if self.driving.kind != "poses":  # one core goes to pose estimation in the worker thread
            torch.set_num_threads(max(1, threads - 1))
        try:
            yield from self._frames()
        finally:
            torch.set_num_threads(threads)

    def _frames(self) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
        crop = self.crop
        if crop is None:
            photo = (self.source, self.source_pose, self.source_mask)
        else:
            (x0, y0, side), size = crop
            photo = (_crop(self.source, x0, y0, side, size), self.source_pose.crop(x0, y0, side, side, size, size),
                     _crop(self.source_mask, x0, y0, side, size))
        self._takes_iuv = "iuv" in inspect.signature(self.animator.step).parameters
        iuv = self.source_iuv
        if iuv is not None and crop is not None:
            (x0, y0, side), size = crop
            iuv = cv2.resize(_crop_exact(iuv, x0, y0, side), (size, size), interpolation=cv2.INTER_NEAREST)
        try:
            self.animator.reset(*photo, **({"iuv": iuv} if self._takes_iuv else {}))
        except PosevidError as err:  # the animator cannot take this photo: say which photo
            raise PosevidError(self.source_name, _iuv_hint(err.problem)) from None
        ratio = self.fps / self.driving_fps
        made = 0
        for i, (frame, pose, target) in enumerate(self.targets()):
            repeat = int(np.floor((i + 1) * ratio + 1e-6)) - made
            if repeat <= 0:
                continue
            t0 = time.perf_counter()
            result = self._step(target)
            self.timings["warp"] += time.perf_counter() - t0
            panel = self._panel(frame, pose, target, result) if self.side_by_side else None
            self.target = target
            for _ in range(repeat):
                made += 1
                yield result, panel

    def _step(self, target: Poses) -> np.ndarray:
        """The animator's frame for ``target`` (source pixels), in the photo's whole frame; an IUV-taking
        animator also gets the driving IUV frame, resized to what it draws."""
        extra = {}
        if self._takes_iuv:
            extra["iuv"] = None
            if self.iuv is not None:
                side = (self.width, self.height) if self.crop is None else (self.crop[1], self.crop[1])
                extra["iuv"] = cv2.resize(self.iuv, side, interpolation=cv2.INTER_NEAREST)
        try:
            if self.crop is None:
                return self.animator.step(target, **extra)
            from .photo import paste

            (x0, y0, side), size = self.crop
            made = self.animator.step(target.crop(x0, y0, side, side, size, size), **extra)
        except PosevidError as err:
            raise PosevidError(self.driving_name, _iuv_hint(err.problem)) from None
        return paste(self.source, made, (x0, y0, side))

    def close(self) -> None:
        """Release the decoder and the pose estimator."""
        if getattr(self, "driving", None) is not None:
            self.driving.close()
        self._estimator.close()

    def __enter__(self) -> Animation:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def animate(source: str | Path | np.ndarray, driving: str | Path | Poses, method: str = "warp",
            checkpoint: str | Path | None = None, mode: str = DEFAULT_RETARGET, size: int | None = None,
            smooth: bool = True, side_by_side: bool = False, fps: float | None = None,
            progress: Progress | None = None, method_options: dict | None = None, width: int | None = None,
            height: int | None = None, **inputs: Any) -> Iterator[np.ndarray]:
    """Frames (H, W, 3) uint8 RGB of the person in ``source`` moving like the person in ``driving``.

    source: an image path or an (H, W, 3) uint8 RGB array. driving: a video (file, GIF or frame folder),
    a pose file (``.npz``, OpenPose folder/JSON, COCO JSON, PG2 CSV, BVH) or ``Poses``.
    method/checkpoint: ``warp`` needs no checkpoint; trained methods load from ``checkpoint``.
    mode: ``pose`` (the source's person takes the driving pose: the driver's bone directions, the source's
    lengths), ``bones`` (the source's bones turn and stretch as the driver's), ``relative`` (each source
    joint moves as the driver's) or ``absolute`` (the driving pose scaled to the source body); see
    ``poses.retarget``. size: the result's longer side (the photo's whole frame and aspect ratio are
    kept); width / height: one side (the other keeps the aspect) or both (the photo cropped around the
    person to fill them); none of them: the photo's own size.
    smooth: causal one-euro filtering of the target poses. side_by_side: yield ``driving | target pose |
    result`` panels instead of the result. fps: the output rate (driving frames are dropped or repeated;
    default the driving rate). progress(done, total or None) is called after each frame.
    method_options: keyword arguments of the method's ``animator()``. Frames are made lazily: memory does not
    grow with the driving video's length.
    inputs (keyword only, see ``Animation``): ``driving_kind`` (``rgb``, ``skeleton`` or ``densepose``:
    what the driving video shows, guessed by default), ``keypoints`` (``body``, ``body+hands``,
    ``body+hands+face``: what to estimate; the warp method turns the hands to their keypoints),
    ``person`` (``largest``, ``left``, ``right``: whom to animate and follow when there are several),
    ``force`` (go on with a driver that has a person in under half its frames or jumping poses),
    ``source_iuv`` (the photo's DensePose IUV, for IUV-trained models), ``loaded`` (an ``(animator,
    trained size)`` from ``load_animator``, to animate many pairs with one loaded model).
    """
    anim = Animation(source, driving, method, checkpoint, mode, size, smooth, side_by_side, fps, method_options,
                     width, height, **inputs)
    try:
        for done, (result, panel) in enumerate(anim, 1):
            yield panel if side_by_side else result
            if progress is not None:
                progress(done, anim.frame_count)
    finally:
        anim.close()


def animate_to_file(source: str | Path | np.ndarray, driving: str | Path | Poses, out: str | Path,
                    side_by_side_out: str | Path | None = None, method: str = "warp",
                    checkpoint: str | Path | None = None, mode: str = DEFAULT_RETARGET, size: int | None = None,
                    smooth: bool = True, fps: float | None = None, show_progress: bool = True,
                    timings: dict[str, float] | None = None, method_options: dict | None = None,
                    poses_out: str | Path | None = None, width: int | None = None, height: int | None = None,
                    audio: bool = True, **inputs: Any) -> int:
    """Animate (see ``animate``) straight to the video ``out`` (mp4, mov, mkv, gif or frame folder), and the
    ``driving | pose | result`` panels to ``side_by_side_out`` when given; both written atomically.
    ``poses_out``: also write the target pose of every output frame (source pixels) as a pose file.
    ``audio``: an mp4 / mov / mkv result gets the driving video's sound, cut to its length; a gif or PNG
    result cannot hold sound, which is said once (a note). ``inputs``: as for ``animate``.

    Shows a rich progress bar when ``show_progress``; adds seconds per stage (decode, estimate, retarget,
    warp, encode) to ``timings`` when given. Returns the number of frames written.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from .video import MP4_SUFFIXES, VideoWriter, has_audio

    anim = Animation(source, driving, method, checkpoint, mode, size, smooth, side_by_side_out is not None, fps,
                     method_options, width, height, **inputs)
    with contextlib.ExitStack() as stack:
        stack.callback(anim.close)
        sound = driving if audio and not isinstance(driving, Poses) and has_audio(driving) else None
        if sound is not None and Path(out).suffix.lower() not in MP4_SUFFIXES:
            anim.note(f"{out}: a gif or PNG frames cannot hold sound; the driving video's audio is not kept "
                       "(write .mp4, .mov or .mkv to keep it)")
        writer = stack.enter_context(VideoWriter(out, anim.fps, audio_from=sound))
        panels = (stack.enter_context(VideoWriter(side_by_side_out, anim.fps, audio_from=sound))
                  if side_by_side_out else None)
        bar = stack.enter_context(Progress("[progress.description]{task.description}", BarColumn(),
                                           MofNCompleteColumn(), TimeRemainingColumn(), disable=not show_progress,
                                           transient=True))
        task = bar.add_task(f"animating {Path(out).name}", total=anim.frame_count)
        encode, targets = 0.0, []
        for result, panel in anim:
            if poses_out is not None:
                targets.append(anim.target)
            t0 = time.perf_counter()
            writer.write(result)
            if panels is not None:
                panels.write(panel)
            encode += time.perf_counter() - t0
            bar.advance(task)
        if timings is not None:
            for key, value in {**anim.timings, "encode": encode}.items():
                timings[key] = timings.get(key, 0.0) + value
        if poses_out is not None:
            from .posefiles import write_poses

            write_poses(poses_out, Poses(np.concatenate([p.xy for p in targets]), np.concatenate(
                [p.conf for p in targets]), anim.width, anim.height, anim.fps))
        return writer.count
