"""Pose and person-mask estimation with MediaPipe BlazePose (the legacy ``mediapipe.solutions.pose``),
or MediaPipe Holistic (``solutions.holistic``) when hands and face are wanted.

BlazePose's 33 landmarks become COCO-18 ``Poses`` (confidence = landmark visibility, 0 for landmarks
far outside the image), each foot's heel and toe (``Poses.foot_xy``) and their depth ``z`` (MediaPipe's
landmark z, which is in units of the image width, times the width: pixels, positive away from the camera,
0 at the hip centre); its segmentation
output gives the person mask. Holistic runs the same body model and adds the 21 landmarks of each hand
(found from the body's wrists; confidence 1 for a found hand, MediaPipe gives no per-point score; a hand
found twice, both hands at one place, is kept once: ``drop_duplicate_hand``) and
the 468-point face mesh, of which ``MESH_TO_IBUG68`` picks the 68 iBUG landmarks. Only
``model_complexity=1`` is used: the models for it ship inside the mediapipe 0.10.14 wheel, the others
are downloaded at run time.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import sys
import tempfile
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import ModuleType, TracebackType
from typing import Any

import numpy as np

from .errors import PosevidError
from .poses import Poses, bbox, body_height
from .skeleton import BLAZEPOSE_FEET, FACE_POINTS, HAND_POINTS, JOINT, joint_values_to_coco18, to_coco18

os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
warnings.filterwarnings("ignore", message=r"SymbolDatabase\.GetPrototype", category=UserWarning)

DUPLICATE = 0.5  # of a hand's size: two hands closer than this point for point may be one hand found twice,
WRISTS_APART = 1 / 3  # when their wrists lie closer than this share of the body's wrists' distance
MARGIN = 0.1  # landmarks further than this fraction of the image size outside it get confidence 0
# What to estimate: ``body`` (BlazePose), body with hands (and face) from MediaPipe Holistic, or ``face``
# alone (the face mesh: for face close-ups, where Holistic needs a body to find the face from).
KEYPOINT_SETS: tuple[str, ...] = ("body", "body+hands", "body+hands+face", "face")
# The face-mesh vertex nearest to each of the 68 iBUG landmarks (jaw, brows, nose, eyes, mouth).
MESH_TO_IBUG68: tuple[int, ...] = (
    127, 234, 93, 58, 172, 136, 149, 148, 152, 377, 378, 365, 397, 288, 323, 454, 356,
    71, 63, 105, 66, 107, 336, 296, 334, 293, 301,
    168, 197, 5, 4, 75, 97, 2, 326, 305,
    33, 160, 158, 133, 153, 144, 362, 385, 387, 263, 373, 380,
    61, 39, 37, 0, 267, 269, 291, 405, 314, 17, 84, 181,
    78, 82, 13, 312, 308, 317, 14, 87)
_NOISE = re.compile(r"XNNPACK delegate|absl::InitializeLog|inference_feedback_manager|landmark_projection_calculator"
                    r"|gl_context|Feedback manager")


class _Deferred(ModuleType):
    """A module that runs its code on first use of one of its names (dunder look-ups, which the import
    system makes, do not count)."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        self.__class__ = ModuleType
        self.__spec__.loader.exec_module(self)
        return getattr(self, name)


# Parts of mediapipe that its package init imports and posevid never uses (``_mediapipe``).
_DEFERRED = ("python.solutions.drawing_utils", "python.solutions.drawing_styles", "tasks", "tasks.python")


