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
from .methods.base import Animator, build_method
from .poses import RETARGET_MODES, Poses, bbox, body_height, retarget
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


def _retarget_frame(reference: Poses, current: Poses, source: Poses, mode: str) -> Poses:
    """``poses.retarget`` of one driving frame against a fixed reference frame (streaming).

    The reference is passed twice so that the median body height ``retarget`` takes is the reference's
    and its first frame with a person is the reference: the result does not depend on later frames.
    """
    return retarget(Poses.concat([reference, reference, current]), source, mode)[2]


def _square_box(pose: Poses, mask: np.ndarray) -> tuple[int, int, int]:
    """(x0, y0, side) of a square around the person (joints and mask), ``CROP_MARGIN`` times its size,
    centred across, with most of the spare room above the person."""
    box = bbox(pose)[0]
    ys, xs = np.nonzero(mask > 0.5)
    if xs.size:
        box = np.array([min(box[0], xs.min()), min(box[1], ys.min()), max(box[2], xs.max()), max(box[3], ys.max())])
    side = max(8, int(round(CROP_MARGIN * max(box[2] - box[0], box[3] - box[1]))))
    cx = (box[0] + box[2]) / 2
    y0 = box[3] + FOOT_ROOM * side - side  # feet near the bottom: room above for raised arms
    return int(round(cx - side / 2)), int(round(y0)), side


def _crop(image: np.ndarray, x0: int, y0: int, side: int, size: int) -> np.ndarray:
    """The ``side`` square at (x0, y0) of ``image`` (edges replicated outside it), resized to ``size``."""
    h, w = image.shape[:2]
    pad = (max(0, -y0), max(0, y0 + side - h), max(0, -x0), max(0, x0 + side - w))
    if any(pad):
        image = cv2.copyMakeBorder(image, *pad, cv2.BORDER_REPLICATE)
    x0, y0 = x0 + pad[2], y0 + pad[0]
    square = image[y0:y0 + side, x0:x0 + side]
    interp = cv2.INTER_AREA if size < side else cv2.INTER_CUBIC
    out = cv2.resize(square, (size, size), interpolation=interp)
    return np.clip(out, 0, 1) if out.dtype == np.float32 else out


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


