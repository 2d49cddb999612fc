"""The main job: animate the person in one photo with the motion of a driving video or pose sequence.

Pipeline (streamed, one driving frame in memory at a time):
source photo -> its pose and person mask (once) -> driving frames -> poses (BlazePose, tracking mode)
-> retargeted onto the source body (``poses.retarget``) -> causal one-euro smoothing -> the method's
animator -> frames. ``animate`` yields the frames; ``animate_to_file`` streams them to a video file.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import numpy as np
import torch

from .errors import PosevidError
from .methods.base import Animator, build_method
from .poses import RETARGET_MODES, Poses, bbox, body_height, retarget
from .poses import smooth as smooth_poses

POSE_SUFFIXES = (".npz", ".json", ".csv", ".bvh")
ANALYSIS_SIDE = 320  # driving frames are shrunk to this longer side for pose estimation (speed)
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
        return Poses(out_xy[None], out_conf[None], pose.width, pose.height, pose.fps)


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


def _is_pose_file(path: Path) -> bool:
    if path.is_dir():
        return any(path.glob("*.json"))
    return path.suffix.lower() in POSE_SUFFIXES


def load_animator(method: str = "warp", checkpoint: str | Path | None = None,
                  options: dict | None = None, backend: str = "torch",
                  precision: str = "auto") -> tuple[Animator, int | None]:
    """The animator of ``method`` (a trained one from ``checkpoint``) and the image size it was trained at.

    ``warp`` needs no checkpoint. With a checkpoint the method is the one saved in it; ``method``, if not
    ``warp``, must match it. ``options`` are keyword arguments of the method's ``animator()`` (e.g. the
    decoupled method's colours). ``checkpoint`` may be an exported model (``.onnx``, ``.xml``).
    ``backend`` (torch, onnx, openvino or auto: the fastest, measured once) and ``precision`` (auto, fp32,
    bf16) choose what runs the trained networks (``posevid.inference.use_backend``).
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
    from . import inference

    if inference.is_exported(checkpoint):
        model = inference.load_exported(checkpoint, backend, precision)
    else:
        from .checkpoints import load_method

        model = load_method(checkpoint)
        inference.use_backend(model, backend, precision, where=str(checkpoint))
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


