"""The main job: animate the person in one photo with the motion of a driving video or pose sequence.

Pipeline (streamed, one driving frame in memory at a time):
source photo -> its pose and person mask (once) -> driving frames -> poses (``driving.Driving``:
estimated with BlazePose in tracking mode, or decoded from a skeleton or DensePose render, or read)
-> retargeted onto the source body (``poses.retarget``) -> causal one-euro smoothing -> the method's
animator -> frames.

``AnimateOptions`` holds everything that shapes an animation besides its inputs; the CLI, the web page
and the Python API each build one. ``Pipeline(options)`` loads the model once and is called for any
number of (source, driving) pairs; each call checks its inputs at once (a missing file raises there, not
at the first frame) and returns an iterator that knows the frame rate, size and count of what it yields.
``animate`` and ``animate_to_file`` are the one-shot forms.
"""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
import logging
import math
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from .crop import crop_square, photo_box
from .driving import Driving
from .errors import PosevidError
from .estimate import KEYPOINT_SETS, PERSON_CHOICES, choose_person, find_people
from .face import SUBJECTS, FaceTargets, face_box, face_only, inter_ocular, wants_face
from .methods.spec import Animator
from .poses import (
    DEFAULT_RETARGET,
    RETARGET_MODES,
    OneEuroFilter,
    Poses,
    bbox,
    body_height,
    check_fps,
    retarget,
)
from .prefetch import Prefetch
from .tensors import resize_image

if TYPE_CHECKING:  # torch is imported by the methods that use it: the warp method's animation loads none
    import torch

    from .methods.base import Method
    from .methods.weightless import WeightlessMethod

QUEUE = 4  # decoded and estimated driving frames waiting for the animator
MAX_SOURCE_SIDE = 4096  # larger source photos are downscaled to this longer side (with a logged note)
DEFAULT_METHOD = "warp"  # the method used without a checkpoint: it needs no training
Progress = Callable[[int, "int | None"], None]


