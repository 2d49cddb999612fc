"""``posevid ui``: a web page (Gradio) that animates a photo with a driving video, a pose file or an action.

Requests run the streaming pipeline of ``posevid.pipeline`` one at a time (others wait in a queue) and
feed its progress to the page. Each request writes into its own folder; only the newest ``KEEP`` folders
are kept, and Gradio's copies of uploads and results are deleted after an hour. Inputs are checked
against the caps in ``LIMITS`` before any work: a bad file gets a message in the page, never a crash.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import html
import itertools
import logging
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np
import yaml

from .driving import POSE_SUFFIXES
from .errors import PosevidError
from .photo import GIVE_POSE
from .pipeline import AnimateOptions, Animation, Pipeline, motion_from_action
from .poses import DEFAULT_RETARGET, RETARGET_MODES, Poses, body_height
from .resources import DEMO_CLIP, DEMO_PHOTO, asset, asset_folder, motion_model
from .video import MAX_PIXELS

if TYPE_CHECKING:
    import gradio as gr

MAX_SIDE = 4096  # photos with a longer side are scaled down to it; driving videos are refused
MAX_MEGAPIXELS = MAX_PIXELS // 1_000_000  # photos above this are refused before they are decoded
PAGE_GIVE_POSE = "a drawn character? upload its pose under \"The photo's pose\", e.g. OpenPose JSON"
PHOTO_POSE_TYPES = [".json", ".npz", ".csv"]  # one-frame pose files (photo.given_pose)
MAX_FRAMES = 300  # driving videos, pose files and generated motions
MAX_UPLOAD_MB = 200  # any uploaded file (checkpoints included)
SIZES = ("auto", "128", "256", "384", "512")
DEFAULT_SIZE = 256  # "auto": the result's longer side (trained methods work at their training size inside it)
PREVIEW_SIDE = 512  # pose previews are drawn at most this large
KEEP = 4  # request folders kept on disk
# ... unless younger than this many seconds (still running, or its result still being downloaded).
GRACE_SECONDS = float(os.environ.get("POSEVID_UI_GRACE_SECONDS", "600"))
QUEUE_SIZE = 16
CACHE_SECONDS = 3600
VIDEO_TYPES = [".mp4", ".mov", ".mkv", ".m4v", ".webm", ".avi", ".gif"]
LIMITS = (f"**Limits:** photos up to {MAX_SIDE} px on the longer side (larger ones, up to {MAX_MEGAPIXELS} "
          f"megapixels, are scaled down to {MAX_SIDE} px; bigger ones are refused); driving videos up to "
          f"{MAX_FRAMES} frames and {MAX_SIDE} px, pose files and generated actions up to {MAX_FRAMES} frames; "
          f"uploads up to {MAX_UPLOAD_MB} MB. One request runs at a time, up to {QUEUE_SIZE} wait in a queue. "
          f"Results are deleted after an hour.")
CLIP, ACTION = "Driving video or pose file", "Generated action (PSGAN)"
CSS = """
#status .error {color: #b91c1c; font-weight: 600}
#status .done {color: #166534; font-weight: 600}
"""
log = logging.getLogger(__name__)


@dataclass
class Outcome:
    """The state of a request, updated after each frame: ``done`` of ``total`` (None: unknown) frames
    written, the pose previews (H, W, 3) uint8 once known, notes for the user, and the output files."""

    done: int = 0
    total: int | None = None
    photo_pose: np.ndarray | None = None
    driving_pose: np.ndarray | None = None
    notes: list[str] = field(default_factory=list)
    video: Path | None = None
    side_by_side: Path | None = None
    fps: float = 0.0
    width: int = 0
    height: int = 0


@dataclass(frozen=True)
class Checkpoint:
    """A trained model offered in the page: ``path`` (run folder or .ckpt), its ``method``, whether it
    ``animates`` a photo, and for a motion model (``Capabilities.generates_motion``) the action ``labels``;
    ``label`` is what the dropdown shows."""

    path: str
    method: str
    labels: tuple[str, ...]
    label: str
    animates: bool = True
    motion: bool = False


class Workspace:
    """Per-request output folders under one temporary root. Creating one deletes the older folders beyond
    the newest ``keep``, but only those made more than ``grace`` seconds ago: a folder of a request that
    is still running, or whose result a browser is still downloading, stays."""

    def __init__(self, keep: int = KEEP, grace: float = GRACE_SECONDS):
        self.root = Path(tempfile.mkdtemp(prefix="posevid-ui-"))
        self.keep, self.grace = keep, grace
        self._ids = itertools.count()
        self._made: dict[Path, float] = {}
        self._lock = threading.Lock()  # requests run in several threads
        atexit.register(shutil.rmtree, self.root, True)

    def new(self) -> Path:
        """A fresh empty folder for one request."""
        with self._lock:
            now = time.monotonic()
            folders = sorted(self._made)
            for old in folders[:max(0, len(folders) - self.keep + 1)]:
                if now - self._made[old] > self.grace:
                    shutil.rmtree(old, ignore_errors=True)
                    del self._made[old]
            folder = self.root / f"{next(self._ids):06d}"
            folder.mkdir()
            self._made[folder] = now
            return folder


def check_photo(path: str | Path, folder: Path) -> tuple[Path, str | None]:
    """The photo to animate and a note for the user: photos above ``MAX_MEGAPIXELS`` are refused before
    decoding, photos with a side above ``MAX_SIDE`` px are scaled down into ``folder``."""
    from .video import image_size, read_image, write_image

    width, height = image_size(path)
    if max(width, height) <= MAX_SIDE:
        return Path(path), None
    rgb = read_image(path)
    h, w = rgb.shape[:2]
    scale = MAX_SIDE / max(h, w)
    small = cv2.resize(rgb, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    out = folder / "photo.png"
    write_image(out, small)
    return out, f"The photo was scaled down from {w}x{h} to {small.shape[1]}x{small.shape[0]} (limit {MAX_SIDE} px)."


def check_driving(path: str | Path) -> Path | Poses:
    """A driving video's path after checking its size and length, or the poses of a pose file."""
    path = Path(path)
    if path.suffix.lower() in POSE_SUFFIXES:
        from .posefiles import read_poses

        poses = read_poses(path)
        if len(poses) > MAX_FRAMES:
            raise PosevidError(path, f"has {len(poses)} poses; the limit is {MAX_FRAMES}")
        return poses
    from .video import open_video

    with open_video(path) as reader:
        if max(reader.width, reader.height) > MAX_SIDE:
            raise PosevidError(path, f"the video is {reader.width}x{reader.height}; the limit is {MAX_SIDE} px")
        if reader.frame_count and reader.frame_count > MAX_FRAMES:
            raise PosevidError(path, f"the video has {reader.frame_count} frames; the limit is {MAX_FRAMES}")
    return path