def _mediapipe() -> ModuleType:
    """``import mediapipe``, with the parts posevid never uses deferred until used: its drawing helpers
    (``solutions.drawing_utils``, ``drawing_styles``, which import ``matplotlib.pyplot``, about three
    quarters of mediapipe's import time) and the Tasks API (``mediapipe.tasks.python``: audio, text and
    vision tasks, a third of what is left): seconds of CPU at every ``posevid animate``."""
    if "mediapipe" not in sys.modules:
        spec = importlib.util.find_spec("mediapipe")
        root = Path(next(iter(spec.submodule_search_locations)))
        for name in _DEFERRED:
            full, path = f"mediapipe.{name}", root.joinpath(*name.split("."))
            if full in sys.modules:
                continue
            if path.is_dir() and (path / "__init__.py").is_file():
                where = importlib.util.spec_from_file_location(full, path / "__init__.py",
                                                               submodule_search_locations=[str(path)])
            elif path.with_suffix(".py").is_file():
                where = importlib.util.spec_from_file_location(full, path.with_suffix(".py"))
            else:
                continue
            module = importlib.util.module_from_spec(where)
            module.__class__ = _Deferred
            sys.modules[full] = module
    import mediapipe

    for name in _DEFERRED:  # the package attributes the import system sets only for modules it loads
        parent, _, child = f"mediapipe.{name}".rpartition(".")
        full = f"{parent}.{child}"
        if full in sys.modules and parent in sys.modules and not hasattr(sys.modules[parent], child):
            setattr(sys.modules[parent], child, sys.modules[full])
    return mediapipe


@contextlib.contextmanager
def _quiet_native_logs() -> Iterator[None]:
    """Drop MediaPipe's start-up chatter, which its C++ side writes straight to file descriptor 2.

    Anything else written to descriptor 2 meanwhile is passed through once the block ends.
    """
    fd = 2
    try:
        saved = os.dup(fd)
    except OSError:  # no descriptor 2 at all: nothing to filter
        yield
        return
    with contextlib.suppress(AttributeError, OSError, ValueError):
        sys.stderr.flush()
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), fd)
        try:
            yield
        finally:
            with contextlib.suppress(AttributeError, OSError, ValueError):
                sys.stderr.flush()
            os.dup2(saved, fd)
            os.close(saved)
            capture.seek(0)
            kept = [ln for ln in capture.read().splitlines(True) if not _NOISE.search(ln.decode(errors="replace"))]
            if kept:
                os.write(fd, b"".join(kept))


def drop_duplicate_hand(hand_xy: np.ndarray, hand_conf: np.ndarray, body_xy: np.ndarray, body_conf: np.ndarray
                        ) -> bool:
    """Clear (xy and conf 0, in place) a hand that Holistic found twice: both hands of one frame
    (``hand_xy`` (2, 21, 2) pixels, ``hand_conf`` (2, 21); index 0 the left hand) are one hand read twice
    when their points lie on average within ``DUPLICATE`` of the larger hand's size (its box's longer side)
    of each other and their wrists within ``WRISTS_APART`` of the distance between the body's wrists
    (``body_xy`` (18, 2), ``body_conf`` (18,), COCO-18; both must be seen). On the four real clips the hands
    read twice (animatex_dance_2 frames 138-140, tfjs_pose_1 frame 117) lie 0.03-0.16 hand sizes apart,
    their wrists 0.04-0.23 of the body's wrists' distance; hands held together (the squats' band, tfjs_pose_1's
    clasped hands) 0.16 and more, their wrists 0.46 and more. The hand whose wrist lies farther from the body's
    wrist of its side is dropped. Returns whether one was."""
    wrists = (JOINT["left_wrist"], JOINT["right_wrist"])
    if not (hand_conf[:, 0] > 0).all() or not (body_conf[list(wrists)] > 0).all():
        return False
    size = float(np.ptp(hand_xy, axis=1).max())
    apart = float(np.linalg.norm(body_xy[wrists[0]] - body_xy[wrists[1]]))
    if (np.linalg.norm(hand_xy[0] - hand_xy[1], axis=-1).mean() > DUPLICATE * size
            or np.linalg.norm(hand_xy[0, 0] - hand_xy[1, 0]) > WRISTS_APART * apart):
        return False
    drop = int(np.argmax([np.linalg.norm(hand_xy[side, 0] - body_xy[j]) for side, j in enumerate(wrists)]))
    hand_xy[drop], hand_conf[drop] = 0, 0
    return True