class Animation:
    """A prepared animation: inputs read and checked, source pose estimated; iterate it for frames.

    Iterating yields ``(result, panel)`` per output frame: result (H, W, 3) uint8 at the (possibly
    cropped) source size; panel the side-by-side ``driving | target pose | result`` (H, W', 3) uint8 when
    ``side_by_side`` is set, else None. ``fps`` is the output rate, ``frame_count`` the number of output
    frames when known. ``target`` is the one-frame target pose (source pixels) of the frame last yielded.
    ``timings`` (seconds per stage: decode, estimate, retarget, warp) accumulates as frames are made.
    ``driving`` is the opened ``driving.Driving``; ``notes`` its and the photo's one-line remarks. The
    keyword-only inputs are ``animate``'s.
    """

    def __init__(self, source: str | Path | np.ndarray, driving: str | Path | Poses, method: str = "warp",
                 checkpoint: str | Path | None = None, mode: str = "bones", size: int | None = None,
                 smooth: bool = True, side_by_side: bool = False, fps: float | None = None,
                 method_options: dict | None = None, *, driving_kind: str | None = None, keypoints: str = "body",
                 person: str = "largest", force: bool = False, source_iuv: str | Path | np.ndarray | None = None,
                 loaded: tuple[Animator, int | None] | None = None):
        from .estimate import PoseEstimator, check_keypoints

        if mode not in RETARGET_MODES:
            raise PosevidError(f"mode {mode}", f"must be one of {', '.join(RETARGET_MODES)}")
        if size is not None and not 16 <= size <= 4096:
            raise PosevidError(f"size {size}", "must be between 16 and 4096 pixels")
        self.mode, self.smooth, self.side_by_side = mode, smooth, side_by_side
        self.timings: dict[str, float] = defaultdict(float)
        self.notes: list[str] = []  # one-line remarks on the inputs (e.g. a downscaled source), also logged
        self.target: Poses | None = None
        self.animator, trained_size = loaded or load_animator(method, checkpoint, method_options)
        self.person, self.iuv = person, None
        self._estimator = PoseEstimator(keypoints=check_keypoints(keypoints))
        with contextlib.ExitStack() as failure:
            failure.callback(self.close)
            self.driving = Driving(driving, driving_kind, keypoints, person, check=not force)
            self.driving_name, self.driving_fps = self.driving.name, self.driving.fps
            self.driving_count, self.driving_size = self.driving.count, self.driving.size
            self.timings, self.notes = self.driving.timings, self.driving.notes
            self.source, self.source_pose, self.source_mask = self._prepare_source(source, size or trained_size)
            self.source_iuv = self._source_iuv(source_iuv, size or trained_size)
            self.fps = float(fps) if fps else self.driving_fps
            if not self.fps > 0:
                raise PosevidError(f"fps {fps}", "must be positive")
            failure.pop_all()
        self.height, self.width = self.source.shape[:2]
        count = self.driving_count
        self.frame_count = None if count is None else int(np.floor(count * self.fps / self.driving_fps + 1e-6))

    def _prepare_source(self, source: str | Path | np.ndarray, size: int | None
                        ) -> tuple[np.ndarray, Poses, np.ndarray]:
        from .video import read_image

        where = "source image" if isinstance(source, np.ndarray) else source
        self.source_name = str(where)
        rgb = read_image(source) if not isinstance(source, np.ndarray) else np.asarray(source)
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise PosevidError(where, f"must be (H, W, 3) uint8 RGB, got {rgb.shape} {rgb.dtype}")
        height, width = rgb.shape[:2]
        if max(height, width) > MAX_SOURCE_SIDE:
            scale = MAX_SOURCE_SIDE / max(height, width)
            small = (max(1, round(width * scale)), max(1, round(height * scale)))
            rgb = cv2.resize(rgb, small, interpolation=cv2.INTER_AREA)
            self.notes.append(f"{where}: {width}x{height} is larger than {MAX_SOURCE_SIDE} pixels; "
                              f"downscaled to {small[0]}x{small[1]}")
            logging.getLogger("posevid").warning(self.notes[-1])
        people = find_people(self._estimator, rgb)
        if not people:
            raise PosevidError(where, "no person found in the source image")
        pose, mask = people[choose_person(people, self.person)]
        if len(people) > 1:
            self.notes.append(f"{where}: {len(people)} people in the photo; animating the {self.person} "
                              "(--person left|right|largest)")
            logging.getLogger("posevid").warning(self.notes[-1])
        self._box = None
        if size:
            x0, y0, side = self._box = _square_box(pose, mask)
            rgb, mask = _crop(rgb, x0, y0, side, size), _crop(mask, x0, y0, side, size)
            pose = pose.crop(x0, y0, side, side, size, size)
        return rgb, pose, mask

    def _source_iuv(self, iuv: str | Path | np.ndarray | None, size: int | None) -> np.ndarray | None:
        """The photo's DensePose IUV image (for IUV-trained models), cropped as the photo was."""
        if iuv is None:
            return None
        from .densepose import check_iuv
        from .video import read_image

        where = "source IUV" if isinstance(iuv, np.ndarray) else iuv
        image = check_iuv(np.asarray(iuv) if isinstance(iuv, np.ndarray) else read_image(iuv), where)
        if self._box is not None:
            x0, y0, side = self._box
            image = _crop(image, x0, y0, side, side)  # same pixels as the photo's crop, not yet resized
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
        reference: Poses | None = None
        smoother = OnlineSmoother(self.driving_fps, float(body_height(self.source_pose)[0])) if self.smooth else None
        last = self.source_pose
        for frame, pose, iuv in self._driving_poses():
            self.iuv = iuv
            t0 = time.perf_counter()
            if reference is None and body_height(pose)[0] > 0:
                reference = pose
            if reference is not None and (pose.conf > 0).any():
                target = _retarget_frame(reference, pose, self.source_pose, self.mode)
                last = smoother(target) if smoother else target
            self.timings["retarget"] += time.perf_counter() - t0
            yield frame, pose, last
        if reference is None:
            raise PosevidError(self.driving_name, "no person found in any driving frame")

    def _panel(self, frame: np.ndarray | None, pose: Poses, target: Poses, result: np.ndarray) -> np.ndarray:
        from .render import stick_figure

        h, w = result.shape[:2]
        if frame is None:
            dw = max(1, int(round(pose.width * h / pose.height)))
            p = pose.rescale(dw, h)
            left = stick_figure(p.xy[0], p.conf[0], h, dw)
        else:
            left = _fit_height(frame, h)
        middle = stick_figure(target.xy[0], target.conf[0], h, w)
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
        takes_iuv = "iuv" in inspect.signature(self.animator.step).parameters
        try:
            if takes_iuv:
                self.animator.reset(self.source, self.source_pose, self.source_mask, iuv=self.source_iuv)
            else:
                self.animator.reset(self.source, self.source_pose, self.source_mask)
        except PosevidError as err:  # the animator cannot take this photo: say which photo
            raise PosevidError(self.source_name, _iuv_hint(err.problem)) from None
        ratio = self.fps / self.driving_fps
        made = 0
        for i, (frame, pose, target) in enumerate(self.targets()):
            repeat = int(np.floor((i + 1) * ratio + 1e-6)) - made
            if repeat <= 0:
                continue
            t0 = time.perf_counter()
            if takes_iuv:
                iuv = None if self.iuv is None else cv2.resize(self.iuv, (self.width, self.height),
                                                                interpolation=cv2.INTER_NEAREST)
                try:
                    result = self.animator.step(target, iuv=iuv)
                except PosevidError as err:
                    raise PosevidError(self.driving_name, _iuv_hint(err.problem)) from None
            else:
                result = self.animator.step(target)
            self.timings["warp"] += time.perf_counter() - t0
            panel = self._panel(frame, pose, target, result) if self.side_by_side else None
            self.target = target
            for _ in range(repeat):
                made += 1
                yield result, panel

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
            checkpoint: str | Path | None = None, mode: str = "bones", size: int | None = None,
            smooth: bool = True, side_by_side: bool = False, fps: float | None = None,
            progress: Progress | None = None, method_options: dict | None = None, **inputs: Any
            ) -> Iterator[np.ndarray]:
    """Frames (H, W, 3) uint8 RGB of the person in ``source`` moving like the person in ``driving``.

    source: an image path or an (H, W, 3) uint8 RGB array. driving: a video (file, GIF or frame folder),
    a pose file (``.npz``, OpenPose folder/JSON, COCO JSON, PG2 CSV, BVH) or ``Poses``.
    method/checkpoint: ``warp`` needs no checkpoint; trained methods load from ``checkpoint``.
    mode: ``bones`` (the source's bones turn and stretch as the driver's), ``relative`` (each source joint
    moves as the driver's) or ``absolute`` (the driving pose scaled to the source body); see ``poses.retarget``.
    size: crop the source to a square of this side around the person.
    smooth: causal one-euro filtering of the target poses. side_by_side: yield ``driving | target pose |
    result`` panels instead of the result. fps: the output rate (driving frames are dropped or repeated;
    default the driving rate). progress(done, total or None) is called after each frame.
    method_options: keyword arguments of the method's ``animator()``. Frames are made lazily: memory does not
    grow with the driving video's length.
    inputs (keyword only, see ``Animation``): ``driving_kind`` (``rgb``, ``skeleton`` or ``densepose``:
    what the driving video shows, guessed by default), ``keypoints`` (``body``, ``body+hands``,
    ``body+hands+face``: what to estimate), ``person`` (``largest``, ``left``, ``right``: whom to animate
    and follow when there are several), ``force`` (go on with a driver that has a person in under half its
    frames or jumping poses), ``source_iuv`` (the photo's DensePose IUV, for IUV-trained models),
    ``loaded`` (an ``(animator, trained size)`` from ``load_animator``, to animate many pairs with one model).
    """
    anim = Animation(source, driving, method, checkpoint, mode, size, smooth, side_by_side, fps, method_options,
                     **inputs)
    try:
        for done, (result, panel) in enumerate(anim, 1):
            yield panel if side_by_side else result
            if progress is not None:
                progress(done, anim.frame_count)
    finally:
        anim.close()