def _checkpoint(path: Path, cfg: dict, name: str) -> Checkpoint:
    from .methods.registry import method_class

    method = str(cfg.get("method", "?"))
    try:
        cls = method_class(method)
    except KeyError:  # not a registered method: listed, but nothing can be done with it
        return Checkpoint(str(path), method, (), f"{name} ({method})", animates=False)
    caps = cls.capabilities
    labels = cls.actions(cfg) if caps.generates_motion else ()
    return Checkpoint(str(path), method, labels, f"{name} ({method})", caps.animates, caps.generates_motion)


@functools.lru_cache(maxsize=64)
def _file_config(path: str, mtime_ns: int) -> dict:
    from .checkpoints import load_checkpoint

    cfg = load_checkpoint(path).get("config")
    if not isinstance(cfg, dict):
        raise PosevidError(path, "the checkpoint holds no config")
    return cfg


def read_checkpoint(path: str | Path, name: str | None = None) -> Checkpoint:
    """Describe a checkpoint file or run folder (its config: method, action labels); ``PosevidError`` if it
    is not one."""
    from .checkpoints import checkpoint_candidates

    path = Path(path)
    name = name or path.name
    if path.is_dir():
        if not checkpoint_candidates(path) or not (path / "config.yaml").is_file():
            raise PosevidError(path, "not a training run (config.yaml and checkpoints/)")
        try:
            cfg = yaml.safe_load((path / "config.yaml").read_text())
        except (OSError, yaml.YAMLError) as err:
            raise PosevidError(path / "config.yaml", f"cannot read the config ({err})") from None
        return _checkpoint(path, cfg if isinstance(cfg, dict) else {}, name)
    return _checkpoint(path, _file_config(str(path), path.stat().st_mtime_ns), name)