def _check_rgb(rgb: np.ndarray) -> np.ndarray:
    if not isinstance(rgb, np.ndarray) or rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        got = f"{rgb.dtype} {rgb.shape}" if isinstance(rgb, np.ndarray) else type(rgb).__name__
        raise PosevidError("image", f"pose estimation needs (H, W, 3) uint8 RGB, got {got}")
    return np.ascontiguousarray(rgb)


def check_keypoints(keypoints: str) -> str:
    """``keypoints`` if it is one of ``KEYPOINT_SETS``, else a ``PosevidError`` saying which there are."""
    if keypoints not in KEYPOINT_SETS:
        raise PosevidError(f"keypoints {keypoints}", f"must be one of {', '.join(KEYPOINT_SETS)}")
    return keypoints


class PoseEstimator:
    """BlazePose or Holistic (complexity 1) with segmentation; use as a context manager to free the graphs.

    ``keypoints``: ``body``, ``body+hands`` or ``body+hands+face`` (``KEYPOINT_SETS``); the poses have
    ``z`` and feet (``foot_xy``) always and hands / face when asked for. ``image(rgb)`` treats each call as
    an unrelated photo (static mode); ``stream(frames, fps)`` tracks a person through consecutive frames, with landmark
    and mask smoothing.
    """

    def __init__(self, min_detection_confidence: float = 0.5, min_tracking_confidence: float = 0.5,
                 margin: float = MARGIN, keypoints: str = "body"):
        self.min_detection_confidence = min_detection_confidence
        self.min_tracking_confidence = min_tracking_confidence
        self.margin = margin
        self.keypoints = check_keypoints(keypoints)
        self._static: Any = None

    def _graph(self, static: bool, shape: tuple[int, ...], masks: bool = True) -> Any:
        """A MediaPipe pose (or holistic) graph, warmed up on a blank frame of ``shape``; ``masks``: with
        the segmentation (without it the landmarks are the same and each frame costs ~1 ms less).

        The graph loads its models in background threads that log as they go; the blank frame makes
        that finish while the logs are being filtered, and leaves no tracking state behind.
        """
        mp = _mediapipe()
        options = dict(static_image_mode=static, model_complexity=1, smooth_landmarks=True,
                       enable_segmentation=masks, smooth_segmentation=masks,
                       min_detection_confidence=self.min_detection_confidence,
                       min_tracking_confidence=self.min_tracking_confidence)
        with _quiet_native_logs():
            if self.keypoints == "body":
                graph = mp.solutions.pose.Pose(**options)
            elif self.keypoints == "face":
                graph = mp.solutions.face_mesh.FaceMesh(
                    static_image_mode=static, max_num_faces=1, refine_landmarks=False,
                    min_detection_confidence=self.min_detection_confidence,
                    min_tracking_confidence=self.min_tracking_confidence)
            else:
                graph = mp.solutions.holistic.Holistic(refine_face_landmarks=False, **options)
            graph.process(np.zeros(shape, np.uint8))
        return graph

    def _landmarks(self, landmarks: Any, width: int, height: int, visibility: bool) -> tuple[np.ndarray, ...]:
        """MediaPipe landmarks -> (N, 2) pixels, (N,) confidence (visibility, or 1 without it; 0 far
        outside the image), (N,) depth in pixels."""
        lm = np.array([(p.x, p.y, p.z, p.visibility if visibility else 1.0) for p in landmarks.landmark], np.float32)
        inside = ((lm[:, 0] >= -self.margin) & (lm[:, 0] <= 1 + self.margin)
                  & (lm[:, 1] >= -self.margin) & (lm[:, 1] <= 1 + self.margin))
        conf = np.where(inside, np.clip(lm[:, 3], 0, 1), 0).astype(np.float32)
        return lm[:, :2] * np.array([width, height], np.float32), conf, lm[:, 2] * width

    def _run(self, graph: Any, rgb: np.ndarray, fps: float) -> tuple[Poses, np.ndarray]:
        """One frame through ``graph`` -> (Poses with 1 frame, (H, W) float32 mask)."""
        height, width = rgb.shape[:2]
        result = graph.process(rgb)
        if self.keypoints == "face":
            return self._face_only(result, width, height, fps)
        groups: dict[str, np.ndarray] = {}
        if self.keypoints != "body":
            hands = [(np.zeros((HAND_POINTS, 2), np.float32), np.zeros(HAND_POINTS, np.float32))] * 2
            for side, found in enumerate((result.left_hand_landmarks, result.right_hand_landmarks)):
                if found is not None:
                    h_xy, h_c, _ = self._landmarks(found, width, height, visibility=False)
                    hands[side] = (np.where(h_c[:, None] > 0, h_xy, 0), h_c)
            groups["hand_xy"] = np.stack([h[0] for h in hands])[None]
            groups["hand_conf"] = np.stack([h[1] for h in hands])[None]
        if self.keypoints == "body+hands+face":
            f_xy, f_c = np.zeros((FACE_POINTS, 2), np.float32), np.zeros(FACE_POINTS, np.float32)
            if result.face_landmarks is not None:
                m_xy, m_c, _ = self._landmarks(result.face_landmarks, width, height, visibility=False)
                f_c = m_c[list(MESH_TO_IBUG68)]
                f_xy = np.where(f_c[:, None] > 0, m_xy[list(MESH_TO_IBUG68)], 0)
            groups["face_xy"], groups["face_conf"] = f_xy[None], f_c[None]
        if result.pose_landmarks is None:
            empty = Poses.empty(1, width, height, fps)
            return Poses(empty.xy, empty.conf, width, height, fps, z=np.zeros_like(empty.conf), **groups), \
                np.zeros((height, width), np.float32)
        lm_xy, lm_conf, lm_z = self._landmarks(result.pose_landmarks, width, height, visibility=True)
        xy, conf = to_coco18(lm_xy, lm_conf, "blazepose33")
        if "hand_xy" in groups:
            drop_duplicate_hand(groups["hand_xy"][0], groups["hand_conf"][0], xy, conf)
        z = np.where(conf > 0, joint_values_to_coco18(lm_z[:, None], "blazepose33")[:, 0], 0)
        feet = np.array(BLAZEPOSE_FEET)
        groups["foot_xy"] = np.where(lm_conf[feet][..., None] > 0, lm_xy[feet], 0)[None]
        groups["foot_conf"] = lm_conf[feet][None]
        mask = result.segmentation_mask
        mask = np.zeros((height, width), np.float32) if mask is None else np.clip(mask, 0, 1).astype(np.float32)
        return Poses(xy, conf, width, height, fps, z=z, **groups), mask

    def _face_only(self, result: Any, width: int, height: int, fps: float) -> tuple[Poses, np.ndarray]:
        """A face-mesh result -> (Poses[1] with no body (conf 0) and the 68 face landmarks, an empty mask)."""
        f_xy, f_c = np.zeros((FACE_POINTS, 2), np.float32), np.zeros(FACE_POINTS, np.float32)
        if result.multi_face_landmarks:
            m_xy, m_c, _ = self._landmarks(result.multi_face_landmarks[0], width, height, visibility=False)
            f_c = m_c[list(MESH_TO_IBUG68)]
            f_xy = np.where(f_c[:, None] > 0, m_xy[list(MESH_TO_IBUG68)], 0)
        empty = Poses.empty(1, width, height, fps)
        return (Poses(empty.xy, empty.conf, width, height, fps, z=np.zeros_like(empty.conf), face_xy=f_xy[None],
                      face_conf=f_c[None]), np.zeros((height, width), np.float32))

    def image(self, rgb: np.ndarray) -> tuple[Poses, np.ndarray]:
        """Pose and mask of the person in one (H, W, 3) uint8 RGB photo.

        Returns (Poses with 1 frame in the photo's pixels, (H, W) float32 mask in [0, 1]); with nobody
        in the photo all confidences and the mask are 0.
        """
        rgb = _check_rgb(rgb)
        if self._static is None:
            self._static = self._graph(True, rgb.shape)
        return self._run(self._static, rgb, 30.0)

    def stream(self, frames: Iterable[np.ndarray], fps: float = 30.0, focus: np.ndarray | None = None,
               masks: bool = True) -> Iterator[tuple[Poses, np.ndarray]]:
        """Track the person through consecutive (H, W, 3) uint8 RGB frames, one frame in memory at a time.

        Yields (Poses with 1 frame at ``fps``, (H, W) float32 mask) per frame. ``focus`` (x0, y0, x1, y1),
        the box of one person among several in the first frame: the estimator then sees only the region
        around that person (the box grown by ``FOCUS_MARGIN`` of its size each side), which follows the
        person from frame to frame, so it cannot jump to someone else. ``masks=False`` skips the segmentation
        (the masks are all zero; the poses are the same).
        """
        graph = None
        box = None if focus is None else np.asarray(focus, np.float32)
        try:
            for rgb in frames:
                rgb = _check_rgb(rgb)
                if graph is None:
                    graph = self._graph(False, rgb.shape, masks)
                if box is None:
                    yield self._run(graph, rgb, fps)
                    continue
                pose, mask = self._run(graph, _only_inside(rgb, box), fps)
                if body_height(pose)[0] > 0:
                    box = bbox(pose)[0]
                yield pose, mask
        finally:
            if graph is not None:
                graph.close()

    def close(self) -> None:
        """Free the static-mode graph (tracking graphs are freed when their stream ends)."""
        if self._static is not None:
            self._static.close()
            self._static = None

    def __enter__(self) -> PoseEstimator:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def segment_person(rgb: np.ndarray) -> np.ndarray:
    """MediaPipe's selfie segmentation (the general model, ``model_selection=0``, which ships inside the
    mediapipe wheel) of an (H, W, 3) uint8 RGB image: (H, W) float32 in [0, 1], high where a person (or
    anything like one) is. Unlike BlazePose's mask it needs no detected pose; it is coarse and may take in
    more than the person (``photo.mask_for_pose`` keeps what the person's given pose holds)."""
    rgb = _check_rgb(rgb)
    with _quiet_native_logs():
        graph = _mediapipe().solutions.selfie_segmentation.SelfieSegmentation(model_selection=0)
        try:
            mask = graph.process(rgb).segmentation_mask
        finally:
            graph.close()
    if mask is None:
        return np.zeros(rgb.shape[:2], np.float32)
    return np.clip(mask, 0, 1).astype(np.float32)