@dataclass
class AnimateOptions:
    """How to animate (everything but the inputs and the output files).

    method: the method's name; None = the checkpoint's, or ``DEFAULT_METHOD`` without a checkpoint.
    checkpoint: a trained model (checkpoint file or run folder); untrained methods need none.
    mode: ``pose`` (the source's person takes the driving pose: the driver's bone directions, the source's
    lengths), ``bones`` (the source's bones turn and stretch as the driver's), ``relative`` (each source
    joint moves as the driver's) or ``absolute`` (the driving pose scaled to the source body); see
    ``poses.retarget``. size: the result's longer side (the photo's whole frame and aspect ratio are
    kept); width / height: one side (the other keeps the aspect) or both (the photo cropped around the
    person to fill them); none of them: the photo's own size. A method trained on square crops gets the
    square around the person at its training size, pasted back into the frame. smooth: causal one-euro
    filtering of the target poses. fps: the output rate (driving frames dropped or repeated; None: the
    driving rate). method_options: keyword arguments of the method's ``animator()`` (e.g. the decoupled
    method's colours). backend: what runs a trained method's networks (torch, onnx, openvino, or auto: the
    fastest here, measured once and cached); precision: auto (bf16 where the CPU computes it natively),
    fp32 or bf16 (``posevid.inference.use_backend``). ``checkpoint`` may also be a model made by
    ``posevid export`` (``.onnx``, ``.xml``).
    driving_kind: ``rgb``, ``skeleton`` or ``densepose``: what a driving video shows (None: guessed from its
    first frames; renders are decoded, camera frames estimated). keypoints: ``body``, ``body+hands`` or
    ``body+hands+face``: what to estimate on camera video (the warp method turns the hands to their
    keypoints). person: ``largest``, ``left`` or ``right``: whom to animate and follow when the photo or
    the driver shows several people. force: go on with a driver that has a person in under half its
    frames or poses that jump (``poses.SequenceCheck``). subject: ``face`` animates the portrait's face from
    the driver's face landmarks (a method whose capabilities include ``faces``), ``body`` the person's body,
    ``auto`` the face for a face close-up in the photo or in the driving video (``face.wants_face``).
    device: where the model runs, ``auto`` (None: CUDA when present), ``cpu``, ``cuda`` or ``cuda:N``; the
    model is moved there once, when the ``Pipeline`` loads it.
    """

    method: str | None = None
    checkpoint: str | Path | None = None
    mode: str = DEFAULT_RETARGET
    size: int | None = None
    width: int | None = None
    height: int | None = None
    smooth: bool = True
    fps: float | None = None
    method_options: dict[str, Any] = field(default_factory=dict)
    backend: str = "torch"
    precision: str = "auto"
    driving_kind: str | None = None
    keypoints: str = "body"
    person: str = "largest"
    force: bool = False
    subject: str = "auto"
    device: str | None = None

    def __post_init__(self) -> None:
        from .inference import BACKENDS, PRECISIONS
        from .render_decode import DRIVING_KINDS

        for name, value, valid in (("driving kind", self.driving_kind, (None, *DRIVING_KINDS)),
                                   ("keypoints", self.keypoints, KEYPOINT_SETS),
                                   ("person", self.person, PERSON_CHOICES), ("subject", self.subject, SUBJECTS)):
            if value not in valid:
                raise PosevidError(f"{name} {value}", f"must be one of {', '.join(v for v in valid if v)}")
        if self.backend not in BACKENDS:
            raise PosevidError(f"backend {self.backend}", f"must be one of {', '.join(BACKENDS)}")
        if self.precision not in PRECISIONS:
            raise PosevidError(f"precision {self.precision}", f"must be one of {', '.join(PRECISIONS)}")
        if self.mode not in RETARGET_MODES:
            raise PosevidError(f"mode {self.mode}", f"must be one of {', '.join(RETARGET_MODES)}")
        for name in ("size", "width", "height"):
            value = getattr(self, name)
            if value is not None and not 16 <= value <= MAX_SOURCE_SIDE:
                raise PosevidError(f"{name} {value}", f"must be between 16 and {MAX_SOURCE_SIDE} pixels")
        if self.fps is not None:
            self.fps = check_fps("--fps", self.fps, "the output rate")
        self.method_options = dict(self.method_options or {})

    @classmethod
    def make(cls, options: AnimateOptions | None = None, **fields: Any) -> AnimateOptions:
        """``options`` (default: the defaults) with ``fields`` replaced; checked."""
        return dataclasses.replace(options or cls(), **fields)