def find_checkpoints(root: str | Path | None) -> list[Checkpoint]:
    """Training runs (folders with config.yaml and checkpoints/, or the stage folders of a multi-stage run,
    listed once as the run) and loose .ckpt files under ``root``."""
    root = Path(root) if root else None
    if root is None or not root.is_dir():
        return []
    found, runs = [], set()
    for cfg in sorted(root.rglob("config.yaml")):
        if any(parent in runs for parent in cfg.parents):  # a stage of a run already listed
            continue
        try:
            found.append(read_checkpoint(cfg.parent, str(cfg.parent.relative_to(root)) or cfg.parent.name))
            runs.add(cfg.parent)
        except PosevidError:
            continue
    for ckpt in sorted(root.rglob("*.ckpt")):
        if any(parent in runs for parent in ckpt.parents):
            continue
        try:
            found.append(read_checkpoint(ckpt, str(ckpt.relative_to(root))))
        except PosevidError:
            continue
    return found


def _shrink(image: np.ndarray, pose: Poses) -> tuple[np.ndarray, Poses]:
    """``image`` and ``pose`` scaled so that the longer side is at most ``PREVIEW_SIDE``."""
    h, w = image.shape[:2]
    scale = min(1.0, PREVIEW_SIDE / max(h, w))
    if scale == 1.0:
        return image, pose
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA), pose.rescale(*size)