FOCUS_MARGIN = 0.5
PERSON_CHOICES: tuple[str, ...] = ("largest", "left", "right")


def _only_inside(rgb: np.ndarray, box: np.ndarray) -> np.ndarray:
    """``rgb`` with everything outside ``box`` (x0, y0, x1, y1) grown by ``FOCUS_MARGIN`` painted grey."""
    height, width = rgb.shape[:2]
    grow = FOCUS_MARGIN * max(box[2] - box[0], box[3] - box[1])
    x0, y0 = (int(max(v - grow, 0)) for v in box[:2])
    x1, y1 = int(min(box[2] + grow + 1, width)), int(min(box[3] + grow + 1, height))
    out = np.full_like(rgb, 128)
    out[y0:y1, x0:x1] = rgb[y0:y1, x0:x1]
    return out


def find_people(estimator: PoseEstimator, rgb: np.ndarray, max_people: int = 4, min_size: float = 0.25,
                first: tuple[Poses, np.ndarray] | None = None) -> list[tuple[Poses, np.ndarray]]:
    """Every person in a photo: (one-frame pose, (H, W) mask) each, the most prominent first.

    BlazePose finds one person at a time: each one found is painted over (their mask and the box around
    their joints, in the photo's median colour) before looking again. People whose body is smaller than
    ``min_size`` of the first one's are not counted (a poster, a reflection). ``first``: the first person,
    when already found (e.g. by ``photo.find_person``).
    """
    rgb = _check_rgb(rgb)
    found: list[tuple[Poses, np.ndarray]] = []
    work = rgb.copy()
    fill = np.median(rgb.reshape(-1, 3), axis=0).astype(np.uint8)
    for n in range(max_people):
        pose, mask = first if (n == 0 and first is not None) else estimator.image(work)
        height = body_height(pose)[0]
        if height <= 0 or (found and height < min_size * body_height(found[0][0])[0]):
            break
        found.append((pose, mask))
        x0, y0, x1, y1 = bbox(pose)[0]
        pad = 0.15 * height
        ys, xs = slice(int(max(y0 - pad, 0)), int(y1 + pad) + 1), slice(int(max(x0 - pad, 0)), int(x1 + pad) + 1)
        work[ys, xs] = fill
        work[mask > 0.3] = fill
    return found