def load_model(method: str | None, checkpoint: str | Path | None, backend: str = "torch",
               precision: str = "auto", device: str | torch.device | None = None
               ) -> tuple[Method | WeightlessMethod, int | None]:
    """The model to animate with, on ``device`` (``devices.resolve_device``: None is auto), and the image
    size it was trained at (None for an untrained one).

    With a checkpoint the method is the one saved in it (``method``, if given, must match); without one,
    ``method`` (default ``DEFAULT_METHOD``) must be a method that needs no training. A trained model's
    networks run on ``backend`` at ``precision`` (``posevid.inference``); ``checkpoint`` may be an exported
    model (``.onnx``, ``.xml``). A method without weights (``WeightlessMethod``) is not moved: ``device`` is
    only checked, and torch is not imported for it.
    """
    from .devices import check_device, resolve_device
    from .methods.registry import method_class, method_spec
    from .methods.weightless import WeightlessMethod

    if checkpoint is None:
        name = method or DEFAULT_METHOD
        try:
            spec = method_spec(name)
        except KeyError as err:
            raise PosevidError(f"method {name}", str(err.args[0])) from None
        if spec.capabilities.trains:
            raise PosevidError(f"method {name}", f"needs --checkpoint (a trained model); only "
                                                 f"'{DEFAULT_METHOD}' works without")
        if not spec.capabilities.animates:
            raise PosevidError(f"method {name}", "does not animate a photo")
        model = method_class(name)({"method": name})
        if isinstance(model, WeightlessMethod):
            check_device(device)
            return model, None
        return model.to(resolve_device(device)), None
    from . import inference

    dev = resolve_device(device)

    if inference.is_exported(checkpoint):
        if dev.type != "cpu":
            raise PosevidError(checkpoint, f"an exported model runs on the CPU (ONNX Runtime, OpenVINO), not {dev}; "
                                           "use --device cpu, or the checkpoint for the GPU")
        model = inference.load_exported(checkpoint, backend, precision)
    else:
        from .checkpoints import load_method

        model = load_method(checkpoint, device=dev)
        if model.capabilities.animates and inference.has_graph(model):
            if dev.type != "cpu" and backend not in ("torch", "auto"):
                raise PosevidError(checkpoint, f"--backend {backend} runs on the CPU; on {dev} the model runs in "
                                               "PyTorch (--backend torch)")
            inference.use_backend(model, backend if dev.type == "cpu" else "torch", precision, where=str(checkpoint))
            inference.release_weights(model)  # the engine holds what it needs (a prepared copy or an export)
    if method not in (None, DEFAULT_METHOD, model.name):
        raise PosevidError(checkpoint, f"holds a {model.name!r} model, not {method!r}")
    if not model.capabilities.animates:
        raise PosevidError(checkpoint, f"holds a {model.name!r} model, which does not animate a photo")
    size = model.cfg["data"].get("size")
    return model, int(size) if size else None


class Pipeline:
    """A model loaded once and ready to animate any number of (source, driving) pairs.

    ``pipe = Pipeline(AnimateOptions(checkpoint="runs/dwnet"))`` (or keyword fields: ``Pipeline(size=256)``);
    ``frames = pipe(photo, driving)`` checks the inputs and returns a ``Frames`` iterator with ``fps``,
    ``width``, ``height`` and ``frame_count``; ``pipe.to_file(photo, driving, "out.mp4")`` writes a video.
    """

    def __init__(self, options: AnimateOptions | None = None, **fields: Any):
        self.options = AnimateOptions.make(options, **fields)
        opts = self.options
        self.model, self.trained_size = load_model(opts.method, opts.checkpoint, opts.backend, opts.precision,
                                                   opts.device)

    @property
    def method(self) -> str:
        """The name of the loaded method."""
        return self.model.name

    def animator(self) -> Animator:
        """A fresh animator of the loaded model with ``options.method_options``."""
        try:
            return self.model.animator(**self.options.method_options)
        except TypeError as err:
            if "unexpected keyword" not in str(err):
                raise
            where = self.options.checkpoint or f"method {self.method}"
            raise PosevidError(where, f"method {self.method!r} does not take these options ({err})") from None

    def open(self, source: str | Path | np.ndarray, driving: str | Path | Poses,
             side_by_side: bool = False, source_iuv: str | Path | np.ndarray | None = None,
             photo_pose: str | Path | None = None) -> Animation:
        """An ``Animation`` of ``source`` driven by ``driving`` (inputs read and checked now)."""
        return Animation(source, driving, side_by_side=side_by_side, pipeline=self, source_iuv=source_iuv,
                         photo_pose=photo_pose)

    def __call__(self, source: str | Path | np.ndarray, driving: str | Path | Poses, side_by_side: bool = False,
                 progress: Progress | None = None, source_iuv: str | Path | np.ndarray | None = None,
                 photo_pose: str | Path | None = None) -> Frames:
        """The frames (H, W, 3) uint8 RGB of ``source`` moving like ``driving`` (see ``animate``)."""
        return Frames(self.open(source, driving, side_by_side, source_iuv, photo_pose), side_by_side, progress)

    def to_file(self, source: str | Path | np.ndarray, driving: str | Path | Poses, out: str | Path,
                side_by_side_out: str | Path | None = None, poses_out: str | Path | None = None,
                show_progress: bool = True, timings: dict[str, float] | None = None, audio: bool = True,
                source_iuv: str | Path | np.ndarray | None = None, audio_from: str | Path | None = None,
                photo_pose: str | Path | None = None) -> int:
        """Animate straight to ``out`` (see ``animate_to_file``); returns the number of frames written.
        ``audio_from``: the video whose sound the result gets (default: ``driving``, when it is a video; a
        batch passes the driver's poses read once and its video here)."""
        from .io_utils import check_outputs
        from .video import check_video_output

        check_outputs({"photo": source, "driving input": driving, "checkpoint": self.options.checkpoint,
                       "photo's DensePose": source_iuv, "photo's pose": photo_pose},
                      {"output": out, "side-by-side output": side_by_side_out, "pose output": poses_out})
        for video in (out, side_by_side_out):
            if video is not None:
                check_video_output(video)
        if poses_out is not None:
            from .posefiles import detect_format

            detect_format(poses_out, writing=True)
        anim = self.open(source, driving, side_by_side_out is not None, source_iuv, photo_pose)
        sound = driving if audio_from is None else audio_from
        return _write(anim, sound, out, side_by_side_out, poses_out, show_progress, timings, audio)