def pose_preview(frame: np.ndarray | None, pose: Poses) -> np.ndarray:
    """The one-frame ``pose`` drawn over ``frame`` (or on black at the pose's image size when None)."""
    from .render import draw_poses_on

    canvas = np.zeros((pose.height, pose.width, 3), np.uint8) if frame is None else frame
    canvas, pose = _shrink(canvas, pose)
    return draw_poses_on(canvas, pose.xy[0], pose.conf[0], max(2, max(canvas.shape[:2]) // 150))


class _Watched(Animation):
    """An ``Animation`` that remembers the first driving frame with a person and its pose."""

    first: tuple[np.ndarray | None, Poses] | None = None

    def targets(self) -> Iterator[tuple[np.ndarray | None, Poses, Poses]]:
        for frame, pose, target in super().targets():
            if self.first is None and body_height(pose)[0] > 0:
                self.first = (frame, pose)
            yield frame, pose, target


@functools.lru_cache(maxsize=2)
def _pipeline(method: str | None, checkpoint: str | None, mtime_ns: int, mode: str, size: int | None,
              device: str | None) -> Pipeline:
    """A ``Pipeline`` per model, framing and device, kept for the next requests (the model is loaded once)."""
    return Pipeline(AnimateOptions(method=method, checkpoint=checkpoint, mode=mode, size=size, device=device))


def _cacheable(options: AnimateOptions) -> bool:
    return (options.fps is None and options.smooth and not options.method_options and options.width is None
            and options.height is None)


def pipeline_for(options: AnimateOptions) -> Pipeline:
    """The cached ``Pipeline`` of ``options`` (a checkpoint changed on disk is loaded again)."""
    ckpt = str(options.checkpoint) if options.checkpoint else None
    try:
        mtime = Path(ckpt).stat().st_mtime_ns if ckpt else 0
    except OSError:
        mtime = -1
    if not _cacheable(options):
        return Pipeline(options)
    return _pipeline(options.method, ckpt, mtime, options.mode, options.size, options.device)


def animate_request(photo: str | Path | None, driving: str | Path | None, folder: Path,
                    options: AnimateOptions | None = None, *, action: str | None = None,
                    motion_checkpoint: str | Path | None = None, frames: int = 32, seed: int = 0,
                    photo_pose: str | Path | None = None, **fields: Any) -> Iterator[Outcome]:
    """Check the inputs, animate, and yield the ``Outcome`` after each frame; the last one has the files
    ``folder/result.mp4`` and ``folder/side_by_side.mp4`` (driving | pose | result), H.264.

    options: the ``AnimateOptions`` (``fields`` replace any of them); size: the result's longer side in
    pixels (the photo's frame and aspect are kept; None: ``DEFAULT_SIZE``). driving: a video or pose file;
    or, with ``action``, poses generated by the motion model ``motion_checkpoint`` (None: the bundled one;
    ``frames`` long, noise ``seed``) from the photo's pose; the driving video's sound goes into ``result.mp4``.
    photo_pose: a pose file holding the photo's person's pose (``photo.given_pose``), for a drawn character
    the detector does not find. Raises ``PosevidError`` for bad input.
    """
    from .render import draw_poses_on
    from .video import VideoWriter, has_audio

    options = AnimateOptions.make(options, **fields)
    if not photo:
        raise PosevidError("photo", "upload a photo of a person (or pick the bundled one)")
    outcome = Outcome()
    photo, note = check_photo(photo, folder)
    outcome.notes += [note] if note else []
    if action:
        if not 1 <= frames <= MAX_FRAMES:
            raise PosevidError("action", f"frames must be between 1 and {MAX_FRAMES}, got {frames}")
        motion: Path | Poses = motion_from_action(photo_pose or photo, motion_checkpoint, action, frames, seed,
                                                     options.device)
    elif driving:
        motion = check_driving(driving)
    else:
        raise PosevidError("driving", "upload a driving video or pose file (or pick the bundled clip)")
    if options.size is None:
        options = AnimateOptions.make(options, size=DEFAULT_SIZE)
    pipe = pipeline_for(options)
    with _Watched(photo, motion, side_by_side=True, pipeline=pipe, photo_pose=photo_pose) as anim:
        outcome.total, outcome.fps = anim.frame_count, anim.fps
        outcome.height, outcome.width = anim.height, anim.width
        pose = anim.source_pose
        outcome.photo_pose = draw_poses_on(anim.source, pose.xy[0], pose.conf[0], max(1, anim.width // 128))
        video, panels = folder / "result.mp4", folder / "side_by_side.mp4"
        sound = motion if isinstance(motion, Path) and has_audio(motion) else None
        with VideoWriter(video, anim.fps, audio_from=sound) as writer, VideoWriter(panels, anim.fps) as panel_writer:
            for result, panel in anim:
                if outcome.done == MAX_FRAMES:
                    raise PosevidError(driving, f"the video is longer than {MAX_FRAMES} frames")
                writer.write(result)
                panel_writer.write(panel)
                outcome.done += 1
                if outcome.driving_pose is None and anim.first is not None:
                    outcome.driving_pose = pose_preview(*anim.first)
                yield outcome
            if anim.first is None:
                raise PosevidError(driving, "no person found in any frame of the driving motion")
        outcome.notes += [n for n in anim.notes if n not in outcome.notes]
    outcome.video, outcome.side_by_side = video, panels
    yield outcome


def user_message(err: PosevidError, uploads: list[str | Path | None]) -> str:
    """The error as the user should read it: uploaded files named by their own name, not the server's path;
    the command line's advice in the page's words."""
    return hide_uploads(str(err).replace(GIVE_POSE, PAGE_GIVE_POSE), uploads)


def hide_uploads(text: str, uploads: list[str | Path | None]) -> str:
    """``text`` with each uploaded file's server path replaced by the file's own name."""
    for path in sorted((str(p) for p in uploads if p), key=len, reverse=True):
        text = text.replace(path, Path(path).name)
    return text


def _text(text: str) -> str:
    """Plain text for Gradio's HTML messages: ``<``, ``>`` and ``&`` escaped; quotes left as they are,
    since text outside attributes does not need them escaped (escaped, they showed as ``&#x27;``)."""
    return html.escape(text, quote=False)


def _status(text: str, kind: str = "info") -> str:
    return f'<div class="{kind}">{_text(text)}</div>'


def _model_update(found: list[Checkpoint], method: str, where: str, selected: str | None = None) -> dict:
    """The checkpoint dropdown for ``method``: the checkpoints of that method, ``selected`` or the first chosen."""
    import gradio as gr

    from .methods.registry import method_spec

    if not method_spec(method).capabilities.trains:
        return gr.update(choices=[], value=None, interactive=False, info=f"{method} needs no trained model")
    options = [(c.label, c.path) for c in found if c.method == method]
    paths = [p for _, p in options]
    info = f"{len(options)} found under {where}" if options else f"none found under {where}: upload one below"
    return gr.update(choices=options, value=selected if selected in paths else (paths[0] if paths else None),
                     interactive=True, info=info)


def bundled_motion_models() -> list[Checkpoint]:
    """The motion model shipped with posevid (``resources.motion_model``), offered first; none when an
    installation lacks it."""
    try:
        return [read_checkpoint(motion_model(), "bundled")]
    except PosevidError:
        return []


def _motion_updates(found: list[Checkpoint], selected: str | None = None,
                    action: str | None = None) -> tuple[dict, dict]:
    """The motion-model checkpoint dropdown (``selected`` or the first) and the action dropdown (its
    labels, ``action`` kept if it is one, else walk when it knows it, else its first)."""
    import gradio as gr

    motion = [c for c in found if c.motion]
    paths = [c.path for c in motion]
    value = selected if selected in paths else (paths[0] if paths else None)
    labels = next((list(c.labels) for c in motion if c.path == value), [])
    default = "walk" if "walk" in labels else (labels[0] if labels else None)
    return (gr.update(choices=[(c.label, c.path) for c in motion], value=value),
            gr.update(choices=labels, value=action if action in labels else default))


def _raw_path_on_failure(preprocess: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """Gradio's image upload step, handing on the uploaded file's path where Gradio cannot open it (not an
    image, a decompression bomb), so that ``check_photo`` says what is wrong in one line naming the file,
    instead of Gradio's multi-line error with the server's path."""

    def run(payload: Any) -> Any:
        try:
            return preprocess(payload)
        except Exception:  # any failure to open the upload: checked and reported by check_photo
            path = getattr(payload, "path", None)
            if path is None:
                raise
            return str(path)

    return run


def build(checkpoints: str | Path | None = "runs", device: str | None = None) -> gr.Blocks:
    """The page (a ``gradio.Blocks``), offering the checkpoints found under ``checkpoints`` (scanned again
    whenever a list is shown) and the session's uploaded ones, its models on ``device`` (None: auto).
    Queue and launch it, or use ``serve``."""
    import gradio as gr

    from .methods.registry import method_spec, method_specs
    from .pipeline import DEFAULT_METHOD

    work = Workspace()
    where = f"'{checkpoints}'" if checkpoints else "no folder"
    methods = [spec.name for spec in method_specs() if spec.capabilities.animates]
    with gr.Blocks(title="posevid: animate a photo", analytics_enabled=False,
                   delete_cache=(CACHE_SECONDS // 6, CACHE_SECONDS)) as demo:
        gr.Markdown("# posevid: animate a photo\nThe person in the photo moves like the person in the driving "
                    "video, like a pose file, or through an action (walk, run, jump, ...) generated by PSGAN (the "
                    "bundled model, or your own).")
        gr.Markdown(LIMITS, elem_id="limits")
        uploaded = gr.State([])  # this session's uploaded checkpoints; the folder is scanned at each use
        with gr.Row():
            with gr.Column(scale=1):
                photo = gr.Image(label="Photo of one person, full body", type="filepath", image_mode=None,
                                 sources=["upload"], height=260, elem_id="photo")
                photo.preprocess = _raw_path_on_failure(photo.preprocess)
                kind = gr.Radio([CLIP, ACTION], value=CLIP, label="Motion", elem_id="kind")
                with gr.Group(visible=True) as clip_group:
                    driving = gr.File(label=f"Driving video ({', '.join(VIDEO_TYPES)}) or pose file "
                                            f"({', '.join(POSE_SUFFIXES)})", type="filepath", height=120,
                                      file_types=VIDEO_TYPES + list(POSE_SUFFIXES), elem_id="driving")
                with gr.Group(visible=False) as action_group:
                    motion_ckpt = gr.Dropdown(label="PSGAN checkpoint", choices=[], elem_id="motion-checkpoint",
                                              info=f"the bundled one, those found under {where}, or upload one "
                                                   "below")
                    action = gr.Dropdown(label="Action", choices=[], elem_id="action")
                    frames = gr.Slider(1, MAX_FRAMES, value=32, step=1, label="Frames")
                    seed = gr.Number(0, precision=0, label="Seed (another seed, another motion)")
                with gr.Accordion("The photo's pose (for a drawn character the detector misses)", open=False):
                    photo_pose = gr.File(label=f"Pose file in the photo's pixels ({', '.join(PHOTO_POSE_TYPES)}), "
                                               "e.g. OpenPose JSON", type="filepath", height=100,
                                         file_types=PHOTO_POSE_TYPES, elem_id="photo-pose-file")
                with gr.Row():
                    method = gr.Dropdown(methods, value=DEFAULT_METHOD, label="Method", elem_id="method")
                    checkpoint = gr.Dropdown(label="Checkpoint", choices=[], interactive=False, elem_id="checkpoint")
                with gr.Accordion("Upload a checkpoint (.ckpt): a trained model or a PSGAN", open=False):
                    upload = gr.File(label="Checkpoint", file_types=[".ckpt"], type="filepath",
                                     elem_id="upload-checkpoint")
                with gr.Row():
                    mode = gr.Radio(list(RETARGET_MODES), value=DEFAULT_RETARGET, label="Mode", elem_id="mode",
                                    info="pose: the photo's person takes the driver's pose; bones: the photo's "
                                         "limbs turn as the driver's do; relative: each joint moves as the "
                                         "driver's; absolute: the driver's pose scaled to the photo")
                    size = gr.Radio(list(SIZES), value="auto", label="Size (px)", elem_id="size",
                                    info=f"the result's longer side (the photo's frame is kept); auto: {DEFAULT_SIZE}")
                run = gr.Button("Animate", variant="primary", elem_id="animate")
                with contextlib.suppress(PosevidError):  # an installation without the assets shows no example
                    gr.Examples([[str(asset(DEMO_PHOTO)), str(asset(DEMO_CLIP)),
                                  "absolute"]], inputs=[photo, driving, mode],
                                label="Bundled photo and dancing clip (click to use them)")
            with gr.Column(scale=1):
                status = gr.HTML(_status("Upload a photo and a driving video, then press Animate."),
                                 elem_id="status")
                result = gr.Video(label="Result", autoplay=True, loop=True, interactive=False, height=380,
                                  elem_id="result")
                download = gr.File(label="Download the result (mp4)", interactive=False, elem_id="download")
                side = gr.Video(label="Side by side: driving | pose | result", loop=True, interactive=False,
                                elem_id="side-by-side")
                with gr.Row():
                    photo_view = gr.Image(label="Photo: detected pose", interactive=False, height=256,
                                          elem_id="photo-pose")
                    driving_view = gr.Image(label="Driving: detected pose", interactive=False,
                                            height=256, elem_id="driving-pose")

        def on_upload(path: str | None, session: list[Checkpoint]) -> tuple:
            if not path:
                return session, gr.skip(), gr.skip(), gr.skip(), gr.skip()
            try:
                new = read_checkpoint(path)
            except PosevidError as err:
                raise gr.Error(_text(user_message(err, [path])), print_exception=False) from None
            session = [*session, new]
            if new.motion:
                return session, gr.skip(), gr.skip(), *_motion_updates(motion_models(session), new.path)
            if new.method not in methods:
                raise gr.Error(_text(f"{Path(path).name}: a {new.method!r} model does not animate"),
                               print_exception=False)
            return (session, gr.update(value=new.method), _model_update(available(session), new.method, where,
                                                                          new.path), gr.skip(), gr.skip())

        def available(session: list[Checkpoint]) -> list[Checkpoint]:
            return [*find_checkpoints(checkpoints), *session]

        def motion_models(session: list[Checkpoint]) -> list[Checkpoint]:
            return [*bundled_motion_models(), *available(session)]

        def on_animate(photo_path: str | None, kind_name: str, driving_path: str | None, motion_path: str | None,
                       action_name: str | None, n_frames: float, seed_value: float, method_name: str,
                       ckpt: str | None, mode_name: str, size_name: str, pose_path: str | None,
                       progress: gr.Progress = gr.Progress()) -> Iterator[dict]:
            start = time.perf_counter()
            yield {status: _status("Checking the inputs…"), result: None, side: None, download: None,
                   photo_view: None, driving_view: None}
            use_action = kind_name == ACTION
            try:
                trains = method_spec(method_name).capabilities.trains
                if not trains:
                    ckpt = None
                elif not ckpt:
                    raise PosevidError(f"method {method_name}", f"needs a trained checkpoint: pick one found "
                                                                f"under {where} or upload a .ckpt file")
                if use_action and not action_name:
                    raise PosevidError("action", "pick a motion checkpoint and one of its actions")
                progress(0, desc="Checking the inputs")
                side_px = None if size_name == "auto" else int(size_name)
                options = AnimateOptions(method=method_name, checkpoint=ckpt, mode=mode_name, size=side_px,
                                         device=device)
                requests = animate_request(photo_path, None if use_action else driving_path, work.new(), options,
                                           action=action_name if use_action else None, motion_checkpoint=motion_path,
                                           frames=int(n_frames), seed=int(seed_value or 0), photo_pose=pose_path)
                shown = False
                for outcome in requests:
                    progress((outcome.done, outcome.total), desc="Animating", unit="frames")
                    if not shown and outcome.driving_pose is not None:
                        shown = True
                        yield {status: _status(f"Animating… ({outcome.width}x{outcome.height})"),
                               photo_view: outcome.photo_pose, driving_view: outcome.driving_pose}
            except PosevidError as err:
                message = user_message(err, [photo_path, driving_path, ckpt, motion_path, pose_path])
                yield {status: _status(f"Error: {message}", "error")}
                raise gr.Error(_text(message), title="Cannot animate", print_exception=False) from None
            except Exception as err:  # a bug: keep the server up, log the traceback, tell the user
                log.exception("posevid ui: the request failed")
                message = f"internal error ({type(err).__name__}: {err}); the server log has the details"
                yield {status: _status(f"Error: {message}", "error")}
                raise gr.Error(_text(message), print_exception=False) from None
            notes = hide_uploads(" ".join(outcome.notes), [photo_path, driving_path, ckpt, motion_path, pose_path])
            text = (f"Done: {outcome.done} frames, {outcome.width}x{outcome.height} at {outcome.fps:g} fps, "
                    f"in {time.perf_counter() - start:.1f} s. {notes}")
            yield {status: _status(text.strip(), "done"), result: str(outcome.video), side: str(outcome.side_by_side),
                   download: str(outcome.video), photo_view: outcome.photo_pose, driving_view: outcome.driving_pose}

        light = {"concurrency_limit": None, "show_progress": "hidden"}
        demo.load(lambda: _motion_updates(motion_models([])), None, [motion_ckpt, action], **light)
        method.change(lambda s, m, c: _model_update(available(s), m, where, c), [uploaded, method, checkpoint],
                      [checkpoint], **light)
        motion_ckpt.change(lambda s, p, a: _motion_updates(motion_models(s), p, a)[1], [uploaded, motion_ckpt, action],
                           [action], **light)
        upload.upload(on_upload, [upload, uploaded], [uploaded, method, checkpoint, motion_ckpt, action], **light)
        kind.change(lambda k: (gr.update(visible=k == CLIP), gr.update(visible=k == ACTION)), [kind],
                   [clip_group, action_group], **light)
        run.click(on_animate, [photo, kind, driving, motion_ckpt, action, frames, seed, method, checkpoint, mode,
                               size, photo_pose], [status, result, side, download, photo_view, driving_view],
                  concurrency_limit=1, concurrency_id="animate", show_progress_on=[result])
    return demo


def serve(host: str = "127.0.0.1", port: int = 7860, checkpoints: str | Path | None = "runs",
          block: bool = True, device: str | None = None) -> gr.Blocks:
    """Build the page and serve it at http://host:port (one request at a time, ``QUEUE_SIZE`` waiting),
    its models on ``device`` (None: auto). With ``block`` False, return the running app at once
    (``.close()`` stops it)."""
    import gradio as gr

    demo = build(checkpoints, device)
    demo.queue(default_concurrency_limit=1, max_size=QUEUE_SIZE)
    demo.launch(server_name=host, server_port=port, max_file_size=f"{MAX_UPLOAD_MB}mb", show_error=True,
                ssr_mode=False, share=False, prevent_thread_lock=not block, allowed_paths=[str(asset_folder())],
                theme=gr.themes.Soft(), css=CSS, quiet=not block)
    if block:  # stopped (Ctrl-C): Gradio's own shutdown leaves this app's cached files behind
        clear_cache(demo)
    return demo


def clear_cache(demo: gr.Blocks) -> None:
    """Delete the files this app put in Gradio's cache (uploads, results, previews), except the examples'."""
    from gradio.route_utils import delete_files_created_by_app

    delete_files_created_by_app(demo, age=None)