def choose_person(people: list[tuple[Poses, np.ndarray]], how: str = "largest") -> int:
    """Index in ``people`` (``find_people``'s) of the ``largest`` person (body height), or the one furthest
    ``left`` or ``right`` (body centre across the image)."""
    if how not in PERSON_CHOICES:
        raise PosevidError(f"person {how}", f"must be one of {', '.join(PERSON_CHOICES)}")
    if how == "largest":
        return int(np.argmax([body_height(p)[0] for p, _ in people]))
    centres = [float(bbox(p)[0, [0, 2]].mean()) for p, _ in people]
    return int(np.argmin(centres) if how == "left" else np.argmax(centres))


def estimate_with_masks(source: str | Path | np.ndarray, fps: float | None = None, keypoints: str = "body"
                        ) -> Iterator[tuple[Poses, np.ndarray]]:
    """Stream (Poses[1], (H, W) float32 mask) for each frame of ``source``.

    ``source``: a video, GIF, frame folder or image path (read with ``posevid.video.open_video``, one
    frame at a time), an (H, W, 3) uint8 image or a (T, H, W, 3) uint8 array of frames. ``fps``
    overrides the video's rate (arrays default to 30). ``keypoints``: one of ``KEYPOINT_SETS``.
    """
    with PoseEstimator(keypoints=keypoints) as estimator:
        if isinstance(source, np.ndarray):
            if source.ndim == 3:
                poses, mask = estimator.image(source)
                poses.fps = float(fps or 30.0)
                yield poses, mask
            else:
                if source.ndim != 4:
                    raise PosevidError("frames", f"expected (H, W, 3) or (T, H, W, 3) uint8, got {source.shape}")
                yield from estimator.stream(iter(source), float(fps or 30.0))
            return
        from .video import open_video

        with open_video(source) as reader:
            yield from estimator.stream(reader, float(fps or reader.fps))