def animate_to_file(source: str | Path | np.ndarray, driving: str | Path | Poses, out: str | Path,
                    side_by_side_out: str | Path | None = None, method: str = "warp",
                    checkpoint: str | Path | None = None, mode: str = "bones", size: int | None = None,
                    smooth: bool = True, fps: float | None = None, show_progress: bool = True,
                    timings: dict[str, float] | None = None, method_options: dict | None = None,
                    poses_out: str | Path | None = None, **inputs: Any) -> int:
    """Animate (see ``animate``) straight to the video ``out`` (mp4, gif or frame folder), and the
    ``driving | pose | result`` panels to ``side_by_side_out`` when given; both written atomically.
    ``poses_out``: also write the target pose of every output frame (source pixels) as a pose file.
    ``inputs``: as for ``animate``.

    Shows a rich progress bar when ``show_progress``; adds seconds per stage (decode, estimate, retarget,
    warp, encode) to ``timings`` when given. Returns the number of frames written.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from .video import VideoWriter

    anim = Animation(source, driving, method, checkpoint, mode, size, smooth, side_by_side_out is not None, fps,
                     method_options, **inputs)
    with contextlib.ExitStack() as stack:
        stack.callback(anim.close)
        writer = stack.enter_context(VideoWriter(out, anim.fps))
        panels = stack.enter_context(VideoWriter(side_by_side_out, anim.fps)) if side_by_side_out else None
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