def _crop_exact(image: np.ndarray, x0: int, y0: int, side: int) -> np.ndarray:
    """The ``side`` square at (x0, y0) of a label image (zeros outside it), not resized."""
    h, w = image.shape[:2]
    out = np.zeros((side, side, *image.shape[2:]), image.dtype)
    ys, xs = slice(max(y0, 0), min(y0 + side, h)), slice(max(x0, 0), min(x0 + side, w))
    out[ys.start - y0:ys.stop - y0, xs.start - x0:xs.stop - x0] = image[ys, xs]
    return out


def _iuv_hint(problem: str) -> str:
    """A DensePose-IUV model's complaint, with what to give it."""
    if "IUV" not in problem:
        return problem
    return ("this model was trained with DensePose IUV: drive it with a video of raw I, U, V frames and give the "
            "photo's IUV image with --source-iuv")


def _retarget_frame(reference: Poses, current: Poses, source: Poses, mode: str,
                    still: np.ndarray | None = None) -> Poses:
    """``poses.retarget`` of one driving frame against a fixed reference frame (streaming).

    The reference is passed twice so that the median body height ``retarget`` takes is the reference's
    and its first frame with a person is the reference: the result does not depend on later frames.
    """
    return retarget(Poses.concat([reference, reference, current]), source, mode, still)[2]


