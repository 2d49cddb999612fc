"""Pose and person-mask estimation with MediaPipe BlazePose (the legacy ``mediapipe.solutions.pose``).

BlazePose's 33 landmarks become COCO-18 ``Poses`` (confidence = landmark visibility, 0 for landmarks
far outside the image); its segmentation output gives the person mask. Only ``model_complexity=1`` is
used: the model for it ships inside the mediapipe 0.10.14 wheel, the others are downloaded at run time.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np

from .errors import PosevidError
from .poses import Poses
from .skeleton import to_coco18

os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
warnings.filterwarnings("ignore", message=r"SymbolDatabase\.GetPrototype", category=UserWarning)

MARGIN = 0.1  # landmarks further than this fraction of the image size outside it get confidence 0
_NOISE = re.compile(r"XNNPACK delegate|absl::InitializeLog|inference_feedback_manager|landmark_projection_calculator"
                    r"|gl_context|Feedback manager")


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


def _check_rgb(rgb: np.ndarray) -> np.ndarray:
    if not isinstance(rgb, np.ndarray) or rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        got = f"{rgb.dtype} {rgb.shape}" if isinstance(rgb, np.ndarray) else type(rgb).__name__
        raise PosevidError("image", f"pose estimation needs (H, W, 3) uint8 RGB, got {got}")
    return np.ascontiguousarray(rgb)


class PoseEstimator:
    """BlazePose (complexity 1) with segmentation; use as a context manager to free the graphs.

    ``image(rgb)`` treats each call as an unrelated photo (static mode); ``stream(frames, fps)`` tracks
    a person through consecutive frames, with landmark and mask smoothing.
    """

    def __init__(self, min_detection_confidence: float = 0.5, min_tracking_confidence: float = 0.5,
                 margin: float = MARGIN):
        self.min_detection_confidence = min_detection_confidence
        self.min_tracking_confidence = min_tracking_confidence
        self.margin = margin
        self._static: Any = None

    def _graph(self, static: bool, shape: tuple[int, ...]) -> Any:
        """A MediaPipe pose graph, warmed up on a blank frame of ``shape``.

        The graph loads its models in background threads that log as they go; the blank frame makes
        that finish while the logs are being filtered, and leaves no tracking state behind.
        """
        import mediapipe as mp

        with _quiet_native_logs():
            graph = mp.solutions.pose.Pose(static_image_mode=static, model_complexity=1, smooth_landmarks=True,
                                           enable_segmentation=True, smooth_segmentation=True,
                                           min_detection_confidence=self.min_detection_confidence,
                                           min_tracking_confidence=self.min_tracking_confidence)
            graph.process(np.zeros(shape, np.uint8))
        return graph

    def _run(self, graph: Any, rgb: np.ndarray, fps: float) -> tuple[Poses, np.ndarray]:
        """One frame through ``graph`` -> (Poses with 1 frame, (H, W) float32 mask)."""
        height, width = rgb.shape[:2]
        result = graph.process(rgb)
        if result.pose_landmarks is None:
            return Poses.empty(1, width, height, fps), np.zeros((height, width), np.float32)
        lm = np.array([(p.x, p.y, p.visibility) for p in result.pose_landmarks.landmark], np.float32)
        inside = ((lm[:, 0] >= -self.margin) & (lm[:, 0] <= 1 + self.margin)
                  & (lm[:, 1] >= -self.margin) & (lm[:, 1] <= 1 + self.margin))
        conf = np.where(inside, np.clip(lm[:, 2], 0, 1), 0).astype(np.float32)
        xy, conf = to_coco18(lm[:, :2] * np.array([width, height], np.float32), conf, "blazepose33")
        mask = result.segmentation_mask
        mask = np.zeros((height, width), np.float32) if mask is None else np.clip(mask, 0, 1).astype(np.float32)
        return Poses(xy, conf, width, height, fps), mask

    def image(self, rgb: np.ndarray) -> tuple[Poses, np.ndarray]:
        """Pose and mask of the person in one (H, W, 3) uint8 RGB photo.

        Returns (Poses with 1 frame in the photo's pixels, (H, W) float32 mask in [0, 1]); with nobody
        in the photo all confidences and the mask are 0.
        """
        rgb = _check_rgb(rgb)
        if self._static is None:
            self._static = self._graph(True, rgb.shape)
        return self._run(self._static, rgb, 30.0)

    def stream(self, frames: Iterable[np.ndarray], fps: float = 30.0) -> Iterator[tuple[Poses, np.ndarray]]:
        """Track the person through consecutive (H, W, 3) uint8 RGB frames, one frame in memory at a time.

        Yields (Poses with 1 frame at ``fps``, (H, W) float32 mask) per frame.
        """
        graph = None
        try:
            for rgb in frames:
                rgb = _check_rgb(rgb)
                if graph is None:
                    graph = self._graph(False, rgb.shape)
                yield self._run(graph, rgb, fps)
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


def estimate_with_masks(source: str | Path | np.ndarray, fps: float | None = None
                        ) -> Iterator[tuple[Poses, np.ndarray]]:
    """Stream (Poses[1], (H, W) float32 mask) for each frame of ``source``.

    ``source``: a video, GIF, frame folder or image path (read with ``posevid.video.open_video``, one
    frame at a time), an (H, W, 3) uint8 image or a (T, H, W, 3) uint8 array of frames. ``fps``
    overrides the video's rate (arrays default to 30).
    """
    with PoseEstimator() as estimator:
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


def estimate_poses(source: str | Path | np.ndarray, fps: float | None = None) -> Poses:
    """COCO-18 poses (T, 18, 2) in pixels, (T, 18) confidences, of the person in an image or video.

    ``source`` as for ``estimate_with_masks``; the masks are dropped as they come, so memory does not grow
    with the video's length beyond the poses themselves.
    """
    frames = [poses for poses, _ in estimate_with_masks(source, fps)]
    if not frames:
        raise PosevidError(source if not isinstance(source, np.ndarray) else "frames", "no frames to estimate poses on")
    return Poses.concat(frames)


def first_pose(source: str | Path) -> Poses:
    """The first pose of a pose file (.npz, .json, .csv, .bvh) or the pose estimated in a photo: one-frame
    ``Poses`` in its own pixels (``PosevidError`` when the photo shows nobody)."""
    from .posefiles import read_poses
    from .video import read_image

    path = Path(source)
    if path.suffix.lower() in (".npz", ".json", ".csv", ".bvh"):
        return read_poses(path)[:1]
    with PoseEstimator() as estimator:
        pose, _ = estimator.image(read_image(path))
    if not (pose.conf > 0).any():
        raise PosevidError(path, "no person found in the photo")
    return pose