class Animation:
    """A prepared animation: inputs read and checked, source pose estimated; iterate it for frames.

    Iterating yields ``(result, panel)`` per output frame: result (H, W, 3) uint8 at the (possibly
    cropped) source size; panel the side-by-side ``driving | target pose | result`` (H, W', 3) uint8 when
    ``side_by_side`` is set, else None. ``fps`` is the output rate, ``frame_count`` the number of output
    frames when known. ``target`` is the one-frame target pose (source pixels) of the frame last yielded.
    ``timings`` (seconds per stage: decode, estimate, retarget, warp) accumulates as frames are made.
    """

    def __init__(self, source: str | Path | np.ndarray, driving: str | Path | Poses, method: str = "warp",
                 checkpoint: str | Path | None = None, mode: str = "bones", size: int | None = None,
                 smooth: bool = True, side_by_side: bool = False, fps: float | None = None,
                 method_options: dict | None = None, backend: str = "torch", precision: str = "auto"):
        from .estimate import PoseEstimator

        if mode not in RETARGET_MODES:
            raise PosevidError(f"mode {mode}", f"must be one of {', '.join(RETARGET_MODES)}")
        if size is not None and not 16 <= size <= 4096:
            raise PosevidError(f"size {size}", "must be between 16 and 4096 pixels")
        self.mode, self.smooth, self.side_by_side = mode, smooth, side_by_side
        self.timings: dict[str, float] = defaultdict(float)
        self.notes: list[str] = []  # one-line remarks on the inputs (e.g. a downscaled source), also logged
        self.target: Poses | None = None
        self.animator, trained_size = load_animator(method, checkpoint, method_options, backend, precision)
        self._estimator = PoseEstimator()
        with contextlib.ExitStack() as failure:
            failure.callback(self.close)
            self._reader = None
            self._poses: Poses | None = None
            self._open_driving(driving)
            self.source, self.source_pose, self.source_mask = self._prepare_source(source, size or trained_size)
            self.fps = float(fps) if fps else self.driving_fps
            if not self.fps > 0:
                raise PosevidError(f"fps {fps}", "must be positive")
            failure.pop_all()
        self.height, self.width = self.source.shape[:2]
        count = self.driving_count
        self.frame_count = None if count is None else int(np.floor(count * self.fps / self.driving_fps + 1e-6))

    def _open_driving(self, driving: str | Path | Poses) -> None:
        self.driving_name = "driving poses" if isinstance(driving, Poses) else str(driving)
        if isinstance(driving, Poses):
            self._poses = driving
        elif _is_pose_file(Path(driving)):
            from .posefiles import read_poses

            self._poses = read_poses(driving)
        else:
            from .video import open_video

            self._reader = open_video(driving)
        if self._poses is not None:
            if len(self._poses) == 0:
                raise PosevidError(self.driving_name, "the pose sequence is empty")
            self.driving_fps, self.driving_count = self._poses.fps, len(self._poses)
            self.driving_size = (self._poses.width, self._poses.height)
        else:
            self.driving_fps, self.driving_count = self._reader.fps, self._reader.frame_count
            self.driving_size = (self._reader.width, self._reader.height)

    def _prepare_source(self, source: str | Path | np.ndarray, size: int | None
                        ) -> tuple[np.ndarray, Poses, np.ndarray]:
        from .video import read_image

        where = "source image" if isinstance(source, np.ndarray) else source
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
        pose, mask = self._estimator.image(rgb)
        if body_height(pose)[0] <= 0:
            raise PosevidError(where, "no person found in the source image")
        if size:
            x0, y0, side = _square_box(pose, mask)
            rgb, mask = _crop(rgb, x0, y0, side, size), _crop(mask, x0, y0, side, size)
            pose = pose.crop(x0, y0, side, side, size, size)
        return rgb, pose, mask

    def _driving_poses(self) -> Iterator[tuple[np.ndarray | None, Poses]]:
        """(driving frame or None, its one-frame pose in driving pixels) for each driving frame.

        Video frames are decoded and their poses estimated in a worker thread (MediaPipe releases the
        GIL), at most ``QUEUE`` frames ahead of the animator, so memory stays flat.
        """
        if self._poses is not None:
            yield from ((None, p) for p in self._poses)
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
                for item in self._estimated():
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

    def _estimated(self) -> Iterator[tuple[np.ndarray, Poses]]:
        """Decode the driving video and estimate each frame's pose (tracking mode) on a shrunk copy."""
        width, height = self.driving_size
        scale = min(1.0, ANALYSIS_SIDE / max(width, height))
        small = (max(1, round(width * scale)), max(1, round(height * scale)))
        mailbox: list[np.ndarray] = []

        def posted() -> Iterator[np.ndarray]:  # hands the estimator the one frame just decoded
            while mailbox:
                yield mailbox.pop()

        stream = self._estimator.stream(posted(), self.driving_fps)
        frames = iter(self._reader)
        try:
            while True:
                t0 = time.perf_counter()
                frame = next(frames, None)
                t1 = time.perf_counter()
                if frame is None:
                    return
                mailbox.append(cv2.resize(frame, small, interpolation=cv2.INTER_AREA) if scale < 1 else frame)
                pose, _ = next(stream)
                self.timings["decode"] += t1 - t0
                self.timings["estimate"] += time.perf_counter() - t1
                yield frame, pose.rescale(width, height)
        finally:
            stream.close()
            self._reader.close()

    def targets(self) -> Iterator[tuple[np.ndarray | None, Poses, Poses]]:
        """Per driving frame: (the frame (H', W', 3) uint8, or None for pose input; its one-frame pose in
        driving pixels; the one-frame target pose in source pixels). A frame with nobody in it keeps the
        last target (the source pose until the driver is first seen); a driver never seen at all raises
        ``PosevidError`` at the end (so ``animate_to_file`` writes nothing)."""
        reference: Poses | None = None
        smoother = OnlineSmoother(self.driving_fps, float(body_height(self.source_pose)[0])) if self.smooth else None
        last = self.source_pose
        for frame, pose in self._driving_poses():
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
        if self._reader is not None:  # one core goes to pose estimation in the worker thread
            torch.set_num_threads(max(1, threads - 1))
        try:
            yield from self._frames()
        finally:
            torch.set_num_threads(threads)

    def _frames(self) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
        self.animator.reset(self.source, self.source_pose, self.source_mask)
        ratio = self.fps / self.driving_fps
        made = 0
        for i, (frame, pose, target) in enumerate(self.targets()):
            repeat = int(np.floor((i + 1) * ratio + 1e-6)) - made
            if repeat <= 0:
                continue
            t0 = time.perf_counter()
            result = self.animator.step(target)
            self.timings["warp"] += time.perf_counter() - t0
            panel = self._panel(frame, pose, target, result) if self.side_by_side else None
            self.target = target
            for _ in range(repeat):
                made += 1
                yield result, panel

    def close(self) -> None:
        """Release the decoder and the pose estimator."""
        if getattr(self, "_reader", None) is not None:
            self._reader.close()
        self._estimator.close()

    def __enter__(self) -> Animation:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def animate(source: str | Path | np.ndarray, driving: str | Path | Poses, method: str = "warp",
            checkpoint: str | Path | None = None, mode: str = "bones", size: int | None = None,
            smooth: bool = True, side_by_side: bool = False, fps: float | None = None,
            progress: Progress | None = None, method_options: dict | None = None, backend: str = "torch",
            precision: str = "auto") -> Iterator[np.ndarray]:
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
    method_options: keyword arguments of the method's ``animator()``. backend, precision: what runs a trained
    method's networks (see ``load_animator``). Frames are made lazily: memory does not grow with the driving
    video's length.
    """
    anim = Animation(source, driving, method, checkpoint, mode, size, smooth, side_by_side, fps, method_options,
                     backend, precision)
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
                    poses_out: str | Path | None = None, backend: str = "torch", precision: str = "auto") -> int:
    """Animate (see ``animate``) straight to the video ``out`` (mp4, gif or frame folder), and the
    ``driving | pose | result`` panels to ``side_by_side_out`` when given; both written atomically.
    ``poses_out``: also write the target pose of every output frame (source pixels) as a pose file.

    Shows a rich progress bar when ``show_progress``; adds seconds per stage (decode, estimate, retarget,
    warp, encode) to ``timings`` when given. Returns the number of frames written.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from .video import VideoWriter

    anim = Animation(source, driving, method, checkpoint, mode, size, smooth, side_by_side_out is not None, fps,
                     method_options, backend, precision)
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