def estimate_poses(source: str | Path | np.ndarray, fps: float | None = None, keypoints: str = "body") -> Poses:
    """COCO-18 poses (T, 18, 2) in pixels, (T, 18) confidences and depths, of the person in an image or
    video, with hands and face when ``keypoints`` asks for them (see ``PoseEstimator``).

    ``source`` as for ``estimate_with_masks``; the masks are dropped as they come, so memory does not grow
    with the video's length beyond the poses themselves.
    """
    frames = [poses for poses, _ in estimate_with_masks(source, fps, keypoints)]
    if not frames:
        raise PosevidError(source if not isinstance(source, np.ndarray) else "frames", "no frames to estimate poses on")
    return Poses.concat(frames)


def first_pose(source: str | Path) -> Poses:
    """The first pose of a pose file (.npz, .json, .csv, .bvh) or the pose estimated in a photo: one-frame
    ``Poses`` in its own pixels (``PosevidError`` when the photo shows nobody). A photo's person is found
    as when it is animated (``photo.find_person``: crops of the photo are tried too)."""
    from .photo import find_person
    from .posefiles import read_poses
    from .video import read_image

    path = Path(source)
    if path.suffix.lower() in (".npz", ".json", ".csv", ".bvh"):
        return read_poses(path)[:1]
    with PoseEstimator() as estimator:
        pose, _ = find_person(estimator, read_image(path))
    if not (pose.conf > 0).any():
        raise PosevidError(path, "no person found in the photo")
    return pose