def _groups(pose: Poses) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The hands and face of a one-frame pose, as ``render.stick_figure`` takes them."""
    out = {}
    if pose.hand_xy is not None:
        out["hands"] = (pose.hand_xy[0], pose.hand_conf[0])
    if pose.face_xy is not None:
        out["face"] = (pose.face_xy[0], pose.face_conf[0])
    return out


def _close(items: Iterator) -> None:
    """Close an iterator that can be closed (a generator, a ``Prefetch``)."""
    close = getattr(items, "close", None)
    if close is not None:
        close()


def _with_face(body: Poses, face: Poses) -> Poses:
    """A one-frame body pose with the face landmarks of another estimate of the same image."""
    return dataclasses.replace(body, face_xy=face.face_xy, face_conf=face.face_conf)


class Animation:
    """A prepared animation: inputs read and checked, source pose estimated; iterate it for frames.

    Built by ``Pipeline.open`` (or directly: ``Animation(source, driving, options, **fields)`` loads its
    own pipeline). Iterating yields ``(result, panel)`` per output frame: result (H, W, 3) uint8, the
    photo's whole frame at the output size (``photo.frame_size``); panel the side-by-side ``driving |
    target pose | result`` (H, W', 3) uint8 when ``side_by_side`` is set, else None.
    ``fps`` is the output rate, ``width`` / ``height`` the frame size, ``frame_count`` the number of
    output frames when known; ``target`` the one-frame target pose (source pixels) of the frame last
    yielded; ``timings`` (seconds per stage: decode, estimate, retarget, warp) accumulates as frames are
    made; ``notes``: one-line remarks on the inputs (also logged once each); ``animator``: this
    animation's animator. A method trained on square crops (its checkpoint says the size) gets the square
    around the person at that size (``crop.photo_box``, cut as the training crops are); what it makes is
    pasted back into the frame with a feathered seam (``photo.paste``).
    ``driving`` is opened as a ``driving.Driving`` (its notes join ``notes``) with the options'
    ``driving_kind``, ``keypoints``, ``person`` and ``force``. ``source_iuv``: the photo's DensePose IUV
    image, for models trained with IUV (driven by raw IUV frames). ``photo_pose``: a pose file holding the
    photo's person's pose (``photo.given_pose``), for a person BlazePose cannot find (an illustrated
    character): the person is not looked for, its mask is the segmentation around that pose
    (``photo.mask_for_pose``) and its body is animated.
    """

    def __init__(self, source: str | Path | np.ndarray, driving: str | Path | Poses,
                 options: AnimateOptions | None = None, side_by_side: bool = False, *,
                 pipeline: Pipeline | None = None, source_iuv: str | Path | np.ndarray | None = None,
                 photo_pose: str | Path | None = None, **fields: Any):
        from .estimate import PoseEstimator

        pipeline = pipeline or Pipeline(options, **fields)
        opts = pipeline.options
        self.mode, self.smooth, self.side_by_side = opts.mode, opts.smooth, side_by_side
        self.person, self.iuv = opts.person, None
        caps = pipeline.model.capabilities
        self.subject = opts.subject if caps.faces or opts.subject != "auto" else "body"
        if not caps.bodies:  # a model trained on faces alone
            self.subject = "face"
        where = opts.checkpoint or f"method {pipeline.method}"
        if opts.subject == "face" and not caps.faces:
            raise PosevidError(where, "does not animate faces (--subject face needs the warp method or a model "
                                      "trained on faces)")
        if opts.subject == "body" and not caps.bodies:
            raise PosevidError(where, "was trained on faces: it animates a portrait's face, not a body")
        self.target: Poses | None = None
        self._driving_items: Iterator | None = None  # the driver's items, once started (``_start_driving``)
        self.animator = pipeline.animator()
        trained_size = pipeline.trained_size
        self._estimator = PoseEstimator(keypoints=opts.keypoints)
        self.driving: Driving | None = None
        with contextlib.ExitStack() as failure:
            failure.callback(self.close)
            self.driving = Driving(driving, opts.driving_kind, opts.keypoints, opts.person, check=not opts.force)
            self.driving.finder = self._estimator  # one static graph for the photo and the driver's first frame
            self.driving_name, self.driving_fps = self.driving.name, self.driving.fps
            self.driving_count, self.driving_size = self.driving.count, self.driving.size
            # seconds per stage: decode, estimate, retarget, warp; remarks on the inputs, also logged
            self.timings, self.notes = self.driving.timings, self.driving.notes
            self.source, self.source_pose, self.source_mask = self._prepare_source(source, opts.size, opts.width,
                                                                                    opts.height, photo_pose)
            self.source_iuv = self._source_iuv(source_iuv)
            self.crop = None if trained_size is None else (photo_box(self.source_pose, self.source_mask),
                                                           trained_size)
            self.fps = float(opts.fps) if opts.fps else self.driving_fps
            if not (math.isfinite(self.fps) and self.fps > 0):
                raise PosevidError(self.driving_name, f"its frame rate {self.fps} is not a positive number")
            failure.pop_all()
        self.height, self.width = self.source.shape[:2]
        count = self.driving_count
        self.frame_count = None if count is None else int(np.floor(count * self.fps / self.driving_fps + 1e-6))

    def note(self, note: str) -> None:
        """Keep a one-line remark on the inputs in ``notes`` and log it (once)."""
        self.notes.append(note)
        logging.getLogger("posevid").warning(note)

    def _prepare_source(self, source: str | Path | np.ndarray, size: int | None, width: int | None,
                        height: int | None, photo_pose: str | Path | None = None
                        ) -> tuple[np.ndarray, Poses, np.ndarray]:
        """The photo at the output size (its whole frame; cropped around the person only when ``width`` and
        ``height`` both change its aspect), its person's one-frame pose and mask (found, or ``photo_pose``'s
        with the segmentation around it), checked."""
        from .photo import check_person, find_person, frame_size, given_pose, mask_for_pose, unseen_joints
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
        given = None if photo_pose is None else given_pose(photo_pose, w, h)
        if given is not None and self.subject == "face":
            raise PosevidError(photo_pose, "is a body pose given for the photo; --subject face finds the face itself")
        out_w, out_h = frame_size(w, h, size, width, height)
        scale = max(out_w / w, out_h / h)  # cover the output frame, then crop the spare pixels
        cover = (max(out_w, round(w * scale)), max(out_h, round(h * scale)))
        if cover != (w, h):
            rgb = cv2.resize(rgb, cover, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
        if given is not None:
            from .estimate import segment_person

            self.subject = "body"
            pose = given.rescale(*cover)
            mask = mask_for_pose(rgb, pose, segment_person(rgb))
        else:
            pose, mask = find_person(self._estimator, rgb)
        if given is None and body_height(pose)[0] > 0:
            people = find_people(self._estimator, rgb, first=(pose, mask))
            if len(people) > 1:
                pose, mask = people[choose_person(people, self.person)]
                self.note(f"{where}: {len(people)} people in the photo; animating the {self.person} "
                          "(--person left|right|largest)")
        face = None if given is not None else self._face_pose(rgb, pose, str(where))
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

    def _start_driving(self) -> Iterator[tuple[np.ndarray | None, Poses, np.ndarray | None]]:
        """Start reading the driver: (driving frame or None, its one-frame pose in driving pixels, IUV frame or
        None) per driving frame.

        Video frames are decoded and their poses estimated or decoded in a worker thread (``Prefetch``:
        MediaPipe, OpenCV and PyAV release the GIL), at most ``QUEUE`` frames ahead of the animator, so memory
        stays flat; the worker starts now, so the first frames are ready by the time the photo is rigged.
        """
        if self.driving.kind == "poses":
            return iter(self.driving)
        return Prefetch(lambda: iter(self.driving), QUEUE, "posevid-estimate")

    def _driving_poses(self) -> Iterator[tuple[np.ndarray | None, Poses, np.ndarray | None]]:
        """The driver's items (``_start_driving``): the ones started by ``_frames`` before the photo was rigged,
        else started now."""
        items, self._driving_items = self._driving_items, None
        items = self._start_driving() if items is None else items
        try:
            yield from items
        finally:
            _close(items)

    def targets(self) -> Iterator[tuple[np.ndarray | None, Poses, Poses]]:
        """Per driving frame: (the frame (H', W', 3) uint8, or None for pose input; its one-frame pose in
        driving pixels; the one-frame target pose in source pixels). A frame with nobody in it keeps the
        last target (the source pose until the driver is first seen); a driver never seen at all raises
        ``PosevidError`` at the end (so ``animate_to_file`` writes nothing)."""
        if self.subject == "face":
            yield from self._face_targets()
            return
        reference: Poses | None = None
        smoother = OneEuroFilter(self.driving_fps, float(body_height(self.source_pose)[0])) if self.smooth else None
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
        targets = FaceTargets(self.source_pose, OneEuroFilter(self.driving_fps, unit) if self.smooth else None)
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
            left = resize_image(frame, max(1, int(round(frame.shape[1] * h / frame.shape[0]))), h)
        middle = stick_figure(target.xy[0], target.conf[0], h, w, **_groups(target))
        return np.concatenate([left, middle, result], axis=1)

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
        torch = sys.modules.get("torch")  # the model's intra-op threads, where it uses torch
        if torch is None:
            yield from self._frames()
            return
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
            box, size = crop
            x0, y0, side = box
            photo = (crop_square(self.source, box, size), self.source_pose.crop(x0, y0, side, side, size, size),
                     crop_square(self.source_mask, box, size))
        self._takes_iuv = "iuv" in inspect.signature(self.animator.step).parameters
        iuv = self.source_iuv
        if iuv is not None and crop is not None:
            (x0, y0, side), size = crop
            iuv = cv2.resize(_crop_exact(iuv, x0, y0, side), (size, size), interpolation=cv2.INTER_NEAREST)
        self._driving_items = self._start_driving()  # the driver's first frames are read while the photo is rigged
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
        """Stop reading the driver; release the decoder and the pose estimator."""
        items, self._driving_items = getattr(self, "_driving_items", None), None
        if items is not None:
            _close(items)
        if getattr(self, "driving", None) is not None:
            self.driving.close()
        self._estimator.close()

    def __enter__(self) -> Animation:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Frames:
    """The frames of one animation, lazily: an iterator of (H, W, 3) uint8 RGB frames (the side-by-side
    panels with ``side_by_side``) that reports ``fps``, ``width`` / ``height`` (of the result frames) and
    ``frame_count`` (None when unknown) before the first frame. Memory does not grow with the length."""

    def __init__(self, animation: Animation, side_by_side: bool = False, progress: Progress | None = None):
        self.animation = animation
        self.fps, self.width, self.height = animation.fps, animation.width, animation.height
        self.frame_count = animation.frame_count
        self._frames = self._run(side_by_side, progress)

    def _run(self, side_by_side: bool, progress: Progress | None) -> Iterator[np.ndarray]:
        try:
            for done, (result, panel) in enumerate(self.animation, 1):
                yield panel if side_by_side else result
                if progress is not None:
                    progress(done, self.frame_count)
        finally:
            self.animation.close()

    def __iter__(self) -> Frames:
        return self

    def __next__(self) -> np.ndarray:
        return next(self._frames)

    def close(self) -> None:
        """Stop early and release the decoder and the pose estimator."""
        self._frames.close()
        self.animation.close()


def animate(source: str | Path | np.ndarray, driving: str | Path | Poses, options: AnimateOptions | None = None, *,
            side_by_side: bool = False, progress: Progress | None = None,
            source_iuv: str | Path | np.ndarray | None = None, photo_pose: str | Path | None = None,
            **fields: Any) -> Frames:
    """Frames (H, W, 3) uint8 RGB of the person in ``source`` moving like the person in ``driving``.

    source: an image path or an (H, W, 3) uint8 RGB array. driving: a video (file, GIF or frame folder:
    camera frames, a skeleton render or a DensePose render), a pose file (``.npz``, OpenPose folder/JSON,
    COCO JSON, PG2 CSV, BVH, DeepMimic ``.txt``) or ``Poses``. options: an ``AnimateOptions``; ``fields``
    replace any of its fields (``method=``, ``checkpoint=``, ``mode=``, ``size=``, ``width=``, ``height=``,
    ``smooth=``, ``fps=``, ``method_options=``, ``driving_kind=``, ``keypoints=``, ``person=``,
    ``force=``). source_iuv: the photo's DensePose IUV image, for IUV-trained models. photo_pose: a pose
    file with the photo's person's pose, for a person the estimator cannot find (``Animation``). side_by_side:
    yield ``driving | target pose | result`` panels instead of the result. progress(done, total or
    None) is called after each frame. Inputs are checked now (``PosevidError``); the returned
    ``Frames`` knows ``fps``, ``width``, ``height`` and ``frame_count``. To animate several pairs with
    one loaded model, use ``Pipeline``.
    """
    return Pipeline(options, **fields)(source, driving, side_by_side, progress, source_iuv, photo_pose)


def animate_to_file(source: str | Path | np.ndarray, driving: str | Path | Poses, out: str | Path,
                    side_by_side_out: str | Path | None = None, options: AnimateOptions | None = None, *,
                    poses_out: str | Path | None = None, show_progress: bool = True,
                    timings: dict[str, float] | None = None, audio: bool = True,
                    source_iuv: str | Path | np.ndarray | None = None, photo_pose: str | Path | None = None,
                    **fields: Any) -> int:
    """Animate (see ``animate``) straight to the video ``out`` (mp4, mov, mkv, gif or frame folder), and the
    ``driving | pose | result`` panels to ``side_by_side_out`` when given; both written atomically.
    ``poses_out``: also write the target pose of every output frame (source pixels) as a pose file.
    ``audio``: an mp4 / mov / mkv result gets the driving video's sound, cut to its length; a gif or PNG
    result cannot hold sound, which is said once (a note).

    Shows a rich progress bar when ``show_progress``; adds seconds per stage (decode, estimate, retarget,
    warp, encode) to ``timings`` when given. Returns the number of frames written.
    """
    return Pipeline(options, **fields).to_file(source, driving, out, side_by_side_out, poses_out, show_progress,
                                               timings, audio, source_iuv, photo_pose=photo_pose)


def _write(anim: Animation, sound_from: str | Path | Poses, out: str | Path, side_by_side_out: str | Path | None,
           poses_out: str | Path | None, show_progress: bool, timings: dict[str, float] | None,
           audio: bool) -> int:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from .video import MP4_SUFFIXES, VideoWriter, has_audio

    with contextlib.ExitStack() as stack:
        stack.callback(anim.close)
        sound = sound_from if audio and not isinstance(sound_from, Poses) and has_audio(sound_from) else None
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

            write_poses(poses_out, dataclasses.replace(Poses.concat(targets), fps=anim.fps))  # hands, face kept
        return writer.count


def motion_actions(checkpoint: str | Path | None = None) -> tuple[str, ...]:
    """The action labels of a motion model's checkpoint (None: the bundled one), read from its config;
    ``PosevidError`` when it is not a motion model."""
    from .checkpoints import find_checkpoint
    from .config import resolve_config
    from .methods.registry import method_class
    from .resources import motion_model

    checkpoint = motion_model() if checkpoint is None else checkpoint
    payload, found = find_checkpoint(checkpoint)
    cfg = payload.get("config")
    if not isinstance(cfg, dict):
        raise PosevidError(found, "the checkpoint holds no config")
    cfg = resolve_config(cfg, found)
    cls = method_class(cfg["method"])
    if not cls.capabilities.generates_motion:
        raise PosevidError(found, f"holds a {cfg['method']!r} model, which does not generate motion")
    return cls.actions(cfg)


def motion_from_action(source: str | Path, checkpoint: str | Path | None, action: str, frames: int,
                       seed: int = 0, device: str | torch.device | None = None) -> Poses:
    """A ``frames``-long pose sequence of ``action`` from a motion model (a method that
    ``generates_motion``, e.g. PSGAN; None: the bundled one, ``resources.motion_model``), starting from the
    pose of the person in ``source`` (a photo or a pose file), in its pixels; the model runs on ``device``
    (None: auto)."""
    from .checkpoints import load_method
    from .devices import resolve_device
    from .estimate import first_pose
    from .resources import motion_model

    checkpoint = motion_model() if checkpoint is None else checkpoint
    model = load_method(checkpoint, device=resolve_device(device))
    if not model.capabilities.generates_motion:
        raise PosevidError(checkpoint, f"holds a {model.name!r} model, which does not generate motion")
    known = model.actions(model.cfg)
    if action not in known:  # before the photo is read
        raise PosevidError(checkpoint, f"unknown action {action!r}; this model knows: {', '.join(known)}")
    return model.motion(action, first_pose(source), frames, seed)
